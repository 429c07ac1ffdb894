#include <catch2/catch.hpp>
#include <limits>
#include <random>

#include "optim/single.hpp"
#include "optim/solve.hpp"
#include "problem_fixture.hpp"
#include "test_util.hpp"

using namespace exitplan;

namespace {
struct Random : testing::OwnedProblem {
  Random(ScoreOrder order, int n, unsigned seed) : OwnedProblem(3, n, order) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int i = 0; i < n; ++i)
      for (int e = 0; e < 3; ++e) {
        s(e, i) = std::round(u(rng) * 50) / 50;  // ties
        c(e, i) = u(rng) < 0.5 + 0.2 * e;
      }
    p.kept = {0, 1, 2};
    p.stop_cost = {1.0, 2.0, 3.0};
  }
};
}  // namespace

TEST_CASE("method names round-trip and bad names are rejected") {
  for (const std::string& n : MethodNames()) CHECK(ToString(MethodFromString(n)) == n);
  CHECK_THROWS_WITH(MethodFromString("fast"), Catch::Contains("--method: unknown method 'fast'"));
}

TEST_CASE("outcome words round-trip; over_budget is a policy but not a solution") {
  const Outcome all[] = {Outcome::kNotRun,         Outcome::kOptimal,    Outcome::kConverged,
                         Outcome::kIterationLimit, Outcome::kInfeasible, Outcome::kFailure,
                         Outcome::kUnconstrained,  Outcome::kOverBudget};
  for (Outcome o : all) {
    Outcome back = Outcome::kNotRun;
    REQUIRE(OutcomeFromString(ToString(o), &back));
    CHECK(back == o);
  }
  CHECK(ToString(Outcome::kUnconstrained) == "unconstrained");
  CHECK(ToString(Outcome::kOverBudget) == "over_budget");
  Outcome o;
  CHECK_FALSE(OutcomeFromString("error", &o));
  CHECK(HasSolution(Outcome::kUnconstrained));
  CHECK_FALSE(HasSolution(Outcome::kOverBudget));
  CHECK(HasPolicy(Outcome::kOverBudget));
  CHECK_FALSE(HasPolicy(Outcome::kInfeasible));
}

TEST_CASE("single finds the most expensive shared threshold within budget (brute force)") {
  for (ScoreOrder order : {ScoreOrder::kAscending, ScoreOrder::kDescending}) {
    Random r(order, 200, 9);
    for (double b : {1.1, 1.5, 2.0, 2.6}) {
      r.p.budget = b;
      const ThresholdSummary s = SolveSingle(r.p);
      REQUIRE(s.ok());
      CHECK(s.fit.mean_cost <= b);
      double best_cost = -1;
      for (int t = -1; t <= 51; ++t) {
        const double th = t / 50.0;
        const Evaluation ev = r.p.Evaluate({r.p.kept, {th, th}});
        if (ev.mean_cost <= b) best_cost = std::max(best_cost, ev.mean_cost);
      }
      CHECK(s.fit.mean_cost == Approx(best_cost));
    }
  }
}

TEST_CASE("bootstrap cost margin matches the normal approximation") {
  Random r(ScoreOrder::kDescending, 400, 2);
  Evaluation fit;
  fit.n = 400;
  fit.exit_fraction = {0.5, 0.0, 0.5};  // costs 1 and 3: sd of one sample 1, of the mean 1/20
  fit.mean_cost = 2.0;
  const double m = BootstrapCostMargin(r.p, fit, 0.95, 4000, 1);
  CHECK(m == Approx(1.645 / 20).epsilon(0.12));
  fit.exit_fraction = {0.0, 1.0, 0.0};
  fit.mean_cost = 2.0;
  CHECK(BootstrapCostMargin(r.p, fit, 0.95, 1000, 1) == 0.0);
}

