#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>

#include "dse/sweep.hpp"
#include "exitplan/runtime.hpp"
#include "profiles/error.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/io.hpp"
#include "profiles/profile.hpp"
#include "sweep_fixture.hpp"
#include "test_util.hpp"

using namespace exitplan;
namespace fs = std::filesystem;

namespace {

// The sweep fixture (tests/sweep_fixture.hpp) with 400 val and 300 test samples.
struct Fixture : testing::SweepFixture {
  Fixture() : SweepFixture(400, 300) {}
};

const char* const kMethods =
    "  - {method: single, measures: [max_prob, entropy]}\n"
    "  - {method: geometric}\n";

// The report without the `seconds` column (wall time is the one thing that may differ).
std::string WithoutSeconds(const std::string& path) {
  std::vector<ResultRow> rows = ResultsFromCsv(ReadFile(path), path);
  for (ResultRow& r : rows) r.seconds = 0;
  return ResultsToCsv(rows);
}

int CountCells(const std::string& out) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(out + "/cells")) n += e.path().extension() == ".csv";
  return n;
}

std::map<std::string, std::string> CellFiles(const std::string& out) {
  std::map<std::string, std::string> m;
  for (const auto& e : fs::directory_iterator(out + "/cells")) {
    if (e.path().extension() == ".csv")
      m[e.path().filename().string()] = ReadFile(e.path().string());
  }
  return m;
}

}  // namespace

