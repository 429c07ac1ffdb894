// exitplan place: exit placement search (issue 4): which exits to keep, with thresholds, by
// flop-score (seed 002), the greedy rules of seed 003, greedy forward/backward selection on the
// budgeted objective, or exhaustive search over every subset x budget; Pareto CSV and SVG plot.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/dump_args.hpp"
#include "dse/exhaustive.hpp"
#include "dse/flop_score.hpp"
#include "dse/greedy.hpp"
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

std::string Names(const CostProfile& p, const std::vector<int>& kept) {
  std::string s;
  for (std::size_t q = 0; q < kept.size(); ++q) {
    if (q) s += ",";
    s += p.names.empty() ? std::to_string(kept[q] + 1) : p.names[kept[q]];
  }
  return s;
}

void PrintPolicy(const CostProfile& prof, const Policy& pol, const Evaluation& fit,
                 const Evaluation& eval, const std::string& indent) {
  std::printf("%skept exits: %s (%s)\n", indent.c_str(), KeptText(pol.kept).c_str(),
              Names(prof, pol.kept).c_str());
  std::printf("%sthresholds: %s\n", indent.c_str(), JoinDoubles(pol.thresholds, ", ").c_str());
  std::printf("%sfit:  accuracy %.4f  cost %s %s\n", indent.c_str(), fit.accuracy,
              Fmt(fit.mean_cost).c_str(), prof.unit.c_str());
  if (eval.n > 0) {
    std::printf("%seval: accuracy %.4f  cost %s %s\n", indent.c_str(), eval.accuracy,
                Fmt(eval.mean_cost).c_str(), prof.unit.c_str());
  }
}

