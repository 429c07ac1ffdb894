// Dumps and per-exit features: hand-computed values, layouts, scores mode and every bad input.
#include <catch2/catch.hpp>
#include <cmath>

#include "profiles/dump.hpp"
#include "profiles/error.hpp"
#include "test_util.hpp"

using namespace exitplan;
using exitplan::testing::TempDir;
using exitplan::testing::WriteNpyAs;

namespace {

// One sample, K = 3 exits, C = 3 classes, label 1 (values worked out by hand in the test).
void WriteHandDump(const std::string& dir, bool kn_layout = false) {
  const double l2 = std::log(2.0);
  // [N=1, K=3, C=3]; for N = 1 the [K, N, C] layout has the same bytes.
  const std::vector<double> logits = {0, 0, 0, l2, 0, 0, 0, 3, 0};
  if (kn_layout) {
    WriteNpyAs(dir + "/val_logits.npy", "<f8", {3, 1, 3}, logits);
  } else {
    WriteNpyAs(dir + "/val_logits.npy", "<f8", {1, 3, 3}, logits);
  }
  WriteNpyAs(dir + "/val_labels.npy", "<i8", {1}, {1});
}

}  // namespace

TEST_CASE("features: hand-computed max_prob, entropy, margin, patience, vote, correctness") {
  for (bool kn : {false, true}) {
    TempDir dir;
    WriteHandDump(dir.path(), kn);
    DumpOptions opt;
    opt.layout = kn ? Layout::kKNC : Layout::kNKC;
    const Dump d = LoadDump(dir.path(), opt);
    REQUIRE(d.k == 3);
    REQUIRE(d.c == 3);
    REQUIRE(d.fit.n == 1);
    REQUIRE_FALSE(d.has_eval());
    const SplitData& s = d.fit;
    const double e3 = std::exp(3.0);
    const auto& mp = s.Scores(Measure::kMaxProb);
    CHECK(mp(0, 0) == Approx(1.0 / 3));
    CHECK(mp(1, 0) == Approx(0.5));
    CHECK(mp(2, 0) == Approx(e3 / (e3 + 2)));
    const auto& en = s.Scores(Measure::kEntropy);
    CHECK(en(0, 0) == Approx(0.0).margin(1e-12));
    CHECK(en(1, 0) == Approx(1.0 - 1.5 * std::log(2.0) / std::log(3.0)));
    const double p = e3 / (e3 + 2), q = 1 / (e3 + 2);
    CHECK(en(2, 0) == Approx(1.0 + (p * std::log(p) + 2 * q * std::log(q)) / std::log(3.0)));
    const auto& mg = s.Scores(Measure::kMargin);
    CHECK(mg(0, 0) == Approx(0.0).margin(1e-12));
    CHECK(mg(1, 0) == Approx(0.25));
    CHECK(mg(2, 0) == Approx((e3 - 1) / (e3 + 2)));
    const auto& pat = s.Scores(Measure::kPatience);
    CHECK(pat(0, 0) == 0.0);
    CHECK(pat(1, 0) == 1.0);
    CHECK(pat(2, 0) == 0.0);
    const auto& vote = s.Scores(Measure::kVote);
    CHECK(vote(0, 0) == 1.0);
    CHECK(vote(1, 0) == 1.0);
    CHECK(vote(2, 0) == Approx(2.0 / 3));
    CHECK(s.predicted(0, 0) == 0);
    CHECK(s.predicted(1, 0) == 0);
    CHECK(s.predicted(2, 0) == 1);
    CHECK(s.correct(0, 0) == 0);
    CHECK(s.correct(2, 0) == 1);
    CHECK(s.agrees_final(0, 0) == 0);
    CHECK(s.agrees_final(2, 0) == 1);
    CHECK(s.Order(Measure::kMaxProb) == ScoreOrder::kDescending);
    CHECK_THROWS_WITH(s.Scores(Measure::kConfidence), Catch::Contains("scores-mode"));
  }
}

