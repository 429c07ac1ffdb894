// What a sweep leaves on disk when it is killed or the disk fills: the cell phase and the report
// phase both survive a kill at any point (no stale temporaries after the next run, a complete
// report set or none), a full disk gives an InputError naming the file (also from a worker
// thread) and leaves no temporary, and cells whose strings need CSV quoting read back.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>

#include "dse/sweep.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "sweep_fixture.hpp"
#include "test_util.hpp"

using namespace exitplan;
namespace fs = std::filesystem;

namespace {

// The sweep fixture (tests/sweep_fixture.hpp) with 200 val and 150 test samples.
struct Fixture : testing::SweepFixture {
  Fixture() : SweepFixture(200, 150) {}
  // Two method entries (single on two measures, geometric) x 4 budgets, configs on, into `output`.
  SweepSpec Spec(const std::string& output, const std::string& model = "toy") const {
    return LoadSweepSpec(WriteSpec("s.yaml", output,
                                   "  - {method: single, measures: [max_prob, entropy]}\n"
                                   "  - {method: geometric}\n",
                                   "\"30%:100%:4\"", "configs: true\n", model));
  }
};

using testing::FileTree;
using testing::Tmpfs;

// The report set (reports/, configs/, summary.md) of a tree.
std::map<std::string, std::string> ReportSet(const std::map<std::string, std::string>& tree) {
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : tree) {
    if (k.rfind("reports", 0) == 0 || k.rfind("configs", 0) == 0 || k == "summary.md") m[k] = v;
  }
  return m;
}

int Temporaries(const std::string& out) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(out)) {
    n += IsTemporaryName(e.path().filename().string());
  }
  return n;
}

// Runs the sweep in a child process that dies (exit 137) before rename `n` of the reports.
int KilledInReports(const SweepSpec& spec, int n) {
  const pid_t pid = fork();
  if (pid == 0) {
    SweepOptions o;
    o.abort_in_reports = n;
    try {
      RunSweep(spec, o);
    } catch (...) {
      _exit(3);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("report phase killed before each rename: a complete report set or none, then resumed") {
  Fixture f;
  const SweepSpec spec = f.Spec("out");
  const SweepSummary full = RunSweep(spec, {});
  REQUIRE(full.complete);
  const auto reference = ReportSet(FileTree(spec.output));
  REQUIRE(reference.count("summary.md"));
  REQUIRE(reference.count("configs") == 1);
  for (int n = 0; n <= 2; ++n) {  // renames: reports/, configs/, summary.md
    INFO("killed before rename " << n);
    // Over an existing complete set: every report present is the complete one, the marker is gone.
    REQUIRE(KilledInReports(spec, n) == 137);
    auto now = ReportSet(FileTree(spec.output));
    CHECK_FALSE(now.count("summary.md"));
    for (const auto& [k, v] : now) CHECK(reference.at(k) == v);
    for (const auto& [k, v] : reference) CHECK((k == "summary.md" || now.count(k)));
    const SweepSummary again = RunSweep(spec, {});
    CHECK(again.cells_run == 0);
    CHECK(Temporaries(spec.output) == 0);
    CHECK(ReportSet(FileTree(spec.output)) == reference);
  }
  // A first report phase killed: what is there is complete, and summary.md only with all of it.
  for (int n = 0; n <= 2; ++n) {
    INFO("fresh, killed before rename " << n);
    fs::remove_all(spec.output + "/reports");
    fs::remove_all(spec.output + "/configs");
    fs::remove(spec.output + "/summary.md");
    REQUIRE(KilledInReports(spec, n) == 137);
    const auto now = ReportSet(FileTree(spec.output));
    CHECK(now.count("reports") == (n >= 1 ? 1u : 0u));
    CHECK(now.count("configs") == (n >= 2 ? 1u : 0u));
    CHECK_FALSE(now.count("summary.md"));
    for (const auto& [k, v] : now) CHECK(reference.at(k) == v);
    RunSweep(spec, {});
    CHECK(Temporaries(spec.output) == 0);
    CHECK(ReportSet(FileTree(spec.output)) == reference);
  }
}

TEST_CASE(
    "cells whose strings need quoting (newline, comma, quote) are read back, not recomputed") {
  Fixture f;
  const SweepSpec spec = f.Spec("out", "\"line one\\nline \\\"two\\\", three\"");
  REQUIRE(spec.models[0].name == "line one\nline \"two\", three");
  const SweepSummary s1 = RunSweep(spec, {});
  REQUIRE(s1.cells_run == 24);
  CHECK(s1.complete);
  CHECK(s1.cells_failed == 0);
  const SweepSummary s2 = RunSweep(spec, {});
  CHECK(s2.cells_run == 0);
  CHECK(s2.cells_skipped == 24);
  const std::string report = spec.output + "/reports/line_one_line__two___three__cpu.csv";
  REQUIRE(fs::exists(report));
  const auto rows = ResultsFromCsv(ReadFile(report), report);
  REQUIRE(rows.size() == 12);
  CHECK(rows[0].model == "line one\nline \"two\", three");
  // merge reads them too
  const SweepSummary m = MergeSweeps({spec.output}, f.dir / "merged");
  CHECK(m.cells_total == 24);
  CHECK(ReportSet(FileTree(f.dir / "merged")) == ReportSet(FileTree(spec.output)));
}

TEST_CASE("a full disk in the cell phase (two workers) is one InputError and no temporary") {
  Fixture f;
  Tmpfs disk(f.dir / "disk", "size=16k");
  if (!disk.ok()) return;
  const SweepSpec spec = f.Spec(f.dir / "disk/out");
  SweepOptions o;
  o.jobs = 2;
  CHECK_THROWS_WITH(RunSweep(spec, o), Catch::Contains("No space left on device"));
  CHECK(Temporaries(spec.output) == 0);
  CHECK_FALSE(fs::exists(spec.output + "/reports"));
  CHECK_FALSE(fs::exists(spec.output + "/summary.md"));
}

TEST_CASE("a full disk in the report phase leaves no report at all and no temporary") {
  Fixture f;
  const SweepSpec spec = f.Spec("out");
  RunSweep(spec, {});
  // The cells and the manifest fit on the small disk; the reports do not.
  std::size_t pages = 0;
  for (const auto& e : fs::directory_iterator(spec.output + "/cells")) {
    pages += (fs::file_size(e.path()) + 4095) / 4096;
  }
  pages += 1 + 3;  // manifest.yaml and a little room: less than the 4 CSV, 4 SVG, configs, summary
  Tmpfs disk(f.dir / "disk", "size=" + std::to_string(pages * 4) + "k");
  if (!disk.ok()) return;
  fs::create_directories(f.dir / "disk/out/cells");
  fs::copy(spec.output + "/cells", f.dir / "disk/out/cells", fs::copy_options::recursive);
  fs::copy(spec.output + "/manifest.yaml", f.dir / "disk/out/manifest.yaml");
  SweepSpec small = spec;
  small.output = f.dir / "disk/out";
  CHECK_THROWS_WITH(RunSweep(small, {}), Catch::Contains("No space left on device"));
  CHECK(Temporaries(small.output) == 0);
  CHECK(ReportSet(FileTree(small.output)).empty());
}
