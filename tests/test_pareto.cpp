// Tests of dse/pareto (and MarkPareto in dse/report) on hand-made sets.
#include <catch2/catch.hpp>

#include "dse/pareto.hpp"
#include "dse/report.hpp"

using namespace exitplan;

TEST_CASE("Pareto mask on a hand-made set") {
  // (cost, accuracy)
  const std::vector<FrontPoint> pts = {
      {1.0, 0.50},  // 0 front: cheapest
      {2.0, 0.70},  // 1 front
      {2.0, 0.60},  // 2 dominated by 1 (same cost, less accurate)
      {3.0, 0.70},  // 3 dominated by 1 (same accuracy, dearer)
      {4.0, 0.90},  // 4 front
      {4.0, 0.90},  // 5 front: equal points do not dominate each other
      {5.0, 0.85},  // 6 dominated by 4
      {0.5, 0.40},  // 7 front
  };
  const std::vector<bool> expect = {true, true, false, false, true, true, false, true};
  CHECK(ParetoMask(pts) == expect);
  CHECK(ParetoMask({}).empty());
}

TEST_CASE("MarkPareto groups by model and target and skips rows without a solution") {
  std::vector<ResultRow> rows(4);
  rows[0].model = rows[1].model = rows[2].model = rows[3].model = "m";
  rows[0].target = rows[1].target = rows[3].target = "cpu";
  rows[2].target = "gpu";
  rows[0].fit_cost = 1, rows[0].fit_acc = 0.8;
  rows[1].fit_cost = 2, rows[1].fit_acc = 0.7;  // dominated within cpu
  rows[2].fit_cost = 2, rows[2].fit_acc = 0.7;  // alone on gpu
  MarkPareto(rows);                             // rows[3] has no solution
  CHECK(rows[0].pareto);
  CHECK_FALSE(rows[1].pareto);
  CHECK(rows[2].pareto);
  CHECK_FALSE(rows[3].pareto);
}