TEST_CASE("sweep files: unknown keys, wrong types and bad values name file, line and key") {
  Fixture f;
  auto err = [&](const std::string& text) {
    testing::WriteText(f.dir / "bad.yaml", text);
    try {
      LoadSweepSpec(f.dir / "bad.yaml");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string head = "output: o\nmodels:\n  - {name: a, dump: d, profile: p}\n";
  CHECK_THAT(err(head + "methods:\n  - {method: single}\nbudgets: [0.5]\nbogus: 1\n"),
             Catch::Contains("bad.yaml:7") && Catch::Contains("unknown key 'bogus'"));
  CHECK_THAT(err(head + "methods:\n  - {method: single, measurez: x}\nbudgets: [0.5]\n"),
             Catch::Contains("bad.yaml:5") && Catch::Contains("unknown key 'measurez'"));
  CHECK_THAT(err(head + "methods:\n  - {method: nope}\nbudgets: [0.5]\n"),
             Catch::Contains("bad.yaml:5") && Catch::Contains("unknown method 'nope'"));
  CHECK_THAT(err(head + "methods:\n  - {method: single, measure: [a, b]}\nbudgets: [0.5]\n"),
             Catch::Contains("bad.yaml:5") && Catch::Contains("measure: expected a string"));
  CHECK_THAT(err(head + "methods:\n  - {method: single}\nbudgets: [0.5, abc]\n"),
             Catch::Contains("bad.yaml:6") && Catch::Contains("budget 'abc': not a number"));
  CHECK_THAT(err(head + "methods:\n  - {method: single}\nbudgets: [\"100%:50%:3\"]\n"),
             Catch::Contains("bad.yaml:6") && Catch::Contains("LO must be <= HI"));
  CHECK_THAT(err(head + "methods:\n  - {method: single}\nbudgets: [150%]\n"),
             Catch::Contains("bad.yaml:6") && Catch::Contains("above 100%"));
  // The mapping form of earlier versions is refused with the grammar that replaced it.
  CHECK_THAT(
      err(head + "methods:\n  - {method: single}\nbudgets: {relative: true, values: [0.5]}\n"),
      Catch::Contains("bad.yaml:6") && Catch::Contains("write a list in the budget grammar"));
  // Options are checked at parse time, with the line: unknown keys, keys of another method, values.
  CHECK_THAT(
      err(head + "methods:\n  - method: ippp\n    options: {outer_iter: 5}\nbudgets: [50%]\n"),
      Catch::Contains("bad.yaml:6") &&
          Catch::Contains("unknown option 'outer_iter' of method ippp"));
  CHECK_THAT(
      err(head +
          "methods:\n  - method: single\n    options:\n      steepness: 5\nbudgets: [50%]\n"),
      Catch::Contains("bad.yaml:7") &&
          Catch::Contains("option 'steepness' is not for method single"));
  CHECK_THAT(
      err(head + "methods:\n  - method: ippp\n    options: {outer_iters: 0}\nbudgets: [50%]\n"),
      Catch::Contains("bad.yaml:6") && Catch::Contains("'0': must be >= 1"));
  CHECK_THAT(
      err(head + "methods:\n  - method: eenet\n    options: {beta: 0.1}\nbudgets: [50%]\n"),
      Catch::Contains("option 'beta' is not for method eenet") && Catch::Contains("eenet_beta"));
  CHECK_THAT(
      err(head + "methods:\n  - method: greedy-forward\n    options: {solver: single, max_sweeps: "
                 "3}\nbudgets: [50%]\n"),
      Catch::Contains("option 'max_sweeps' is not for method greedy-forward (solver single)"));
  CHECK_THAT(err(head + "methods:\n  - {method: single}\nbudgets: [0.5]\nconfigs: maybe\n"),
             Catch::Contains("configs: expected true or false"));
  CHECK_THAT(err("output: o\nmethods: []\nbudgets: [1]\n"),
             Catch::Contains("missing key 'models'"));
  CHECK_THAT(err(head + "methods:\n  - {method: single}\n  - {method: single}\nbudgets: [0.5]\n"),
             Catch::Contains("appears twice"));
  CHECK_THAT(err(head + "methods:\n  - {method: single}\nbudgets: [0.5]\noutput: x\n"),
             Catch::Contains("duplicate key 'output'"));
  CHECK_THAT(err("output: [\n"), Catch::Contains("invalid YAML"));

  // A good one: ranges expand, paths resolve against the file's folder.
  const SweepSpec s = LoadSweepSpec(f.Write("good", kMethods));
  REQUIRE(s.budgets.items.size() == 6);
  CHECK(s.budgets.items[0].value == 0.3);
  CHECK(s.budgets.items[0].relative);
  CHECK(s.budgets.items[5].value == 1.0);
  CHECK(s.budgets.items[1].value == Approx(0.44));
  // A bare number is absolute (the profile's unit), as on the command line.
  const SweepSpec abs = LoadSweepSpec(f.Write("abs", kMethods, "[2, 3ms]"));
  REQUIRE(abs.budgets.items.size() == 2);
  CHECK_FALSE(abs.budgets.items[0].relative);
  CHECK(abs.budgets.items[1].unit == "ms");
  CHECK(s.models[0].dump == (f.dir / "dump"));
  CHECK(s.methods[0].measures == std::vector<std::string>{"max_prob", "entropy"});
  CHECK(s.methods[1].measures == std::vector<std::string>{"max_prob"});
}

TEST_CASE("shard parsing") {
  int i = 0, n = 0;
  internal::ParseShard("2/4", i, n);
  CHECK(i == 1);
  CHECK(n == 4);
  CHECK_THROWS_AS(internal::ParseShard("0/4", i, n), InputError);
  CHECK_THROWS_AS(internal::ParseShard("5/4", i, n), InputError);
  CHECK_THROWS_AS(internal::ParseShard("1-4", i, n), InputError);
  CHECK_THROWS_AS(internal::ParseShard("1/4x", i, n), InputError);
}

TEST_CASE("a sweep runs every cell, writes reports, and gives the same results for any jobs") {
  Fixture f;
  SweepSpec spec = LoadSweepSpec(f.Write("a", kMethods, "\"30%:100%:6\"", "configs: true\n"));
  SweepOptions o;
  o.jobs = 1;
  const SweepSummary s1 = RunSweep(spec, o);
  // 2 targets x (2 + 1) method/measure pairs x 6 budgets.
  CHECK(s1.cells_total == 36);
  CHECK(s1.cells_run == 36);
  CHECK(s1.cells_failed == 0);
  CHECK(s1.complete);
  const std::string out1 = spec.output;
  CHECK(CountCells(out1) == 36);
  for (const char* f1 :
       {"/reports/toy__cpu.csv", "/reports/toy__cpu.svg", "/reports/toy__flops.csv",
        "/reports/toy__flops.svg", "/summary.md", "/manifest.yaml"}) {
    CHECK(fs::exists(out1 + f1));
  }
  const std::vector<ResultRow> rows = testing::ReportRows(out1);
  REQUIRE(rows.size() == 18);
  // Canonical order: method, measure, budget; budgets absolute = fraction x full cost (4.4 ms).
  CHECK(rows[0].method == "single");
  CHECK(rows[0].measure == "max_prob");
  CHECK(rows[0].budget == Approx(0.3 * 4.4));
  CHECK(rows[6].measure == "entropy");
  CHECK(rows[12].method == "geometric");
  int front = 0;
  for (const ResultRow& r : testing::ReportRows(out1, "toy__flops")) front += r.pareto;
  for (const ResultRow& r : rows) {
    CHECK(r.has_solution());
    CHECK(r.fit_cost <= r.budget * (1 + 1e-9));
    CHECK(r.eval_acc == r.eval_acc);  // eval split measured
    front += r.pareto;
  }
  CHECK(front >= 1);
  // A config per front row, YAML and JSON.
  int configs = 0;
  for (const auto& e : fs::recursive_directory_iterator(out1 + "/configs")) {
    configs += e.path().extension() == ".json";
  }
  CHECK(configs >= 1);
  CHECK(configs <= front);  // identical policies at several budgets are written once
  CHECK_THAT(ReadFile(out1 + "/summary.md"), Catch::Contains("## toy / cpu (ms)"));

  spec.output = f.dir / "out-a2";
  o.jobs = 3;
  const SweepSummary s2 = RunSweep(spec, o);
  CHECK(s2.cells_run == 36);
  CHECK(WithoutSeconds(out1 + "/reports/toy__cpu.csv") ==
        WithoutSeconds(spec.output + "/reports/toy__cpu.csv"));
  CHECK(WithoutSeconds(out1 + "/reports/toy__flops.csv") ==
        WithoutSeconds(spec.output + "/reports/toy__flops.csv"));
}

TEST_CASE("a rerun skips finished cells and recomputes only changed ones") {
  Fixture f;
  SweepSpec spec = LoadSweepSpec(f.Write("r", kMethods));
  const SweepSummary s1 = RunSweep(spec, {});
  REQUIRE(s1.cells_run == 36);
  const auto before = CellFiles(spec.output);
  const SweepSummary s2 = RunSweep(spec, {});
  CHECK(s2.cells_run == 0);
  CHECK(s2.cells_skipped == 36);
  CHECK(CellFiles(spec.output) == before);  // untouched
  // One more budget: only its cells run (2 targets x 3 series).
  spec.budgets.items.push_back(ParseBudget("95%", "test"));
  const SweepSummary s3 = RunSweep(spec, {});
  CHECK(s3.cells_run == 6);
  CHECK(s3.cells_skipped == 36);
  // A changed input file changes every hash.
  testing::WriteRandomLogitsDump(f.dir / "dump", "test", 300, 4, 5, 99);
  const SweepSummary s4 = RunSweep(spec, {});
  CHECK(s4.cells_run == 42);
  SweepOptions force;
  force.force = true;
  CHECK(RunSweep(spec, force).cells_run == 42);
}

TEST_CASE("a sweep killed halfway loses nothing and redoes nothing finished") {
  Fixture f;
  const SweepSpec spec = LoadSweepSpec(f.Write("k", kMethods));
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    SweepOptions o;
    o.jobs = 2;
    o.abort_after = 13;  // the child dies abruptly after writing 13 cells
    RunSweep(spec, o);
    _exit(0);  // not reached
  }
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 137);
  const auto survived = CellFiles(spec.output);
  // Two workers: each may finish the cell it holds after the 13th is written, before _Exit.
  CHECK(survived.size() >= 13);
  CHECK(survived.size() <= 14);
  CHECK_FALSE(fs::exists(spec.output + "/summary.md"));
  const SweepSummary s = RunSweep(spec, {});
  for (const auto& e : fs::directory_iterator(spec.output + "/cells")) {
    CHECK(e.path().extension() == ".csv");  // the killed run's temporary files are cleaned up
  }
  CHECK(s.cells_skipped == static_cast<int>(survived.size()));
  CHECK(s.cells_run == 36 - static_cast<int>(survived.size()));
  CHECK(s.complete);
  const auto after = CellFiles(spec.output);
  for (const auto& [name, text] : survived) CHECK(after.at(name) == text);
}

