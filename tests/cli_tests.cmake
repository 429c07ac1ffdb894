# Golden end-to-end tests: CTest runs the real binary on the project's own example data.
set(EXAMPLE "${EXITPLAN_SOURCE_DIR}/data/example")
set(EXPECT_ERROR ${CMAKE_CURRENT_SOURCE_DIR}/expect_error.cmake)

# exitplan_expect_error(NAME regex args...): exit status 2 and a one-line message matching regex.
function(exitplan_expect_error name regex)
  add_test(NAME "cli: ${name}"
           COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:exitplan>;${ARGN}"
                   "-DEXPECT_REGEX=${regex}" -P ${EXPECT_ERROR})
endfunction()

# ---- inspect and evaluate -------------------------------------------------------------
add_test(NAME "cli: inspect example" COMMAND exitplan inspect --dump ${EXAMPLE})
set_tests_properties("cli: inspect example" PROPERTIES PASS_REGULAR_EXPRESSION
  "split val \\([^)]*val_logits.npy\\): N=5000 K=6 C=10, logits mode.*  1 +0\\.7572 .*split test")
add_test(NAME "cli: evaluate example csv"
         COMMAND exitplan evaluate --dump ${EXAMPLE} --profile ${EXAMPLE}/profile.yaml
                 --target flops --measure max_prob --thresholds 2,2,2,2,2 --format csv)
# Thresholds above every max_prob: all samples run to the final exit (val accuracy 0.9106).
set_tests_properties("cli: evaluate example csv" PROPERTIES PASS_REGULAR_EXPRESSION
  "split,accuracy,mean_cost,exit_fractions\nval,0\\.9106,3\\.7800[0-9]*,0;0;0;0;0;1\ntest,0\\.9036,")
add_test(NAME "cli: evaluate kept subset"
         COMMAND exitplan evaluate --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml
                 --exits 2,4 --thresholds 0,0 --format csv)
# Threshold 0 stops everything at exit 2: val accuracy of exit 2 alone, cost backbone + its head.
set_tests_properties("cli: evaluate kept subset" PROPERTIES PASS_REGULAR_EXPRESSION
  "val,0\\.8,0\\.5696,0;1;0;0;0;0")
add_test(NAME "cli: --help" COMMAND exitplan evaluate --help)
set_tests_properties("cli: --help" PROPERTIES PASS_REGULAR_EXPRESSION "--thresholds.*--exits")

exitplan_expect_error("missing dump" "no such dump directory"
  inspect --dump ${EXAMPLE}/nope)
exitplan_expect_error("missing profile" "nope.yaml: no such profile file"
  evaluate --dump ${EXAMPLE} --profile ${EXAMPLE}/nope.yaml --thresholds 0.5)
exitplan_expect_error("profile K mismatch" "has 3 exits, but the dump .* has K = 6"
  evaluate --dump ${EXAMPLE} --profile ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/k3.yaml --thresholds 0.5)
exitplan_expect_error("profile unknown key" "bad_key.yaml:3: unknown key 'latency'"
  evaluate --dump ${EXAMPLE} --profile ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/bad_key.yaml --thresholds 0.5)
exitplan_expect_error("threshold count" "--thresholds: expected 2 thresholds"
  evaluate --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml --exits 1,3 --thresholds 0.5,0.5,0.5,0.5)
exitplan_expect_error("unknown measure" "unknown measure 'maxprob'"
  evaluate --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml --measure maxprob --thresholds 0.5)
exitplan_expect_error("not a dump file" "not a .npy file"
  inspect --dump ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/not_npy)
exitplan_expect_error("multi-target needs --target" "several targets"
  evaluate --dump ${EXAMPLE} --profile ${EXAMPLE}/profile.yaml --thresholds 0.5)
exitplan_expect_error("eval split typo" "no eval split 'valid'"
  evaluate --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml --thresholds 0.5 --eval-split valid)
exitplan_expect_error("exits unsorted" "--exits: '4,2': list the exits in ascending order"
  evaluate --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml --exits 4,2 --thresholds 0.9,0.8)
add_test(NAME "cli: evaluate without eval split"
         COMMAND exitplan evaluate --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml
                 --thresholds 2,2,2,2,2 --format csv --eval-split none)
set_tests_properties("cli: evaluate without eval split" PROPERTIES PASS_REGULAR_EXPRESSION
  "split,accuracy,mean_cost,exit_fractions\nval,0\\.9106,[^\n]*\n$")
