// One entry point for every budget-constrained threshold method, selectable by name.
//
// The per-method option structs live in their own headers (optim/geometric.hpp, optim/ippp.hpp,
// optim/exact.hpp, ...) and are gathered in SolverOptions so the CLI, YAML sweeps and dse/ can pass
// one object. Every method returns a ThresholdSummary whose `fit` is the exact evaluator's figures.
#pragma once

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "optim/exact.hpp"
#include "optim/geometric.hpp"
#include "optim/guarantee.hpp"
#include "optim/ippp.hpp"
#include "optim/problem.hpp"
#include "profiles/progress.hpp"

namespace exitplan {

enum class Method {
  kGeometric,          // MSDNet's geometric exit distribution, p solved exactly, cascade quotas
  kGeometricQuantile,  // Tan et al.'s code's variant (Heuristic.py): 1% grid of p, per-exit
                       // quantiles
  kSingle,             // one threshold shared by all exits, bisection on the budget
  kIppp,               // Tan et al. (AAAI 2021) Algorithm 1
  kIpppNlopt,          // the smoothed P2 handed to NLopt
  kExact,              // our own solver on the true step-function problem
};
std::string ToString(Method method);
Method MethodFromString(const std::string& text, const std::string& what = "--method");
std::vector<std::string> MethodNames();

// Answers of `exact` at several budgets of one problem, kept so that each further solve at a
// budget between two of them starts from them (accuracy-drop mode: SolveForAccuracy's bisection,
// and the guarantee's pilot, bisection and path on the search part; SolveAtBudget reads and
// fills it). Between two kept budgets closer than kWarmSpan of the cost span, the iPPP starts
// (iPPP's answer, after the feasibility step, and ippp-nlopt's: two to four times the cost of the
// rest of an exact solve) are not solved again: the ones solved at the nearest budgets below and
// above are used instead, beside the two neighbouring answers. The answer at the budget below is
// feasible at the new budget, so the new answer is at least as accurate as it.
inline constexpr double kWarmSpan = 0.05;
struct ExactWarmStore {
  // The problem the answers belong to (set by the owner; a solve on another problem ignores it).
  const ScoreMatrix* scores = nullptr;
  int n = 0;
  std::vector<int> kept;
  std::map<double, std::vector<double>> answers;  // budget -> exact's answer (within budget)
  std::map<double, std::vector<std::vector<double>>> method_starts;  // budget -> iPPP starts
  explicit ExactWarmStore(const ThresholdProblem& problem)
      : scores(problem.scores), n(problem.n()), kept(problem.kept) {}
  bool For(const ThresholdProblem& problem) const {
    return scores == problem.scores && n == problem.n() && kept == problem.kept;
  }
};

// Options of every method; the fields of each are documented in its own header.
struct SolverOptions {
  // Set by the caller when known: the measure's natural range, used by methods that project onto
  // a box (iPPP) and for the "threshold outside the measure's range" message. NaN = infer from data
  // ([0, 1] when every score lies in it, else [-1, 0] likewise, else the data's [min, max]).
  double box_lo = std::numeric_limits<double>::quiet_NaN();
  double box_hi = std::numeric_limits<double>::quiet_NaN();
  unsigned seed = 1;  // master seed; every random sub-stream derives from it
  GeometricOptions geometric;
  IpppOptions ippp;  // ippp and ippp-nlopt
  ExactOptions exact;
  // --budget-margin: one-sided confidence level in (0, 1) of a bootstrap upper bound on the mean
  // cost; 0 = off. When on, the fit budget is tightened to B - (UCB - mean) of the policy's
  // per-sample cost (re-solved `margin_rounds` times, since the margin depends on the policy).
  double budget_margin = 0.0;
  int margin_resamples = 2000;  // bootstrap resamples, >= 100
  int margin_rounds = 2;        // >= 1
  // Accuracy-target mode: when finite, minimise the mean cost subject to fit accuracy >=
  // (accuracy of always running to the final exit) - accuracy_drop; the problem's budget is then
  // ignored. In [0, 1].
  double accuracy_drop = std::numeric_limits<double>::quiet_NaN();
  int target_iters = 40;  // bisection steps on the budget in accuracy-target mode
  // --guarantee: a finite-sample, distribution-free guarantee on the deployed samples
  // (optim/guarantee.hpp); excludes budget_margin.
  GuaranteeOptions guarantee;
  // Final feasibility step (every method): an answer whose fit cost exceeds B is re-solved at a
  // budget tightened by the excess, up to this many rounds; still over -> outcome over_budget.
  // 0 = off (the published methods' raw answers, e.g. the paper settings of iPPP).
  int feasibility_rounds = 8;
  // Extra starts for `exact` (threshold vectors of size kept - 1), e.g. a neighbouring budget's
  // answer (SolveBudgets).
  std::vector<std::vector<double>> exact_starts;
  // `exact` only: answers at other budgets of the same problem to start from and to add to
  // (ExactWarmStore; null = none). Set by the accuracy-drop solvers for their own solves.
  ExactWarmStore* exact_warm = nullptr;
  // Returns "" or one line per broken constraint naming the field, its value and the rule.
  std::string Validate() const;
};

// Solves the problem with one method. Never throws for an infeasible budget (Outcome::kInfeasible);
// throws InputError only for a malformed problem or options. A budget at or above the kept set's
// full cost gives Outcome::kUnconstrained (SolveUnconstrained in solve.cpp: running to the end, or
// the method's answer at the full cost when more accurate); an answer over its budget gives
// Outcome::kOverBudget (LabelOverBudget).
ThresholdSummary Solve(Method method, const ThresholdProblem& problem,
                       const SolverOptions& options = {});

// One budget, no margin, no accuracy target: the method itself (Solve() wraps it).
ThresholdSummary SolveAtBudget(Method method, const ThresholdProblem& problem,
                               const SolverOptions& options);

// The method at B followed by the feasibility step (SolverOptions::feasibility_rounds).
ThresholdSummary SolveFeasible(Method method, const ThresholdProblem& problem,
                               const SolverOptions& options);

// One method over several budgets (any order; answers in the given order). For `exact` each budget
// also starts from the answer at the next smaller budget (feasible there, so at least as accurate
// as it), so exact's fit accuracy never falls as the budget rises. `progress` (may be null) is
// advanced after each budget; its callback throwing ends the solves (rethrown here).
std::vector<ThresholdSummary> SolveBudgets(Method method, const ThresholdProblem& problem,
                                           const std::vector<double>& budgets,
                                           const SolverOptions& options,
                                           Progress* progress = nullptr);

// Where `exact`'s accuracy-drop searches (SolveForAccuracy, the guarantee's pilot) start: the fit
// cost of `single`'s cheapest answer meeting options.accuracy_drop on `problem` (NaN when it has
// none, or when exact's heuristic starts are off). Exact at that budget starts from single's
// answer there, so it meets the drop too; from it the search steps down by kWarmSpan of the cost
// span (doubling) to the first budget that fails, and bisects that bracket, whose solves start
// from their neighbours (ExactWarmStore).
double ExactBracketGuess(const ThresholdProblem& problem, const SolverOptions& options);

// Sets the published iPPP settings (Tan et al., AAAI 2021): steepness 30, automatic beta, and no
// feasibility step (their raw answers, which may exceed the budget on the fit split).
void ApplyPaperIpppSettings(SolverOptions* options);

// The budget is at or above the full cost (within kBudgetTolerance): it cannot bind.
bool IsUnconstrained(double budget, double full_cost);
// Thresholds that never pass (+inf for descending measures, -inf for ascending): every sample runs
// to the final exit of `kept`.
Policy RunToEndPolicy(const std::vector<int>& kept, ScoreOrder order);
// Relabels an answer whose fit cost exceeds `budget` (beyond kBudgetTolerance) as
// Outcome::kOverBudget, naming the excess and the method's own outcome in the message.
void LabelOverBudget(double budget, ThresholdSummary& summary);

// "" when the budget is feasible for the problem, else one line: below the cost of stopping every
// sample at the first kept exit, or above the full cost (every sample to the final exit).
std::string BudgetProblem(const ThresholdProblem& problem);

// The box [lo, hi] the options give or InferBox() finds; thresholds in `t` outside it get one
// line naming the threshold, its value and the range ("" when all are inside).
void ResolveBox(const ThresholdProblem& problem, const SolverOptions& options, double* lo,
                double* hi);
std::string CheckThresholdRange(const std::vector<double>& t, double lo, double hi);

// Bootstrap one-sided upper confidence bound minus the mean of a policy's mean cost on the fit
// split (multinomial resampling of the exit counts), at `level`.
double BootstrapCostMargin(const ThresholdProblem& problem, const Evaluation& fit, double level,
                           int resamples, unsigned seed);

}  // namespace exitplan
