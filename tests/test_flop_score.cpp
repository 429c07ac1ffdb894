// Tests of dse/flop_score: the tolerance thresholds (the unsupervised early-exit paper (2023) eq.
// 3), eq. 4 by hand, and the bitset enumeration against a brute-force reference on small random
// dumps.
#include <catch2/catch.hpp>

#include "dse/flop_score.hpp"
#include "dse/place_run.hpp"
#include "placement_test_util.hpp"
#include "profiles/error.hpp"

using namespace exitplan;
using exitplan::testing::MakeSmallProblem;

TEST_CASE("tolerance threshold admits the most confident groups while wrong <= allowance") {
  const std::vector<double> s = {0.9, 0.8, 0.8, 0.7, 0.6};
  const std::vector<std::uint8_t> c = {1, 0, 1, 0, 1};
  using O = ScoreOrder;
  CHECK(ToleranceThreshold(s.data(), c.data(), 5, 1, O::kDescending, 0.0) == 0.9);
  CHECK(ToleranceThreshold(s.data(), c.data(), 5, 1, O::kDescending, 1.0) == 0.8);
  CHECK(ToleranceThreshold(s.data(), c.data(), 5, 1, O::kDescending, 1.5) == 0.8);
  CHECK(ToleranceThreshold(s.data(), c.data(), 5, 1, O::kDescending, 2.0) == 0.6);
  // Most confident sample wrong and nothing allowed: no sample passes.
  const std::vector<std::uint8_t> c0 = {0, 1, 1, 1, 1};
  const double t = ToleranceThreshold(s.data(), c0.data(), 5, 1, O::kDescending, 0.0);
  CHECK(t > 0.9);
  CHECK_FALSE(Passes(0.9, t, O::kDescending));
  // Ascending: small is confident, score < t passes.
  const std::vector<double> a = {0.1, 0.2, 0.2, 0.3, 0.4};
  CHECK(ToleranceThreshold(a.data(), c.data(), 5, 1, O::kAscending, 1.0) == 0.3);
  CHECK(ToleranceThreshold(a.data(), c0.data(), 5, 1, O::kAscending, 0.0) == 0.1);
  const double all = ToleranceThreshold(a.data(), c.data(), 5, 1, O::kAscending, 5.0);
  CHECK(Passes(0.4, all, O::kAscending));
}

TEST_CASE("threshold table halves the drop budget per position") {
  // One candidate exit, 8 samples, scores descending 8..1, wrong at ranks 2, 4, 6, 8.
  ScoreMatrix sc(3, 8);
  CorrectMatrix co(3, 8);
  for (int i = 0; i < 8; ++i) {
    sc(0, i) = 8 - i;
    sc(1, i) = 0;
    sc(2, i) = 0;
    co(0, i) = (i % 2 == 0) ? 1 : 0;
    co(1, i) = 1;
    co(2, i) = 1;
  }
  // T = 0.5: position 1 allows 8 * 0.5 / 2 = 2 wrong -> admits scores 8..4 (wrong: 7, 5) -> t = 4,
  // stopping before 3 (the third wrong). Position 2 allows 1 wrong: admits 8..6 -> t = 6.
  const auto table = ToleranceThresholdTable(sc, co, ScoreOrder::kDescending, 0.5);
  REQUIRE(table.size() == 2);
  CHECK(table[0][0] == 4.0);
  CHECK(table[0][1] == 6.0);
}

