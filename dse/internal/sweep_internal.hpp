// The pieces of a sweep shared between its files: dse/sweep_methods.cpp (the method registry),
// dse/sweep_cells.cpp (inputs, cell identities, the cell store and the manifest),
// dse/sweep_reports.cpp (reports) and dse/sweep.cpp (running and merging).
#pragma once

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dse/report.hpp"
#include "dse/sweep.hpp"
#include "profiles/dump.hpp"
#include "profiles/io.hpp"
#include "profiles/profile.hpp"

namespace exitplan::internal::sweep {

// --- dse/sweep_methods.cpp

// The registered method `name` (std::out_of_range when there is none).
SweepMethodFn FindSweepMethod(const std::string& name);

// --- dse/sweep_reports.cpp (names of report files)

// A name as it appears in file names: letters, digits, '.', '-' and '_' kept, anything else '_'.
std::string SafeName(const std::string& s);
// "<SafeName(model)>__<SafeName(target)>": the file stem of a group's report and its configs
// folder.
std::string ReportStem(const std::string& model, const std::string& target);
// A (model, target) group as messages name it; `where` is its place in the sweep file.
struct GroupName {
  std::string model, target, where;
};
// Throws InputError at the later group's `where` when two groups would write the same report
// files (their names map to the same ReportStem), naming both groups and where the first one is;
// a target listed twice for one model is refused likewise.
void CheckReportStems(const std::vector<GroupName>& groups);

// --- dse/sweep_cells.cpp

struct LoadedModel {
  Dump dump;
  // With per-exit temperature scaling (some method has `calibrate: true`): the same dump with its
  // features recomputed from logits / T_k, T fitted on the fit split.
  std::unique_ptr<Dump> calibrated;
  std::vector<double> temperatures;
  std::vector<CostProfile> profiles;     // the selected targets, in sweep order
  std::vector<std::string> input_files;  // "relative-name sha256" lines
  std::string inputs_digest;             // SHA-256 over input_files
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
  std::string layout = "nk";  // of the dump (absent in older manifests: nk)
  std::vector<std::string> exit_names;
  std::vector<std::string> inputs;      // "name sha256"
  std::vector<double> temperatures;     // fitted per exit when some method calibrates
  std::vector<std::string> calibrated;  // labels of the methods using them
  // The final-exit reference of the plots: every exit kept, every sample to the final exit (full
  // cost; accuracy against the labels on each split). NaN when unknown (older manifests).
  double reference_cost = std::numeric_limits<double>::quiet_NaN();
  double reference_fit_acc = std::numeric_limits<double>::quiet_NaN();
  double reference_eval_acc = std::numeric_limits<double>::quiet_NaN();
};

struct Manifest {
  std::string sweep;  // SHA-256 over the ordered cell hashes: the sweep's identity
  std::string source;
  bool configs = false;
  // What `exitplan export --budget B` needs to solve a row group again at B: the splits and each
  // method's settings (absent in older manifests: has_methods false).
  std::string fit_split = "val", eval_split = "test";
  bool has_methods = false;
  std::vector<SweepMethod> methods;
  std::vector<Group> groups;
  std::vector<std::pair<std::string, int>> cells;  // hash, group index; canonical order
};

std::string ManifestToYaml(const Manifest& m);
Manifest ManifestFromFile(const std::string& path);

std::string CellPath(const std::string& out, const std::string& hash);
// A finished cell result, or nullopt when absent; throws InputError for a damaged cell file.
std::optional<ResultRow> ReadCell(const std::string& path);
// No policy at all (error, infeasible, failure); over-budget rows are not failures (they are
// counted apart).
bool Failed(const ResultRow& r);
// A policy over its budget (outcome over_budget, or fit cost above the budget).
inline bool OverBudget(const ResultRow& r) { return r.has_policy() && !r.has_solution(); }
std::string Describe(const ResultRow& r);

// --- dse/sweep_reports.cpp

// Writes <out>/reports/<model>__<target>.{csv,svg}, <out>/summary.md and (when the manifest says
// so) the deployment configs of the front's rows, all or none (OutputSet: reports/ and configs/
// are replaced whole, summary.md is written last and exists only beside a complete set); appends
// the files written to summary.reports. `before_rename`: OutputSet::Commit's test hook.
void WriteReports(const Manifest& m, const std::string& out, const std::string& command_line,
                  SweepSummary& summary, void (*before_rename)(int) = nullptr);
// The same into `set` (not committed), from the cell results `cells` (one per m.cells, in order).
// Throws InputError (a row that cannot become a config) before anything is written.
void AddReports(const Manifest& m, const std::vector<ResultRow>& cells, const std::string& out,
                const std::string& command_line, OutputSet& set, SweepSummary& summary);

}  // namespace exitplan::internal::sweep
