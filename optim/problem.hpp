// The budget-constrained threshold problem (Tan et al. (AAAI 2021) P2; Ilhan et al. 2023 eq. 2) and
// the Summary every threshold solver returns.
//
// Given K x N scores of one confidence measure, K x N correctness, kept exits S and stop costs,
// find thresholds t (one per kept exit before the final) maximising accuracy on the fit split
// subject to mean cost <= budget. Accuracy and cost are always those of the exact evaluator.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "profiles/evaluator.hpp"
#include "profiles/types.hpp"

namespace exitplan {

class CostProfile;
class SplitData;

struct ThresholdProblem {
  const ScoreMatrix* scores = nullptr;     // K x N, not owned
  const CorrectMatrix* correct = nullptr;  // K x N, not owned
  ScoreOrder order = ScoreOrder::kDescending;
  std::vector<int> kept;          // 0-based, ascending; the last is K-1
  std::vector<double> stop_cost;  // size K: CostProfile::StopCosts(kept)
  double budget = 0.0;            // allowed mean cost per sample, absolute units

  int k() const { return static_cast<int>(scores->rows()); }
  int n() const { return static_cast<int>(scores->cols()); }
  // Mean cost when every sample stops at the first kept exit / runs to exit K.
  double MinCost() const { return stop_cost[kept.front()]; }
  double MaxCost() const { return stop_cost[kept.back()]; }
  Evaluation Evaluate(const Policy& policy) const;
  // "" when well-formed (pointers set, sizes agree, kept valid, budget finite), else one line.
  std::string Check() const;

  static ThresholdProblem From(const SplitData& split, Measure measure, Target target,
                               const CostProfile& profile, const std::vector<int>& kept,
                               double budget);
};

// What the answer was (HiGHS-style second axis; whether the call worked is InputError's job).
// Every method, every entry point: the same word means the same thing.
enum class Outcome {
  kNotRun,          // a default Summary: nothing filled it
  kOptimal,         // proven optimal for the problem solved
  kConverged,       // the method's own stopping test was met (no optimality proof)
  kIterationLimit,  // stopped at an iteration or evaluation limit; the best point found is returned
  kInfeasible,      // the budget cannot be met (below the cheapest policy's cost)
  kFailure,         // numerical failure; message says why
  // The budget is at or above the full cost (every sample running to the final exit): everything
  // fits, so the answer is "keep every exit, run to the end" (thresholds that never stop early).
  kUnconstrained,
  // The method returned a policy whose fit cost exceeds the budget it was asked to meet. The policy
  // and its fit/eval figures are kept for reports, but it is not a solution at that budget: not on
  // the deployable front, not exported, not counted by HasSolution.
  kOverBudget,
};
std::string ToString(Outcome outcome);
// Relative tolerance of every "within budget" test: fit cost <= budget x (1 + kBudgetTolerance).
inline constexpr double kBudgetTolerance = 1e-9;
// The answer is a policy that meets the budget.
inline bool HasSolution(Outcome o) {
  return o == Outcome::kOptimal || o == Outcome::kConverged || o == Outcome::kIterationLimit ||
         o == Outcome::kUnconstrained;
}
// A policy and its fit figures are filled (a solution, or an over-budget answer).
inline bool HasPolicy(Outcome o) { return HasSolution(o) || o == Outcome::kOverBudget; }
// The text of ToString back; false for an unknown word ("error" included).
bool OutcomeFromString(const std::string& text, Outcome* outcome);

// What a guaranteed solve certified (optim/guarantee.hpp, docs/guarantees.md); level 0 = none.
struct GuaranteeReport {
  double level = 0.0;                                        // 1 - delta
  double horizon = std::numeric_limits<double>::infinity();  // M deployed samples; inf = population
  // "wsr", "wsr-unrounded" or "hoeffding-bentkus" (the --guarantee-bound value); files of earlier
  // versions may hold "wsr-deterministic" or "wsr-randomised".
  std::string bound;
  // Budget mode with a finite horizon and wsr: the calibration test used (TestName in
  // optim/guarantee.hpp); empty otherwise.
  std::string test;
  int search_n = 0, calibration_n = 0;
  int path_length = 0;  // candidates on the path
  int certified = 0;    // candidates certified before the first that was not
  // Budget mode: the guaranteed bound on the mean cost of the M deployed samples (= the budget).
  // Accuracy-drop mode: an upper bound on it holding with probability >= 1 - delta on its own.
  double cost_bound = std::numeric_limits<double>::quiet_NaN();
  // A lower bound on the accuracy of the M deployed samples holding with probability >= 1 - delta
  // on its own (both modes; in accuracy-drop mode the guarantee itself is on the drop).
  double accuracy_bound = std::numeric_limits<double>::quiet_NaN();
  // Accuracy-drop mode: the guaranteed bound on the accuracy drop (= eps); NaN in budget mode.
  double drop_bound = std::numeric_limits<double>::quiet_NaN();
  bool on() const { return level > 0.0; }
};

struct ThresholdSummary {
  std::string method;  // e.g. "ippp"
  Outcome outcome = Outcome::kNotRun;
  std::string message = "not run";
  Policy policy;   // kept exits and thresholds
  Evaluation fit;  // exact evaluator on the fit split
  int iterations = 0;
  double seconds = 0.0;
  std::vector<double> trace;  // method-specific (e.g. objective per outer iteration)
  // The budget actually fitted when it differs from the problem's (--budget-margin); NaN if not.
  double fit_budget = std::numeric_limits<double>::quiet_NaN();
  GuaranteeReport guarantee;  // filled by a guaranteed solve (--guarantee)

  bool ok() const { return HasSolution(outcome); }
  bool has_policy() const { return HasPolicy(outcome); }
  std::string BriefReport() const;  // one line
  std::string FullReport() const;   // several lines, for --verbose
};

}  // namespace exitplan