add_test(NAME "cli: inspect --profile"
         COMMAND exitplan inspect --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml)
set_tests_properties("cli: inspect --profile" PROPERTIES PASS_REGULAR_EXPRESSION
  "profile [^\n]*profile-flops.yaml: target flops, unit mflops, K=6.*full cost \\(every exit kept, running to the final exit\\): 3\\.759[0-9]* mflops = 100%")
exitplan_expect_error("renamed flag" "--threads: no longer an option: use -j/--jobs"
  place --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml --threads 2)
exitplan_expect_error("place --fast needs exact" "--fast: the fast path exists for --solver exact only"
  place --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml --method exhaustive --solver single --fast)
exitplan_expect_error("place --polish needs --fast" "--polish: polishes the fast path's answers: give --fast too"
  place --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml --method exhaustive --polish 2)
add_test(NAME "cli: options of a command" COMMAND exitplan options --command thresholds)
set_tests_properties("cli: options of a command" PROPERTIES PASS_REGULAR_EXPRESSION
  "outer_iters  \\(--outer-iters, integer, default 100, >= 1\\)")
exitplan_expect_error("unknown option" "--frobnicate"
  inspect --dump ${EXAMPLE} --frobnicate)

# ---- sweeps, merge, export ------------------------------------------------------------
set(SWEEP_FIX "${CMAKE_CURRENT_SOURCE_DIR}/fixtures/issue6")
set(SWEEP_OUT "${CMAKE_CURRENT_BINARY_DIR}/issue6")
add_test(NAME "cli: sweep setup" COMMAND ${CMAKE_COMMAND} -E rm -rf ${SWEEP_OUT})
set_tests_properties("cli: sweep setup" PROPERTIES FIXTURES_SETUP sweep_clean)
add_test(NAME "cli: sweep small"
         COMMAND exitplan sweep ${SWEEP_FIX}/small.yaml -o ${SWEEP_OUT}/single --jobs 2)
set_tests_properties("cli: sweep small" PROPERTIES FIXTURES_REQUIRED sweep_clean
  FIXTURES_SETUP sweep_single
  PASS_REGULAR_EXPRESSION "sweep: 16 cells, 16 run, 0 already done, 0 failed.*reports: .*summary: .*configs: ")
add_test(NAME "cli: sweep rerun skips"
         COMMAND exitplan sweep ${SWEEP_FIX}/small.yaml -o ${SWEEP_OUT}/single)
set_tests_properties("cli: sweep rerun skips" PROPERTIES FIXTURES_REQUIRED sweep_single
  PASS_REGULAR_EXPRESSION "sweep: 16 cells, 0 run, 16 already done, 0 failed")
# -q keeps the results and drops the information lines (the full cost of each model / target).
add_test(NAME "cli: sweep rerun prints the full cost"
         COMMAND exitplan sweep ${SWEEP_FIX}/small.yaml -o ${SWEEP_OUT}/single)
add_test(NAME "cli: sweep -q drops the full cost"
         COMMAND exitplan sweep ${SWEEP_FIX}/small.yaml -o ${SWEEP_OUT}/single -q)
set_tests_properties("cli: sweep rerun prints the full cost" PROPERTIES
  FIXTURES_REQUIRED sweep_single PASS_REGULAR_EXPRESSION "full cost")
set_tests_properties("cli: sweep -q drops the full cost" PROPERTIES
  FIXTURES_REQUIRED sweep_single FAIL_REGULAR_EXPRESSION "full cost"
  PASS_REGULAR_EXPRESSION "sweep: 16 cells, 0 run, 16 already done")
add_test(NAME "cli: sweep shard 1/2"
         COMMAND exitplan sweep ${SWEEP_FIX}/small.yaml -o ${SWEEP_OUT}/shard1 --shard 1/2)
add_test(NAME "cli: sweep shard 2/2"
         COMMAND exitplan sweep ${SWEEP_FIX}/small.yaml -o ${SWEEP_OUT}/shard2 --shard 2/2)
set_tests_properties("cli: sweep shard 1/2" "cli: sweep shard 2/2" PROPERTIES
  FIXTURES_REQUIRED sweep_clean FIXTURES_SETUP sweep_shards
  PASS_REGULAR_EXPRESSION "sweep: 16 cells \\(8 in this shard\\), 8 run.*reports not written")
