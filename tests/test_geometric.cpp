#include <catch2/catch.hpp>

#include "bench/aaai21_data.hpp"
#include "optim/geometric.hpp"
#include "optim/solve.hpp"
#include "problem_fixture.hpp"
#include "test_util.hpp"

using namespace exitplan;

namespace {
// A tiny hand-made problem: 3 exits, 6 samples, descending scores.
struct Tiny : testing::OwnedProblem {
  Tiny(ScoreOrder order = ScoreOrder::kDescending) : OwnedProblem(3, 6, order) {
    s << 0.9, 0.8, 0.7, 0.6, 0.5, 0.4,    //
        0.95, 0.1, 0.85, 0.2, 0.75, 0.3,  //
        0, 0, 0, 0, 0, 0;
    c << 1, 1, 0, 1, 0, 0,  //
        1, 0, 1, 1, 1, 0,   //
        1, 1, 1, 1, 1, 1;
    if (order == ScoreOrder::kAscending) s = -s;
    p.kept = {0, 1, 2};
    p.stop_cost = {1.0, 2.0, 4.0};
  }
};
}  // namespace

TEST_CASE("geometric fractions follow r^k and sum to one") {
  const auto q = GeometricFractions(0.5, 3);
  CHECK(q[0] == Approx(4.0 / 7));
  CHECK(q[1] == Approx(2.0 / 7));
  CHECK(q[2] == Approx(1.0 / 7));
  const auto big = GeometricFractions(2.0, 3);  // r > 1 puts mass on later exits
  CHECK(big[2] == Approx(4.0 / 7));
  CHECK(GeometricFractions(0.0, 4)[0] == 1.0);
}

TEST_CASE("geometric solves r exactly and applies cascade quotas") {
  for (ScoreOrder order : {ScoreOrder::kDescending, ScoreOrder::kAscending}) {
    Tiny t(order);
    // Budget 2: q = (4/7, 2/7, 1/7) gives cost (4 + 4 + 4)/7 = 12/7; solve r with
    // (1 + 2r + 4r^2)/(1 + r + r^2) = 2 -> 2r^2 = 1 -> r = 1/sqrt(2).
    t.p.budget = 2.0;
    ThresholdSummary s = SolveGeometric(t.p, {});
    REQUIRE(s.ok());
    const double r = 1 / std::sqrt(2.0);
    const double z = 1 + r + r * r;
    CHECK(s.trace[0] == Approx(1 / z).epsilon(1e-12));
    // Cumulative quotas rounded up: ceil(6 / z) = ceil(2.93) = 3 stop at exit 1,
    // ceil(6 (1 + r) / z) = ceil(4.64) = 5 by exit 2.
    CHECK(s.fit.exit_count[0] == 3);
    CHECK(s.fit.exit_count[1] == 2);
    CHECK(s.fit.exit_count[2] == 1);
    CHECK(s.fit.mean_cost <= 2.0);
    // Exit 1 stops samples 0,1,2; of 3,4,5 the two most confident at exit 2 are 4 (0.75), 5 (0.3).
    CHECK(s.fit.accuracy == Approx((1 + 1 + 0 + 1 + 0 + 1) / 6.0));
  }
}

TEST_CASE("geometric-quantile follows Heuristic.py on a hand case") {
  Tiny t;
  t.p.budget = 1.5;  // p = 0.01: pk ~ uniform, cost ~ 2.33 > 1.5, ... first p meeting 1.5
  ThresholdSummary s = SolveGeometricQuantile(t.p, {});
  REQUIRE(s.ok());
  // Brute force the grid here.
  double pfound = 0;
  for (int i = 1; i <= 100; ++i) {
    const double p = 0.01 * i;
    const double w0 = p, w1 = (1 - p) * p, w2 = (1 - p) * (1 - p) * p, z = w0 + w1 + w2;
    if ((w0 * 1 + w1 * 2 + w2 * 4) / z <= 1.5) {
      pfound = p;
      break;
    }
  }
  CHECK(s.message == "p = " + std::to_string(pfound).substr(0, 4));
  const double q0 = s.trace[0];
  // Threshold 1: exit 1's scores sorted most confident first, index floor(6 q0).
  const double sorted0[] = {0.9, 0.8, 0.7, 0.6, 0.5, 0.4};
  CHECK(s.policy.thresholds[0] == sorted0[static_cast<int>(std::floor(6 * q0))]);
}

TEST_CASE("infeasible budgets are outcomes with a clear message") {
  Tiny t;
  t.p.budget = 0.5;
  for (Method m : {Method::kGeometric, Method::kGeometricQuantile, Method::kSingle}) {
    ThresholdSummary s = Solve(m, t.p);
    CHECK(s.outcome == Outcome::kInfeasible);
    CHECK_THAT(s.message, Catch::Contains("below 1"));
  }
  // Above the full cost the budget cannot bind: a valid answer, never below running to the end.
  t.p.budget = 5.0;
  ThresholdSummary s = Solve(Method::kGeometric, t.p);
  CHECK(s.outcome == Outcome::kUnconstrained);
  CHECK(s.ok());
  CHECK_THAT(s.message, Catch::Contains("at or above the kept exits' full cost 4"));
}

TEST_CASE("geometric-quantile reproduces the saved heuristic results of aaai21 exactly") {
  for (const std::string name : {"alex", "scan", "msdnet"}) {
    const std::string dir = testing::SharedData("aaai21/" + name);
    if (dir.empty()) continue;
    const aaai21::Model m = aaai21::Load(dir, name);
    const auto budgets = m.budgets();
    REQUIRE(budgets.size() == 100);
    int same = 0;
    for (std::size_t i = 0; i < budgets.size(); ++i) {
      ThresholdSummary s = Solve(Method::kGeometricQuantile, aaai21::Problem(m, budgets[i]));
      REQUIRE(s.ok());
      const Evaluation ev = aaai21::Problem(m, budgets[i], true).Evaluate(s.policy);
      const bool ok = testing::Close(s.fit.accuracy, m.fit_acc[1][i], 1e-12) &&
                      testing::Close(s.fit.mean_cost, m.fit_cost[1][i], 1e-12) &&
                      testing::Close(ev.accuracy, m.eval_acc[1][i], 1e-12) &&
                      testing::Close(ev.mean_cost, m.eval_cost[1][i], 1e-12);
      if (!ok) {
        INFO(name << " budget " << i << ": fit " << s.fit.accuracy << " vs " << m.fit_acc[1][i]
                  << ", cost " << s.fit.mean_cost << " vs " << m.fit_cost[1][i]);
        CHECK(ok);
      }
      same += ok;
    }
    CHECK(same == 100);
  }
}
