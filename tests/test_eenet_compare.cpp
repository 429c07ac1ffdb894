// Tests of the Ilhan et al. 2023 Table 1-style comparison (optim/eenet_compare.hpp).
#include <catch2/catch.hpp>
#include <map>

#include "optim/eenet_compare.hpp"
#include "profiles/dump.hpp"
#include "profiles/profile.hpp"
#include "test_util.hpp"

using namespace exitplan;
using exitplan::testing::TempDir;

TEST_CASE("comparison: every method at every budget, best = most accurate within budget on fit",
          "[eenet][compare]") {
  TempDir dir;
  exitplan::testing::WriteRandomLogitsDump(dir.path(), "val", 400, 3, 4, 21);
  exitplan::testing::WriteRandomLogitsDump(dir.path(), "test", 300, 3, 4, 22);
  exitplan::testing::WriteText(dir / "p.yaml",
                               "unit: ms\nexits:\n  - {name: a, backbone: 1, head: 0.1}\n"
                               "  - {name: b, backbone: 2, head: 0.1}\n"
                               "  - {name: c, backbone: 3, head: 0.1}\n");
  const Dump dump = LoadDump(dir.path());
  const CostProfile profile = LoadProfile(dir / "p.yaml");
  ComparisonOptions o;
  o.budget_fractions = {0.5, 0.8};
  o.eenet.max_epochs = 20;
  o.eenet.patience = 5;
  o.solvers = {"exact"};
  const std::vector<ComparisonRow> rows = CompareExitPolicies(dump, profile, o);
  // 3 baselines + 3 EENet rows + exact on max_prob and on eenet + best, per budget.
  REQUIRE(rows.size() == 2 * 9);
  std::map<double, const ComparisonRow*> best;
  for (const ComparisonRow& r : rows) {
    if (r.method == "best") best[r.budget] = &r;
  }
  REQUIRE(best.size() == 2);
  for (const ComparisonRow& r : rows) {
    REQUIRE(r.eval.n == 300);  // eval split measured
    if (r.method == "best" || !r.within_budget()) continue;
    REQUIRE(r.fit.accuracy <= best[r.budget]->fit.accuracy);
    // The figures are the exact evaluator's: recompute the baseline row's.
    if (r.method == "msdnet") {
      const Evaluation ev = Evaluate(dump.fit.Scores(Measure::kMaxProb), ScoreOrder::kDescending,
                                     dump.fit.correct, profile.StopCosts(AllExits(3)), r.policy);
      REQUIRE(ev.accuracy == r.fit.accuracy);
      REQUIRE(ev.mean_cost <= r.budget);
    }
  }
  for (const auto& [b, r] : best) {
    REQUIRE(r->within_budget());
    // exact is optimal on max_prob: best is at least as accurate on fit as MSDNet.
  }
  const std::string md = ComparisonMarkdown(rows, "ms");
  REQUIRE_THAT(md,
               Catch::StartsWith("| budget (ms) | frac | msdnet | branchynet | pabee | eenet |"));
  REQUIRE_THAT(md, Catch::Contains("| 0.50 |"));
}