add_test(NAME "cli: merge shards"
         COMMAND exitplan merge ${SWEEP_OUT}/shard1 ${SWEEP_OUT}/shard2 -o ${SWEEP_OUT}/merged)
set_tests_properties("cli: merge shards" PROPERTIES FIXTURES_REQUIRED sweep_shards
  FIXTURES_SETUP sweep_merged
  PASS_REGULAR_EXPRESSION "merged 2 directories: 16 cells, 0 failed")
add_test(NAME "cli: export row yaml"
         COMMAND exitplan export --from ${SWEEP_OUT}/single/reports/fmnist__flops.csv --row 1)
set_tests_properties("cli: export row yaml" PROPERTIES FIXTURES_REQUIRED sweep_single
  PASS_REGULAR_EXPRESSION "schema_version: 1\nmodel: \"fmnist\"\ntarget: \"flops\"\nunit: \"mflops\"\nmethod: \"single\".*kept_exits: \\[1, 2, 3, 4, 5, 6\\].*sha256: \"[0-9a-f]+\"")
add_test(NAME "cli: export budget json"
         COMMAND exitplan export --from ${SWEEP_OUT}/single/reports/fmnist__flops.csv
                 --budget 1.879744 --method geometric --format json)
set_tests_properties("cli: export budget json" PROPERTIES FIXTURES_REQUIRED sweep_single
  PASS_REGULAR_EXPRESSION "\"schema_version\": 1,.*\"method\": \"geometric\".*\"threshold\": .*\"budget\": 1\\.879744,")
# export --budget B: the row at B, else the row group solved at B on the sweep's inputs (found
# through its manifest), else a refusal naming the nearest rows.
add_test(NAME "cli: export budget solved"
         COMMAND exitplan export --from ${SWEEP_OUT}/single/reports/fmnist__flops.csv --budget 2
                 --method geometric -o ${SWEEP_OUT}/solved2.json)
set_tests_properties("cli: export budget solved" PROPERTIES FIXTURES_REQUIRED sweep_single
  PASS_REGULAR_EXPRESSION "wrote .*solved2\\.json \\(json\\): solved at budget 2 \\(geometric max_prob, kept exits 1,2,3,4,5,6, fit cost 1\\.99[0-9]+, fit accuracy 0\\.9108, outcome converged; the report's nearest row is 5, budget 1\\.879744\\)")
add_test(NAME "cli: export report copy"
         COMMAND ${CMAKE_COMMAND} -E copy ${SWEEP_OUT}/single/reports/fmnist__flops.csv ${SWEEP_OUT}/lone.csv)
set_tests_properties("cli: export report copy" PROPERTIES FIXTURES_REQUIRED sweep_single
  FIXTURES_SETUP export_lone)
exitplan_expect_error("export budget not solvable" "--budget: no row of geometric was solved at 2 in .*lone.csv and it cannot be solved there: it is not a sweep's report \\(no manifest.yaml beside its folder\\): give --dump and --profile \\(and --target\\) it was made from; nearest: row 5 \\(geometric max_prob, budget 1\\.879744"
  export --from ${SWEEP_OUT}/lone.csv --budget 2 --method geometric)
set_tests_properties("cli: export budget not solvable" PROPERTIES FIXTURES_REQUIRED export_lone)
add_test(NAME "cli: export budget solved from --dump"
         COMMAND exitplan export --from ${SWEEP_OUT}/lone.csv --budget 2 --method geometric
                 --dump ${EXAMPLE} --profile ${EXAMPLE}/profile.yaml --target flops)
set_tests_properties("cli: export budget solved from --dump" PROPERTIES FIXTURES_REQUIRED export_lone
  PASS_REGULAR_EXPRESSION "budget: 2\nexpected:\n  fit_accuracy: 0\\.9108\n  fit_cost: 1\\.99")
exitplan_expect_error("export --dump with --row" "--dump: only used to solve at --budget B, not with --row"
  export --from ${SWEEP_OUT}/lone.csv --row 1 --dump ${EXAMPLE})
set_tests_properties("cli: export --dump with --row" PROPERTIES FIXTURES_REQUIRED export_lone)
# The format follows the extension of -o; --format both replaces it (never y.json.yaml).
add_test(NAME "cli: export format by extension"
         COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:exitplan>
                 -DCSV=${SWEEP_OUT}/single/reports/fmnist__flops.csv -DOUT=${SWEEP_OUT}/export
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/export_formats.cmake)
set_tests_properties("cli: export format by extension" PROPERTIES FIXTURES_REQUIRED sweep_single)
exitplan_expect_error("export format vs extension" "--format: yaml does not match the extension of --out x.json"
  export --from ${SWEEP_OUT}/single/reports/fmnist__flops.csv --row 0 --format yaml -o x.json)
