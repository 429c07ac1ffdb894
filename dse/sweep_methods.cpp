// The sweep's method registry: how one cell of each method is computed (threshold methods of
// optim/solve.hpp, the placement searches and rules of dse/, EENet), and the `options:` keys
// each method takes.
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "dse/exhaustive.hpp"
#include "dse/flop_score.hpp"
#include "dse/greedy.hpp"
#include "dse/internal/sweep_internal.hpp"
#include "dse/options.hpp"
#include "dse/place_run.hpp"
#include "dse/placement.hpp"
#include "dse/sweep.hpp"
#include "dse/threshold_rows.hpp"
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

// A method's `options:` through the option registry (dse/options.hpp); the keys were checked
// against the method when the sweep file was parsed, the values again here.
MethodSettings SettingsOf(const SweepMethod& m) {
  OptionValues v;
  for (const auto& [key, value] : m.options)
    v.Set(key, value, "option " + key + " of method " + m.method);
  MethodSettings s;
  v.ApplyTo(s);
  return s;
}

// The solver options of a method, with the guarantee's bound and horizon (the horizon defaults
// to the eval split's size, as in `exitplan thresholds`).
SolverOptions ThresholdOptions(const SweepMethod& m, const Dump& dump) {
  OptionValues v;
  for (const auto& [key, value] : m.options)
    v.Set(key, value, "option " + key + " of method " + m.method);
  bool horizon_given = false;
  SolverOptions o = ThresholdSolverOptions(v, &horizon_given);
  DefaultHorizon(dump, horizon_given, o);
  return o;
}

// `ca` of the placement rules: agreement with the final exit (the default) or labels; labels on a
// scores-mode dump unless given (as `exitplan place` does).
const CorrectMatrix* CaCorrect(const SweepCellInput& in) {
  auto it = in.method->options.find("ca");
  const bool given = it != in.method->options.end();
  if (!given && !in.dump->fit.has_logits()) return &in.dump->fit.Correct(Target::kLabels);
  const Target ca = TargetFromString(given ? it->second : "agreement", "option ca");
  if (ca == Target::kAgreement && !in.dump->fit.has_logits()) {
    throw InputError("option ca of method " + in.method->method,
                     "agreement with the final exit needs logits, but this is a scores-mode dump: "
                     "give ca: labels");
  }
  return &in.dump->fit.Correct(ca);
}

void FillEval(const SweepCellInput& in, const Policy& policy, ResultRow& row) {
  if (!in.dump->eval) return;
  const Evaluation ev = EvaluateSplit(*in.dump->eval, in.measure, in.target, *in.profile, policy);
  row.eval_acc = ev.accuracy;
  row.eval_cost = ev.mean_cost;
}

void RunThresholdMethod(Method method, const SweepCellInput& in, ResultRow& row) {
  const SolverOptions options = ThresholdOptions(*in.method, *in.dump);
  const ThresholdProblem problem =
      ThresholdProblem::From(in.dump->fit, in.measure, in.target, *in.profile, in.kept, in.budget);
  const ThresholdSummary s = Solve(method, problem, options);
  row.outcome = ToString(s.outcome);
  row.message = s.message;
  row.kept_exits = s.policy.kept.empty() ? in.kept : s.policy.kept;
  row.guarantee = s.guarantee;
  if (!s.has_policy()) {
    row.guarantee.cost_bound = row.guarantee.accuracy_bound = row.guarantee.drop_bound = NAN;
    return;
  }  // over-budget answers keep their figures (labelled, off the front)
  row.thresholds = s.policy.thresholds;
  row.fit_acc = s.fit.accuracy;
  row.fit_cost = s.fit.mean_cost;
  row.exit_fractions = s.fit.exit_fraction;
  FillEval(in, s.policy, row);
}

// Placement methods (dse/) choose the kept exits themselves at the cell's budget; the
// thresholds come from a threshold method (`solver:` option, default exact).

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

// --guarantee with a placement search: the search on the guarantee's search part only, the chosen
// kept set certified on the whole fit split (dse/place_run.hpp, CertifyRow).
struct GuaranteedSearch {
  SolverOptions options;  // with the guarantee
  SearchPartProblem part;
  bool on() const { return options.guarantee.on(); }
};

void PrepareSearch(const SweepCellInput& in, const PlacementProblem& p, GuaranteedSearch* g) {
  g->options = ThresholdOptions(*in.method, *in.dump);
  if (g->on()) {
    MakeSearchPart(p, MethodFromString(SettingsOf(*in.method).placement_solver, "option solver"),
                   g->options, &g->part);
  }
}

void Certify(const SweepCellInput& in, const PlacementProblem& p, const GuaranteedSearch& g,
             ResultRow& row) {
  if (!g.on()) return;
  row.budget = in.budget;
  CertifyRow(p, MethodFromString(SettingsOf(*in.method).placement_solver, "option solver"),
             g.options, row);
}

ThresholdSolverFn SearchSolver(const SweepMethod& m, const GuaranteedSearch& g) {
  SolverOptions o = g.options;
  o.guarantee.level = 0.0;
  return SolverFor(MethodFromString(SettingsOf(m).placement_solver, "option solver"), o);
}

void RunGreedy(GreedyRule rule, const SweepCellInput& in, ResultRow& row) {
  const PlacementProblem p = MakePlacementProblem(in);
  GuaranteedSearch gs;
  PrepareSearch(in, p, &gs);
  GreedyOptions g;
  g.rule = rule;
  g.budget = in.budget;
  const GreedySummary s = Greedy(gs.on() ? gs.part.problem : p, g, SearchSolver(*in.method, gs));
  row.outcome = ToString(s.outcome);
  row.message = s.message;
  if (s.ok()) FillPolicy(s.policy, s.fit, s.eval, row);
  Certify(in, p, gs, row);
}

