// exitplan place: exit placement search: which exits to keep, with thresholds, by flop-score
// (the unsupervised early-exit mechanism's subset score), the greedy rules of Scardapane et al.
// (2020), greedy forward/backward selection on the budgeted objective, or exhaustive search over
// every subset x budget; Pareto CSV and SVG plot.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/dump_args.hpp"
#include "cli/option_flags.hpp"
#include "dse/place_run.hpp"
#include "dse/placement.hpp"
#include "dse/plot.hpp"
#include "dse/report.hpp"
#include "dse/threshold_rows.hpp"
#include "profiles/budget.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/parallel.hpp"

namespace exitplan::cli {
namespace {

struct PlaceArgs {
  RegistryFlags flags;
};

std::string Fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

int Run(const PlaceArgs& args) {
  // Options first, before reading any file.
  const OptionValues v = args.flags.Values();
  PlaceRunOptions o;
  std::vector<std::string> method_names;
  {
    std::stringstream ss(v.Has("method") ? v.Text("method") : "flop-score");
    std::string item;
    while (std::getline(ss, item, ',')) {
      o.methods.push_back(PlacementMethodFromString(item));
      method_names.push_back(ToString(o.methods.back()));
    }
    if (o.methods.empty()) throw InputError("--method", "no method given");
  }
  MethodSettings settings;
  v.ApplyTo(settings);
  CheckGivenOptionsApply(v, method_names, settings.placement_solver);
  const Target target = TargetFromString(v.Text("correct"), "--correct");
  const Target ca_target = TargetFromString(v.Text("ca"), "--ca");
  o.solver = MethodFromString(settings.placement_solver, "--solver");
  if (settings.fast && o.solver != Method::kExact) {
    throw InputError("--fast", "the fast path exists for --solver exact only");
  }
  if (v.Has("polish") && !settings.fast) {
    throw InputError("--polish", "polishes the fast path's answers: give --fast too");
  }
  const std::vector<Budget> budget_text =
      v.Has("budget") ? v.Budgets("budget") : std::vector<Budget>{};
  const bool needs_budget = std::any_of(o.methods.begin(), o.methods.end(), [](PlacementMethod m) {
    return m == PlacementMethod::kGreedyForward || m == PlacementMethod::kGreedyBackward;
  });
  if (needs_budget && budget_text.empty()) {
    throw InputError("--budget", "greedy-forward and greedy-backward need at least one budget");
  }
  const std::string out = v.Text("out");
  if (!out.empty() && out.size() < 5) {
    throw InputError("--out", "expected a file name ending in .csv");
  }

  Dump dump = LoadDumpFrom(v);
  const CostProfile prof = LoadProfileFor(v, dump);
  CalibrateIfAsked(v, dump, target);
  const Measure measure = MeasureFor(v, dump);
  const SplitData& fit = dump.fit;
  PlacementProblem problem;
  problem.scores = &fit.Scores(measure);
  problem.order = fit.Order(measure);
  problem.correct = &fit.Correct(target);
  const bool rules = std::any_of(o.methods.begin(), o.methods.end(), [](PlacementMethod m) {
    return m == PlacementMethod::kFlopScore || m == PlacementMethod::kGreedyEfficiency ||
           m == PlacementMethod::kGreedyTh;
  });
  if (rules) {
    if (ca_target == Target::kAgreement && !fit.has_logits()) {
      throw InputError("--ca", "agreement with exit K needs logits, but " + fit.source +
                                   " is a scores-mode dump: use --ca labels");
    }
    problem.ca_correct = &fit.Correct(ca_target);
  }
  problem.profile = &prof;
  if (dump.eval) {
    problem.eval_scores = &dump.eval->Scores(measure);
    problem.eval_correct = &dump.eval->Correct(target);
  }
  const double full = prof.FullCost();
  o.budgets = ResolveBudgets(budget_text, prof);
  const bool has_exhaustive = std::find(o.methods.begin(), o.methods.end(),
                                        PlacementMethod::kExhaustive) != o.methods.end();
  if (o.budgets.empty() && has_exhaustive) o.budgets = DefaultPlaceBudgets(prof);

  o.model = ModelName(v, dump);
  o.measure = ToString(measure);
  o.tolerance = settings.greedy.tolerance;
  o.th = settings.greedy.th;
  o.threads = ResolveJobs(v.Int("jobs"));
  o.max_candidates = v.Has("max_candidates") ? v.Int("max_candidates") : -1;
  o.compare = v.Bool("compare");
  o.even = v.Int("even");
  o.all_rows = v.Bool("all_rows");
  o.exact_path = settings.fast;
  o.polish = settings.exhaustive.polish_top;
  o.prune = settings.exhaustive.prune;
  o.reuse = settings.exhaustive.reuse;
  bool horizon_given = false;
  o.solver_options = ThresholdSolverOptions(v, &horizon_given);  // + --guarantee's bound, horizon
  DefaultHorizon(dump, horizon_given, o.solver_options);
  o.verbose = v.Bool("verbose");
  std::printf("place: %s (K = %d, %d fit samples%s), profile %s (%s, unit %s, full cost %s)\n",
              dump.dir.c_str(), dump.k, fit.n,
              dump.eval ? (", " + std::to_string(dump.eval->n) + " eval").c_str() : "",
              prof.source.c_str(), prof.target.c_str(), prof.unit.c_str(), Fmt(full).c_str());
  std::printf("measure %s, correctness %s, solver %s, %zu budget(s)\n", o.measure.c_str(),
              ToString(target).c_str(), ToString(o.solver).c_str(), o.budgets.size());
  std::fflush(stdout);

  const PlaceRunResult res = RunPlace(problem, o);
  std::fputs(res.text.c_str(), stdout);
  if (!out.empty()) {
    WriteFileAtomic(out, ResultsToCsv(res.rows));
    std::string svg = out;
    const auto dot = svg.rfind('.');
    svg = (dot == std::string::npos || svg.find('/', dot) != std::string::npos ? svg
                                                                               : svg.substr(0, dot)) +
          ".svg";
    PlotOptions po;
    po.title = o.model + " / " + prof.target + ": exit placement";
    const Evaluation& ref = res.reference_eval.n > 0 ? res.reference_eval : res.reference_fit;
    po.reference_cost = ref.mean_cost;
    po.reference_acc = ref.accuracy;
    WritePlotSvg(svg, res.rows, po);
    std::printf("\nwrote %s (%zu rows, pareto = no other row of the same model and target has "
                "fit_acc >= and fit_cost <=, one strictly) and %s\n",
                out.c_str(), res.rows.size(), svg.c_str());
  }
  return res.any_solution() ? kExitOk : kExitSolverFailure;
}

}  // namespace

void RegisterPlace(CLI::App& root, std::vector<Command>& out) {
  auto a = std::make_shared<PlaceArgs>();
  CLI::App* app = root.add_subcommand(
      "place", "exit placement: which exits to keep (flop-score, greedy rules, greedy "
               "forward/backward, exhaustive), with thresholds; Pareto CSV + SVG plot");
  a->flags.Add(*app, "place", {"dump", "profile"});
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