TEST_CASE("features: temperatures divide the logits; huge logits stay finite") {
  TempDir dir;
  WriteHandDump(dir.path());
  Dump d = LoadDump(dir.path());
  d.fit.ComputeFeatures({1.0, 2.0, 1.0});
  // exit 2 at T = 2: p proportional to [sqrt(2), 1, 1].
  CHECK(d.fit.Scores(Measure::kMaxProb)(1, 0) == Approx(std::sqrt(2.0) / (std::sqrt(2.0) + 2)));
  CHECK_THROWS_WITH(d.fit.ComputeFeatures({1.0, 2.0}), Catch::Contains("expected 3 values"));

  TempDir big;
  WriteNpyAs(big / "val_logits.npy", "<f4", {1, 1, 3}, {1000, 0, -1000});
  WriteNpyAs(big / "val_labels.npy", "<i4", {1}, {0});
  const Dump b = LoadDump(big.path());
  CHECK(b.fit.Scores(Measure::kMaxProb)(0, 0) == 1.0);
  CHECK(b.fit.Scores(Measure::kEntropy)(0, 0) == Approx(1.0));
  CHECK(std::isfinite(b.fit.Scores(Measure::kMargin)(0, 0)));
}

TEST_CASE("dump: fit and eval splits, npz, and scores mode") {
  TempDir dir;
  exitplan::testing::WriteRandomLogitsDump(dir.path(), "val", 50, 4, 5, 1);
  exitplan::testing::WriteRandomLogitsDump(dir.path(), "test", 30, 4, 5, 2);
  const Dump d = LoadDump(dir.path());
  CHECK(d.mode == DumpMode::kLogits);
  CHECK(d.fit.n == 50);
  REQUIRE(d.has_eval());
  CHECK(d.eval->n == 30);
  // Accuracy against labels agrees with predicted == label.
  for (int i = 0; i < 50; ++i) {
    for (int j = 0; j < 4; ++j) {
      CHECK(d.fit.correct(j, i) == (d.fit.predicted(j, i) == d.fit.labels[i]));
    }
  }
  DumpOptions swapped;
  swapped.fit_split = "test";
  swapped.eval_split = "val";
  CHECK(LoadDump(dir.path(), swapped).fit.n == 30);

  TempDir sc;
  WriteNpyAs(sc / "val_confidence.npy", "<f8", {2, 3}, {0.1, 0.5, 0.9, 0.2, 0.3, 0.4});
  WriteNpyAs(sc / "val_correct.npy", "|b1", {2, 3}, {1, 0, 1, 1, 1, 0});
  DumpOptions asc;
  asc.score_order = ScoreOrder::kAscending;
  const Dump s = LoadDump(sc.path(), asc);
  CHECK(s.mode == DumpMode::kScores);
  CHECK(s.k == 2);
  CHECK(s.fit.n == 3);
  CHECK(s.fit.Scores(Measure::kConfidence)(0, 1) == 0.5);
  CHECK(s.fit.Scores(Measure::kConfidence)(1, 2) == 0.4);
  CHECK(s.fit.correct(1, 2) == 0);
  CHECK(s.fit.Order(Measure::kConfidence) == ScoreOrder::kAscending);
  CHECK_THROWS_WITH(s.fit.Scores(Measure::kMaxProb), Catch::Contains("needs logits"));
  CHECK_THROWS_WITH(s.fit.Correct(Target::kAgreement), Catch::Contains("needs logits"));
}

TEST_CASE("dump: [K, N, C] logits read as [N, K, C] get the --layout hint") {
  TempDir dir;
  // K = 3 exits, N = 5 samples, C = 2 classes, stored [K, N, C].
  WriteNpyAs(dir / "val_logits.npy", "<f4", {3, 5, 2}, std::vector<double>(30, 0.0));
  WriteNpyAs(dir / "val_labels.npy", "<i8", {5}, {0, 1, 0, 1, 0});
  CHECK_THROWS_WITH(LoadDump(dir.path()),
                    Catch::Contains("val_labels.npy") &&
                        Catch::Contains("the logits look like [K, N, C]: give --layout kn"));
  DumpOptions kn;
  kn.layout = Layout::kKNC;
  const Dump d = LoadDump(dir.path(), kn);
  CHECK(d.k == 3);
  CHECK(d.fit.n == 5);
}

