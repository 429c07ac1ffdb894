// One budget-constrained threshold run as rows of the Pareto CSV: the library part of
// `exitplan thresholds`, shared by the CLI and the Python module so that both give the same
// numbers (the same solver options, the same multi-budget solve, the same shift check).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "dse/options.hpp"
#include "dse/report.hpp"
#include "optim/solve.hpp"
#include "profiles/budget.hpp"
#include "profiles/dump.hpp"
#include "profiles/profile.hpp"
#include "profiles/progress.hpp"

namespace exitplan {

// The solver options of the registry values `v` (ApplyTo), plus the guarantee's bound, horizon
// and the iPPP settings, which need parsing beyond one field. Throws InputError naming the option.
// `horizon_given` tells whether --horizon was set (else DefaultHorizon() fills it from the dump).
SolverOptions ThresholdSolverOptions(const OptionValues& v, bool* horizon_given);

// The option checks of a thresholds run, before any file is read: method, correctness target,
// budgets or accuracy-drop mode (exactly one), the method's options (CheckGivenOptionsApply) and
// the solver options (ThresholdSolverOptions). Throws InputError naming the option.
struct ThresholdRunOptions {
  Method method = Method::kExact;
  Target target = Target::kLabels;
  bool accuracy_target = false;
  std::vector<Budget> budgets;  // empty in accuracy-target mode
  SolverOptions solver;
  bool horizon_given = false;
};
ThresholdRunOptions ThresholdRunOptionsFrom(const OptionValues& v);

// The guarantee's default horizon when --horizon was not given: as many deployed samples as the
// eval split holds (its violation is then what the eval split measures), or the population mean
// without one.
void DefaultHorizon(const Dump& dump, bool horizon_given, SolverOptions& solver);

struct ThresholdRowsRequest {
  Method method = Method::kExact;
  Measure measure = Measure::kMaxProb;
  Target target = Target::kLabels;
  std::vector<int> kept;         // 0-based, ascending, last = K-1
  std::vector<double> budgets;   // absolute; one entry (the full cost) in accuracy-target mode
  bool accuracy_target = false;  // rows then carry budget NaN
  std::string model;
  bool verbose = false;       // collect each solve's FullReport()
  double shift_level = 0.05;  // level of the shift check (eval split only)
  // Phase "budgets", advanced after each budget's solve; null: none. Its callback throwing ends
  // the run (rethrown by ThresholdRows).
  Progress* progress = nullptr;
};

struct ThresholdRowsResult {
  std::vector<ResultRow> rows;     // one per budget, Pareto-marked
  std::vector<std::string> notes;  // lines for stderr: unsolved budgets, shift warnings
  std::string reports;             // FullReport() of each solve when verbose
  int failed = 0;                  // budgets without a solution
};

ThresholdRowsResult ThresholdRows(const Dump& dump, const CostProfile& profile,
                                  const ThresholdRowsRequest& request, const SolverOptions& solver);

}  // namespace exitplan