TEST_CASE("shards merge to the report of a single run") {
  Fixture f;
  SweepSpec spec = LoadSweepSpec(f.Write("s", kMethods));
  const std::string single = spec.output;
  RunSweep(spec, {});
  std::vector<std::string> dirs;
  int run = 0;
  for (int i = 0; i < 3; ++i) {
    spec.output = f.dir / ("shard" + std::to_string(i));
    SweepOptions o;
    o.shard_index = i;
    o.shard_count = 3;
    const SweepSummary s = RunSweep(spec, o);
    CHECK(s.cells_in_shard == 12);
    CHECK_FALSE(s.complete);
    CHECK_FALSE(fs::exists(spec.output + "/summary.md"));
    run += s.cells_run;
    dirs.push_back(spec.output);
  }
  CHECK(run == 36);
  // Missing shards are an error naming what is missing.
  CHECK_THROWS_WITH(MergeSweeps({dirs[0], dirs[1]}, f.dir / "partial"),
                    Catch::Contains("12 of 36 cells have no result"));
  const SweepSummary m = MergeSweeps(dirs, f.dir / "merged");
  CHECK(m.complete);
  for (const char* g : {"toy__cpu", "toy__flops"}) {
    const std::string a = single + "/reports/" + g + ".csv";
    const std::string b = f.dir / "merged/reports/" + g + ".csv";
    CHECK(WithoutSeconds(a) == WithoutSeconds(b));
  }
  // Merging into a shard's own directory works too, and a different sweep is refused.
  CHECK(MergeSweeps(dirs, dirs[0]).complete);
  SweepSpec other = LoadSweepSpec(f.Write("o", "  - {method: single}\n"));
  RunSweep(other, {});
  CHECK_THROWS_WITH(MergeSweeps({dirs[0], other.output}, f.dir / "m2"),
                    Catch::Contains("different sweep"));
}

