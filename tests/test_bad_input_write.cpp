// Hostile inputs on the writing side and in what exitplan reads back of its own outputs (report and
// cell CSVs, sweep manifests), and hostile output paths, run through the real binary: each is
// refused with exit 2 and one line naming the file or option, and nothing is created or changed.
#include <sys/mount.h>

#include <regex>

#include "bad_input.hpp"
#include "dse/report.hpp"
#include "profiles/io.hpp"

using exitplan::testing::BadInputCase;
using exitplan::testing::OneLineProblem;
using exitplan::testing::RunExitplan;
using exitplan::testing::Tmpfs;

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kCols = {
    "model",          "target",     "unit",    "method",   "measure",  "kept_exits",
    "budget",         "thresholds", "fit_acc", "fit_cost", "eval_acc", "eval_cost",
    "exit_fractions", "pareto",     "seconds", "outcome",  "message"};

// A one-row report CSV of a valid solved row (K = 3), with raw field texts replaced by `over`.
std::string ReportCsv(const std::map<std::string, std::string>& over = {}) {
  std::map<std::string, std::string> f = {{"model", "toy"},
                                          {"target", "cpu"},
                                          {"unit", "ms"},
                                          {"method", "single"},
                                          {"measure", "max_prob"},
                                          {"kept_exits", "1;2;3"},
                                          {"budget", "2"},
                                          {"thresholds", "0.5;0.6"},
                                          {"fit_acc", "0.8"},
                                          {"fit_cost", "2"},
                                          {"eval_acc", "0.7"},
                                          {"eval_cost", "2.1"},
                                          {"exit_fractions", "0.3;0.3;0.4"},
                                          {"pareto", "true"},
                                          {"seconds", "0.01"},
                                          {"outcome", "converged"},
                                          {"message", "ok"}};
  for (const auto& [k, v] : over) f[k] = v;
  std::string head, row;
  for (std::size_t c = 0; c < kCols.size(); ++c) {
    head += (c ? "," : "") + kCols[c];
    row += (c ? "," : "") + f[kCols[c]];
  }
  return head + "\n" + row + "\n";
}

std::vector<std::string> Export(const BadInputCase& t, const std::string& out = "out.yaml") {
  return {"export", "--from", t / "r.csv", "--row", "0", "-o", t / out};
}

// Refuses a report CSV whose field `column` is `text`, naming the file and the column.
void RefusedField(const std::string& column, const std::string& text,
                  const std::string& says = "") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv({{column, text}}));
  t.ExpectRefused(Export(t), "r.csv:2 (row 0) column " + column, says);
}

// A sweep of the example data (2 targets x 1 method x 2 budgets = 4 cells, configs on) run into
// t/"out"; returns the sweep file.
std::string RunSmallSweep(const BadInputCase& t, const std::string& out = "out") {
  t.CopyProject("data/example", "example");
  const std::string yaml =
      t.Write("s.yaml", "output: " + out +
                            "\nconfigs: true\nmodels:\n"
                            "  - {name: m, dump: example, profile: example/profile.yaml}\n"
                            "methods:\n  - {method: single}\nbudgets: [40%, 80%]\n");
  t.ExpectSuccess({"sweep", yaml, "--jobs", "2"});
  return yaml;
}

std::string FirstCell(const BadInputCase& t, const std::string& out = "out") {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(t / (out + "/cells"))) {
    names.push_back(e.path().string());
  }
  std::sort(names.begin(), names.end());
  return names.at(0);
}

// Replaces the first match of `re` in the file.
void Edit(const std::string& path, const std::string& re, const std::string& with) {
  std::string text = exitplan::ReadFile(path);
  const std::string edited =
      std::regex_replace(text, std::regex(re), with, std::regex_constants::format_first_only);
  REQUIRE(edited != text);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << edited;
}

}  // namespace

// ---- output paths ----------------------------------------------------------------------------

TEST_CASE("bad input: output: --out is a directory", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv());
  t.Mkdir("out.yaml");
  t.ExpectRefused(Export(t), "out.yaml", "is a directory");
}

TEST_CASE("bad input: output: --out is a dangling link", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv());
  fs::create_symlink(t / "nowhere", t / "out.yaml");
  t.ExpectRefused(Export(t), "out.yaml", "dangling symbolic link");
}

