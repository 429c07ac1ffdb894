#include "dse/sweep.hpp"

#include <signal.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "dse/config.hpp"
#include "dse/exhaustive.hpp"
#include "dse/flop_score.hpp"
#include "dse/greedy.hpp"
#include "dse/placement.hpp"
#include "dse/plot.hpp"
#include "optim/calibration.hpp"
#include "optim/eenet.hpp"
#include "optim/solve.hpp"
#include "profiles/error.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/feature_cache.hpp"
#include "profiles/io.hpp"
#include "profiles/yaml_check.hpp"
#include "profiles/profile.hpp"

namespace fs = std::filesystem;

namespace exitplan {
namespace {

// ---------------------------------------------------------------------------------------------
// Sweep file parsing (yaml-cpp; unknown/duplicate keys checked by hand, DEPENDENCIES.md trap 7).

struct Yaml {
  std::string source;
  std::string Where(const YAML::Node& node) const { return YamlWhere(source, node); }
  void Keys(const YAML::Node& map, const std::set<std::string>& allowed,
            const std::string& context) const {
    CheckYamlKeys(source, map, allowed, context);
  }
  std::string Str(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) throw InputError(Where(node), key + ": expected a string");
    return node.as<std::string>();
  }
  double Num(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) throw InputError(Where(node), key + ": expected a number");
    const std::string text = node.as<std::string>();
    try {
      const double v = node.as<double>();
      if (!std::isfinite(v)) throw InputError(Where(node), key + ": must be finite");
      return v;
    } catch (const YAML::Exception&) {
      throw InputError(Where(node), key + ": expected a number, found '" + text + "'");
    }
  }
  int Int(const YAML::Node& node, const std::string& key) const {
    const double v = Num(node, key);
    if (v != std::floor(v) || std::fabs(v) > 1e9) {
      throw InputError(Where(node), key + ": expected an integer, found " + FormatDouble(v));
    }
    return static_cast<int>(v);
  }
  bool Bool(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) throw InputError(Where(node), key + ": expected true or false");
    const std::string t = node.as<std::string>();
    if (t == "true" || t == "True" || t == "yes") return true;
    if (t == "false" || t == "False" || t == "no") return false;
    throw InputError(Where(node), key + ": expected true or false, found '" + t + "'");
  }
  // A scalar or a sequence of scalars.
  std::vector<std::string> Strs(const YAML::Node& node, const std::string& key) const {
    std::vector<std::string> out;
    if (node.IsScalar()) return {node.as<std::string>()};
    if (!node.IsSequence()) throw InputError(Where(node), key + ": expected a list of strings");
    for (const auto& item : node) out.push_back(Str(item, key));
    return out;
  }
};

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

