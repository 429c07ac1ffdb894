// Tests of dse/placement: the cost model of kept sets, masks, the evenly spaced placement and the
// head-cost check.
#include <catch2/catch.hpp>

#include "dse/placement.hpp"
#include "placement_test_util.hpp"
#include "profiles/error.hpp"

using namespace exitplan;

TEST_CASE("dropping an exit removes its head cost") {
  // backbone 1, 3, 6; heads 0.5, 0.25, 0.125.
  CostProfile prof;
  prof.backbone = {1, 3, 6};
  prof.head = {0.5, 0.25, 0.125};
  const auto all = prof.StopCosts({0, 1, 2});
  CHECK(all == std::vector<double>{1.5, 3.75, 6.875});
  const auto no1 = prof.StopCosts({1, 2});
  CHECK(no1[1] == 3.25);   // 3 + 0.25: exit 1's head is gone
  CHECK(no1[2] == 6.375);  // 6 + 0.25 + 0.125
  const auto no2 = prof.StopCosts({0, 2});
  CHECK(no2[2] == 6.625);  // 6 + 0.5 + 0.125

  // Through a placement problem: every sample runs to exit 3, so the mean cost is the stop cost.
  ScoreMatrix sc(3, 2);
  sc.setZero();
  CorrectMatrix co(3, 2);
  co.setOnes();
  PlacementProblem p;
  p.scores = &sc;
  p.correct = &co;
  p.profile = &prof;
  REQUIRE(p.Check().empty());
  Policy keep_all{{0, 1, 2}, {1.0, 1.0}};
  Policy drop_first{{1, 2}, {1.0}};
  CHECK(p.EvaluateFit(keep_all).mean_cost == 6.875);
  CHECK(p.EvaluateFit(drop_first).mean_cost == 6.375);
  CHECK(p.Thresholds({1, 2}, 5.0).MaxCost() == 6.375);
  CHECK(p.Thresholds({1, 2}, 5.0).MinCost() == 3.25);
}

TEST_CASE("masks and kept sets") {
  CHECK(KeptFromMask(0, 5) == std::vector<int>{4});
  CHECK(KeptFromMask(0b1010, 5) == std::vector<int>{1, 3, 4});
  CHECK(MaskFromKept({1, 3, 4}, 5) == 0b1010);
  CHECK(KeptText({1, 3, 4}) == "2;4;5");
}

TEST_CASE("evenly spaced placement by backbone cost") {
  // fmnist-resnet8's FLOPs backbone (MFLOPs): 3 exits at 1/4, 2/4, 3/4 of 55.31 -> b2, b4, b6.
  CostProfile prof;
  prof.backbone = {7.577, 14.890, 22.203, 27.879, 35.148, 42.418, 48.065, 55.313, 55.313};
  prof.head.assign(9, 0.03);
  CHECK(EvenlySpacedExits(prof, 3) == std::vector<int>{1, 3, 5, 8});
  // Two exits at 1/3 and 2/3 (18.44, 36.88): b2 (14.89 is 3.55 away, 22.20 is 3.76) and b5.
  CHECK(EvenlySpacedExits(prof, 2) == std::vector<int>{1, 4, 8});
  CHECK(EvenlySpacedExits(prof, 0) == std::vector<int>{8});
  CHECK(EvenlySpacedExits(prof, 20).size() == 9);
}

TEST_CASE("head-cost check and method names") {
  CostProfile prof;
  prof.source = "p.yaml";
  prof.has_heads = false;
  CHECK_THAT(CheckHeadCosts(prof, "flop-score"),
             Catch::Contains("p.yaml") && Catch::Contains("head costs"));
  prof.has_heads = true;
  CHECK(CheckHeadCosts(prof, "flop-score").empty());
  for (const std::string& name : PlacementMethodNames()) {
    CHECK(ToString(PlacementMethodFromString(name)) == name);
  }
  CHECK_THROWS_WITH(PlacementMethodFromString("nope"), Catch::Contains("flop-score"));
}

TEST_CASE("MakeRow measures the eval split") {
  const auto sp = exitplan::testing::MakeSmallProblem(4, 30, 2);
  const PlacementProblem p = sp.problem();
  Policy pol{{1, 3}, {0.7}};
  const Evaluation fit = p.EvaluateFit(pol);
  const ResultRow r = MakeRow(p, "x", pol, fit, 3.0, 0.5, "optimal", "");
  CHECK(r.fit_acc == fit.accuracy);
  CHECK(r.eval_acc == p.EvaluateEval(pol).accuracy);
  CHECK(r.kept_exits == pol.kept);
  CHECK(r.unit == "flops");
}