set_tests_properties("cli: export format vs extension" PROPERTIES FIXTURES_REQUIRED sweep_single)
exitplan_expect_error("sweep unknown key" "bad_key.yaml:6: unknown key 'tragets' in a model"
  sweep ${SWEEP_FIX}/bad_key.yaml -o ${SWEEP_OUT}/bad)
exitplan_expect_error("sweep unknown top-level key" "bad_top_key.yaml:9: unknown key 'budget' in the sweep file \\(expected one of: budgets, configs, eval_split, fit_split, methods, models, output\\)"
  sweep ${SWEEP_FIX}/bad_top_key.yaml -o ${SWEEP_OUT}/bad)
exitplan_expect_error("sweep bad shard" "--shard: expected I/N with 1 <= I <= N"
  sweep ${SWEEP_FIX}/small.yaml --shard 3/2 -o ${SWEEP_OUT}/bad)
exitplan_expect_error("merge not a sweep" "manifest.yaml: missing: not the output directory"
  merge ${SWEEP_FIX})
exitplan_expect_error("export row out of range" "--row: 999 is outside 0..7 \\(0-based data rows"
  export --from ${SWEEP_OUT}/single/reports/fmnist__flops.csv --row 999)
set_tests_properties("cli: export row out of range" PROPERTIES FIXTURES_REQUIRED sweep_single)
exitplan_expect_error("sweep unknown option" "bad_option.yaml:13: unknown option 'warp_speed' of method single"
  sweep ${SWEEP_FIX}/bad_option.yaml -o ${SWEEP_OUT}/badopt)

# ---- EENet scorers (fit-scorer, evaluate --scorer) and calibration (inspect --calibrate)
add_test(NAME "cli: fit-scorer example"
         COMMAND exitplan fit-scorer --dump ${EXAMPLE} --profile ${EXAMPLE}/profile.yaml
                 --target cpu-1thread --budget 50% --max-epochs 30
                 --out ${CMAKE_CURRENT_BINARY_DIR}/issue5_scorer.yaml)
set_tests_properties("cli: fit-scorer example" PROPERTIES FIXTURES_SETUP issue5_scorer
  PASS_REGULAR_EXPRESSION "budget 0\\.1671 ms \\(0\\.5000 of the full cost 0\\.3342 ms.*eenet +val +accuracy 0\\.[89][0-9]+ +mean_cost 0\\.16[0-9]+.*wrote ")
add_test(NAME "cli: evaluate --scorer"
         COMMAND exitplan evaluate --dump ${EXAMPLE} --profile ${EXAMPLE}/profile.yaml
                 --target cpu-1thread --scorer ${CMAKE_CURRENT_BINARY_DIR}/issue5_scorer.yaml --format csv)
# The scorer's thresholds were chosen within budget on val: the evaluator reproduces that cost.
set_tests_properties("cli: evaluate --scorer" PROPERTIES FIXTURES_REQUIRED issue5_scorer
  PASS_REGULAR_EXPRESSION "val,0\\.[89][0-9]*,0\\.16[0-9]*,[0-9.;]+\ntest,")
add_test(NAME "cli: inspect --calibrate"
         COMMAND exitplan inspect --dump ${EXAMPLE} --calibrate)
# Exit 1 of the example is under-confident: T < 1 and its val ECE drops from 0.2 to below 0.05.
set_tests_properties("cli: inspect --calibrate" PROPERTIES PASS_REGULAR_EXPRESSION
  "calibration: per-exit temperature scaling.*converged\n.*\n  1 +0\\.4[0-9]+ +[0-9.]+ +[0-9.]+ +0\\.2[0-9]+ +0\\.0[0-4][0-9]+")
# Without --out, fit-scorer still says what it did: the training, the figures, not saved.
add_test(NAME "cli: fit-scorer without --out"
         COMMAND exitplan fit-scorer --dump ${EXAMPLE} --profile ${EXAMPLE}/profile.yaml
                 --target cpu-1thread --budget 50% --max-epochs 30)
