// Cost profiles: formats, the cost model with head costs of kept exits only, and bad input.
#include <catch2/catch.hpp>

#include "profiles/error.hpp"
#include "profiles/profile.hpp"
#include "test_util.hpp"

using namespace exitplan;
using exitplan::testing::TempDir;
using exitplan::testing::WriteText;

TEST_CASE("profile: per-exit backbone + head costs and the kept-set cost model") {
  TempDir dir;
  WriteText(dir / "p.yaml",
            "unit: ms\ntarget: cpu\nexits:\n"
            "  - {name: b1, backbone: 1.0, head: 0.5}\n"
            "  - {name: b2, backbone: 2.0, head: 0.25}\n"
            "  - {name: final, backbone: 4.0, head: 0.125}\n");
  const CostProfile p = LoadProfile(dir / "p.yaml");
  CHECK(p.k() == 3);
  CHECK(p.unit == "ms");
  CHECK(p.target == "cpu");
  CHECK(p.names[1] == "b2");
  // All kept: 1.5, 2.75, 4.875.
  CHECK(p.StopCostsAllKept() == std::vector<double>{1.5, 2.75, 4.875});
  CHECK(p.FullCost() == 4.875);
  CHECK(p.BackboneOnlyCost() == 4.125);
  // Dropping exit 1 removes its head cost from every later exit.
  const std::vector<double> c = p.StopCosts({1, 2});
  CHECK(c[1] == 2.25);
  CHECK(c[2] == 4.375);
  CHECK(p.StopCosts({2})[2] == 4.125);
}

TEST_CASE("profile: cumulative costs and several targets") {
  TempDir dir;
  WriteText(dir / "c.yaml", "unit: flops\ncumulative: [10, 20, 20]\n");
  const CostProfile c = LoadProfile(dir / "c.yaml");
  CHECK_FALSE(c.has_heads);
  CHECK(c.StopCosts({0, 2}) == std::vector<double>{10, 20, 20});
  CHECK(c.FullCost() == 20);

  WriteText(dir / "m.yaml",
            "targets:\n  gpu:\n    unit: us\n    cumulative: [1, 2]\n"
            "  cpu:\n    unit: ms\n    exits:\n      - {backbone: 1, head: 0}\n"
            "      - {backbone: 3, head: 1}\n");
  CHECK(LoadProfiles(dir / "m.yaml").size() == 2);
  CHECK(LoadProfile(dir / "m.yaml", "cpu").FullCost() == 4);
  CHECK(LoadProfile(dir / "m.yaml", "gpu").unit == "us");
  CHECK_THROWS_WITH(LoadProfile(dir / "m.yaml"), Catch::Contains("several targets (gpu, cpu)"));
  CHECK_THROWS_WITH(LoadProfile(dir / "m.yaml", "tpu"), Catch::Contains("no target 'tpu'"));
}

TEST_CASE("profile: bad input names the file, the YAML line and the key") {
  TempDir dir;
  const std::string f = dir / "bad.yaml";
  WriteText(f, "unit: parsecs\ncumulative: [1, 2]\n");
  CHECK_THROWS_WITH(LoadProfile(f),
                    Catch::Contains("bad.yaml:1") && Catch::Contains("unknown unit 'parsecs'"));
  WriteText(f, "unit: ms\ncumulative: [1, -2]\n");
  CHECK_THROWS_WITH(LoadProfile(f), Catch::Contains("costs must be >= 0"));
  WriteText(f, "unit: ms\ncumulative: [1, 3, 2]\n");
  CHECK_THROWS_WITH(LoadProfile(f), Catch::Contains("decrease at exit 3"));
  WriteText(f, "unit: ms\nexits:\n  - {backbone: 2, head: 1}\n  - {backbone: 1, head: 1}\n");
  CHECK_THROWS_WITH(LoadProfile(f), Catch::Contains("bad.yaml:4") && Catch::Contains("decrease"));
  WriteText(f, "unit: ms\ncumulative: [1, 2]\nlatency: 3\n");
  CHECK_THROWS_WITH(LoadProfile(f),
                    Catch::Contains("bad.yaml:3") && Catch::Contains("unknown key 'latency'"));
  WriteText(f, "unit: ms\nexits:\n  - {backbone: 1, heda: 1}\n");
  CHECK_THROWS_WITH(LoadProfile(f), Catch::Contains("bad.yaml:3") &&
                                        Catch::Contains("unknown key 'heda' in exits[0]"));
  WriteText(f, "unit: ms\nunit: s\ncumulative: [1]\n");
  CHECK_THROWS_WITH(LoadProfile(f), Catch::Contains("duplicate key 'unit'"));
  WriteText(f, "unit: ms\n");
  CHECK_THROWS_WITH(LoadProfile(f), Catch::Contains("exactly one of 'exits' or 'cumulative'"));
  WriteText(f, "unit: ms\ncumulative: [1, abc]\n");
  CHECK_THROWS_WITH(LoadProfile(f), Catch::Contains("expected a number, found 'abc'"));
  WriteText(f, "unit: [ms\n");
  CHECK_THROWS_WITH(LoadProfile(f), Catch::Contains("invalid YAML"));
  CHECK_THROWS_WITH(LoadProfile(dir / "none.yaml"), Catch::Contains("no such profile file"));
  WriteText(f, "unit: ms\ncumulative: [1, 2]\n");
  CHECK_THROWS_WITH(CheckProfileMatches(LoadProfile(f), 3, "d/val_logits.npy"),
                    Catch::Contains("has 2 exits, but the dump d/val_logits.npy has K = 3"));
}

TEST_CASE("kept exits: parsing adds the final exit and rejects bad lists") {
  CHECK(ParseKeptExits("1,3", 5) == std::vector<int>{0, 2, 4});
  CHECK(ParseKeptExits("2,5", 5) == std::vector<int>{1, 4});
  // Unsorted lists are refused, not sorted (thresholds follow the order of the exits).
  CHECK_THROWS_WITH(ParseKeptExits("5,2", 5), Catch::Contains("ascending order"));
  CHECK_THROWS_WITH(ParseKeptExits("4,2", 5), Catch::Contains("'4,2'"));
  CHECK_THROWS_WITH(ParseKeptExits("0,2", 5), Catch::Contains("out of range 1..5"));
  CHECK_THROWS_WITH(ParseKeptExits("2,2", 5), Catch::Contains("listed twice"));
  CHECK_THROWS_WITH(ParseKeptExits("a", 5), Catch::Contains("not a whole number"));
}