TEST_CASE("eq. 4 on a hand-made dump") {
  // K = 3, N = 4. Exit 1 and 2 candidates. Profile: backbone 1, 3, 6; heads 0.5, 0.25, 0.125.
  // C1 = head, C2 = 6 + 0.125 - backbone.
  ScoreMatrix sc(3, 4);
  CorrectMatrix co(3, 4);
  sc << 0.9, 0.2, 0.8, 0.1,  //
      0.5, 0.9, 0.5, 0.95,   //
      1, 1, 1, 1;
  co.setOnes();
  CostProfile prof;
  prof.backbone = {1, 3, 6};
  prof.head = {0.5, 0.25, 0.125};
  prof.names = {"a", "b", "c"};
  PlacementProblem p;
  p.scores = &sc;
  p.correct = &co;
  p.profile = &prof;
  // With everything correct, each threshold admits all samples: every sample passes its first
  // kept exit. Use a hand table instead: exit 1 passes >= 0.85, exit 2 >= 0.9 (position 1 or 2).
  std::vector<std::vector<double>> table = {{0.85, 0.85}, {0.9, 0.9}};
  // S = {1}: hits 1 (sample 0), misses 3: 1 * (6.125 - 1 - 0.5) - 3 * 0.5 = 4.625 - 1.5 = 3.125.
  CHECK(ScoreSubset(p, table, 0b01).score == Approx(3.125));
  // S = {2}: hits 2, misses 2: 2 * (6.125 - 3 - 0.25) - 2 * 0.25 = 5.75 - 0.5 = 5.25.
  CHECK(ScoreSubset(p, table, 0b10).score == Approx(5.25));
  // S = {1, 2}: exit 1 as before (3.125); exit 2 sees samples 1, 2, 3: hits 1, 3 -> 2, misses 1:
  // 2 * 2.875 - 0.25 = 5.5; total 8.625.
  const SubsetScore both = ScoreSubset(p, table, 0b11);
  CHECK(both.score == Approx(8.625));
  CHECK(both.hits == std::vector<std::int64_t>{1, 2});
  CHECK(both.misses == std::vector<std::int64_t>{3, 1});
  CHECK(ScoreSubset(p, table, 0).score == 0.0);
}

TEST_CASE("flop-score enumeration equals brute force on small random dumps") {
  for (unsigned seed = 1; seed <= 12; ++seed) {
    const int k = 3 + static_cast<int>(seed % 6);  // 3..8 exits
    const auto sp = MakeSmallProblem(k, 150 + 17 * seed, seed);
    const PlacementProblem p = sp.problem();
    FlopScoreOptions o;
    o.tolerance = 0.02 + 0.03 * (seed % 4);
    o.threads = 1 + seed % 3;
    o.keep_top = 3;
    const FlopScoreSummary s = FlopScore(p, o);
    REQUIRE(s.ok());
    CHECK(s.subsets == (std::uint64_t{1} << (k - 1)));
    const auto table = ToleranceThresholdTable(sp.scores, sp.agree, p.order, o.tolerance);
    double best = -1e300;
    SubsetMask best_mask = 0;
    for (SubsetMask m = 0; m < (SubsetMask{1} << (k - 1)); ++m) {
      const double v = ScoreSubset(p, table, m).score;
      if (v > best) best = v, best_mask = m;
    }
    INFO("seed " << seed);
    CHECK(s.best.mask == best_mask);
    CHECK(s.best.score == best);
    CHECK(ScoreSubset(p, table, s.best.mask).score == s.best.score);
    // The policy's fit figures come from the exact evaluator.
    const Evaluation ev = p.EvaluateFit(s.policy);
    CHECK(ev.accuracy == s.fit.accuracy);
    CHECK(s.top.size() == std::min<std::size_t>(3, s.subsets));
    for (std::size_t q = 1; q < s.top.size(); ++q) CHECK(s.top[q - 1].score >= s.top[q].score);
    // Same answer on one thread.
    o.threads = 1;
    const FlopScoreSummary s1 = FlopScore(p, o);
    CHECK(s1.best.mask == s.best.mask);
    CHECK(s1.best.score == s.best.score);
  }
}

