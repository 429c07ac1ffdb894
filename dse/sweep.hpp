// YAML experiment sweeps: models x targets x methods (x measures) x budgets, run as
// independent, deterministic cells on a thread pool, each cell's result written atomically to
// <output>/cells/<hash>.csv so that reruns skip finished cells, with --shard I/N and merge.
//
// A sweep file (documented in docs/sweeps.md):
//
//   output: out/example            # relative paths are relative to the sweep file
//   fit_split: val                 # optional (default val / test)
//   eval_split: test
//   configs: true                  # write a deployment config per Pareto-front row
//   models:
//     - name: fmnist-cnn
//       dump: ../example            # dump directory
//       profile: ../example/profile.yaml
//       targets: [cpu-1thread]      # optional: default every target of the profile
//       layout: nk                  # optional: nk | kn
//       score_order: descending     # optional: descending | ascending (scores-mode dumps)
//   methods:
//     - method: ippp                # any optim/solve.hpp method (or a registered dse/ method)
//       label: ippp-all             # optional: the `method` column (default: method)
//       measures: [max_prob, entropy]   # or measure: max_prob (default max_prob)
//       correct: labels             # labels | agreement
//       exits: all                  # or "1,3,6" (1-based; the final is always added)
//       options: {seed: 3}          # method options (dse/options.hpp, docs/options.md)
//       calibrate: true             # per-exit temperature scaling fitted on the fit split
//   budgets: [30%, 50%, "60%:100%:5", 2ms]   # the budget grammar (profiles/budget.hpp)
//
// Cell identity: SHA-256 over the SHA-256 of every input file (the dump's files of the fit and
// eval splits, the profile) and the cell's settings; the cell file's name is that hash.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dse/report.hpp"
#include "profiles/budget.hpp"
#include "profiles/dump.hpp"
#include "profiles/progress.hpp"