TEST_CASE("budget margin tightens the fitted budget") {
  Random r(ScoreOrder::kDescending, 400, 4);
  r.p.budget = 2.0;
  SolverOptions o;
  const ThresholdSummary plain = Solve(Method::kSingle, r.p, o);
  o.budget_margin = 0.95;
  const ThresholdSummary tight = Solve(Method::kSingle, r.p, o);
  REQUIRE(tight.ok());
  CHECK(tight.fit_budget < 2.0);
  CHECK(tight.fit_budget > 1.8);
  CHECK(tight.fit.mean_cost <= tight.fit_budget);
  CHECK(tight.fit.mean_cost < plain.fit.mean_cost);
  CHECK_THAT(tight.message, Catch::Contains("budget margin at level 0.95"));
}

TEST_CASE("accuracy-target mode returns the cheapest solution within the tolerance") {
  Random r(ScoreOrder::kDescending, 300, 5);
  r.p.budget = 0;  // ignored in this mode
  SolverOptions o;
  o.accuracy_drop = 0.02;
  o.exact.start_ippp = false;
  double full = 0;
  for (int i = 0; i < 300; ++i) full += r.c(2, i);
  full /= 300;
  for (Method m : {Method::kSingle, Method::kExact}) {
    const ThresholdSummary s = Solve(m, r.p, o);
    REQUIRE(s.ok());
    CHECK(s.fit.accuracy >= full - 0.02 - 1e-12);
    CHECK(s.fit.mean_cost < 3.0);
  }
  // exact is at least as cheap as single for the same target (single's answer is one of its starts
  // at single's budget).
  const double se = Solve(Method::kExact, r.p, o).fit.mean_cost;
  const double ss = Solve(Method::kSingle, r.p, o).fit.mean_cost;
  CHECK(se <= ss + 0.02);
}

TEST_CASE("options validate themselves, one line per broken rule") {
  SolverOptions o;
  CHECK(o.Validate().empty());
  o.budget_margin = 1.5;
  o.box_lo = 1;
  o.box_hi = 0;
  o.exact.max_sweeps = 0;
  const std::string e = o.Validate();
  CHECK_THAT(e, Catch::Contains("budget_margin = 1.5: must be a confidence level"));
  CHECK_THAT(e, Catch::Contains("box = [1, 0]"));
  CHECK_THAT(e, Catch::Contains("exact.max_sweeps = 0: must be >= 1"));
  Random r(ScoreOrder::kDescending, 10, 1);
  r.p.budget = 2;
  CHECK_THROWS_WITH(Solve(Method::kSingle, r.p, o), Catch::Contains("solver options"));
}

TEST_CASE("every method answers a budget at or above the full cost: unconstrained") {
  for (ScoreOrder order : {ScoreOrder::kDescending, ScoreOrder::kAscending}) {
    Random r(order, 200, 5);
    // Accuracy of running every sample to the final exit: the floor of every answer.
    double final_acc = 0;
    for (int i = 0; i < r.p.n(); ++i) final_acc += r.c(2, i);
    final_acc /= r.p.n();
    for (double budget : {3.0, 3.0 * (1 + 1e-12), 4.5, 1e9}) {
      r.p.budget = budget;
      for (const std::string& name : MethodNames()) {
        const ThresholdSummary s = Solve(MethodFromString(name), r.p);
        INFO(name << " budget " << budget << ": " << s.message);
        CHECK(s.outcome == Outcome::kUnconstrained);
        CHECK(s.ok());
        CHECK(s.fit.mean_cost <= 3.0 * (1 + 1e-12));
        CHECK(s.fit.accuracy >= final_acc);
        REQUIRE(s.policy.thresholds.size() == 2);
      }
    }
    // Just below the full cost the methods solve as usual.
    r.p.budget = 2.999;
    CHECK(Solve(Method::kExact, r.p).outcome != Outcome::kUnconstrained);
  }
  // Running to the end: thresholds that never pass.
  const Policy run = RunToEndPolicy({0, 2, 4}, ScoreOrder::kDescending);
  CHECK(run.thresholds == std::vector<double>(2, std::numeric_limits<double>::infinity()));
  CHECK(RunToEndPolicy({1, 3}, ScoreOrder::kAscending).thresholds ==
        std::vector<double>{-std::numeric_limits<double>::infinity()});
}

