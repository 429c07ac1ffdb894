// export --budget B (dse/export_run): a row at B is taken as it is; any other B is solved with
// the row group's method, settings, kept exits and measure on the same dump and profile, and
// gives what the sweep cell and `exitplan thresholds` give at B; what cannot be solved is refused
// naming the nearest rows.
#include <catch2/catch.hpp>
#include <filesystem>

#include "dse/config.hpp"
#include "dse/export_run.hpp"
#include "dse/sweep.hpp"
#include "dse/threshold_rows.hpp"
#include "optim/calibration.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/profile.hpp"
#include "test_util.hpp"

using namespace exitplan;
namespace fs = std::filesystem;

namespace {

// data/example swept by three threshold series (one on exits 1,3,5 and one calibrated) at three
// budgets, in a temporary directory.
struct Swept {
  testing::TempDir dir;
  std::string dump = testing::ProjectPath("data/example");
  std::string profile = testing::ProjectPath("data/example/profile.yaml");
  std::string report;
  Swept() {
    const std::string text =
        "output: out\n"
        "models:\n"
        "  - {name: ex, dump: " +
        dump + ", profile: " + profile +
        ", target: cpu-1thread}\n"
        "methods:\n"
        "  - {method: single}\n"
        "  - {method: exact, label: exact-135, exits: \"1,3,5\", options: {start_ippp: false}}\n"
        "  - {method: geometric, label: geo-cal, calibrate: true}\n"
        "budgets: [20%, 40%, 60%]\n";
    SweepSpec spec = ParseSweepSpec(text, dir / "s.yaml", dir.path());
    SweepOptions o;
    o.jobs = 2;
    REQUIRE(RunSweep(spec, o).complete);
    report = dir / "out/reports/ex__cpu-1thread.csv";
  }
  std::vector<ResultRow> Rows() const { return ResultsFromCsv(ReadFile(report), report); }
};

OptionValues Values(const std::vector<std::pair<std::string, std::string>>& kv) {
  OptionValues v;
  for (const auto& [k, t] : kv) v.Set(k, t, "--" + k);
  return v;
}

ExportResult ExportAt(const std::string& from, const std::string& method, double budget,
                      std::vector<std::pair<std::string, std::string>> more = {}) {
  more.push_back({"from", from});
  more.push_back({"method", method});
  more.push_back({"budget", FormatDouble(budget)});
  return PlanExport(Values(more), "test");
}

// The figures a config carries, without its provenance.
void CheckSamePolicy(const ResultRow& got, const ResultRow& want) {
  CHECK(got.kept_exits == want.kept_exits);
  CHECK(got.thresholds == want.thresholds);  // bit for bit
  CHECK(got.fit_acc == want.fit_acc);
  CHECK(got.fit_cost == want.fit_cost);
  CHECK(got.eval_acc == want.eval_acc);
  CHECK(got.eval_cost == want.eval_cost);
  CHECK(got.exit_fractions == want.exit_fractions);
}

std::string WithoutProvenance(const std::string& yaml) {
  return yaml.substr(0, yaml.find("provenance:"));
}

// `exitplan thresholds --method M --budget B [--exits ..] [--calibrate]` on data/example.
ResultRow ThresholdsAt(const Swept& s, Method method, double budget, const std::vector<int>& kept,
                       bool calibrate, const std::string& settings_key = "",
                       const std::string& settings_value = "") {
  DumpOptions o;
  Dump dump = LoadDump(s.dump, o);
  if (calibrate) {
    const CalibrationSummary cs = FitTemperatures(dump.fit);
    dump.fit.ComputeFeatures(cs.temperatures);
    dump.eval->ComputeFeatures(cs.temperatures);
  }
  const CostProfile profile = LoadProfile(s.profile, "cpu-1thread");
  OptionValues v;
  v.Set("method", ToString(method), "--method");
  v.Set("budget", FormatDouble(budget), "--budget");
  if (!settings_key.empty()) v.Set(settings_key, settings_value, "--" + settings_key);
  const ThresholdRunOptions ro = ThresholdRunOptionsFrom(v);
  ThresholdRowsRequest q;
  q.method = method;
  q.kept = kept;
  q.budgets = {budget};
  const ThresholdRowsResult r = ThresholdRows(dump, profile, q, ro.solver);
  REQUIRE(r.rows.size() == 1);
  return r.rows[0];
}

}  // namespace

