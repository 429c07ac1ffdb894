// The deployment guarantee (optim/guarantee.hpp), the shift check (optim/shift.hpp), the
// feasibility step and tie handling that keep every method within budget on the fit split.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "optim/geometric.hpp"
#include "optim/guarantee.hpp"
#include "optim/shift.hpp"
#include "optim/solve.hpp"
#include "profiles/dump.hpp"
#include "profiles/profile.hpp"
#include "test_util.hpp"

using namespace exitplan;

namespace {

// A synthetic 3-exit problem: descending scores in [0, 1]; the deeper exit is more often right, a
// confident sample more often right. `harder` shifts every score down (less confident: costlier).
struct Synthetic {
  ScoreMatrix s;
  CorrectMatrix c;
  ThresholdProblem p;
  Synthetic(int n, unsigned seed, double harder = 0.0) : s(3, n), c(3, n) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int i = 0; i < n; ++i) {
      const double difficulty = u(rng);
      for (int e = 0; e < 3; ++e) {
        const double conf = std::clamp(1.0 - difficulty + 0.15 * e + 0.2 * (u(rng) - 0.5) - harder, 0.0, 1.0);
        s(e, i) = conf;
        c(e, i) = u(rng) < 0.35 + 0.6 * conf;
      }
    }
    p.scores = &s;
    p.correct = &c;
    p.order = ScoreOrder::kDescending;
    p.kept = {0, 1, 2};
    p.stop_cost = {1.0, 2.0, 4.0};
  }
};

// Columns [from, from + n) of a synthetic pool as their own problem.
struct Slice {
  ScoreMatrix s;
  CorrectMatrix c;
  ThresholdProblem p;
  Slice(const Synthetic& pool, const std::vector<int>& idx) : s(3, idx.size()), c(3, idx.size()) {
    for (std::size_t j = 0; j < idx.size(); ++j) {
      s.col(j) = pool.s.col(idx[j]);
      c.col(j) = pool.c.col(idx[j]);
    }
    p = pool.p;
    p.scores = &s;
    p.correct = &c;
  }
};

}  // namespace

TEST_CASE("bounds: Hoeffding, binomial and Bentkus against hand-computed values") {
  // KL(0.3 || 0.5) = 0.3 ln 0.6 + 0.7 ln 1.4 = 0.0822828758
  CHECK(BernoulliKl(0.3, 0.5) == Approx(0.0822828785).epsilon(1e-9));
  CHECK(HoeffdingPValue(0.3, 100, 0.5) == Approx(std::exp(-8.22828785)).epsilon(1e-8));
  CHECK(HoeffdingPValue(0.3, 100, 0.5) <= std::exp(-2.0 * 100 * 0.04));  // the quadratic form
  CHECK(HoeffdingPValue(0.6, 100, 0.5) == 1.0);
  CHECK(BinomialCdf(3, 10, 0.5) == Approx(176.0 / 1024.0).epsilon(1e-12));
  CHECK(BinomialCdf(0, 20, 0.1) == Approx(std::pow(0.9, 20)).epsilon(1e-12));
  CHECK(BinomialCdf(9, 10, 0.5) == Approx(1023.0 / 1024.0).epsilon(1e-12));
  // P(Bin(10000, 1/2) <= 5000) = 1/2 + pmf(5000)/2, pmf(5000) = 0.00797871...
  CHECK(BinomialCdf(5000, 10000, 0.5) == Approx(0.5 + 0.5 * 0.0079786461).epsilon(1e-7));
  CHECK(BentkusPValue(0.3, 10, 0.5) == Approx(std::exp(1.0) * 176.0 / 1024.0).epsilon(1e-12));
  CHECK(HoeffdingBentkusPValue(0.3, 10, 0.5, true) == Approx(176.0 / 1024.0).epsilon(1e-12));
  // Fresh-sample cap: infinite horizon gives b back; a finite one sits where the tail is delta2.
  CHECK(FreshMeanCap(0.4, std::numeric_limits<double>::infinity(), 0.025) == 0.4);
  const double cap = FreshMeanCap(0.4, 1000, 0.025);
  CHECK(cap < 0.4);
  CHECK(FreshMeanTail(cap, 0.4, 1000) <= 0.025);
  CHECK(FreshMeanTail(cap + 1e-4, 0.4, 1000) > 0.025);
  // Hoeffding's quadratic form alone would need b - m = sqrt(ln(40) / 2000) = 0.0429; the KL and
  // Bentkus forms give a narrower gap, but of the same order.
  CHECK(0.4 - cap < 0.0430);
  CHECK(0.4 - cap > 0.025);
}