TEST_CASE("failing cells are recorded and the sweep goes on") {
  Fixture f;
  SweepSpec spec = LoadSweepSpec(f.Write("f",
                                         "  - {method: single}\n"
                                         "  - {method: geometric, label: bad}\n",
                                         "[0.1%, 50%, 80%]"));
  // An option the parser would refuse, set behind its back: the cells fail, the sweep goes on.
  spec.methods[1].options["no_such_option"] = "1";
  const SweepSummary s = RunSweep(spec, {});
  CHECK(s.cells_total == 12);
  CHECK(s.complete);
  // bad: 3 budgets x 2 targets; single: budget 0.001 infeasible on both targets.
  CHECK(s.cells_failed == 8);
  const std::vector<ResultRow> rows = testing::ReportRows(spec.output);
  REQUIRE(rows.size() == 6);
  CHECK(rows[0].outcome == "infeasible");
  CHECK_FALSE(rows[0].has_solution());
  CHECK(rows[1].has_solution());
  CHECK(rows[3].outcome == "error");
  CHECK_THAT(rows[3].message, Catch::Contains("no_such_option"));
  CHECK_THAT(ReadFile(spec.output + "/summary.md"), Catch::Contains("Failed cells"));
  // Error cells are retried on a rerun; infeasible ones are answers and are kept.
  const SweepSummary again = RunSweep(spec, {});
  CHECK(again.cells_run == 6);
}

