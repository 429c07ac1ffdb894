#include <algorithm>
#include <catch2/catch.hpp>
#include <random>

#include "bench/aaai21_data.hpp"
#include "optim/ippp.hpp"
#include "optim/solve.hpp"
#include "problem_fixture.hpp"
#include "test_util.hpp"

using namespace exitplan;

namespace {
struct Random : testing::OwnedProblem {
  Random(ScoreOrder order, int n = 300, unsigned seed = 3) : OwnedProblem(4, n, order) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int i = 0; i < n; ++i)
      for (int e = 0; e < 4; ++e) {
        s(e, i) = u(rng);
        c(e, i) = u(rng) < 0.5 + 0.1 * e;
      }
    p.kept = {0, 1, 3};
    p.stop_cost = {1.0, 1.7, 2.2, 3.0};
    p.budget = 2.0;
  }
};
}  // namespace

TEST_CASE("smoothed gradient matches central differences") {
  for (ScoreOrder order : {ScoreOrder::kAscending, ScoreOrder::kDescending}) {
    Random r(order);
    for (double k : {5.0, 30.0}) {
      const std::vector<double> t = {0.4, 0.65};
      const SmoothedValue v = EvaluateSmoothed(r.p, k, t);
      for (int q = 0; q < 2; ++q) {
        const double h = 1e-6;
        std::vector<double> tp = t, tm = t;
        tp[q] += h;
        tm[q] -= h;
        const SmoothedValue a = EvaluateSmoothed(r.p, k, tp), b = EvaluateSmoothed(r.p, k, tm);
        CHECK(v.grad_accuracy[q] == Approx((a.accuracy - b.accuracy) / (2 * h)).epsilon(1e-6));
        CHECK(v.grad_cost[q] == Approx((a.cost - b.cost) / (2 * h)).epsilon(1e-6));
      }
    }
  }
}

TEST_CASE("the single-precision kernel agrees with double to float rounding") {
  // 5,000 samples: several of the float kernel's 1,024-sample partial sums; 3 sigmoid exits use
  // the kernel specialised for m = 3, 8 exits the run-time-m one.
  for (int exits : {4, 9})
    for (ScoreOrder order : {ScoreOrder::kDescending, ScoreOrder::kAscending}) {
      const int n = 5000;
      ScoreMatrix s(exits, n);
      CorrectMatrix c(exits, n);
      std::mt19937 rng(11);
      std::uniform_real_distribution<double> u(0.0, 1.0);
      for (int i = 0; i < n; ++i)
        for (int e = 0; e < exits; ++e) {
          s(e, i) = u(rng);
          c(e, i) = u(rng) < 0.5 + 0.05 * e;
        }
      ThresholdProblem p;
      p.scores = &s;
      p.correct = &c;
      p.order = order;
      for (int e = 0; e < exits; ++e) {
        p.kept.push_back(e);
        p.stop_cost.push_back(1e8 * (1.0 + e));  // FLOP-sized costs
      }
      p.budget = 3e8;
      std::vector<double> t(exits - 1);
      for (int q = 0; q + 1 < exits; ++q) t[q] = 0.35 + 0.05 * q;
      const SmoothedValue d = EvaluateSmoothed(p, 30.0, t, "double");
      const SmoothedValue f = EvaluateSmoothed(p, 30.0, t, "single");
      CHECK(f.accuracy == Approx(d.accuracy).epsilon(1e-5));
      CHECK(f.cost == Approx(d.cost).epsilon(1e-5));
      CHECK(f.accuracy != d.accuracy);  // the float kernel did run
      for (int q = 0; q + 1 < exits; ++q) {
        CHECK(f.grad_accuracy[q] == Approx(d.grad_accuracy[q]).epsilon(1e-4));
        CHECK(f.grad_cost[q] == Approx(d.grad_cost[q]).epsilon(1e-4));
      }
      // Beyond float's exponent range (k |x - t| up to 100 here) it falls back to double exactly.
      const SmoothedValue d2 = EvaluateSmoothed(p, 100.0, t, "double");
      const SmoothedValue f2 = EvaluateSmoothed(p, 100.0, t, "single");
      CHECK(f2.accuracy == d2.accuracy);
      CHECK(f2.grad_cost == d2.grad_cost);
    }
}

TEST_CASE("smoothed terms tend to the exact evaluator as k grows") {
  Random r(ScoreOrder::kAscending);
  const std::vector<double> t = {0.3, 0.55};
  const SmoothedValue v = EvaluateSmoothed(r.p, 1e5, t);
  const Evaluation ev = r.p.Evaluate({r.p.kept, t});
  CHECK(v.accuracy == Approx(ev.accuracy).margin(0.01));
  CHECK(v.cost == Approx(ev.mean_cost).margin(0.01));
}

