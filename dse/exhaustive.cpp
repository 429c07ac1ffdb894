#include "dse/exhaustive.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>
#include <sstream>

#include "dse/internal/path_solver.hpp"
#include "dse/pareto.hpp"
#include "profiles/error.hpp"
#include "profiles/parallel.hpp"

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
  if (polish_top < 0) s << "polish_top = " << polish_top << ": must be >= 0\n";
  if (lagrange_points < 2) s << "lagrange_points = " << lagrange_points << ": must be >= 2\n";
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
    << " reused, " << infeasible << " infeasible pairs";
  if (polished > 0) s << ", " << polished << " polished (" << polish_improved << " improved)";
  s << ", " << seconds << " s";
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

std::string ExhaustiveLimitError(int candidates, const ExhaustiveOptions& options) {
  if (candidates <= options.max_candidates) return "";
  return "the dump has " + std::to_string(candidates) +
         " candidate exits, more than the enumeration limit " +
         std::to_string(options.max_candidates) + " (2^" + std::to_string(candidates) +
         " subsets x budgets): use --method greedy-forward, greedy-backward or flop-score" +
         (candidates <= 30 ? " (or raise --max-candidates, at most 30)" : "");
}

ExhaustiveSummary Exhaustive(const PlacementProblem& problem, const ExhaustiveOptions& options,
                             const ThresholdSolverFn& solver, const WarmSolverFn& warm) {
  if (const std::string err = options.Validate(); !err.empty()) throw InputError("exhaustive", err);
  if (const std::string err = problem.Check(); !err.empty()) throw InputError("exhaustive", err);
  if (!solver) throw InputError("exhaustive", "needs a threshold solver");
  const int m = problem.candidates();
  if (const std::string err = ExhaustiveLimitError(m, options); !err.empty()) {
    throw InputError("exhaustive", err);
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

  std::optional<internal::PathShared> shared;
  if (options.exact_path) {
    shared = internal::PathShared::Prepare(*problem.scores, *problem.correct, problem.order);
  }
  std::vector<char> done(total, 0);  // solved (not pruned): a valid parent start

  auto solve_subset = [&](SubsetMask mask, Counters& c) {
    const std::vector<int> kept = KeptFromMask(mask, k);
    ThresholdProblem tp = problem.Thresholds(kept, options.budgets[border[0]]);
    const double min_cost = tp.MinCost();
    const ThresholdSummary* prev = nullptr;
    double prev_budget = -1.0;  // the (clamped) budget `prev` was solved at
    std::vector<int> prev_cuts;
    std::vector<SubsetSolution>& out = per[mask];
    out.reserve(border.size());
    std::optional<internal::PathSolver> path;
    // The parent: this subset without its deepest candidate, solved in an earlier layer.
    SubsetMask parent = 0;
    int top = -1;
    if (mask != 0) {
      top = 63 - std::countl_zero(mask);
      parent = mask & ~(SubsetMask{1} << top);
    }
    const bool has_parent = options.exact_path && mask != 0 && done[parent];
    // Lagrangian points of this subset, shared by all its budgets: a grid of lambda from cheap
    // (large lambda) to accurate (lambda = 0), each warm-started from the previous one.
    struct Hull {
      std::vector<int> cuts;
      std::int64_t right;
      double cost;
    };
    std::vector<Hull> hull;
    int hull_sweeps = 0;
    if (options.exact_path) {
      path.emplace(*shared, kept, tp.stop_cost);
      if (kept.size() > 1) {
        const double span = std::max(tp.MaxCost() - tp.MinCost(), 1e-300);
        std::vector<int> cuts(kept.size() - 1, n);  // everyone at the first exit
        for (int g = 0; g <= options.lagrange_points; ++g) {
          const double lam =
              g == options.lagrange_points
                  ? 0.0
                  : 100.0 * std::pow(1e-4, g / (options.lagrange_points - 1.0)) / span;
          Hull h{{}, 0, 0.0};
          cuts = path->Ascend(0.0, cuts, 8, &hull_sweeps, lam, &h.right, &h.cost);
          h.cuts = cuts;
          hull.push_back(std::move(h));
        }
      }
    }
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
      // With the path solver, the previous budget's answer is a coordinate-wise optimum there; if
      // it still fits, every move that fits the smaller budget fitted the larger one too, so it is
      // a coordinate-wise optimum here as well: the ascent from it would return it unchanged. (With
      // Lagrangian points: unless one that fits is more accurate.)
      const bool hull_better = std::any_of(hull.begin(), hull.end(), [&](const Hull& h) {
        return prev != nullptr && h.cost <= clamped &&
               h.right > std::llround(prev->fit.accuracy * n);
      });
      const bool fits =
          prev != nullptr && prev->fit.mean_cost <= clamped &&
          (prev->outcome == Outcome::kOptimal || (options.exact_path && !hull_better));
      tp.budget = clamped;
      if (options.reuse && (same || fits)) {
        sol.summary = *prev;
        sol.reused = true;
        ++c.reused;
      } else if (path) {
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::vector<int>> starts;
        if (!prev_cuts.empty() || kept.size() == 1) starts.push_back(prev_cuts);
        if (has_parent && prev_cuts.empty()) {
          for (const SubsetSolution& ps : per[parent]) {
            if (ps.budget != b) continue;
            std::vector<int> cuts;
            const std::vector<double>& t = ps.summary.policy.thresholds;
            for (std::size_t q = 0; q < t.size(); ++q) {
              int cnt = 0;
              for (int i = 0; i < n; ++i) {
                cnt += Passes((*problem.scores)(kept[q], i), t[q], problem.order) ? 1 : 0;
              }
              cuts.push_back(cnt);
            }
            cuts.push_back(0);  // the new exit passes nobody: the parent's policy
            starts.push_back(cuts);
          }
        }
        // The most accurate Lagrangian point that fits. (Also starting from the cheapest one that
        // does not fit cost 1.7x the time on fmnist-resnet8 for no gain after polishing.)
        const Hull* in = nullptr;
        for (const Hull& h : hull) {
          if (h.cost <= clamped && (!in || h.right > in->right)) in = &h;
        }
        if (in && std::find(starts.begin(), starts.end(), in->cuts) == starts.end()) {
          starts.push_back(in->cuts);
        }
        if (starts.empty()) starts.push_back(std::vector<int>(kept.size() - 1, 0));
        int sweeps = hull_sweeps;
        hull_sweeps = 0;  // counted once, on the subset's first solve
        std::vector<int> best;
        std::int64_t best_right = -1;
        double best_cost = 0;
        bool best_feas = false;
        for (const auto& st : starts) {
          std::int64_t right = 0;
          double cost = 0;
          const std::vector<int> cuts = path->Ascend(clamped, st, 50, &sweeps, -1.0, &right, &cost);
          const bool feas = cost <= clamped * (1 + 1e-12);
          const bool better = best_right < 0 || (feas != best_feas             ? feas
                                                 : feas && right != best_right ? right > best_right
                                                                               : cost < best_cost);
          if (better) best = cuts, best_right = right, best_cost = cost, best_feas = feas;
        }
        ThresholdSummary& r = sol.summary;
        r.method = "exact-path";
        r.policy.kept = kept;
        r.policy.thresholds = path->ThresholdsOf(best);
        r.fit = tp.Evaluate(r.policy);
        r.iterations = sweeps;
        if (r.fit.mean_cost <= clamped * (1 + 1e-12)) {
          r.outcome = Outcome::kConverged;
          r.message = std::to_string(starts.size()) + " start(s), " + std::to_string(sweeps) +
                      " coordinate sweeps";
        } else {
          r.outcome = Outcome::kInfeasible;
          r.message = "no start reached the budget";
        }
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        prev_cuts = best;
        ++c.solves;
        prev_budget = clamped;
      } else {
        sol.summary = options.reuse && warm && prev != nullptr ? warm(tp, prev->policy.thresholds)
                                                               : solver(tp);
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
    done[mask] = 1;
  };

  auto run_parallel = [&](const std::vector<SubsetMask>& masks,
                          const std::function<void(SubsetMask, Counters&)>& fn) {
    const int jobs = std::max(1, options.threads);
    std::vector<Counters> cs(ParallelThreads(masks.size(), jobs));
    ParallelFor(masks.size(), jobs, [&](std::size_t q, int id) {
      fn(masks[q], cs[id]);
      ProgressAdvance(options.progress);
      return !ProgressCancelled(options.progress);  // false: stop handing out subsets
    });
    ProgressRethrow(options.progress);
    Counters sum;
    for (const Counters& c : cs) {
      sum.solves += c.solves;
      sum.reused += c.reused;
      sum.infeasible += c.infeasible;
      sum.pruned += c.pruned;
    }
    return sum;
  };

  // Phase 1: the subsets with at most one candidate (their points are the pruning bound).
  std::vector<std::vector<SubsetMask>> layers(m + 1);
  for (SubsetMask mask = 0; mask < total; ++mask) layers[std::popcount(mask)].push_back(mask);
  ProgressPhase(options.progress, "exhaustive", "subsets", total);
  std::vector<SubsetMask> first = layers[0];
  if (m >= 1) first.insert(first.end(), layers[1].begin(), layers[1].end());
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
  auto phase2 = [&](SubsetMask mask, Counters& c) {
    if (options.prune && n > 0) {
      std::int64_t hit = 0;
      const int first_exit = std::countr_zero(mask);
      for (std::size_t q = 0; q < w; ++q) {
        std::uint64_t acc = cbits[(k - 1) * w + q];
        for (SubsetMask r = mask; r; r &= r - 1) acc |= cbits[std::countr_zero(r) * w + q];
        hit += std::popcount(acc);
      }
      const double ub = static_cast<double>(hit) / n;
      // Stop cost of the first kept exit: its backbone plus its own head (earlier heads are
      // absent).
      const double low = problem.profile->backbone[first_exit] + problem.profile->head[first_exit];
      for (const FrontPoint& p : pts) {
        if (p.accuracy >= ub && p.cost <= low && (p.accuracy > ub || p.cost < low)) {
          ++c.pruned;
          return;
        }
      }
    }
    solve_subset(mask, c);
  };
  // Phase 2: layer by layer (a subset's parent is in the previous layer), in parallel within one.
  Counters c2;
  for (int layer = 2; layer <= m; ++layer) {
    const Counters cl = run_parallel(layers[layer], phase2);
    c2.solves += cl.solves;
    c2.reused += cl.reused;
    c2.infeasible += cl.infeasible;
    c2.pruned += cl.pruned;
  }

  ExhaustiveSummary s;
  s.subsets = total;
  s.solves = c1.solves + c2.solves;
  s.reused = c1.reused + c2.reused;
  s.infeasible = c1.infeasible + c2.infeasible;
  s.pruned = c2.pruned;
  for (SubsetMask mask = 0; mask < total; ++mask) {
    for (SubsetSolution& sol : per[mask]) s.solutions.push_back(std::move(sol));
  }
  // Polish: re-solve the best `polish_top` subsets of every budget with the full solver and keep
  // the better answer (the fast path is a coordinate-ascent heuristic).
  if (options.polish_top > 0 && !s.solutions.empty()) {
    std::vector<std::size_t> tasks;
    for (double b : options.budgets) {
      std::vector<std::size_t> idx;
      for (std::size_t q = 0; q < s.solutions.size(); ++q) {
        if (s.solutions[q].budget == b) idx.push_back(q);
      }
      std::stable_sort(idx.begin(), idx.end(), [&](std::size_t x, std::size_t y) {
        const Evaluation& a = s.solutions[x].summary.fit;
        const Evaluation& c = s.solutions[y].summary.fit;
        if (a.accuracy != c.accuracy) return a.accuracy > c.accuracy;
        return a.mean_cost < c.mean_cost;
      });
      for (std::size_t r = 0; r < idx.size() && r < static_cast<std::size_t>(options.polish_top);
           ++r) {
        if (std::find(tasks.begin(), tasks.end(), idx[r]) == tasks.end()) tasks.push_back(idx[r]);
      }
    }
    std::atomic<std::uint64_t> improved{0};
    ProgressPhase(options.progress, "polish", "solves", tasks.size());
    ParallelFor(tasks.size(), std::max(1, options.threads), [&](std::size_t t) {
      SubsetSolution& sol = s.solutions[tasks[t]];
      const ThresholdSummary cold = solver(problem.Thresholds(sol.summary.policy.kept, sol.budget));
      ProgressAdvance(options.progress);
      if (ProgressCancelled(options.progress)) return false;  // stop handing out solves
      if (!cold.ok()) return true;
      const Evaluation& a = cold.fit;
      const Evaluation& c = sol.summary.fit;
      if (a.accuracy > c.accuracy || (a.accuracy == c.accuracy && a.mean_cost < c.mean_cost)) {
        const std::vector<int> kept = sol.summary.policy.kept;
        sol.summary = cold;
        sol.summary.policy.kept = kept;
        sol.summary.message = "polished by " + cold.method + "; " + cold.message;
        sol.reused = false;
        ++improved;
      }
      return true;
    });
    ProgressRethrow(options.progress);
    s.polished = tasks.size();
    s.polish_improved = improved;
    s.solves += tasks.size();
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
