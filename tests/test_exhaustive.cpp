// Tests of dse/exhaustive: against solving every (subset, budget) pair directly, pruning and reuse
// leave the front unchanged, and the thread count changes nothing.
#include <atomic>
#include <catch2/catch.hpp>
#include <set>

#include "dse/exhaustive.hpp"
#include "dse/pareto.hpp"
#include "placement_test_util.hpp"
#include "profiles/error.hpp"

using namespace exitplan;
using exitplan::testing::BruteForceSolve;
using exitplan::testing::MakeSmallProblem;

TEST_CASE("oracle accuracy by hand") {
  CorrectMatrix c(3, 4);
  c << 1, 0, 0, 0,  //
      0, 1, 0, 0,   //
      0, 1, 0, 1;
  CHECK(OracleAccuracy(c, {2}) == 0.5);
  CHECK(OracleAccuracy(c, {0, 2}) == 0.75);
  CHECK(OracleAccuracy(c, {0, 1, 2}) == 0.75);
}

namespace {
std::set<std::pair<double, double>> Front(const ExhaustiveSummary& s) {
  std::set<std::pair<double, double>> f;
  for (const auto& sol : s.solutions) {
    if (sol.pareto) f.insert({sol.summary.fit.mean_cost, sol.summary.fit.accuracy});
  }
  return f;
}
}  // namespace

TEST_CASE("exhaustive equals direct solves; pruning, reuse and threads change nothing") {
  for (unsigned seed = 1; seed <= 3; ++seed) {
    const auto sp = MakeSmallProblem(4, 25, 10 + seed, 6);
    const PlacementProblem p = sp.problem();
    const double full = sp.profile.FullCost();
    ExhaustiveOptions o;
    for (int q = 0; q < 8; ++q) o.budgets.push_back(full * (0.3 + 0.1 * q));
    o.threads = 2;
    const ExhaustiveSummary a = Exhaustive(p, o, BruteForceSolve);
    o.prune = false;
    o.reuse = false;
    o.threads = 1;
    const ExhaustiveSummary plain = Exhaustive(p, o, BruteForceSolve);
    INFO("seed " << seed);
    REQUIRE(a.ok());
    CHECK(plain.pruned == 0);
    CHECK(plain.reused == 0);
    CHECK(Front(a) == Front(plain));
    // Direct: the best accuracy per budget over every subset.
    for (std::size_t bi = 0; bi < o.budgets.size(); ++bi) {
      double best = -1;
      for (SubsetMask m = 0; m < 8; ++m) {
        const ThresholdSummary t = BruteForceSolve(p.Thresholds(KeptFromMask(m, 4), o.budgets[bi]));
        if (t.ok()) best = std::max(best, t.fit.accuracy);
      }
      if (best < 0) {
        CHECK(a.best_per_budget[bi] == -1);
      } else {
        REQUIRE(a.best_per_budget[bi] >= 0);
        CHECK(a.solutions[a.best_per_budget[bi]].summary.fit.accuracy == best);
      }
    }
    // Reused answers equal fresh solves in accuracy (the solver proved optimality).
    for (const auto& sol : a.solutions) {
      if (!sol.reused) continue;
      const ThresholdSummary t =
          BruteForceSolve(p.Thresholds(KeptFromMask(sol.mask, 4), sol.budget));
      CHECK(t.fit.accuracy == sol.summary.fit.accuracy);
    }
    // Thread count: identical solutions.
    o.prune = true;
    o.reuse = true;
    o.threads = 1;
    const ExhaustiveSummary one = Exhaustive(p, o, BruteForceSolve);
    REQUIRE(one.solutions.size() == a.solutions.size());
    for (std::size_t q = 0; q < a.solutions.size(); ++q) {
      CHECK(one.solutions[q].mask == a.solutions[q].mask);
      CHECK(one.solutions[q].budget == a.solutions[q].budget);
      CHECK(one.solutions[q].summary.policy.thresholds == a.solutions[q].summary.policy.thresholds);
    }
    CHECK(one.pruned == a.pruned);
  }
}