TEST_CASE("bad input: output: --out is a link to another file (never written through)",
          "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv());
  t.Write("victim", "precious");
  fs::create_symlink(t / "victim", t / "out.yaml");
  t.ExpectRefused(Export(t), "out.yaml", "symbolic link");
}

TEST_CASE("bad input: output: --out below a regular file", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv());
  t.Write("file", "x");
  t.ExpectRefused(Export(t, "file/out.yaml"), "file/out.yaml", "is not a directory");
}

TEST_CASE("bad input: output: --out name longer than NAME_MAX", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv());
  t.ExpectRefused(Export(t, std::string(256, 'n')), std::string(256, 'n'), "too long");
}

TEST_CASE("bad input: output: --format both with the JSON target a directory writes no YAML",
          "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv());
  t.Mkdir("cfg.json");
  t.ExpectRefused(
      {"export", "--from", t / "r.csv", "--row", "0", "--format", "both", "-o", t / "cfg"},
      "cfg.json", "is a directory");
}

TEST_CASE("bad input: output: --out on a read-only file system", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv());
  Tmpfs ro(t / "ro", "size=64k", MS_RDONLY);
  if (!ro.ok()) return;
  t.ExpectRefused(Export(t, "ro/out.yaml"), "ro/out.yaml", "Read-only file system");
}

TEST_CASE("bad input: output: --out on a full disk leaves nothing", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv());
  Tmpfs disk(t / "disk", "size=4k");
  if (!disk.ok()) return;
  t.Write("disk/filler", std::string(4096, 'x'));
  t.ExpectRefused(Export(t, "disk/out.yaml"), "disk/out.yaml", "No space left on device");
}

TEST_CASE("bad input: output: names of 246 to 255 characters work", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv());
  for (std::size_t len : {246u, 250u, 255u}) {
    const std::string name = std::string(len - 5, 'n') + ".yaml";
    t.ExpectSuccess(Export(t, name));
    CHECK(fs::is_regular_file(t / name));
  }
  int files = 0;
  for (const auto& e : fs::directory_iterator(t.path())) files += e.is_regular_file();
  CHECK(files == 4);  // r.csv and the three configs: no temporary left
}

TEST_CASE("bad input: output: sweep output is a regular file", "[bad-input]") {
  BadInputCase t;
  t.CopyProject("data/example", "example");
  t.Write("out", "not a directory");
  const std::string yaml = t.Write("s.yaml",
                                   "output: out\nmodels:\n"
                                   "  - {name: m, dump: example, profile: example/profile.yaml}\n"
                                   "methods:\n  - {method: single}\nbudgets: [40%]\n");
  t.ExpectRefused({"sweep", yaml}, "out", "is not a directory");
}

TEST_CASE("bad input: output: sweep output on a read-only file system", "[bad-input]") {
  BadInputCase t;
  t.CopyProject("data/example", "example");
  Tmpfs ro(t / "ro", "size=64k", MS_RDONLY);
  if (!ro.ok()) return;
  const std::string yaml = t.Write("s.yaml",
                                   "output: ro/out\nmodels:\n"
                                   "  - {name: m, dump: example, profile: example/profile.yaml}\n"
                                   "methods:\n  - {method: single}\nbudgets: [40%]\n");
  t.ExpectRefused({"sweep", yaml}, "ro/out", "Read-only file system");
}

TEST_CASE("bad input: output: sweep on a full disk with two workers is exit 2, one line",
          "[bad-input]") {
  BadInputCase t;
  t.CopyProject("data/example", "example");
  Tmpfs disk(t / "disk", "size=12k");
  if (!disk.ok()) return;
  const std::string yaml = t.Write("s.yaml",
                                   "output: disk/out\nmodels:\n"
                                   "  - {name: m, dump: example, profile: example/profile.yaml}\n"
                                   "methods:\n  - {method: single}\n"
                                   "budgets: \"30%:100%:20\"\n");
  const auto r = RunExitplan({"sweep", yaml, "--jobs", "2"}, t.path());
  INFO("stderr: " << r.err);
  CHECK(r.signal == 0);  // never std::terminate
  CHECK(r.status == 2);
  CHECK(OneLineProblem(r.err) == "");
  CHECK(r.err.find("No space left on device") != std::string::npos);
  for (const auto& e : fs::recursive_directory_iterator(t / "disk")) {
    CHECK_FALSE(exitplan::IsTemporaryName(e.path().filename().string()));
  }
}

