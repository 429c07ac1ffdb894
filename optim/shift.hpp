// Shift check: do the eval split's per-sample exit costs and correctness look exchangeable with
// the fit split's? (docs/guarantees.md, "Assumption and failure mode: shift").
//
// A two-sample test is only valid when the policy it runs under depends on neither sample. The
// policy a method returns is fitted to the fit split (its fit cost sits at the budget, its fit
// accuracy is optimistically biased), so testing it on the fit split against the eval split fires
// far above its level on exchangeable splits. The check therefore holds part of the fit split out:
//
//   1. the fit split is cut (seeded) into a selection part and a held-out part: with --guarantee,
//      the guarantee's own search part and calibration part; without, two halves;
//   2. the same method, with the same options but no guarantee, is solved on the selection part
//      at the same budget (or accuracy drop): a policy that is a function of the selection part
//      only, fitted exactly as the returned one;
//   3. under that policy, two-sided Welch z-tests of equal means of the per-sample stop cost and
//      of the per-sample correctness between the held-out part and the eval split, combined by
//      Bonferroni: p = min(1, 2 min(p_cost, p_accuracy)).
//
// Under exchangeable fit and eval samples the held-out part and the eval split are two samples of
// one distribution given the selection part, so the check fires with probability about alpha (up
// to the normal approximation, good at hundreds of samples).
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "optim/problem.hpp"

namespace exitplan {

enum class Method;
struct SolverOptions;

struct ShiftResult {
  bool tested = false;  // false: no policy on the selection part (p_value NaN, never fires)
  double p_value = std::numeric_limits<double>::quiet_NaN();  // Bonferroni-combined
  double p_cost = 1.0, p_accuracy = 1.0;
  double held_out_cost = 0.0, eval_cost = 0.0;  // mean stop cost per sample
  double held_out_accuracy = 0.0, eval_accuracy = 0.0;
  int selection_n = 0, held_out_n = 0;  // fit samples the policy was fitted on / tested on
  double alpha = 0.05;
  bool shifted = false;  // p_value < alpha
  // One line for users: "" when not shifted.
  std::string Warning() const;
};

// The two-sample test of one fixed policy (step 3): `a` plays the held-out part, `b` the eval
// split; same kept exits and stop costs. Valid only when the policy depends on neither sample.
ShiftResult TwoSampleShiftTest(const ThresholdProblem& a, const ThresholdProblem& b,
                               const Policy& policy, double alpha = 0.05);

// Step 1: the selection part's sample indices (ascending) of a fit split of n >= 2 samples for a
// solve of `method` with `options` (the guarantee's search part when options.guarantee is on, else
// a seeded half); every other sample is held out.
std::vector<int> ShiftSelectionPart(int n, Method method, const SolverOptions& options);

// The problem restricted to some of its samples (owning the matrices).
struct SampleSubset {
  ScoreMatrix scores;
  CorrectMatrix correct;
  ThresholdProblem problem;
  SampleSubset(const ThresholdProblem& p, const std::vector<int>& idx);
  SampleSubset(const SampleSubset&) = delete;
  SampleSubset& operator=(const SampleSubset&) = delete;
};

// Steps 1-3 for `method` at each budget of `budgets` (absolute; in accuracy-drop mode, i.e.
// options.accuracy_drop finite, pass the one budget the solve ignores): the selection part's
// policies come from SolveBudgets. `fit` and `eval`: the same kept exits and stop costs on the two
// splits. A budget whose selection-part solve returns no policy gets tested = false.
std::vector<ShiftResult> ShiftChecks(Method method, const ThresholdProblem& fit,
                                     const ThresholdProblem& eval,
                                     const std::vector<double>& budgets,
                                     const SolverOptions& options, double alpha = 0.05);

// Two-sided p-value of Welch's z statistic for two samples given means, variances (unbiased) and
// sizes; 1 when both variances are 0 and the means agree, 0 when they differ.
double WelchZPValue(double mean_a, double var_a, long n_a, double mean_b, double var_b, long n_b);

}  // namespace exitplan
