#include "dse/config.hpp"

#include <cmath>
#include <sstream>

#include "profiles/error.hpp"
#include "profiles/types.hpp"

namespace exitplan {
namespace {

// JSON string (also a valid double-quoted YAML scalar).
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (ch < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out += static_cast<char>(ch);
        }
    }
  }
  return out + "\"";
}

std::string YamlNum(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  return FormatDouble(v);
}
std::string JsonNum(double v) {
  if (std::isnan(v)) return "null";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return FormatDouble(v);
}

std::string Join(const std::vector<double>& v, std::string (*f)(double)) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + f(v[i]);
  return s + "]";
}

}  // namespace

DeployConfig ConfigFromRow(const ResultRow& row, const ConfigContext& ctx) {
  const std::string where =
      ctx.report.empty() ? std::string("row") : ctx.report + " row " + std::to_string(ctx.row);
  if (!row.has_solution() && !(ctx.allow_over_budget && row.has_policy())) {
    throw InputError(
        where, (row.has_policy() ? "is over its budget (outcome " : "has no solution (outcome ") +
                   row.outcome + ": " + row.message + "): nothing to deploy");
  }
  if (row.measure == "eenet") {
    throw InputError(where,
                     "is an EENet row: its stopping rule is a learned scorer, which a "
                     "config does not carry; train the scorer file for this budget with "
                     "exitplan fit-scorer --budget " +
                         FormatDouble(row.budget));
  }
  if (row.kept_exits.empty() || row.thresholds.size() + 1 != row.kept_exits.size()) {
    throw InputError(where, "expected one threshold per kept exit before the final (" +
                                std::to_string(row.kept_exits.size()) + " kept exits, " +
                                std::to_string(row.thresholds.size()) + " thresholds)");
  }
  DeployConfig c;
  c.model = row.model;
  c.target = row.target;
  c.unit = row.unit;
  c.method = row.method;
  c.measure = row.measure;
  c.score_order = row.measure == "confidence" ? ctx.score_order : "descending";
  c.num_exits = static_cast<int>(row.exit_fractions.size());
  if (c.num_exits == 0) c.num_exits = row.kept_exits.back() + 1;
  if (!ctx.exit_names.empty() && static_cast<int>(ctx.exit_names.size()) != c.num_exits) {
    throw InputError(where, "the profile names " + std::to_string(ctx.exit_names.size()) +
                                " exits, the row has " + std::to_string(c.num_exits));
  }
  for (std::size_t q = 0; q < row.kept_exits.size(); ++q) {
    const int e = row.kept_exits[q];
    if (e < 0 || e >= c.num_exits || (q > 0 && e <= row.kept_exits[q - 1])) {
      throw InputError(where, "kept exit " + std::to_string(e + 1) + " is not in 1.." +
                                  std::to_string(c.num_exits) +
                                  " after the kept exits before it (expected a strictly "
                                  "increasing list of exits of the dump)");
    }
  }
  for (double t : row.thresholds) {
    if (std::isnan(t)) throw InputError(where, "a threshold is NaN: nothing to deploy");
  }
  for (double t : ctx.temperatures) {
    if (!(std::isfinite(t) && t > 0)) {
      throw InputError(where, "temperature " + FormatDouble(t) + " is not finite and > 0");
    }
  }
  if (row.kept_exits.back() != c.num_exits - 1) {
    throw InputError(where,
                     "the last kept exit must be the final exit " + std::to_string(c.num_exits));
  }
  for (std::size_t q = 0; q < row.kept_exits.size(); ++q) {
    ConfigExit e;
    e.index = row.kept_exits[q];
    e.name =
        ctx.exit_names.empty() ? "exit" + std::to_string(e.index + 1) : ctx.exit_names[e.index];
    e.measure = row.measure;
    if (!ctx.temperatures.empty()) {
      if (static_cast<int>(ctx.temperatures.size()) != c.num_exits) {
        throw InputError(where, std::to_string(ctx.temperatures.size()) + " temperatures for " +
                                    std::to_string(c.num_exits) + " exits");
      }
      e.temperature = ctx.temperatures[e.index];
    }
    e.final = q + 1 == row.kept_exits.size();
    if (!e.final) e.threshold = row.thresholds[q];
    c.exits.push_back(e);
  }
  c.budget = row.budget;
  c.fit_accuracy = row.fit_acc;
  c.fit_cost = row.fit_cost;
  c.eval_accuracy = row.eval_acc;
  c.eval_cost = row.eval_cost;
  c.exit_fractions = row.exit_fractions;
  c.guarantee = row.guarantee;
  c.shift_p = row.shift_p;
  c.shift_fired = row.shift_fired;
  c.exitplan_version = EXITPLAN_VERSION;
  c.command_line = ctx.command_line;
  c.inputs = ctx.inputs;
  c.report = ctx.report;
  c.report_row = ctx.row;
  return c;
}