std::string Scalar(const YAML::Node& n) {
  if (n.IsScalar()) return n.as<std::string>();
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

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

// ---------------------------------------------------------------------------------------------
// Inputs, cells and hashes.

struct LoadedModel {
  Dump dump;
  // With per-exit temperature scaling (some method has `calibrate: true`): the same dump with its
  // features recomputed from logits / T_k, T fitted on the fit split.
  std::unique_ptr<Dump> calibrated;
  std::vector<double> temperatures;
  std::vector<CostProfile> profiles;      // the selected targets, in sweep order
  std::vector<std::string> input_files;   // "relative-name sha256" lines
  std::string inputs_digest;              // SHA-256 over input_files
};

std::vector<std::string> DumpFiles(const std::string& dir, const SweepSpec& spec) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    for (const std::string& split : {spec.fit_split, spec.eval_split}) {
      if (name.rfind(split + "_", 0) == 0 || name == split + ".npz") {
        files.push_back(entry.path().string());
        break;
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string TargetName(const CostProfile& p) { return p.target.empty() ? "default" : p.target; }

LoadedModel LoadModel(const SweepSpec& spec, const SweepModel& m, bool calibrate) {
  LoadedModel out;
  DumpOptions o;
  o.fit_split = spec.fit_split;
  o.eval_split = spec.eval_split;
  o.layout = LayoutFromString(m.layout, "sweep model " + m.name + " layout");
  o.score_order = ScoreOrderFromString(m.score_order, "sweep model " + m.name + " score_order");
  o.cache_dir = DefaultFeatureCacheDir();  // EXITPLAN_CACHE_DIR= (empty) turns it off
  out.dump = LoadDump(m.dump, o);
  if (calibrate) {
    if (!out.dump.fit.has_logits()) {
      throw InputError(m.dump, "calibrate: temperature scaling needs a logits-mode dump (model " +
                                   m.name + " has scores only)");
    }
    const CalibrationSummary cal = FitTemperatures(out.dump.fit);
    if (!cal.ok()) throw InputError(m.dump, "temperature scaling failed: " + cal.message);
    out.temperatures = cal.temperatures;
    out.calibrated = std::make_unique<Dump>(LoadDump(m.dump, o));
    out.calibrated->fit.ComputeFeatures(out.temperatures);
    if (out.calibrated->eval) out.calibrated->eval->ComputeFeatures(out.temperatures);
  }
  const std::vector<CostProfile> all = LoadProfiles(m.profile);
  if (m.targets.empty()) {
    out.profiles = all;
  } else {
    for (const std::string& t : m.targets) {
      auto it = std::find_if(all.begin(), all.end(),
                             [&](const CostProfile& p) { return TargetName(p) == t; });
      if (it == all.end()) {
        std::string names;
        for (const auto& p : all) names += (names.empty() ? "" : ", ") + TargetName(p);
        throw InputError(m.profile, "no target '" + t + "' for model " + m.name +
                                        " (targets: " + names + ")");
      }
      out.profiles.push_back(*it);
    }
  }
  for (const CostProfile& p : out.profiles) CheckProfileMatches(p, out.dump.k, m.dump);
  std::string lines;
  for (const std::string& f : DumpFiles(m.dump, spec)) {
    const std::string line = fs::path(f).filename().string() + " " + Sha256File(f);
    out.input_files.push_back(line);
    lines += line + "\n";
  }
  const std::string pline = fs::path(m.profile).filename().string() + " " + Sha256File(m.profile);
  out.input_files.push_back(pline);
  lines += pline + "\n";
  out.inputs_digest = Sha256Hex(lines);
  return out;
}

std::string CellKey(const SweepSpec& spec, const SweepModel& model, const LoadedModel& lm,
                    const SweepMethod& method, const SweepCell& c) {
  std::ostringstream k;
  k << "exitplan-cell/1\ninputs " << lm.inputs_digest << "\nmodel " << model.name << "\ntarget "
    << c.target << "\nlayout " << model.layout << "\nscore_order " << model.score_order
    << "\nsplits " << spec.fit_split << " " << spec.eval_split << "\nmethod " << method.method
    << "\nlabel " << method.label << "\nmeasure " << c.measure << "\ncorrect " << method.correct
    << "\nexits " << method.exits << "\n";
  for (const auto& [key, value] : method.options) k << "option " << key << "=" << value << "\n";
  if (method.calibrate) k << "calibrate temperature-scaling\n";
  k << "budget " << FormatDouble(c.budget) << "\n";
  return k.str();
}

std::string SafeName(const std::string& s) {
  std::string out;
  for (char ch : s) {
    out += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')
               ? ch
               : '_';
  }
  return out.empty() ? "_" : out;
}

// ---------------------------------------------------------------------------------------------
// The manifest: everything merge needs to rebuild the reports without the inputs.

struct Group {
  std::string model, target, unit, score_order, dump, profile;
  std::vector<std::string> exit_names;
  std::vector<std::string> inputs;  // "name sha256"
  std::vector<double> temperatures;     // fitted per exit when some method calibrates
  std::vector<std::string> calibrated;  // labels of the methods using them
};

struct Manifest {
  std::string sweep;  // SHA-256 over the ordered cell hashes: the sweep's identity
  std::string source;
  bool configs = false;
  std::vector<Group> groups;
  std::vector<std::pair<std::string, int>> cells;  // hash, group index; canonical order
};

std::string ManifestToYaml(const Manifest& m) {
  YAML::Emitter e;
  e << YAML::BeginMap << YAML::Key << "schema" << YAML::Value << "exitplan-sweep-manifest/1"
    << YAML::Key << "sweep" << YAML::Value << m.sweep << YAML::Key << "source" << YAML::Value
    << m.source << YAML::Key << "configs" << YAML::Value << m.configs << YAML::Key << "groups"
    << YAML::Value << YAML::BeginSeq;
  for (const Group& g : m.groups) {
    e << YAML::BeginMap << YAML::Key << "model" << YAML::Value << g.model << YAML::Key << "target"
      << YAML::Value << g.target << YAML::Key << "unit" << YAML::Value << g.unit << YAML::Key
      << "score_order" << YAML::Value << g.score_order << YAML::Key << "dump" << YAML::Value
      << g.dump << YAML::Key << "profile" << YAML::Value << g.profile << YAML::Key << "exit_names"
      << YAML::Value << YAML::Flow << g.exit_names << YAML::Key << "inputs" << YAML::Value
      << YAML::BeginSeq;
    for (const auto& s : g.inputs) e << s;
    e << YAML::EndSeq;
    if (!g.calibrated.empty()) {
      std::vector<std::string> t;
      for (double v : g.temperatures) t.push_back(FormatDouble(v));  // exact round trip
      e << YAML::Key << "temperatures" << YAML::Value << YAML::Flow << t << YAML::Key
        << "calibrated" << YAML::Value << YAML::Flow << g.calibrated;
    }
    e << YAML::EndMap;
  }
  e << YAML::EndSeq << YAML::Key << "cells" << YAML::Value << YAML::BeginSeq;
  for (const auto& [hash, group] : m.cells) {
    e << YAML::Flow << YAML::BeginSeq << hash << group << YAML::EndSeq;
  }
  e << YAML::EndSeq << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

Manifest ManifestFromFile(const std::string& path) {
  Manifest m;
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (root["schema"].as<std::string>() != "exitplan-sweep-manifest/1") {
      throw InputError(path, "not an exitplan sweep manifest");
    }
    m.sweep = root["sweep"].as<std::string>();
    m.source = root["source"].as<std::string>();
    m.configs = root["configs"].as<bool>();
    for (const auto& g : root["groups"]) {
      Group gr;
      gr.model = g["model"].as<std::string>();
      gr.target = g["target"].as<std::string>();
      gr.unit = g["unit"].as<std::string>();
      gr.score_order = g["score_order"].as<std::string>();
      gr.dump = g["dump"].as<std::string>();
      gr.profile = g["profile"].as<std::string>();
      gr.exit_names = g["exit_names"].as<std::vector<std::string>>();
      gr.inputs = g["inputs"].as<std::vector<std::string>>();
      if (g["calibrated"]) {
        gr.calibrated = g["calibrated"].as<std::vector<std::string>>();
        for (const auto& t : g["temperatures"]) {
          gr.temperatures.push_back(ParseDoubleList(t.as<std::string>(), path + " temperatures")[0]);
        }
      }
      m.groups.push_back(gr);
    }
    for (const auto& c : root["cells"]) {
      m.cells.push_back({c[0].as<std::string>(), c[1].as<int>()});
    }
  } catch (const YAML::BadFile&) {
    throw InputError(path, "missing: not the output directory of an exitplan sweep");
  } catch (const YAML::Exception& e) {
    throw InputError(path, std::string("malformed sweep manifest: ") + e.what());
  }
  return m;
}

std::string CellPath(const std::string& out, const std::string& hash) {
  return out + "/cells/" + hash + ".csv";
}

// A finished cell result, or nullopt when absent, unreadable or an "error" to retry.
std::optional<ResultRow> ReadCell(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  try {
    std::vector<ResultRow> rows = ResultsFromCsv(ReadFile(path), path);
    if (rows.size() != 1) return std::nullopt;
    return rows[0];
  } catch (const InputError&) {
    return std::nullopt;
  }
}

bool Failed(const ResultRow& r) { return !r.has_solution(); }

std::string Describe(const ResultRow& r) {
  return r.model + "/" + r.target + " " + r.method + " " + r.measure + " budget " +
         FormatDouble(r.budget);
}

// ---------------------------------------------------------------------------------------------
// Reports.

std::string Pct(double v) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", 100.0 * v);
  return buf;
}
std::string Fix(double v) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

void WriteReports(const Manifest& m, const std::string& out, const std::string& command_line,
                  SweepSummary& summary) {
  std::vector<std::vector<ResultRow>> rows(m.groups.size());
  for (const auto& [hash, group] : m.cells) {
    std::optional<ResultRow> r = ReadCell(CellPath(out, hash));
    if (!r) throw InputError(CellPath(out, hash), "missing cell result");
    rows[group].push_back(*r);
  }
  std::ostringstream md;
  md << "# exitplan sweep summary\n\nSweep `" << m.source << "` (" << m.cells.size()
     << " cells). Pareto front chosen on the fit split; accuracy and cost measured on the eval "
        "split (fit when there is none).\n";
  for (std::size_t g = 0; g < m.groups.size(); ++g) {
    const Group& gr = m.groups[g];
    std::vector<ResultRow>& rs = rows[g];
    MarkPareto(rs);
    const std::string base = out + "/reports/" + SafeName(gr.model) + "__" + SafeName(gr.target);
    WriteFileAtomic(base + ".csv", ResultsToCsv(rs));
    PlotOptions po;
    po.title = gr.model + " / " + gr.target;
    WritePlotSvg(base + ".svg", rs, po);
    summary.reports.push_back(base + ".csv");
    summary.reports.push_back(base + ".svg");

    md << "\n## " << gr.model << " / " << gr.target << " (" << gr.unit << ")\n\n"
       << "Report: `reports/" << fs::path(base).filename().string() << ".csv`, plot: `reports/"
       << fs::path(base).filename().string() << ".svg`\n\n"
       << "| method | measure | cells | solved | on front | eval acc % (lowest budget) | eval "
          "acc % (highest budget) | eval cost range | mean s/cell |\n"
       << "|---|---|---:|---:|---:|---:|---:|---|---:|\n";
    std::vector<std::pair<std::string, std::string>> series;
    for (const ResultRow& r : rs) {
      if (std::find(series.begin(), series.end(), std::make_pair(r.method, r.measure)) ==
          series.end()) {
        series.push_back({r.method, r.measure});
      }
    }
    for (const auto& [method, measure] : series) {
      int cells = 0, solved = 0, front = 0;
      double secs = 0, lo_b = INFINITY, hi_b = -INFINITY, acc_lo = NAN, acc_hi = NAN;
      double cmin = INFINITY, cmax = -INFINITY;
      for (const ResultRow& r : rs) {
        if (r.method != method || r.measure != measure) continue;
        ++cells;
        secs += r.seconds;
        if (!r.has_solution()) continue;
        ++solved;
        front += r.pareto;
        const double acc = std::isnan(r.eval_acc) ? r.fit_acc : r.eval_acc;
        const double cost = std::isnan(r.eval_cost) ? r.fit_cost : r.eval_cost;
        if (r.budget < lo_b) lo_b = r.budget, acc_lo = acc;
        if (r.budget > hi_b) hi_b = r.budget, acc_hi = acc;
        cmin = std::min(cmin, cost);
        cmax = std::max(cmax, cost);
      }
      md << "| " << method << " | " << measure << " | " << cells << " | " << solved << " | "
         << front << " | " << Pct(acc_lo) << " | " << Pct(acc_hi) << " | "
         << (solved ? Fix(cmin) + " - " + Fix(cmax) : "-") << " | " << Fix(secs / std::max(1, cells))
         << " |\n";
    }
    // The front itself, thinned to at most 12 rows spread over its cost range.
    // Identical policies solved at several budgets appear once (the lowest budget).
    auto policy_key = [](const ResultRow& r) {
      std::string k = r.method + "|" + r.measure + "|";
      for (int e : r.kept_exits) k += std::to_string(e) + ",";
      return k + "|" + JoinDoubles(r.thresholds, ",");
    };
    std::vector<const ResultRow*> front;
    std::set<std::string> seen_policies;
    for (const ResultRow& r : rs) {
      if (r.pareto && seen_policies.insert(policy_key(r)).second) front.push_back(&r);
    }
    std::sort(front.begin(), front.end(),
              [](const ResultRow* a, const ResultRow* b) { return a->fit_cost < b->fit_cost; });
    if (!front.empty()) {
      md << "\nPareto front (" << front.size() << " distinct configurations"
         << (front.size() > 12 ? ", 12 shown" : "") << "):\n\n"
         << "| budget | method | measure | kept exits | fit acc % | fit cost | eval acc % | eval "
            "cost |\n|---:|---|---|---|---:|---:|---:|---:|\n";
      const std::size_t shown = std::min<std::size_t>(12, front.size());
      for (std::size_t q = 0; q < shown; ++q) {
        const std::size_t i = shown == 1 ? 0 : q * (front.size() - 1) / (shown - 1);
        const ResultRow& r = *front[i];
        std::string kept;
        for (std::size_t e = 0; e < r.kept_exits.size(); ++e) {
          kept += (e ? "," : "") + std::to_string(r.kept_exits[e] + 1);
        }
        md << "| " << Fix(r.budget) << " | " << r.method << " | " << r.measure << " | " << kept
           << " | " << Pct(r.fit_acc) << " | " << Fix(r.fit_cost) << " | " << Pct(r.eval_acc)
           << " | " << Fix(r.eval_cost) << " |\n";
      }
    }
    std::vector<std::string> failures;
    for (const ResultRow& r : rs) {
      if (Failed(r)) failures.push_back(Describe(r) + ": " + r.outcome + ": " + r.message);
    }
    if (!failures.empty()) {
      md << "\nFailed cells (" << failures.size() << "):\n\n";
      for (std::size_t q = 0; q < failures.size() && q < 20; ++q) md << "- " << failures[q] << "\n";
      if (failures.size() > 20) md << "- ... (" << failures.size() - 20 << " more in the CSV)\n";
    }

    if (m.configs) {
      ConfigContext ctx;
      ctx.exit_names = gr.exit_names;
      ctx.score_order = gr.score_order;
      ctx.inputs = gr.inputs;
      ctx.command_line = command_line;
      ctx.report = fs::path(base + ".csv").filename().string();
      const std::string cdir = out + "/configs/" + SafeName(gr.model) + "__" + SafeName(gr.target);
      std::set<std::string> written;
      for (std::size_t i = 0; i < rs.size(); ++i) {
        if (!rs[i].pareto || !written.insert(policy_key(rs[i])).second) continue;
        // EENet rows need the scorer's weights, which the runtime does not evaluate: refit with
        // `exitplan fit-scorer --budget B` for a scorer file.
        if (rs[i].measure == "eenet") continue;
        ctx.row = static_cast<int>(i) + 1;
        ctx.temperatures.clear();
        if (std::find(gr.calibrated.begin(), gr.calibrated.end(), rs[i].method) !=
            gr.calibrated.end()) {
          ctx.temperatures = gr.temperatures;
        }
        const DeployConfig c = ConfigFromRow(rs[i], ctx);
        char name[64];
        std::snprintf(name, sizeof name, "row%04zu", i + 1);
        const std::string stem = cdir + "/" + name + "_" + SafeName(rs[i].method) + "_" +
                                 SafeName(rs[i].measure);
        WriteFileAtomic(stem + ".yaml", ConfigToYaml(c));
        WriteFileAtomic(stem + ".json", ConfigToJson(c));
        summary.reports.push_back(stem + ".yaml");
      }
    }
  }
  WriteFileAtomic(out + "/summary.md", md.str());
  summary.reports.push_back(out + "/summary.md");
}

// A run killed while writing a cell leaves "<hash>.csv.tmp.<pid>" behind (WriteFileAtomic); the
// final names are never half-written. Removes those whose process is gone (on this host: a live
// shard sharing the directory keeps its files).
void RemoveStaleTemporaries(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const auto at = name.rfind(".tmp.");
    if (at == std::string::npos) continue;
    const std::string pid_text = name.substr(at + 5);
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::stol(pid_text);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      fs::remove(e.path(), ec);
    }
  }
}