TEST_CASE("bad input: output: a cell a worker cannot write (two jobs) is exit 2, one line",
          "[bad-input]") {
  // Without a full disk (no root needed): a directory where a worker must write its cell.
  BadInputCase t;
  const std::string yaml = RunSmallSweep(t);
  std::vector<std::string> cells;
  for (const auto& e : fs::directory_iterator(t / "out/cells")) cells.push_back(e.path().string());
  std::sort(cells.begin(), cells.end());
  REQUIRE(cells.size() == 4);  // 2 budgets x 2 targets
  const std::string blocked = cells.back();
  fs::remove(blocked);
  fs::create_directory(blocked);
  const auto r = RunExitplan({"sweep", yaml, "--jobs", "2", "--force"}, t.path());
  INFO("stderr: " << r.err);
  CHECK(r.signal == 0);  // never std::terminate
  CHECK(r.status == 2);
  CHECK(OneLineProblem(r.err) == "");
  CHECK(r.err.find(fs::path(blocked).filename().string()) != std::string::npos);
  CHECK(r.err.find("is a directory") != std::string::npos);
  for (const auto& e : fs::recursive_directory_iterator(t / "out")) {
    CHECK_FALSE(exitplan::IsTemporaryName(e.path().filename().string()));
  }
}

TEST_CASE("bad input: output: merge output is a regular file", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  t.Write("merged", "a file");
  t.ExpectRefused({"merge", t / "out", "-o", t / "merged"}, "merged", "not a directory");
}

TEST_CASE("bad input: output: merge output's reports is a link", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  t.Mkdir("elsewhere");
  t.Mkdir("merged");
  fs::create_symlink(t / "elsewhere", t / "merged/reports");
  t.ExpectRefused({"merge", t / "out", "-o", t / "merged"}, "merged/reports", "symbolic link");
}

// ---- report CSVs read back (export) ----------------------------------------------------------

