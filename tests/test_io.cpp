// Atomic writes, SHA-256 (FIPS 180-4 test vectors), the result CSV and the Pareto rule.
#include <catch2/catch.hpp>
#include <filesystem>

#include "dse/pareto.hpp"
#include "dse/report.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
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
  for (const auto& e : std::filesystem::directory_iterator(dir / "sub")) files += e.is_regular_file();
  CHECK(files == 1);  // no temporary left behind
  CHECK_THROWS_AS(WriteFileAtomic("/proc/no/such/dir/x", "x"), InputError);
}

TEST_CASE("pareto: hand-made set") {
  // (cost, acc)
  const std::vector<FrontPoint> pts = {{1, 0.5}, {2, 0.7}, {2, 0.6}, {3, 0.7}, {4, 0.9},
                                       {4, 0.9}, {0.5, 0.4}, {5, 0.85}};
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
  CHECK_THROWS_WITH(ResultsFromCsv("model,target\nx,y\n", "r.csv"), Catch::Contains("missing column"));
}