TEST_CASE("bad inputs of a sweep are InputErrors") {
  Fixture f;
  SweepSpec spec = LoadSweepSpec(f.Write("b", kMethods));
  spec.models[0].targets = {"gpu"};
  CHECK_THROWS_WITH(RunSweep(spec, {}), Catch::Contains("no target 'gpu'"));
  spec.models[0].targets = {};
  spec.models[0].dump = f.dir / "nowhere";
  CHECK_THROWS_AS(RunSweep(spec, {}), InputError);
  SweepOptions o;
  o.shard_index = 3;
  o.shard_count = 2;
  CHECK(o.Validate() == "shard index = 4: must be in 1..2");
  CHECK_THROWS_AS(MergeSweeps({f.dir / "nothing"}, f.dir / "x"), InputError);
}

TEST_CASE("placement methods run as sweep cells and choose their own kept exits") {
  Fixture f;
  const SweepSpec spec =
      LoadSweepSpec(f.Write("p",
                            "  - {method: greedy-backward, options: {solver: single}}\n"
                            "  - {method: exhaustive, options: {solver: single}}\n"
                            "  - {method: single}\n",
                            "[50%, 70%]"));
  SweepSpec cpu = spec;
  cpu.models[0].targets = {"cpu"};
  const SweepSummary s = RunSweep(cpu, {});
  CHECK(s.cells_total == 6);
  CHECK(s.cells_failed == 0);
  const std::vector<ResultRow> rows = testing::ReportRows(cpu.output);
  REQUIRE(rows.size() == 6);
  for (int b = 0; b < 2; ++b) {
    const ResultRow& greedy = rows[b];
    const ResultRow& exhaustive = rows[2 + b];
    const ResultRow& single = rows[4 + b];
    CHECK(greedy.method == "greedy-backward");
    CHECK(exhaustive.method == "exhaustive");
    CHECK(greedy.kept_exits.back() == 3);
    CHECK(greedy.fit_cost <= greedy.budget * (1 + 1e-9));
    CHECK(exhaustive.fit_cost <= exhaustive.budget * (1 + 1e-9));
    CHECK(greedy.thresholds.size() + 1 == greedy.kept_exits.size());
    // Exhaustive search over kept sets (same threshold solver) is at least as good as keeping
    // every exit, and at least as good as the greedy search.
    CHECK(exhaustive.fit_acc >= single.fit_acc);
    CHECK(exhaustive.fit_acc >= greedy.fit_acc);
  }
  // A bad solver name is a cell error naming the option.
  SweepSpec bad = cpu;
  bad.methods.resize(1);
  bad.methods[0].options["solver"] = "magic";
  bad.output = f.dir / "out-pbad";
  const SweepSummary sb = RunSweep(bad, {});
  CHECK(sb.cells_failed == 2);
  CHECK_THAT(sb.errors[0], Catch::Contains("option solver") && Catch::Contains("magic"));
}