TEST_CASE("dump: every bad input is one clear error naming the file") {
  TempDir dir;
  SECTION("no such directory") {
    CHECK_THROWS_WITH(LoadDump(dir / "none"), Catch::Contains("no such dump directory"));
  }
  SECTION("no fit split") {
    CHECK_THROWS_WITH(LoadDump(dir.path()), Catch::Contains("no fit split 'val'"));
  }
  SECTION("labels missing") {
    WriteNpyAs(dir / "val_logits.npy", "<f4", {2, 2, 3}, std::vector<double>(12, 0.0));
    CHECK_THROWS_WITH(LoadDump(dir.path()), Catch::Contains("val_labels.npy: missing"));
  }
  SECTION("labels out of range") {
    WriteNpyAs(dir / "val_logits.npy", "<f4", {2, 2, 3}, std::vector<double>(12, 0.0));
    WriteNpyAs(dir / "val_labels.npy", "<i8", {2}, {0, 3});
    CHECK_THROWS_WITH(LoadDump(dir.path()),
                      Catch::Contains("val_labels.npy") &&
                          Catch::Contains("label 3 at sample 1 is out of range"));
  }
  SECTION("labels of the wrong length") {
    WriteNpyAs(dir / "val_logits.npy", "<f4", {2, 2, 3}, std::vector<double>(12, 0.0));
    WriteNpyAs(dir / "val_labels.npy", "<i8", {3}, {0, 1, 2});
    CHECK_THROWS_WITH(LoadDump(dir.path()), Catch::Contains("expected labels of shape [2]"));
  }
  SECTION("float labels") {
    WriteNpyAs(dir / "val_logits.npy", "<f4", {2, 2, 3}, std::vector<double>(12, 0.0));
    WriteNpyAs(dir / "val_labels.npy", "<f4", {2}, {0, 1});
    CHECK_THROWS_WITH(LoadDump(dir.path()), Catch::Contains("expected integer labels"));
  }
  SECTION("NaN and Inf logits") {
    std::vector<double> v(12, 0.0);
    v[7] = std::nan("");
    WriteNpyAs(dir / "val_logits.npy", "<f4", {2, 2, 3}, v);
    WriteNpyAs(dir / "val_labels.npy", "<i8", {2}, {0, 1});
    CHECK_THROWS_WITH(LoadDump(dir.path()),
                      Catch::Contains("val_logits.npy") &&
                          Catch::Contains("non-finite logit (nan) at sample 1, exit 1"));
    v[7] = INFINITY;
    WriteNpyAs(dir / "val_logits.npy", "<f4", {2, 2, 3}, v);
    CHECK_THROWS_WITH(LoadDump(dir.path()), Catch::Contains("non-finite logit (inf)"));
  }
  SECTION("integer logits and wrong rank") {
    WriteNpyAs(dir / "val_logits.npy", "<i4", {2, 2, 3}, std::vector<double>(12, 0.0));
    WriteNpyAs(dir / "val_labels.npy", "<i8", {2}, {0, 1});
    CHECK_THROWS_WITH(LoadDump(dir.path()), Catch::Contains("expected float16/32/64 logits"));
    WriteNpyAs(dir / "val_logits.npy", "<f4", {2, 6}, std::vector<double>(12, 0.0));
    CHECK_THROWS_WITH(LoadDump(dir.path()), Catch::Contains("expected a 3-d array [N, K, C]"));
  }
  SECTION("K or C differ between splits") {
    exitplan::testing::WriteRandomLogitsDump(dir.path(), "val", 10, 4, 5, 1);
    exitplan::testing::WriteRandomLogitsDump(dir.path(), "test", 10, 3, 5, 2);
    CHECK_THROWS_WITH(LoadDump(dir.path()), Catch::Contains("test_logits.npy") &&
                                                Catch::Contains("K = 3 exits") &&
                                                Catch::Contains("K = 4"));
    exitplan::testing::WriteRandomLogitsDump(dir.path(), "test", 10, 4, 6, 2);
    CHECK_THROWS_WITH(LoadDump(dir.path()), Catch::Contains("C = 6 classes"));
  }
  SECTION("scores mode: non 0/1 correctness, shape mismatch, missing partner") {
    WriteNpyAs(dir / "val_confidence.npy", "<f8", {2, 2}, {0.1, 0.2, 0.3, 0.4});
    CHECK_THROWS_WITH(LoadDump(dir.path()), Catch::Contains("val_correct.npy: missing"));
    WriteNpyAs(dir / "val_correct.npy", "<f8", {2, 2}, {1, 0, 0.5, 1});
    CHECK_THROWS_WITH(LoadDump(dir.path()),
                      Catch::Contains("expected 0/1 correctness values, found 0.5"));
    WriteNpyAs(dir / "val_correct.npy", "<f8", {2, 3}, {1, 0, 0, 1, 1, 1});
    CHECK_THROWS_WITH(LoadDump(dir.path()), Catch::Contains("expected shape [2, 2]"));
  }
  SECTION("bad option values") {
    CHECK_THROWS_WITH(LayoutFromString("xy"), Catch::Contains("unknown layout 'xy'"));
    CHECK_THROWS_WITH(ScoreOrderFromString("up"), Catch::Contains("unknown score order 'up'"));
    CHECK_THROWS_WITH(MeasureFromString("maxprob"), Catch::Contains("unknown measure 'maxprob'"));
  }
}