TEST_CASE("bad input: report csv: kept_exits nan", "[bad-input]") {
  RefusedField("kept_exits", "1;nan;3", "not a whole number");
}
TEST_CASE("bad input: report csv: kept_exits 1e300", "[bad-input]") {
  RefusedField("kept_exits", "1;2;1e300", "not a whole number");
}
TEST_CASE("bad input: report csv: kept_exits negative", "[bad-input]") {
  RefusedField("kept_exits", "-5;3", "outside 1..3");
}
TEST_CASE("bad input: report csv: kept_exits beyond the row's exits", "[bad-input]") {
  RefusedField("kept_exits", "1;2;999", "outside 1..3");
}
TEST_CASE("bad input: report csv: kept_exits zero", "[bad-input]") {
  RefusedField("kept_exits", "0;3", "outside 1..3");
}
TEST_CASE("bad input: report csv: kept_exits beyond 64 bits", "[bad-input]") {
  RefusedField("kept_exits", "1;99999999999999999999", "outside");
}
TEST_CASE("bad input: report csv: kept_exits unsorted", "[bad-input]") {
  RefusedField("kept_exits", "2;1;3", "not strictly increasing");
}
TEST_CASE("bad input: report csv: kept_exits duplicated", "[bad-input]") {
  RefusedField("kept_exits", "1;1;3", "not strictly increasing");
}
TEST_CASE("bad input: report csv: kept_exits empty item", "[bad-input]") {
  RefusedField("kept_exits", "1;;3", "empty");
}
TEST_CASE("bad input: report csv: kept_exits fraction", "[bad-input]") {
  RefusedField("kept_exits", "1;2.5;3", "not a whole number");
}
TEST_CASE("bad input: report csv: kept_exits without K, beyond the cap", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv({{"kept_exits", "1;5000"}, {"exit_fractions", ""}}));
  t.ExpectRefused(Export(t), "column kept_exits", "outside 1..4096");
}
TEST_CASE("bad input: report csv: kept exits not ending at the final exit", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv({{"kept_exits", "1;2"}, {"thresholds", "0.5"}}));
  t.ExpectRefused(Export(t), "r.csv row 0", "final exit");
}
TEST_CASE("bad input: report csv: threshold nan", "[bad-input]") {
  RefusedField("thresholds", "0.5;nan", "not a number");
}
TEST_CASE("bad input: report csv: threshold not a number", "[bad-input]") {
  RefusedField("thresholds", "0.5;abc", "not a number");
}
TEST_CASE("bad input: report csv: fit_acc above 1", "[bad-input]") {
  RefusedField("fit_acc", "1.5", "outside [0, 1]");
}
TEST_CASE("bad input: report csv: fit_acc nan", "[bad-input]") {
  RefusedField("fit_acc", "nan", "not a number");
}
TEST_CASE("bad input: report csv: fit_cost negative", "[bad-input]") {
  RefusedField("fit_cost", "-1", "outside");
}
TEST_CASE("bad input: report csv: fit_cost beyond a double", "[bad-input]") {
  RefusedField("fit_cost", "1e309", "out of the range of a double");
}
TEST_CASE("bad input: report csv: budget infinite", "[bad-input]") {
  RefusedField("budget", "inf", "outside");
}
TEST_CASE("bad input: report csv: exit fraction above 1", "[bad-input]") {
  RefusedField("exit_fractions", "0.3;2;0.4", "outside [0, 1]");
}
TEST_CASE("bad input: report csv: seconds negative", "[bad-input]") {
  RefusedField("seconds", "-0.5", "outside");
}
TEST_CASE("bad input: report csv: pareto neither true nor false", "[bad-input]") {
  RefusedField("pareto", "yes", "expected true or false");
}
TEST_CASE("bad input: report csv: control bytes in a field are escaped", "[bad-input]") {
  RefusedField("kept_exits", "1;\x1b[31m;3", "\\x1b[31m");
}
TEST_CASE("bad input: report csv: newline inside a quoted number", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv({{"kept_exits", "\"1\n2;3\""}}));
  t.ExpectRefused(Export(t), "r.csv:2 (row 0) column kept_exits", "'1\\n2'");
}
TEST_CASE("bad input: report csv: unclosed quote", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv({{"message", "\"never closed"}}));
  t.ExpectRefused(Export(t), "r.csv:2", "not closed");
}
TEST_CASE("bad input: report csv: stray quote inside a field", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv({{"message", "say \"hi\""}}));
  t.ExpectRefused(Export(t), "r.csv:2", "inside an unquoted field");
}
TEST_CASE("bad input: report csv: text after a closing quote", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv({{"message", "\"a\"b"}}));
  t.ExpectRefused(Export(t), "r.csv:2", "after the closing");
}
TEST_CASE("bad input: report csv: wrong number of fields", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", ReportCsv({{"message", "a,b"}}));
  t.ExpectRefused(Export(t), "r.csv:2 (row 0)", "expected 17 fields, found 18");
}
TEST_CASE("bad input: report csv: missing column", "[bad-input]") {
  BadInputCase t;
  std::string csv = ReportCsv();
  csv.replace(csv.find("kept_exits"), 10, "kept_exitz");
  t.Write("r.csv", csv);
  t.ExpectRefused(Export(t), "r.csv:1", "missing column 'kept_exits'");
}
TEST_CASE("bad input: report csv: a column twice", "[bad-input]") {
  BadInputCase t;
  std::string csv = ReportCsv();
  csv.replace(csv.find("message"), 7, "outcome");
  t.Write("r.csv", csv);
  t.ExpectRefused(Export(t), "r.csv:1", "appears twice");
}
TEST_CASE("bad input: report csv: empty file", "[bad-input]") {
  BadInputCase t;
  t.Write("r.csv", "");
  t.ExpectRefused(Export(t), "r.csv", "empty CSV");
}
TEST_CASE("bad input: report csv: --from is a directory", "[bad-input]") {
  BadInputCase t;
  t.Mkdir("r.csv");
  t.ExpectRefused(Export(t), "r.csv", "is a directory");
}
TEST_CASE("bad input: report csv: --from is a FIFO (no hang)", "[bad-input]") {
  BadInputCase t;
  REQUIRE(::mkfifo((t / "r.csv").c_str(), 0644) == 0);
  t.ExpectRefused(Export(t), "r.csv", "not a regular file", 20.0);
}
TEST_CASE("bad input: report csv: --from is a dangling link", "[bad-input]") {
  BadInputCase t;
  fs::create_symlink(t / "nowhere.csv", t / "r.csv");
  t.ExpectRefused(Export(t), "r.csv", "dangling symbolic link");
}

