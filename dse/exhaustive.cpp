#include "dse/exhaustive.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <numeric>
#include <sstream>
#include <thread>

#include "dse/pareto.hpp"
#include "profiles/error.hpp"

namespace exitplan {

std::string ExhaustiveOptions::Validate() const {
  std::ostringstream s;
  if (budgets.empty()) s << "budgets: at least one budget is needed\n";
  for (double b : budgets) {
    if (!(std::isfinite(b) && b > 0.0)) {
      s << "budget = " << b << ": must be finite and > 0\n";
      break;
    }
  }
  if (threads < 1) s << "threads = " << threads << ": must be >= 1\n";
  if (max_candidates < 1 || max_candidates > 30) {
    s << "max_candidates = " << max_candidates << ": must be in 1..30\n";
  }
  std::string out = s.str();
  if (!out.empty()) out.pop_back();
  return out;
}

std::string ExhaustiveSummary::BriefReport() const {
  std::ostringstream s;
  s << "exhaustive: " << ToString(outcome) << ", " << subsets << " subsets (" << pruned
    << " pruned), " << solutions.size() << " solutions, " << solves << " solves, " << reused
    << " reused, " << infeasible << " infeasible pairs, " << seconds << " s";
  if (!message.empty()) s << " (" << message << ")";
  return s.str();
}

double OracleAccuracy(const CorrectMatrix& correct, const std::vector<int>& kept) {
  const int n = static_cast<int>(correct.cols());
  if (n == 0) return 0.0;
  std::int64_t hit = 0;
  for (int i = 0; i < n; ++i) {
    for (int e : kept) {
      if (correct(e, i)) {
        ++hit;
        break;
      }
    }
  }
  return static_cast<double>(hit) / n;
}

ExhaustiveSummary Exhaustive(const PlacementProblem& problem, const ExhaustiveOptions& options,
                             const ThresholdSolverFn& solver) {
  if (const std::string err = options.Validate(); !err.empty()) throw InputError("exhaustive", err);
  if (const std::string err = problem.Check(); !err.empty()) throw InputError("exhaustive", err);
  if (!solver) throw InputError("exhaustive", "needs a threshold solver");
  const int m = problem.candidates();
  if (m > options.max_candidates) {
    throw InputError("exhaustive", "the dump has " + std::to_string(m) +
                                       " candidate exits, more than the enumeration limit " +
                                       std::to_string(options.max_candidates) + " (2^" +
                                       std::to_string(m) +
                                       " subsets x budgets): use --method greedy-forward, "
                                       "greedy-backward or flop-score (or raise --max-candidates)");
  }
  const auto t0 = std::chrono::steady_clock::now();
  const int k = problem.k();
  const int n = problem.n();
  const std::uint64_t total = std::uint64_t{1} << m;

  // Budgets from the largest down (reuse), remembering their order in the options.
  std::vector<int> border(options.budgets.size());
  std::iota(border.begin(), border.end(), 0);
  std::stable_sort(border.begin(), border.end(),
                   [&](int a, int b) { return options.budgets[a] > options.budgets[b]; });

  // Correctness bitsets per exit, for the oracle bound.
  const std::size_t w = (static_cast<std::size_t>(n) + 63) / 64;
  std::vector<std::uint64_t> cbits(static_cast<std::size_t>(k) * w, 0);
  for (int e = 0; e < k; ++e) {
    for (int i = 0; i < n; ++i) {
      if ((*problem.correct)(e, i)) cbits[e * w + (i >> 6)] |= std::uint64_t{1} << (i & 63);
    }
  }

  struct Counters {
    std::uint64_t solves = 0, reused = 0, infeasible = 0, pruned = 0;
  };
  std::vector<std::vector<SubsetSolution>> per(total);

  auto solve_subset = [&](SubsetMask mask, Counters& c) {
    const std::vector<int> kept = KeptFromMask(mask, k);
    ThresholdProblem tp = problem.Thresholds(kept, options.budgets[border[0]]);
    const double min_cost = tp.MinCost();
    const ThresholdSummary* prev = nullptr;
    double prev_budget = -1.0;  // the (clamped) budget `prev` was solved at
    std::vector<SubsetSolution>& out = per[mask];
    out.reserve(border.size());
    for (int bi : border) {
      const double b = options.budgets[bi];
      if (b < min_cost) {
        ++c.infeasible;
        continue;
      }
      const double clamped = std::min(b, tp.MaxCost());
      SubsetSolution sol;
      sol.mask = mask;
      sol.budget = b;
      // Same problem as the previous budget (both at or above the set's full cost), or a proven
      // optimum that still fits.
      const bool same = prev != nullptr && clamped == prev_budget;
      const bool fits = prev != nullptr && prev->outcome == Outcome::kOptimal &&
                        prev->fit.mean_cost <= clamped;
      if (options.reuse && (same || fits)) {
        sol.summary = *prev;
        sol.reused = true;
        ++c.reused;
      } else {
        tp.budget = clamped;
        sol.summary = solver(tp);
        ++c.solves;
        prev_budget = clamped;
      }
      if (!sol.summary.ok()) {
        if (sol.summary.outcome == Outcome::kInfeasible) ++c.infeasible;
        prev = nullptr;
        continue;
      }
      sol.summary.policy.kept = kept;
      out.push_back(std::move(sol));
      prev = &out.back().summary;
    }
  };

  auto run_parallel = [&](const std::vector<SubsetMask>& masks,
                          const std::function<void(SubsetMask, Counters&)>& fn) {
    std::atomic<std::size_t> next{0};
    const int threads = std::max(1, std::min<int>(options.threads, static_cast<int>(masks.size())));
    std::vector<Counters> cs(threads);
    auto worker = [&](int id) {
      for (;;) {
        const std::size_t q = next.fetch_add(1);
        if (q >= masks.size()) break;
        fn(masks[q], cs[id]);
      }
    };
    std::vector<std::thread> pool;
    for (int id = 1; id < threads; ++id) pool.emplace_back(worker, id);
    worker(0);
    for (auto& th : pool) th.join();
    Counters sum;
    for (const Counters& c : cs) {
      sum.solves += c.solves;
      sum.reused += c.reused;
      sum.infeasible += c.infeasible;
      sum.pruned += c.pruned;
    }
    return sum;
  };

  // Phase 1: subsets with at most one candidate, and the full set.
  std::vector<SubsetMask> first, rest;
  for (SubsetMask mask = 0; mask < total; ++mask) {
    if (std::popcount(mask) <= 1 || mask == total - 1) {
      first.push_back(mask);
    } else {
      rest.push_back(mask);
    }
  }
  Counters c1 = run_parallel(first, solve_subset);
  std::vector<FrontPoint> pts;
  for (SubsetMask mask : first) {
    for (const SubsetSolution& s : per[mask]) {
      pts.push_back({s.summary.fit.mean_cost, s.summary.fit.accuracy});
    }
  }
  // Keep only the phase-1 front: a point dominated by another one prunes nothing more.
  {
    const std::vector<bool> mask = ParetoMask(pts);
    std::vector<FrontPoint> front;
    for (std::size_t q = 0; q < pts.size(); ++q) {
      if (mask[q]) front.push_back(pts[q]);
    }
    pts.swap(front);
  }
  const std::vector<double> stop_all = problem.profile->StopCostsAllKept();
  auto phase2 = [&](SubsetMask mask, Counters& c) {
    if (options.prune && n > 0) {
      std::int64_t hit = 0;
      const int first_exit = mask == 0 ? k - 1 : std::countr_zero(mask);
      for (std::size_t q = 0; q < w; ++q) {
        std::uint64_t acc = cbits[(k - 1) * w + q];
        for (SubsetMask r = mask; r; r &= r - 1) acc |= cbits[std::countr_zero(r) * w + q];
        hit += std::popcount(acc);
      }
      const double ub = static_cast<double>(hit) / n;
      // Stop cost of the first kept exit: its backbone plus its own head (earlier heads are absent).
      const double low = problem.profile->StopCosts(KeptFromMask(mask, k))[first_exit];
      (void)stop_all;
      for (const FrontPoint& p : pts) {
        if (p.accuracy >= ub && p.cost <= low && (p.accuracy > ub || p.cost < low)) {
          ++c.pruned;
          return;
        }
      }
    }
    solve_subset(mask, c);
  };
  Counters c2 = run_parallel(rest, phase2);

  ExhaustiveSummary s;
  s.subsets = total;
  s.solves = c1.solves + c2.solves;
  s.reused = c1.reused + c2.reused;
  s.infeasible = c1.infeasible + c2.infeasible;
  s.pruned = c2.pruned;
  for (SubsetMask mask = 0; mask < total; ++mask) {
    for (SubsetSolution& sol : per[mask]) s.solutions.push_back(std::move(sol));
  }
  std::vector<FrontPoint> all;
  for (const SubsetSolution& sol : s.solutions) {
    all.push_back({sol.summary.fit.mean_cost, sol.summary.fit.accuracy});
  }
  const std::vector<bool> front = ParetoMask(all);
  for (std::size_t q = 0; q < s.solutions.size(); ++q) s.solutions[q].pareto = front[q];
  s.best_per_budget.assign(options.budgets.size(), -1);
  for (std::size_t q = 0; q < s.solutions.size(); ++q) {
    const SubsetSolution& sol = s.solutions[q];
    for (std::size_t bi = 0; bi < options.budgets.size(); ++bi) {
      if (options.budgets[bi] != sol.budget) continue;
      int& best = s.best_per_budget[bi];
      if (best < 0) {
        best = static_cast<int>(q);
        continue;
      }
      const SubsetSolution& b = s.solutions[best];
      const double a1 = sol.summary.fit.accuracy, a2 = b.summary.fit.accuracy;
      const double k1 = sol.summary.fit.mean_cost, k2 = b.summary.fit.mean_cost;
      if (a1 > a2 || (a1 == a2 && k1 < k2)) best = static_cast<int>(q);  // mask order breaks ties
    }
  }
  s.outcome = s.solutions.empty() ? Outcome::kInfeasible : Outcome::kConverged;
  s.message = s.solutions.empty() ? "no subset meets any budget" : "";
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

}  // namespace exitplan