// Progress on stderr: "cells done / total, elapsed, estimate".
class Progress {
 public:
  Progress(bool on, int total) : on_(on), total_(total), start_(Clock::now()) {}
  void Update(int done) {
    if (!on_) return;
    std::lock_guard<std::mutex> lock(mu_);
    const double el = Seconds();
    if (done < total_ && el - last_ < 0.2) return;
    last_ = el;
    const double eta = done > 0 ? el / done * (total_ - done) : 0.0;
    std::fprintf(stderr, "\rexitplan sweep: %d / %d cells, %.1f s elapsed, ~%.1f s left   ", done,
                 total_, el, eta);
    if (done == total_) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }
  double Seconds() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }

 private:
  using Clock = std::chrono::steady_clock;
  bool on_;
  int total_;
  Clock::time_point start_;
  std::mutex mu_;
  double last_ = -1.0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

namespace internal {

void ParseShard(const std::string& text, int& index, int& count) {
  const auto slash = text.find('/');
  auto bad = [&]() {
    return InputError("--shard", "expected I/N with 1 <= I <= N (e.g. 2/4), found '" + text + "'");
  };
  if (slash == std::string::npos) throw bad();
  try {
    std::size_t p1 = 0, p2 = 0;
    const int i = std::stoi(text.substr(0, slash), &p1);
    const int n = std::stoi(text.substr(slash + 1), &p2);
    if (p1 != slash || p2 != text.size() - slash - 1 || n < 1 || i < 1 || i > n) throw bad();
    index = i - 1;
    count = n;
  } catch (const std::logic_error&) {
    throw bad();
  }
}

std::vector<SweepCell> EnumerateCells(const SweepSpec& spec,
                                      const std::vector<std::vector<CostProfile>>& profiles) {
  std::vector<SweepCell> cells;
  for (std::size_t mi = 0; mi < spec.models.size(); ++mi) {
    for (const CostProfile& p : profiles[mi]) {
      const double full = p.FullCost();
      for (std::size_t me = 0; me < spec.methods.size(); ++me) {
        for (const std::string& measure : spec.methods[me].measures) {
          for (double b : spec.budgets.values) {
            SweepCell c;
            c.index = static_cast<int>(cells.size());
            c.model = static_cast<int>(mi);
            c.method = static_cast<int>(me);
            c.target = TargetName(p);
            c.measure = measure;
            c.budget_value = b;
            c.budget = spec.budgets.relative ? b * full : b;
            cells.push_back(c);
          }
        }
      }
    }
  }
  return cells;
}

}  // namespace internal

