// The sweep's method registry: how one cell of each method is computed (threshold methods of
// optim/solve.hpp, the placement searches and rules of dse/, EENet), and the `options:` keys
// each method takes.
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "dse/exhaustive.hpp"
#include "dse/flop_score.hpp"
#include "dse/greedy.hpp"
#include "dse/internal/sweep_internal.hpp"
#include "dse/placement.hpp"
#include "dse/sweep.hpp"
#include "optim/eenet.hpp"
#include "optim/solve.hpp"
#include "profiles/error.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/io.hpp"
#include "profiles/profile.hpp"

namespace exitplan {
namespace {

// ---------------------------------------------------------------------------------------------
// The method registry: name -> how one cell is computed.

std::mutex& RegistryMutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, SweepMethodFn>& Registry();

double OptionDouble(const std::string& key, const std::string& value) {
  const std::vector<double> v = ParseDoubleList(value, "option " + key);
  if (v.size() != 1) throw InputError("option " + key, "expected one number, found '" + value + "'");
  return v[0];
}

int OptionInt(const std::string& key, const std::string& value) {
  const double v = OptionDouble(key, value);
  if (v != std::floor(v) || std::fabs(v) > 2e9) {
    throw InputError("option " + key, "expected an integer, found '" + value + "'");
  }
  return static_cast<int>(v);
}
bool OptionBool(const std::string& key, const std::string& value) {
  if (value == "true" || value == "yes") return true;
  if (value == "false" || value == "no") return false;
  throw InputError("option " + key, "expected true or false, found '" + value + "'");
}

// The `options:` keys of threshold methods, one line each: key -> the SolverOptions field
// (optim/solve.hpp and the method headers document units and ranges).
using Setter = void (*)(SolverOptions&, const std::string&, const std::string&);
const std::map<std::string, Setter>& ThresholdOptionTable() {
  static const std::map<std::string, Setter> table = {
      {"seed", [](SolverOptions& o, const std::string& k, const std::string& v) {
         const int s = OptionInt(k, v);
         if (s < 0) throw InputError("option seed", "must be >= 0");
         o.seed = static_cast<unsigned>(s);
       }},
      {"box_lo", [](SolverOptions& o, const std::string& k, const std::string& v) { o.box_lo = OptionDouble(k, v); }},
      {"box_hi", [](SolverOptions& o, const std::string& k, const std::string& v) { o.box_hi = OptionDouble(k, v); }},
      {"budget_margin", [](SolverOptions& o, const std::string& k, const std::string& v) { o.budget_margin = OptionDouble(k, v); }},
      {"margin_resamples", [](SolverOptions& o, const std::string& k, const std::string& v) { o.margin_resamples = OptionInt(k, v); }},
      {"margin_rounds", [](SolverOptions& o, const std::string& k, const std::string& v) { o.margin_rounds = OptionInt(k, v); }},
      {"accuracy_drop", [](SolverOptions& o, const std::string& k, const std::string& v) { o.accuracy_drop = OptionDouble(k, v); }},
      {"target_iters", [](SolverOptions& o, const std::string& k, const std::string& v) { o.target_iters = OptionInt(k, v); }},
      {"quantile_p_step", [](SolverOptions& o, const std::string& k, const std::string& v) { o.geometric.quantile_p_step = OptionDouble(k, v); }},
      {"steepness", [](SolverOptions& o, const std::string& k, const std::string& v) { o.ippp.steepness = OptionDouble(k, v); }},
      {"beta", [](SolverOptions& o, const std::string& k, const std::string& v) { o.ippp.beta = OptionDouble(k, v); }},
      {"beta_scale", [](SolverOptions& o, const std::string& k, const std::string& v) { o.ippp.beta_scale = OptionDouble(k, v); }},
      {"gamma", [](SolverOptions& o, const std::string& k, const std::string& v) { o.ippp.gamma = OptionDouble(k, v); }},
      {"outer_iters", [](SolverOptions& o, const std::string& k, const std::string& v) { o.ippp.outer_iters = OptionInt(k, v); }},
      {"inner_iters", [](SolverOptions& o, const std::string& k, const std::string& v) { o.ippp.inner_iters = OptionInt(k, v); }},
      {"eta", [](SolverOptions& o, const std::string& k, const std::string& v) { o.ippp.eta = OptionDouble(k, v); }},
      {"mu", [](SolverOptions& o, const std::string& k, const std::string& v) { o.ippp.mu = OptionDouble(k, v); }},
      {"warm_start", [](SolverOptions& o, const std::string& k, const std::string& v) { o.ippp.warm_start = OptionBool(k, v); }},
      {"precision", [](SolverOptions& o, const std::string&, const std::string& v) { o.ippp.precision = v; }},
      {"nlopt_algorithm", [](SolverOptions& o, const std::string&, const std::string& v) { o.ippp.nlopt_algorithm = v; }},
      {"nlopt_xtol", [](SolverOptions& o, const std::string& k, const std::string& v) { o.ippp.nlopt_xtol = OptionDouble(k, v); }},
      {"nlopt_max_evals", [](SolverOptions& o, const std::string& k, const std::string& v) { o.ippp.nlopt_max_evals = OptionInt(k, v); }},
      {"lambda_iters", [](SolverOptions& o, const std::string& k, const std::string& v) { o.exact.lambda_iters = OptionInt(k, v); }},
      {"max_sweeps", [](SolverOptions& o, const std::string& k, const std::string& v) { o.exact.max_sweeps = OptionInt(k, v); }},
      {"start_ippp", [](SolverOptions& o, const std::string& k, const std::string& v) { o.exact.start_ippp = OptionBool(k, v); }},
      {"start_heuristics", [](SolverOptions& o, const std::string& k, const std::string& v) { o.exact.start_heuristics = OptionBool(k, v); }},
  };
  return table;
}

// Applies the sweep's `options:` of a threshold method. An unknown key or a bad value is a cell
// error (the sweep records it and goes on), naming the method and the known keys.
SolverOptions ThresholdOptions(const SweepMethod& m, const std::set<std::string>& also = {}) {
  SolverOptions o;
  const auto& table = ThresholdOptionTable();
  for (const auto& [key, value] : m.options) {
    if (also.count(key)) continue;  // the caller's own keys (placement methods)
    auto it = table.find(key);
    if (it == table.end()) {
      std::string known;
      for (const auto& kv : table) known += (known.empty() ? "" : ", ") + kv.first;
      for (const auto& a : also) known += ", " + a;
      throw InputError("option '" + key + "' of method " + m.method,
                       "unknown option (known: " + known + ")");
    }
    it->second(o, key, value);
  }
  if (const std::string bad = o.Validate(); !bad.empty()) {
    std::string one = bad;
    for (char& ch : one) {
      if (ch == '\n') ch = ';';
    }
    throw InputError("options of method " + m.method, one);
  }
  return o;
}

void FillEval(const SweepCellInput& in, const Policy& policy, ResultRow& row) {
  if (!in.dump->eval) return;
  const Evaluation ev = EvaluateSplit(*in.dump->eval, in.measure, in.target, *in.profile, policy);
  row.eval_acc = ev.accuracy;
  row.eval_cost = ev.mean_cost;
}

void RunThresholdMethod(Method method, const SweepCellInput& in, ResultRow& row) {
  const SolverOptions options = ThresholdOptions(*in.method);
  const ThresholdProblem problem = ThresholdProblem::From(in.dump->fit, in.measure, in.target,
                                                          *in.profile, in.kept, in.budget);
  const ThresholdSummary s = Solve(method, problem, options);
  row.outcome = ToString(s.outcome);
  row.message = s.message;
  row.kept_exits = s.policy.kept.empty() ? in.kept : s.policy.kept;
  if (!s.ok()) return;
  row.thresholds = s.policy.thresholds;
  row.fit_acc = s.fit.accuracy;
  row.fit_cost = s.fit.mean_cost;
  row.exit_fractions = s.fit.exit_fraction;
  FillEval(in, s.policy, row);
}

// Placement methods (dse/, issue 4) choose the kept exits themselves at the cell's budget; the
// thresholds come from a threshold method (`solver:` option, default exact).
const std::set<std::string> kPlacementKeys = {"solver", "max_candidates", "prune", "reuse"};

PlacementProblem MakePlacementProblem(const SweepCellInput& in) {
  PlacementProblem p;
  p.scores = &in.dump->fit.Scores(in.measure);
  p.correct = &in.dump->fit.Correct(in.target);
  p.order = in.dump->fit.Order(in.measure);
  p.profile = in.profile;
  if (in.dump->eval) {
    p.eval_scores = &in.dump->eval->Scores(in.measure);
    p.eval_correct = &in.dump->eval->Correct(in.target);
  }
  return p;
}

ThresholdSolverFn PlacementSolver(const SweepMethod& m) {
  const SolverOptions o = ThresholdOptions(m, kPlacementKeys);
  auto it = m.options.find("solver");
  const Method method =
      it == m.options.end() ? Method::kExact : MethodFromString(it->second, "option solver");
  return SolverFor(method, o);
}

void FillPolicy(const Policy& policy, const Evaluation& fit, const Evaluation& eval,
                ResultRow& row) {
  row.kept_exits = policy.kept;
  row.thresholds = policy.thresholds;
  row.fit_acc = fit.accuracy;
  row.fit_cost = fit.mean_cost;
  row.exit_fractions = fit.exit_fraction;
  if (eval.n > 0) {
    row.eval_acc = eval.accuracy;
    row.eval_cost = eval.mean_cost;
  }
}

void RunGreedy(GreedyRule rule, const SweepCellInput& in, ResultRow& row) {
  const PlacementProblem p = MakePlacementProblem(in);
  GreedyOptions g;
  g.rule = rule;
  g.budget = in.budget;
  const GreedySummary s = Greedy(p, g, PlacementSolver(*in.method));
  row.outcome = ToString(s.outcome);
  row.message = s.message;
  if (s.ok()) FillPolicy(s.policy, s.fit, s.eval, row);
}

int IntOption(const SweepMethod& m, const std::string& key, int fallback) {
  auto it = m.options.find(key);
  return it == m.options.end() ? fallback : OptionInt(key, it->second);
}
bool BoolOption(const SweepMethod& m, const std::string& key, bool fallback) {
  auto it = m.options.find(key);
  return it == m.options.end() ? fallback : OptionBool(key, it->second);
}

void RunExhaustive(const SweepCellInput& in, ResultRow& row) {
  const PlacementProblem p = MakePlacementProblem(in);
  ExhaustiveOptions e;
  e.budgets = {in.budget};
  e.threads = 1;  // the sweep already runs cells in parallel
  e.max_candidates = IntOption(*in.method, "max_candidates", e.max_candidates);
  e.prune = BoolOption(*in.method, "prune", e.prune);
  e.reuse = BoolOption(*in.method, "reuse", e.reuse);
  const ExhaustiveSummary s = Exhaustive(p, e, PlacementSolver(*in.method));
  const int best = s.best_per_budget.empty() ? -1 : s.best_per_budget[0];
  if (best < 0) {
    row.outcome = ToString(s.ok() ? Outcome::kInfeasible : s.outcome);
    row.message = s.ok() ? "no kept set meets the budget" : s.message;
    return;
  }
  const ThresholdSummary& t = s.solutions[best].summary;
  row.outcome = ToString(t.outcome);
  row.message = t.message;
  FillPolicy(t.policy, t.fit, p.EvaluateEval(t.policy), row);
}

// Budget-free placement rules (flop-score, greedy-th, greedy-efficiency) choose a policy from a
// tolerance T (option `tolerance`, and `th` for greedy-th) without a budget: the cell reports that
// policy at every budget, as infeasible when its fit cost exceeds the budget.
void BudgetCheck(const SweepCellInput& in, ResultRow& row) {
  if (row.has_solution() && row.fit_cost > in.budget * (1 + 1e-12)) {
    row.outcome = ToString(Outcome::kInfeasible);
    row.message = "the rule's policy costs " + FormatDouble(row.fit_cost) + " > budget";
    row.fit_acc = row.fit_cost = row.eval_acc = row.eval_cost = std::nan("");
  }
}

double DoubleOption(const SweepMethod& m, const std::string& key, double fallback) {
  auto it = m.options.find(key);
  return it == m.options.end() ? fallback : OptionDouble(key, it->second);
}

void CheckOnly(const SweepMethod& m, const std::set<std::string>& known) {
  for (const auto& kv : m.options) {
    if (!known.count(kv.first)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw InputError("option '" + kv.first + "' of method " + m.method,
                       "unknown option (known: " + list + ")");
    }
  }
}

void RunRule(GreedyRule rule, const SweepCellInput& in, ResultRow& row) {
  CheckOnly(*in.method, {"tolerance", "th"});
  const PlacementProblem p = MakePlacementProblem(in);
  GreedyOptions g;
  g.rule = rule;
  g.tolerance = DoubleOption(*in.method, "tolerance", g.tolerance);
  g.th = DoubleOption(*in.method, "th", g.th);
  g.budget = in.budget;
  const GreedySummary s = Greedy(p, g);
  row.outcome = ToString(s.outcome);
  row.message = s.message;
  if (s.ok()) FillPolicy(s.policy, s.fit, s.eval, row);
  BudgetCheck(in, row);
}

void RunFlopScore(const SweepCellInput& in, ResultRow& row) {
  CheckOnly(*in.method, {"tolerance", "max_candidates"});
  const PlacementProblem p = MakePlacementProblem(in);
  FlopScoreOptions o;
  o.tolerance = DoubleOption(*in.method, "tolerance", o.tolerance);
  o.max_candidates = IntOption(*in.method, "max_candidates", o.max_candidates);
  o.threads = 1;  // the sweep already runs cells in parallel
  const FlopScoreSummary s = FlopScore(p, o);
  row.outcome = ToString(s.outcome);
  row.message = s.message;
  if (s.ok()) FillPolicy(s.policy, s.fit, s.eval, row);
  BudgetCheck(in, row);
}

// EENet (optim/eenet.hpp, issue 5): a learned utility scorer trained per cell at its budget; the
// row's measure is "eenet" and its thresholds apply to the scorer's outputs.
EENetOptions EENetOptionsFrom(const SweepMethod& m) {
  EENetOptions o;
  for (const auto& [key, value] : m.options) {
    if (key == "hidden_ratio") o.hidden_ratio = OptionDouble(key, value);
    else if (key == "learning_rate") o.learning_rate = OptionDouble(key, value);
    else if (key == "alpha") o.alpha = OptionDouble(key, value);
    else if (key == "beta") o.beta = OptionDouble(key, value);
    else if (key == "weight_decay") o.weight_decay = OptionDouble(key, value);
    else if (key == "batch_size") o.batch_size = OptionInt(key, value);
    else if (key == "max_epochs") o.max_epochs = OptionInt(key, value);
    else if (key == "patience") o.patience = OptionInt(key, value);
    else if (key == "holdout_fraction") o.holdout_fraction = OptionDouble(key, value);
    else if (key == "budget_fit") o.budget_fit = BudgetFitFromString(value, "option budget_fit");
    else if (key == "seed") o.seed = static_cast<unsigned>(OptionInt(key, value));
    else {
      throw InputError("option '" + key + "' of method eenet",
                       "unknown option (known: alpha, batch_size, beta, budget_fit, "
                       "hidden_ratio, holdout_fraction, learning_rate, max_epochs, patience, "
                       "seed, weight_decay)");
    }
  }
  if (const std::string bad = o.Validate(); !bad.empty()) {
    throw InputError("options of method eenet", bad.substr(0, bad.find('\n')));
  }
  return o;
}

void RunEENet(const SweepCellInput& in, ResultRow& row) {
  const EENetOptions o = EENetOptionsFrom(*in.method);
  const SplitData& fit = in.dump->fit;
  const std::vector<double> stop = in.profile->StopCostsAllKept();
  const EENetSummary s = FitEENet(fit, fit.Correct(in.target), stop, in.budget, o);
  row.measure = "eenet";
  row.outcome = ToString(s.outcome);
  row.message = s.message;
  row.kept_exits = s.policy.kept;
  if (!s.ok()) return;
  Evaluation eval;
  if (in.dump->eval) {
    const ScoreMatrix q = s.scorer.Score(*in.dump->eval);
    eval = Evaluate(q, ScoreOrder::kDescending, in.dump->eval->Correct(in.target), stop, s.policy);
  }
  FillPolicy(s.policy, s.fit, eval, row);
}

std::map<std::string, SweepMethodFn>& Registry() {
  static std::map<std::string, SweepMethodFn> registry = [] {
    std::map<std::string, SweepMethodFn> r;
    // Every threshold method of optim/solve.hpp; a new method there appears here by itself.
    for (const std::string& name : MethodNames()) {
      const Method m = MethodFromString(name);
      r[name] = [m](const SweepCellInput& in, ResultRow& row) { RunThresholdMethod(m, in, row); };
    }
    // dse/ methods (placement search, issue 4): one line each.
    r["greedy-forward"] = [](const SweepCellInput& in, ResultRow& row) {
      RunGreedy(GreedyRule::kForward, in, row);
    };
    r["greedy-backward"] = [](const SweepCellInput& in, ResultRow& row) {
      RunGreedy(GreedyRule::kBackward, in, row);
    };
    r["exhaustive"] = [](const SweepCellInput& in, ResultRow& row) { RunExhaustive(in, row); };
    r["greedy-th"] = [](const SweepCellInput& in, ResultRow& row) {
      RunRule(GreedyRule::kTh, in, row);
    };
    r["greedy-efficiency"] = [](const SweepCellInput& in, ResultRow& row) {
      RunRule(GreedyRule::kEfficiency, in, row);
    };
    r["flop-score"] = [](const SweepCellInput& in, ResultRow& row) { RunFlopScore(in, row); };
    // Learned scorers (issue 5).
    r["eenet"] = [](const SweepCellInput& in, ResultRow& row) { RunEENet(in, row); };
    return r;
  }();
  return registry;
}

}  // namespace

std::vector<std::string> SweepMethodNames() {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  std::vector<std::string> out;
  for (const auto& kv : Registry()) out.push_back(kv.first);
  return out;
}

void RegisterSweepMethod(const std::string& name, SweepMethodFn fn) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry()[name] = std::move(fn);
}

namespace internal::sweep {

SweepMethodFn FindSweepMethod(const std::string& name) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  return Registry().at(name);
}

}  // namespace internal::sweep
}  // namespace exitplan