TEST_CASE("calibrate: true fits temperatures; configs carry them and the runtime replays them") {
  Fixture f;
  SweepSpec spec = LoadSweepSpec(f.Write(
      "c",
      "  - {method: single, label: single-cal, calibrate: true, measures: [max_prob, entropy]}\n"
      "  - {method: single}\n",
      "[50%, 70%]", "configs: true\n"));
  spec.models[0].targets = {"cpu"};
  const SweepSummary s = RunSweep(spec, {});
  REQUIRE(s.cells_failed == 0);
  const std::string manifest = ReadFile(spec.output + "/manifest.yaml");
  CHECK_THAT(manifest, Catch::Contains("calibrated: [single-cal]"));
  // Calibrated and plain rows differ (the measure changed), and configs of calibrated rows
  // carry temperatures != 1 that make the runtime agree with the evaluator on a calibrated dump.
  const std::vector<ResultRow> rows = testing::ReportRows(spec.output);
  REQUIRE(rows.size() == 6);
  CHECK(rows[0].thresholds != rows[4].thresholds);
  int checked = 0;
  for (const auto& e : fs::recursive_directory_iterator(spec.output + "/configs")) {
    if (e.path().extension() != ".json") continue;
    const runtime::Config c = runtime::LoadConfig(e.path().string());
    const bool cal = c.method == "single-cal";
    Dump d = LoadDump(f.dir / "dump");
    std::vector<double> temps;
    for (int j = 0; j < d.k; ++j) {
      const int rule = c.rule_of[j];
      temps.push_back(rule >= 0 ? c.exits[rule].temperature : 1.0);
    }
    if (cal) {
      CHECK(std::any_of(temps.begin(), temps.end(), [](double t) { return t != 1.0; }));
    } else {
      CHECK(std::all_of(temps.begin(), temps.end(), [](double t) { return t == 1.0; }));
    }
    // Every exit is kept by `single`, so the config holds every exit's temperature.
    REQUIRE(static_cast<int>(c.exits.size()) == d.k);
    d.fit.ComputeFeatures(temps);
    const Measure m = MeasureFromString(c.measure_name);
    Policy p;
    for (const auto& r : c.exits) {
      p.kept.push_back(r.index);
      if (!r.final) p.thresholds.push_back(r.threshold);
    }
    const std::vector<int> expected = ExitOfSamples(d.fit.Scores(m), ScoreOrder::kDescending, p);
    runtime::Decider dec(c);
    std::vector<double> z(d.c);
    int mismatches = 0;
    for (int i = 0; i < d.fit.n; ++i) {
      dec.Reset();
      for (int j = 0; j < d.k; ++j) {
        d.fit.Logits(i, j, z.data());
        if (dec.Step(j, z.data(), d.c)) {
          mismatches += j != expected[i];
          break;
        }
      }
    }
    CHECK(mismatches == 0);
    ++checked;
  }
  CHECK(checked >= 2);
}

TEST_CASE("eenet cells train a scorer at the cell's budget") {
  Fixture f;
  SweepSpec spec =
      LoadSweepSpec(f.Write("e", "  - {method: eenet, options: {max_epochs: 20, patience: 5}}\n",
                            "[60%]", "configs: true\n"));
  spec.models[0].targets = {"cpu"};
  const SweepSummary s = RunSweep(spec, {});
  CHECK(s.cells_total == 1);
  CHECK(s.cells_failed == 0);
  const std::vector<ResultRow> rows = testing::ReportRows(spec.output);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].measure == "eenet");
  CHECK(rows[0].has_solution());
  CHECK(rows[0].fit_cost <= rows[0].budget * (1 + 1e-9));
  CHECK(rows[0].eval_acc == rows[0].eval_acc);
  CHECK_FALSE(fs::exists(spec.output + "/configs"));  // no config for a learned scorer
  // eenet takes no measure.
  CHECK_THROWS_WITH(LoadSweepSpec(f.Write("e2", "  - {method: eenet, measure: max_prob}\n")),
                    Catch::Contains("eenet learns its own scores"));
}

TEST_CASE("budget-free placement rules report one policy, over_budget above the budget") {
  Fixture f;
  SweepSpec spec =
      LoadSweepSpec(f.Write("rules",
                            "  - {method: flop-score, options: {tolerance: 0.05}}\n"
                            "  - {method: greedy-th, options: {tolerance: 0.05, th: 0.9}}\n",
                            "[5%, 100%]"));
  spec.models[0].targets = {"cpu"};
  const SweepSummary s = RunSweep(spec, {});
  const std::vector<ResultRow> rows = testing::ReportRows(spec.output);
  REQUIRE(rows.size() == 4);
  for (int m = 0; m < 2; ++m) {
    const ResultRow& low = rows[2 * m];
    const ResultRow& high = rows[2 * m + 1];
    INFO(high.method << ": " << high.message);
    REQUIRE(high.has_solution());
    CHECK(high.fit_cost <= high.budget);
    CHECK(high.outcome == "unconstrained");  // 100% of the full cost cannot bind
    // 5% of the full cost is below the rule's policy: the policy is shown, labelled, off the front.
    CHECK(low.outcome == "over_budget");
    CHECK(low.has_policy());
    CHECK_FALSE(low.has_solution());
    CHECK_FALSE(low.pareto);
    CHECK(low.fit_cost == high.fit_cost);  // the same policy at both budgets
    CHECK(low.budget_fraction() == Approx(low.fit_cost / low.budget));
    CHECK_THAT(low.message, Catch::Contains("exceeds the budget"));
  }
  CHECK(s.cells_failed == 0);
  CHECK(s.cells_over_budget == 2);
}