SweepSpec ParseSweepSpec(const std::string& yaml_text, const std::string& source,
                         const std::string& base_dir) {
  const Yaml y{source};
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw InputError(source + ":" + std::to_string(e.mark.line + 1), "invalid YAML: " + e.msg);
  }
  if (!root.IsMap()) throw InputError(source, "a sweep file is a mapping (models:, methods:, ...)");
  y.Keys(root, {"output", "fit_split", "eval_split", "configs", "models", "methods", "budgets"},
         "the sweep file");
  SweepSpec spec;
  spec.source = source;
  for (const char* need : {"output", "models", "methods", "budgets"}) {
    if (!root[need]) throw InputError(source, std::string("missing key '") + need + "'");
  }
  spec.output = Resolve(base_dir, y.Str(root["output"], "output"));
  if (root["fit_split"]) spec.fit_split = y.Str(root["fit_split"], "fit_split");
  if (root["eval_split"]) spec.eval_split = y.Str(root["eval_split"], "eval_split");
  if (root["configs"]) spec.configs = y.Bool(root["configs"], "configs");

  const YAML::Node models = root["models"];
  if (!models.IsSequence() || models.size() == 0) {
    throw InputError(y.Where(models), "models: expected a non-empty list");
  }
  std::set<std::string> model_names;
  for (const auto& mn : models) {
    y.Keys(mn, {"name", "dump", "profile", "targets", "target", "layout", "score_order"},
           "a model");
    SweepModel m;
    for (const char* need : {"name", "dump", "profile"}) {
      if (!mn[need]) throw InputError(y.Where(mn), std::string("model: missing key '") + need + "'");
    }
    m.name = y.Str(mn["name"], "name");
    if (!model_names.insert(m.name).second) {
      throw InputError(y.Where(mn["name"]), "name: model '" + m.name + "' appears twice");
    }
    m.dump = Resolve(base_dir, y.Str(mn["dump"], "dump"));
    m.profile = Resolve(base_dir, y.Str(mn["profile"], "profile"));
    if (mn["targets"] && mn["target"]) {
      throw InputError(y.Where(mn["target"]), "target: give either target or targets");
    }
    if (mn["targets"]) m.targets = y.Strs(mn["targets"], "targets");
    if (mn["target"]) m.targets = {y.Str(mn["target"], "target")};
    if (mn["layout"]) {
      m.layout = y.Str(mn["layout"], "layout");
      try {
        LayoutFromString(m.layout, "layout");
      } catch (const InputError& e) {
        throw InputError(y.Where(mn["layout"]), e.what());
      }
    }
    if (mn["score_order"]) {
      m.score_order = y.Str(mn["score_order"], "score_order");
      try {
        ScoreOrderFromString(m.score_order, "score_order");
      } catch (const InputError& e) {
        throw InputError(y.Where(mn["score_order"]), e.what());
      }
    }
    spec.models.push_back(m);
  }

  const YAML::Node methods = root["methods"];
  if (!methods.IsSequence() || methods.size() == 0) {
    throw InputError(y.Where(methods), "methods: expected a non-empty list");
  }
  const std::vector<std::string> known = SweepMethodNames();
  std::set<std::string> labels;
  for (const auto& mn : methods) {
    y.Keys(mn, {"method", "label", "measure", "measures", "correct", "exits", "options", "calibrate"},
           "a method");
    SweepMethod m;
    if (!mn["method"]) throw InputError(y.Where(mn), "method: missing key 'method'");
    m.method = y.Str(mn["method"], "method");
    if (std::find(known.begin(), known.end(), m.method) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw InputError(y.Where(mn["method"]),
                       "method: unknown method '" + m.method + "' (expected one of: " + list + ")");
    }
    m.label = mn["label"] ? y.Str(mn["label"], "label") : m.method;
    if (mn["measure"] && mn["measures"]) {
      throw InputError(y.Where(mn["measure"]), "measure: give either measure or measures");
    }
    if (mn["measure"]) m.measures = {y.Str(mn["measure"], "measure")};
    if (mn["measures"]) m.measures = y.Strs(mn["measures"], "measures");
    if (m.measures.empty()) throw InputError(y.Where(mn["measures"]), "measures: empty list");
    const YAML::Node mnode = mn["measures"] ? mn["measures"] : mn["measure"];
    if (m.method == "eenet") {  // the scorer is the measure
      if (mnode) throw InputError(y.Where(mnode), "measure: eenet learns its own scores");
      if (mn["calibrate"]) throw InputError(y.Where(mn["calibrate"]), "calibrate: not for eenet");
      m.measures = {"eenet"};
    }
    for (const std::string& ms : m.method == "eenet" ? std::vector<std::string>{} : m.measures) {
      try {
        MeasureFromString(ms, "measure");
      } catch (const InputError& e) {
        throw InputError(y.Where(mnode), e.what());
      }
    }
    if (mn["correct"]) {
      m.correct = y.Str(mn["correct"], "correct");
      try {
        TargetFromString(m.correct, "correct");
      } catch (const InputError& e) {
        throw InputError(y.Where(mn["correct"]), e.what());
      }
    }
    if (mn["exits"]) m.exits = y.Str(mn["exits"], "exits");
    if (mn["calibrate"]) m.calibrate = y.Bool(mn["calibrate"], "calibrate");
    if (mn["options"]) {
      const YAML::Node on = mn["options"];
      if (!on.IsMap()) throw InputError(y.Where(on), "options: expected a mapping");
      std::set<std::string> seen;
      for (const auto& kv : on) {
        const std::string key = kv.first.as<std::string>();
        if (!seen.insert(key).second) {
          throw InputError(y.Where(kv.first), "duplicate key '" + key + "' in options");
        }
        m.options[key] = Scalar(kv.second);
      }
    }
    for (const std::string& ms : m.measures) {
      if (!labels.insert(m.label + "\n" + ms).second) {
        throw InputError(y.Where(mn), "method '" + m.label + "' with measure " + ms +
                                          " appears twice (give a distinct label:)");
      }
    }
    spec.methods.push_back(m);
  }

  const YAML::Node b = root["budgets"];
  if (b.IsSequence()) {
    for (const auto& v : b) spec.budgets.values.push_back(y.Num(v, "budgets"));
  } else {
    y.Keys(b, {"relative", "values", "range"}, "budgets");
    if (b["relative"]) spec.budgets.relative = y.Bool(b["relative"], "relative");
    if (b["values"]) {
      if (!b["values"].IsSequence()) throw InputError(y.Where(b["values"]), "values: expected a list");
      for (const auto& v : b["values"]) spec.budgets.values.push_back(y.Num(v, "values"));
    }
    if (b["range"]) {
      const YAML::Node r = b["range"];
      y.Keys(r, {"from", "to", "count"}, "budgets range");
      for (const char* need : {"from", "to", "count"}) {
        if (!r[need]) throw InputError(y.Where(r), std::string("range: missing key '") + need + "'");
      }
      const double from = y.Num(r["from"], "from"), to = y.Num(r["to"], "to");
      const int count = y.Int(r["count"], "count");
      if (count < 1) throw InputError(y.Where(r["count"]), "count: must be >= 1");
      if (to < from) throw InputError(y.Where(r["to"]), "to: must be >= from");
      for (int i = 0; i < count; ++i) {
        spec.budgets.values.push_back(count == 1 ? from : from + (to - from) * i / (count - 1));
      }
    }
  }
  if (spec.budgets.values.empty()) throw InputError(y.Where(b), "budgets: no budget given");
  for (double v : spec.budgets.values) {
    if (!(v > 0)) {
      throw InputError(y.Where(b), "budgets: " + FormatDouble(v) + " is not > 0");
    }
  }
  return spec;
}

