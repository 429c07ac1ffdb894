// The shift check (optim/shift.hpp): a valid two-sample test under exchangeable fit and eval
// splits (its firing rate over many synthetic draws is near its level, while the in-sample test
// it replaces is not), and it fires on a shifted eval split and on MSDNet's given split.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "optim/guarantee.hpp"
#include "optim/shift.hpp"
#include "optim/solve.hpp"
#include "problem_fixture.hpp"
#include "profiles/dump.hpp"
#include "profiles/profile.hpp"
#include "test_util.hpp"

using namespace exitplan;

namespace {

// A synthetic k-exit problem (descending scores in [0, 1]; a deeper exit and a more confident
// sample are more often right; stop costs 1, 2, ..., k). `harder` shifts every score down (less
// confident: costlier and less accurate under any policy).
struct Synthetic : testing::OwnedProblem {
  Synthetic(int n, int k, unsigned seed, double harder = 0.0)
      : OwnedProblem(k, n, ScoreOrder::kDescending) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int i = 0; i < n; ++i) {
      const double difficulty = u(rng);
      for (int e = 0; e < k; ++e) {
        const double conf = std::clamp(
            1.0 - difficulty + 0.3 * e / (k - 1) + 0.2 * (u(rng) - 0.5) - harder, 0.0, 1.0);
        s(e, i) = conf;
        c(e, i) = u(rng) < 0.35 + 0.6 * conf;
      }
    }
    for (int e = 0; e < k; ++e) {
      p.kept.push_back(e);
      p.stop_cost.push_back(1.0 + e);
    }
  }
};

// Exchangeable draws: fit and eval are independent samples of one distribution. Counts the draws
// on which the held-out check fires, and on which the in-sample test (the returned policy, fitted
// on the whole fit split, tested fit vs eval) fires.
void FiringRates(Method method, int k, int draws, const SolverOptions& base, int* held,
                 int* in_sample) {
  *held = *in_sample = 0;
  for (int d = 0; d < draws; ++d) {
    const Synthetic fit(1000, k, 1000 + d), eval(1000, k, 50000 + d);
    const double budget = 0.5 * (1.0 + k);
    SolverOptions o = base;
    o.seed = static_cast<unsigned>(d + 1);
    const ShiftResult h = ShiftChecks(method, fit.p, eval.p, {budget}, o)[0];
    REQUIRE(h.tested);
    *held += h.shifted;
    ThresholdProblem p = fit.p;
    p.budget = budget;
    o.guarantee.level = 0.0;
    const ThresholdSummary s = Solve(method, p, o);
    REQUIRE(s.ok());
    *in_sample += TwoSampleShiftTest(fit.p, eval.p, s.policy).shifted;
  }
}

// A level-0.05 test on 300 independent draws fires Binomial(300, 0.05) times: mean 15, sd 3.8.
// [5, 27] holds that with probability 0.999 (and a valid test whose normal approximation is a
// little off, at 4-6%, almost as surely); 28 or more is evidence of a rate above 5%.
constexpr int kDraws = 300, kLow = 5, kHigh = 27;

}  // namespace

TEST_CASE("shift check: the two-sample test of a fixed policy, by hand and on a shifted sample") {
  // Welch z: diff / sqrt(v_a/n_a + v_b/n_b) = 1.959964 gives p = 0.05.
  CHECK(WelchZPValue(0.0, 1.0, 100, 0.0, 1.0, 100) == 1.0);
  CHECK(WelchZPValue(0.0, 1.0, 100, 1.959964 * std::sqrt(0.02), 1.0, 100) ==
        Approx(0.05).margin(1e-5));
  CHECK(WelchZPValue(0.5, 0.0, 10, 0.5, 0.0, 10) == 1.0);
  CHECK(WelchZPValue(0.5, 0.0, 10, 0.6, 0.0, 10) == 0.0);
  // Hand-made: policy "stop at exit 1 when score >= 0.5" on 4 + 4 samples.
  ScoreMatrix sa(2, 4), sb(2, 4);
  sa << 0.9, 0.8, 0.1, 0.2, 0, 0, 0, 0;
  sb << 0.9, 0.1, 0.1, 0.2, 0, 0, 0, 0;
  CorrectMatrix ca(2, 4), cb(2, 4);
  ca << 1, 1, 0, 0, 1, 1, 1, 1;
  cb << 1, 0, 0, 0, 1, 1, 1, 0;
  ThresholdProblem a;
  a.scores = &sa;
  a.correct = &ca;
  a.kept = {0, 1};
  a.stop_cost = {1.0, 3.0};
  ThresholdProblem b = a;
  b.scores = &sb;
  b.correct = &cb;
  Policy pol;
  pol.kept = {0, 1};
  pol.thresholds = {0.5};
  const ShiftResult r = TwoSampleShiftTest(a, b, pol, 0.05);
  // a: costs 1,1,3,3 (mean 2, var 4/3), correct 1,1,1,1; b: costs 1,3,3,3 (mean 2.5, var 1),
  // correct 1,1,1,0 (mean 0.75, var 0.25).
  CHECK(r.held_out_cost == Approx(2.0));
  CHECK(r.eval_cost == Approx(2.5));
  CHECK(r.held_out_accuracy == Approx(1.0));
  CHECK(r.eval_accuracy == Approx(0.75));
  CHECK(r.p_cost == Approx(std::erfc(0.5 / std::sqrt(2.0 * (4.0 / 3.0 / 4 + 1.0 / 4)))));
  CHECK(r.p_accuracy == Approx(std::erfc(0.25 / std::sqrt(2.0 * (0.25 / 4)))));
  CHECK(r.p_value == Approx(std::min(1.0, 2.0 * std::min(r.p_cost, r.p_accuracy))));
  CHECK(r.held_out_n == 4);
  CHECK_FALSE(r.shifted);
  CHECK(r.Warning().empty());

  // A shifted eval split (every score 0.05 lower): costlier and less accurate; the check fires.
  const Synthetic fit(5000, 3, 21), shifted(5000, 3, 22, 0.05);
  const ShiftResult sh = ShiftChecks(Method::kSingle, fit.p, shifted.p, {2.0}, {})[0];
  REQUIRE(sh.tested);
  CHECK(sh.shifted);
  CHECK(sh.p_value < 1e-6);
  CHECK(sh.eval_cost > sh.held_out_cost);
  CHECK(sh.selection_n == 2500);
  CHECK(sh.held_out_n == 2500);
  CHECK_THAT(sh.Warning(), Catch::StartsWith("warning: the eval split does not look "
                                             "exchangeable") &&
                               Catch::Contains("fitted on 2500 fit samples") &&
                               Catch::Contains("on the other 2500"));
}

