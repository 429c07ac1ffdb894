// exitplan place: exit placement search (issue 4): which exits to keep, with thresholds, by
// flop-score (seed 002), the greedy rules of seed 003, greedy forward/backward selection on the
// budgeted objective, or exhaustive search over every subset x budget; Pareto CSV and SVG plot.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/dump_args.hpp"
#include "dse/place_run.hpp"
#include "dse/placement.hpp"
#include "dse/plot.hpp"
#include "dse/report.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"

namespace exitplan::cli {
namespace {

struct PlaceArgs {
  DumpArgs dump;
  ProfileArgs profile;
  std::string methods = "flop-score";
  std::string measure = "max_prob";
  std::string correct = "labels";
  std::string ca = "agreement";
  std::string solver = "exact";
  std::string budgets;
  std::string budget_unit = "relative";
  double tolerance = 0.05;
  double th = 0.9;
  int threads = 2;
  int even = 3;
  bool compare = false;
  bool all_rows = false;
  bool no_path = false;
  int polish = 0;
  int max_candidates = -1;
  std::string out;
  bool verbose = false;
};

// "0.3,0.5" or "0.2:1:50" (lo:hi:count, inclusive) or a mix, comma-separated.
std::vector<double> ParseBudgets(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find(':') == std::string::npos) {
      for (double v : ParseDoubleList(item, "--budget")) out.push_back(v);
      continue;
    }
    std::string a = item;
    for (char& ch : a) ch = ch == ':' ? ',' : ch;
    const std::vector<double> r = ParseDoubleList(a, "--budget");
    if (r.size() != 3 || !(r[2] >= 1) || r[2] != std::floor(r[2]) || !(r[0] <= r[1])) {
      throw InputError("--budget", "range '" + item + "': expected lo:hi:count with lo <= hi and "
                                   "an integer count >= 1");
    }
    const int n = static_cast<int>(r[2]);
    for (int i = 0; i < n; ++i) out.push_back(n == 1 ? r[0] : r[0] + (r[1] - r[0]) * i / (n - 1));
  }
  for (double v : out) {
    if (!(std::isfinite(v) && v > 0)) {
      throw InputError("--budget", "budget " + FormatDouble(v) + ": must be finite and > 0");
    }
  }
  return out;
}

std::string Fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

int Run(const PlaceArgs& a) {
  // Options first, before reading any file (STYLE.md 2).
  PlaceRunOptions o;
  {
    std::stringstream ss(a.methods);
    std::string item;
    while (std::getline(ss, item, ',')) o.methods.push_back(PlacementMethodFromString(item));
    if (o.methods.empty()) throw InputError("--method", "no method given");
  }
  const Measure measure = MeasureFromString(a.measure);
  const Target target = TargetFromString(a.correct, "--correct");
  const Target ca_target = TargetFromString(a.ca, "--ca");
  o.solver = MethodFromString(a.solver, "--solver");
  if (a.budget_unit != "relative" && a.budget_unit != "absolute") {
    throw InputError("--budget-unit", "unknown unit '" + a.budget_unit +
                                          "' (expected relative or absolute)");
  }
  if (!(a.tolerance > 0.0 && a.tolerance < 1.0)) {
    throw InputError("--tolerance", "tolerance = " + FormatDouble(a.tolerance) +
                                        ": must be in (0, 1) (a fraction of accuracy)");
  }
  if (!(a.th >= 0.0 && a.th <= 1.0)) {
    throw InputError("--th", "TH = " + FormatDouble(a.th) + ": must be in [0, 1]");
  }
  if (a.threads < 1) throw InputError("--threads", "must be >= 1");
  if (a.even < 0) throw InputError("--even", "must be >= 0");
  if (a.polish < 0) throw InputError("--polish", "must be >= 0");
  std::vector<double> budget_values = a.budgets.empty() ? std::vector<double>{}
                                                        : ParseBudgets(a.budgets);
  const bool needs_budget = std::any_of(o.methods.begin(), o.methods.end(), [](PlacementMethod m) {
    return m == PlacementMethod::kGreedyForward || m == PlacementMethod::kGreedyBackward;
  });
  if (needs_budget && budget_values.empty()) {
    throw InputError("--budget", "greedy-forward and greedy-backward need at least one budget");
  }
  if (!a.out.empty() && a.out.size() < 5) {
    throw InputError("--out", "expected a file name ending in .csv");
  }

  const Dump dump = a.dump.Load();
  const CostProfile prof = a.profile.Load(dump);
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
  o.budgets = budget_values;
  if (a.budget_unit == "relative") {
    for (double& b : o.budgets) b *= full;
  }
  const bool has_exhaustive = std::find(o.methods.begin(), o.methods.end(),
                                        PlacementMethod::kExhaustive) != o.methods.end();
  if (o.budgets.empty() && has_exhaustive) o.budgets = DefaultPlaceBudgets(prof);

  o.model = std::filesystem::path(dump.dir).filename().string().empty()
                ? std::filesystem::path(dump.dir).parent_path().filename().string()
                : std::filesystem::path(dump.dir).filename().string();
  o.measure = a.measure;
  o.tolerance = a.tolerance;
  o.th = a.th;
  o.threads = a.threads;
  o.max_candidates = a.max_candidates;
  o.compare = a.compare;
  o.even = a.even;
  o.all_rows = a.all_rows;
  o.exact_path = !a.no_path;
  o.polish = a.polish;
  o.verbose = a.verbose;
  std::printf("place: %s (K = %d, %d fit samples%s), profile %s (%s, unit %s, full cost %s)\n",
              dump.dir.c_str(), dump.k, fit.n,
              dump.eval ? (", " + std::to_string(dump.eval->n) + " eval").c_str() : "",
              prof.source.c_str(), prof.target.c_str(), prof.unit.c_str(), Fmt(full).c_str());
  std::printf("measure %s, correctness %s, solver %s, %zu budget(s)\n", a.measure.c_str(),
              a.correct.c_str(), a.solver.c_str(), o.budgets.size());
  std::fflush(stdout);

  const PlaceRunResult res = RunPlace(problem, o);
  std::fputs(res.text.c_str(), stdout);
  if (!a.out.empty()) {
    WriteFileAtomic(a.out, ResultsToCsv(res.rows));
    std::string svg = a.out;
    const auto dot = svg.rfind('.');
    svg = (dot == std::string::npos || svg.find('/', dot) != std::string::npos ? svg
                                                                               : svg.substr(0, dot)) +
          ".svg";
    PlotOptions po;
    po.title = o.model + " / " + prof.target + ": exit placement";
    WritePlotSvg(svg, res.rows, po);
    std::printf("\nwrote %s (%zu rows, pareto = no other row of the same model and target has "
                "fit_acc >= and fit_cost <=, one strictly) and %s\n",
                a.out.c_str(), res.rows.size(), svg.c_str());
  }
  return res.any_solution() ? kExitOk : kExitSolverFailure;
}

}  // namespace