namespace exitplan {

class CostProfile;
struct ConfigContext;

struct SweepModel {
  std::string name;
  std::string dump;                  // directory, resolved against the sweep file's folder
  std::string profile;               // file, resolved likewise
  std::vector<std::string> targets;  // empty: every target of the profile
  std::string where;                 // "<sweep file>:<line>" of its name, for messages
  std::string layout = "nk";
  std::string score_order = "descending";
};

struct SweepMethod {
  std::string method;  // registered method name (SweepMethodNames())
  std::string label;   // the report's `method` column
  std::vector<std::string> measures = {"max_prob"};
  std::string correct = "labels";
  std::string exits = "all";
  std::map<std::string, std::string> options;  // key -> scalar text, applied per method
  // Temperature scaling (optim/calibration.hpp) fitted per exit on the fit split; the measures
  // are computed from logits / T_k, and configs carry the temperatures.
  bool calibrate = false;
};

struct SweepBudgets {
  // In order of appearance, in the budget grammar (profiles/budget.hpp): relative items are
  // fractions of each profile's CostProfile::FullCost(), absolute ones in its unit.
  std::vector<Budget> items;
};

struct SweepSpec {
  std::string source;  // the sweep file
  std::string output;  // resolved output directory
  std::string fit_split = "val";
  std::string eval_split = "test";
  bool configs = false;
  std::vector<SweepModel> models;
  std::vector<SweepMethod> methods;
  SweepBudgets budgets;
};

// Parses a sweep file. Unknown keys, duplicate keys, wrong types and bad values throw InputError
// naming "<file>:<line>" and the key.
SweepSpec LoadSweepSpec(const std::string& path);
// The same from YAML text; relative paths resolve against `base_dir`.
SweepSpec ParseSweepSpec(const std::string& yaml_text, const std::string& source,
                         const std::string& base_dir);

struct SweepOptions {
  int jobs = 0;         // worker threads; 0 = all cores (std::thread::hardware_concurrency)
  int shard_index = 0;  // 0-based: this run does the cells whose position % count == index
  int shard_count = 1;  // >= 1
  // Cells done / total (phase "cells", detail "N failed") after each cell; null: none. Its
  // callback throwing cancels the run: no new cell starts, and RunSweep rethrows.
  Progress* progress = nullptr;
  bool force = false;         // recompute cells even when their result exists
  int abort_after = -1;       // test only: _Exit(137) after this many cells were written (a "kill")
  int abort_in_reports = -1;  // test only: _Exit(137) before the (N+1)-th rename of the reports
  std::string command_line;   // provenance, written into configs
  std::string Validate() const;  // "" or one line per broken rule
};

// One cell of the sweep (model x target x method x measure x budget), in canonical order.
struct SweepCell {
  int index = 0;     // position in the full cell list
  std::string hash;  // hex SHA-256 identifying inputs and settings
  int model = 0, method = 0;
  std::string target;  // profile target name
  std::string measure;
  double budget_value = 0.0;  // as written in the sweep (a fraction, or absolute)
  double budget = 0.0;        // absolute, in the profile's unit
};

struct SweepSummary {
  bool done = false;    // false: a default summary, nothing ran
  int cells_total = 0;  // in the whole sweep
  int cells_in_shard = 0;
  int cells_run = 0;          // computed in this run
  int cells_skipped = 0;      // result already present with the same hash
  int cells_failed = 0;       // outcome "error" or a solver failure/infeasible without solution
  int cells_over_budget = 0;  // a policy whose fit cost exceeds its budget (outcome over_budget)
  bool complete = false;      // every cell of the sweep has a result: reports were written
  double seconds = 0.0;
  std::vector<std::string> errors;   // "<cell>: <message>" per failed cell
  std::vector<std::string> reports;  // files written (CSV, SVG, summary, configs)
  std::string BriefReport() const;
  std::string FullReport() const;
};

// Runs (this shard of) the sweep, then writes the reports when every cell has a result.
// Throws InputError for unreadable inputs (dumps, profiles) or invalid options; a failing cell
// is recorded in its result and the run goes on.
SweepSummary RunSweep(const SweepSpec& spec, const SweepOptions& options = {});

// Joins the cells of several output directories of the same sweep (shards) into `output` and
// writes the reports there: the same report a single run gives. Throws InputError when the
// directories hold different sweeps or cells are missing.
SweepSummary MergeSweeps(const std::vector<std::string>& dirs, const std::string& output,
                         const std::string& command_line = "");

// When `report_csv` was written by a sweep (<out>/reports/X.csv beside <out>/manifest.yaml), fills
// `context` with the exit names, score order and input hashes of the row's model and target and
// returns true; false when there is no such manifest or group.
bool SweepReportContext(const std::string& report_csv, const ResultRow& row,
                        ConfigContext& context);

// The method names a sweep accepts (threshold methods of optim/solve.hpp and dse/ methods).
std::vector<std::string> SweepMethodNames();

// How one cell is computed: fills the row's result fields (policy, fit/eval figures, outcome).
struct SweepCellInput {
  const Dump* dump = nullptr;
  const CostProfile* profile = nullptr;
  const SweepMethod* method = nullptr;
  Measure measure = Measure::kMaxProb;
  Target target = Target::kLabels;
  std::vector<int> kept;  // 0-based
  double budget = 0.0;    // absolute
};
using SweepMethodFn = std::function<void(const SweepCellInput&, ResultRow&)>;
// Adds a method to the sweep registry (dse/ methods are listed in dse/sweep_methods.cpp's table).
void RegisterSweepMethod(const std::string& name, SweepMethodFn fn);

namespace internal {
// Enumerates the cells (without hashes) in canonical order: model, target, method, measure, budget.
std::vector<SweepCell> EnumerateCells(const SweepSpec& spec,
                                      const std::vector<std::vector<CostProfile>>& profiles);
// Parses "I/N", 1 <= I <= N (as in Slurm's --array=1-N), into 0-based index and count.
void ParseShard(const std::string& text, int& index, int& count);
}  // namespace internal

}  // namespace exitplan
