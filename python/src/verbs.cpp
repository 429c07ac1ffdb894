// The CLI's verbs over in-memory dumps and profiles: the same option names (`--foo-bar` is the
// kwarg `foo_bar`), defaults, checks and messages as the subcommands in cli/, and the same rows.
// Solves run without the GIL, so Python threads can run them side by side.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>

#include "common.hpp"
#include "dse/exhaustive.hpp"
#include "dse/flop_score.hpp"
#include "dse/greedy.hpp"
#include "dse/place_run.hpp"
#include "dse/placement.hpp"
#include "dse/sweep.hpp"
#include "optim/calibration.hpp"
#include "optim/eenet.hpp"
#include "optim/eenet_compare.hpp"
#include "optim/solve.hpp"
#include "profiles/budget.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/stats.hpp"

namespace exitplan::python {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string ValueText(py::handle v, const std::string& name) {
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>() ? "true" : "false";
  if (py::isinstance<py::int_>(v)) return std::to_string(v.cast<long long>());
  if (py::isinstance<py::float_>(v)) return FormatDouble(v.cast<double>());
  if (py::isinstance<py::str>(v)) return v.cast<std::string>();
  if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v) ||
      py::hasattr(v, "__array__")) {
    std::string out;
    for (py::handle item : v) out += (out.empty() ? "" : ",") + ValueText(item, name);
    return out;
  }
  if (py::hasattr(v, "__float__")) return FormatDouble(v.cast<double>());  // numpy scalars
  throw InputError(CliName(name), "expected a number, text or a list, found " +
                                      std::string(py::str(py::type::of(v).attr("__name__"))));
}

}  // namespace

std::string CliName(const std::string& kwarg) {
  std::string s = "--" + kwarg;
  std::replace(s.begin(), s.end(), '_', '-');
  return s;
}

Options::Options(const py::kwargs& kwargs, std::string verb) : verb_(std::move(verb)) {
  for (auto kv : kwargs) {
    items_.emplace_back(kv.first.cast<std::string>(), py::reinterpret_borrow<py::object>(kv.second));
  }
}

bool Options::Has(const std::string& name) const {
  for (const auto& [k, v] : items_) {
    if (k == name && !v.is_none()) return true;
  }
  return false;
}

py::object Options::Take(const std::string& name) {
  used_.push_back(name);
  for (const auto& [k, v] : items_) {
    if (k == name) return v;
  }
  return py::none();
}

std::string Options::Text(const std::string& name, const std::string& fallback) {
  const py::object v = Take(name);
  return v.is_none() ? fallback : ValueText(v, name);
}

double Options::Number(const std::string& name, double fallback) {
  const py::object v = Take(name);
  if (v.is_none()) return fallback;
  if (py::isinstance<py::str>(v)) {
    const std::vector<double> d = ParseDoubleList(v.cast<std::string>(), CliName(name));
    if (d.size() != 1) throw InputError(CliName(name), "expected one number, got '" + v.cast<std::string>() + "'");
    return d[0];
  }
  if (py::isinstance<py::bool_>(v) || !py::hasattr(v, "__float__")) {
    throw InputError(CliName(name), "expected a number, found " +
                                        std::string(py::str(py::type::of(v).attr("__name__"))));
  }
  return v.cast<double>();
}

int Options::Int(const std::string& name, int fallback) {
  const double d = Number(name, fallback);
  if (d != std::floor(d) || std::fabs(d) > 2e9) {
    throw InputError(CliName(name), "expected an integer, got " + FormatDouble(d));
  }
  return static_cast<int>(d);
}

unsigned Options::Unsigned(const std::string& name, unsigned fallback) {
  const double d = Number(name, fallback);
  if (d != std::floor(d) || d < 0 || d > 4e9) {
    throw InputError(CliName(name), "expected a non-negative integer, got " + FormatDouble(d));
  }
  return static_cast<unsigned>(d);
}

bool Options::Flag(const std::string& name, bool fallback) {
  const py::object v = Take(name);
  if (v.is_none()) return fallback;
  if (!py::isinstance<py::bool_>(v)) {
    throw InputError(CliName(name), "expected True or False, found " + ValueText(v, name));
  }
  return v.cast<bool>();
}

void Options::Finish() const {
  for (const auto& [k, v] : items_) {
    if (std::find(used_.begin(), used_.end(), k) != used_.end()) continue;
    std::vector<std::string> names = used_;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    throw InputError("exitplan." + verb_, "unknown option '" + k + "' (expected one of: " + list + ")");
  }
}

std::string Options::CallText() const {
  std::string s = "exitplan." + verb_ + "(";
  bool first = true;
  for (const auto& [k, v] : items_) {
    s += (first ? "" : ", ") + k + "=" + std::string(py::repr(v));
    first = false;
  }
  return s + ")";
}

// ---------------------------------------------------------------------------------------------
// Budgets: profiles/budget.hpp's grammar, as every command reads it.

