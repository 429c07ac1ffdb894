// exitplan place: exit placement search: which exits to keep, with thresholds, by flop-score
// (the unsupervised early-exit mechanism's subset score), the greedy rules of Scardapane et al.
// (2020), greedy forward/backward selection on the budgeted objective, or exhaustive search over
// every subset x budget; Pareto CSV and SVG plot.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/dump_args.hpp"
#include "cli/option_flags.hpp"
#include "dse/place_run.hpp"
#include "dse/placement.hpp"
#include "dse/plot.hpp"
#include "dse/report.hpp"
#include "dse/threshold_rows.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/progress.hpp"

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
  PlaceRequest q = PlaceRequestFrom(v);
  PlaceRunOptions& o = q.run;
  const std::string& out = q.out;

  Dump dump = LoadDumpFrom(v);
  const CostProfile prof = LoadProfileFor(v, dump);
  CalibrateIfAsked(v, dump, q.target);
  const Measure measure = MeasureFor(v, dump);
  const SplitData& fit = dump.fit;
  const PlacementProblem problem = PlaceProblemFor(dump, prof, measure, q);
  const double full = prof.FullCost();
  o.budgets = PlaceBudgets(q, prof);
  o.model = ModelName(v, dump);
  o.measure = ToString(measure);
  DefaultHorizon(dump, q.horizon_given, o.solver_options);
  const Target target = q.target;
  if (!v.Bool("quiet")) {  // the header is information: -q keeps only results and errors
    std::printf("place: %s (K = %d, %d fit samples%s), profile %s (%s, unit %s, full cost %s)\n",
                dump.dir.c_str(), dump.k, fit.n,
                dump.eval ? (", " + std::to_string(dump.eval->n) + " eval").c_str() : "",
                prof.source.c_str(), prof.target.c_str(), prof.unit.c_str(), Fmt(full).c_str());
    std::printf("measure %s, correctness %s, solver %s, %zu budget(s)\n", o.measure.c_str(),
                ToString(target).c_str(), ToString(o.solver).c_str(), o.budgets.size());
    if (problem.ca_correct && !q.ca_given && !fit.has_logits()) {
      std::printf(
          "CA (flop-score, greedy rules): labels (a scores-mode dump has no exit-K "
          "predictions to agree with)\n");
    }
  }
  std::fflush(stdout);

  Progress progress(StderrProgress("exitplan place", v.Bool("quiet")));
  o.progress = &progress;
  const PlaceRunResult res = RunPlace(problem, o);
  progress.Finish();
  std::fputs(res.text.c_str(), stdout);
  if (!out.empty()) {
    WriteFileAtomic(out, ResultsToCsv(res.rows));
    std::string svg = out;
    const auto dot = svg.rfind('.');
    svg =
        (dot == std::string::npos || svg.find('/', dot) != std::string::npos ? svg
                                                                             : svg.substr(0, dot)) +
        ".svg";
    PlotOptions po;
    po.title = o.model + " / " + prof.target + ": exit placement";
    const Evaluation& ref = res.reference_eval.n > 0 ? res.reference_eval : res.reference_fit;
    po.reference_cost = ref.mean_cost;
    po.reference_acc = ref.accuracy;
    WritePlotSvg(svg, res.rows, po);
    std::printf(
        "\nwrote %s (%zu rows, pareto = no other row of the same model and target has "
        "fit_acc >= and fit_cost <=, one strictly) and %s\n",
        out.c_str(), res.rows.size(), svg.c_str());
  }
  return res.any_solution() ? kExitOk : kExitSolverFailure;
}

}  // namespace

void RegisterPlace(CLI::App& root, std::vector<Command>& out) {
  auto a = std::make_shared<PlaceArgs>();
  CLI::App* app =
      root.add_subcommand("place",
                          "exit placement: which exits to keep (flop-score, greedy rules, greedy "
                          "forward/backward, exhaustive), with thresholds; Pareto CSV + SVG plot");
  a->flags.Add(*app, "place", {"dump", "profile"});
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
