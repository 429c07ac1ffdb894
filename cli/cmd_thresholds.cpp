// exitplan thresholds: budget-constrained thresholds with one method (issue 3), one CSV row per
// budget with the columns of dse/report.hpp (ResultsToCsv), to stdout or --out.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>

#include "cli/commands.hpp"
#include "cli/dump_args.hpp"
#include "dse/report.hpp"
#include "optim/shift.hpp"
#include "optim/solve.hpp"
#include "profiles/error.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/io.hpp"

namespace exitplan::cli {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct ThresholdsArgs {
  DumpArgs dump;
  ProfileArgs profile;
  std::string method;
  std::string measure;  // empty: max_prob for logits, confidence for scores-mode dumps
  std::string correct = "labels";
  std::string exits;
  double budget = kNaN;
  std::string budget_range;
  bool relative = false;
  std::string out;
  std::string model;
  std::string box;
  bool verbose = false;
  SolverOptions solver;
  std::string initial;
  bool no_ippp_start = false;
  bool no_heuristic_starts = false;
  std::string horizon;          // --horizon: a sample count or inf; "" = the eval split's size
  std::string guarantee_bound = "wsr";
  std::string ippp_settings = "default";
};

std::vector<double> Budgets(const ThresholdsArgs& a, double full_cost) {
  std::vector<double> b;
  if (!std::isnan(a.budget)) {
    b.push_back(a.budget);
  } else {
    const std::vector<std::string> parts = [&] {
      std::vector<std::string> p;
      std::string cur;
      for (char ch : a.budget_range) {
        if (ch == ':') { p.push_back(cur); cur.clear(); } else { cur += ch; }
      }
      p.push_back(cur);
      return p;
    }();
    if (parts.size() != 3) {
      throw InputError("--budget-range", "expected LO:HI:N, got '" + a.budget_range + "'");
    }
    const std::vector<double> lohi = ParseDoubleList(parts[0] + "," + parts[1], "--budget-range");
    const std::vector<int> n = ParseIntList(parts[2], "--budget-range");
    if (n[0] < 1) throw InputError("--budget-range", "N = " + parts[2] + ": must be >= 1");
    if (!(lohi[0] <= lohi[1])) {
      throw InputError("--budget-range", "LO = " + parts[0] + " must be <= HI = " + parts[1]);
    }
    for (int i = 0; i < n[0]; ++i) {
      b.push_back(n[0] == 1 ? lohi[1] : lohi[0] + (lohi[1] - lohi[0]) * i / (n[0] - 1));
    }
  }
  for (double& v : b) {
    if (!(std::isfinite(v) && v > 0)) {
      throw InputError(std::isnan(a.budget) ? "--budget-range" : "--budget",
                       "budget " + FormatDouble(v) + ": must be a positive number");
    }
    if (a.relative) v *= full_cost;
  }
  return b;
}

int Run(ThresholdsArgs& a) {
  // Option checks before any file is read (STYLE.md 2).
  const Method method = MethodFromString(a.method);
  const Target target = TargetFromString(a.correct, "--correct");
  if (std::isnan(a.budget) == a.budget_range.empty() && std::isnan(a.solver.accuracy_drop)) {
    throw InputError("--budget", "give exactly one of --budget B or --budget-range LO:HI:N "
                                 "(or --accuracy-drop)");
  }
  if (!a.box.empty()) {
    const auto colon = a.box.find(':');
    if (colon == std::string::npos) throw InputError("--box", "expected LO:HI, got '" + a.box + "'");
    const auto v = ParseDoubleList(a.box.substr(0, colon) + "," + a.box.substr(colon + 1), "--box");
    a.solver.box_lo = v[0];
    a.solver.box_hi = v[1];
  }
  if (!a.initial.empty()) {
    a.solver.ippp.warm_start = false;
    a.solver.ippp.initial = ParseDoubleList(a.initial, "--initial");
  }
  if (!a.horizon.empty()) {
    if (a.horizon == "inf") {
      a.solver.guarantee.horizon = std::numeric_limits<double>::infinity();
    } else {
      const std::vector<double> h = ParseDoubleList(a.horizon, "--horizon");
      if (h.size() != 1) throw InputError("--horizon", "expected one number or inf, got '" + a.horizon + "'");
      a.solver.guarantee.horizon = h[0];
    }
  }
  a.solver.guarantee.bound = GuaranteeBoundFromString(a.guarantee_bound, "--guarantee-bound");
  if (a.ippp_settings == "paper") {
    // Tan et al. (AAAI 2021): their steepness and penalty are the defaults already; the paper
    // setting also keeps iPPP's raw answers (no feasibility step), which may exceed the budget.
    a.solver.feasibility_rounds = 0;
  } else if (a.ippp_settings != "default") {
    throw InputError("--ippp-settings", "expected default or paper, got '" + a.ippp_settings + "'");
  }
  if (!a.horizon.empty() && !a.solver.guarantee.on()) {
    throw InputError("--horizon", "only meaningful with --guarantee");
  }
  a.solver.exact.start_ippp = !a.no_ippp_start;
  a.solver.exact.start_heuristics = !a.no_heuristic_starts;
  if (const std::string err = a.solver.Validate(); !err.empty()) {
    throw InputError("option", err.substr(0, err.find('\n')));
  }
  const Dump dump = a.dump.Load();
  const CostProfile profile = a.profile.Load(dump);
  const Measure measure = a.measure.empty()
                              ? (dump.fit.has_logits() ? Measure::kMaxProb : Measure::kConfidence)
                              : MeasureFromString(a.measure);
  const std::vector<int> kept = a.exits.empty() ? AllExits(dump.k) : ParseKeptExits(a.exits, dump.k);
  std::vector<double> budgets = std::isnan(a.solver.accuracy_drop) || !std::isnan(a.budget) ||
                                        !a.budget_range.empty()
                                    ? std::vector<double>{}
                                    : std::vector<double>{profile.FullCost()};
  if (budgets.empty()) budgets = Budgets(a, profile.FullCost());
  std::string model = a.model;
  if (model.empty()) model = std::filesystem::path(a.dump.dump).lexically_normal().filename().string();
  if (model.empty()) model = std::filesystem::path(a.dump.dump).lexically_normal().parent_path().filename().string();
  // The guarantee's default horizon: as many deployed samples as the eval split holds (its
  // violation is then what the eval split measures), or the population mean without one.
  if (a.solver.guarantee.on() && a.horizon.empty()) {
    a.solver.guarantee.horizon =
        dump.eval ? static_cast<double>(dump.eval->n) : std::numeric_limits<double>::infinity();
  }
  std::vector<ResultRow> rows;
  int failed = 0, shift_fired = 0;
  const ThresholdProblem base = ThresholdProblem::From(dump.fit, measure, target, profile, kept, 0.0);
  const std::vector<ThresholdSummary> solved = SolveBudgets(method, base, budgets, a.solver);
  for (std::size_t bi = 0; bi < budgets.size(); ++bi) {
    const double b = budgets[bi];
    const ThresholdSummary& s = solved[bi];
    if (a.verbose) std::cerr << s.FullReport();
    ResultRow r;
    r.model = model;
    r.target = profile.target;
    r.unit = profile.unit;
    r.method = s.method;
    r.measure = ToString(measure);
    r.kept_exits = kept;
    r.budget = std::isnan(a.solver.accuracy_drop) ? b : kNaN;
    r.seconds = s.seconds;
    r.outcome = ToString(s.outcome);
    r.message = s.message;
    if (s.ok()) {
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
        r.message += "; shift check p = " + FormatDouble(sh.p_value) +
                     (sh.shifted ? " (shifted)" : "");
        if (sh.shifted && shift_fired++ == 0) std::cerr << "exitplan: " << sh.Warning() << "\n";
      }
    } else {
      ++failed;
      std::cerr << "exitplan: " << s.method << ": " << s.message << "\n";
    }
    rows.push_back(r);
  }
  if (shift_fired > 1) {
    std::cerr << "exitplan: the shift check fired at " << shift_fired << " of " << rows.size()
              << " budgets\n";
  }
  MarkPareto(rows);
  const std::string csv = ResultsToCsv(rows);
  if (a.out.empty()) {
    std::fwrite(csv.data(), 1, csv.size(), stdout);
  } else {
    WriteFileAtomic(a.out, csv);
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
  a->dump.Add(*app);
  a->profile.Add(*app);
  app->add_option("--method", a->method,
                  "geometric (MSDNet baseline, p solved exactly, cascade quotas), "
                  "geometric-quantile (seed 004 code's per-exit quantiles on a 1% grid of p), "
                  "single (one shared threshold), ippp (seed 004 Algorithm 1), ippp-nlopt "
                  "(smoothed P2 with NLopt), exact (our step-function solver)")
      ->required();
  app->add_option("--measure", a->measure,
                  "confidence measure: max_prob, entropy, margin, patience, vote (logits) or "
                  "confidence (scores mode); default max_prob, or confidence for scores dumps");
  app->add_option("--correct", a->correct, "correctness target: labels or agreement (with exit K)")
      ->capture_default_str();
  app->add_option("--exits", a->exits, "kept exits, 1-based (default: all; the final is added)");
  app->add_option("--budget", a->budget, "mean cost budget per sample (profile unit; see --relative)");
  app->add_option("--budget-range", a->budget_range,
                  "LO:HI:N: N budgets evenly spaced from LO to HI inclusive");
  app->add_flag("--relative", a->relative,
                "budgets are fractions of the full cost (every exit kept, running to exit K)");
  app->add_option("--out", a->out, "CSV file to write (default: stdout)");
  app->add_option("--model", a->model, "model name for the CSV (default: the dump folder name)");
  app->add_option("--box", a->box,
                  "LO:HI range of the measure (thresholds are projected onto it by iPPP); default "
                  "[0,1] if all scores lie in it, else [-1,0] likewise, else the data's range");
  app->add_option("--budget-margin", a->solver.budget_margin,
                  "confidence level (e.g. 0.95) of a bootstrap upper bound on the fit "
                  "distribution's mean cost; the fit budget is tightened by (UCB - mean). It "
                  "bounds the true mean, not the mean of a fresh sample (which varies about "
                  "sqrt(2) times more for an eval split of the fit split's size), and comes with "
                  "no finite-sample guarantee: use --guarantee for one; 0 = off")
      ->capture_default_str();
  app->add_option("--guarantee", a->solver.guarantee.level,
                  "1 - delta (e.g. 0.95): with this probability over the fit split and the next "
                  "--horizon deployed samples (i.i.d.), their mean cost is <= the budget (with "
                  "--accuracy-drop: their accuracy >= their final-exit accuracy - the drop); "
                  "0 = off. See docs/guarantees.md")
      ->capture_default_str();
  app->add_option("--horizon", a->horizon,
                  "--guarantee: number of deployed samples M the mean is taken over, or inf for "
                  "the population mean (default: the eval split's size, inf without one)");
  app->add_option("--guarantee-bound", a->guarantee_bound,
                  "--guarantee: test on the calibration part, wsr (Waudby-Smith & Ramdas betting) "
                  "or hoeffding-bentkus")
      ->capture_default_str();
  app->add_option("--search-fraction", a->solver.guarantee.search_fraction,
                  "--guarantee: share of the fit split the method searches on (the rest "
                  "calibrates; split at random with --seed)")
      ->capture_default_str();
  app->add_option("--ippp-settings", a->ippp_settings,
                  "default (a feasibility step re-solves any method's answer that exceeds the "
                  "budget on the fit split) or paper (Tan et al., AAAI 2021: iPPP's raw answers)")
      ->capture_default_str();
  app->add_option("--margin-resamples", a->solver.margin_resamples, "bootstrap resamples")
      ->capture_default_str();
  app->add_option("--accuracy-drop", a->solver.accuracy_drop,
                  "accuracy-target mode: minimise mean cost subject to fit accuracy >= final-exit "
                  "accuracy - this tolerance (a fraction, e.g. 0.005); budgets are then ignored");
  app->add_option("--seed", a->solver.seed, "master seed (bootstrap, the guarantee's search/calibration split)")->capture_default_str();
  app->add_flag("--verbose", a->verbose, "print each solve's full report to stderr");
  // iPPP (seed 004) options, defaults as in the paper.
  app->add_option("--steepness", a->solver.ippp.steepness, "ippp: sigmoid slope k")
      ->capture_default_str();
  app->add_option("--beta", a->solver.ippp.beta,
                  "ippp: penalty weight in raw cost units (default: beta-scale / (d_K - d_1)^2)");
  app->add_option("--beta-scale", a->solver.ippp.beta_scale,
                  "ippp: automatic beta = beta-scale / cost span^2")
      ->capture_default_str();
  app->add_option("--gamma", a->solver.ippp.gamma, "ippp: proximal weight")->capture_default_str();
  app->add_option("--outer-iters", a->solver.ippp.outer_iters, "ippp: outer iterations T")
      ->capture_default_str();
  app->add_option("--inner-iters", a->solver.ippp.inner_iters, "ippp: inner iterations J")
      ->capture_default_str();
  app->add_option("--eta", a->solver.ippp.eta, "ippp: smoothness (step 1/eta)")->capture_default_str();
  app->add_option("--mu", a->solver.ippp.mu, "ippp: strong convexity (momentum (eta-mu)/(eta+mu))")
      ->capture_default_str();
  app->add_option("--ippp-precision", a->solver.ippp.precision,
                  "ippp: arithmetic of the iteration, single (float, ~2x faster) or double")
      ->capture_default_str();
  app->add_option("--initial", a->initial,
                  "ippp/ippp-nlopt: start from these thresholds instead of the warm start");
  app->add_option("--nlopt-algorithm", a->solver.ippp.nlopt_algorithm,
                  "ippp-nlopt: slsqp, mma or auglag-lbfgs")
      ->capture_default_str();
  app->add_option("--lambda-iters", a->solver.exact.lambda_iters, "exact: bisection steps on lambda")
      ->capture_default_str();
  app->add_option("--max-sweeps", a->solver.exact.max_sweeps, "exact: coordinate sweeps per start")
      ->capture_default_str();
  app->add_flag("--no-ippp-start", a->no_ippp_start, "exact: do not start from iPPP's answer");
  app->add_flag("--no-heuristic-starts", a->no_heuristic_starts,
                "exact: do not start from geometric, geometric-quantile and single");
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