TEST_CASE("flop-score rejects bad input") {
  const auto sp = MakeSmallProblem(4, 50, 3);
  PlacementProblem p = sp.problem();
  for (double t : {0.0, 1.0, -0.1, 1.5}) {
    FlopScoreOptions o;
    o.tolerance = t;
    CHECK_FALSE(o.Validate().empty());
    CHECK_THROWS_AS(FlopScore(p, o), InputError);
  }
  CostProfile cum = sp.profile;
  cum.has_heads = false;
  p.profile = &cum;
  CHECK_THROWS_WITH(FlopScore(p), Catch::Contains("head costs"));
  p.profile = &sp.profile;
  FlopScoreOptions o;
  o.max_candidates = 2;
  CHECK_THROWS_WITH(FlopScore(p, o), Catch::Contains("greedy"));
}

namespace {

// An LLM-like dump: confidence rising with depth against a per-sample difficulty, correctness
// near the confidence, equal layers and heads ~0.4 of a layer (costs on a 1/64 grid, so equal
// scores happen).
exitplan::testing::SmallProblem MakeDeepProblem(int k, int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  exitplan::testing::SmallProblem s;
  s.scores.resize(k, n);
  s.correct.resize(k, n);
  s.agree.resize(k, n);
  for (int i = 0; i < n; ++i) {
    const double h = 1.3 * u(rng) - 0.1;
    for (int e = 0; e < k; ++e) {
      const double conf = 1.0 / (1.0 + std::exp(-(6.0 * ((e + 1.0) / k - h) + 1.2 * u(rng) - 0.6)));
      s.scores(e, i) = std::round(conf * 64.0) / 64.0;
      s.correct(e, i) = u(rng) < 0.05 + 0.9 * conf ? 1 : 0;
      s.agree(e, i) = e == k - 1 || u(rng) < 0.1 + 0.9 * conf ? 1 : 0;
    }
  }
  s.profile.unit = "flops";
  s.profile.target = "test";
  s.profile.source = "test-profile.yaml";
  for (int e = 0; e < k; ++e) {
    s.profile.backbone.push_back(e + 1.0);
    s.profile.head.push_back(std::round(64.0 * (0.3 + 0.2 * u(rng))) / 64.0);
    s.profile.names.push_back("e" + std::to_string(e + 1));
  }
  s.eval_scores = s.scores;
  s.eval_correct = s.correct;
  return s;
}

}  // namespace

TEST_CASE("flop-score branch and bound returns what scoring every subset returns") {
  // Up to 20 candidates: the same best subsets in the same order with bit-identical scores, every
  // subset either scored or ruled out, and the bound ruling out most of them on the larger dumps.
  std::uint64_t pruned_big = 0, all_big = 0;
  for (unsigned seed = 1; seed <= 10; ++seed) {
    const int k = 12 + static_cast<int>(seed % 10);  // 12..21 exits
    const int n = 200 + 37 * static_cast<int>(seed);
    const auto sp = seed % 2 ? MakeDeepProblem(k, n, seed) : MakeSmallProblem(k, n, seed, 12);
    const PlacementProblem p = sp.problem();
    FlopScoreOptions o;
    o.tolerance = 0.03 + 0.04 * (seed % 3);
    o.threads = 1 + seed % 2;
    o.keep_top = 1 + static_cast<int>(seed % 4) * 3;
    o.prune = false;
    const FlopScoreSummary full = FlopScore(p, o);
    o.prune = true;
    const FlopScoreSummary bb = FlopScore(p, o);
    INFO("seed " << seed << ", " << k - 1 << " candidates, keep_top " << o.keep_top);
    CHECK(full.subsets == (std::uint64_t{1} << (k - 1)));
    CHECK(full.pruned == 0);
    CHECK(bb.subsets + bb.pruned == full.subsets);
    REQUIRE(bb.top.size() == full.top.size());
    for (std::size_t q = 0; q < bb.top.size(); ++q) {
      CHECK(bb.top[q].mask == full.top[q].mask);
      CHECK(bb.top[q].score == full.top[q].score);  // bit-identical
    }
    CHECK(bb.best.mask == full.best.mask);
    CHECK(bb.fit.accuracy == full.fit.accuracy);
    // Another thread count: the same list and the same counts.
    o.threads = 3 - o.threads;
    const FlopScoreSummary other = FlopScore(p, o);
    CHECK(other.subsets == bb.subsets);
    CHECK(other.best.mask == bb.best.mask);
    CHECK(other.best.score == bb.best.score);
    if (k >= 18) pruned_big += bb.pruned, all_big += full.subsets;
  }
  // The bound must do real work where it matters (more than 90% of the subsets ruled out).
  CHECK(pruned_big > 0.9 * static_cast<double>(all_big));
}