TEST_CASE("WSR and Hoeffding-Bentkus upper bounds cover the mean at their level (simulation)") {
  std::mt19937_64 rng(20240611);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double delta = 0.1, mean = 0.3;
  const int trials = 1000, n = 200;
  int miss_wsr = 0, miss_hb = 0;
  double width_wsr = 0.0;
  for (int t = 0; t < trials; ++t) {
    std::vector<double> x(n);
    // A three-point loss with mean 0.3: 0 w.p. 0.6, 0.5 w.p. 0.2, 1 w.p. 0.2.
    for (double& v : x) {
      const double r = u(rng);
      v = r < 0.6 ? 0.0 : r < 0.8 ? 0.5 : 1.0;
    }
    const double w = WsrUpperBound(x, delta), h = HoeffdingBentkusUpperBound(x, delta);
    miss_wsr += w < mean;
    miss_hb += h < mean;
    width_wsr += w - mean;
  }
  // Nominal miss rate <= 10%: allow 3 binomial standard deviations (sd 0.95%).
  CHECK(miss_wsr <= 0.1 * trials + 3 * std::sqrt(0.09 * trials));
  CHECK(miss_hb <= 0.1 * trials + 3 * std::sqrt(0.09 * trials));
  // And not vacuous: the mean excess is about 1.3 sd / sqrt(n) ~ 0.036, far below 0.15.
  CHECK(width_wsr / trials < 0.15);
  CHECK(width_wsr / trials > 0.0);
}

TEST_CASE("guarantee: re-split violation rate at most delta, the path certified, figures carried") {
  const Synthetic pool(6000, 7);
  int viol = 0, cells = 0, solved = 0;
  double last_fit_budget = 0.0;
  for (unsigned r = 0; r < 30; ++r) {
    std::vector<int> perm(6000);
    for (int i = 0; i < 6000; ++i) perm[i] = i;
    std::mt19937_64 rng(r + 100);
    std::shuffle(perm.begin(), perm.end(), rng);
    const Slice fit(pool, std::vector<int>(perm.begin(), perm.begin() + 3000));
    const Slice eval(pool, std::vector<int>(perm.begin() + 3000, perm.end()));
    for (double b : {1.8, 2.4, 3.0}) {
      ThresholdProblem p = fit.p;
      p.budget = b;
      SolverOptions o;
      o.seed = r;
      o.guarantee.level = 0.9;
      o.guarantee.horizon = 3000;
      const ThresholdSummary s = Solve(Method::kSingle, p, o);
      ++cells;
      if (!s.ok()) continue;
      ++solved;
      CHECK(s.guarantee.level == 0.9);
      CHECK(s.guarantee.certified >= 1);
      CHECK(s.guarantee.calibration_n == 1500);
      CHECK(s.guarantee.cost_bound == b);
      CHECK(s.fit_budget <= b);  // fitted on the search part at a budget <= B
      CHECK(s.guarantee.accuracy_bound < s.fit.accuracy);
      last_fit_budget = s.fit_budget;
      viol += eval.p.Evaluate(s.policy).mean_cost > b;
    }
  }
  INFO("violations " << viol << " of " << cells << ", solved " << solved);
  CHECK(solved == cells);
  CHECK(last_fit_budget > 2.7);  // not absurdly conservative at B = 3
  // Nominal <= 10% of cells; the bounds are conservative, so far fewer is expected. 90 cells.
  CHECK(viol <= 9);
}

