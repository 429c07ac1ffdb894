#include "optim/solve.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "optim/internal/cascade.hpp"
#include "optim/single.hpp"
#include "profiles/error.hpp"

namespace exitplan {
namespace {
const char* const kNames[] = {"geometric", "geometric-quantile", "single",
                              "ippp",      "ippp-nlopt",         "exact"};

std::string Num(double v) { return FormatDouble(v); }

// The feasibility step of SolveFeasible from `first`, the method's answer at B on `problem`.
ThresholdSummary FeasibleFrom(Method method, const ThresholdProblem& problem,
                              const SolverOptions& options, ThresholdSummary first);
}  // namespace

std::string ToString(Method method) { return kNames[static_cast<int>(method)]; }

Method MethodFromString(const std::string& text, const std::string& what) {
  for (int i = 0; i < 6; ++i) {
    if (text == kNames[i]) return static_cast<Method>(i);
  }
  throw InputError(what, "unknown method '" + text +
                             "' (expected geometric, geometric-quantile, single, ippp, ippp-nlopt "
                             "or exact)");
}

std::vector<std::string> MethodNames() { return std::vector<std::string>(kNames, kNames + 6); }

std::string SolverOptions::Validate() const {
  std::string out;
  const bool lo_nan = std::isnan(box_lo), hi_nan = std::isnan(box_hi);
  if (lo_nan != hi_nan) out += "box: give both ends or neither\n";
  if (!lo_nan && !hi_nan && !(box_lo < box_hi)) {
    out += "box = [" + Num(box_lo) + ", " + Num(box_hi) + "]: the low end must be below the high\n";
  }
  out += geometric.Validate();
  out += ippp.Validate();
  out += exact.Validate();
  if (!(budget_margin >= 0.0 && budget_margin < 1.0)) {
    out += "budget_margin = " + Num(budget_margin) +
           ": must be a confidence level in (0, 1), or 0 for none\n";
  }
  if (margin_resamples < 100) {
    out += "margin_resamples = " + std::to_string(margin_resamples) + ": must be >= 100\n";
  }
  if (margin_rounds < 1)
    out += "margin_rounds = " + std::to_string(margin_rounds) + ": must be >= 1\n";
  if (!std::isnan(accuracy_drop) && !(accuracy_drop >= 0.0 && accuracy_drop <= 1.0)) {
    out += "accuracy_drop = " + Num(accuracy_drop) + ": must be in [0, 1]\n";
  }
  if (target_iters < 1)
    out += "target_iters = " + std::to_string(target_iters) + ": must be >= 1\n";
  out += guarantee.Validate();
  if (feasibility_rounds < 0) {
    out += "feasibility_rounds = " + std::to_string(feasibility_rounds) + ": must be >= 0\n";
  }
  if (guarantee.on() && budget_margin > 0.0) {
    out += "guarantee = " + Num(guarantee.level) + " with budget_margin = " + Num(budget_margin) +
           ": give one of them (the guarantee already covers sampling noise)\n";
  }
  return out;
}

std::string BudgetProblem(const ThresholdProblem& p) {
  const double lo = p.MinCost(), hi = p.MaxCost();
  if (!(p.budget >= lo)) {
    return "budget " + Num(p.budget) + " is infeasible: below " + Num(lo) +
           ", the cost of stopping every sample at the first kept exit " +
           std::to_string(p.kept.front() + 1);
  }
  if (p.budget > hi * (1.0 + 1e-12)) {
    return "budget " + Num(p.budget) + " is above the full cost " + Num(hi) +
           " (every sample running to the final exit): the constraint cannot bind; use a budget "
           "<= the full cost";
  }
  return "";
}

void ResolveBox(const ThresholdProblem& p, const SolverOptions& o, double* lo, double* hi) {
  if (!std::isnan(o.box_lo) && !std::isnan(o.box_hi)) {
    *lo = o.box_lo;
    *hi = o.box_hi;
  } else {
    internal::InferBox(p, lo, hi);
  }
}

std::string CheckThresholdRange(const std::vector<double>& t, double lo, double hi) {
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!(t[i] >= lo && t[i] <= hi)) {
      return "threshold " + std::to_string(i + 1) + " = " + Num(t[i]) +
             " is outside the measure's range [" + Num(lo) + ", " + Num(hi) + "]";
    }
  }
  return "";
}

