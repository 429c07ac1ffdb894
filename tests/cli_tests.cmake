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
add_test(NAME cli_thresholds_bad_method COMMAND ${_thr} --method fast --budget 0.1)
set_tests_properties(cli_thresholds_bad_method PROPERTIES WILL_FAIL TRUE)
add_test(NAME cli_thresholds_bad_range COMMAND ${_thr} --method single --budget-range 0.1:0.2)
set_tests_properties(cli_thresholds_bad_range PROPERTIES WILL_FAIL TRUE)
add_test(NAME cli_thresholds_no_budget COMMAND ${_thr} --method single)
set_tests_properties(cli_thresholds_no_budget PROPERTIES WILL_FAIL TRUE)
add_test(NAME cli_thresholds_bad_eta COMMAND ${_thr} --method ippp --budget 0.2 --eta 0.5)
set_tests_properties(cli_thresholds_bad_eta PROPERTIES PASS_REGULAR_EXPRESSION "ippp.eta = 0.5: must be > mu")
add_test(NAME cli_thresholds_initial_out_of_range COMMAND ${_thr} --method ippp --budget 0.2
         --initial 0.5,0.5,0.5,0.5,1.7)
set_tests_properties(cli_thresholds_initial_out_of_range PROPERTIES PASS_REGULAR_EXPRESSION
  "threshold 5 = 1.7 is outside the measure's range \\[0, 1\\]")
add_test(NAME cli_thresholds_accuracy_target COMMAND ${_thr} --method exact --no-ippp-start --accuracy-drop 0.01)
set_tests_properties(cli_thresholds_accuracy_target PROPERTIES PASS_REGULAR_EXPRESSION "accuracy target")
add_test(NAME cli_thresholds_margin COMMAND ${_thr} --method single --budget 0.5 --relative --budget-margin 0.95)
set_tests_properties(cli_thresholds_margin PROPERTIES PASS_REGULAR_EXPRESSION "budget margin at level 0.95")
