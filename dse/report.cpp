#include "dse/report.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <sstream>

#include "dse/pareto.hpp"
#include "optim/problem.hpp"
#include "profiles/error.hpp"
#include "profiles/types.hpp"

namespace exitplan {
namespace {

const std::vector<std::string> kColumns = {
    "model",    "target",   "unit",     "method",   "measure",  "kept_exits",
    "budget",   "thresholds", "fit_acc", "fit_cost", "eval_acc", "eval_cost",
    "exit_fractions", "pareto", "within_budget", "budget_fraction", "seconds", "outcome",
    "message"};
// Derived columns: written, recomputed on reading, not required (older CSVs lack them).
const std::vector<std::string> kDerived = {"within_budget", "budget_fraction"};

std::string Num(double v) { return std::isnan(v) ? "" : FormatDouble(v); }

double ParseNum(const std::string& s, const std::string& where) {
  if (s.empty()) return std::numeric_limits<double>::quiet_NaN();
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return INFINITY;
  if (s == "-inf") return -INFINITY;
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) {
    throw InputError(where, "'" + s + "' is not a number");
  }
  return v;
}

std::vector<std::string> SplitOn(const std::string& s, char sep) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  return out;
}

}  // namespace

std::vector<std::string> ResultColumns() { return kColumns; }

bool ResultRow::within_budget() const {
  if (!has_policy()) return false;
  if (std::isnan(budget)) return true;
  return fit_cost <= budget * (1.0 + kBudgetTolerance);
}

void LabelRowBudget(ResultRow& row, double full_cost) {
  if (!row.has_policy() || std::isnan(row.budget)) return;
  if (!row.within_budget()) {
    if (row.outcome == "over_budget") return;
    row.message = "fit cost " + FormatDouble(row.fit_cost) + " exceeds the budget " +
                  FormatDouble(row.budget) + " by " +
                  FormatDouble(std::round((row.budget_fraction() - 1.0) * 1e4) / 100) +
                  "% (the method said " + row.outcome +
                  (row.message.empty() ? "" : ": " + row.message) + ")";
    row.outcome = "over_budget";
    return;
  }
  Outcome o;
  if (row.budget >= full_cost * (1.0 - kBudgetTolerance) && OutcomeFromString(row.outcome, &o) &&
      HasSolution(o) && o != Outcome::kUnconstrained) {
    row.message = "the budget is at or above the full cost " + FormatDouble(full_cost) +
                  " (every exit kept, every sample to the final exit): it cannot bind (the "
                  "method said " + row.outcome + (row.message.empty() ? "" : ": " + row.message) +
                  ")";
    row.outcome = "unconstrained";
  }
}

double ResultRow::budget_fraction() const {
  if (!has_policy() || std::isnan(budget) || !(budget > 0)) return std::nan("");
  return fit_cost / budget;
}

void MarkPareto(std::vector<ResultRow>& rows) {
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i].pareto = false;
    if (rows[i].has_solution()) groups[{rows[i].model, rows[i].target}].push_back(i);
  }
  for (const auto& [key, idx] : groups) {
    std::vector<FrontPoint> pts;
    for (std::size_t i : idx) pts.push_back({rows[i].fit_cost, rows[i].fit_acc});
    const std::vector<bool> mask = ParetoMask(pts);
    for (std::size_t q = 0; q < idx.size(); ++q) rows[idx[q]].pareto = mask[q];
  }
}

std::string CsvField(const std::string& field) {
  if (field.find_first_of(",\"\n\r") == std::string::npos) return field;
  std::string out = "\"";
  for (char ch : field) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (quoted) {
      if (ch == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (ch != '\r') {
      cur += ch;
    }
  }
  out.push_back(cur);
  return out;
}

std::string ResultsToCsv(const std::vector<ResultRow>& rows) {
  std::string out;
  for (std::size_t c = 0; c < kColumns.size(); ++c) out += (c ? "," : "") + kColumns[c];
  out += "\n";
  for (const ResultRow& r : rows) {
    std::string kept;
    for (std::size_t q = 0; q < r.kept_exits.size(); ++q) {
      kept += (q ? ";" : "") + std::to_string(r.kept_exits[q] + 1);
    }
    const std::vector<std::string> f = {
        r.model, r.target, r.unit, r.method, r.measure, kept, Num(r.budget),
        JoinDoubles(r.thresholds, ";"), Num(r.fit_acc), Num(r.fit_cost), Num(r.eval_acc),
        Num(r.eval_cost), JoinDoubles(r.exit_fractions, ";"), r.pareto ? "true" : "false",
        !r.has_policy() || std::isnan(r.budget) ? "" : (r.within_budget() ? "true" : "false"),
        Num(r.budget_fraction()), Num(r.seconds), r.outcome, r.message};
    for (std::size_t c = 0; c < f.size(); ++c) out += (c ? "," : "") + CsvField(f[c]);
    out += "\n";
  }
  return out;
}

std::vector<ResultRow> ResultsFromCsv(const std::string& text, const std::string& source) {
  std::vector<ResultRow> rows;
  std::stringstream ss(text);
  std::string line;
  int line_no = 0;
  std::map<std::string, int> col;
  while (std::getline(ss, line)) {
    ++line_no;
    if (line.empty()) continue;
    const std::vector<std::string> f = SplitCsvLine(line);
    const std::string where = source + ":" + std::to_string(line_no);
    if (col.empty()) {
      for (std::size_t c = 0; c < f.size(); ++c) col[f[c]] = static_cast<int>(c);
      for (const std::string& need : kColumns) {
        if (std::find(kDerived.begin(), kDerived.end(), need) != kDerived.end()) continue;
        if (!col.count(need)) throw InputError(where, "missing column '" + need + "'");
      }
      continue;
    }
    if (f.size() != col.size()) {
      throw InputError(where, "expected " + std::to_string(col.size()) + " fields, found " +
                                  std::to_string(f.size()));
    }
    auto get = [&](const std::string& name) { return f[col.at(name)]; };
    ResultRow r;
    r.model = get("model");
    r.target = get("target");
    r.unit = get("unit");
    r.method = get("method");
    r.measure = get("measure");
    for (const std::string& e : SplitOn(get("kept_exits"), ';')) {
      r.kept_exits.push_back(static_cast<int>(ParseNum(e, where + " kept_exits")) - 1);
    }
    r.budget = ParseNum(get("budget"), where + " budget");
    for (const std::string& t : SplitOn(get("thresholds"), ';')) {
      r.thresholds.push_back(ParseNum(t, where + " thresholds"));
    }
    r.fit_acc = ParseNum(get("fit_acc"), where + " fit_acc");
    r.fit_cost = ParseNum(get("fit_cost"), where + " fit_cost");
    r.eval_acc = ParseNum(get("eval_acc"), where + " eval_acc");
    r.eval_cost = ParseNum(get("eval_cost"), where + " eval_cost");
    for (const std::string& t : SplitOn(get("exit_fractions"), ';')) {
      r.exit_fractions.push_back(ParseNum(t, where + " exit_fractions"));
    }
    r.pareto = get("pareto") == "true";
    r.seconds = ParseNum(get("seconds"), where + " seconds");
    r.outcome = get("outcome");
    r.message = get("message");
    rows.push_back(std::move(r));
  }
  if (col.empty()) throw InputError(source, "empty CSV (no header)");
  return rows;
}

}  // namespace exitplan