TEST_CASE("guarantee in accuracy-drop mode bounds the drop on fresh samples") {
  const Synthetic pool(8000, 11);
  int viol = 0, cells = 0;
  for (unsigned r = 0; r < 10; ++r) {
    std::vector<int> perm(8000);
    for (int i = 0; i < 8000; ++i) perm[i] = i;
    std::mt19937_64 rng(r + 300);
    std::shuffle(perm.begin(), perm.end(), rng);
    const Slice fit(pool, std::vector<int>(perm.begin(), perm.begin() + 4000));
    const Slice eval(pool, std::vector<int>(perm.begin() + 4000, perm.end()));
    ThresholdProblem p = fit.p;
    p.budget = 4.0;
    SolverOptions o;
    o.seed = r;
    o.accuracy_drop = 0.03;
    o.guarantee.level = 0.9;
    o.guarantee.horizon = 4000;
    const ThresholdSummary s = Solve(Method::kSingle, p, o);
    ++cells;
    REQUIRE(s.ok());
    CHECK(s.guarantee.drop_bound == 0.03);
    CHECK(s.guarantee.cost_bound >= s.fit.mean_cost * 0.9);
    double final_acc = 0.0;
    for (int i = 0; i < 4000; ++i) final_acc += eval.c(2, i);
    final_acc /= 4000;
    viol += eval.p.Evaluate(s.policy).accuracy < final_acc - 0.03;
    CHECK(s.fit.mean_cost < 4.0);  // it did stop some samples early
  }
  CHECK(viol <= 1);
}

TEST_CASE("guarantee options are validated, and a budget margin and a guarantee exclude each other") {
  SolverOptions o;
  o.guarantee.level = 1.0;
  CHECK_THAT(o.Validate(), Catch::Contains("guarantee = 1: must be a probability"));
  o.guarantee.level = 0.95;
  o.guarantee.horizon = 0.0;
  CHECK_THAT(o.Validate(), Catch::Contains("horizon = 0"));
  o.guarantee.horizon = 100;
  o.budget_margin = 0.9;
  CHECK_THAT(o.Validate(), Catch::Contains("give one of them"));
  CHECK_THROWS_WITH(GuaranteeBoundFromString("chernoff"), Catch::Contains("unknown bound 'chernoff'"));
}

TEST_CASE("shift check: fires on a shifted eval sample, at about its level on exchangeable ones") {
  const Synthetic fit(5000, 21), shifted(5000, 22, 0.05);
  ThresholdProblem p = fit.p;
  p.budget = 2.5;
  const ThresholdSummary s = Solve(Method::kSingle, p, SolverOptions{});
  REQUIRE(s.ok());
  const ShiftResult sh = ShiftCheck(fit.p, shifted.p, s.policy, 0.05);
  CHECK(sh.shifted);
  CHECK(sh.eval_cost > sh.fit_cost);
  CHECK_THAT(sh.Warning(), Catch::Contains("does not look exchangeable"));
  // Exchangeable: 200 random halves of one pool; the firing rate should be near 5%.
  const Synthetic pool(4000, 23);
  int fired = 0;
  for (unsigned r = 0; r < 200; ++r) {
    std::vector<int> perm(4000);
    for (int i = 0; i < 4000; ++i) perm[i] = i;
    std::mt19937_64 rng(r);
    std::shuffle(perm.begin(), perm.end(), rng);
    const Slice a(pool, std::vector<int>(perm.begin(), perm.begin() + 2000));
    const Slice b(pool, std::vector<int>(perm.begin() + 2000, perm.end()));
    fired += ShiftCheck(a.p, b.p, s.policy, 0.05).shifted;
  }
  INFO("fired " << fired << " of 200");
  CHECK(fired >= 2);   // not a test that never fires
  CHECK(fired <= 22);  // 5% of 200 = 10, sd ~3.1
  CHECK(WelchZPValue(0.0, 1.0, 100, 0.0, 1.0, 100) == 1.0);
  CHECK(WelchZPValue(0.0, 1.0, 100, 1.959964 * std::sqrt(0.02), 1.0, 100) ==
        Approx(0.05).margin(1e-5));
}