int Run(const PlaceArgs& a) {
  // Options first, before reading any file (STYLE.md 2).
  std::vector<PlacementMethod> methods;
  {
    std::stringstream ss(a.methods);
    std::string item;
    while (std::getline(ss, item, ',')) methods.push_back(PlacementMethodFromString(item));
    if (methods.empty()) throw InputError("--method", "no method given");
  }
  const Measure measure = MeasureFromString(a.measure);
  const Target target = TargetFromString(a.correct, "--correct");
  const Target ca_target = TargetFromString(a.ca, "--ca");
  const Method solver_method = MethodFromString(a.solver, "--solver");
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
  const bool needs_budget = std::any_of(methods.begin(), methods.end(), [](PlacementMethod m) {
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
  const bool rules = std::any_of(methods.begin(), methods.end(), [](PlacementMethod m) {
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
  double cheapest = full;  // cheapest policy of any kept set: everything stops at one exit
  for (int j = 0; j < dump.k; ++j) cheapest = std::min(cheapest, prof.backbone[j] + prof.head[j]);
  std::vector<double> budgets = budget_values;
  if (a.budget_unit == "relative") {
    for (double& b : budgets) b *= full;
  }
  const bool has_exhaustive = std::find(methods.begin(), methods.end(),
                                        PlacementMethod::kExhaustive) != methods.end();
  if (budgets.empty() && has_exhaustive) {
    for (int i = 0; i < 50; ++i) budgets.push_back(cheapest + (full - cheapest) * i / 49.0);
  }

  SolverOptions solver_options;
  const ThresholdSolverFn solver = SolverFor(solver_method, solver_options);
  const std::string model = std::filesystem::path(dump.dir).filename().string().empty()
                                ? std::filesystem::path(dump.dir).parent_path().filename().string()
                                : std::filesystem::path(dump.dir).filename().string();
  std::printf("place: %s (K = %d, %d fit samples%s), profile %s (%s, unit %s, full cost %s)\n",
              dump.dir.c_str(), dump.k, fit.n,
              dump.eval ? (", " + std::to_string(dump.eval->n) + " eval").c_str() : "",
              prof.source.c_str(), prof.target.c_str(), prof.unit.c_str(), Fmt(full).c_str());
  std::printf("measure %s, correctness %s, solver %s, %zu budget(s)\n", a.measure.c_str(),
              a.correct.c_str(), a.solver.c_str(), budgets.size());

  std::vector<ResultRow> rows;
  auto add_row = [&](ResultRow r) {
    r.model = model;
    r.measure = a.measure;
    rows.push_back(std::move(r));
  };
  // A fixed kept set solved at every budget, as a comparison series.
  auto series = [&](const std::string& name, const std::vector<int>& kept) {
    int solved = 0;
    for (double b : budgets) {
      const ThresholdSummary s = solver(problem.Thresholds(kept, b));
      ResultRow r = MakeRow(problem, name, s.policy, s.ok() ? s.fit : Evaluation{}, b, s.seconds,
                            ToString(s.outcome), s.message);
      r.kept_exits = kept;
      if (s.ok()) ++solved;
      add_row(std::move(r));
    }
    return solved;
  };
  int failures = 0;

  for (PlacementMethod m : methods) {
    const std::string name = ToString(m);
    if (m == PlacementMethod::kFlopScore) {
      FlopScoreOptions o;
      o.tolerance = a.tolerance;
      o.threads = a.threads;
      o.keep_top = 5;
      if (a.max_candidates > 0) o.max_candidates = a.max_candidates;
      const FlopScoreSummary s = FlopScore(problem, o);
      std::printf("\n%s\n", s.BriefReport().c_str());
      PrintPolicy(prof, s.policy, s.fit, s.eval, "  ");
      std::printf("  best subsets by eq. 4 (score in %s x samples):\n", prof.unit.c_str());
      for (const SubsetScore& t : s.top) {
        std::printf("    %-20s score %s\n", KeptText(t.kept).c_str(), Fmt(t.score).c_str());
      }
      add_row(MakeRow(problem, name, s.policy, s.fit, std::nan(""), s.seconds,
                      ToString(s.outcome), s.message));
      if (!budgets.empty()) series(name + "+" + a.solver, s.policy.kept);
    } else if (m == PlacementMethod::kGreedyEfficiency || m == PlacementMethod::kGreedyTh) {
      GreedyOptions o;
      o.rule = m == PlacementMethod::kGreedyTh ? GreedyRule::kTh : GreedyRule::kEfficiency;
      o.tolerance = a.tolerance;
      o.th = a.th;
      const GreedySummary s = Greedy(problem, o);
      std::printf("\n%s\n", s.BriefReport().c_str());
      PrintPolicy(prof, s.policy, s.fit, s.eval, "  ");
      if (a.verbose) {
        for (const GreedyStep& st : s.steps) {
          std::printf("    exit %d: I=%.4f I'=%.4f lhs=%s rhs=%s -> %s\n", st.exit + 1,
                      st.i_reach, st.i_next, Fmt(st.lhs).c_str(), Fmt(st.rhs).c_str(),
                      st.kept ? "keep" : "drop");
        }
      }
      add_row(MakeRow(problem, name, s.policy, s.fit, std::nan(""), s.seconds,
                      ToString(s.outcome), s.message));
      if (!budgets.empty()) series(name + "+" + a.solver, s.policy.kept);
    } else if (m == PlacementMethod::kGreedyForward || m == PlacementMethod::kGreedyBackward) {
      std::printf("\n%s (thresholds by %s):\n", name.c_str(), a.solver.c_str());
      for (double b : budgets) {
        GreedyOptions o;
        o.rule = m == PlacementMethod::kGreedyForward ? GreedyRule::kForward
                                                      : GreedyRule::kBackward;
        o.budget = b;
        const GreedySummary s = Greedy(problem, o, solver);
        std::printf("  budget %s: %s\n", Fmt(b).c_str(), s.BriefReport().c_str());
        if (s.ok()) PrintPolicy(prof, s.policy, s.fit, s.eval, "    ");
        if (!s.ok()) ++failures;
        add_row(MakeRow(problem, name, s.policy, s.ok() ? s.fit : Evaluation{}, b, s.seconds,
                        ToString(s.outcome), s.message));
      }
    } else {
      ExhaustiveOptions o;
      o.budgets = budgets;
      o.threads = a.threads;
      if (a.max_candidates > 0) o.max_candidates = a.max_candidates;
      o.exact_path = solver_method == Method::kExact && !a.no_path;
      o.polish_top = o.exact_path ? a.polish : 0;
      const ExhaustiveSummary s = Exhaustive(problem, o, solver, WarmSolverFor(solver_method));
      std::printf("\n%s\n", s.BriefReport().c_str());
      if (!s.ok()) ++failures;
      // Best subset per budget.
      std::printf("  %-10s %-18s %9s %11s %9s %11s\n", "budget", "kept exits", "fit_acc",
                  "fit_cost", "eval_acc", "eval_cost");
      std::map<SubsetMask, int> wins;
      std::map<SubsetMask, double> acc_sum;
      for (const SubsetSolution& sol : s.solutions) acc_sum[sol.mask] += sol.summary.fit.accuracy;
      for (std::size_t bi = 0; bi < budgets.size(); ++bi) {
        const int q = s.best_per_budget[bi];
        if (q < 0) {
          std::printf("  %-10s infeasible\n", Fmt(budgets[bi]).c_str());
          continue;
        }
        const SubsetSolution& sol = s.solutions[q];
        ++wins[sol.mask];
        ResultRow r = MakeRow(problem, name, sol.summary.policy, sol.summary.fit, budgets[bi],
                              sol.summary.seconds, ToString(sol.summary.outcome),
                              sol.summary.message);
        std::printf("  %-10s %-18s %9.4f %11s %9.4f %11s\n", Fmt(budgets[bi]).c_str(),
                    KeptText(sol.summary.policy.kept).c_str(), r.fit_acc, Fmt(r.fit_cost).c_str(),
                    r.eval_acc, Fmt(r.eval_cost).c_str());
        if (!a.all_rows) add_row(std::move(r));
      }
      if (a.all_rows) {
        for (const SubsetSolution& sol : s.solutions) {
          add_row(MakeRow(problem, name + ":" + KeptText(sol.summary.policy.kept),
                          sol.summary.policy, sol.summary.fit, sol.budget, sol.summary.seconds,
                          ToString(sol.summary.outcome), sol.reused ? "reused" : ""));
        }
      }
      // The single best kept set over the whole range: the highest fit accuracy summed over the
      // budgets (0 where it cannot meet the budget); ties to the smaller mask.
      SubsetMask best = 0;
      double best_sum = -1;
      for (const auto& [mask, sum] : acc_sum) {
        if (sum > best_sum) best = mask, best_sum = sum;
      }
      if (best_sum > 0) {
        const std::vector<int> kept = KeptFromMask(best, dump.k);
        std::printf("  best single kept set over the budgets: %s (%s), best at %d of %zu budgets, "
                    "mean fit accuracy %.4f\n",
                    KeptText(kept).c_str(), Names(prof, kept).c_str(), wins[best], budgets.size(),
                    best_sum / budgets.size());
        if (a.compare) series("best-subset", kept);
      }
    }
  }
  if (a.compare && !budgets.empty()) {
    const std::vector<int> even = EvenlySpacedExits(prof, a.even);
    std::printf("\ncomparison series (thresholds by %s at every budget): all-exits (%s), even-%d "
                "(%s)\n",
                a.solver.c_str(), KeptText(AllExits(dump.k)).c_str(), a.even,
                KeptText(even).c_str());
    series("all-exits", AllExits(dump.k));
    series("even-" + std::to_string(a.even), even);
    // Mean accuracy per comparison series over the budgets all of them meet.
    std::map<std::string, std::pair<double, int>> mean_fit, mean_eval;
    for (const ResultRow& r : rows) {
      if (!r.has_solution() || std::isnan(r.budget)) continue;
      mean_fit[r.method].first += r.fit_acc;
      mean_fit[r.method].second += 1;
      if (!std::isnan(r.eval_acc)) {
        mean_eval[r.method].first += r.eval_acc;
        mean_eval[r.method].second += 1;
      }
    }
    for (const auto& [meth, v] : mean_fit) {
      std::printf("  %-28s mean fit accuracy %.4f over %d budgets", meth.c_str(), v.first / v.second,
                  v.second);
      if (mean_eval.count(meth)) {
        std::printf(", mean eval accuracy %.4f", mean_eval[meth].first / mean_eval[meth].second);
      }
      std::printf("\n");
    }
  }
  MarkPareto(rows);
  if (!a.out.empty()) {
    WriteFileAtomic(a.out, ResultsToCsv(rows));
    std::string svg = a.out;
    const auto dot = svg.rfind('.');
    svg = (dot == std::string::npos || svg.find('/', dot) != std::string::npos ? svg
                                                                               : svg.substr(0, dot)) +
          ".svg";
    PlotOptions po;
    po.title = model + " / " + prof.target + ": exit placement";
    WritePlotSvg(svg, rows, po);
    std::printf("\nwrote %s (%zu rows, pareto = no other row of the same model and target has "
                "fit_acc >= and fit_cost <=, one strictly) and %s\n",
                a.out.c_str(), rows.size(), svg.c_str());
  }
  const bool any = std::any_of(rows.begin(), rows.end(),
                               [](const ResultRow& r) { return r.has_solution(); });
  return any ? kExitOk : kExitSolverFailure;
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
