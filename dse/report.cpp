#include "dse/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "dse/pareto.hpp"
#include "optim/problem.hpp"
#include "profiles/error.hpp"
#include "profiles/numbers.hpp"
#include "profiles/types.hpp"

namespace exitplan {
namespace {

const std::vector<std::string> kColumns = {
    "model",           "target",     "unit",           "method",         "measure",
    "kept_exits",      "budget",     "thresholds",     "fit_acc",        "fit_cost",
    "eval_acc",        "eval_cost",  "exit_fractions", "pareto",         "within_budget",
    "budget_fraction", "seconds",    "outcome",        "message",        "guarantee",
    "guarantee_bound", "horizon",    "cost_bound",     "accuracy_bound", "drop_bound",
    "shift_p",         "shift_fired"};
// Columns not required on reading (older CSVs lack them): the derived ones are recomputed, the
// guarantee and shift columns read as "none".
const std::vector<std::string> kOptional = {
    "within_budget", "budget_fraction", "guarantee",  "guarantee_bound", "horizon",
    "cost_bound",    "accuracy_bound",  "drop_bound", "shift_p",         "shift_fired"};

std::string Num(double v) { return std::isnan(v) ? "" : FormatDouble(v); }

constexpr double kMax = std::numeric_limits<double>::max();
constexpr double kInf = std::numeric_limits<double>::infinity();

// An optional number: empty is "none" (NaN), anything else must parse and lie in [lo, hi].
double OptNum(const std::string& s, const std::string& what, double lo, double hi) {
  if (s.empty()) return std::numeric_limits<double>::quiet_NaN();
  return ParseDouble(s, what, lo, hi);
}

// ';'-joined list; an empty field is an empty list, an empty item is an error (ParseDouble's).
std::vector<std::string> SplitOn(const std::string& s, char sep) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
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
                  "method said " +
                  row.outcome + (row.message.empty() ? "" : ": " + row.message) + ")";
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

std::vector<CsvRecord> ParseCsv(const std::string& text, const std::string& source) {
  // RFC 4180: fields separated by ',', records by CRLF or LF; a field in double quotes may hold
  // ',', '"' (doubled) and line breaks. Written by hand: a few lines, and the project's listed
  // libraries have no CSV reader.
  std::vector<CsvRecord> out;
  CsvRecord rec;
  std::string cur;
  bool quoted = false, field_started = false, after_quote = false;
  int line = 1;
  rec.line = 1;
  auto end_field = [&]() {
    rec.fields.push_back(cur);
    cur.clear();
    field_started = after_quote = false;
  };
  auto end_record = [&]() {
    end_field();
    if (!(rec.fields.size() == 1 && rec.fields[0].empty())) out.push_back(rec);  // blank line
    rec = CsvRecord();
    rec.line = line;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cur += '"';
          ++i;
        } else {
          quoted = false;
          after_quote = true;
        }
      } else {
        if (ch == '\n') ++line;
        cur += ch;
      }
      continue;
    }
    if (ch == ',') {
      end_field();
    } else if (ch == '\n' || (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
      if (ch == '\r') ++i;
      ++line;
      end_record();
    } else if (ch == '"') {
      if (field_started || after_quote) {
        throw InputError(source + ":" + std::to_string(line),
                         "a '\"' inside an unquoted field (RFC 4180 quotes the whole field)");
      }
      quoted = true;
      field_started = true;
    } else {
      if (after_quote) {
        throw InputError(source + ":" + std::to_string(line),
                         "text after the closing '\"' of a quoted field");
      }
      cur += ch;
      field_started = true;
    }
  }
  if (quoted) {
    throw InputError(source + ":" + std::to_string(rec.line),
                     "a quoted field is not closed before the end of the file (truncated?)");
  }
  if (field_started || after_quote || !rec.fields.empty()) end_record();
  return out;
}

