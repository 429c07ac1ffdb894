// Tests of EENet training, Algorithm 1 and scorer files (optim/eenet.hpp).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <limits>

#include "optim/eenet.hpp"
#include "optim/eenet_compare.hpp"
#include "profiles/dump.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/npy.hpp"
#include "profiles/profile.hpp"
#include "profiles/sha256.hpp"
#include "test_util.hpp"

using namespace exitplan;
using exitplan::testing::Close;
using exitplan::testing::TempDir;
namespace fs = std::filesystem;

namespace {

EENetOptions Quick() {
  EENetOptions o;
  o.max_epochs = 40;
  o.patience = 10;
  o.learning_rate = 3e-3;
  o.batch_size = 128;
  return o;
}

}  // namespace

TEST_CASE("Algorithm 1 quotas on a hand example", "[eenet][algorithm1]") {
  // K = 3, N = 5 scores. p = (0.4, 0.4, 0.2): quotas 2, 2, rest.
  ScoreMatrix s(3, 5);
  s << 0.9, 0.1, 0.8, 0.7, 0.3,  // exit 1 takes samples 0 (0.9) and 2 (0.8): t1 = 0.8
      0.5, 0.6, 0.99, 0.2, 0.4,  // exit 2 among {1, 3, 4}: 1 (0.6), 4 (0.4): t2 = 0.4
      0.0, 0.0, 0.0, 0.0, 0.0;
  const std::vector<double> t = QuotaThresholds(s, {0.4, 0.4, 0.2});
  REQUIRE(t.size() == 2);
  REQUIRE(t[0] == 0.8);
  REQUIRE(t[1] == 0.4);
  // Algorithm 2 through the exact evaluator realises those quotas.
  CorrectMatrix c = CorrectMatrix::Ones(3, 5);
  Policy p{AllExits(3), t};
  const Evaluation ev = Evaluate(s, ScoreOrder::kDescending, c, {1, 2, 3}, p);
  REQUIRE(ev.exit_count == std::vector<std::int64_t>{2, 2, 1});
  // A zero quota: nobody exits (threshold +inf).
  const std::vector<double> t0 = QuotaThresholds(s, {0.0, 0.6, 0.4});
  REQUIRE(std::isinf(t0[0]));
  REQUIRE(t0[1] == 0.5);  // 0.99, 0.6, 0.5 taken
}

TEST_CASE("Algorithm 1 quotas equal round(N p_k) on random untied scores", "[eenet][algorithm1]") {
  std::mt19937 rng(4);
  std::uniform_real_distribution<double> u(0, 1);
  const int k = 4, n = 101;
  ScoreMatrix s(k, n);
  for (int j = 0; j < k; ++j)
    for (int i = 0; i < n; ++i) s(j, i) = u(rng);
  const std::vector<double> p = {0.3, 0.25, 0.2, 0.25};
  const Policy pol{AllExits(k), QuotaThresholds(s, p)};
  const Evaluation ev =
      Evaluate(s, ScoreOrder::kDescending, CorrectMatrix::Ones(k, n), {1, 2, 3, 4}, pol);
  REQUIRE(ev.exit_count[0] == std::lround(n * 0.3));
  REQUIRE(ev.exit_count[1] == std::lround(n * 0.25));
  REQUIRE(ev.exit_count[2] == std::lround(n * 0.2));
}

TEST_CASE("tilted and geometric distributions", "[eenet]") {
  const std::vector<double> p = {0.25, 0.25, 0.5}, c = {1, 2, 4};
  REQUIRE(TiltDistribution(p, c, 0.0) == std::vector<double>{0.25, 0.25, 0.5});
  auto cost = [&](const std::vector<double>& q) { return q[0] * c[0] + q[1] * c[1] + q[2] * c[2]; };
  REQUIRE(cost(TiltDistribution(p, c, 1.0)) < cost(p));
  REQUIRE(cost(TiltDistribution(p, c, -1.0)) > cost(p));
  // Hand value: lambda = 4 (c_max = 4): weights 0.25 e^-1, 0.25 e^-2, 0.5 e^-4.
  const std::vector<double> t = TiltDistribution(p, c, 4.0);
  const double z = 0.25 * std::exp(-1) + 0.25 * std::exp(-2) + 0.5 * std::exp(-4);
  REQUIRE(Close(t[0], 0.25 * std::exp(-1) / z));
  const std::vector<double> g = GeometricDistribution(c, 2.5);
  REQUIRE(Close(cost(g), 2.5, 1e-9));
  REQUIRE(Close(g[1] / g[0], g[2] / g[1], 1e-9));     // geometric
  REQUIRE(GeometricDistribution(c, 0.5)[0] > 0.999);  // below the cheapest: all at exit 1
}

