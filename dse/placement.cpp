#include "dse/placement.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "optim/exact.hpp"
#include "profiles/error.hpp"

namespace exitplan {
namespace {
const char* const kNames[] = {"flop-score",     "greedy-efficiency", "greedy-th",
                              "greedy-forward", "greedy-backward",   "exhaustive"};
constexpr int kNumNames = 6;
}  // namespace

std::string ToString(PlacementMethod method) { return kNames[static_cast<int>(method)]; }

PlacementMethod PlacementMethodFromString(const std::string& text, const std::string& what) {
  for (int i = 0; i < kNumNames; ++i) {
    if (text == kNames[i]) return static_cast<PlacementMethod>(i);
  }
  throw InputError(what, "unknown placement method '" + text +
                             "' (expected flop-score, greedy-efficiency, greedy-th, "
                             "greedy-forward, greedy-backward or exhaustive)");
}

std::vector<std::string> PlacementMethodNames() {
  return std::vector<std::string>(kNames, kNames + kNumNames);
}

std::string PlacementProblem::Check() const {
  if (scores == nullptr || correct == nullptr || profile == nullptr) {
    return "scores, correctness or profile not set";
  }
  if (scores->rows() != correct->rows() || scores->cols() != correct->cols()) {
    return "scores and correctness differ in shape";
  }
  if (ca_correct != nullptr &&
      (ca_correct->rows() != scores->rows() || ca_correct->cols() != scores->cols())) {
    return "scores and CA correctness differ in shape";
  }
  if (profile->k() != k()) {
    return "the profile has " + std::to_string(profile->k()) + " exits, the dump " +
           std::to_string(k());
  }
  if (k() < 1) return "no exits";
  if ((eval_scores == nullptr) != (eval_correct == nullptr)) {
    return "eval scores and correctness must be given together";
  }
  if (eval_scores != nullptr &&
      (eval_scores->rows() != scores->rows() || eval_correct->rows() != scores->rows() ||
       eval_correct->cols() != eval_scores->cols())) {
    return "eval split differs in shape from the fit split";
  }
  return "";
}

ThresholdProblem PlacementProblem::Thresholds(const std::vector<int>& kept, double budget) const {
  ThresholdProblem p;
  p.scores = scores;
  p.correct = correct;
  p.order = order;
  p.kept = kept;
  p.stop_cost = profile->StopCosts(kept);
  // A budget above this kept set's full cost cannot bind: clamp it, so that sets with fewer heads
  // (a lower full cost) are solved rather than refused at large budgets.
  p.budget = std::min(budget, p.MaxCost());
  return p;
}

Evaluation PlacementProblem::EvaluateFit(const Policy& policy) const {
  return Evaluate(*scores, order, *correct, profile->StopCosts(policy.kept), policy);
}

Evaluation PlacementProblem::EvaluateEval(const Policy& policy) const {
  if (!has_eval()) return Evaluation{};
  return Evaluate(*eval_scores, order, *eval_correct, profile->StopCosts(policy.kept), policy);
}

std::vector<int> KeptFromMask(SubsetMask mask, int k) {
  std::vector<int> kept;
  for (int j = 0; j < k - 1; ++j) {
    if (mask >> j & 1u) kept.push_back(j);
  }
  kept.push_back(k - 1);
  return kept;
}

SubsetMask MaskFromKept(const std::vector<int>& kept, int k) {
  SubsetMask m = 0;
  for (int j : kept) {
    if (j < k - 1) m |= SubsetMask{1} << j;
  }
  return m;
}

std::string KeptText(const std::vector<int>& kept) {
  std::string s;
  for (std::size_t q = 0; q < kept.size(); ++q) {
    if (q) s += ";";
    s += std::to_string(kept[q] + 1);
  }
  return s;
}

std::vector<int> EvenlySpacedExits(const CostProfile& profile, int m) {
  const int k = profile.k();
  m = std::max(0, std::min(m, k - 1));
  std::vector<int> kept;
  std::vector<char> used(k, 0);
  const double total = profile.backbone.back();
  for (int i = 1; i <= m; ++i) {
    const double goal = total * i / (m + 1);
    int best = -1;
    double best_d = std::numeric_limits<double>::infinity();
    for (int j = 0; j < k - 1; ++j) {
      if (used[j]) continue;
      const double d = std::abs(profile.backbone[j] - goal);
      if (d < best_d) best_d = d, best = j;
    }
    if (best >= 0) used[best] = 1;
  }
  for (int j = 0; j < k - 1; ++j) {
    if (used[j]) kept.push_back(j);
  }
  kept.push_back(k - 1);
  return kept;
}

std::string CheckHeadCosts(const CostProfile& profile, const std::string& method) {
  if (profile.has_heads) return "";
  return "method " + method + " needs per-exit head costs, but " + profile.source +
         " gives only `cumulative:` stop costs (heads already inside); give `exits:` with "
         "backbone and head per exit, or use --method exhaustive or greedy-forward/backward";
}

ThresholdSolverFn SolverFor(Method method, const SolverOptions& options) {
  return [method, options](const ThresholdProblem& p) { return Solve(method, p, options); };
}

WarmSolverFn WarmSolverFor(Method method, const SolverOptions& options) {
  if (method != Method::kExact) return {};
  return [options](const ThresholdProblem& p, const std::vector<double>& warm) {
    if (p.kept.size() < 2 || warm.size() + 1 != p.kept.size() || !BudgetProblem(p).empty()) {
      return Solve(Method::kExact, p, options);
    }
    ExactOptions o = options.exact;
    o.start_ippp = false;
    o.start_heuristics = false;
    o.lambda_iters = 0;
    ThresholdSummary s = SolveExact(p, o, {warm});
    s.method = ToString(Method::kExact);
    return s;
  };
}

ResultRow MakeRow(const PlacementProblem& problem, const std::string& method, const Policy& policy,
                  const Evaluation& fit, double budget, double seconds, const std::string& outcome,
                  const std::string& message) {
  ResultRow r;
  r.target = problem.profile->target;
  r.unit = problem.profile->unit;
  r.method = method;
  r.kept_exits = policy.kept;
  r.budget = budget;
  r.thresholds = policy.thresholds;
  if (fit.n > 0) {
    r.fit_acc = fit.accuracy;
    r.fit_cost = fit.mean_cost;
    r.exit_fractions = fit.exit_fraction;
    if (problem.has_eval()) {
      const Evaluation ev = problem.EvaluateEval(policy);
      r.eval_acc = ev.accuracy;
      r.eval_cost = ev.mean_cost;
    }
  }
  r.seconds = seconds;
  r.outcome = outcome;
  r.message = message;
  return r;
}

}  // namespace exitplan