double BootstrapCostMargin(const ThresholdProblem& p, const Evaluation& fit, double level,
                           int resamples, unsigned seed) {
  // The mean cost of a resample is sum_e count_e c_e / N with counts ~ Multinomial(N, fractions):
  // drawn exactly by conditional binomials, O(K) per resample instead of O(N).
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + 12345u);
  const int k = static_cast<int>(fit.exit_fraction.size());
  const long n = fit.n;
  std::vector<double> means(resamples);
  for (int r = 0; r < resamples; ++r) {
    long left = n;
    double rest = 1.0, total = 0.0;
    for (int e = 0; e < k && left > 0; ++e) {
      const double f = fit.exit_fraction[e];
      if (f <= 0.0) continue;
      long draw = left;
      if (e + 1 < k && rest > f) {
        std::binomial_distribution<long> b(left, std::min(1.0, f / rest));
        draw = b(rng);
      }
      total += static_cast<double>(draw) * p.stop_cost[e];
      left -= draw;
      rest -= f;
    }
    means[r] = total / n;
  }
  std::sort(means.begin(), means.end());
  const int idx = std::min(resamples - 1, static_cast<int>(std::ceil(level * resamples)) - 1);
  return std::max(0.0, means[std::max(0, idx)] - fit.mean_cost);
}