set_tests_properties("cli: fit-scorer without --out" PROPERTIES PASS_REGULAR_EXPRESSION
  "summary: 30 epochs \\(best [0-9]+\\), final training loss 0\\.[0-9]+, best held-out loss 0\\.[0-9]+; eenet \\+ algorithm1 thresholds at budget 0\\.1671 ms: val accuracy 0\\.[89][0-9]+ cost 0\\.16[0-9]+; test accuracy 0\\.[89][0-9]+ cost 0\\.1[0-9]+\nnote: .*\nscorer not saved")
# Progress: a training of several seconds reports its epochs on a non-terminal stderr, -q silences
# it (tests/expect_progress.cmake). 1,500 epochs: on an idle machine 300 took under 3 s and 500
# about 2 s, too short to show progress (the job must run 3 s or more); too slow under the
# sanitizers (label heavy).
add_test(NAME "cli: fit-scorer progress lines and -q"
         COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:exitplan>;fit-scorer;--dump;${EXAMPLE};--profile;${EXAMPLE}/profile.yaml;--target;cpu-1thread;--budget;50%;--max-epochs;1500;--patience;1500"
                 "-DLINE_REGEX=^exitplan fit-scorer: training: [0-9]+/1500 epochs, loss [0-9.e-]+, held-out loss [0-9.e-]+, [0-9.]+ s elapsed(, done)?$"
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/expect_progress.cmake)
set_tests_properties("cli: fit-scorer progress lines and -q" PROPERTIES LABELS heavy)
exitplan_expect_error("fit-scorer needs a budget" "--budget: required: B or Bunit"
  fit-scorer --dump ${EXAMPLE} --profile ${EXAMPLE}/profile.yaml --target cpu-1thread)
exitplan_expect_error("fit-scorer bad option" "--learning-rate: '-1': must be > 0"
  fit-scorer --dump ${EXAMPLE} --profile ${EXAMPLE}/profile.yaml --target cpu-1thread --budget 0.2 --learning-rate -1)
exitplan_expect_error("evaluate scorer K mismatch" "trained for K = 3 exits and C = 4 classes, but this dump has K = 6, C = 10"
  evaluate --dump ${EXAMPLE} --profile ${EXAMPLE}/profile.yaml --target cpu-1thread
  --scorer ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/scorer_k3.yaml)
exitplan_expect_error("evaluate scorer bad schema" "scorer_v9.yaml: schema_version 9 is not supported"
  evaluate --dump ${EXAMPLE} --profile ${EXAMPLE}/profile.yaml --target cpu-1thread
  --scorer ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/scorer_v9.yaml)
exitplan_expect_error("evaluate needs thresholds or scorer" "--thresholds: required \\(unless --scorer"
  evaluate --dump ${EXAMPLE} --profile ${EXAMPLE}/profile.yaml --target cpu-1thread)

# ---- exitplan thresholds ----------------------------------------------------------
set(_ex "${EXITPLAN_SOURCE_DIR}/data/example")
set(_thr $<TARGET_FILE:exitplan> thresholds --dump ${_ex} --profile ${_ex}/profile.yaml
         --target cpu-1thread --format csv)
foreach(_m geometric geometric-quantile single ippp ippp-nlopt exact)
  add_test(NAME cli_thresholds_${_m} COMMAND ${_thr} --method ${_m} --budget 50%)
  # One CSV row after the header, with a solution (converged/optimal) and eval figures.
  set_tests_properties(cli_thresholds_${_m} PROPERTIES PASS_REGULAR_EXPRESSION
    "model,target,unit,method,measure,kept_exits,budget,thresholds,fit_acc,fit_cost,eval_acc,eval_cost,exit_fractions,pareto,seconds,outcome,message\nexample,cpu-1thread,ms,${_m},max_prob,1;2;3;4;5;6,0\\.1671,[^\n]*,0\\.9[0-9]*,0\\.1[0-9]*,0\\.[89][0-9]*,0\\.1[0-9]*,[^\n]*,(converged|optimal),")
endforeach()
# exact on the example at 50% of the full cost: fit accuracy 0.9112 (hand-checked >= every other method).
add_test(NAME cli_thresholds_exact_value COMMAND ${_thr} --method exact --budget 50%)
set_tests_properties(cli_thresholds_exact_value PROPERTIES PASS_REGULAR_EXPRESSION ",0\\.9112,0\\.1670921,")
add_test(NAME cli_thresholds_range COMMAND ${_thr} --method single --budget 40%:100%:3 --exits 2,4)
set_tests_properties(cli_thresholds_range PROPERTIES PASS_REGULAR_EXPRESSION
  "single,max_prob,2;4;6,[^\n]*\n[^\n]*single,max_prob,2;4;6,[^\n]*\n[^\n]*single,max_prob,2;4;6,0\\.3342,")
