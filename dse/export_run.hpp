// `exitplan export` as a library call, shared by the CLI (cli/cmd_export.cpp) and the Python
// module's `export` verb, so both take the same row, solve the same way and write the same files.
//
// A config comes from one report row (--row N, or the row of --method [--measure] whose budget is
// --budget B) or, when no row of that method was solved at B, from solving that row group's policy
// family at B: the same method with the same settings, kept exits, measure and correctness target,
// on the same fit dump and profile. Those are found through the sweep's manifest.yaml beside
// reports/ (every input checked against the SHA-256 the sweep recorded), or given with --dump and
// --profile for a report written by `exitplan thresholds` (the nearest row's policy must then
// give that row's fit accuracy and cost on them). When neither is possible, or B has no solution,
// the export is refused with one line naming the rows with the nearest budgets.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "dse/config.hpp"
#include "dse/options.hpp"
#include "dse/report.hpp"

namespace exitplan {

struct ExportResult {
  DeployConfig config;  // with its provenance (inputs, command line, report, report row)
  ResultRow row;        // the row exported: a report row, or the row solved at the budget
  int report_row = -1;  // 0-based data row of the report; -1 when solved at the budget
  bool solved = false;  // solved at --budget (no row of the report was at that budget)
  std::string chosen;   // one line saying which policy this is
  std::string format;   // yaml, json or both
  // The files to write (path, content), all or none; empty: the config goes to stdout.
  std::vector<std::pair<std::string, std::string>> files;
};

// The values are export's options (dse/options.hpp, command "export"). Checks the options before
// any file is read, then reads the report (and, to solve, the dump and profile), builds the config
// and the files to write, and writes nothing. Throws InputError with one line.
ExportResult PlanExport(const OptionValues& values, const std::string& command_line);

// Writes result.files all or none (OutputSet).
void WriteExport(const ExportResult& result);

// The config as text in the result's format (yaml or json), for stdout.
std::string ExportText(const ExportResult& result);

}  // namespace exitplan