// ---- sweep manifests and cells read back (merge, sweep resume, export) -----------------------

TEST_CASE("bad input: manifest: cell group index -1", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  Edit(t / "out/manifest.yaml", ", 0\\]", ", -1]");
  t.ExpectRefused({"merge", t / "out", "-o", t / "merged"}, "manifest.yaml:", "outside 0..1");
}
TEST_CASE("bad input: manifest: cell group index 1000", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  Edit(t / "out/manifest.yaml", ", 0\\]", ", 1000]");
  t.ExpectRefused({"merge", t / "out"}, "manifest.yaml:", "outside 0..1");
}
TEST_CASE("bad input: manifest: cell group not a number", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  Edit(t / "out/manifest.yaml", ", 0\\]", ", 1e3]");
  t.ExpectRefused({"merge", t / "out"}, "manifest.yaml:", "not a whole number");
}
TEST_CASE("bad input: manifest: cell hash with a path in it", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  Edit(t / "out/manifest.yaml", "\\[[0-9a-f]{64},", "[../../../../etc/passwd,");
  t.ExpectRefused({"merge", t / "out", "-o", t / "merged"}, "manifest.yaml:", "not a SHA-256");
}
TEST_CASE("bad input: manifest: a cell listed twice", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  const std::string text = exitplan::ReadFile(t / "out/manifest.yaml");
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex("\\[([0-9a-f]{64}), 0\\]")));
  Edit(t / "out/manifest.yaml", "\\[[0-9a-f]{64}, 1\\]", "[" + m[1].str() + ", 1]");
  t.ExpectRefused({"merge", t / "out"}, "manifest.yaml:", "appears twice");
}
TEST_CASE("bad input: manifest: two groups map to one report file name", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  Edit(t / "out/manifest.yaml", "target: cpu-1thread", "target: \"cpu 1\"");
  Edit(t / "out/manifest.yaml", "target: flops", "target: cpu_1");
  t.ExpectRefused({"merge", t / "out", "-o", t / "merged"}, "manifest.yaml",
                  "model 'm' target 'cpu_1' and model 'm' target 'cpu 1'");
}
TEST_CASE("bad input: manifest: wrong schema", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  Edit(t / "out/manifest.yaml", "exitplan-sweep-manifest/1", "exitplan-sweep-manifest/9");
  t.ExpectRefused({"merge", t / "out"}, "manifest.yaml", "not an exitplan sweep manifest");
}
TEST_CASE("bad input: manifest: malformed YAML", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  Edit(t / "out/manifest.yaml", "groups:", "groups: [");
  t.ExpectRefused({"merge", t / "out"}, "manifest.yaml:", "malformed sweep manifest");
}
TEST_CASE("bad input: manifest: exit_names not a list", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  Edit(t / "out/manifest.yaml", "exit_names: \\[[^\\]]*\\]", "exit_names: {a: 1}");
  t.ExpectRefused({"merge", t / "out"}, "manifest.yaml:", "exit_names");
}
TEST_CASE("bad input: manifest: score_order unknown", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  Edit(t / "out/manifest.yaml", "score_order: descending", "score_order: sideways");
  t.ExpectRefused({"export", "--from", t / "out/reports/m__flops.csv", "--row", "0"},
                  "manifest.yaml:", "sideways");
}
TEST_CASE("bad input: manifest: sweep hash not a SHA-256", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  Edit(t / "out/manifest.yaml", "sweep: [0-9a-f]{64}", "sweep: {x: 1}");
  t.ExpectRefused({"merge", t / "out"}, "manifest.yaml:", "sweep");
}
TEST_CASE("bad input: manifest: is a directory", "[bad-input]") {
  BadInputCase t;
  t.Mkdir("out/manifest.yaml");
  t.ExpectRefused({"merge", t / "out"}, "manifest.yaml", "is a directory");
}
TEST_CASE("bad input: merge: a cell missing everywhere writes nothing", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  fs::remove(FirstCell(t));
  t.ExpectRefused({"merge", t / "out", "-o", t / "merged"}, "out", "1 of 4 cells have no result");
}
TEST_CASE("bad input: merge: a damaged cell is named, nothing written", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  const std::string cell = FirstCell(t);
  Edit(cell, ",1;2;3;4;5;6,", ",1;2;3;4;5;999,");
  t.ExpectRefused({"merge", t / "out", "-o", t / "merged"}, cell + ":2 (row 0) column kept_exits",
                  "outside 1..6");
}
TEST_CASE("bad input: merge: a front row that cannot become a config writes nothing",
          "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  const std::string cell = FirstCell(t);
  // Kept exits that stop short of the final exit, with the best accuracy at no cost: on the front.
  std::string text = exitplan::ReadFile(cell);
  auto rows = exitplan::ResultsFromCsv(text, cell);
  rows[0].kept_exits = {0, 1};
  rows[0].thresholds = {0.5};
  rows[0].fit_acc = 1.0;
  rows[0].fit_cost = 0.0;
  std::ofstream(cell, std::ios::binary | std::ios::trunc) << exitplan::ResultsToCsv(rows);
  t.ExpectRefused({"merge", t / "out", "-o", t / "merged"}, "row", "final exit");
}
TEST_CASE("bad input: merge: directories of different sweeps", "[bad-input]") {
  BadInputCase t;
  RunSmallSweep(t);
  const std::string yaml2 = t.Write("s2.yaml",
                                    "output: out2\nmodels:\n"
                                    "  - {name: m, dump: example, profile: example/profile.yaml}\n"
                                    "methods:\n  - {method: single}\nbudgets: [50%]\n");
  t.ExpectSuccess({"sweep", yaml2});
  t.ExpectRefused({"merge", t / "out", t / "out2", "-o", t / "merged"}, "out2",
                  "holds a different sweep");
}
TEST_CASE("bad input: sweep resume: a damaged cell is named before anything is written",
          "[bad-input]") {
  BadInputCase t;
  const std::string yaml = RunSmallSweep(t);
  const std::string cell = FirstCell(t);
  Edit(cell, ",1;2;3;4;5;6,", ",nan,");
  t.ExpectRefused({"sweep", yaml}, cell + ":2 (row 0) column kept_exits", "not a whole number");
}
TEST_CASE("bad input: sweep resume: stale temporaries go, without reading pids", "[bad-input]") {
  BadInputCase t;
  const std::string yaml = RunSmallSweep(t);
  t.Write("out/cells/x.csv.tmp.99999999999999999999", "stale");
  t.Write("out/cells/.exitplan-tmp.abc.csv.Zz", "stale");
  t.Write("out/.exitplan-tmp.reports.Qq/a.csv", "stale");
  t.Write("out/configs/m__flops/row0001.yaml.tmp.12", "stale");
  t.ExpectSuccess({"sweep", yaml});
  for (const auto& e : fs::recursive_directory_iterator(t / "out")) {
    CHECK_FALSE(exitplan::IsTemporaryName(e.path().filename().string()));
  }
}