ThresholdSummary SolveAtBudget(Method method, const ThresholdProblem& problem,
                               const SolverOptions& options) {
  double lo = 0, hi = 1;
  ResolveBox(problem, options, &lo, &hi);
  ThresholdSummary s;
  if (problem.kept.size() == 1) {  // only the final exit: nothing to choose
    s.method = ToString(method);
    s.policy.kept = problem.kept;
    s.fit = problem.Evaluate(s.policy);
    s.outcome = Outcome::kOptimal;
    s.message = "only the final exit is kept";
    return s;
  }
  switch (method) {
    case Method::kGeometric:
      s = SolveGeometric(problem, options.geometric);
      break;
    case Method::kGeometricQuantile:
      s = SolveGeometricQuantile(problem, options.geometric);
      break;
    case Method::kSingle:
      s = SolveSingle(problem);
      break;
    case Method::kIppp:
      s = SolveIppp(problem, options.ippp, lo, hi);
      break;
    case Method::kIpppNlopt:
      s = SolveIpppNlopt(problem, options.ippp, lo, hi);
      break;
    case Method::kExact: {
      std::vector<std::vector<double>> starts = options.exact_starts;
      ExactWarmStore* warm =
          options.exact_warm && options.exact_warm->For(problem) ? options.exact_warm : nullptr;
      bool method_starts = options.exact.start_ippp && ExactLimitProblem(problem).empty();
      if (warm) {
        // The answers at the nearest budgets below and above (ExactWarmStore), and when these
        // are close, the iPPP starts solved at the nearest budgets below and above instead of
        // solving them again.
        const double b = problem.budget;
        const auto up = warm->answers.upper_bound(b);
        const bool has_up = up != warm->answers.end(), has_down = up != warm->answers.begin();
        if (has_down) starts.push_back(std::prev(up)->second);
        if (has_up) starts.push_back(up->second);
        if (method_starts && has_up && has_down &&
            up->first - std::prev(up)->first <=
                kWarmSpan * (problem.MaxCost() - problem.MinCost()) * (1.0 + 1e-9)) {
          const auto mu = warm->method_starts.upper_bound(b);
          if (mu != warm->method_starts.end() && mu != warm->method_starts.begin()) {
            method_starts = false;
            for (const auto& t : std::prev(mu)->second) starts.push_back(t);
            for (const auto& t : mu->second) starts.push_back(t);
          }
        }
      }
      const std::size_t own = starts.size();
      if (method_starts) {
        // iPPP's raw answer, and when it is over budget also its answer after the feasibility
        // step, so that exact is at least as accurate as what `ippp` itself returns. Above
        // kIpppStartSamples fit samples iPPP runs on a strided subsample (SolveIpppStart) and the
        // full-split feasibility and ippp-nlopt starts are skipped: each would cost more than
        // the ascent itself (docs/thresholds.md, exact).
        const bool full = problem.n() <= kIpppStartSamples;
        ThresholdSummary ip = SolveIpppStart(problem, options.ippp, lo, hi);
        if (ip.ok()) starts.push_back(ip.policy.thresholds);
        if (full && ip.ok() && ip.fit.mean_cost > problem.budget &&
            options.feasibility_rounds > 0) {
          // `ip` is iPPP's answer at B on this very problem (SolveIpppStart is SolveIppp up to
          // kIpppStartSamples): the feasibility step starts from it instead of solving it again.
          const ThresholdSummary fixed = FeasibleFrom(Method::kIppp, problem, options, ip);
          if (fixed.ok() && fixed.fit.mean_cost <= problem.budget) {
            starts.push_back(fixed.policy.thresholds);
          }
        }
        // ippp-nlopt (the same smoothed problem, a few ms) as returned by `ippp-nlopt`.
        if (full && options.feasibility_rounds > 0) {
          const ThresholdSummary nl = SolveFeasible(Method::kIpppNlopt, problem, options);
          if (nl.ok() && nl.fit.mean_cost <= problem.budget) starts.push_back(nl.policy.thresholds);
        }
        if (warm) {
          warm->method_starts[problem.budget].assign(starts.begin() + static_cast<long>(own),
                                                     starts.end());
        }
      }
      s = SolveExact(problem, options.exact, starts);
      if (warm && s.ok()) warm->answers[problem.budget] = s.policy.thresholds;
      break;
    }
  }
  return s;
}

ThresholdSummary SolveFeasible(Method method, const ThresholdProblem& problem,
                               const SolverOptions& options) {
  return FeasibleFrom(method, problem, options, SolveAtBudget(method, problem, options));
}

namespace {

ThresholdSummary FeasibleFrom(Method method, const ThresholdProblem& problem,
                              const SolverOptions& options, ThresholdSummary s) {
  const double limit = problem.budget * (1.0 + 1e-12);
  if (!s.ok() || s.fit.mean_cost <= limit || options.feasibility_rounds == 0) return s;
  // Tighten-and-resolve: the budget handed to the method is lowered by the last excess (times
  // 2^round); the first answer within B wins.
  ThresholdSummary first = s;
  const double first_cost = s.fit.mean_cost;
  ThresholdProblem tight = problem;
  int round = 0;
  for (; round < options.feasibility_rounds; ++round) {
    // The step doubles each round: a method whose cost barely moves with its budget (iPPP's
    // smoothing) still gets within B in a few rounds.
    tight.budget = std::max(problem.MinCost(),
                            tight.budget - std::ldexp(s.fit.mean_cost - problem.budget, round));
    ThresholdSummary next = SolveAtBudget(method, tight, options);
    if (!next.ok()) break;
    s = next;
    if (s.fit.mean_cost <= limit) {
      s.fit_budget = tight.budget;
      s.message = "feasibility step: the answer at B cost " + Num(first_cost) +
                  " on the fit split; re-solved at " + Num(tight.budget) + " (round " +
                  std::to_string(round + 1) + "); " + s.message;
      return s;
    }
    if (tight.budget <= problem.MinCost()) break;
  }
  // Still over: the method's own answer at B, noted; Solve() labels it over_budget.
  first.message = "feasibility step: " + std::to_string(round) +
                  " tighten-and-resolve rounds did not bring it within budget; " + first.message;
  return first;
}

}  // namespace