add_test(NAME cli_thresholds_infeasible COMMAND ${_thr} --method exact --budget 0.01)
set_tests_properties(cli_thresholds_infeasible PROPERTIES WILL_FAIL TRUE)
add_test(NAME cli_thresholds_infeasible_msg COMMAND ${_thr} --method geometric --budget 0.01)
set_tests_properties(cli_thresholds_infeasible_msg PROPERTIES PASS_REGULAR_EXPRESSION
  "budget 0\\.01 is infeasible: below 0\\.0386")
# Above the full cost every method answers (outcome unconstrained, exit 0): every sample runs to the
# final exit, thresholds that never pass.
add_test(NAME cli_thresholds_above_full COMMAND ${_thr} --method single --budget 2ms)
set_tests_properties(cli_thresholds_above_full PROPERTIES PASS_REGULAR_EXPRESSION
  "inf;inf;inf;inf;inf,0\\.9106,0\\.3342,[^\n]*,unconstrained,the budget is at or above the kept exits' full cost 0\\.3342")
foreach(_m single geometric geometric-quantile ippp ippp-nlopt exact)
  add_test(NAME cli_thresholds_above_full_exit0_${_m} COMMAND ${_thr} --method ${_m} --budget 100%)
endforeach()
add_test(NAME cli_thresholds_above_full_unit COMMAND ${_thr} --method single --budget 2ms)
set_tests_properties(cli_thresholds_above_full_unit PROPERTIES PASS_REGULAR_EXPRESSION "at or above the kept exits' full cost")
add_test(NAME cli_thresholds_above_full_abs COMMAND ${_thr} --method single --budget 2ms)
set_tests_properties(cli_thresholds_above_full_abs PROPERTIES PASS_REGULAR_EXPRESSION "at or above the kept exits' full cost")
set(_thr_args thresholds --dump ${_ex} --profile ${_ex}/profile.yaml --target cpu-1thread)
exitplan_expect_error("thresholds bad method" "--method: unknown method 'fast'"
                      ${_thr_args} --method fast --budget 0.1)
exitplan_expect_error("thresholds bad range" "--budget: budget range '0.1:0.2': expected LO:HI:N"
                      ${_thr_args} --method single --budget 0.1:0.2)
exitplan_expect_error("thresholds relative above 100%" "--budget: budget '200%': a relative budget above 100%"
                      ${_thr_args} --method single --budget 200%)
exitplan_expect_error("thresholds unit mismatch" "--budget: budget '3us': the profile's unit is ms, not us"
                      ${_thr_args} --method single --budget 3us)
exitplan_expect_error("thresholds removed --relative" "--relative: no longer an option: write relative budgets with a suffix"
                      ${_thr_args} --method single --budget 0.5 --relative)
exitplan_expect_error("thresholds option of another method" "--steepness: option 'steepness' is not for method single"
                      ${_thr_args} --method single --budget 50% --steepness 20)
exitplan_expect_error("thresholds no budget" "--budget: give either --budget"
                      ${_thr_args} --method single)
exitplan_expect_error("thresholds bad eta" "ippp.eta = 0.5: must be > mu"
                      ${_thr_args} --method ippp --budget 0.2 --eta 0.5)
exitplan_expect_error("thresholds bad precision" "--ippp-precision: 'half': expected one of: single, double"
                      ${_thr_args} --method ippp --budget 0.2 --ippp-precision half)
exitplan_expect_error("thresholds initial out of range"
                      "threshold 5 = 1.7 is outside the measure's range \\[0, 1\\]"
                      ${_thr_args} --method ippp --budget 0.2 --initial 0.5,0.5,0.5,0.5,1.7)
exitplan_expect_error("thresholds bad margin" "--budget-margin: '1.5': must be in \\[0, 1\\)"
                      ${_thr_args} --method single --budget 0.2 --budget-margin 1.5)
