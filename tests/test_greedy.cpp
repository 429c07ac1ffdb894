// Tests of dse/greedy: Scardapane et al. 2020 eq. 4 and eq. 5 by hand, the input-to-output scans on
// a hand-made dump, and forward/backward selection against brute force on small random dumps.
#include <catch2/catch.hpp>

#include "dse/exhaustive.hpp"
#include "dse/greedy.hpp"
#include "placement_test_util.hpp"
#include "profiles/error.hpp"

using namespace exitplan;
using exitplan::testing::BruteForceSolve;
using exitplan::testing::MakeSmallProblem;

TEST_CASE("Scardapane et al. 2020 eq. 4 and eq. 5 by hand") {
  double l = 0, r = 0;
  // (5 - 3)(1 - 0.4) = 1.2 vs 3 * 0.4 = 1.2: not strictly greater.
  CHECK_FALSE(EfficiencyCondition(3, 5, 1.0, 0.4, &l, &r));
  CHECK(l == Approx(1.2));
  CHECK(r == Approx(1.2));
  CHECK(EfficiencyCondition(3, 5, 1.0, 0.3, &l, &r));  // 1.4 > 0.9
  CHECK(l == Approx(1.4));
  CHECK(r == Approx(0.9));
  // (0.9 - 0.4) 4 - (1 - 0.4) 0.5 - (1 - 0.9) 2 = 2 - 0.3 - 0.2 = 1.5.
  CHECK(ThCondition(0.9, 0.4, 4, 0.5, 2, &l));
  CHECK(l == Approx(1.5));
  // cm = 0.9: 0 - 0.05 - 0.2 = -0.25.
  CHECK_FALSE(ThCondition(0.9, 0.9, 4, 0.5, 2, &l));
  CHECK(l == Approx(-0.25));
}

namespace {
struct Hand {
  ScoreMatrix sc{3, 4};
  CorrectMatrix co{3, 4};
  CostProfile prof;
  Hand() {
    sc << 0.9, 0.2, 0.8, 0.1,  //
        0.5, 0.9, 0.5, 0.95,   //
        1, 1, 1, 1;
    co << 1, 0, 0, 1,  //
        1, 0, 1, 1,    //
        1, 1, 1, 1;
    prof.backbone = {1, 3, 6};
    prof.head = {0.5, 0.25, 0.125};
    prof.names = {"a", "b", "c"};
    prof.source = "hand.yaml";
  }
  PlacementProblem problem() const {
    PlacementProblem p;
    p.scores = &sc;
    p.correct = &co;
    p.profile = &prof;
    return p;
  }
};
}  // namespace

TEST_CASE("greedy-th scan on a hand-made dump") {
  // T = 0.5. Exit 1 at position 1 allows 4 x 0.5 / 2 = 1 wrong: t = 0.8, samples 0 and 2 stop:
  // I = 1, I' = 0.5, cm = 0.5. TH 0.9: (0.4)(2) - (0.5)(0.5) - (0.1)(1) = 0.45 >= 0: kept.
  // Exit 2 at position 2 allows 0.5 wrong: t = 0.95; of samples 1, 3 only 3 stops: cm = 0.5;
  // (0.4)(3) - (0.5)(0.25) - (0.1)(2) = 0.875 >= 0: kept.
  Hand h;
  GreedyOptions o;
  o.rule = GreedyRule::kTh;
  o.tolerance = 0.5;
  o.th = 0.9;
  GreedySummary s = Greedy(h.problem(), o);
  REQUIRE(s.ok());
  CHECK(s.kept == std::vector<int>{0, 1, 2});
  CHECK(s.policy.thresholds == std::vector<double>{0.8, 0.95});
  REQUIRE(s.steps.size() == 2);
  CHECK(s.steps[0].lhs == Approx(0.45));
  CHECK(s.steps[1].lhs == Approx(0.875));
  CHECK(s.steps[1].i_reach == Approx(0.5));
  CHECK(s.steps[1].i_next == Approx(0.25));
  // TH 0.5: exit 1 gives (0)(2) - 0.25 - 0.5 = -0.75: dropped. Exit 2 is then at position 1 (1
  // wrong allowed): t = 0.5, every sample stops, cm = 0: (0.5)(3) - 0.25 - (0.5)(2) = 0.25: kept.
  o.th = 0.5;
  s = Greedy(h.problem(), o);
  CHECK(s.kept == std::vector<int>{1, 2});
  CHECK(s.policy.thresholds == std::vector<double>{0.5});
  CHECK(s.steps[0].lhs == Approx(-0.75));
  CHECK(s.steps[1].lhs == Approx(0.25));
}