// ---- numbers that make no budget ---------------------------------------------------------------

TEST_CASE("bad input: budget: a fraction of a profile whose costs are all 0", "[bad-input]") {
  BadInputCase t;
  exitplan::testing::WriteSmallDump(t / "d");
  t.Write("p.yaml",
          "unit: ms\nexits:\n  - {name: a, backbone: 0, head: 0}\n"
          "  - {name: b, backbone: 0, head: 0}\n  - {name: c, backbone: 0, head: 0}\n");
  t.ExpectRefused({"thresholds", "--dump", t / "d", "--profile", t / "p.yaml", "--method", "single",
                   "--budget", "50%"},
                  "p.yaml", "every cost is 0");  // refused by the profile reader already
}

TEST_CASE("bad input: budget: a fraction of a full cost that overflows", "[bad-input]") {
  BadInputCase t;
  exitplan::testing::WriteSmallDump(t / "d");
  t.Write("p.yaml",
          "unit: ms\nexits:\n  - {name: a, backbone: 1e308, head: 1e308}\n"
          "  - {name: b, backbone: 1e308, head: 1e308}\n"
          "  - {name: c, backbone: 1e308, head: 1e308}\n");
  t.ExpectRefused({"thresholds", "--dump", t / "d", "--profile", t / "p.yaml", "--method", "single",
                   "--budget", "50%"},
                  "p.yaml", "costs above 1e250 are refused");  // by the profile reader already
}