TEST_CASE("shift check: the selection part is the guarantee's search part, else a seeded half") {
  SolverOptions o;
  o.seed = 7;
  CHECK(ShiftSelectionPart(1000, Method::kExact, o) == GuaranteeSearchPart(1000, 7, 0.5));
  o.guarantee.level = 0.95;
  CHECK(ShiftSelectionPart(1000, Method::kExact, o) ==
        GuaranteeSearchPart(1000, 7, o.guarantee.SearchFraction(Method::kExact, false)));
  o.accuracy_drop = 0.01;
  CHECK(ShiftSelectionPart(1000, Method::kExact, o) ==
        GuaranteeSearchPart(1000, 7, o.guarantee.SearchFraction(Method::kExact, true)));
  // No policy on the selection part (a budget below every policy's cost): not tested, no p.
  const Synthetic fit(200, 3, 5), eval(200, 3, 6);
  const ShiftResult r = ShiftChecks(Method::kSingle, fit.p, eval.p, {0.5}, {})[0];
  CHECK_FALSE(r.tested);
  CHECK(std::isnan(r.p_value));
  CHECK_FALSE(r.shifted);
}

TEST_CASE("shift check: on exchangeable draws it fires at its level; the in-sample test does not") {
  // exact with 4 thresholds overfits its fit split (fit accuracy optimistically biased), so the
  // in-sample test fires far above 5% there; the held-out check must stay within the binomial
  // band, with and without the guarantee, and for a one-threshold method too.
  int held = 0, in_sample = 0;
  FiringRates(Method::kExact, 5, kDraws, {}, &held, &in_sample);
  INFO("exact: held-out fired " << held << ", in-sample " << in_sample << " of " << kDraws);
  CHECK(held >= kLow);
  CHECK(held <= kHigh);
  CHECK(in_sample > kHigh);  // the band rejects the invalid test
  SolverOptions g;
  g.guarantee.level = 0.95;
  g.guarantee.horizon = 1000;
  int held_g = 0, unused = 0;
  FiringRates(Method::kExact, 5, kDraws, g, &held_g, &unused);
  INFO("exact --guarantee: held-out fired " << held_g << " of " << kDraws);
  CHECK(held_g >= kLow);
  CHECK(held_g <= kHigh);
  int held_s = 0;
  FiringRates(Method::kSingle, 5, kDraws, {}, &held_s, &unused);
  INFO("single: held-out fired " << held_s << " of " << kDraws);
  CHECK(held_s >= kLow);
  CHECK(held_s <= kHigh);
}

TEST_CASE("shift check: fires on MSDNet's given split (Tan et al., AAAI 2021 data)") {
  const std::string dir = testing::SharedData("aaai21/msdnet");
  if (dir.empty()) return;
  DumpOptions dopt;
  dopt.score_order = ScoreOrder::kAscending;
  const Dump dump = LoadDump(dir, dopt);
  REQUIRE(dump.eval);
  const CostProfile prof = LoadProfile(dir + "/profile.yaml");
  const std::vector<int> kept = AllExits(dump.k);
  const ThresholdProblem fit =
      ThresholdProblem::From(dump.fit, Measure::kConfidence, Target::kLabels, prof, kept, 0.0);
  const ThresholdProblem eval =
      ThresholdProblem::From(*dump.eval, Measure::kConfidence, Target::kLabels, prof, kept, 0.0);
  const std::vector<double> budgets = {0.4 * prof.FullCost(), 0.6 * prof.FullCost(),
                                       0.8 * prof.FullCost()};
  SolverOptions g;
  g.guarantee.level = 0.95;
  g.guarantee.horizon = dump.eval->n;
  for (const SolverOptions& o : {SolverOptions{}, g}) {
    for (Method m : {Method::kSingle, Method::kGeometric}) {
      for (const ShiftResult& r : ShiftChecks(m, fit, eval, budgets, o)) {
        INFO(ToString(m) << (o.guarantee.on() ? " --guarantee" : "") << ": p = " << r.p_value);
        REQUIRE(r.tested);
        CHECK(r.shifted);
        CHECK(r.p_value < 1e-10);
        CHECK(r.eval_accuracy < r.held_out_accuracy - 0.02);  // 2-3.5 points less accurate
        CHECK(r.eval_cost > r.held_out_cost);
      }
    }
  }
}