TEST_CASE("greedy-efficiency scan on a hand-made dump") {
  // Exit 1: gamma_1 = 1 + 0.5 = 1.5, gamma_2 = 3 + 0.5 + 0.25 = 3.75, I = 1, I' = 0.5:
  // (2.25)(0.5) = 1.125 > 1.5 x 0.5 = 0.75: kept.
  // Exit 2 (t = 0.95, reach {1, 3}): gamma_2 = 3.75, gamma_3 = 6 + 0.5 + 0.25 + 0.125 = 6.875,
  // I = 0.5, I' = 0.25: (3.125)(0.25) = 0.78125 vs 3.75 x 0.25 = 0.9375: dropped.
  Hand h;
  GreedyOptions o;
  o.rule = GreedyRule::kEfficiency;
  o.tolerance = 0.5;
  const GreedySummary s = Greedy(h.problem(), o);
  CHECK(s.kept == std::vector<int>{0, 2});
  CHECK(s.policy.thresholds == std::vector<double>{0.8});
  REQUIRE(s.steps.size() == 2);
  CHECK(s.steps[0].lhs == Approx(1.125));
  CHECK(s.steps[0].rhs == Approx(0.75));
  CHECK(s.steps[1].lhs == Approx(0.78125));
  CHECK(s.steps[1].rhs == Approx(0.9375));
  // Fit figures are the exact evaluator's: samples 0, 2 stop at exit 1 (cost 1.5), 1, 3 run to
  // exit 3 (6 + 0.5 + 0.125 = 6.625): mean 4.0625; correct 1 + 0 + 1 + 1.
  CHECK(s.fit.mean_cost == Approx(4.0625));
  CHECK(s.fit.accuracy == Approx(0.75));
}

TEST_CASE("greedy forward and backward against brute force") {
  for (unsigned seed = 1; seed <= 4; ++seed) {
    const auto sp = MakeSmallProblem(4, 30, seed, 8);
    const PlacementProblem p = sp.problem();
    const double full = sp.profile.FullCost();
    const double budget = full * (0.55 + 0.1 * seed);
    GreedyOptions o;
    o.budget = budget;
    o.rule = GreedyRule::kForward;
    const GreedySummary f = Greedy(p, o, BruteForceSolve);
    o.rule = GreedyRule::kBackward;
    const GreedySummary b = Greedy(p, o, BruteForceSolve);
    INFO("seed " << seed);
    // Forward's first move is the best singleton (ties: lower cost, then the shallower exit).
    const ThresholdSummary base = BruteForceSolve(p.Thresholds({3}, budget));
    double best_acc = base.ok() ? base.fit.accuracy : -1;
    int best_exit = -1;
    double best_cost = 1e300;
    for (int j = 0; j < 3; ++j) {
      const ThresholdSummary t = BruteForceSolve(p.Thresholds({j, 3}, budget));
      if (!t.ok()) continue;
      if (best_exit < 0 || t.fit.accuracy > best_acc ||
          (t.fit.accuracy == best_acc && t.fit.mean_cost < best_cost)) {
        if (t.fit.accuracy > (base.ok() ? base.fit.accuracy : -1) || best_exit >= 0) {
          best_acc = t.fit.accuracy, best_cost = t.fit.mean_cost, best_exit = j;
        }
      }
    }
    if (best_exit >= 0 && best_acc > (base.ok() ? base.fit.accuracy : -1)) {
      REQUIRE_FALSE(f.steps.empty());
      CHECK(f.steps[0].exit == best_exit);
    }
    // Every accepted forward step strictly improves accuracy; backward never loses any.
    for (std::size_t q = 1; q < f.steps.size(); ++q) CHECK(f.steps[q].lhs > f.steps[q - 1].lhs);
    for (std::size_t q = 1; q < b.steps.size(); ++q) CHECK(b.steps[q].lhs >= b.steps[q - 1].lhs);
    // Neither beats the exhaustive optimum at this budget; both equal a re-solve of their set.
    ExhaustiveOptions eo;
    eo.budgets = {budget};
    const ExhaustiveSummary ex = Exhaustive(p, eo, BruteForceSolve);
    REQUIRE(ex.best_per_budget[0] >= 0);
    const double opt = ex.solutions[ex.best_per_budget[0]].summary.fit.accuracy;
    for (const GreedySummary* g : {&f, &b}) {
      if (!g->ok()) continue;
      CHECK(g->fit.accuracy <= opt);
      CHECK(g->fit.accuracy == BruteForceSolve(p.Thresholds(g->kept, budget)).fit.accuracy);
      CHECK(g->fit.mean_cost <= budget + 1e-12);
    }
  }
}

TEST_CASE("greedy rejects bad input") {
  Hand h;
  GreedyOptions o;
  o.rule = GreedyRule::kTh;
  o.tolerance = 1.0;
  CHECK_THROWS_WITH(Greedy(h.problem(), o), Catch::Contains("tolerance"));
  o.tolerance = 0.1;
  o.th = 1.5;
  CHECK_THROWS_WITH(Greedy(h.problem(), o), Catch::Contains("th = 1.5"));
  o.th = 0.9;
  CostProfile cum = h.prof;
  cum.has_heads = false;
  PlacementProblem p = h.problem();
  p.profile = &cum;
  CHECK_THROWS_WITH(Greedy(p, o), Catch::Contains("head costs"));
  o.rule = GreedyRule::kForward;
  o.budget = 0;
  CHECK_THROWS_WITH(Greedy(h.problem(), o, BruteForceSolve), Catch::Contains("budget"));
  o.budget = 3;
  CHECK_THROWS_WITH(Greedy(h.problem(), o), Catch::Contains("solver"));
}
