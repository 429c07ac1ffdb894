// Shift check: are the eval split's per-sample exit costs and correctness under a policy
// exchangeable with the fit split's? (docs/guarantees.md, "Failure mode: shift").
//
// Two two-sided Welch z-tests (large-sample normal approximation), one on the mean stop cost and
// one on the accuracy, combined by Bonferroni: p = min(1, 2 min(p_cost, p_accuracy)). Under
// exchangeable splits (both i.i.d. from one distribution) the check fires with probability about
// alpha; a fired check means the guarantee's assumption fails for this eval split.
#pragma once

#include <string>

#include "optim/problem.hpp"

namespace exitplan {

struct ShiftResult {
  double p_value = 1.0;  // Bonferroni-combined
  double p_cost = 1.0, p_accuracy = 1.0;
  double fit_cost = 0.0, eval_cost = 0.0;  // mean stop cost per sample
  double fit_accuracy = 0.0, eval_accuracy = 0.0;
  double alpha = 0.05;
  bool shifted = false;  // p_value < alpha
  // One line for users: "" when not shifted.
  std::string Warning() const;
};

// fit and eval: the same kept exits and stop costs on the two splits' samples.
ShiftResult ShiftCheck(const ThresholdProblem& fit, const ThresholdProblem& eval,
                       const Policy& policy, double alpha = 0.05);

// Two-sided p-value of Welch's z statistic for two samples given means, variances (unbiased) and
// sizes; 1 when both variances are 0 and the means agree, 0 when they differ.
double WelchZPValue(double mean_a, double var_a, long n_a, double mean_b, double var_b, long n_b);

}  // namespace exitplan
