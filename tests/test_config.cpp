#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>

#include "dse/config.hpp"
#include "exitplan/runtime.hpp"
#include "profiles/error.hpp"

using namespace exitplan;

namespace {
ResultRow Row() {
  ResultRow r;
  r.model = "net \"A\"";
  r.target = "cpu";
  r.unit = "ms";
  r.method = "ippp";
  r.measure = "entropy";
  r.kept_exits = {0, 2, 3};
  r.thresholds = {0.1, 0.30000000000000004};
  r.budget = 2.5;
  r.fit_acc = 0.91;
  r.fit_cost = 2.4;
  r.eval_acc = 0.9;
  r.eval_cost = 2.45;
  r.exit_fractions = {0.5, 0, 0.25, 0.25};
  r.outcome = "converged";
  return r;
}
}  // namespace

TEST_CASE("config from a report row: YAML and JSON carry the same exact fields") {
  ConfigContext ctx;
  ctx.exit_names = {"b1", "b2", "b3", "final"};
  ctx.inputs = {"val_logits.npy 0123abcd", "profile.yaml 99ff"};
  ctx.command_line = "exitplan export --from r.csv --row 3";
  ctx.report = "r.csv";
  ctx.row = 3;
  const DeployConfig c = ConfigFromRow(Row(), ctx);
  REQUIRE(c.exits.size() == 3);
  CHECK(c.exits[1].name == "b3");
  CHECK(c.exits[1].index == 2);
  CHECK(c.exits[2].final);
  CHECK(c.num_exits == 4);
  CHECK(c.score_order == "descending");

  const YAML::Node y = YAML::Load(ConfigToYaml(c));
  CHECK(y["schema_version"].as<int>() == 1);
  CHECK(y["model"].as<std::string>() == "net \"A\"");
  CHECK(y["kept_exits"].as<std::vector<int>>() == std::vector<int>{1, 3, 4});
  CHECK(y["thresholds"][1].as<double>() == 0.30000000000000004);  // bit-exact
  CHECK(y["exits"][0]["name"].as<std::string>() == "b1");
  CHECK(y["exits"][2]["final"].as<bool>());
  CHECK(y["expected"]["eval_accuracy"].as<double>() == 0.9);
  CHECK(y["expected"]["exit_fractions"].size() == 4);
  CHECK(y["provenance"]["inputs"][1]["sha256"].as<std::string>() == "99ff");
  CHECK(y["provenance"]["command_line"].as<std::string>() == ctx.command_line);
  CHECK(y["provenance"]["exitplan_version"].as<std::string>() == EXITPLAN_VERSION);

  const runtime::Config j = runtime::ParseConfig(ConfigToJson(c), "c.json");
  CHECK(j.model == "net \"A\"");
  CHECK(j.measure == runtime::Measure::kEntropy);
  CHECK(j.exits[1].threshold == 0.30000000000000004);
  CHECK(j.fit_accuracy == 0.91);
  CHECK(j.budget == 2.5);
  CHECK_FALSE(j.Kept(1));

  // Scores-mode rows keep the dump's order for the stored confidence.
  ResultRow r = Row();
  r.measure = "confidence";
  ctx.score_order = "ascending";
  CHECK(ConfigFromRow(r, ctx).score_order == "ascending");
  CHECK(runtime::ParseConfig(ConfigToJson(ConfigFromRow(r, ctx))).ascending);
}

TEST_CASE("config from a row without a solution or with inconsistent thresholds is refused") {
  ConfigContext ctx;
  ctx.report = "r.csv";
  ctx.row = 7;
  ResultRow r = Row();
  r.fit_acc = NAN;
  r.outcome = "infeasible";
  CHECK_THROWS_WITH(ConfigFromRow(r, ctx),
                    Catch::Contains("r.csv row 7") && Catch::Contains("no solution"));
  r = Row();
  r.thresholds.pop_back();
  CHECK_THROWS_WITH(ConfigFromRow(r, ctx), Catch::Contains("3 kept exits, 1 thresholds"));
  ctx.exit_names = {"a", "b"};
  CHECK_THROWS_AS(ConfigFromRow(Row(), ctx), InputError);
  ctx.exit_names = {};
  r = Row();
  r.measure = "eenet";
  CHECK_THROWS_WITH(ConfigFromRow(r, ctx), Catch::Contains("exitplan fit-scorer --budget 2.5"));
}