std::vector<ThresholdSummary> SolveBudgets(Method method, const ThresholdProblem& problem,
                                           const std::vector<double>& budgets,
                                           const SolverOptions& options, Progress* progress) {
  std::vector<std::size_t> order(budgets.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return budgets[a] < budgets[b]; });
  std::vector<ThresholdSummary> out(budgets.size());
  std::vector<double> previous;
  for (std::size_t i : order) {
    ThresholdProblem p = problem;
    p.budget = budgets[i];
    SolverOptions o = options;
    const bool chain = method == Method::kExact && std::isnan(options.accuracy_drop) &&
                       !options.guarantee.on() && options.budget_margin <= 0.0;
    if (chain && !previous.empty()) o.exact_starts.push_back(previous);
    out[i] = Solve(method, p, o);
    if (chain && out[i].ok() && out[i].policy.thresholds.size() + 1 == problem.kept.size()) {
      previous = out[i].policy.thresholds;
    }
    ProgressAdvance(progress);
    ProgressRethrow(progress);
  }
  return out;
}

void ApplyPaperIpppSettings(SolverOptions* options) {
  options->ippp.steepness = 30.0;
  options->ippp.beta = std::numeric_limits<double>::quiet_NaN();
  options->ippp.beta_scale = 100.0;
  options->feasibility_rounds = 0;
}

namespace {

ThresholdSummary SolveWithMargin(Method method, const ThresholdProblem& problem,
                                 const SolverOptions& options) {
  ThresholdSummary s = SolveFeasible(method, problem, options);
  if (options.budget_margin <= 0.0 || !s.ok()) return s;
  ThresholdProblem tight = problem;
  double margin = 0.0;
  for (int round = 0; round < options.margin_rounds; ++round) {
    margin = BootstrapCostMargin(problem, s.fit, options.budget_margin, options.margin_resamples,
                                 options.seed + 7919u * round);
    tight.budget = std::max(problem.MinCost(), problem.budget - margin);
    ThresholdSummary next = SolveFeasible(method, tight, options);
    if (!next.ok()) break;
    s = next;
  }
  std::ostringstream m;
  m << "budget margin at level " << options.budget_margin << ": fitted to " << tight.budget
    << " (bootstrap UCB margin " << margin << "); " << s.message;
  s.message = m.str();
  s.fit_budget = tight.budget;
  return s;
}

}  // namespace

double ExactBracketGuess(const ThresholdProblem& problem, const SolverOptions& options) {
  if (!options.exact.start_heuristics) return std::numeric_limits<double>::quiet_NaN();
  SolverOptions o;
  o.accuracy_drop = options.accuracy_drop;
  const ThresholdSummary s = Solve(Method::kSingle, problem, o);
  return s.ok() ? s.fit.mean_cost : std::numeric_limits<double>::quiet_NaN();
}