SweepSpec LoadSweepSpec(const std::string& path) {
  const std::string text = ReadFile(path);
  return ParseSweepSpec(text, path, fs::path(path).parent_path().string());
}

std::string SweepOptions::Validate() const {
  std::string out;
  if (jobs < 0) out += "jobs = " + std::to_string(jobs) + ": must be >= 0 (0 = all cores)\n";
  if (shard_count < 1) out += "shard count = " + std::to_string(shard_count) + ": must be >= 1\n";
  if (shard_index < 0 || shard_index >= std::max(1, shard_count)) {
    out += "shard index = " + std::to_string(shard_index + 1) + ": must be in 1.." +
           std::to_string(shard_count) + "\n";
  }
  if (!out.empty()) out.pop_back();
  return out;
}

std::string SweepSummary::BriefReport() const {
  if (!done) return "sweep: not run";
  std::ostringstream s;
  s << "sweep: " << cells_total << " cells";
  if (cells_in_shard != cells_total) s << " (" << cells_in_shard << " in this shard)";
  s << ", " << cells_run << " run, " << cells_skipped << " already done, " << cells_failed
    << " failed, " << FormatDouble(std::round(seconds * 100) / 100) << " s";
  if (!complete) s << "; reports not written (cells missing: run the other shards, then merge)";
  return s.str();
}