std::string ConfigToYaml(const DeployConfig& c) {
  std::ostringstream o;
  o << "# exitplan deployment config: a sample stops at the first kept exit whose score passes\n"
    << "# its threshold (score >= threshold when descending, score < threshold when ascending),\n"
    << "# otherwise at the final exit. Read by include/exitplan/runtime.hpp (JSON twin).\n"
    << "schema_version: " << c.schema_version << "\n"
    << "model: " << Quote(c.model) << "\ntarget: " << Quote(c.target) << "\nunit: " << Quote(c.unit)
    << "\nmethod: " << Quote(c.method) << "\nmeasure: " << Quote(c.measure)
    << "\nscore_order: " << c.score_order << "\nnum_exits: " << c.num_exits << "\nexits:\n";
  for (const ConfigExit& e : c.exits) {
    o << "  - {index: " << e.index + 1 << ", name: " << Quote(e.name)
      << ", measure: " << Quote(e.measure) << ", temperature: " << YamlNum(e.temperature);
    if (e.final) {
      o << ", final: true}\n";
    } else {
      o << ", threshold: " << YamlNum(e.threshold) << "}\n";
    }
  }
  std::vector<double> th;
  for (const ConfigExit& e : c.exits) {
    if (!e.final) th.push_back(e.threshold);
  }
  o << "kept_exits: [";
  for (std::size_t q = 0; q < c.exits.size(); ++q) o << (q ? ", " : "") << c.exits[q].index + 1;
  o << "]\nthresholds: " << Join(th, YamlNum) << "\nbudget: " << YamlNum(c.budget) << "\n";
  o << "expected:\n  fit_accuracy: " << YamlNum(c.fit_accuracy)
    << "\n  fit_cost: " << YamlNum(c.fit_cost) << "\n  eval_accuracy: " << YamlNum(c.eval_accuracy)
    << "\n  eval_cost: " << YamlNum(c.eval_cost)
    << "\n  exit_fractions: " << Join(c.exit_fractions, YamlNum) << "\n";
  const GuaranteeReport& g = c.guarantee;
  if (g.on()) {
    o << "guarantee:\n  level: " << YamlNum(g.level) << "\n  delta: " << YamlNum(1.0 - g.level)
      << "\n  bound: " << Quote(g.bound) << "\n  horizon: " << YamlNum(g.horizon)
      << "\n  cost_bound: " << YamlNum(g.cost_bound)
      << "\n  accuracy_bound: " << YamlNum(g.accuracy_bound)
      << "\n  drop_bound: " << YamlNum(g.drop_bound) << "\n";
  } else {
    o << "guarantee: null\n";
  }
  if (std::isnan(c.shift_p)) {
    o << "shift_check: null\n";
  } else {
    o << "shift_check: {p_value: " << YamlNum(c.shift_p)
      << ", fired: " << (c.shift_fired ? "true" : "false") << "}\n";
  }
  o << "provenance:\n"
    << "  exitplan_version: " << Quote(c.exitplan_version)
    << "\n  command_line: " << Quote(c.command_line) << "\n  report: " << Quote(c.report)
    << "\n  report_row: " << c.report_row << "\n  inputs:\n";
  for (const std::string& in : c.inputs) {
    const auto sp = in.rfind(' ');
    o << "    - {file: " << Quote(in.substr(0, sp))
      << ", sha256: " << Quote(sp == std::string::npos ? "" : in.substr(sp + 1)) << "}\n";
  }
  if (c.inputs.empty()) o << "    []\n";
  return o.str();
}