std::vector<double> ParseBudgetGrammar(const std::string& text, const CostProfile& profile,
                                       bool relative, const std::string& what) {
  std::vector<Budget> budgets = ParseBudgets(text, what);
  // --relative (thresholds): bare numbers are fractions of the full cost.
  if (relative) {
    for (Budget& b : budgets) {
      if (!b.relative && b.unit.empty()) b.relative = true;
    }
  }
  return ResolveBudgets(budgets, profile);
}

namespace {

void CheckProfile(const PyDump& d, const CostProfile& p) {
  CheckProfileMatches(p, d.dump.k, d.dump.fit.source);
}

// ---------------------------------------------------------------------------------------------
// evaluate

py::list EvaluateVerb(const std::shared_ptr<PyDump>& d, const CostProfile& profile, py::kwargs kw) {
  Options o(kw, "evaluate");
  const Measure measure = MeasureFromString(o.Text("measure", "max_prob"));
  const Target target = TargetFromString(o.Text("correct", "labels"), "--correct");
  const std::string thresholds = o.Text("thresholds");
  const std::string exits = o.Text("exits");
  const std::string scorer_path = o.Text("scorer");
  o.Finish();
  if (scorer_path.empty() && thresholds.empty()) {
    throw InputError("--thresholds", "required (unless --scorer gives them)");
  }
  std::optional<ScorerFile> scorer;
  if (!scorer_path.empty()) scorer = LoadScorer(scorer_path);
  const Dump& dump = d->dump;
  CheckProfile(*d, profile);
  Policy policy;
  if (scorer) {
    if (const std::string err = scorer->scorer.CheckSplit(dump.fit); !err.empty()) {
      throw InputError(scorer_path, err);
    }
    policy = scorer->policy;
    if (!exits.empty() && ParseKeptExits(exits, dump.k) != policy.kept) {
      throw InputError("--exits", "a scorer's kept exits are fixed by its file (" + scorer_path + ")");
    }
  } else {
    policy.kept = exits.empty() ? AllExits(dump.k) : ParseKeptExits(exits, dump.k);
  }
  if (!thresholds.empty()) policy.thresholds = ParseDoubleList(thresholds, "--thresholds");
  if (policy.thresholds.size() == policy.kept.size()) policy.thresholds.pop_back();
  if (const std::string err = CheckPolicy(policy, dump.k); !err.empty()) {
    throw InputError("--thresholds", err + " for kept exits " + exits);
  }
  std::vector<std::pair<std::string, Evaluation>> out;
  {
    py::gil_scoped_release release;
    std::vector<const SplitData*> splits = {&dump.fit};
    if (dump.eval) splits.push_back(&*dump.eval);
    for (const SplitData* s : splits) {
      const Evaluation ev =
          scorer ? Evaluate(scorer->scorer.Score(*s), ScoreOrder::kDescending, s->Correct(target),
                            profile.StopCosts(policy.kept), policy)
                 : EvaluateSplit(*s, measure, target, profile, policy);
      out.emplace_back(s->name, ev);
    }
  }
  py::list rows;
  for (const auto& [name, ev] : out) {
    py::dict r;
    r["split"] = name;
    r["accuracy"] = ev.accuracy;
    r["mean_cost"] = ev.mean_cost;
    r["exit_fractions"] = ev.exit_fraction;
    r["exit_accuracy"] = ev.exit_accuracy;
    r["exit_counts"] = ev.exit_count;
    r["n"] = ev.n;
    rows.append(r);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// thresholds

std::vector<PyResult> ThresholdsVerb(const std::shared_ptr<PyDump>& d, const CostProfile& profile,
                                     py::kwargs kw) {
  Options o(kw, "thresholds");
  const std::string call = o.CallText();
  if (!o.Has("method")) throw InputError("--method", "required");
  const Method method = MethodFromString(o.Text("method"));
  const std::string measure_text = o.Text("measure");
  const Target target = TargetFromString(o.Text("correct", "labels"), "--correct");
  const bool has_budget = o.Has("budget");
  const std::string budget_text = o.Text("budget");
  const std::string budget_range = o.Text("budget_range");
  const bool relative = o.Flag("relative");
  const std::string out = o.Text("out");
  const std::string model_opt = o.Text("model");
  const std::string box = o.Text("box");
  const bool verbose = o.Flag("verbose");
  SolverOptions solver;
  solver.budget_margin = o.Number("budget_margin", solver.budget_margin);
  solver.margin_resamples = o.Int("margin_resamples", solver.margin_resamples);
  solver.accuracy_drop = o.Number("accuracy_drop", solver.accuracy_drop);
  solver.seed = o.Unsigned("seed", solver.seed);
  IpppOptions& ip = solver.ippp;
  ip.steepness = o.Number("steepness", ip.steepness);
  ip.beta = o.Number("beta", ip.beta);
  ip.beta_scale = o.Number("beta_scale", ip.beta_scale);
  ip.gamma = o.Number("gamma", ip.gamma);
  ip.outer_iters = o.Int("outer_iters", ip.outer_iters);
  ip.inner_iters = o.Int("inner_iters", ip.inner_iters);
  ip.eta = o.Number("eta", ip.eta);
  ip.mu = o.Number("mu", ip.mu);
  ip.precision = o.Text("ippp_precision", ip.precision);
  const std::string initial = o.Text("initial");
  ip.nlopt_algorithm = o.Text("nlopt_algorithm", ip.nlopt_algorithm);
  solver.exact.lambda_iters = o.Int("lambda_iters", solver.exact.lambda_iters);
  solver.exact.max_sweeps = o.Int("max_sweeps", solver.exact.max_sweeps);
  const bool no_ippp_start = o.Flag("no_ippp_start");
  const bool no_heuristic_starts = o.Flag("no_heuristic_starts");
  const std::string exits_text = o.Text("exits");
  o.Finish();
  if (has_budget == !budget_range.empty() && std::isnan(solver.accuracy_drop)) {
    throw InputError("--budget", "give exactly one of --budget B or --budget-range LO:HI:N "
                                 "(or --accuracy-drop)");
  }
  if (!box.empty()) {
    const auto colon = box.find(':');
    if (colon == std::string::npos) throw InputError("--box", "expected LO:HI, got '" + box + "'");
    const auto v = ParseDoubleList(box.substr(0, colon) + "," + box.substr(colon + 1), "--box");
    solver.box_lo = v[0];
    solver.box_hi = v[1];
  }
  if (!initial.empty()) {
    solver.ippp.warm_start = false;
    solver.ippp.initial = ParseDoubleList(initial, "--initial");
  }
  solver.exact.start_ippp = !no_ippp_start;
  solver.exact.start_heuristics = !no_heuristic_starts;
  if (const std::string err = solver.Validate(); !err.empty()) {
    throw InputError("option", err.substr(0, err.find('\n')));
  }
  const Dump& dump = d->dump;
  CheckProfile(*d, profile);
  const Measure measure = measure_text.empty()
                              ? (dump.fit.has_logits() ? Measure::kMaxProb : Measure::kConfidence)
                              : MeasureFromString(measure_text);
  const std::vector<int> kept =
      exits_text.empty() ? AllExits(dump.k) : ParseKeptExits(exits_text, dump.k);
  std::vector<double> budgets;
  if (has_budget) {
    budgets = ParseBudgetGrammar(budget_text, profile, relative, "--budget");
  } else if (!budget_range.empty()) {
    if (std::count(budget_range.begin(), budget_range.end(), ':') != 2) {
      throw InputError("--budget-range", "expected LO:HI:N, got '" + budget_range + "'");
    }
    budgets = ParseBudgetGrammar(budget_range, profile, relative, "--budget-range");
  } else {
    budgets = {profile.FullCost()};
  }
  const std::string model = model_opt.empty() ? d->name : model_opt;
  std::vector<ResultRow> rows;
  std::string reports;
  {
    py::gil_scoped_release release;
    for (double b : budgets) {
      const ThresholdProblem p = ThresholdProblem::From(dump.fit, measure, target, profile, kept, b);
      const ThresholdSummary s = Solve(method, p, solver);
      if (verbose) reports += s.FullReport();
      ResultRow r;
      r.model = model;
      r.target = profile.target;
      r.unit = profile.unit;
      r.method = s.method;
      r.measure = ToString(measure);
      r.kept_exits = kept;
      r.budget = std::isnan(solver.accuracy_drop) ? b : kNaN;
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
        }
      }
      rows.push_back(r);
    }
    MarkPareto(rows);
  }
  if (verbose) py::module_::import("sys").attr("stderr").attr("write")(reports);
  if (!out.empty()) WriteFileAtomic(out, ResultsToCsv(rows));
  return ResultsOf(rows, *d, profile, call);
}

// ---------------------------------------------------------------------------------------------
// place

std::vector<PyResult> PlaceVerb(const std::shared_ptr<PyDump>& d, const CostProfile& prof,
                                py::kwargs kw) {
  Options opt(kw, "place");
  const std::string call = opt.CallText();
  PlaceRunOptions o;
  const std::string methods_text = opt.Text("method", "flop-score");
  const std::string measure_text = opt.Text("measure", "max_prob");
  const std::string correct_text = opt.Text("correct", "labels");
  const std::string ca_text = opt.Text("ca", "agreement");
  const std::string solver_text = opt.Text("solver", "exact");
  const std::string budgets_text = opt.Text("budget");
  const std::string budget_unit = opt.Text("budget_unit", "relative");
  o.tolerance = opt.Number("tolerance", o.tolerance);
  o.th = opt.Number("th", o.th);
  o.threads = opt.Int("threads", o.threads);
  o.even = opt.Int("even", o.even);
  o.compare = opt.Flag("compare");
  o.all_rows = opt.Flag("all_rows");
  o.exact_path = !opt.Flag("no_path");
  o.polish = opt.Int("polish", o.polish);
  o.max_candidates = opt.Int("max_candidates", o.max_candidates);
  const std::string out = opt.Text("out");
  o.verbose = opt.Flag("verbose");
  opt.Finish();
  {
    std::stringstream ss(methods_text);
    std::string item;
    while (std::getline(ss, item, ',')) o.methods.push_back(PlacementMethodFromString(item));
    if (o.methods.empty()) throw InputError("--method", "no method given");
  }
  const Measure measure = MeasureFromString(measure_text);
  const Target target = TargetFromString(correct_text, "--correct");
  const Target ca_target = TargetFromString(ca_text, "--ca");
  o.solver = MethodFromString(solver_text, "--solver");
  if (budget_unit != "relative" && budget_unit != "absolute") {
    throw InputError("--budget-unit", "unknown unit '" + budget_unit +
                                          "' (expected relative or absolute)");
  }
  if (!(o.tolerance > 0.0 && o.tolerance < 1.0)) {
    throw InputError("--tolerance", "tolerance = " + FormatDouble(o.tolerance) +
                                        ": must be in (0, 1) (a fraction of accuracy)");
  }
  if (!(o.th >= 0.0 && o.th <= 1.0)) {
    throw InputError("--th", "TH = " + FormatDouble(o.th) + ": must be in [0, 1]");
  }
  if (o.threads < 1) throw InputError("--threads", "must be >= 1");
  if (o.even < 0) throw InputError("--even", "must be >= 0");
  if (o.polish < 0) throw InputError("--polish", "must be >= 0");
  const Dump& dump = d->dump;
  CheckProfile(*d, prof);
  o.budgets = budgets_text.empty()
                  ? std::vector<double>{}
                  : ParseBudgetGrammar(budgets_text, prof, budget_unit == "relative", "--budget");
  const bool needs_budget = std::any_of(o.methods.begin(), o.methods.end(), [](PlacementMethod m) {
    return m == PlacementMethod::kGreedyForward || m == PlacementMethod::kGreedyBackward;
  });
  if (needs_budget && o.budgets.empty()) {
    throw InputError("--budget", "greedy-forward and greedy-backward need at least one budget");
  }
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
  const bool has_exhaustive = std::find(o.methods.begin(), o.methods.end(),
                                        PlacementMethod::kExhaustive) != o.methods.end();
  if (o.budgets.empty() && has_exhaustive) o.budgets = DefaultPlaceBudgets(prof);
  o.model = d->name;
  o.measure = measure_text;
  PlaceRunResult res;
  {
    py::gil_scoped_release release;
    res = RunPlace(problem, o);
  }
  if (o.verbose) py::module_::import("sys").attr("stdout").attr("write")(res.text);
  if (!out.empty()) WriteFileAtomic(out, ResultsToCsv(res.rows));
  return ResultsOf(res.rows, *d, prof, call);
}

// ---------------------------------------------------------------------------------------------
// calibrate and inspect

py::dict SplitTable(const SplitData& s) {
  py::dict t;
  std::vector<int> exit;
  std::vector<double> acc, ece, agree;
  for (int j = 0; j < s.k; ++j) {
    exit.push_back(j + 1);
    double a = 0.0;
    for (int i = 0; i < s.n; ++i) a += s.correct(j, i);
    acc.push_back(a / s.n);
    if (s.has_logits()) {
      double g = 0.0;
      for (int i = 0; i < s.n; ++i) g += s.agrees_final(j, i);
      agree.push_back(g / s.n);
      ece.push_back(ExpectedCalibrationError(s.Scores(Measure::kMaxProb), s.correct, j));
    } else {
      agree.push_back(kNaN);
      ece.push_back(kNaN);
    }
  }
  t["exit"] = exit;
  t["accuracy"] = acc;
  t["ece"] = ece;
  t["agree_final"] = agree;
  for (int m = 0; m < kNumMeasures; ++m) {
    const Measure measure = static_cast<Measure>(m);
    if (!s.has(measure)) continue;
    const ScoreMatrix& sc = s.Scores(measure);
    std::vector<double> q10, q50, q90;
    for (int j = 0; j < s.k; ++j) {
      std::vector<double> row(s.n);
      for (int i = 0; i < s.n; ++i) row[i] = sc(j, i);
      q10.push_back(Quantile(row, 0.1));
      q50.push_back(Quantile(row, 0.5));
      q90.push_back(Quantile(row, 0.9));
    }
    const std::string name = ToString(measure);
    t[py::str(name + "_q10")] = q10;
    t[py::str(name + "_q50")] = q50;
    t[py::str(name + "_q90")] = q90;
  }
  return t;
}

struct PyCalibration {
  CalibrationSummary summary;
  std::map<std::string, std::vector<double>> ece_before, ece_after;  // per split name
  std::vector<std::string> splits;
  std::shared_ptr<PyDump> dump;  // the calibrated copy
};

PyCalibration CalibrateVerb(const std::shared_ptr<PyDump>& d, py::kwargs kw) {
  Options o(kw, "calibrate");
  CalibrationOptions co;
  const Target target = TargetFromString(o.Text("correct", "labels"), "--correct");
  co.use_agreement = target == Target::kAgreement;
  co.min_temperature = o.Number("min_temperature", co.min_temperature);
  co.max_temperature = o.Number("max_temperature", co.max_temperature);
  co.max_iterations = o.Int("max_iterations", co.max_iterations);
  co.gradient_tolerance = o.Number("gradient_tolerance", co.gradient_tolerance);
  o.Finish();
  if (const std::string err = co.Validate(); !err.empty()) throw InputError("calibrate options", err);
  PyCalibration c;
  auto copy = std::make_shared<PyDump>(*d);
  {
    py::gil_scoped_release release;
    c.summary = FitTemperatures(d->dump.fit, co);
    std::vector<SplitData*> splits = {&copy->dump.fit};
    if (copy->dump.eval) splits.push_back(&*copy->dump.eval);
    for (SplitData* s : splits) {
      c.splits.push_back(s->name);
      for (int j = 0; j < s->k; ++j) {
        c.ece_before[s->name].push_back(
            ExpectedCalibrationError(s->Scores(Measure::kMaxProb), s->correct, j));
      }
      s->ComputeFeatures(c.summary.temperatures);
      for (int j = 0; j < s->k; ++j) {
        c.ece_after[s->name].push_back(
            ExpectedCalibrationError(s->Scores(Measure::kMaxProb), s->correct, j));
      }
    }
  }
  c.dump = copy;
  return c;
}

// ---------------------------------------------------------------------------------------------
// fit-scorer

struct PyScorerFit {
  EENetSummary summary;
  ScorerFile file;
  std::string threshold_method;
  double budget = 0;
  std::map<std::string, py::dict> figures;  // "eenet val", "max_prob + geometric test", ...
  std::string note;
  bool scorer_better = false;
};

PyScorerFit FitScorerVerb(const std::shared_ptr<PyDump>& d_in, const CostProfile& profile,
                          py::kwargs kw) {
  Options o(kw, "fit_scorer");
  const std::string call = o.CallText();
  EENetOptions e;
  const bool has_budget = o.Has("budget");
  const std::string budget_text = o.Text("budget");
  const double budget_fraction = o.Number("budget_fraction", kNaN);
  const std::string out = o.Text("out");
  const std::string thresholds = o.Text("thresholds", "algorithm1");
  e.budget_fit = BudgetFitFromString(o.Text("budget_fit", "best"));
  const Target target = TargetFromString(o.Text("correct", "labels"), "--correct");
  const bool calibrate = o.Flag("calibrate");
  o.Flag("verbose");
  e.hidden_ratio = o.Number("hidden_ratio", e.hidden_ratio);
  e.learning_rate = o.Number("learning_rate", e.learning_rate);
  e.alpha = o.Number("alpha", e.alpha);
  e.beta = o.Number("beta", e.beta);
  e.weight_decay = o.Number("weight_decay", e.weight_decay);
  e.batch_size = o.Int("batch_size", e.batch_size);
  e.max_epochs = o.Int("max_epochs", e.max_epochs);
  e.patience = o.Int("patience", e.patience);
  e.holdout_fraction = o.Number("holdout", e.holdout_fraction);
  e.seed = o.Unsigned("seed", e.seed);
  o.Finish();
  if (const std::string err = e.Validate(); !err.empty()) throw InputError("fit-scorer options", err);
  if (has_budget == !std::isnan(budget_fraction)) {
    throw InputError("--budget", "give exactly one of --budget (absolute, profile unit) and "
                                 "--budget-fraction (of the full cost)");
  }
  if (thresholds != "algorithm1" && thresholds != "best") MethodFromString(thresholds, "--thresholds");
  CheckProfile(*d_in, profile);
  if (!d_in->dump.fit.has_logits()) {
    throw InputError(d_in->dump.fit.source,
                     "fit-scorer needs per-exit logits, but this is a scores-mode dump");
  }
  double budget = 0;
  if (has_budget) {
    const std::vector<double> b = ParseBudgetGrammar(budget_text, profile, false, "--budget");
    if (b.size() != 1) throw InputError("--budget", "one budget per scorer, got " + budget_text);
    budget = b[0];
  } else {
    budget = budget_fraction * profile.FullCost();
    if (!(budget > 0) || !std::isfinite(budget)) {
      throw InputError("--budget", "must be finite and > 0, got " + FormatDouble(budget));
    }
  }
  PyScorerFit r;
  r.budget = budget;
  std::map<std::string, Evaluation> figs;
  {
    py::gil_scoped_release release;
    Dump dump = d_in->dump;  // calibration recomputes features on a copy
    if (calibrate) {
      CalibrationOptions co;
      co.use_agreement = target == Target::kAgreement;
      const CalibrationSummary cs = FitTemperatures(dump.fit, co);
      e.temperatures = cs.temperatures;
      dump.fit.ComputeFeatures(cs.temperatures);
      if (dump.eval) dump.eval->ComputeFeatures(cs.temperatures);
    }
    const std::vector<int> all = AllExits(dump.k);
    const std::vector<double> cost = profile.StopCosts(all);
    const CorrectMatrix& correct = dump.fit.Correct(target);
    r.summary = FitEENet(dump.fit, correct, cost, budget, e);
    if (r.summary.ok()) {
      const EENetSummary& s = r.summary;
      ScoreMatrix fit_q = s.scorer.Score(dump.fit);
      std::string method = "algorithm1";
      Policy policy = s.policy;
      Evaluation fit = s.fit;
      std::vector<std::string> candidates;
      if (thresholds == "best") candidates = {"exact", "ippp"};
      else if (thresholds != "algorithm1") candidates = {thresholds};
      const bool must_replace = thresholds != "algorithm1" && thresholds != "best";
      for (const std::string& m : candidates) {
        ThresholdProblem p;
        p.scores = &fit_q;
        p.correct = &correct;
        p.kept = all;
        p.stop_cost = cost;
        p.budget = budget;
        const ThresholdSummary ts = Solve(MethodFromString(m), p);
        if (!ts.ok()) continue;
        const Evaluation ev = p.Evaluate(ts.policy);
        const bool better = ev.mean_cost <= budget * (1 + 1e-9) &&
                            (must_replace || ev.accuracy > fit.accuracy ||
                             fit.mean_cost > budget * (1 + 1e-9));
        if (better) {
          method = m;
          policy = ts.policy;
          fit = ev;
        }
      }
      r.threshold_method = method;
      figs["eenet " + dump.fit.name] = fit;
      const ScoreMatrix& mp = dump.fit.Scores(Measure::kMaxProb);
      Policy base;
      FitQuotasToBudget(mp, correct, cost, budget, GeometricDistribution(cost, budget),
                        BudgetFit::kRepair, &base);
      const Evaluation base_fit = Evaluate(mp, ScoreOrder::kDescending, correct, cost, base);
      figs["max_prob + geometric " + dump.fit.name] = base_fit;
      ThresholdProblem mpp;
      mpp.scores = &mp;
      mpp.correct = &correct;
      mpp.kept = all;
      mpp.stop_cost = cost;
      mpp.budget = budget;
      const ThresholdSummary mp_exact = Solve(Method::kExact, mpp);
      Evaluation exact_fit;
      if (mp_exact.ok()) {
        exact_fit = mpp.Evaluate(mp_exact.policy);
        figs["max_prob + exact " + dump.fit.name] = exact_fit;
      }
      if (dump.eval) {
        const ScoreMatrix eval_q = s.scorer.Score(*dump.eval);
        const CorrectMatrix& ec = dump.eval->Correct(target);
        figs["eenet " + dump.eval->name] = Evaluate(eval_q, ScoreOrder::kDescending, ec, cost, policy);
        figs["max_prob + geometric " + dump.eval->name] =
            Evaluate(dump.eval->Scores(Measure::kMaxProb), ScoreOrder::kDescending, ec, cost, base);
        if (mp_exact.ok()) {
          figs["max_prob + exact " + dump.eval->name] = Evaluate(
              dump.eval->Scores(Measure::kMaxProb), ScoreOrder::kDescending, ec, cost, mp_exact.policy);
        }
      }
      const bool exact_better = mp_exact.ok() && exact_fit.mean_cost <= budget * (1 + 1e-9) &&
                                exact_fit.accuracy > base_fit.accuracy;
      const double best_base = exact_better ? exact_fit.accuracy : base_fit.accuracy;
      const std::string best_name = exact_better ? "max_prob + exact" : "max_prob + geometric";
      char buf[256];
      r.scorer_better = fit.accuracy > best_base;
      if (!r.scorer_better) {
        std::snprintf(buf, sizeof buf, "at this budget the scorer does not beat %s on the fit "
                      "split (%.4f vs %.4f); deploy that policy instead", best_name.c_str(),
                      fit.accuracy, best_base);
      } else {
        std::snprintf(buf, sizeof buf, "the scorer beats %s on the fit split (%.4f vs %.4f)",
                      best_name.c_str(), fit.accuracy, best_base);
      }
      r.note = buf;
      ScorerFile& f = r.file;
      f.scorer = s.scorer;
      f.policy = policy;
      f.threshold_method = method;
      f.budget = budget;
      f.unit = profile.unit;
      f.distribution = s.quota_distribution;
      f.fit_accuracy = fit.accuracy;
      f.fit_cost = fit.mean_cost;
      f.provenance = call + " | seed " + std::to_string(e.seed);
    }
  }
  for (const auto& [k, ev] : figs) {
    py::dict dd;
    dd["accuracy"] = ev.accuracy;
    dd["mean_cost"] = ev.mean_cost;
    dd["exit_fractions"] = ev.exit_fraction;
    r.figures[k] = dd;
  }
  if (!out.empty()) {
    if (!r.summary.ok()) {
      throw InputError("--out", "fit-scorer: " + r.summary.message + " (no scorer written)");
    }
    SaveScorer(out, r.file);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// sweep and export

SweepSummary SweepVerb(const std::string& file, py::kwargs kw) {
  Options o(kw, "sweep");
  SweepOptions so;
  so.jobs = o.Int("jobs", 0);
  internal::ParseShard(o.Text("shard", "1/1"), so.shard_index, so.shard_count);
  const std::string output = o.Text("output");
  so.force = o.Flag("force");
  o.Flag("quiet");
  so.progress = false;
  so.command_line = o.CallText();
  o.Finish();
  if (const std::string bad = so.Validate(); !bad.empty()) throw InputError("exitplan sweep", bad);
  SweepSpec spec = LoadSweepSpec(file);
  if (!output.empty()) spec.output = output;
  py::gil_scoped_release release;
  return RunSweep(spec, so);
}

PyPolicy ExportVerb(const std::string& from, py::kwargs kw) {
  Options o(kw, "export");
  const std::string call = o.CallText();
  const int row_arg = o.Int("row", 0);
  const bool has_budget = o.Has("budget");
  const double budget = o.Number("budget", kNaN);
  const std::string method = o.Text("method");
  const std::string measure = o.Text("measure");
  const std::string format = o.Text("format", "yaml");
  const std::string out = o.Text("out");
  const std::string profile = o.Text("profile");
  const std::string target = o.Text("target");
  const std::string score_order = o.Text("score_order");
  o.Finish();
  if (format != "yaml" && format != "json" && format != "both") {
    throw InputError("--format", "unknown format '" + format + "' (expected yaml, json or both)");
  }
  if (format == "both" && out.empty()) {
    throw InputError("--format both", "needs --out FILE (writes FILE.yaml and FILE.json)");
  }
  const bool by_row = row_arg != 0;
  const bool by_budget = has_budget || !method.empty();
  if (by_row == by_budget) throw InputError("exitplan export", "give either --row N or --budget B --method M");
  if (by_budget && (!has_budget || method.empty())) {
    throw InputError("exitplan export", "--budget and --method go together");
  }
  const std::vector<ResultRow> rows = ResultsFromCsv(ReadFile(from), from);
  int index = -1;
  if (by_row) {
    if (row_arg < 1 || row_arg > static_cast<int>(rows.size())) {
      throw InputError("--row", std::to_string(row_arg) + " is outside 1.." +
                                    std::to_string(rows.size()) + " (data rows of " + from + ")");
    }
    index = row_arg - 1;
  } else {
    double best_acc = -INFINITY, best_cost = INFINITY, lowest = INFINITY;
    bool method_seen = false;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const ResultRow& r = rows[i];
      if (r.method != method || (!measure.empty() && r.measure != measure)) continue;
      method_seen = true;
      if (!r.has_solution()) continue;
      lowest = std::min(lowest, r.fit_cost);
      if (r.fit_cost > budget * (1 + 1e-12)) continue;
      if (r.fit_acc > best_acc || (r.fit_acc == best_acc && r.fit_cost < best_cost)) {
        best_acc = r.fit_acc;
        best_cost = r.fit_cost;
        index = static_cast<int>(i);
      }
    }
    if (!method_seen) {
      throw InputError("--method", "no row of method '" + method +
                                       (measure.empty() ? "" : "' with measure '" + measure) +
                                       "' in " + from);
    }
    if (index < 0) {
      throw InputError("--budget", FormatDouble(budget) + " is below the fit cost of every " +
                                       "solved row of " + method + " in " + from + " (lowest " +
                                       FormatDouble(lowest) + ")");
    }
  }
  const ResultRow& row = rows[index];
  ConfigContext ctx;
  ctx.command_line = call;
  ctx.report = from;
  ctx.row = index + 1;
  if (!SweepReportContext(from, row, ctx)) {
    ctx.inputs = {std::filesystem::path(from).filename().string() + " " + Sha256File(from)};
  }
  if (!profile.empty()) ctx.exit_names = LoadProfile(profile, target).names;
  if (!score_order.empty()) ctx.score_order = ToString(ScoreOrderFromString(score_order));
  PyPolicy p;
  p.config = ConfigFromRow(row, ctx);
  p.extra_inputs = ctx.inputs;  // already hashed
  p.config.inputs.clear();
  if (!out.empty()) {
    if (format == "both") {
      WriteFileAtomic(out + ".yaml", p.TextYaml());
      WriteFileAtomic(out + ".json", p.TextJson());
    } else {
      WriteFileAtomic(out, format == "json" ? p.TextJson() : p.TextYaml());
    }
  }
  return p;
}

// The rows of a report CSV, each with its policy (exit names and score order from the sweep's
// manifest when there is one), as `exitplan export --row N` would build it.
std::vector<PyResult> ReadReport(const std::string& path) {
  std::vector<PyResult> out;
  const std::vector<ResultRow> rows = ResultsFromCsv(ReadFile(path), path);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    PyResult r;
    r.row = rows[i];
    if (r.row.has_solution() && r.row.measure != "eenet") {
      ConfigContext ctx;
      ctx.report = path;
      ctx.row = static_cast<int>(i) + 1;
      ctx.command_line = "exitplan.read_report(" + std::string(py::repr(py::str(path))) + ")";
      if (!SweepReportContext(path, r.row, ctx)) ctx.inputs.clear();
      try {
        PyPolicy p;
        p.config = ConfigFromRow(r.row, ctx);
        r.policy = p;
      } catch (const InputError&) {
        // a row whose thresholds do not fit its kept exits has no policy
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

void BindVerbs(py::module_& m) {
  m.def("evaluate", &EvaluateVerb, py::arg("dump"), py::arg("profile"),
        "`exitplan evaluate`: the exact evaluator's figures of one policy on every split");
  m.def("thresholds", &ThresholdsVerb, py::arg("dump"), py::arg("profile"),
        "`exitplan thresholds`: one Result per budget");
  m.def("place", &PlaceVerb, py::arg("dump"), py::arg("profile"),
        "`exitplan place`: exit placement rows (the CSV of --out)");
  m.def("split_table", &SplitTable);
  m.def("inspect_splits", [](const std::shared_ptr<PyDump>& d) {
    py::list out;
    out.append(py::make_tuple(d->dump.fit.name, SplitTable(d->dump.fit)));
    if (d->dump.eval) out.append(py::make_tuple(d->dump.eval->name, SplitTable(*d->dump.eval)));
    return out;
  });

  py::class_<PyCalibration>(m, "Calibration", "per-exit temperatures fitted on the fit split (NLL)")
      .def_property_readonly("outcome", [](const PyCalibration& c) { return ToString(c.summary.outcome); })
      .def_property_readonly("message", [](const PyCalibration& c) { return c.summary.message; })
      .def_property_readonly("temperatures", [](const PyCalibration& c) { return c.summary.temperatures; })
      .def_property_readonly("nll_before", [](const PyCalibration& c) { return c.summary.nll_before; })
      .def_property_readonly("nll_after", [](const PyCalibration& c) { return c.summary.nll_after; })
      .def_property_readonly("splits", [](const PyCalibration& c) { return c.splits; })
      .def_property_readonly("ece_before", [](const PyCalibration& c) { return c.ece_before; })
      .def_property_readonly("ece_after", [](const PyCalibration& c) { return c.ece_after; })
      .def_property_readonly("dump", [](const PyCalibration& c) { return c.dump; },
                             "a copy of the dump whose measures use the temperatures (logits "
                             "shared, not copied); its policies carry the temperatures")
      .def("__repr__", [](const PyCalibration& c) { return "<exitplan.Calibration " + c.summary.BriefReport() + ">"; });
  m.def("calibrate", &CalibrateVerb, py::arg("dump"),
        "per-exit temperature scaling (as `inspect --calibrate`)");

  py::class_<PyScorerFit>(m, "ScorerFit", "an EENet scorer trained for one budget")
      .def_property_readonly("outcome", [](const PyScorerFit& r) { return ToString(r.summary.outcome); })
      .def_property_readonly("message", [](const PyScorerFit& r) { return r.summary.message; })
      .def_property_readonly("ok", [](const PyScorerFit& r) { return r.summary.ok(); })
      .def_property_readonly("budget", [](const PyScorerFit& r) { return r.budget; })
      .def_property_readonly("epochs", [](const PyScorerFit& r) { return r.summary.epochs; })
      .def_property_readonly("threshold_method", [](const PyScorerFit& r) { return r.threshold_method; })
      .def_property_readonly("thresholds", [](const PyScorerFit& r) { return r.file.policy.thresholds; })
      .def_property_readonly("fit_acc", [](const PyScorerFit& r) { return r.file.fit_accuracy; })
      .def_property_readonly("fit_cost", [](const PyScorerFit& r) { return r.file.fit_cost; })
      .def_property_readonly("figures", [](const PyScorerFit& r) { return r.figures; },
                             "accuracy, mean cost and exit fractions of the scorer and of the "
                             "max-prob baselines, keyed 'eenet val', 'max_prob + exact test', ...")
      .def_property_readonly("note", [](const PyScorerFit& r) { return r.note; })
      .def_property_readonly("scorer_better", [](const PyScorerFit& r) { return r.scorer_better; })
      .def("save", [](const PyScorerFit& r, const std::string& path) {
             if (!r.summary.ok()) throw InputError(path, "no scorer to write: " + r.summary.message);
             SaveScorer(path, r.file);
           }, py::arg("path"), "writes the scorer YAML (as `fit-scorer --out`)")
      .def("__repr__", [](const PyScorerFit& r) { return "<exitplan.ScorerFit " + r.summary.BriefReport() + ">"; });
  m.def("fit_scorer", &FitScorerVerb, py::arg("dump"), py::arg("profile"),
        "`exitplan fit-scorer`: an EENet utility scorer and its thresholds for one budget");

  py::class_<SweepSummary>(m, "SweepSummary")
      .def_readonly("cells_total", &SweepSummary::cells_total)
      .def_readonly("cells_in_shard", &SweepSummary::cells_in_shard)
      .def_readonly("cells_run", &SweepSummary::cells_run)
      .def_readonly("cells_skipped", &SweepSummary::cells_skipped)
      .def_readonly("cells_failed", &SweepSummary::cells_failed)
      .def_readonly("complete", &SweepSummary::complete)
      .def_readonly("seconds", &SweepSummary::seconds)
      .def_readonly("errors", &SweepSummary::errors)
      .def_readonly("reports", &SweepSummary::reports)
      .def("__repr__", [](const SweepSummary& s) { return "<exitplan.SweepSummary " + s.BriefReport() + ">"; });
  m.def("sweep", &SweepVerb, py::arg("file"), "`exitplan sweep FILE.yaml`");
  m.def("export", &ExportVerb, py::arg("report"),
        "`exitplan export --from REPORT.csv`: the Policy of one report row");
  m.def("read_report", &ReadReport, py::arg("path"),
        "the rows of a Pareto report CSV as Results (with their policies)");
}

}  // namespace exitplan::python
