// Result rows and the Pareto-front CSV (docs/formats.md).
//
// One row per evaluated configuration. Columns, in order (ResultColumns()):
//   model,target,unit,method,measure,kept_exits,budget,thresholds,fit_acc,fit_cost,eval_acc,
//   eval_cost,exit_fractions,pareto,within_budget,budget_fraction,seconds,outcome,message,
//   guarantee,guarantee_bound,horizon,cost_bound,accuracy_bound,drop_bound,shift_p,shift_fired
// kept_exits are 1-based and joined by ';', thresholds and exit_fractions (fit split, one per exit
// of the dump) joined by ';'. Numbers are written in shortest round-trip form; a missing eval split
// leaves eval_acc/eval_cost empty. within_budget (true/false) and budget_fraction (fit_cost /
// budget) are derived from budget and fit_cost, empty for rows without a budget or a policy; when
// reading, they are recomputed (CSVs written before these columns existed read the same way).
// The guarantee columns (docs/guarantees.md) are empty for a row solved without --guarantee; the
// shift columns are empty without an eval split. CSVs without these columns read as "none".
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "optim/problem.hpp"

namespace exitplan {

struct ResultRow {
  std::string model, target, unit, method, measure;
  std::vector<int> kept_exits;  // 0-based in memory, 1-based in the CSV
  double budget = std::numeric_limits<double>::quiet_NaN();  // absolute, in `unit`
  std::vector<double> thresholds;
  double fit_acc = std::numeric_limits<double>::quiet_NaN();
  double fit_cost = std::numeric_limits<double>::quiet_NaN();
  double eval_acc = std::numeric_limits<double>::quiet_NaN();
  double eval_cost = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> exit_fractions;  // fit split, size K
  bool pareto = false;
  double seconds = 0.0;
  std::string outcome;  // optim Outcome as text, or "error"
  std::string message;
  // The deployment guarantee of a row solved with --guarantee (level 0 = none): level (1 - delta),
  // bound, horizon, and the certified bounds (cost_bound, accuracy_bound, drop_bound; NaN when
  // not given). Only level, bound, horizon and the three bounds travel through the CSV.
  GuaranteeReport guarantee;
  // Shift check of the eval split against the fit split under this row's policy (optim/shift.hpp):
  // its p-value (NaN when not run: no eval split or no policy) and whether it fired.
  double shift_p = std::numeric_limits<double>::quiet_NaN();
  bool shift_fired = false;

  // A policy and its fit figures are filled (it may still be over its budget).
  bool has_policy() const { return fit_acc == fit_acc; }  // not NaN
  // Fit cost <= budget (relative tolerance kBudgetTolerance of optim/problem.hpp); true for a
  // policy without a budget (budget-free rules), false without a policy.
  bool within_budget() const;
  // Fit cost / budget; NaN without a policy or a budget.
  double budget_fraction() const;
  // A policy that meets its budget and whose outcome is not over_budget: what the front, export
  // and configs may use.
  bool has_solution() const { return has_policy() && within_budget() && outcome != "over_budget"; }
};

std::vector<std::string> ResultColumns();

// Labels a row against its budget, the same way for every method: outcome over_budget when its
// fit cost exceeds the budget (the method's own outcome and message kept in the message), and
// unconstrained when the budget is at or above `full_cost` (every exit kept, every sample to the
// final exit) and the row is a solution. Rows without a policy or a budget are left alone.
void LabelRowBudget(ResultRow& row, double full_cost);

// Sets `pareto` on every row: true when no other row of the same model and target has fit_acc at
// least as high and fit_cost at most as high, one of them strictly. Rows without a solution are
// never on the front, and neither are over-budget rows (has_solution()).
void MarkPareto(std::vector<ResultRow>& rows);

std::string ResultsToCsv(const std::vector<ResultRow>& rows);
// The rows as a table for people: budget, method, measure, fit and eval accuracy (%) and cost,
// budget fraction, front, outcome; thresholds on a line below each row.
std::string ResultsTable(const std::vector<ResultRow>& rows);
// Parses a CSV written by ResultsToCsv; throws InputError naming the file, line, row and column
// of the first field that is not what ResultsToCsv writes: numbers out of range (accuracies and
// exit fractions in [0, 1], costs, budgets and seconds finite and >= 0, no NaN anywhere), kept
// exits not 1-based, not strictly increasing or beyond the row's exit count, `pareto` other than
// true/false. Columns are found by name; extra columns are ignored.
std::vector<ResultRow> ResultsFromCsv(const std::string& text, const std::string& source);

// The most exits a kept_exits field may name when its row has no exit_fractions to give K.
inline constexpr int kMaxExitsInCsv = 4096;

// RFC 4180 records: fields split on ',', records on LF or CRLF, double-quoted fields holding ',',
// '""' and line breaks. `line` is the 1-based line where the record starts. Blank lines are
// skipped. Throws InputError("<source>:<line>") on an unclosed quote or a stray '"'.
struct CsvRecord {
  int line = 0;
  std::vector<std::string> fields;
};
std::vector<CsvRecord> ParseCsv(const std::string& text, const std::string& source);

// Splits one CSV record (RFC 4180 quoting).
std::vector<std::string> SplitCsvLine(const std::string& line);
std::string CsvField(const std::string& field);  // quotes when needed

}  // namespace exitplan