void RegisterPlace(CLI::App& root, std::vector<Command>& out) {
  auto a = std::make_shared<PlaceArgs>();
  CLI::App* app = root.add_subcommand(
      "place", "exit placement: which exits to keep (flop-score, greedy rules, greedy "
               "forward/backward, exhaustive), with thresholds; Pareto CSV + SVG plot");
  a->dump.Add(*app);
  a->profile.Add(*app);
  app->add_option("--method", a->methods,
                  "comma-separated: flop-score, greedy-efficiency, greedy-th, greedy-forward, "
                  "greedy-backward, exhaustive")
      ->capture_default_str();
  app->add_option("--tolerance", a->tolerance,
                  "flop-score / greedy rules: allowed accuracy drop T in (0, 1); exit n of a "
                  "subset gets T/2^n (seed 002 eq. 3)")
      ->capture_default_str();
  app->add_option("--th", a->th, "greedy-th: TH of seed 003 eq. 5, in [0, 1]")
      ->capture_default_str();
  app->add_option("--budget", a->budgets,
                  "budgets: comma-separated values and/or lo:hi:count ranges (default for "
                  "exhaustive: 50 from the cheapest policy to the full cost)");
  app->add_option("--budget-unit", a->budget_unit,
                  "relative (fraction of the full cost, every head kept) or absolute (profile unit)")
      ->capture_default_str();
  app->add_option("--solver", a->solver,
                  "threshold method for budgeted searches: exact, single, geometric, "
                  "geometric-quantile, ippp, ippp-nlopt")
      ->capture_default_str();
  app->add_option("--measure", a->measure, "confidence measure (see evaluate)")
      ->capture_default_str();
  app->add_option("--correct", a->correct, "correctness for accuracy: labels or agreement")
      ->capture_default_str();
  app->add_option("--ca", a->ca,
                  "flop-score / greedy rules: CA of eq. 3 against agreement (with exit K, "
                  "unsupervised, seed 002) or labels")
      ->capture_default_str();
  app->add_option("--threads", a->threads, "worker threads (results do not depend on it)")
      ->capture_default_str();
  app->add_flag("--compare", a->compare,
                "also solve keeping all exits, the evenly spaced placement and the best "
                "exhaustive subset at every budget");
  app->add_option("--even", a->even, "number of evenly spaced early exits for --compare")
      ->capture_default_str();
  app->add_option("--max-candidates", a->max_candidates,
                  "enumeration limit on K-1 (flop-score 24, exhaustive 16 by default)");
  app->add_flag("--all-rows", a->all_rows,
                "exhaustive: write every (subset, budget) solution, not only the best per budget");
  app->add_flag("--no-path", a->no_path,
                "exhaustive with --solver exact: call the full exact solver for every (subset, "
                "budget) pair (warm-started across budgets) instead of the fast path; slow");
  app->add_option("--polish", a->polish,
                  "exhaustive fast path: re-solve the best N subsets of every budget with the full "
                  "exact solver and keep the better answer (0.1-0.5 s per solve on 9 exits)")
      ->capture_default_str();
  app->add_option("--out", a->out, "Pareto CSV to write; the SVG plot goes beside it");
  app->add_flag("-v,--verbose", a->verbose, "print the greedy rules' per-exit decisions");
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