std::vector<std::string> SplitCsvLine(const std::string& line) {
  const std::vector<CsvRecord> r = ParseCsv(line, "CSV line");
  return r.empty() ? std::vector<std::string>{""} : r[0].fields;
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
    const GuaranteeReport& g = r.guarantee;
    const std::vector<std::string> f = {
        r.model,
        r.target,
        r.unit,
        r.method,
        r.measure,
        kept,
        Num(r.budget),
        JoinDoubles(r.thresholds, ";"),
        Num(r.fit_acc),
        Num(r.fit_cost),
        Num(r.eval_acc),
        Num(r.eval_cost),
        JoinDoubles(r.exit_fractions, ";"),
        r.pareto ? "true" : "false",
        !r.has_policy() || std::isnan(r.budget) ? "" : (r.within_budget() ? "true" : "false"),
        Num(r.budget_fraction()),
        Num(r.seconds),
        r.outcome,
        r.message,
        g.on() ? Num(g.level) : "",
        g.on() ? g.bound : "",
        !g.on() ? "" : (std::isinf(g.horizon) ? "inf" : Num(g.horizon)),
        g.on() ? Num(g.cost_bound) : "",
        g.on() ? Num(g.accuracy_bound) : "",
        g.on() ? Num(g.drop_bound) : "",
        Num(r.shift_p),
        std::isnan(r.shift_p) ? "" : (r.shift_fired ? "true" : "false")};
    for (std::size_t c = 0; c < f.size(); ++c) out += (c ? "," : "") + CsvField(f[c]);
    out += "\n";
  }
  return out;
}

std::string ResultsTable(const std::vector<ResultRow>& rows) {
  auto pct = [](double v) {
    char b[32];
    if (std::isnan(v)) return std::string("-");
    std::snprintf(b, sizeof b, "%.2f", 100 * v);
    return std::string(b);
  };
  auto g = [](double v) {
    char b[32];
    if (std::isnan(v)) return std::string("-");
    std::snprintf(b, sizeof b, "%.6g", v);
    return std::string(b);
  };
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-12s %-18s %-9s %9s %11s %9s %11s %8s %5s  %s\n", "budget",
                "method", "measure", "fit acc%", "fit cost", "eval acc%", "eval cost", "cost/B",
                "front", "outcome");
  out += line;
  for (const ResultRow& r : rows) {
    const double frac = r.budget_fraction();
    std::snprintf(line, sizeof line, "%-12s %-18s %-9s %9s %11s %9s %11s %8s %5s  %s\n",
                  g(r.budget).c_str(), r.method.c_str(), r.measure.c_str(), pct(r.fit_acc).c_str(),
                  g(r.fit_cost).c_str(), pct(r.eval_acc).c_str(), g(r.eval_cost).c_str(),
                  std::isnan(frac) ? "-" : (pct(frac) + "%").c_str(), r.pareto ? "yes" : "",
                  r.outcome.c_str());
    out += line;
    if (r.has_policy()) {
      std::string kept;
      for (std::size_t q = 0; q < r.kept_exits.size(); ++q) {
        kept += (q ? "," : "") + std::to_string(r.kept_exits[q] + 1);
      }
      out += "    kept exits " + kept + "; thresholds " + JoinDoubles(r.thresholds, ", ") + "\n";
    }
    if (!r.has_solution() && !r.message.empty()) out += "    " + r.message + "\n";
  }
  return out;
}