TEST_CASE("every sweep method answers at the full cost: unconstrained, within budget") {
  Fixture f;
  std::string methods;
  for (const std::string& m : SweepMethodNames()) {
    methods += "  - {method: " + m + (m == "eenet" ? ", options: {max_epochs: 5}" : "") + "}\n";
  }
  SweepSpec spec = LoadSweepSpec(f.Write("full", methods, "[100%]"));
  spec.models[0].targets = {"cpu"};
  const SweepSummary s = RunSweep(spec, {});
  CHECK(s.cells_failed == 0);
  const std::vector<ResultRow> rows = testing::ReportRows(spec.output);
  REQUIRE(rows.size() == SweepMethodNames().size());
  for (const ResultRow& r : rows) {
    INFO(r.method << ": " << r.outcome << ": " << r.message);
    CHECK(r.outcome == "unconstrained");
    CHECK(r.has_solution());
    CHECK(r.within_budget());
    CHECK(r.budget_fraction() <= 1.0);
  }
}

TEST_CASE("placement rules on a scores-mode dump take CA from the labels unless told") {
  Fixture f;
  // A scores-mode dump of the fixture's 4 exits (costs from its profile), 300 val samples.
  const int k = 4, n = 300;
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> conf, corr;
  for (int e = 0; e < k; ++e) {
    for (int i = 0; i < n; ++i) {
      const double v = std::round(20.0 * u(rng)) / 20.0;
      conf.push_back(v);
      corr.push_back(u(rng) < 0.3 + 0.6 * v ? 1.0 : 0.0);
    }
  }
  fs::create_directories(f.dir / "sdump");
  testing::WriteNpyAs(f.dir / "sdump/val_confidence.npy", "<f8", {4, 300}, conf);
  testing::WriteNpyAs(f.dir / "sdump/val_correct.npy", "|u1", {4, 300}, corr);
  auto run = [&](const std::string& name, const std::string& ca) {
    testing::WriteText(
        f.dir / (name + ".yaml"),
        "output: out-" + name +
            "\nmodels:\n  - name: toy\n    dump: sdump\n    profile: dump/profile.yaml\n"
            "methods:\n  - {method: flop-score, measure: confidence, options: {tolerance: 0.1" +
            ca + "}}\nbudgets: [50%]\n");
    SweepSpec spec = LoadSweepSpec(f.dir / (name + ".yaml"));
    spec.models[0].targets = {"cpu"};
    const SweepSummary s = RunSweep(spec, {});
    return std::pair{s.cells_failed,
                     s.cells_failed ? std::vector<ResultRow>{} : testing::ReportRows(spec.output)};
  };
  const auto [failed, rows] = run("bydefault", "");
  CHECK(failed == 0);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].measure == "confidence");
  const auto [failed_l, rows_l] = run("labels", ", ca: labels");
  CHECK(failed_l == 0);
  REQUIRE(rows_l.size() == 1);
  CHECK(rows_l[0].kept_exits == rows[0].kept_exits);
  CHECK(rows_l[0].thresholds == rows[0].thresholds);
  CHECK(rows_l[0].fit_acc == rows[0].fit_acc);
  // Agreement, asked for, has no final-exit predictions to agree with: the cell fails.
  CHECK(run("agreement", ", ca: agreement").first == 1);
}