TEST_CASE("flop-score beyond the old 24-candidate limit on a deep dump") {
  // 40 candidates: 2^40 subsets could not be scored one by one; the best subset must be at least
  // as good as every subset the hill climb and a few hand-made sets reach, by eq. 4 recomputed
  // sample by sample.
  const auto sp = MakeDeepProblem(41, 3000, 99);
  const PlacementProblem p = sp.problem();
  FlopScoreOptions o;
  o.max_candidates = 40;
  o.keep_top = 5;
  const FlopScoreSummary s = FlopScore(p, o);
  REQUIRE(s.ok());
  CHECK(s.subsets + s.pruned == (std::uint64_t{1} << 40));
  CHECK(s.subsets < (std::uint64_t{1} << 30));
  const auto table = ToleranceThresholdTable(sp.scores, sp.agree, p.order, o.tolerance);
  CHECK(ScoreSubset(p, table, s.best.mask).score == Approx(s.best.score).epsilon(1e-12));
  std::mt19937_64 rng(5);
  for (int t = 0; t < 2000; ++t) {
    SubsetMask mk = 0;
    for (int b = 0; b < 1 + t % 6; ++b) mk |= SubsetMask{1} << (rng() % 40);
    CHECK(ScoreSubset(p, table, mk).score <= s.best.score + 1e-9 * std::abs(s.best.score));
  }
  // Every exit one by one, and the top list is sorted.
  for (int j = 0; j < 40; ++j)
    CHECK(ScoreSubset(p, table, SubsetMask{1} << j).score <= s.best.score);
  for (std::size_t q = 1; q < s.top.size(); ++q) CHECK(s.top[q - 1].score >= s.top[q].score);
  // The limit is checked before any work and names the methods to use instead.
  o.max_candidates = 39;
  CHECK_THROWS_WITH(FlopScore(p, o), Catch::Contains("greedy-th"));
  o.max_candidates = 63;
  CHECK_THROWS_WITH(FlopScore(p, o), Catch::Contains("1..62"));
}

TEST_CASE("place refuses a method's candidate limit before any method runs") {
  const auto sp = MakeSmallProblem(6, 300, 4);
  const PlacementProblem p = sp.problem();
  PlaceRunOptions o;
  o.methods = {PlacementMethod::kGreedyTh, PlacementMethod::kExhaustive};
  o.solver = Method::kSingle;
  o.budgets = {0.5 * sp.profile.FullCost()};
  o.threads = 1;
  o.max_candidates = 4;
  std::vector<std::string> phases;
  Progress progress([&](const ProgressUpdate& u) { phases.push_back(u.phase); });
  o.progress = &progress;
  CHECK_THROWS_WITH(RunPlace(p, o), Catch::StartsWith("exhaustive: the dump has 5 candidate "
                                                      "exits, more than the enumeration limit 4") &&
                                        Catch::Contains("use --method greedy-forward"));
  CHECK(phases.empty());  // greedy-th, listed first, never started
  o.methods = {PlacementMethod::kGreedyTh, PlacementMethod::kFlopScore};
  CHECK_THROWS_WITH(RunPlace(p, o), Catch::Contains("flop-score: the dump has 5 candidate exits, "
                                                    "more than the search limit 4") &&
                                        Catch::Contains("at most 62"));
  CHECK(phases.empty());
  o.max_candidates = 5;  // within both limits: runs
  const PlaceRunResult res = RunPlace(p, o);
  CHECK_FALSE(phases.empty());
  CHECK(res.rows.size() >= 2);
}
