// Atomic writes, SHA-256 (FIPS 180-4 test vectors), the result CSV and the Pareto rule.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>

#include "dse/pareto.hpp"
#include "dse/report.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/numbers.hpp"
#include "test_util.hpp"

using namespace exitplan;

TEST_CASE("sha256 known answers") {
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(Sha256Hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("atomic write leaves the whole file or nothing") {
  exitplan::testing::TempDir dir;
  const std::string p = dir / "sub/out.txt";
  WriteFileAtomic(p, "hello");
  CHECK(ReadFile(p) == "hello");
  WriteFileAtomic(p, "bye");
  CHECK(ReadFile(p) == "bye");
  CHECK(Sha256File(p) == Sha256Hex("bye"));
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "sub"))
    files += e.is_regular_file();
  CHECK(files == 1);  // no temporary left behind
  CHECK_THROWS_AS(WriteFileAtomic("/proc/no/such/dir/x", "x"), InputError);
}

namespace {

namespace fs = std::filesystem;

// Names in `dir` (not recursive), sorted.
std::set<std::string> Names(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

}  // namespace

TEST_CASE("atomic write: directory, links and other non-files as targets are refused") {
  exitplan::testing::TempDir dir;
  fs::create_directories(dir / "d");
  CHECK_THROWS_WITH(WriteFileAtomic(dir / "d", "x"), Catch::Contains("d: is a directory"));
  exitplan::testing::WriteText(dir / "victim", "secret");
  fs::create_symlink(dir / "victim", dir / "link");
  CHECK_THROWS_WITH(WriteFileAtomic(dir / "link", "x"), Catch::Contains("is a symbolic link"));
  fs::create_symlink(dir / "nowhere", dir / "dangling");
  CHECK_THROWS_WITH(WriteFileAtomic(dir / "dangling", "x"),
                    Catch::Contains("is a dangling symbolic link"));
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0644) == 0);
  CHECK_THROWS_WITH(WriteFileAtomic(dir / "fifo", "x"), Catch::Contains("not a regular file"));
  exitplan::testing::WriteText(dir / "file", "f");
  CHECK_THROWS_WITH(WriteFileAtomic(dir / "file/x.csv", "x"),
                    Catch::Contains("is not a directory"));
  CHECK(ReadFile(dir / "victim") == "secret");
  CHECK(fs::is_symlink(dir / "link"));
  CHECK(Names(dir.path()) ==
        std::set<std::string>{"d", "dangling", "fifo", "file", "link", "victim"});
}

TEST_CASE("atomic write: a link planted at the old predictable temporary name is not followed") {
  exitplan::testing::TempDir dir;
  exitplan::testing::WriteText(dir / "victim", "secret");
  const std::string old_tmp = dir / ("out.csv.tmp." + std::to_string(::getpid()));
  fs::create_symlink(dir / "victim", old_tmp);
  WriteFileAtomic(dir / "out.csv", "data");
  CHECK(ReadFile(dir / "out.csv") == "data");
  CHECK(ReadFile(dir / "victim") == "secret");
  CHECK(fs::is_symlink(old_tmp));
  CHECK_FALSE(fs::is_symlink(dir / "out.csv"));
}

TEST_CASE("atomic write: names up to NAME_MAX work, temporaries stay short and unique") {
  exitplan::testing::TempDir dir;
  for (std::size_t len : {240u, 246u, 250u, 255u}) {
    const std::string name = std::string(len - 4, 'n') + ".csv";
    WriteFileAtomic(dir / name, "x");
    CHECK(ReadFile(dir / name) == "x");
  }
  CHECK(Names(dir.path()).size() == 4);
  CHECK_THROWS_WITH(WriteFileAtomic(dir / std::string(256, 'n'), "x"),
                    Catch::Contains("File name too long"));
  CHECK(Names(dir.path()).size() == 4);
  // 200 writes of the same target: one file, no temporary left, each write complete.
  for (int i = 0; i < 200; ++i) WriteFileAtomic(dir / "same", std::to_string(i));
  CHECK(ReadFile(dir / "same") == "199");
  CHECK(Names(dir.path()).size() == 5);
}

TEST_CASE("atomic write: the mode follows the umask like any new file") {
  exitplan::testing::TempDir dir;
  const mode_t old = ::umask(022);
  WriteFileAtomic(dir / "a", "x");
  ::umask(077);
  WriteFileAtomic(dir / "b", "x");
  ::umask(old);
  struct stat a, b;
  REQUIRE(::stat((dir / "a").c_str(), &a) == 0);
  REQUIRE(::stat((dir / "b").c_str(), &b) == 0);
  CHECK((a.st_mode & 0777) == 0644);
  CHECK((b.st_mode & 0777) == 0600);
}