add_test(NAME cli_thresholds_accuracy_target COMMAND ${_thr} --method exact --no-start-ippp --accuracy-drop 1%)
set_tests_properties(cli_thresholds_accuracy_target PROPERTIES PASS_REGULAR_EXPRESSION "accuracy target")
add_test(NAME cli_thresholds_margin COMMAND ${_thr} --method single --budget 50% --budget-margin 0.95)
set_tests_properties(cli_thresholds_margin PROPERTIES PASS_REGULAR_EXPRESSION "budget margin at level 0.95")

# ---- exit placement (exitplan place) --------------------------------------------------
set(PLACE_PROFILE ${EXAMPLE}/profile-flops.yaml)
add_test(NAME "cli: place flop-score example"
         COMMAND exitplan place --dump ${EXAMPLE} --profile ${PLACE_PROFILE} --method flop-score)
# Best of the 2^5 subsets by the unsupervised early-exit paper (2023) eq. 4 at tolerance 0.05 (agreement CA).
set_tests_properties("cli: place flop-score example" PROPERTIES PASS_REGULAR_EXPRESSION
  "flop-score: optimal, kept exits 1;2;4;5;6, score 12835\\.[0-9]*, fit accuracy 0\\.8914.*32 subsets")
add_test(NAME "cli: place greedy rules example"
         COMMAND exitplan place --dump ${EXAMPLE} --profile ${PLACE_PROFILE}
                 --method greedy-th,greedy-efficiency)
set_tests_properties("cli: place greedy rules example" PROPERTIES PASS_REGULAR_EXPRESSION
  "greedy-th: converged, kept exits 1;2;4;5;6.*greedy-efficiency: converged, kept exits 1;4;6,")
add_test(NAME "cli: place exhaustive example"
         COMMAND exitplan place --dump ${EXAMPLE} --profile ${PLACE_PROFILE} --method exhaustive
                 --budget 30%,50% --compare --out ${CMAKE_CURRENT_BINARY_DIR}/place_example.csv)
set_tests_properties("cli: place exhaustive example" PROPERTIES PASS_REGULAR_EXPRESSION
  "exhaustive: converged, 32 subsets .*1\\.87974 +1;2;3;4;5;6 +0\\.913.*even-3 \\(2;4;5;6\\).*wrote .*place_example.csv .*place_example.svg")
add_test(NAME "cli: place greedy-forward example"
         COMMAND exitplan place --dump ${EXAMPLE} --profile ${PLACE_PROFILE} --method greedy-forward
                 --budget 50% --solver single)
set_tests_properties("cli: place greedy-forward example" PROPERTIES PASS_REGULAR_EXPRESSION
  "greedy-forward: converged, kept exits [0-9;]*6, fit accuracy 0\\.9")
exitplan_expect_error("place tolerance out of range" "--tolerance: '1\\.5': must be in \\(0, 1\\)"
  place --dump ${EXAMPLE} --profile ${PLACE_PROFILE} --tolerance 1.5)
exitplan_expect_error("place tolerance zero" "--tolerance: '0': must be in \\(0, 1\\)"
  place --dump ${EXAMPLE} --profile ${PLACE_PROFILE} --tolerance 0)
exitplan_expect_error("place cumulative profile" "method flop-score needs per-exit head costs, but .*issue4_cumulative.yaml gives only"
  place --dump ${EXAMPLE} --profile ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/issue4_cumulative.yaml)
exitplan_expect_error("place enumeration limit" "flop-score: the dump has 5 candidate exits, more than the search limit 3 .*use --method greedy-th"
  place --dump ${EXAMPLE} --profile ${PLACE_PROFILE} --max-candidates 3)
exitplan_expect_error("place exhaustive limit" "exhaustive: the dump has 5 candidate exits.*use --method greedy-forward"
  place --dump ${EXAMPLE} --profile ${PLACE_PROFILE} --method exhaustive --max-candidates 4)
exitplan_expect_error("place unknown method" "--method: unknown placement method 'best'"
  place --dump ${EXAMPLE} --profile ${PLACE_PROFILE} --method best)
exitplan_expect_error("place forward needs budget" "--budget: greedy-forward and greedy-backward need"
  place --dump ${EXAMPLE} --profile ${PLACE_PROFILE} --method greedy-forward)
exitplan_expect_error("place bad budget range" "--budget: budget range '3:1:5': LO must be <= HI"
  place --dump ${EXAMPLE} --profile ${PLACE_PROFILE} --method exhaustive --budget 3:1:5)