namespace {

ThresholdSummary SolveForAccuracy(Method method, const ThresholdProblem& problem,
                                  const SolverOptions& options) {
  // Minimal budget whose solution meets the accuracy target, by bisection on the budget; the
  // cheapest qualifying solution seen is returned.
  const Eigen::Index last = problem.kept.back();
  double full_acc = 0.0;
  for (int i = 0; i < problem.n(); ++i) full_acc += (*problem.correct)(last, i);
  full_acc /= problem.n();
  const double target = full_acc - options.accuracy_drop;
  ThresholdProblem p = problem;
  double lo = problem.MinCost(), hi = problem.MaxCost();
  ThresholdSummary best;
  int iters = 0;
  // `exact` starts each solve of the bisection from the answers at the neighbouring budgets
  // (ExactWarmStore).
  ExactWarmStore warm(problem);
  SolverOptions o = options;
  if (method == Method::kExact) o.exact_warm = &warm;
  auto consider = [&](const ThresholdSummary& s) {
    const bool meets = s.ok() && s.fit.accuracy >= target - 1e-12;
    if (meets && (!best.ok() || s.fit.mean_cost < best.fit.mean_cost)) best = s;
    return meets;
  };
  // `exact`'s solves are costly: its bisection stops at 1e-4 of the cost span (a budget step
  // no answer's cost resolves on fewer than 10,000 samples). It starts from a bracket around
  // `single`'s cheapest answer (ExactBracketGuess).
  const double tol = method == Method::kExact ? 1e-4 * (hi - lo) : 1e-12 * std::fabs(hi);
  bool hi_known = false, lo_known = false;
  if (method == Method::kExact) {
    const double span = hi - lo;
    const double g = ExactBracketGuess(problem, options);
    p.budget = g;
    if (g > lo && g < hi && consider(SolveWithMargin(method, p, o))) {
      hi = g;
      hi_known = true;
      for (double step = kWarmSpan * span; iters < options.target_iters; ++iters, step *= 2.0) {
        p.budget = hi - step;
        if (!(p.budget > lo)) break;
        if (!consider(SolveWithMargin(method, p, o))) {
          lo = p.budget;
          lo_known = true;
          break;
        }
        hi = p.budget;
      }
    } else if (g > lo && g < hi) {
      lo = g;
      lo_known = true;
    }
  }
  p.budget = hi;
  if (!hi_known) {
    if (ThresholdSummary s = SolveWithMargin(method, p, o); !consider(s)) {
      // Even the full budget misses the target with this method: return its answer, flagged.
      s.outcome = Outcome::kInfeasible;
      s.message = "accuracy target " + Num(target) + " not reached even at the full cost (best " +
                  Num(s.fit.accuracy) + ")";
      return s;
    }
  }
  p.budget = lo;
  if (lo_known || !consider(SolveWithMargin(method, p, o))) {
    for (; iters < options.target_iters && hi - lo > tol; ++iters) {
      p.budget = 0.5 * (lo + hi);
      if (consider(SolveWithMargin(method, p, o)))
        hi = p.budget;
      else
        lo = p.budget;
    }
  }
  best.message = "accuracy target " + Num(target) + " (final-exit accuracy " + Num(full_acc) +
                 " - " + Num(options.accuracy_drop) + "): cheapest budget found " +
                 Num(best.fit.mean_cost) + "; " + best.message;
  best.iterations += iters;
  return best;
}

// At or above the kept set's full cost the budget cannot bind. The answer is running every sample
// to the final exit (thresholds that never pass), or the method's own answer at the full cost when
// that is more accurate on the fit split; either way the outcome says `unconstrained`.
ThresholdSummary SolveUnconstrained(Method method, const ThresholdProblem& problem,
                                    const SolverOptions& options) {
  ThresholdSummary s;
  s.policy = RunToEndPolicy(problem.kept, problem.order);
  s.fit = problem.Evaluate(s.policy);
  s.outcome = Outcome::kUnconstrained;
  s.message = "the budget is at or above the kept exits' full cost " + Num(problem.MaxCost()) +
              ": every sample runs to the final exit";
  if (problem.kept.size() > 1) {
    ThresholdProblem full = problem;
    full.budget = problem.MaxCost();
    const ThresholdSummary m = SolveAtBudget(method, full, options);
    if (m.ok() && m.fit.mean_cost <= full.budget * (1 + kBudgetTolerance) &&
        m.fit.accuracy > s.fit.accuracy) {
      s.policy = m.policy;
      s.fit = m.fit;
      s.iterations = m.iterations;
      s.trace = m.trace;
      s.message = "the budget is at or above the kept exits' full cost " + Num(problem.MaxCost()) +
                  ": the method's answer there, more accurate on the fit "
                  "split than running every sample to the final exit (" +
                  m.message + ")";
    }
  }
  return s;
}

}  // namespace