TEST_CASE("output set: one bad target and nothing is written, not even created directories") {
  exitplan::testing::TempDir dir;
  fs::create_directories(dir / "out/b.json");  // a directory where a file should go
  OutputSet set;
  set.Add(dir / "out/a.yaml", "a");
  set.Add(dir / "out/b.json", "b");
  set.Add(dir / "new/sub/c.txt", "c");
  CHECK_THROWS_WITH(set.Commit(), Catch::Contains("b.json: is a directory"));
  CHECK(Names(dir / "out") == std::set<std::string>{"b.json"});
  CHECK_FALSE(fs::exists(dir / "new"));
}

TEST_CASE("output set: a replaced directory is swapped whole, the marker lands last") {
  exitplan::testing::TempDir dir;
  const std::string out = dir / "out";
  {
    OutputSet set;
    set.ReplaceDirectory(out + "/reports");
    set.Add(out + "/reports/a.csv", "a1");
    set.Add(out + "/reports/old.csv", "o");
    set.Add(out + "/reports/sub/c.yaml", "c1");
    set.Add(out + "/summary.md", "s1");
    set.SetMarker(out + "/summary.md");
    set.Commit();
  }
  CHECK(Names(out) == std::set<std::string>{"reports", "summary.md"});
  CHECK(ReadFile(out + "/reports/sub/c.yaml") == "c1");
  static std::vector<std::string> seen;  // what existed before each rename
  seen.clear();
  static std::string watched;
  watched = out;
  OutputSet set;
  set.ReplaceDirectory(out + "/reports");
  set.Add(out + "/reports/a.csv", "a2");
  set.Add(out + "/reports/sub/c.yaml", "c2");
  set.Add(out + "/summary.md", "s2");
  set.SetMarker(out + "/summary.md");
  set.Commit([](int done) {
    std::string state = std::to_string(done) + ":";
    for (const auto& n : Names(watched)) {
      if (n.rfind(".exitplan-tmp.", 0) != 0) state += " " + n;
    }
    seen.push_back(state);
  });
  // The marker is gone before the first rename and is the last thing renamed.
  CHECK(seen == std::vector<std::string>{"0: reports", "1: reports"});
  CHECK(Names(out) == std::set<std::string>{"reports", "summary.md"});
  CHECK(Names(out + "/reports") == std::set<std::string>{"a.csv", "sub"});  // old.csv gone
  CHECK(ReadFile(out + "/reports/a.csv") == "a2");
  CHECK(ReadFile(out + "/summary.md") == "s2");
}

TEST_CASE("output set: a replaced directory that is a link or a file is refused") {
  exitplan::testing::TempDir dir;
  fs::create_directories(dir / "elsewhere");
  fs::create_symlink(dir / "elsewhere", dir / "reports");
  OutputSet set;
  set.ReplaceDirectory(dir / "reports");
  set.Add(dir / "reports/a.csv", "a");
  CHECK_THROWS_WITH(set.Commit(), Catch::Contains("reports: is a symbolic link"));
  CHECK(fs::is_empty(dir / "elsewhere"));
  CHECK(Names(dir.path()) == std::set<std::string>{"elsewhere", "reports"});
}

TEST_CASE("stale temporaries: exitplan's names only, no pid parsing") {
  exitplan::testing::TempDir dir;
  for (const char* n : {".exitplan-tmp.x.csv.AbC123", "x.csv.tmp.99999999999999999999",
                        "y.csv.tmp.1", "keep.csv", "keep.tmp.abc", "keep.tmp.", "tmp.5"}) {
    exitplan::testing::WriteText(dir / n, "x");
  }
  fs::create_directories(dir / ".exitplan-tmp.reports.QwErTy/sub");
  exitplan::testing::WriteText(dir / ".exitplan-tmp.reports.QwErTy/sub/a.csv", "x");
  fs::create_symlink(dir / "keep.csv", dir / ".exitplan-tmp.link.Zz9");
  CHECK(IsTemporaryName("a.tmp.12"));
  CHECK_FALSE(IsTemporaryName("a.tmp.12x"));
  CHECK(RemoveStaleTemporaries(dir.path()) == 5);
  CHECK(Names(dir.path()) ==
        std::set<std::string>{"keep.csv", "keep.tmp.", "keep.tmp.abc", "tmp.5"});
  CHECK(ReadFile(dir / "keep.csv") == "x");  // the link was removed, not followed
}