TEST_CASE("pruning skips provably dominated subsets") {
  // K = 4. The candidates are always wrong and their heads expensive; the final is right on half.
  // Phase 1 solves {4} (cost 4, accuracy 0.5) and the singletons. Every subset with two or more
  // candidates has oracle accuracy 0.5 (the final's) and cheapest cost >= 1 + 5 > 4: all 4 are
  // pruned.
  ScoreMatrix sc(4, 4);
  CorrectMatrix co(4, 4);
  sc << 0.1, 0.2, 0.3, 0.4,  //
      0.5, 0.6, 0.7, 0.8,    //
      0.2, 0.4, 0.6, 0.8,    //
      1, 1, 1, 1;
  co << 0, 0, 0, 0,  //
      0, 0, 0, 0,    //
      0, 0, 0, 0,    //
      1, 1, 0, 0;
  CostProfile prof;
  prof.backbone = {1, 2, 3, 4};
  prof.head = {5, 5, 5, 0};
  PlacementProblem p;
  p.scores = &sc;
  p.correct = &co;
  p.profile = &prof;
  ExhaustiveOptions o;
  o.budgets = {20, 10, 4};
  const ExhaustiveSummary s = Exhaustive(p, o, BruteForceSolve);
  CHECK(s.subsets == 8);
  CHECK(s.pruned == 4);
  for (const auto& sol : s.solutions) {
    CHECK(sol.mask != 0b011);
    CHECK(sol.mask != 0b101);
    CHECK(sol.mask != 0b110);
    CHECK(sol.mask != 0b111);
  }
  // The front is {4} alone at cost 4, accuracy 0.5, once per budget.
  int on_front = 0;
  for (const auto& sol : s.solutions) {
    if (!sol.pareto) continue;
    ++on_front;
    CHECK(sol.mask == 0);
    CHECK(sol.summary.fit.mean_cost == 4.0);
  }
  CHECK(on_front == 3);
  // Without pruning the front is the same and the 4 subsets are solved (and dominated).
  o.prune = false;
  const ExhaustiveSummary all = Exhaustive(p, o, BruteForceSolve);
  CHECK(all.pruned == 0);
  CHECK(all.solutions.size() > s.solutions.size());
  CHECK(Front(all) == Front(s));
}

TEST_CASE("exhaustive rejects bad input") {
  const auto sp = MakeSmallProblem(5, 20, 1);
  const PlacementProblem p = sp.problem();
  ExhaustiveOptions o;
  CHECK_THROWS_WITH(Exhaustive(p, o, BruteForceSolve), Catch::Contains("at least one budget"));
  o.budgets = {-1};
  CHECK_THROWS_WITH(Exhaustive(p, o, BruteForceSolve), Catch::Contains("budget = -1"));
  o.budgets = {5};
  o.max_candidates = 3;
  CHECK_THROWS_WITH(Exhaustive(p, o, BruteForceSolve), Catch::Contains("greedy-forward"));
  o.max_candidates = 16;
  CHECK_THROWS_WITH(Exhaustive(p, o, ThresholdSolverFn{}), Catch::Contains("solver"));
  // An infeasible budget is an outcome, not an exception.
  o.budgets = {1e-9};
  const ExhaustiveSummary s = Exhaustive(p, o, BruteForceSolve);
  CHECK(s.outcome == Outcome::kInfeasible);
  CHECK(s.infeasible == 16);
}

TEST_CASE("the exact fast path meets every budget and stays close to brute force") {
  for (unsigned seed = 1; seed <= 3; ++seed) {
    const auto sp = MakeSmallProblem(4, 40, 30 + seed, 8);
    const PlacementProblem p = sp.problem();
    const double full = sp.profile.FullCost();
    ExhaustiveOptions o;
    for (int q = 0; q < 10; ++q) o.budgets.push_back(full * (0.25 + 0.08 * q));
    o.exact_path = true;
    o.threads = 2;
    const ExhaustiveSummary a = Exhaustive(p, o, BruteForceSolve);
    o.prune = false;
    o.exact_path = false;
    const ExhaustiveSummary brute = Exhaustive(p, o, BruteForceSolve);
    INFO("seed " << seed);
    REQUIRE(a.ok());
    double gap = 0;
    int compared = 0;
    for (const auto& sol : a.solutions) {
      // Feasible as the evaluator computes it, and never above the optimum of its own subset.
      const Evaluation ev = p.EvaluateFit(sol.summary.policy);
      CHECK(ev.accuracy == sol.summary.fit.accuracy);
      CHECK(ev.mean_cost <=
            std::min(sol.budget, p.Thresholds(sol.summary.policy.kept, sol.budget).MaxCost()) *
                (1 + 1e-12));
      for (const auto& b : brute.solutions) {
        if (b.mask == sol.mask && b.budget == sol.budget) {
          CHECK(sol.summary.fit.accuracy <= b.summary.fit.accuracy);
          gap += b.summary.fit.accuracy - sol.summary.fit.accuracy;
          ++compared;
        }
      }
    }
    REQUIRE(compared > 0);
    CHECK(gap / compared < 0.02);  // coordinate ascent: within 2 points of the optimum on average
    // Polishing the best subset of each budget with the (here exact) solver reaches its optimum.
    o.prune = true;
    o.exact_path = true;
    o.polish_top = 1;
    const ExhaustiveSummary pol = Exhaustive(p, o, BruteForceSolve);
    CHECK(pol.polished > 0);
    for (std::size_t bi = 0; bi < o.budgets.size(); ++bi) {
      if (a.best_per_budget[bi] < 0) continue;
      REQUIRE(pol.best_per_budget[bi] >= 0);
      const SubsetSolution& best = pol.solutions[pol.best_per_budget[bi]];
      CHECK(best.summary.fit.accuracy >= a.solutions[a.best_per_budget[bi]].summary.fit.accuracy);
      CHECK(best.summary.fit.accuracy ==
            BruteForceSolve(p.Thresholds(best.summary.policy.kept, best.budget)).fit.accuracy);
    }
    o.polish_top = 0;
    // The thread count changes nothing.
    o.threads = 1;
    const ExhaustiveSummary one = Exhaustive(p, o, BruteForceSolve);
    REQUIRE(one.solutions.size() == a.solutions.size());
    for (std::size_t q = 0; q < a.solutions.size(); ++q) {
      CHECK(one.solutions[q].summary.policy.thresholds == a.solutions[q].summary.policy.thresholds);
    }
  }
}