TEST_CASE("export at a budget of the report takes that row; solving there gives the same row") {
  const Swept s;
  const std::vector<ResultRow> rows = s.Rows();
  REQUIRE(rows.size() == 9);
  for (int i = 0; i < 9; ++i) {
    INFO("row " << i << " " << rows[i].method);
    const ExportResult at = ExportAt(s.report, rows[i].method, rows[i].budget);
    CHECK_FALSE(at.solved);
    CHECK(at.report_row == i);
    // --row i gives the same config.
    const ExportResult by_row =
        PlanExport(Values({{"from", s.report}, {"row", std::to_string(i)}}), "test");
    CHECK(WithoutProvenance(ConfigToYaml(at.config)) ==
          WithoutProvenance(ConfigToYaml(by_row.config)));
    // A budget a hair above (outside the 1e-9 match): solved again, the same policy as the cell.
    const ExportResult again = ExportAt(s.report, rows[i].method, rows[i].budget * (1 + 1e-8));
    CHECK(again.solved);
    CHECK(again.report_row == -1);
    CheckSamePolicy(again.row, rows[i]);
    // Calibrated rows carry the sweep's temperatures.
    CHECK((again.config.exits[0].temperature != 1.0) == (rows[i].method == "geo-cal"));
    CHECK(again.config.exits[0].temperature == by_row.config.exits[0].temperature);
  }
}

TEST_CASE("export between the report's budgets solves at B, as thresholds does at B") {
  const Swept s;
  const CostProfile profile = LoadProfile(s.profile, "cpu-1thread");
  const double b = 0.3 * profile.FullCost();  // between the 20% and 40% rows
  struct Case {
    std::string label;
    Method method;
    std::vector<int> kept;
    bool calibrate;
    std::string key, value;
  };
  for (const Case& c :
       {Case{"single", Method::kSingle, {0, 1, 2, 3, 4, 5}, false, "", ""},
        Case{"exact-135", Method::kExact, {0, 2, 4, 5}, false, "start_ippp", "false"},
        Case{"geo-cal", Method::kGeometric, {0, 1, 2, 3, 4, 5}, true, "", ""}}) {
    INFO(c.label);
    const ExportResult r = ExportAt(s.report, c.label, b);
    REQUIRE(r.solved);
    CHECK(r.row.budget == b);
    CHECK(r.row.fit_cost <= b);
    CHECK(r.row.method == c.label);
    CHECK(r.config.budget == b);
    CHECK(r.config.report_row == -1);
    const ResultRow want = ThresholdsAt(s, c.method, b, c.kept, c.calibrate, c.key, c.value);
    CheckSamePolicy(r.row, want);
    CHECK(r.config.exits.size() == c.kept.size());
    CHECK(r.config.exits[0].name == "b1");
    // Provenance: the sweep's inputs, the dump's files and the profile.
    REQUIRE(r.config.inputs.size() == 5);
    CHECK(r.config.inputs.back().rfind("profile.yaml ", 0) == 0);
  }
  // A relative budget is taken against the full cost the manifest recorded.
  const ExportResult rel =
      PlanExport(Values({{"from", s.report}, {"method", "single"}, {"budget", "30%"}}), "test");
  CHECK(rel.row.budget == b);
}

TEST_CASE("export solves a thresholds report at B from --dump and --profile") {
  const Swept s;
  const CostProfile profile = LoadProfile(s.profile, "cpu-1thread");
  const double full = profile.FullCost();
  // A report as `exitplan thresholds --method exact --budget 20%,40%,60% -o t.csv` writes it.
  DumpOptions o;
  const Dump dump = LoadDump(s.dump, o);
  ThresholdRowsRequest q;
  q.method = Method::kExact;
  q.kept = AllExits(6);
  q.budgets = {0.2 * full, 0.4 * full, 0.6 * full};
  q.model = "example";
  const std::vector<ResultRow> rows = ThresholdRows(dump, profile, q, SolverOptions{}).rows;
  const std::string csv = s.dir / "t.csv";
  WriteFileAtomic(csv, ResultsToCsv(rows));
  const double b = 0.5 * full;
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {"dump", s.dump}, {"profile", s.profile}, {"target", "cpu-1thread"}};
  const ExportResult r = ExportAt(csv, "exact", b, inputs);
  REQUIRE(r.solved);
  CHECK(r.row.fit_cost <= b);
  CheckSamePolicy(r.row, ThresholdsAt(s, Method::kExact, b, AllExits(6), false));
  CHECK(r.config.model == "example");
  CHECK(r.config.inputs.size() == 5);

  // Without the inputs, or with other ones, it is refused naming the nearest rows.
  auto refused = [&](std::vector<std::pair<std::string, std::string>> more,
                     const std::string& why) {
    try {
      ExportAt(csv, "exact", b, more);
      FAIL("not refused: " << why);
    } catch (const InputError& e) {
      const std::string m = e.what();
      CHECK_THAT(m, Catch::Contains(why));
      CHECK_THAT(m,
                 Catch::StartsWith("--budget: no row of exact was solved at " + FormatDouble(b)));
      CHECK_THAT(
          m, Catch::Contains("nearest: row 1 (exact max_prob, budget " + FormatDouble(0.4 * full)));
      CHECK(m.find('\n') == std::string::npos);
    }
  };
  refused({}, "give --dump and --profile");
  refused({{"dump", s.dump}, {"profile", s.profile}, {"target", "flops"}},
          "the profile's unit is mflops, the report's ms");
  refused({{"dump", s.dump},
           {"profile", s.profile},
           {"target", "cpu-1thread"},
           {"correct", "agreement"}},
          "not the dump, profile, --target, --correct or --calibrate it was made from");
  // Below the cheapest policy: no solution at B.
  try {
    ExportAt(csv, "exact", 0.01 * full, inputs);
    FAIL("solved below the cheapest policy");
  } catch (const InputError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("outcome infeasible"));
    CHECK_THAT(std::string(e.what()), Catch::Contains("nearest: row 0 (exact max_prob"));
  }
}