TEST_CASE("an answer over its budget is labelled over_budget, with its figures") {
  Random r(ScoreOrder::kDescending, 300, 7);
  r.p.budget = 1.6;
  SolverOptions o;
  o.ippp.beta =
      1e-12;  // a penalty too weak to bind: iPPP maximises accuracy and ignores the budget
  const ThresholdSummary s = Solve(Method::kIppp, r.p, o);
  INFO(s.message);
  REQUIRE(s.fit.mean_cost > r.p.budget);
  CHECK(s.outcome == Outcome::kOverBudget);
  CHECK_FALSE(s.ok());
  CHECK(s.has_policy());
  CHECK(s.fit.mean_cost == r.p.Evaluate(s.policy).mean_cost);
  CHECK(s.fit.accuracy == r.p.Evaluate(s.policy).accuracy);
  CHECK_THAT(s.message, Catch::Contains("exceeds the budget 1.6 by") &&
                            Catch::Contains("the method said converged"));
  // The same method with its default penalty meets the budget or says so.
  const ThresholdSummary d = Solve(Method::kIppp, r.p);
  CHECK(d.ok() == (d.fit.mean_cost <= r.p.budget * (1 + kBudgetTolerance)));
  // LabelOverBudget leaves answers within the budget alone.
  ThresholdSummary e = Solve(Method::kExact, r.p);
  REQUIRE(e.ok());
  const Outcome before = e.outcome;
  LabelOverBudget(r.p.budget, e);
  CHECK(e.outcome == before);
}

TEST_CASE("exact's iPPP starts: the feasibility start from iPPP's own answer, as given by hand") {
  // With a penalty too weak to bind, iPPP's answer is over budget and the feasibility step
  // re-solves it; exact takes that start from the answer it already has. The same starts given by
  // hand (iPPP's raw answer, its feasible one, ippp-nlopt's feasible one, in that order) with
  // start_ippp off must give the same thresholds and figures.
  int feasible_starts = 0;
  for (unsigned seed : {3u, 7u, 11u}) {
    Random r(ScoreOrder::kDescending, 400, seed);
    SolverOptions o;
    o.ippp.beta = 1e-12;
    for (double budget : {1.4, 1.7, 2.1}) {
      r.p.budget = budget;
      const ThresholdSummary raw = SolveAtBudget(Method::kIppp, r.p, o);
      REQUIRE(raw.ok());
      REQUIRE(raw.fit.mean_cost > budget);
      const ThresholdSummary fixed = SolveFeasible(Method::kIppp, r.p, o);
      const ThresholdSummary nl = SolveFeasible(Method::kIpppNlopt, r.p, o);
      SolverOptions by_hand = o;
      by_hand.exact.start_ippp = false;
      by_hand.exact_starts.push_back(raw.policy.thresholds);
      if (fixed.ok() && fixed.fit.mean_cost <= budget) {
        by_hand.exact_starts.push_back(fixed.policy.thresholds);
        ++feasible_starts;
      }
      if (nl.ok() && nl.fit.mean_cost <= budget)
        by_hand.exact_starts.push_back(nl.policy.thresholds);
      const ThresholdSummary a = Solve(Method::kExact, r.p, o);
      const ThresholdSummary b = Solve(Method::kExact, r.p, by_hand);
      INFO("seed " << seed << " budget " << budget << ": " << a.message);
      REQUIRE(a.ok());
      CHECK(a.policy.thresholds == b.policy.thresholds);
      CHECK(a.fit.accuracy == b.fit.accuracy);
      CHECK(a.fit.mean_cost == b.fit.mean_cost);
      // And exact is at least as accurate as what `ippp` returns within the budget.
      if (fixed.ok() && fixed.fit.mean_cost <= budget) CHECK(a.fit.accuracy >= fixed.fit.accuracy);
    }
  }
  CHECK(feasible_starts > 0);  // the feasibility start was exercised
}