TEST_CASE("EENet trains deterministically and meets the budget on the fit split", "[eenet]") {
  TempDir dir;
  exitplan::testing::WriteRandomLogitsDump(dir.path(), "val", 600, 4, 5, 9);
  const Dump dump = LoadDump(dir.path());
  const std::vector<double> cost = {1.0, 2.0, 3.0, 4.0};
  const EENetSummary a = FitEENet(dump.fit, dump.fit.correct, cost, 2.2, Quick());
  const EENetSummary b = FitEENet(dump.fit, dump.fit.correct, cost, 2.2, Quick());
  INFO(a.FullReport());
  REQUIRE(a.ok());
  REQUIRE(a.epochs > 1);
  REQUIRE(a.scorer.theta.size() == a.scorer.layout.size);
  REQUIRE(a.scorer.theta == b.scorer.theta);  // bit for bit
  REQUIRE(a.policy.thresholds == b.policy.thresholds);
  REQUIRE(a.train_loss == b.train_loss);
  EENetOptions other = Quick();
  other.seed = 2;
  const EENetSummary c = FitEENet(dump.fit, dump.fit.correct, cost, 2.2, other);
  REQUIRE(c.scorer.theta != a.scorer.theta);
  // Within budget on the fit split, and the budget is used (kMatch): within one sample's worth.
  REQUIRE(a.fit.mean_cost <= 2.2 + 1e-12);
  REQUIRE(a.fit.mean_cost > 2.2 - 3.0 / 600 * 2);
  // The fit figures are the exact evaluator's on the learned scores (Algorithm 2).
  const ScoreMatrix q = a.scorer.Score(dump.fit);
  const Evaluation ev = Evaluate(q, ScoreOrder::kDescending, dump.fit.correct, cost, a.policy);
  REQUIRE(ev.accuracy == a.fit.accuracy);
  REQUIRE(ev.mean_cost == a.fit.mean_cost);
  // The distribution is a distribution.
  double s = 0;
  for (double v : a.distribution) s += v;
  REQUIRE(Close(s, 1.0, 1e-9));
  // Loss went down from the first epoch.
  REQUIRE(a.best_holdout_loss < a.holdout_loss.front());
}

TEST_CASE("EENet budget modes and infeasible budgets", "[eenet]") {
  TempDir dir;
  exitplan::testing::WriteRandomLogitsDump(dir.path(), "val", 300, 3, 4, 1);
  const Dump dump = LoadDump(dir.path());
  const std::vector<double> cost = {1.0, 2.0, 3.0};
  EENetOptions o = Quick();
  o.budget_fit = BudgetFit::kRepair;
  const EENetSummary r = FitEENet(dump.fit, dump.fit.correct, cost, 1.5, o);
  REQUIRE(r.fit.mean_cost <= 1.5 + 1e-12);
  const EENetSummary inf = FitEENet(dump.fit, dump.fit.correct, cost, 0.5, o);
  REQUIRE(inf.outcome == Outcome::kInfeasible);
  REQUIRE_THAT(inf.message, Catch::Contains("below the cheapest"));
  REQUIRE(inf.holdout_loss.empty());  // refused before any training
}

