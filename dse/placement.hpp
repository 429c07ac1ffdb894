// Exit placement: the words shared by the placement searches (dse/flop_score.hpp,
// dse/greedy.hpp, dse/exhaustive.hpp).
//
// Candidate exits are the dump's exits 1..K-1 (0-based 0..K-2); exit K is always kept. A subset of
// candidates is a bit mask: bit j set = exit j (0-based) kept. With kept set S, stopping at exit k
// costs backbone(k) + sum of head(j) for j in S, j <= k (CostProfile::StopCosts), so
// dropping an exit removes its head cost for every sample that passes it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dse/report.hpp"
#include "optim/problem.hpp"
#include "optim/solve.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/profile.hpp"
#include "profiles/types.hpp"

namespace exitplan {

using SubsetMask = std::uint64_t;

enum class PlacementMethod {
  kFlopScore,  // the unsupervised early-exit paper (2023) section 3.4, eq. 4 over every subset
  kGreedyEfficiency,  // Scardapane et al. 2020 eq. 4, scanning input -> output
  kGreedyTh,  // Scardapane et al. 2020 eq. 5 (TH, compression ratio cm_i), scanning input -> output
  kGreedyForward,   // add the exit that most improves accuracy at the budget
  kGreedyBackward,  // drop the exit whose removal most improves (or keeps) accuracy
  kExhaustive,      // every subset x every budget, thresholds by a solver, Pareto front
};
std::string ToString(PlacementMethod method);
PlacementMethod PlacementMethodFromString(const std::string& text,
                                          const std::string& what = "--method");
std::vector<std::string> PlacementMethodNames();

// What every placement search reads. Pointers are not owned.
struct PlacementProblem {
  const ScoreMatrix* scores = nullptr;     // fit split, K x N, one confidence measure
  const CorrectMatrix* correct = nullptr;  // fit split correctness: what budgeted solvers maximise
                                           // and what accuracies report
  // Correctness used for flop-score's CA (eq. 3); nullptr = `correct`. The unsupervised early-exit
  // paper uses agreement with the final exit's prediction (no labels).
  const CorrectMatrix* ca_correct = nullptr;
  ScoreOrder order = ScoreOrder::kDescending;
  const CostProfile* profile = nullptr;
  // Optional eval split, only measured.
  const ScoreMatrix* eval_scores = nullptr;
  const CorrectMatrix* eval_correct = nullptr;

  int k() const { return static_cast<int>(scores->rows()); }
  int n() const { return static_cast<int>(scores->cols()); }
  int candidates() const { return k() - 1; }
  const CorrectMatrix& ca() const { return ca_correct ? *ca_correct : *correct; }
  bool has_eval() const { return eval_scores != nullptr && eval_correct != nullptr; }
  // "" when well-formed, else one line.
  std::string Check() const;
  // The threshold problem of kept set `kept` at `budget` on the fit split. A budget above the set's
  // full cost (every sample to exit K) is clamped to it: the constraint cannot bind there.
  ThresholdProblem Thresholds(const std::vector<int>& kept, double budget) const;
  Evaluation EvaluateFit(const Policy& policy) const;
  Evaluation EvaluateEval(const Policy& policy) const;  // n = 0 when there is no eval split
};

// Kept exits (0-based ascending, final included) of a candidate mask, and back.
std::vector<int> KeptFromMask(SubsetMask mask, int k);
SubsetMask MaskFromKept(const std::vector<int>& kept, int k);
// "2;4;6;9" (1-based) for messages.
std::string KeptText(const std::vector<int>& kept);

// The evenly spaced placement Ilhan et al. 2023 uses (two exits at 1/3 and 2/3 of ResNet-56's
// depth, four at 1/5..4/5 of MSDNet's): for i = 1..m, the candidate whose backbone cost is nearest
// to i/(m+1) x backbone(K), distinct, plus the final exit. m is clipped to the number of
// candidates.
std::vector<int> EvenlySpacedExits(const CostProfile& profile, int m);

// "" when the profile has per-exit head costs; otherwise one line saying that `method` needs them
// (a `cumulative:` profile hides them inside the stop costs).
std::string CheckHeadCosts(const CostProfile& profile, const std::string& method);

// A budgeted threshold solver: by default optim's Solve(method, problem, options).
using ThresholdSolverFn = std::function<ThresholdSummary(const ThresholdProblem&)>;
ThresholdSolverFn SolverFor(Method method, const SolverOptions& options = {});
// The same method warm-started from another budget's thresholds of the same kept set (the reuse of
// per-subset work across budgets in exhaustive search). Only `exact` has one: SolveExact from the
// given thresholds plus its Lagrangian start, without the heuristic and iPPP starts (those are
// solved once, at the subset's first budget). Empty for the other methods.
using WarmSolverFn =
    std::function<ThresholdSummary(const ThresholdProblem&, const std::vector<double>& warm)>;
WarmSolverFn WarmSolverFor(Method method, const SolverOptions& options = {});

// A result row (dse/report.hpp) for a policy: fit figures as given, eval figures measured.
ResultRow MakeRow(const PlacementProblem& problem, const std::string& method, const Policy& policy,
                  const Evaluation& fit, double budget, double seconds, const std::string& outcome,
                  const std::string& message);

}  // namespace exitplan
