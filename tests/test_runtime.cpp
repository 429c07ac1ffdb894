// The header-only runtime must decide exactly as the evaluator does: every sample of the project's
// example dump is replayed through it, for every logits measure and several kept-exit sets.
#include <catch2/catch.hpp>
#include <random>
#include <type_traits>

#include "dse/config.hpp"
#include "exitplan/runtime.hpp"
#include "profiles/dump.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/io.hpp"
#include "profiles/profile.hpp"
#include "profiles/stats.hpp"
#include "test_util.hpp"

using namespace exitplan;
namespace rt = exitplan::runtime;

namespace {

// A config through the same writer the sweep and export use, read back by the runtime.
rt::Config Roundtrip(const Policy& p, const std::string& measure, int k,
                     const std::string& order = "descending") {
  ResultRow row;
  row.model = "m";
  row.target = "t";
  row.unit = "ms";
  row.method = "test";
  row.measure = measure;
  row.kept_exits = p.kept;
  row.thresholds = p.thresholds;
  row.budget = 1;
  row.fit_acc = 0.9;
  row.fit_cost = 1;
  row.exit_fractions.assign(k, 1.0 / k);
  ConfigContext ctx;
  ctx.score_order = order;
  return rt::ParseConfig(ConfigToJson(ConfigFromRow(row, ctx)), "roundtrip.json");
}

// Exit each sample stops at, through the runtime, feeding every exit's logits in order.
std::vector<int> Replay(const SplitData& s, const rt::Config& c) {
  std::vector<int> out(s.n);
  std::vector<double> z(s.c);
  rt::Decider d(c);
  for (int i = 0; i < s.n; ++i) {
    d.Reset();
    out[i] = -1;
    for (int j = 0; j < s.k; ++j) {
      if (!d.Runs(j)) continue;
      s.Logits(i, j, z.data());
      if (d.Step(j, z.data(), s.c)) {
        out[i] = j;
        break;
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("runtime replays every sample of data/example exactly as the evaluator") {
  const std::string dir = testing::ProjectPath("data/example");
  const Dump dump = LoadDump(dir);
  REQUIRE(dump.has_eval());
  const int k = dump.k;
  const std::vector<std::vector<int>> kept_sets = {AllExits(k), {0, 2, k - 1}, {1, k - 1}, {k - 1}};
  long checked = 0, early = 0;
  for (const SplitData* s : {&dump.fit, &*dump.eval}) {
    for (const Measure m : {Measure::kMaxProb, Measure::kEntropy, Measure::kMargin,
                            Measure::kPatience, Measure::kVote}) {
      const ScoreMatrix& sc = s->Scores(m);
      for (const auto& kept : kept_sets) {
        for (const double q : {0.3, 0.7}) {
          Policy p;
          p.kept = kept;
          for (std::size_t e = 0; e + 1 < kept.size(); ++e) {
            // A threshold that is exactly one of the scores, so ties are exercised too.
            std::vector<double> row(sc.cols());
            for (int i = 0; i < s->n; ++i) row[i] = sc(kept[e], i);
            std::sort(row.begin(), row.end());
            p.thresholds.push_back(row[static_cast<std::size_t>(q * (row.size() - 1))]);
          }
          const std::vector<int> expected = ExitOfSamples(sc, ScoreOrder::kDescending, p);
          const std::vector<int> got = Replay(*s, Roundtrip(p, ToString(m), k));
          REQUIRE(got.size() == expected.size());
          int mismatches = 0;
          for (std::size_t i = 0; i < got.size(); ++i) {
            mismatches += got[i] != expected[i];
            early += expected[i] != k - 1;
          }
          INFO(s->name << " " << ToString(m) << " q=" << q << " kept " << kept.size());
          CHECK(mismatches == 0);
          checked += static_cast<long>(got.size());
        }
      }
    }
  }
  CHECK(checked == 2L * 5 * 4 * 2 * (dump.fit.n + dump.eval->n) / 2);
  CHECK(early > checked / 4);  // the thresholds really stop samples early
}

TEST_CASE("runtime: ascending scores (scores-mode dumps) stop on score < t, ties continue") {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> level(0, 9);
  const int k = 4, n = 500;
  ScoreMatrix sc(k, n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < k; ++j) sc(j, i) = level(rng) / 10.0;  // many ties
  }
  Policy p;
  p.kept = {0, 2, 3};
  p.thresholds = {0.3, 0.5};
  const std::vector<int> expected = ExitOfSamples(sc, ScoreOrder::kAscending, p);
  const rt::Config c = Roundtrip(p, "confidence", k, "ascending");
  CHECK(c.ascending);
  rt::Decider d(c);
  for (int i = 0; i < n; ++i) {
    d.Reset();
    int stop = -1;
    for (int j = 0; j < k && stop < 0; ++j) {
      if (d.Runs(j) && d.StepScore(j, sc(j, i))) stop = j;
    }
    REQUIRE(stop == expected[i]);
  }
  CHECK_THROWS_AS(d.Step(0, sc.data(), 4), rt::ConfigError);  // confidence takes a score
}

TEST_CASE("runtime: infinite thresholds round-trip, protocol errors are ConfigErrors") {
  Policy p;
  p.kept = {0, 1, 2};
  p.thresholds = {INFINITY, -INFINITY};
  const rt::Config c = Roundtrip(p, "max_prob", 3);
  CHECK(c.exits[0].threshold == INFINITY);
  CHECK(c.exits[1].threshold == -INFINITY);
  rt::Decider d(c);
  const float z[3] = {1.0f, 2.0f, 3.0f};
  CHECK_FALSE(d.Step(0, z, 3));  // never passes +inf
  CHECK(d.Step(1, z, 3));        // always passes -inf
  CHECK(d.last_prediction() == 2);
  CHECK(d.last_score() == Approx(1.0 / (1.0 + std::exp(-1.0) + std::exp(-2.0))));
  CHECK_THROWS_AS(d.Step(0, z, 3), rt::ConfigError);  // out of order without Reset
  d.Reset();
  CHECK_THROWS_AS(d.Step(7, z, 3), rt::ConfigError);

  Policy pv;
  pv.kept = {0, 1, 2};
  pv.thresholds = {1.0, 1.0};
  const rt::Config cv = Roundtrip(pv, "patience", 3);  // outlives the Decider
  rt::Decider dv(cv);
  CHECK_THROWS_WITH(dv.Step(1, z, 3), Catch::Contains("exit 0 was skipped"));
}

TEST_CASE("runtime: malformed configs are clear errors") {
  auto err = [](const std::string& text) {
    try {
      rt::ParseConfig(text, "c.json");
    } catch (const rt::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string good =
      R"({"schema_version": 1, "model": "m", "target": "t", "unit": "ms", "measure": "max_prob",
          "score_order": "descending", "num_exits": 3,
          "exits": [{"index": 1, "threshold": 0.9}, {"index": 3, "final": true}]})";
  CHECK(err(good) == "no error");
  const rt::Config c = rt::ParseConfig(good);
  CHECK(c.Kept(0));
  CHECK_FALSE(c.Kept(1));
  CHECK(c.exits[0].threshold == 0.9);
  CHECK_THAT(err("{\"schema_version\": 1,"),
             Catch::Contains("c.json:1:") && Catch::Contains("invalid JSON"));
  CHECK_THAT(err("[1, 2]"), Catch::Contains("a config is a JSON object"));
  CHECK_THAT(err(R"({"schema_version": 2})"), Catch::Contains("schema_version 2 is not supported"));
  std::string t = good;
  t.replace(t.find("max_prob"), 8, "maxprob");
  CHECK_THAT(err(t), Catch::Contains("unknown measure \"maxprob\""));
  t = good;
  t.replace(t.find("\"index\": 3"), 10, "\"index\": 2");
  CHECK_THAT(err(t), Catch::Contains("last kept exit must be the final exit 3"));
  t = good;
  t.replace(t.find("\"threshold\": 0.9"), 16, "\"threshold\": \"x\"");
  CHECK_THAT(err(t),
             Catch::Contains("exits[0]: field \"threshold\" must be a number, found a string"));
  t = good;
  t.replace(t.find("\"unit\": \"ms\","), 13, "");
  CHECK_THAT(err(t), Catch::Contains("missing field \"unit\""));
  CHECK_THAT(err(R"({"a": 1, "a": 2})"), Catch::Contains("duplicate key \"a\""));
  CHECK_THROWS_WITH(rt::LoadConfig("/nonexistent/c.json"), Catch::Contains("cannot open"));
}

// `Decider d(LoadConfig(path))` kept a pointer to the temporary Config: it must not compile.
static_assert(!std::is_constructible_v<exitplan::runtime::Decider, exitplan::runtime::Config&&>,
              "a Decider must not be built from a temporary Config (it would dangle)");
static_assert(!std::is_constructible_v<exitplan::runtime::Decider, exitplan::runtime::Config>,
              "a Decider must not be built from a temporary Config (it would dangle)");
static_assert(std::is_constructible_v<exitplan::runtime::Decider, const exitplan::runtime::Config&>,
              "a Decider is built from a Config that outlives it");
static_assert(std::is_constructible_v<exitplan::runtime::Decider, exitplan::runtime::Config&>,
              "a Decider is built from a Config variable");