TEST_CASE("export refuses to solve on inputs that are not the sweep's") {
  testing::TempDir dir;
  fs::create_directories(dir / "dump");
  for (const char* f :
       {"val_logits.npy", "val_labels.npy", "test_logits.npy", "test_labels.npy", "profile.yaml"}) {
    fs::copy_file(testing::ProjectPath(std::string("data/example/") + f),
                  dir / ("dump/" + std::string(f)));
  }
  const std::string text =
      "output: out\n"
      "models:\n  - {name: ex, dump: dump, profile: dump/profile.yaml, target: flops}\n"
      "methods:\n  - {method: single}\n"
      "budgets: [20%, 60%]\n";
  SweepSpec spec = ParseSweepSpec(text, dir / "s.yaml", dir.path());
  REQUIRE(RunSweep(spec).complete);
  const std::string report = dir / "out/reports/ex__flops.csv";
  CHECK(ExportAt(report, "single", 2.0).solved);
  // The profile edited (a comment): its SHA-256 differs from the manifest's.
  const std::string original = ReadFile(dir / "dump/profile.yaml");
  testing::WriteText(dir / "dump/profile.yaml", original + "# edited\n");
  try {
    ExportAt(report, "single", 2.0);
    FAIL("solved on an edited profile");
  } catch (const InputError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("profile.yaml is not the file the sweep read "
                                                      "(its SHA-256 differs from the manifest's)"));
    CHECK_THAT(std::string(e.what()), Catch::Contains("nearest: row 1 (single max_prob"));
  }
  // The dump moved away.
  fs::rename(dir / "dump", dir / "moved");
  try {
    ExportAt(report, "single", 2.0);
    FAIL("solved without the dump");
  } catch (const InputError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("is not a directory from here (give --dump"));
  }
  // Found again with --dump and --profile (the same bytes as the sweep read).
  testing::WriteText(dir / "moved/profile.yaml", original);
  const ExportResult found = ExportAt(
      report, "single", 2.0, {{"dump", dir / "moved"}, {"profile", dir / "moved/profile.yaml"}});
  CHECK(found.solved);
  CHECK(found.row.fit_cost <= 2.0);
  // A grid row needs no inputs.
  CHECK_FALSE(PlanExport(Values({{"from", report}, {"row", "1"}}), "t").solved);
}

TEST_CASE(
    "export at B keeps the outcome rules: over budget only when allowed, unconstrained is fine") {
  testing::TempDir dir;
  const std::string text =
      "output: out\n"
      "models:\n  - {name: ex, dump: " +
      testing::ProjectPath("data/example") +
      ", profile: " + testing::ProjectPath("data/example/profile.yaml") +
      ", target: cpu-1thread}\n"
      "methods:\n"
      "  - {method: ippp, options: {feasibility_rounds: 0}}\n"  // iPPP's raw answers overshoot here
      "  - {method: single}\n"
      "budgets: [20%, 40%]\n";
  SweepSpec spec = ParseSweepSpec(text, dir / "s.yaml", dir.path());
  REQUIRE(RunSweep(spec).complete);
  const std::string report = dir / "out/reports/ex__cpu-1thread.csv";
  const double full =
      LoadProfile(testing::ProjectPath("data/example/profile.yaml"), "cpu-1thread").FullCost();
  const double b = 0.3 * full;
  REQUIRE_THROWS_WITH(ExportAt(report, "ippp", b),
                      Catch::Contains("its answer is over the budget") &&
                          Catch::Contains("--allow-over-budget exports it anyway); nearest: row "));
  const ExportResult over = ExportAt(report, "ippp", b, {{"allow_over_budget", "true"}});
  CHECK(over.solved);
  CHECK(over.row.outcome == "over_budget");
  CHECK(over.row.fit_cost > b);
  CHECK(over.config.fit_cost == over.row.fit_cost);
  // At the full cost: every exit kept, run to the end, a valid answer.
  const ExportResult all = ExportAt(report, "single", full);
  CHECK(all.solved);
  CHECK(all.row.outcome == "unconstrained");
  CHECK(all.row.fit_cost <= full);
}