# A budget below the cheapest exit: exit status 3 (solver outcome), a message, no scorer written.
add_test(NAME "cli: fit-scorer infeasible budget"
         COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:exitplan>;fit-scorer;--dump;${EXAMPLE};--profile;${EXAMPLE}/profile.yaml;--target;cpu-1thread;--budget;0.01;--max-epochs;5;--out;${CMAKE_CURRENT_BINARY_DIR}/issue5_infeasible.yaml"
                 "-DEXPECT_REGEX=budget 0.01 is below the cheapest exit's cost 0.0386.*no scorer written"
                 -DEXPECT_CODE=3 "-DNO_FILE=${CMAKE_CURRENT_BINARY_DIR}/issue5_infeasible.yaml"
                 -P ${EXPECT_ERROR})

# ---- deployment guarantee and shift check ------------------------------------------------------
add_test(NAME "cli: thresholds guarantee example"
         COMMAND exitplan thresholds --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml
                 --method single --budget 50% --guarantee 0.95 --format csv)
# single: a pilot of 500 fit samples fixes the test and the path, 4500 certify (with the
# stratified-binomial test, the default's choice here); fit cost below B = 1.879744; shift check run.
set_tests_properties("cli: thresholds guarantee example" PROPERTIES PASS_REGULAR_EXPRESSION
  "1\\.879744,[^,]*,0\\.9098,1\\.802909414[0-9]*,0\\.9016,1\\.805388799[0-9]*,.*guarantee 0\\.95 \\(wsr, horizon 5000\\): searched on 500 fit samples, calibrated on 4500 with the stratified-binomial test; 133 of 217 path candidates certified.*,0\\.95,wsr,5000,")
# The same with the four tests of the unrounded losses only: the capped mean threshold.
add_test(NAME "cli: thresholds guarantee example unrounded"
         COMMAND exitplan thresholds --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml
                 --method single --budget 50% --guarantee 0.95 --guarantee-bound wsr-unrounded
                 --format csv)
set_tests_properties("cli: thresholds guarantee example unrounded" PROPERTIES
  PASS_REGULAR_EXPRESSION
  "1\\.879744,[^,]*,0\\.91,1\\.818677836[0-9]*,0\\.902,1\\.820783667[0-9]*,.*guarantee 0\\.95 \\(wsr-unrounded, horizon 5000\\): searched on 500 fit samples, calibrated on 4500 with the capped mean-threshold test")
exitplan_expect_error("thresholds guarantee bound renamed" "--guarantee-bound: .wsr-deterministic.: expected one of: wsr, wsr-unrounded, hoeffding-bentkus"
  thresholds --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml --method single --budget 50% --guarantee 0.95 --guarantee-bound wsr-deterministic)
exitplan_expect_error("thresholds guarantee level" "--guarantee: '1\\.5': must be in \\[0, 1\\)"
  thresholds --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml --method single --budget 1 --guarantee 1.5)
exitplan_expect_error("thresholds horizon without guarantee" "--horizon: only meaningful with --guarantee"
  thresholds --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml --method single --budget 1 --horizon 10)
exitplan_expect_error("thresholds guarantee and margin" "give one of them"
  thresholds --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml --method single --budget 1 --guarantee 0.9 --budget-margin 0.9)
exitplan_expect_error("thresholds bad guarantee bound" "--guarantee-bound: 'chernoff': expected one of: wsr"
  thresholds --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml --method single --budget 1 --guarantee 0.9 --guarantee-bound chernoff)
exitplan_expect_error("thresholds bad ippp settings" "--ippp-settings: 'fast': expected one of: default, paper"
  thresholds --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml --method ippp --budget 1 --ippp-settings fast)
# place --guarantee: the kept set searched on the search part, its thresholds certified.
add_test(NAME "cli: place guarantee example"
         COMMAND exitplan place --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml
                 --method greedy-backward --solver single --budget 50% --guarantee 0.95)
set_tests_properties("cli: place guarantee example" PROPERTIES PASS_REGULAR_EXPRESSION
  "guarantee 0\\.95 \\(wsr, horizon 5000\\): the placement is searched on the search part \\(2500 of 5000 fit samples.*certified rows \\(--guarantee 0\\.95")
exitplan_expect_error("place guarantee all rows" "--all-rows: lists every kept set's answer"
  place --dump ${EXAMPLE} --profile ${EXAMPLE}/profile-flops.yaml --method exhaustive --fast --budget 50% --guarantee 0.95 --all-rows)