TEST_CASE("warm start is the root of the smoothed cost (Brent = bisection to 1e-9)") {
  for (ScoreOrder order : {ScoreOrder::kAscending, ScoreOrder::kDescending}) {
    Random r(order);
    const std::vector<double> t = IpppWarmStart(r.p, 30.0, 0.0, 1.0);
    REQUIRE(t.size() == 2);
    CHECK(t[0] == t[1]);
    // Independent bisection on the shared threshold.
    double lo = 0.0, hi = 1.0;  // cost increases towards "fewer stops"
    for (int i = 0; i < 200; ++i) {
      const double mid = 0.5 * (lo + hi);
      const double c = EvaluateSmoothed(r.p, 30.0, {mid, mid}).cost;
      const bool fewer_stops_side = order == ScoreOrder::kAscending ? true : false;
      // ascending: larger t = more stops = cheaper
      if ((c > r.p.budget) == fewer_stops_side)
        lo = mid;
      else
        hi = mid;
    }
    CHECK(std::fabs(t[0] - 0.5 * (lo + hi)) < 1e-9);
  }
}

TEST_CASE("ippp and ippp-nlopt run and stay in the box") {
  Random r(ScoreOrder::kDescending);
  SolverOptions o;
  o.ippp.beta = 1e3;
  ThresholdSummary s = Solve(Method::kIppp, r.p, o);
  REQUIRE(s.ok());
  for (double t : s.policy.thresholds) CHECK((t >= 0.0 && t <= 1.0));
  CHECK(s.trace.size() == 100);
  ThresholdSummary n = Solve(Method::kIpppNlopt, r.p, o);
  REQUIRE(n.has_policy());  // up to 5% over budget: labelled over_budget, still compared
  CHECK(n.ok() == (n.fit.mean_cost <= r.p.budget * (1 + kBudgetTolerance)));
  CHECK(n.fit.mean_cost <= r.p.budget * 1.05);
}

TEST_CASE("ippp options validate themselves") {
  IpppOptions o;
  o.eta = 0.5;
  o.steepness = -1;
  const std::string e = o.Validate();
  CHECK_THAT(e, Catch::Contains("ippp.eta = 0.5: must be > mu"));
  CHECK_THAT(e, Catch::Contains("ippp.steepness = -1"));
  Random r(ScoreOrder::kDescending);
  SolverOptions so;
  so.ippp.warm_start = false;
  so.ippp.initial = {0.5, 1.5};
  CHECK_THROWS_WITH(Solve(Method::kIppp, r.p, so), Catch::Contains("outside the measure's range"));
}

TEST_CASE("ippp reproduces the published iPPP curves of aaai21") {
  for (const std::string name : {"alex", "scan", "msdnet"}) {
    const std::string dir = testing::SharedData("aaai21/" + name);
    if (dir.empty()) continue;
    const aaai21::Model m = aaai21::Load(dir, name);
    const auto budgets = m.budgets();
    const SolverOptions o = aaai21::PaperOptions(m);
    double sum = 0;
    int within03 = 0, within001 = 0;
    // A subset of budgets keeps the test quick (bench_aaai21 checks all 100 of every model).
    const int step = name == "msdnet" ? 10 : name == "scan" ? 2 : 1;
    int count = 0;
    for (std::size_t i = 0; i < budgets.size(); i += step) {
      ThresholdSummary s = Solve(Method::kIppp, aaai21::Problem(m, budgets[i]), o);
      REQUIRE(s.has_policy());  // the published curves include points over their budget
      const double d = 100 * (s.fit.accuracy - m.fit_acc[2][i]);
      sum += d;
      within03 += std::fabs(d) <= 0.3;
      within001 += std::fabs(d) <= 0.01;
      ++count;
    }
    INFO(name << ": mean diff " << sum / count << " pp, within 0.3 pp " << within03 << "/" << count
              << ", within 0.01 pp " << within001);
    CHECK(std::fabs(sum / count) <= 0.05);
    CHECK(within03 >= 0.9 * count);
    if (name == "alex") CHECK(within001 >= 0.95 * count);
  }
}