std::vector<ResultRow> ResultsFromCsv(const std::string& text, const std::string& source) {
  std::vector<ResultRow> rows;
  const std::vector<CsvRecord> records = ParseCsv(text, source);
  if (records.empty()) throw InputError(source, "empty CSV (no header)");
  std::map<std::string, int> col;
  {
    const std::vector<std::string>& f = records[0].fields;
    for (std::size_t c = 0; c < f.size(); ++c) {
      if (!col.emplace(f[c], static_cast<int>(c)).second) {
        throw InputError(source + ":" + std::to_string(records[0].line),
                         "column " + QuoteForError(f[c]) + " appears twice in the header");
      }
    }
    for (const std::string& need : kColumns) {
      if (std::find(kOptional.begin(), kOptional.end(), need) != kOptional.end()) continue;
      if (!col.count(need)) {
        throw InputError(source + ":" + std::to_string(records[0].line),
                         "missing column '" + need + "'");
      }
    }
  }
  for (std::size_t ri = 1; ri < records.size(); ++ri) {
    const std::vector<std::string>& f = records[ri].fields;
    const std::string where = source + ":" + std::to_string(records[ri].line) + " (row " +
                              std::to_string(ri - 1) + ")";  // 0-based, as export --row
    if (f.size() != col.size()) {
      throw InputError(where, "expected " + std::to_string(col.size()) + " fields, found " +
                                  std::to_string(f.size()));
    }
    auto get = [&](const std::string& name) -> const std::string& { return f[col.at(name)]; };
    auto what = [&](const std::string& name) { return where + " column " + name; };
    ResultRow r;
    r.model = get("model");
    r.target = get("target");
    r.unit = get("unit");
    r.method = get("method");
    r.measure = get("measure");
    for (const std::string& t : SplitOn(get("exit_fractions"), ';')) {
      r.exit_fractions.push_back(ParseDouble(t, what("exit_fractions"), 0.0, 1.0));
    }
    // Kept exits: 1-based, strictly increasing, within the dump's K when the row gives it.
    const std::int64_t k_max = r.exit_fractions.empty()
                                   ? kMaxExitsInCsv
                                   : static_cast<std::int64_t>(r.exit_fractions.size());
    for (const std::string& e : SplitOn(get("kept_exits"), ';')) {
      const int v = static_cast<int>(ParseInt(e, what("kept_exits"), 1, k_max)) - 1;
      if (!r.kept_exits.empty() && v <= r.kept_exits.back()) {
        throw InputError(what("kept_exits"),
                         QuoteForError(get("kept_exits")) +
                             " is not strictly increasing (kept exits are listed shallow to "
                             "deep, each once)");
      }
      r.kept_exits.push_back(v);
    }
    r.budget = OptNum(get("budget"), what("budget"), 0.0, kMax);
    for (const std::string& t : SplitOn(get("thresholds"), ';')) {
      r.thresholds.push_back(ParseDouble(t, what("thresholds"), -kInf, kInf));
    }
    r.fit_acc = OptNum(get("fit_acc"), what("fit_acc"), 0.0, 1.0);
    r.fit_cost = OptNum(get("fit_cost"), what("fit_cost"), 0.0, kMax);
    r.eval_acc = OptNum(get("eval_acc"), what("eval_acc"), 0.0, 1.0);
    r.eval_cost = OptNum(get("eval_cost"), what("eval_cost"), 0.0, kMax);
    const std::string& pareto = get("pareto");
    if (pareto != "true" && pareto != "false") {
      throw InputError(what("pareto"), "expected true or false, found " + QuoteForError(pareto));
    }
    r.pareto = pareto == "true";
    r.seconds = OptNum(get("seconds"), what("seconds"), 0.0, kMax);
    r.outcome = get("outcome");
    r.message = get("message");
    // Optional columns (absent in CSVs written before them): empty or missing = none.
    auto opt = [&](const std::string& name) -> std::string {
      auto it = col.find(name);
      return it == col.end() ? std::string() : f[it->second];
    };
    if (const std::string lv = opt("guarantee"); !lv.empty()) {
      GuaranteeReport& g = r.guarantee;
      g.level = ParseDouble(lv, what("guarantee"), 0.0, 1.0);
      if (!(g.level > 0.0 && g.level < 1.0)) {
        throw InputError(what("guarantee"),
                         "expected a level 1 - delta in (0, 1), found " + QuoteForError(lv));
      }
      g.bound = opt("guarantee_bound");
      // wsr-deterministic and wsr-randomised: the labels of earlier versions, still read.
      if (g.bound != "wsr" && g.bound != "wsr-unrounded" && g.bound != "hoeffding-bentkus" &&
          g.bound != "wsr-deterministic" && g.bound != "wsr-randomised") {
        throw InputError(
            what("guarantee_bound"),
            "expected wsr, wsr-unrounded or hoeffding-bentkus, found " + QuoteForError(g.bound));
      }
      const std::string h = opt("horizon");
      g.horizon = h == "inf" ? kInf : ParseDouble(h, what("horizon"), 1.0, kMax);
      g.cost_bound = OptNum(opt("cost_bound"), what("cost_bound"), 0.0, kMax);
      g.accuracy_bound = OptNum(opt("accuracy_bound"), what("accuracy_bound"), 0.0, 1.0);
      g.drop_bound = OptNum(opt("drop_bound"), what("drop_bound"), 0.0, 1.0);
    } else {
      for (const char* name :
           {"guarantee_bound", "horizon", "cost_bound", "accuracy_bound", "drop_bound"}) {
        if (!opt(name).empty()) {
          throw InputError(what(name), "given without a guarantee level (column guarantee)");
        }
      }
    }
    r.shift_p = OptNum(opt("shift_p"), what("shift_p"), 0.0, 1.0);
    if (const std::string sf = opt("shift_fired"); !sf.empty() || !std::isnan(r.shift_p)) {
      if (sf != "true" && sf != "false") {
        throw InputError(what("shift_fired"),
                         "expected true or false beside a shift_p, found " + QuoteForError(sf));
      }
      if (std::isnan(r.shift_p)) {
        throw InputError(what("shift_fired"), "given without a shift_p");
      }
      r.shift_fired = sf == "true";
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace exitplan