TEST_CASE("EENet options validate themselves", "[eenet]") {
  EENetOptions o;
  REQUIRE(o.Validate().empty());
  o.learning_rate = -1;
  o.batch_size = 0;
  o.holdout_fraction = 0.95;
  const std::string e = o.Validate();
  REQUIRE_THAT(e, Catch::Contains("learning_rate = -1: must be > 0"));
  REQUIRE_THAT(e, Catch::Contains("batch_size = 0: must be >= 1"));
  REQUIRE_THAT(e, Catch::Contains("holdout_fraction = 0.95"));
  REQUIRE(std::count(e.begin(), e.end(), '\n') == 2);
  REQUIRE(BudgetFitFromString("match") == BudgetFit::kMatch);
  REQUIRE_THROWS_WITH(BudgetFitFromString("x"),
                      Catch::Contains("expected none, repair, match or best"));
}

TEST_CASE("scorer files round-trip bit for bit and refuse mismatched dumps", "[eenet][yaml]") {
  TempDir dir;
  exitplan::testing::WriteRandomLogitsDump(dir.path(), "val", 200, 3, 4, 2);
  const Dump dump = LoadDump(dir.path());
  const EENetSummary s = FitEENet(dump.fit, dump.fit.correct, {1, 2, 3}, 2.0, Quick());
  ScorerFile f;
  f.scorer = s.scorer;
  f.scorer.temperatures = {1.5, 1.0, 0.75};
  f.policy = s.policy;
  f.policy.thresholds[0] = std::numeric_limits<double>::infinity();
  f.budget = 2.0;
  f.unit = "ms";
  f.distribution = s.distribution;
  f.provenance = "exitplan fit-scorer --dump \"x\"";
  SaveScorer(dir / "s.yaml", f);
  const ScorerFile g = LoadScorer(dir / "s.yaml");
  REQUIRE(g.scorer.theta == f.scorer.theta);
  REQUIRE(g.scorer.layout.hidden == f.scorer.layout.hidden);
  REQUIRE(g.scorer.temperatures == f.scorer.temperatures);
  REQUIRE(g.policy.thresholds == f.policy.thresholds);
  REQUIRE(g.policy.kept == f.policy.kept);
  REQUIRE(g.provenance == f.provenance);
  REQUIRE(g.unit == "ms");
  REQUIRE(g.scorer.Score(dump.fit) == f.scorer.Score(dump.fit));
  // K mismatch.
  TempDir other;
  exitplan::testing::WriteRandomLogitsDump(other.path(), "val", 20, 4, 4, 2);
  const Dump d4 = LoadDump(other.path());
  REQUIRE_THROWS_WITH(
      g.scorer.Score(d4.fit),
      Catch::Contains("trained for K = 3 exits and C = 4") && Catch::Contains("has K = 4, C = 4"));
  // The weights are an .npz beside the YAML, which is small and holds no weights.
  const std::string text = ReadFile(dir / "s.yaml");
  CHECK(fs::exists(dir / "s.npz"));
  CHECK(text.find("w_shared:") == std::string::npos);
  CHECK_THAT(text, Catch::Contains("schema_version: 2") &&
                       Catch::Contains("weights: {file: \"s.npz\", sha256: "));
  const NpyArray w1 = ReadNpzMember(dir / "s.npz", "exit1_w_shared");
  CHECK(w1.shape() ==
        std::vector<std::size_t>{static_cast<std::size_t>(f.scorer.layout.hidden[0]),
                                 static_cast<std::size_t>(f.scorer.layout.inputs[0])});
  CHECK(w1.At(1) == f.scorer.theta[f.scorer.layout.hidden[0]]);  // W[0][1], column-major in theta
  // Version-1 files (weights as YAML text) are still read, to the same weights.
  const std::string v1 = ScorerToYamlV1(f);
  exitplan::testing::WriteText(dir / "old.yaml", v1);
  const ScorerFile h = LoadScorer(dir / "old.yaml");
  REQUIRE(h.scorer.theta == f.scorer.theta);
  REQUIRE(h.policy.thresholds == f.policy.thresholds);
  // Bad files.
  exitplan::testing::WriteText(
      dir / "v.yaml",
      std::string(text).replace(text.find("schema_version: 2"), 17, "schema_version: 9"));
  REQUIRE_THROWS_WITH(LoadScorer(dir / "v.yaml"),
                      Catch::Contains("schema_version 9 is not supported"));
  exitplan::testing::WriteText(dir / "u.yaml", text + "extra: 1\n");
  REQUIRE_THROWS_WITH(LoadScorer(dir / "u.yaml"), Catch::Contains("unknown key 'extra'"));
  exitplan::testing::WriteText(dir / "e.yaml", text + "exits: []\n");  // a version-1 key
  REQUIRE_THROWS_WITH(LoadScorer(dir / "e.yaml"), Catch::Contains("unknown key 'exits'"));
  const std::size_t pos = v1.rfind('\n', v1.find("b_utility:")) + 1;
  std::string missing = v1;
  missing.erase(pos, missing.find('\n', pos) - pos + 1);
  exitplan::testing::WriteText(dir / "m.yaml", missing);
  REQUIRE_THROWS_WITH(LoadScorer(dir / "m.yaml"),
                      Catch::Contains("missing field 'exits[0].b_utility'"));
  exitplan::testing::WriteText(dir / "bad.yaml", "k: [1,\n");
  REQUIRE_THROWS_WITH(LoadScorer(dir / "bad.yaml"), Catch::Contains("not valid YAML"));
  // Weights of another scorer (same shapes, other values): the recorded SHA-256 tells.
  ScorerFile other_f = f;
  other_f.scorer.theta[0] += 1.0;
  SaveScorer(dir / "t.yaml", other_f);
  fs::copy_file(dir / "t.npz", dir / "s.npz", fs::copy_options::overwrite_existing);
  REQUIRE_THROWS_WITH(LoadScorer(dir / "s.yaml"),
                      Catch::StartsWith(dir / "s.npz: is not the weights " + dir / "s.yaml") &&
                          Catch::Contains("re-run exitplan fit-scorer"));
  fs::remove(dir / "s.npz");
  REQUIRE_THROWS_WITH(LoadScorer(dir / "s.yaml"), Catch::Contains("s.npz"));
  // A member of the wrong shape, with a matching SHA-256.
  SaveScorer(dir / "s.yaml", f);
  const std::string npz = NpzBytes({{"exit1_w_shared", {1, 2}, {0.5, 0.25}}});
  exitplan::testing::WriteText(dir / "w.npz", npz);
  std::string wrong = ReadFile(dir / "s.yaml");
  const std::size_t wpos = wrong.find("\nweights:") + 1;
  wrong = wrong.substr(0, wpos) + "weights: {file: w.npz, sha256: " + Sha256Hex(npz) + "}\n";
  exitplan::testing::WriteText(dir / "w.yaml", wrong);
  REQUIRE_THROWS_WITH(
      LoadScorer(dir / "w.yaml"),
      Catch::Contains("w.npz: member exit1_w_shared is float64 [1, 2], expected float [" +
                      std::to_string(f.scorer.layout.hidden[0]) + ", " +
                      std::to_string(f.scorer.layout.inputs[0]) + "]"));
  // A weights file outside the scorer's folder.
  exitplan::testing::WriteText(dir / "p.yaml",
                               wrong.substr(0, wpos) + "weights: {file: ../x.npz, sha256: 00}\n");
  REQUIRE_THROWS_WITH(LoadScorer(dir / "p.yaml"),
                      Catch::Contains("must be a file name beside the scorer file"));
  // An .npz path for the YAML is refused before anything is written.
  REQUIRE_THROWS_WITH(SaveScorer(dir / "n.npz", f), Catch::Contains("give the scorer's YAML file"));
  CHECK_FALSE(fs::exists(dir / "n.npz"));
}

TEST_CASE("EENet refuses scores-mode dumps", "[eenet]") {
  TempDir dir;
  exitplan::testing::WriteNpyAs(dir / "val_confidence.npy", "<f8", {2, 2}, {0.1, 0.2, 0.3, 0.4});
  exitplan::testing::WriteNpyAs(dir / "val_correct.npy", "|u1", {2, 2}, {1, 0, 1, 1});
  const Dump dump = LoadDump(dir.path());
  REQUIRE_THROWS_WITH(FitEENet(dump.fit, dump.fit.correct, {1, 2}, 1.5),
                      Catch::Contains("needs per-exit logits"));
}