TEST_CASE("directory lock: a shared holder keeps others from the exclusive lock") {
  exitplan::testing::TempDir dir;
  DirectoryLock a(dir.path());
  REQUIRE(a.TryExclusive());
  a.Shared();
  DirectoryLock b(dir.path());
  CHECK_FALSE(b.TryExclusive());  // a live run holds the directory: its temporaries stay
  b.Shared();
  CHECK_THROWS_AS(DirectoryLock(dir / "missing"), InputError);
}

TEST_CASE("read file: directories, FIFOs and dangling links are named, never waited on") {
  exitplan::testing::TempDir dir;
  CHECK_THROWS_WITH(ReadFile(dir.path()), Catch::Contains("is a directory"));
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0644) == 0);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(ReadFile(dir / "fifo"), Catch::Contains("not a regular file"));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  fs::create_symlink(dir / "nowhere", dir / "dangling");
  CHECK_THROWS_WITH(ReadFile(dir / "dangling"), Catch::Contains("dangling symbolic link"));
  CHECK_THROWS_WITH(ReadFile(dir / "absent"), Catch::Contains("No such file"));
  CHECK_THROWS_WITH(Sha256File(dir / "fifo"), Catch::Contains("not a regular file"));
}

TEST_CASE("numbers: strict, range-checked, one-line errors") {
  CHECK(ParseDouble("0.25", "x", 0, 1) == 0.25);
  CHECK(ParseDouble("+1e3", "x") == 1000);
  CHECK(ParseDouble("-inf", "x") == -INFINITY);
  CHECK_THROWS_WITH(ParseDouble("inf", "x", 0, 1e9), "x: inf is outside [0, 1e+09]");
  CHECK_THROWS_WITH(ParseDouble("nan", "x"), "x: 'nan' is not a number");
  CHECK_THROWS_WITH(ParseDouble("-nan", "x"), "x: '-nan' is not a number");
  CHECK_THROWS_WITH(ParseDouble("1e309", "x"), "x: '1e309' is out of the range of a double");
  CHECK_THROWS_WITH(ParseDouble("", "x"), "x: empty (expected a number)");
  CHECK_THROWS_WITH(ParseDouble(" 1", "x"), "x: ' 1' is not a number");
  CHECK_THROWS_WITH(ParseDouble("1 ", "x"), "x: '1 ' is not a number");
  CHECK_THROWS_WITH(ParseDouble("+-1", "x"), "x: '+-1' is not a number");
  CHECK_THROWS_WITH(ParseDouble("1.5", "x", 0, 1), "x: 1.5 is outside [0, 1]");
  CHECK_THROWS_WITH(ParseDouble("1\n2", "x"), "x: '1\\n2' is not a number");
  CHECK(ParseInt("-5", "n") == -5);
  CHECK(ParseInt("9223372036854775807", "n") == INT64_MAX);
  CHECK_THROWS_WITH(ParseInt("99999999999999999999", "n", 0, 10),
                    "n: '99999999999999999999' is outside 0..10");
  CHECK_THROWS_WITH(ParseInt("1e3", "n"), "n: '1e3' is not a whole number");
  CHECK_THROWS_WITH(ParseInt("2.0", "n"), "n: '2.0' is not a whole number");
  CHECK_THROWS_WITH(ParseInt("-1", "n", 0, 3), "n: -1 is outside 0..3");
  CHECK_THROWS_WITH(ParseInt("", "n"), "n: empty (expected a whole number)");
  CHECK(QuoteForError(std::string("a\x1b[31m\xff", 7)) == "'a\\x1b[31m\\xff'");
  CHECK(QuoteForError(std::string(100, 'z'), 5) == "'zzzzz...'");
}

