// exitplan thresholds: budget-constrained thresholds with one method, one CSV row per
// budget with the columns of dse/report.hpp (ResultsToCsv), to stdout or --out.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>

#include "cli/commands.hpp"
#include "cli/dump_args.hpp"
#include "cli/option_flags.hpp"
#include "dse/report.hpp"
#include "dse/threshold_rows.hpp"
#include "optim/shift.hpp"
#include "optim/solve.hpp"
#include "profiles/budget.hpp"
#include "profiles/error.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/io.hpp"
#include "profiles/progress.hpp"

namespace exitplan::cli {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct ThresholdsArgs {
  RegistryFlags flags;
};

int Run(ThresholdsArgs& args) {
  // Option checks before any file is read.
  const OptionValues v = args.flags.Values();
  const std::string format = v.Has("format") ? v.Text("format") : "text";
  if (format != "text" && format != "csv") {
    throw InputError("--format", "unknown format '" + format + "' (expected text or csv)");
  }
  ThresholdRunOptions run_options = ThresholdRunOptionsFrom(v);
  const Method method = run_options.method;
  const Target target = run_options.target;
  const bool accuracy_target = run_options.accuracy_target;
  const std::vector<Budget>& budget_text = run_options.budgets;
  const bool horizon_given = run_options.horizon_given;
  SolverOptions& solver = run_options.solver;
  Dump dump = LoadDumpFrom(v);
  const CostProfile profile = LoadProfileFor(v, dump);
  CalibrateIfAsked(v, dump, target);
  const Measure measure = MeasureFor(v, dump);
  const std::string exits = v.Text("exits");
  const std::vector<int> kept = exits.empty() ? AllExits(dump.k) : ParseKeptExits(exits, dump.k);
  // Accuracy-target mode solves once (the budget is searched); else one solve per budget.
  const std::vector<double> budgets = accuracy_target ? std::vector<double>{profile.FullCost()}
                                                      : ResolveBudgets(budget_text, profile);
  const std::string model = ModelName(v, dump);
  DefaultHorizon(dump, horizon_given, solver);
  ThresholdRowsRequest q;
  q.method = method;
  q.measure = measure;
  q.target = target;
  q.kept = kept;
  q.budgets = budgets;
  q.accuracy_target = accuracy_target;
  q.model = model;
  q.verbose = v.Bool("verbose");
  Progress progress(StderrProgress("exitplan thresholds", v.Bool("quiet")));
  q.progress = &progress;
  const ThresholdRowsResult run = ThresholdRows(dump, profile, q, solver);
  progress.Finish();
  if (!run.reports.empty()) std::cerr << run.reports;
  for (const std::string& line : run.notes) std::cerr << "exitplan: " << line << "\n";
  const std::vector<ResultRow>& rows = run.rows;
  const int failed = run.failed;
  Note(v, FullCostLine(profile));
  // A readable table on stdout unless --format csv; the CSV goes to --out when given.
  const std::string csv = ResultsToCsv(rows);
  if (v.Has("out")) {
    WriteFileAtomic(v.Text("out"), csv);
    Note(v, "wrote " + v.Text("out") + " (" + std::to_string(rows.size()) + " row" +
                (rows.size() == 1 ? "" : "s") + ", the columns of docs/thresholds.md)");
  }
  if (format == "csv") {
    if (!v.Has("out")) std::fwrite(csv.data(), 1, csv.size(), stdout);
  } else {
    const std::string table = ResultsTable(rows);
    std::fwrite(table.data(), 1, table.size(), stdout);
  }
  return failed == static_cast<int>(rows.size()) ? kExitSolverFailure : kExitOk;
}

}  // namespace

void RegisterThresholds(CLI::App& root, std::vector<Command>& out) {
  auto a = std::make_shared<ThresholdsArgs>();
  CLI::App* app = root.add_subcommand(
      "thresholds",
      "choose thresholds that maximise fit accuracy under a mean-cost budget (one CSV row per "
      "budget: fit and eval accuracy and cost, thresholds, exit fractions)");
  a->flags.Add(*app, "thresholds", {"dump", "profile", "method"});
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