TEST_CASE("ippp in double precision reproduces the stable alex curve too") {
  const std::string dir = testing::SharedData("aaai21/alex");
  if (dir.empty()) return;
  const aaai21::Model m = aaai21::Load(dir, "alex");
  const auto budgets = m.budgets();
  SolverOptions o = aaai21::PaperOptions(m);
  o.ippp.precision = "double";
  int within001 = 0, count = 0;
  for (std::size_t i = 0; i < budgets.size(); i += 4, ++count) {
    const ThresholdSummary s = Solve(Method::kIppp, aaai21::Problem(m, budgets[i]), o);
    within001 += std::fabs(100 * (s.fit.accuracy - m.fit_acc[2][i])) <= 0.01;
  }
  CHECK(within001 >= 0.95 * count);
}

TEST_CASE("without a double layout the warm start finds the same root (exponentials by windows)") {
  // 9,000 samples: three windows of 4,096, the last one partial.
  for (ScoreOrder order : {ScoreOrder::kAscending, ScoreOrder::kDescending}) {
    Random r(order, 9000, 5);
    const std::vector<double> layout = IpppWarmStart(r.p, 30.0, 0.0, 1.0, "single");
    const std::size_t saved = ippp_double_layout_limit;
    ippp_double_layout_limit = 0;
    const std::vector<double> windows = IpppWarmStart(r.p, 30.0, 0.0, 1.0, "single");
    SolverOptions o;
    o.ippp.beta = 1e3;
    o.feasibility_rounds = 0;
    const ThresholdSummary s = Solve(Method::kIppp, r.p, o);
    ippp_double_layout_limit = saved;
    REQUIRE(layout.size() == 2);
    REQUIRE(windows.size() == 2);
    CHECK(layout[0] > 0.0);
    CHECK(layout[0] < 1.0);
    CHECK(std::fabs(windows[0] - layout[0]) < 1e-10);
    CHECK(windows[1] == windows[0]);
    // And the whole solve runs on the float layout alone, starting from that root.
    REQUIRE(s.has_policy());
    CHECK(s.trace.size() == 100);
    const ThresholdSummary full = Solve(Method::kIppp, r.p, o);
    CHECK(s.fit.accuracy == Approx(full.fit.accuracy).margin(0.01));
  }
}

TEST_CASE("double arithmetic on float-stored exponentials above the layout limit") {
  // ippp-nlopt (and `double` precision) above ippp_double_layout_limit keep the exponentials in
  // float: the terms agree with the double layout to the float rounding of the exponentials
  // (relative 6e-8 each), and the gradient is still that of the function evaluated (central
  // differences, as for the double layout).
  for (ScoreOrder order : {ScoreOrder::kAscending, ScoreOrder::kDescending}) {
    Random r(order, 1001, 7);  // (1001: a partial last block)
    const std::vector<double> t = {0.45, 0.6};
    const SmoothedValue full = EvaluateSmoothed(r.p, 30.0, t, "double");
    const std::size_t saved = ippp_double_layout_limit;
    ippp_double_layout_limit = 0;
    const SmoothedValue v = EvaluateSmoothed(r.p, 30.0, t, "double");
    const double h = 1e-6;
    std::vector<SmoothedValue> plus, minus;
    for (int q = 0; q < 2; ++q) {
      std::vector<double> tp = t, tm = t;
      tp[q] += h;
      tm[q] -= h;
      plus.push_back(EvaluateSmoothed(r.p, 30.0, tp, "double"));
      minus.push_back(EvaluateSmoothed(r.p, 30.0, tm, "double"));
    }
    SolverOptions o;
    o.feasibility_rounds = 0;
    const ThresholdSummary s = Solve(Method::kIpppNlopt, r.p, o);
    ippp_double_layout_limit = saved;
    CHECK(v.accuracy != full.accuracy);  // the float storage did serve
    CHECK(v.accuracy == Approx(full.accuracy).epsilon(1e-6));
    CHECK(v.cost == Approx(full.cost).epsilon(1e-6));
    for (int q = 0; q < 2; ++q) {
      CHECK(v.grad_accuracy[q] == Approx(full.grad_accuracy[q]).epsilon(1e-5));
      CHECK(v.grad_accuracy[q] ==
            Approx((plus[q].accuracy - minus[q].accuracy) / (2 * h)).epsilon(1e-6));
      CHECK(v.grad_cost[q] == Approx((plus[q].cost - minus[q].cost) / (2 * h)).epsilon(1e-6));
    }
    REQUIRE(s.has_policy());
    const ThresholdSummary ref = Solve(Method::kIpppNlopt, r.p, o);
    CHECK(s.fit.accuracy == Approx(ref.fit.accuracy).margin(0.01));
  }
}
