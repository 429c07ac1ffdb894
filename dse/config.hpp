// Deployment configs (docs/formats.md): what a device needs to apply one policy.
//
// Written as YAML (for people) and JSON (for include/exitplan/runtime.hpp and Python's json
// module). Both hold the same fields; see docs/sweeps.md for the schema. Numbers are written in
// shortest round-trip form so thresholds replay bit for bit; an infinite threshold is `.inf` in
// YAML and `Infinity` in JSON (what Python's json module reads and writes).
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "dse/report.hpp"

namespace exitplan {

inline constexpr int kConfigSchemaVersion = 1;

struct ConfigExit {
  int index = 0;             // 0-based exit of the dump (1-based in the files)
  std::string name;          // from the cost profile ("exitN" when unknown)
  std::string measure;       // stopping rule: confidence measure name
  double temperature = 1.0;  // logits are divided by it before the measure
  bool final = false;        // the last kept exit: always stops, no threshold
  double threshold = std::numeric_limits<double>::quiet_NaN();
};

struct DeployConfig {
  int schema_version = kConfigSchemaVersion;
  std::string model, target, unit, method, measure;
  std::string score_order = "descending";  // of the measure: descending stops on score >= t
  int num_exits = 0;                       // K of the dump
  std::vector<ConfigExit> exits;           // kept exits, shallow to deep
  double budget = std::numeric_limits<double>::quiet_NaN();
  double fit_accuracy = std::numeric_limits<double>::quiet_NaN();
  double fit_cost = std::numeric_limits<double>::quiet_NaN();
  double eval_accuracy = std::numeric_limits<double>::quiet_NaN();
  double eval_cost = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> exit_fractions;  // fit split, size K
  // The deployment guarantee of the row (docs/guarantees.md; level 0 = none, written as null):
  // level, delta = 1 - level, bound, horizon and the certified cost / accuracy / drop bounds.
  GuaranteeReport guarantee;
  // The shift check of the row's eval split (NaN = not run, written as null).
  double shift_p = std::numeric_limits<double>::quiet_NaN();
  bool shift_fired = false;
  // Provenance.
  std::string exitplan_version;
  std::string command_line;
  std::vector<std::string> inputs;  // "file sha256"
  std::string report;               // the report CSV it came from, and its 1-based data row
  int report_row = 0;
};

// What a report row does not hold: exit names, score order, input hashes, provenance.
struct ConfigContext {
  std::vector<std::string> exit_names;     // size K; empty: "exit1".."exitK"
  std::string score_order = "descending";  // the dump's order (used for the `confidence` measure)
  std::vector<double> temperatures;        // size K when the row's measure used them; empty = 1
  std::vector<std::string> inputs;
  std::string command_line;
  std::string report;
  int row = 0;                     // 0-based data row of `report` (pandas' index)
  bool allow_over_budget = false;  // build configs of rows over their budget too
};

// Builds the config of one report row. Throws InputError when the row has no solution (over its
// budget counts, unless context.allow_over_budget) or its thresholds do not match its kept exits.
DeployConfig ConfigFromRow(const ResultRow& row, const ConfigContext& context);

std::string ConfigToYaml(const DeployConfig& config);
std::string ConfigToJson(const DeployConfig& config);

}  // namespace exitplan