bool IsUnconstrained(double budget, double full_cost) {
  return budget >= full_cost * (1.0 - kBudgetTolerance);
}

Policy RunToEndPolicy(const std::vector<int>& kept, ScoreOrder order) {
  Policy p;
  p.kept = kept;
  const double never = order == ScoreOrder::kDescending ? std::numeric_limits<double>::infinity()
                                                        : -std::numeric_limits<double>::infinity();
  p.thresholds.assign(kept.empty() ? 0 : kept.size() - 1, never);
  return p;
}

void LabelOverBudget(double budget, ThresholdSummary& s) {
  if (!s.has_policy() || s.outcome == Outcome::kOverBudget) return;
  if (!(s.fit.mean_cost > budget * (1.0 + kBudgetTolerance))) return;
  const std::string was = ToString(s.outcome);
  s.outcome = Outcome::kOverBudget;
  s.message = "fit cost " + Num(s.fit.mean_cost) + " exceeds the budget " + Num(budget) + " by " +
              Num(std::round((s.fit.mean_cost / budget - 1.0) * 1e4) / 100) +
              "% (the method said " + was + (s.message.empty() ? "" : ": " + s.message) + ")";
}

ThresholdSummary Solve(Method method, const ThresholdProblem& problem,
                       const SolverOptions& options) {
  if (const std::string err = problem.Check(); !err.empty()) throw InputError("problem", err);
  if (const std::string err = options.Validate(); !err.empty()) {
    throw InputError("solver options", err.substr(0, err.find('\n')));
  }
  const auto t0 = std::chrono::steady_clock::now();
  double lo = 0, hi = 1;
  ResolveBox(problem, options, &lo, &hi);
  if (!options.ippp.warm_start && !options.ippp.initial.empty()) {
    if (options.ippp.initial.size() + 1 != problem.kept.size()) {
      throw InputError("ippp initial thresholds",
                       "expected " + std::to_string(problem.kept.size() - 1) + " values, got " +
                           std::to_string(options.ippp.initial.size()));
    }
    if (const std::string err = CheckThresholdRange(options.ippp.initial, lo, hi); !err.empty()) {
      throw InputError("ippp initial thresholds", err);
    }
  }
  ThresholdSummary s;
  if (method == Method::kExact && !ExactLimitProblem(problem).empty()) {
    s = SolveExact(problem, options.exact, {});  // refuses at once, saying why
  } else if (options.guarantee.on() && !std::isnan(options.accuracy_drop)) {
    s = SolveWithGuarantee(method, problem, options);
  } else if (!std::isnan(options.accuracy_drop)) {
    s = SolveForAccuracy(method, problem, options);
  } else if (IsUnconstrained(problem.budget, problem.MaxCost())) {
    s = SolveUnconstrained(method, problem, options);
    if (options.guarantee.on()) {
      // No sample costs more than the kept exits' full cost: the bound holds surely.
      s.guarantee.level = options.guarantee.level;
      s.guarantee.horizon = options.guarantee.horizon;
      s.guarantee.bound = ToString(options.guarantee.bound);
      s.guarantee.cost_bound = problem.budget;
      s.message = "guarantee " + Num(options.guarantee.level) +
                  ": holds surely (no sample costs more than the budget); " + s.message;
    }
  } else if (const std::string err = BudgetProblem(problem); !err.empty()) {
    s.method = ToString(method);
    s.policy.kept = problem.kept;
    s.outcome = Outcome::kInfeasible;
    s.message = err;
  } else if (options.guarantee.on()) {
    s = SolveWithGuarantee(method, problem, options);
  } else {
    s = SolveWithMargin(method, problem, options);
    LabelOverBudget(problem.budget, s);
  }
  s.method = ToString(method);
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

}  // namespace exitplan
