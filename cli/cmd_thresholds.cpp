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
#include "optim/solve.hpp"
#include "profiles/budget.hpp"
#include "profiles/error.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/io.hpp"

namespace exitplan::cli {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct ThresholdsArgs {
  RegistryFlags flags;
};

int Run(ThresholdsArgs& args) {
  // Option checks before any file is read.
  const OptionValues v = args.flags.Values();
  const Method method = MethodFromString(v.Text("method"));
  const Target target = TargetFromString(v.Text("correct"), "--correct");
  CheckGivenOptionsApply(v, {ToString(method)});
  const bool accuracy_target = v.Has("accuracy_drop");
  if (v.Has("budget") == accuracy_target) {
    throw InputError("--budget", "give either --budget (" + std::string(kBudgetGrammar) +
                                     ") or --accuracy-drop");
  }
  const std::vector<Budget> budget_text =
      v.Has("budget") ? v.Budgets("budget") : std::vector<Budget>{};
  MethodSettings settings;
  v.ApplyTo(settings);
  const SolverOptions& solver = settings.solver;
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
  std::vector<ResultRow> rows;
  int failed = 0;
  for (double b : budgets) {
    const ThresholdProblem p = ThresholdProblem::From(dump.fit, measure, target, profile, kept, b);
    const ThresholdSummary s = Solve(method, p, solver);
    if (v.Bool("verbose")) std::cerr << s.FullReport();
    ResultRow r;
    r.model = model;
    r.target = profile.target;
    r.unit = profile.unit;
    r.method = s.method;
    r.measure = ToString(measure);
    r.kept_exits = kept;
    r.budget = accuracy_target ? kNaN : b;
    r.seconds = s.seconds;
    r.outcome = ToString(s.outcome);
    r.message = s.message;
    if (s.has_policy()) {  // over-budget answers too: shown, labelled, never on the front
      r.thresholds = s.policy.thresholds;
      r.fit_acc = s.fit.accuracy;
      r.fit_cost = s.fit.mean_cost;
      r.exit_fractions = s.fit.exit_fraction;
      if (dump.eval) {
        const Evaluation ev = EvaluateSplit(*dump.eval, measure, target, profile, s.policy);
        r.eval_acc = ev.accuracy;
        r.eval_cost = ev.mean_cost;
      }
    }
    if (!s.ok()) {
      ++failed;
      std::cerr << "exitplan: " << s.method << ": " << ToString(s.outcome) << ": " << s.message
                << "\n";
    }
    rows.push_back(r);
  }
  MarkPareto(rows);
  Note(v, FullCostLine(profile));
  const std::string csv = ResultsToCsv(rows);
  if (!v.Has("out")) {
    std::fwrite(csv.data(), 1, csv.size(), stdout);
  } else {
    WriteFileAtomic(v.Text("out"), csv);
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