TEST_CASE("geometric never exceeds the budget on the fit split, even with a large tie") {
  // Ascending scores (stop when score < t) with 526 of 1000 samples tied at exit 1.
  const int n = 1000;
  ScoreMatrix s(3, n);
  CorrectMatrix c(3, n);
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int i = 0; i < n; ++i) {
    s(0, i) = i < 526 ? 0.25 : u(rng);
    s(1, i) = std::round(u(rng) * 20) / 20;
    s(2, i) = u(rng);
    for (int e = 0; e < 3; ++e) c(e, i) = u(rng) < 0.6 + 0.1 * e;
  }
  ThresholdProblem p;
  p.scores = &s;
  p.correct = &c;
  p.order = ScoreOrder::kAscending;
  p.kept = {0, 1, 2};
  p.stop_cost = {1.0, 2.0, 3.0};
  int over = 0;
  for (int b = 0; b <= 100; ++b) {
    p.budget = 1.0 + 2.0 * b / 100.0;
    const ThresholdSummary g = SolveGeometric(p, {});
    over += g.fit.mean_cost > p.budget * (1 + 1e-12);
  }
  CHECK(over == 0);
}

TEST_CASE("every method within budget on data/example, exact the most accurate and monotone") {
  const std::string dir = testing::ProjectPath("data/example");
  const Dump dump = LoadDump(dir);
  const CostProfile prof = LoadProfile(dir + "/profile-flops.yaml");
  ThresholdProblem p = ThresholdProblem::From(dump.fit, Measure::kMaxProb, Target::kLabels, prof,
                                              AllExits(dump.k), 0.0);
  std::vector<double> budgets;
  for (int i = 0; i < 8; ++i) budgets.push_back((0.3 + 0.08 * i) * prof.FullCost());
  const SolverOptions o;
  const auto exact = SolveBudgets(Method::kExact, p, budgets, o);
  double prev = 0.0;
  for (std::size_t i = 0; i < budgets.size(); ++i) {
    REQUIRE(exact[i].ok());
    CHECK(exact[i].fit.mean_cost <= budgets[i]);
    CHECK(exact[i].fit.accuracy >= prev);
    prev = exact[i].fit.accuracy;
  }
  for (Method m : {Method::kGeometric, Method::kGeometricQuantile, Method::kSingle, Method::kIppp,
                   Method::kIpppNlopt}) {
    const auto r = SolveBudgets(m, p, budgets, o);
    for (std::size_t i = 0; i < budgets.size(); ++i) {
      INFO(ToString(m) << " at " << budgets[i] << ": " << r[i].message);
      // Within budget (the feasibility step) or labelled over_budget; never silently over.
      if (r[i].ok()) {
        CHECK(r[i].fit.mean_cost <= budgets[i] * (1 + 1e-12));
        CHECK(exact[i].fit.accuracy >= r[i].fit.accuracy);
      } else {
        CHECK(r[i].outcome == Outcome::kOverBudget);
      }
      if (m == Method::kIppp) CHECK(r[i].ok());  // its defaults meet the budget here
    }
  }
  // The paper's settings keep iPPP's raw answers, over budget at most of these budgets.
  SolverOptions paper;
  ApplyPaperIpppSettings(&paper);
  int raw_over = 0;
  for (double b : budgets) {
    p.budget = b;
    raw_over += Solve(Method::kIppp, p, paper).fit.mean_cost > b;
  }
  CHECK(raw_over >= 4);
}