TEST_CASE("result CSV: hostile strings round-trip (RFC 4180)") {
  const std::vector<std::string> hostile = {
      "plain",       "",         "a,b",    "say \"hi\"",  "two\nlines",
      "crlf\r\nend", "\"",       "\"\"",   ",",           "\n",
      "trailing\n",  " spaced ", "tab\tx", "caf\xc3\xa9", "lone\rcr",
      "x,\"y\"\nz,", ";;;"};
  std::vector<ResultRow> rows;
  for (std::size_t i = 0; i < hostile.size(); ++i) {
    ResultRow r;
    r.model = hostile[i];
    r.target = hostile[(i + 1) % hostile.size()];
    r.unit = "ms";
    r.method = hostile[(i + 2) % hostile.size()];
    r.measure = "max_prob";
    r.kept_exits = {0, 2};
    r.budget = 1.5;
    r.thresholds = {i % 2 ? INFINITY : 0.75};
    r.fit_acc = 0.5;
    r.fit_cost = 1.25;
    r.exit_fractions = {0.25, 0, 0.75};
    r.seconds = 0.001;
    r.outcome = "error";
    r.message = hostile[(i + 3) % hostile.size()];
    rows.push_back(r);
  }
  const std::string csv = ResultsToCsv(rows);
  const std::vector<ResultRow> back = ResultsFromCsv(csv, "h.csv");
  REQUIRE(back.size() == rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    INFO("row " << i);
    CHECK(back[i].model == rows[i].model);
    CHECK(back[i].target == rows[i].target);
    CHECK(back[i].method == rows[i].method);
    CHECK(back[i].message == rows[i].message);
    CHECK(back[i].kept_exits == rows[i].kept_exits);
    CHECK(back[i].thresholds == rows[i].thresholds);
    CHECK(back[i].exit_fractions == rows[i].exit_fractions);
    CHECK(std::isnan(back[i].eval_acc));
  }
  CHECK(ResultsToCsv(back) == csv);
  // Line numbers count the line breaks inside quoted fields: the error names the right line.
  const std::string header = csv.substr(0, csv.find('\n') + 1);
  const std::string two = header + CsvField("a\nb") +
                          ",t,ms,m,max_prob,1,1,,,,,,,false,,,0,x,y,,,,,,,,\n" +
                          "a,t,ms,m,max_prob,9;2,1,,,,,,,false,,,0,x,y,,,,,,,,\n";
  CHECK_THROWS_WITH(ResultsFromCsv(two, "r.csv"),
                    "r.csv:4 (row 1) column kept_exits: '9;2' is not strictly increasing (kept "
                    "exits are listed shallow to deep, each once)");
  CHECK_THROWS_WITH(ParseCsv("a,\"b\nc", "q.csv"),
                    Catch::Contains("q.csv:1: a quoted field is not closed"));
  CHECK_THROWS_WITH(ParseCsv("a,b\"c\n", "q.csv"),
                    Catch::Contains("q.csv:1: a '\"' inside an unquoted field"));
  CHECK_THROWS_WITH(ParseCsv("a,\"b\"c\n", "q.csv"), Catch::Contains("text after the closing"));
  CHECK(ParseCsv("a,b\r\n\r\nc,\"\"\n", "q.csv").size() == 2);
}

TEST_CASE("pareto: hand-made set") {
  // (cost, acc)
  const std::vector<FrontPoint> pts = {{1, 0.5}, {2, 0.7}, {2, 0.6},   {3, 0.7},
                                       {4, 0.9}, {4, 0.9}, {0.5, 0.4}, {5, 0.85}};
  const std::vector<bool> m = ParetoMask(pts);
  CHECK(m == std::vector<bool>{true, true, false, false, true, true, true, false});
}

TEST_CASE("result CSV round trip and pareto marking per model/target") {
  ResultRow a;
  a.model = "m";
  a.target = "cpu";
  a.unit = "ms";
  a.method = "exact";
  a.measure = "max_prob";
  a.kept_exits = {0, 2};
  a.budget = 1.5;
  a.thresholds = {0.9};
  a.fit_acc = 0.8;
  a.fit_cost = 1.4;
  a.exit_fractions = {0.5, 0, 0.5};
  a.message = "a, \"quoted\" message";
  ResultRow b = a;
  b.method = "single";
  b.fit_acc = 0.79;
  b.fit_cost = 1.45;
  ResultRow c = a;
  c.target = "gpu";
  c.fit_acc = 0.1;
  ResultRow d = a;
  d.fit_acc = std::nan("");
  std::vector<ResultRow> rows = {a, b, c, d};
  MarkPareto(rows);
  CHECK(rows[0].pareto);
  CHECK_FALSE(rows[1].pareto);
  CHECK(rows[2].pareto);  // alone in its target
  CHECK_FALSE(rows[3].pareto);
  const std::string csv = ResultsToCsv(rows);
  const std::vector<ResultRow> back = ResultsFromCsv(csv, "r.csv");
  REQUIRE(back.size() == 4);
  CHECK(back[0].kept_exits == a.kept_exits);
  CHECK(back[0].message == a.message);
  CHECK(back[0].thresholds == a.thresholds);
  CHECK(back[1].fit_cost == 1.45);
  CHECK(std::isnan(back[0].eval_acc));
  CHECK(ResultsToCsv(back) == csv);
  CHECK_THROWS_WITH(ResultsFromCsv("model,target\nx,y\n", "r.csv"),
                    Catch::Contains("missing column"));
}