std::string ConfigToJson(const DeployConfig& c) {
  std::ostringstream o;
  o << "{\n  \"schema_version\": " << c.schema_version << ",\n  \"model\": " << Quote(c.model)
    << ",\n  \"target\": " << Quote(c.target) << ",\n  \"unit\": " << Quote(c.unit)
    << ",\n  \"method\": " << Quote(c.method) << ",\n  \"measure\": " << Quote(c.measure)
    << ",\n  \"score_order\": " << Quote(c.score_order) << ",\n  \"num_exits\": " << c.num_exits
    << ",\n  \"exits\": [\n";
  for (std::size_t q = 0; q < c.exits.size(); ++q) {
    const ConfigExit& e = c.exits[q];
    o << "    {\"index\": " << e.index + 1 << ", \"name\": " << Quote(e.name)
      << ", \"measure\": " << Quote(e.measure) << ", \"temperature\": " << JsonNum(e.temperature)
      << ", \"final\": " << (e.final ? "true" : "false");
    if (!e.final) o << ", \"threshold\": " << JsonNum(e.threshold);
    o << "}" << (q + 1 < c.exits.size() ? "," : "") << "\n";
  }
  std::vector<double> th;
  for (const ConfigExit& e : c.exits) {
    if (!e.final) th.push_back(e.threshold);
  }
  o << "  ],\n  \"kept_exits\": [";
  for (std::size_t q = 0; q < c.exits.size(); ++q) o << (q ? ", " : "") << c.exits[q].index + 1;
  o << "],\n  \"thresholds\": " << Join(th, JsonNum) << ",\n  \"budget\": " << JsonNum(c.budget);
  o << ",\n  \"expected\": {\"fit_accuracy\": " << JsonNum(c.fit_accuracy)
    << ", \"fit_cost\": " << JsonNum(c.fit_cost)
    << ", \"eval_accuracy\": " << JsonNum(c.eval_accuracy)
    << ", \"eval_cost\": " << JsonNum(c.eval_cost)
    << ",\n               \"exit_fractions\": " << Join(c.exit_fractions, JsonNum) << "}";
  const GuaranteeReport& g = c.guarantee;
  if (g.on()) {
    o << ",\n  \"guarantee\": {\"level\": " << JsonNum(g.level)
      << ", \"delta\": " << JsonNum(1.0 - g.level) << ", \"bound\": " << Quote(g.bound)
      << ", \"horizon\": " << JsonNum(g.horizon)
      << ",\n                \"cost_bound\": " << JsonNum(g.cost_bound)
      << ", \"accuracy_bound\": " << JsonNum(g.accuracy_bound)
      << ", \"drop_bound\": " << JsonNum(g.drop_bound) << "}";
  } else {
    o << ",\n  \"guarantee\": null";
  }
  if (std::isnan(c.shift_p)) {
    o << ",\n  \"shift_check\": null";
  } else {
    o << ",\n  \"shift_check\": {\"p_value\": " << JsonNum(c.shift_p)
      << ", \"fired\": " << (c.shift_fired ? "true" : "false") << "}";
  }
  o << ",\n  \"provenance\": {\"exitplan_version\": " << Quote(c.exitplan_version)
    << ", \"command_line\": " << Quote(c.command_line) << ", \"report\": " << Quote(c.report)
    << ", \"report_row\": " << c.report_row << ",\n                 \"inputs\": [";
  for (std::size_t q = 0; q < c.inputs.size(); ++q) {
    const std::string& in = c.inputs[q];
    const auto sp = in.rfind(' ');
    o << (q ? ",\n                            " : "") << "{\"file\": " << Quote(in.substr(0, sp))
      << ", \"sha256\": " << Quote(sp == std::string::npos ? "" : in.substr(sp + 1)) << "}";
  }
  o << "]}\n}\n";
  return o.str();
}

}  // namespace exitplan