std::string SweepSummary::FullReport() const {
  std::string s = BriefReport() + "\n";
  for (const auto& e : errors) s += "  failed: " + e + "\n";
  for (const auto& r : reports) s += "  wrote " + r + "\n";
  return s;
}

bool SweepReportContext(const std::string& report_csv, const ResultRow& row,
                        ConfigContext& context) {
  const fs::path manifest = fs::path(report_csv).parent_path().parent_path() / "manifest.yaml";
  std::error_code ec;
  if (!fs::exists(manifest, ec)) return false;
  const Manifest m = ManifestFromFile(manifest.string());
  for (const Group& g : m.groups) {
    if (g.model == row.model && g.target == row.target) {
      context.exit_names = g.exit_names;
      context.score_order = g.score_order;
      context.inputs = g.inputs;
      context.temperatures.clear();
      if (std::find(g.calibrated.begin(), g.calibrated.end(), row.method) != g.calibrated.end()) {
        context.temperatures = g.temperatures;
      }
      return true;
    }
  }
  return false;
}

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

SweepSummary RunSweep(const SweepSpec& spec, const SweepOptions& options) {
  if (const std::string bad = options.Validate(); !bad.empty()) throw InputError("sweep", bad);
  const auto t0 = std::chrono::steady_clock::now();
  SweepSummary summary;
  std::vector<LoadedModel> models;
  std::vector<std::vector<CostProfile>> profiles;
  bool calibrate = false;
  for (const SweepMethod& m : spec.methods) calibrate |= m.calibrate;
  for (const SweepModel& m : spec.models) {
    models.push_back(LoadModel(spec, m, calibrate));
    profiles.push_back(models.back().profiles);
  }
  std::vector<SweepCell> cells = internal::EnumerateCells(spec, profiles);
  Manifest manifest;
  manifest.source = spec.source;
  manifest.configs = spec.configs;
  std::map<std::pair<int, std::string>, int> group_of;
  std::string all_hashes;
  for (SweepCell& c : cells) {
    const LoadedModel& lm = models[c.model];
    c.hash = Sha256Hex(CellKey(spec, spec.models[c.model], lm, spec.methods[c.method], c));
    all_hashes += c.hash + "\n";
    auto key = std::make_pair(c.model, c.target);
    if (!group_of.count(key)) {
      const CostProfile& p = *std::find_if(lm.profiles.begin(), lm.profiles.end(),
                                           [&](const CostProfile& q) {
                                             return TargetName(q) == c.target;
                                           });
      Group g;
      g.model = spec.models[c.model].name;
      g.target = c.target;
      g.unit = p.unit;
      g.score_order = spec.models[c.model].score_order;
      g.dump = spec.models[c.model].dump;
      g.profile = spec.models[c.model].profile;
      g.exit_names = p.names;
      g.inputs = lm.input_files;
      for (const SweepMethod& me : spec.methods) {
        if (me.calibrate) g.calibrated.push_back(me.label);
      }
      if (!g.calibrated.empty()) g.temperatures = lm.temperatures;
      group_of[key] = static_cast<int>(manifest.groups.size());
      manifest.groups.push_back(g);
    }
    manifest.cells.push_back({c.hash, group_of[key]});
  }
  manifest.sweep = Sha256Hex(all_hashes);
  fs::create_directories(spec.output + "/cells");
  RemoveStaleTemporaries(spec.output + "/cells");
  WriteFileAtomic(spec.output + "/manifest.yaml", ManifestToYaml(manifest));

  // This shard's cells, and which of them still need computing.
  std::vector<const SweepCell*> todo;
  for (const SweepCell& c : cells) {
    if (c.index % options.shard_count != options.shard_index) continue;
    ++summary.cells_in_shard;
    if (!options.force) {
      if (std::optional<ResultRow> r = ReadCell(CellPath(spec.output, c.hash));
          r && r->outcome != "error") {
        ++summary.cells_skipped;
        continue;
      }
    }
    todo.push_back(&c);
  }
  summary.cells_total = static_cast<int>(cells.size());

  // The thread pool: workers take the next cell index; each cell is independent and writes its
  // own file, so the results do not depend on the number of jobs or on the order of completion.
  int jobs = options.jobs > 0 ? options.jobs : static_cast<int>(std::thread::hardware_concurrency());
  jobs = std::max(1, std::min<int>(jobs, static_cast<int>(todo.size())));
  std::atomic<std::size_t> next{0};
  std::atomic<int> written{0};
  Progress progress(options.progress, static_cast<int>(todo.size()));
  std::mutex err_mu;
  auto worker = [&]() {
    for (;;) {
      const std::size_t i = next.fetch_add(1);
      if (i >= todo.size()) return;
      const SweepCell& c = *todo[i];
      const SweepModel& model = spec.models[c.model];
      const LoadedModel& lm = models[c.model];
      const SweepMethod& method = spec.methods[c.method];
      const CostProfile& profile = *std::find_if(
          lm.profiles.begin(), lm.profiles.end(),
          [&](const CostProfile& q) { return TargetName(q) == c.target; });
      ResultRow row;
      row.model = model.name;
      row.target = c.target;
      row.unit = profile.unit;
      row.method = method.label;
      row.measure = c.measure;
      row.budget = c.budget;
      const auto c0 = std::chrono::steady_clock::now();
      try {
        SweepCellInput in;
        in.dump = method.calibrate ? lm.calibrated.get() : &lm.dump;
        in.profile = &profile;
        in.method = &method;
        if (c.measure != "eenet") in.measure = MeasureFromString(c.measure, "measure");
        in.target = TargetFromString(method.correct, "correct");
        in.kept = method.exits == "all" ? AllExits(lm.dump.k) : ParseKeptExits(method.exits, lm.dump.k);
        in.budget = c.budget;
        row.kept_exits = in.kept;
        SweepMethodFn fn;
        {
          std::lock_guard<std::mutex> lock(RegistryMutex());
          fn = Registry().at(method.method);
        }
        fn(in, row);
        if (row.outcome.empty()) row.outcome = "error", row.message = "method set no outcome";
      } catch (const std::exception& e) {
        row.outcome = "error";
        row.message = e.what();
      }
      row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
      WriteFileAtomic(CellPath(spec.output, c.hash), ResultsToCsv({row}));
      const int done = ++written;
      if (options.abort_after >= 0 && done >= options.abort_after) {
        std::_Exit(137);  // test only: as if the process were killed here
      }
      progress.Update(done);
    }
  };
  std::vector<std::thread> pool;
  for (int j = 1; j < jobs; ++j) pool.emplace_back(worker);
  if (!todo.empty()) worker();
  for (auto& t : pool) t.join();
  summary.cells_run = static_cast<int>(todo.size());

  // Failures of this shard (computed now or before), and the reports when every cell is there.
  bool complete = true;
  for (const SweepCell& c : cells) {
    std::optional<ResultRow> r = ReadCell(CellPath(spec.output, c.hash));
    if (!r) {
      complete = false;
      continue;
    }
    if (c.index % options.shard_count == options.shard_index && Failed(*r)) {
      ++summary.cells_failed;
      summary.errors.push_back(Describe(*r) + ": " + r->outcome + ": " + r->message);
    }
  }
  summary.complete = complete;
  if (complete) WriteReports(manifest, spec.output, options.command_line, summary);
  summary.done = true;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

SweepSummary MergeSweeps(const std::vector<std::string>& dirs, const std::string& output,
                         const std::string& command_line) {
  const auto t0 = std::chrono::steady_clock::now();
  if (dirs.empty()) throw InputError("merge", "no sweep directory given");
  SweepSummary summary;
  const Manifest first = ManifestFromFile(dirs[0] + "/manifest.yaml");
  for (std::size_t d = 1; d < dirs.size(); ++d) {
    const Manifest m = ManifestFromFile(dirs[d] + "/manifest.yaml");
    if (m.sweep != first.sweep) {
      throw InputError(dirs[d], "holds a different sweep than " + dirs[0] +
                                    " (inputs or settings differ: manifest sweep hash " +
                                    m.sweep.substr(0, 12) + " vs " + first.sweep.substr(0, 12) +
                                    ")");
    }
  }
  fs::create_directories(output + "/cells");
  int missing = 0;
  std::string first_missing;
  for (const auto& [hash, group] : first.cells) {
    std::optional<ResultRow> best;
    std::string from;
    for (const std::string& d : dirs) {
      std::optional<ResultRow> r = ReadCell(CellPath(d, hash));
      if (r && (!best || (best->outcome == "error" && r->outcome != "error"))) {
        best = r;
        from = CellPath(d, hash);
      }
    }
    if (!best) {
      if (!missing++) first_missing = hash;
      continue;
    }
    const std::string to = CellPath(output, hash);
    std::error_code ec;
    if (!fs::exists(to) || !fs::equivalent(from, to, ec)) WriteFileAtomic(to, ReadFile(from));
    if (Failed(*best)) {
      ++summary.cells_failed;
      summary.errors.push_back(Describe(*best) + ": " + best->outcome + ": " + best->message);
    }
  }
  if (missing) {
    throw InputError(dirs[0], std::to_string(missing) + " of " +
                                  std::to_string(first.cells.size()) +
                                  " cells have no result in any directory given (first: cells/" +
                                  first_missing + ".csv): run the missing shards first");
  }
  WriteFileAtomic(output + "/manifest.yaml", ManifestToYaml(first));
  summary.cells_total = summary.cells_in_shard = static_cast<int>(first.cells.size());
  summary.cells_skipped = summary.cells_total;
  summary.complete = true;
  WriteReports(first, output, command_line, summary);
  summary.done = true;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

}  // namespace exitplan
