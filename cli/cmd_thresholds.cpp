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
#include "optim/shift.hpp"
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
  SolverOptions& solver = settings.solver;
  solver.guarantee.bound = GuaranteeBoundFromString(v.Text("guarantee_bound"), "--guarantee-bound");
  if (v.Text("ippp_settings") == "paper") {
    // Tan et al. (AAAI 2021): their steepness and penalty are the defaults already; the paper
    // setting keeps iPPP's raw answers (no feasibility step), which may exceed the budget.
    solver.feasibility_rounds = 0;
  }
  const bool horizon_given = v.Has("horizon");
  if (horizon_given) {
    const std::string h = v.Text("horizon");
    if (!solver.guarantee.on()) throw InputError("--horizon", "only meaningful with --guarantee");
    if (h == "inf") {
      solver.guarantee.horizon = std::numeric_limits<double>::infinity();
    } else {
      const std::vector<double> hv = ParseDoubleList(h, "--horizon");
      if (hv.size() != 1 || !(hv[0] >= 1.0) || !std::isfinite(hv[0])) {
        throw InputError("--horizon", "expected a number of samples >= 1 or inf, got '" + h + "'");
      }
      solver.guarantee.horizon = hv[0];
    }
  }
  if (const std::string err = solver.Validate(); !err.empty()) {
    throw InputError("option", err.substr(0, err.find('\n')));
  }
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
  // The guarantee's default horizon: as many deployed samples as the eval split holds (its
  // violation is then what the eval split measures), or the population mean without one.
  if (solver.guarantee.on() && !horizon_given) {
    solver.guarantee.horizon =
        dump.eval ? static_cast<double>(dump.eval->n) : std::numeric_limits<double>::infinity();
  }
  std::vector<ResultRow> rows;
  int failed = 0, shift_fired = 0;
  const ThresholdProblem base = ThresholdProblem::From(dump.fit, measure, target, profile, kept, 0.0);
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
        // Shift check: are the eval split's costs and correctness under this policy
        // exchangeable with the fit split's?
        const ThresholdProblem ep =
            ThresholdProblem::From(*dump.eval, measure, target, profile, kept, b);
        const ShiftResult sh = ShiftCheck(base, ep, s.policy, 0.05);
        if (sh.shifted && shift_fired++ == 0) std::cerr << "exitplan: " << sh.Warning() << "\n";
      }
    }
    if (!s.ok()) {
      ++failed;
      std::cerr << "exitplan: " << s.method << ": " << ToString(s.outcome) << ": " << s.message
                << "\n";
    }
    rows.push_back(r);
  }
  if (shift_fired > 1) {
    std::cerr << "exitplan: the shift check fired at " << shift_fired << " of " << rows.size()
              << " budgets\n";
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
