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

TEST_CASE("over-budget rows are never on the front; within_budget and budget_fraction columns") {
  std::vector<ResultRow> rows(3);
  for (ResultRow& r : rows) {
    r.model = "m";
    r.target = "cpu";
    r.outcome = "optimal";
  }
  // 0: cheap, within budget. 1: most accurate but over its budget (e.g. iPPP). 2: within budget.
  rows[0].budget = 2.0, rows[0].fit_cost = 1.5, rows[0].fit_acc = 0.70;
  rows[1].budget = 2.0, rows[1].fit_cost = 2.5, rows[1].fit_acc = 0.95;
  rows[2].budget = 3.0, rows[2].fit_cost = 2.9, rows[2].fit_acc = 0.80;
  LabelRowBudget(rows[1], 4.0);
  CHECK(rows[1].outcome == "over_budget");
  CHECK_THAT(rows[1].message, Catch::Contains("fit cost 2.5 exceeds the budget 2 by 25%"));
  CHECK(rows[1].has_policy());
  CHECK_FALSE(rows[1].has_solution());
  MarkPareto(rows);
  // Without the over-budget row's exclusion, row 2 (2.9, 0.80) would be dominated by (2.5, 0.95).
  CHECK(rows[0].pareto);
  CHECK_FALSE(rows[1].pareto);
  CHECK(rows[2].pareto);
  const std::string csv = ResultsToCsv(rows);
  CHECK_THAT(csv, Catch::Contains(",pareto,within_budget,budget_fraction,seconds,"));
  CHECK_THAT(csv, Catch::Contains(",true,true,0.75,"));    // row 0: 1.5 / 2
  CHECK_THAT(csv, Catch::Contains(",false,false,1.25,"));  // row 1: 2.5 / 2
  const std::vector<ResultRow> back = ResultsFromCsv(csv, "x.csv");
  REQUIRE(back.size() == 3);
  CHECK(back[1].budget_fraction() == 1.25);
  CHECK_FALSE(back[1].has_solution());
}

TEST_CASE("a row at or above the full cost is unconstrained; old CSVs without the new columns") {
  ResultRow r;
  r.model = "m", r.target = "cpu", r.outcome = "converged";
  r.budget = 4.0, r.fit_cost = 3.0, r.fit_acc = 0.9;
  LabelRowBudget(r, 4.0);
  CHECK(r.outcome == "unconstrained");
  CHECK(r.has_solution());
  ResultRow below = r;
  below.outcome = "converged";
  below.budget = 3.5;
  LabelRowBudget(below, 4.0);
  CHECK(below.outcome == "converged");
  // A CSV written before within_budget/budget_fraction existed: read, the two recomputed; an old
  // row over its budget (once reported as converged) is not a solution any more.
  const std::string old_csv =
      "model,target,unit,method,measure,kept_exits,budget,thresholds,fit_acc,fit_cost,eval_acc,"
      "eval_cost,exit_fractions,pareto,seconds,outcome,message\n"
      "m,cpu,ms,ippp,max_prob,1;2,2,0.5,0.9,2.2,,,0.5;0.5,true,0.1,converged,\n"
      "m,cpu,ms,exact,max_prob,1;2,2,0.5,0.8,1.9,,,0.5;0.5,true,0.1,optimal,\n";
  const std::vector<ResultRow> rows = ResultsFromCsv(old_csv, "old.csv");
  REQUIRE(rows.size() == 2);
  CHECK_FALSE(rows[0].within_budget());
  CHECK_FALSE(rows[0].has_solution());
  CHECK(rows[1].has_solution());
  CHECK(rows[1].budget_fraction() == Approx(0.95));
}