void RunExhaustive(const SweepCellInput& in, ResultRow& row) {
  const PlacementProblem full = MakePlacementProblem(in);
  GuaranteedSearch gs;
  PrepareSearch(in, full, &gs);
  const PlacementProblem& p = gs.on() ? gs.part.problem : full;
  const MethodSettings st = SettingsOf(*in.method);
  ExhaustiveOptions e = st.exhaustive;
  e.budgets = {in.budget};
  e.threads = 1;  // the sweep already runs cells in parallel
  if (in.method->options.count("max_candidates")) e.max_candidates = st.exhaustive.max_candidates;
  if (st.fast && st.placement_solver != "exact") {
    throw InputError("option fast of method exhaustive",
                     "the fast path exists for solver exact only");
  }
  e.exact_path = st.fast;
  const ExhaustiveSummary s = Exhaustive(p, e, SearchSolver(*in.method, gs));
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
  Certify(in, full, gs, row);
}

// Budget-free placement rules (flop-score, greedy-th, greedy-efficiency) choose a policy from a
// tolerance T (option `tolerance`, and `th` for greedy-th) without a budget: the cell reports that
// policy at every budget, labelled over_budget by the sweep (LabelRowBudget) where its fit cost
// exceeds the budget.

void RunRule(GreedyRule rule, const SweepCellInput& in, ResultRow& row) {
  PlacementProblem p = MakePlacementProblem(in);
  p.ca_correct = CaCorrect(in);
  GreedyOptions g = SettingsOf(*in.method).greedy;
  g.rule = rule;
  g.budget = in.budget;
  const GreedySummary s = Greedy(p, g);
  row.outcome = ToString(s.outcome);
  row.message = s.message;
  if (s.ok()) FillPolicy(s.policy, s.fit, s.eval, row);
}

void RunFlopScore(const SweepCellInput& in, ResultRow& row) {
  PlacementProblem p = MakePlacementProblem(in);
  p.ca_correct = CaCorrect(in);
  FlopScoreOptions o = SettingsOf(*in.method).flop_score;
  o.threads = 1;  // the sweep already runs cells in parallel
  const FlopScoreSummary s = FlopScore(p, o);
  row.outcome = ToString(s.outcome);
  row.message = s.message;
  if (s.ok()) FillPolicy(s.policy, s.fit, s.eval, row);
}

// EENet (optim/eenet.hpp): a learned utility scorer trained per cell at its budget; the
// row's measure is "eenet" and its thresholds apply to the scorer's outputs.
EENetOptions EENetOptionsFrom(const SweepMethod& m) { return SettingsOf(m).eenet; }

void RunEENet(const SweepCellInput& in, ResultRow& row) {
  const EENetOptions o = EENetOptionsFrom(*in.method);
  const SplitData& fit = in.dump->fit;
  const std::vector<double> stop = in.profile->StopCostsAllKept();
  const EENetSummary s = FitEENet(fit, fit.Correct(in.target), stop, in.budget, o);
  row.measure = "eenet";
  row.outcome = ToString(s.outcome);
  row.message = s.message;
  row.kept_exits = s.policy.kept;
  if (!HasPolicy(s.outcome)) return;
  Evaluation eval;
  if (in.dump->eval) {
    const ScoreMatrix q = s.scorer.Score(*in.dump->eval);
    eval = Evaluate(q, ScoreOrder::kDescending, in.dump->eval->Correct(in.target), stop, s.policy);
  }
  FillPolicy(s.policy, s.fit, eval, row);
}

// Every method's row gets the shift check (dse/place_run.hpp, ShiftCheckRow): a threshold method
// re-solved by itself on the selection part, a placement method's kept set by its `solver`. Not
// EENet's: its scores are the scorer's, not the dump's measure.
SweepMethodFn WithShiftCheck(const std::string& name, SweepMethodFn fn) {
  const std::vector<std::string> threshold_methods = MethodNames();
  const bool threshold_method = std::find(threshold_methods.begin(), threshold_methods.end(),
                                          name) != threshold_methods.end();
  return [name, fn, threshold_method](const SweepCellInput& in, ResultRow& row) {
    fn(in, row);
    if (row.measure == "eenet" || !in.dump->eval) return;
    const Method solver =
        threshold_method
            ? MethodFromString(name)
            : MethodFromString(SettingsOf(*in.method).placement_solver, "option solver");
    ShiftCheckRow(MakePlacementProblem(in), solver, ThresholdOptions(*in.method, *in.dump), row);
  };
}

std::map<std::string, SweepMethodFn>& Registry() {
  static std::map<std::string, SweepMethodFn> registry = [] {
    std::map<std::string, SweepMethodFn> r;
    // Every threshold method of optim/solve.hpp; a new method there appears here by itself.
    for (const std::string& name : MethodNames()) {
      const Method m = MethodFromString(name);
      r[name] = [m](const SweepCellInput& in, ResultRow& row) { RunThresholdMethod(m, in, row); };
    }
    // dse/ methods (placement searches): one line each.
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
    // Learned scorers.
    r["eenet"] = [](const SweepCellInput& in, ResultRow& row) { RunEENet(in, row); };
    for (auto& [name, fn] : r) fn = WithShiftCheck(name, fn);
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
