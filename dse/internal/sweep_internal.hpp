// The pieces of a sweep shared between its files: dse/sweep_methods.cpp (the method registry),
// dse/sweep_cells.cpp (inputs, cell identities, the cell store and the manifest),
// dse/sweep_reports.cpp (reports) and dse/sweep.cpp (running and merging).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dse/report.hpp"
#include "dse/sweep.hpp"
#include "profiles/dump.hpp"
#include "profiles/profile.hpp"

namespace exitplan::internal::sweep {

// --- dse/sweep_methods.cpp

// The registered method `name` (std::out_of_range when there is none).
SweepMethodFn FindSweepMethod(const std::string& name);

// --- dse/sweep_cells.cpp

struct LoadedModel {
  Dump dump;
  // With per-exit temperature scaling (some method has `calibrate: true`): the same dump with its
  // features recomputed from logits / T_k, T fitted on the fit split.
  std::unique_ptr<Dump> calibrated;
  std::vector<double> temperatures;
  std::vector<CostProfile> profiles;      // the selected targets, in sweep order
  std::vector<std::string> input_files;   // "relative-name sha256" lines
  std::string inputs_digest;              // SHA-256 over input_files
};

// The dump's files of the fit and eval splits in `dir`, sorted.
std::vector<std::string> DumpFiles(const std::string& dir, const SweepSpec& spec);
std::string TargetName(const CostProfile& p);
LoadedModel LoadModel(const SweepSpec& spec, const SweepModel& m, bool calibrate);
// The text whose SHA-256 is the cell's identity.
std::string CellKey(const SweepSpec& spec, const SweepModel& model, const LoadedModel& lm,
                    const SweepMethod& method, const SweepCell& c);

// The manifest: everything merge needs to rebuild the reports without the inputs.
struct Group {
  std::string model, target, unit, score_order, dump, profile;
  std::vector<std::string> exit_names;
  std::vector<std::string> inputs;  // "name sha256"
  std::vector<double> temperatures;     // fitted per exit when some method calibrates
  std::vector<std::string> calibrated;  // labels of the methods using them
};

struct Manifest {
  std::string sweep;  // SHA-256 over the ordered cell hashes: the sweep's identity
  std::string source;
  bool configs = false;
  std::vector<Group> groups;
  std::vector<std::pair<std::string, int>> cells;  // hash, group index; canonical order
};

std::string ManifestToYaml(const Manifest& m);
Manifest ManifestFromFile(const std::string& path);

std::string CellPath(const std::string& out, const std::string& hash);
// A finished cell result, or nullopt when absent, unreadable or an "error" to retry.
std::optional<ResultRow> ReadCell(const std::string& path);
bool Failed(const ResultRow& r);
std::string Describe(const ResultRow& r);

// A run killed while writing a cell leaves "<hash>.csv.tmp.<pid>" behind (WriteFileAtomic); the
// final names are never half-written. Removes those whose process is gone (on this host: a live
// shard sharing the directory keeps its files).
void RemoveStaleTemporaries(const std::string& dir);

// --- dse/sweep_reports.cpp

// Writes <out>/reports/<model>__<target>.{csv,svg}, <out>/summary.md and (when the manifest says
// so) the deployment configs of the front's rows; appends the files written to summary.reports.
void WriteReports(const Manifest& m, const std::string& out, const std::string& command_line,
                  SweepSummary& summary);

}  // namespace exitplan::internal::sweep