// The solver place and sweeps use by default: exact, no warm starts, no fast path. (Warm starts
// across budgets, part of `--fast`, fail this: a warm-started solve can end below the cold one.)
TEST_CASE("exhaustive is never below any fixed kept set at the same budget") {
  for (unsigned seed = 1; seed <= 4; ++seed) {
    const auto sp = MakeSmallProblem(5, 40, 40 + seed, 8);
    const PlacementProblem p = sp.problem();
    const double full = sp.profile.FullCost();
    ExhaustiveOptions o;
    for (double f : {0.25, 0.35, 0.5, 0.65, 0.8, 0.95, 1.0, 1.3}) o.budgets.push_back(f * full);
    const ThresholdSolverFn exact = SolverFor(Method::kExact);
    const ExhaustiveSummary s = Exhaustive(p, o, exact);
    const ExhaustiveSummary brute = Exhaustive(p, o, BruteForceSolve);
    REQUIRE(s.ok());
    for (std::size_t bi = 0; bi < o.budgets.size(); ++bi) {
      INFO("seed " << seed << " budget " << o.budgets[bi] << " (full " << full << ")");
      const int q = s.best_per_budget[bi];
      // Every kept set (all exits included), solved alone by the same solver and by brute force.
      for (SubsetMask m = 0; m < (SubsetMask{1} << 4); ++m) {
        const ThresholdProblem t = p.Thresholds(KeptFromMask(m, 5), o.budgets[bi]);
        const ThresholdSummary alone = exact(t);
        if (!alone.ok()) continue;
        REQUIRE(q >= 0);
        INFO("kept " << KeptText(KeptFromMask(m, 5)));
        CHECK(s.solutions[q].summary.fit.accuracy >= alone.fit.accuracy);
        CHECK(s.solutions[q].summary.fit.mean_cost <= o.budgets[bi] * (1 + 1e-9));
        // Brute-force exhaustive: never below the brute-force optimum of any fixed set.
        const int bq = brute.best_per_budget[bi];
        REQUIRE(bq >= 0);
        CHECK(brute.solutions[bq].summary.fit.accuracy >= BruteForceSolve(t).fit.accuracy);
      }
      // At or above the full cost: never below running every sample to the final exit.
      if (o.budgets[bi] >= full) {
        const Evaluation run = p.EvaluateFit(RunToEndPolicy(AllExits(5), p.order));
        CHECK(s.solutions[q].summary.fit.accuracy >= run.accuracy);
        CHECK(s.solutions[q].summary.outcome == Outcome::kUnconstrained);
      }
    }
  }
}

TEST_CASE("exhaustive hands a worker's exception to the caller") {
  const auto sp = exitplan::testing::MakeSmallProblem(4, 25, 3, 6);
  const PlacementProblem p = sp.problem();
  const double full = sp.profile.FullCost();
  ExhaustiveOptions o;
  o.budgets = {0.5 * full, 0.8 * full};
  o.threads = 2;
  o.prune = false;
  std::atomic<int> calls{0};
  const ThresholdSolverFn failing = [&](const ThresholdProblem& tp) -> ThresholdSummary {
    if (++calls == 3) throw InputError("solver", "worker failed");
    return exitplan::testing::BruteForceSolve(tp);
  };
  CHECK_THROWS_WITH(Exhaustive(p, o, failing), "solver: worker failed");
  // The polish phase too (its own pool): the search succeeds, the polishing solver throws.
  o.polish_top = 2;
  const ExhaustiveSummary ok = Exhaustive(p, o, exitplan::testing::BruteForceSolve);
  REQUIRE(ok.polished > 0);
  const int search_calls = static_cast<int>(ok.solves - ok.polished);
  calls = 0;
  const ThresholdSolverFn fails_late = [&](const ThresholdProblem& tp) -> ThresholdSummary {
    if (++calls > search_calls) throw InputError("solver", "polish failed");
    return exitplan::testing::BruteForceSolve(tp);
  };
  CHECK_THROWS_WITH(Exhaustive(p, o, fails_late), "solver: polish failed");
}
