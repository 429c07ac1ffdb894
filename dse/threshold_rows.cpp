#include "dse/threshold_rows.hpp"

#include <cmath>
#include <limits>

#include "optim/guarantee.hpp"
#include "optim/shift.hpp"
#include "profiles/error.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/types.hpp"

namespace exitplan {

SolverOptions ThresholdSolverOptions(const OptionValues& v, bool* horizon_given) {
  MethodSettings settings;
  v.ApplyTo(settings);
  SolverOptions solver = settings.solver;
  solver.guarantee.bound = GuaranteeBoundFromString(v.Text("guarantee_bound"), "--guarantee-bound");
  if (v.Text("ippp_settings") == "paper") {
    // Tan et al. (AAAI 2021): their steepness and penalty are the defaults already; the paper
    // setting keeps iPPP's raw answers (no feasibility step), which may exceed the budget.
    solver.feasibility_rounds = 0;
  }
  *horizon_given = v.Has("horizon");
  if (*horizon_given) {
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
  return solver;
}

ThresholdRunOptions ThresholdRunOptionsFrom(const OptionValues& v) {
  ThresholdRunOptions o;
  o.method = MethodFromString(v.Text("method"));
  o.target = TargetFromString(v.Text("correct"), "--correct");
  CheckGivenOptionsApply(v, {ToString(o.method)});
  o.accuracy_target = v.Has("accuracy_drop");
  if (v.Has("budget") == o.accuracy_target) {
    throw InputError("--budget", "give either --budget (" + std::string(kBudgetGrammar) +
                                     ") or --accuracy-drop");
  }
  if (v.Has("budget")) o.budgets = v.Budgets("budget");
  o.solver = ThresholdSolverOptions(v, &o.horizon_given);
  return o;
}

void DefaultHorizon(const Dump& dump, bool horizon_given, SolverOptions& solver) {
  if (solver.guarantee.on() && !horizon_given) {
    solver.guarantee.horizon =
        dump.eval ? static_cast<double>(dump.eval->n) : std::numeric_limits<double>::infinity();
  }
}

ThresholdRowsResult ThresholdRows(const Dump& dump, const CostProfile& profile,
                                  const ThresholdRowsRequest& q, const SolverOptions& solver) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  ThresholdRowsResult out;
  int shift_fired = 0;
  const ThresholdProblem base =
      ThresholdProblem::From(dump.fit, q.measure, q.target, profile, q.kept, 0.0);
  ProgressPhase(q.progress, "budgets", "budgets", q.budgets.size());
  const std::vector<ThresholdSummary> solved =
      SolveBudgets(q.method, base, q.budgets, solver, q.progress);
  // Shift check: the same method fitted on part of the fit split, its policy tested on the rest
  // against the eval split (optim/shift.hpp).
  std::vector<ShiftResult> shift;
  if (dump.eval) {
    const ThresholdProblem ep =
        ThresholdProblem::From(*dump.eval, q.measure, q.target, profile, q.kept, 0.0);
    shift = ShiftChecks(q.method, base, ep, q.budgets, solver, q.shift_level);
  }
  for (std::size_t bi = 0; bi < q.budgets.size(); ++bi) {
    const double b = q.budgets[bi];
    const ThresholdSummary& s = solved[bi];
    if (q.verbose) out.reports += s.FullReport();
    ResultRow r;
    r.model = q.model;
    r.target = profile.target;
    r.unit = profile.unit;
    r.method = s.method;
    r.measure = ToString(q.measure);
    r.kept_exits = q.kept;
    r.budget = q.accuracy_target ? kNaN : b;
    r.seconds = s.seconds;
    r.outcome = ToString(s.outcome);
    r.message = s.message;
    r.guarantee = s.guarantee;
    if (!s.has_policy()) {  // the level asked for; no certified bounds
      r.guarantee.cost_bound = r.guarantee.accuracy_bound = r.guarantee.drop_bound = kNaN;
    }
    if (s.has_policy()) {  // over-budget answers too: shown, labelled, never on the front
      r.thresholds = s.policy.thresholds;
      r.fit_acc = s.fit.accuracy;
      r.fit_cost = s.fit.mean_cost;
      r.exit_fractions = s.fit.exit_fraction;
      if (dump.eval) {
        const Evaluation ev = EvaluateSplit(*dump.eval, q.measure, q.target, profile, s.policy);
        r.eval_acc = ev.accuracy;
        r.eval_cost = ev.mean_cost;
        const ShiftResult& sh = shift[bi];
        if (sh.tested) {
          r.message +=
              "; shift check p = " + FormatDouble(sh.p_value) + (sh.shifted ? " (shifted)" : "");
          r.shift_p = sh.p_value;
          r.shift_fired = sh.shifted;
          if (sh.shifted && shift_fired++ == 0) out.notes.push_back(sh.Warning());
        }
      }
    }
    if (!s.ok()) {
      ++out.failed;
      out.notes.push_back(s.method + ": " + ToString(s.outcome) + ": " + s.message);
    }
    out.rows.push_back(r);
  }
  if (shift_fired > 1) {
    out.notes.push_back("the shift check fired at " + std::to_string(shift_fired) + " of " +
                        std::to_string(out.rows.size()) + " budgets");
  }
  MarkPareto(out.rows);
  return out;
}

}  // namespace exitplan
