// Reference checks on the real dumps in ../shared/data (skipped with a message when absent):
// per-exit accuracies match the figures their READMEs publish.
#include <catch2/catch.hpp>

#include "profiles/dump.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/profile.hpp"
#include "test_util.hpp"

using namespace exitplan;

namespace {

std::vector<double> ExitAccuracy(const SplitData& s) {
  std::vector<double> acc(s.k, 0.0);
  for (int j = 0; j < s.k; ++j) {
    for (int i = 0; i < s.n; ++i) acc[j] += s.correct(j, i);
    acc[j] /= s.n;
  }
  return acc;
}

}  // namespace

TEST_CASE("fmnist-resnet8: per-exit accuracies of its README") {
  const std::string dir = exitplan::testing::SharedData("fmnist-resnet8");
  if (dir.empty()) return;
  const Dump d = LoadDump(dir);
  REQUIRE(d.k == 9);
  REQUIRE(d.c == 10);
  const std::vector<double> val = {0.8310, 0.8532, 0.8632, 0.8909, 0.8980,
                                   0.9052, 0.9210, 0.9246, 0.9216};
  const std::vector<double> test = {0.8318, 0.8569, 0.8654, 0.8916, 0.8994,
                                    0.9030, 0.9200, 0.9231, 0.9222};
  const auto a = ExitAccuracy(d.fit), b = ExitAccuracy(*d.eval);
  for (int j = 0; j < 9; ++j) {
    CHECK(a[j] == Approx(val[j]).margin(5e-5));
    CHECK(b[j] == Approx(test[j]).margin(5e-5));
  }
  // Its profiles load and match K; the ms profile's full cost is the published 20.6703 ms.
  const CostProfile ms = LoadProfile(dir + "/profile-ms.yaml");
  CheckProfileMatches(ms, d.k, dir);
  CHECK(ms.FullCost() == Approx(20.6703).margin(1e-4));
}

TEST_CASE("aaai21: scores-mode dumps load with their published accuracies") {
  struct Case {
    std::string model;
    std::vector<double> fit, eval;
  };
  const std::vector<Case> cases = {
      {"alex", {0.8307, 0.8383, 0.8476}, {0.8312, 0.8365, 0.8475}},
      {"scan", {0.6719, 0.7123, 0.7205, 0.7207, 0.7471}, {0.6613, 0.7047, 0.7158, 0.7171, 0.7434}},
      {"msdnet",
       {0.5965, 0.6819, 0.7186, 0.7304, 0.7466},
       {0.5663, 0.6514, 0.6842, 0.6977, 0.7134}}};
  for (const Case& c : cases) {
    const std::string dir = exitplan::testing::SharedData("aaai21/" + c.model);
    if (dir.empty()) return;
    DumpOptions o;
    o.score_order = ScoreOrder::kAscending;
    const Dump d = LoadDump(dir, o);
    CHECK(d.mode == DumpMode::kScores);
    const auto a = ExitAccuracy(d.fit), b = ExitAccuracy(*d.eval);
    for (std::size_t j = 0; j < c.fit.size(); ++j) {
      CHECK(a[j] == Approx(c.fit[j]).margin(5e-5));
      CHECK(b[j] == Approx(c.eval[j]).margin(5e-5));
    }
    const CostProfile p = LoadProfile(dir + "/profile.yaml");
    CheckProfileMatches(p, d.k, dir);
    CHECK_FALSE(p.has_heads);
  }
}
