# Golden end-to-end tests: CTest runs the real binary on the project's own example data.
set(EXAMPLE "${EXITPLAN_SOURCE_DIR}/data/example")
set(EXPECT_ERROR ${CMAKE_CURRENT_SOURCE_DIR}/expect_error.cmake)

# exitplan_expect_error(NAME regex args...): exit status 2 and a one-line message matching regex.
function(exitplan_expect_error name regex)
  add_test(NAME "cli: ${name}"
           COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:exitplan>;${ARGN}"
                   "-DEXPECT_REGEX=${regex}" -P ${EXPECT_ERROR})
endfunction()

# ---- issue 2: inspect and evaluate -------------------------------------------------------------
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
exitplan_expect_error("unknown option" "--frobnicate"
  inspect --dump ${EXAMPLE} --frobnicate)

# ---- issue 3: exitplan thresholds ----------------------------------------------------------
set(_ex "${EXITPLAN_SOURCE_DIR}/data/example")
set(_thr $<TARGET_FILE:exitplan> thresholds --dump ${_ex} --profile ${_ex}/profile.yaml
         --target cpu-1thread)
foreach(_m geometric geometric-quantile single ippp ippp-nlopt exact)
  add_test(NAME cli_thresholds_${_m} COMMAND ${_thr} --method ${_m} --budget 0.5 --relative)
  # One CSV row after the header, with a solution (converged/optimal) and eval figures.
  set_tests_properties(cli_thresholds_${_m} PROPERTIES PASS_REGULAR_EXPRESSION
    "model,target,unit,method,measure,kept_exits,budget,thresholds,fit_acc,fit_cost,eval_acc,eval_cost,exit_fractions,pareto,seconds,outcome,message\nexample,cpu-1thread,ms,${_m},max_prob,1;2;3;4;5;6,0\\.1671,[^\n]*,0\\.9[0-9]*,0\\.1[0-9]*,0\\.[89][0-9]*,0\\.1[0-9]*,[^\n]*,(converged|optimal),")
endforeach()
# exact on the example at 50% of the full cost: fit accuracy 0.9112 (hand-checked >= every other method).
add_test(NAME cli_thresholds_exact_value COMMAND ${_thr} --method exact --budget 0.5 --relative)
set_tests_properties(cli_thresholds_exact_value PROPERTIES PASS_REGULAR_EXPRESSION ",0\\.9112,0\\.16598372,")
add_test(NAME cli_thresholds_range COMMAND ${_thr} --method single --budget-range 0.4:1:3 --relative --exits 2,4)
set_tests_properties(cli_thresholds_range PROPERTIES PASS_REGULAR_EXPRESSION
  "single,max_prob,2;4;6,[^\n]*\n[^\n]*single,max_prob,2;4;6,[^\n]*\n[^\n]*single,max_prob,2;4;6,0\\.3342,")
add_test(NAME cli_thresholds_infeasible COMMAND ${_thr} --method exact --budget 0.01)
set_tests_properties(cli_thresholds_infeasible PROPERTIES WILL_FAIL TRUE)
add_test(NAME cli_thresholds_infeasible_msg COMMAND ${_thr} --method geometric --budget 0.01)
set_tests_properties(cli_thresholds_infeasible_msg PROPERTIES PASS_REGULAR_EXPRESSION
  "budget 0\\.01 is infeasible: below 0\\.0386")
add_test(NAME cli_thresholds_above_full COMMAND ${_thr} --method single --budget 2 --relative)
set_tests_properties(cli_thresholds_above_full PROPERTIES PASS_REGULAR_EXPRESSION "above the full cost")
set(_thr_args thresholds --dump ${_ex} --profile ${_ex}/profile.yaml --target cpu-1thread)
exitplan_expect_error("thresholds bad method" "--method: unknown method 'fast'"
                      ${_thr_args} --method fast --budget 0.1)
exitplan_expect_error("thresholds bad range" "--budget-range: expected LO:HI:N"
                      ${_thr_args} --method single --budget-range 0.1:0.2)
exitplan_expect_error("thresholds no budget" "give exactly one of --budget B or --budget-range"
                      ${_thr_args} --method single)
exitplan_expect_error("thresholds bad eta" "ippp.eta = 0.5: must be > mu"
                      ${_thr_args} --method ippp --budget 0.2 --eta 0.5)
exitplan_expect_error("thresholds initial out of range"
                      "threshold 5 = 1.7 is outside the measure's range \\[0, 1\\]"
                      ${_thr_args} --method ippp --budget 0.2 --initial 0.5,0.5,0.5,0.5,1.7)
exitplan_expect_error("thresholds bad margin" "budget_margin = 1.5: must be a confidence level"
                      ${_thr_args} --method single --budget 0.2 --budget-margin 1.5)
add_test(NAME cli_thresholds_accuracy_target COMMAND ${_thr} --method exact --no-ippp-start --accuracy-drop 0.01)
set_tests_properties(cli_thresholds_accuracy_target PROPERTIES PASS_REGULAR_EXPRESSION "accuracy target")
add_test(NAME cli_thresholds_margin COMMAND ${_thr} --method single --budget 0.5 --relative --budget-margin 0.95)
set_tests_properties(cli_thresholds_margin PROPERTIES PASS_REGULAR_EXPRESSION "budget margin at level 0.95")
