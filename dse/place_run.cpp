#include "dse/place_run.hpp"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <sstream>

#include "dse/exhaustive.hpp"
#include "dse/flop_score.hpp"
#include "dse/greedy.hpp"
#include "dse/threshold_rows.hpp"
#include "optim/guarantee.hpp"
#include "optim/shift.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/parallel.hpp"

namespace exitplan {
namespace {

void Appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void Appendf(std::string& out, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (static_cast<std::size_t>(n) < sizeof buf) {
    out += buf;
    return;
  }
  std::string big(static_cast<std::size_t>(n) + 1, '\0');
  va_start(ap, fmt);
  std::vsnprintf(big.data(), big.size(), fmt, ap);
  va_end(ap);
  big.pop_back();
  out += big;
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

void PolicyText(std::string& out, const CostProfile& prof, const Policy& pol, const Evaluation& fit,
                const Evaluation& eval, const std::string& indent) {
  Appendf(out, "%skept exits: %s (%s)\n", indent.c_str(), KeptText(pol.kept).c_str(),
          Names(prof, pol.kept).c_str());
  Appendf(out, "%sthresholds: %s\n", indent.c_str(), JoinDoubles(pol.thresholds, ", ").c_str());
  Appendf(out, "%sfit:  accuracy %.4f  cost %s %s\n", indent.c_str(), fit.accuracy,
          Fmt(fit.mean_cost).c_str(), prof.unit.c_str());
  if (eval.n > 0) {
    Appendf(out, "%seval: accuracy %.4f  cost %s %s\n", indent.c_str(), eval.accuracy,
            Fmt(eval.mean_cost).c_str(), prof.unit.c_str());
  }
}

}  // namespace

std::string PlaceRunOptions::Validate() const {
  std::string out;
  if (methods.empty()) out += "no placement method given\n";
  if (!(tolerance > 0.0 && tolerance < 1.0)) {
    out +=
        "tolerance = " + FormatDouble(tolerance) + ": must be in (0, 1) (a fraction of accuracy)\n";
  }
  if (!(th >= 0.0 && th <= 1.0)) out += "TH = " + FormatDouble(th) + ": must be in [0, 1]\n";
  if (threads < 1) out += "threads = " + std::to_string(threads) + ": must be >= 1\n";
  if (even < 0) out += "even = " + std::to_string(even) + ": must be >= 0\n";
  if (polish < 0) out += "polish = " + std::to_string(polish) + ": must be >= 0\n";
  for (double b : budgets) {
    if (!(std::isfinite(b) && b > 0)) {
      out += "budget " + FormatDouble(b) + ": must be finite and > 0\n";
      break;
    }
  }
  const bool needs_budget = std::any_of(methods.begin(), methods.end(), [](PlacementMethod m) {
    return m == PlacementMethod::kGreedyForward || m == PlacementMethod::kGreedyBackward;
  });
  if (needs_budget && budgets.empty()) {
    out += "greedy-forward and greedy-backward need at least one budget\n";
  }
  if (!out.empty()) out.pop_back();
  return out;
}

PlaceRequest PlaceRequestFrom(const OptionValues& v) {
  PlaceRequest q;
  PlaceRunOptions& o = q.run;
  {
    std::stringstream ss(v.Has("method") ? v.Text("method") : "flop-score");
    std::string item;
    while (std::getline(ss, item, ',')) {
      o.methods.push_back(PlacementMethodFromString(item));
      q.method_names.push_back(ToString(o.methods.back()));
    }
    if (o.methods.empty()) throw InputError("--method", "no method given");
  }
  MethodSettings settings;
  v.ApplyTo(settings);
  CheckGivenOptionsApply(v, q.method_names, settings.placement_solver);
  q.target = TargetFromString(v.Text("correct"), "--correct");
  q.ca_target = TargetFromString(v.Text("ca"), "--ca");
  q.ca_given = v.Has("ca");
  o.solver = MethodFromString(settings.placement_solver, "--solver");
  if (settings.fast && o.solver != Method::kExact) {
    throw InputError("--fast", "the fast path exists for --solver exact only");
  }
  if (v.Has("polish") && !settings.fast) {
    throw InputError("--polish", "polishes the fast path's answers: give --fast too");
  }
  if (v.Has("budget")) q.budgets = v.Budgets("budget");
  const bool needs_budget = std::any_of(o.methods.begin(), o.methods.end(), [](PlacementMethod m) {
    return m == PlacementMethod::kGreedyForward || m == PlacementMethod::kGreedyBackward;
  });
  if (needs_budget && q.budgets.empty()) {
    throw InputError("--budget", "greedy-forward and greedy-backward need at least one budget");
  }
  q.out = v.Text("out");
  if (!q.out.empty() && q.out.size() < 5) {
    throw InputError("--out", "expected a file name ending in .csv");
  }
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
  // The solver options with the guarantee's bound and horizon (DefaultHorizon fills the horizon
  // from the dump when --horizon is not given).
  o.solver_options = ThresholdSolverOptions(v, &q.horizon_given);
  o.verbose = v.Bool("verbose");
  return q;
}

PlacementProblem PlaceProblemFor(const Dump& dump, const CostProfile& profile, Measure measure,
                                 const PlaceRequest& q) {
  const SplitData& fit = dump.fit;
  PlacementProblem problem;
  problem.scores = &fit.Scores(measure);
  problem.order = fit.Order(measure);
  problem.correct = &fit.Correct(q.target);
  const bool rules = std::any_of(q.run.methods.begin(), q.run.methods.end(), [](PlacementMethod m) {
    return m == PlacementMethod::kFlopScore || m == PlacementMethod::kGreedyEfficiency ||
           m == PlacementMethod::kGreedyTh;
  });
  if (rules) {
    Target ca = q.ca_target;
    if (ca == Target::kAgreement && !fit.has_logits()) {
      if (q.ca_given) {
        throw InputError("--ca", "agreement with exit K needs logits, but " + fit.source +
                                     " is a scores-mode dump: use --ca labels");
      }
      ca = Target::kLabels;  // picked by itself on a scores-mode dump, like the measure
    }
    problem.ca_correct = &fit.Correct(ca);
  }
  problem.profile = &profile;
  if (dump.eval) {
    problem.eval_scores = &dump.eval->Scores(measure);
    problem.eval_correct = &dump.eval->Correct(q.target);
  }
  return problem;
}

std::vector<double> PlaceBudgets(const PlaceRequest& q, const CostProfile& profile) {
  std::vector<double> budgets = ResolveBudgets(q.budgets, profile);
  const bool has_exhaustive = std::find(q.run.methods.begin(), q.run.methods.end(),
                                        PlacementMethod::kExhaustive) != q.run.methods.end();
  if (budgets.empty() && has_exhaustive) budgets = DefaultPlaceBudgets(profile);
  return budgets;
}

bool PlaceRunResult::any_solution() const {
  return std::any_of(rows.begin(), rows.end(), [](const ResultRow& r) { return r.has_solution(); });
}

std::vector<double> DefaultPlaceBudgets(const CostProfile& prof) {
  const double full = prof.FullCost();
  double cheapest = full;  // cheapest policy of any kept set: everything stops at one exit
  for (int j = 0; j < prof.k(); ++j) cheapest = std::min(cheapest, prof.backbone[j] + prof.head[j]);
  std::vector<double> budgets;
  for (int i = 0; i < 50; ++i) budgets.push_back(cheapest + (full - cheapest) * i / 49.0);
  return budgets;
}

void MakeSearchPart(const PlacementProblem& p, Method solver, const SolverOptions& o,
                    SearchPartProblem* out) {
  const std::vector<int> idx = GuaranteeSearchPart(
      p.n(), o.seed, o.guarantee.PlacementSearchFraction(solver, !std::isnan(o.accuracy_drop)));
  const auto n = static_cast<Eigen::Index>(idx.size());
  out->scores.resize(p.scores->rows(), n);
  out->correct.resize(p.correct->rows(), n);
  if (p.ca_correct) out->ca_correct.resize(p.ca_correct->rows(), n);
  for (Eigen::Index j = 0; j < n; ++j) {
    out->scores.col(j) = p.scores->col(idx[j]);
    out->correct.col(j) = p.correct->col(idx[j]);
    if (p.ca_correct) out->ca_correct.col(j) = p.ca_correct->col(idx[j]);
  }
  out->problem = p;
  out->problem.scores = &out->scores;
  out->problem.correct = &out->correct;
  out->problem.ca_correct = p.ca_correct ? &out->ca_correct : nullptr;
}

void CertifyRow(const PlacementProblem& p, Method solver, const SolverOptions& options,
                ResultRow& r) {
  if (!r.has_policy() || r.kept_exits.empty()) return;
  // The certification splits the fit split exactly as the search did (MakeSearchPart).
  SolverOptions o = options;
  o.guarantee.search_fraction =
      o.guarantee.PlacementSearchFraction(solver, !std::isnan(o.accuracy_drop));
  const int ns =
      static_cast<int>(GuaranteeSearchPart(p.n(), o.seed, o.guarantee.search_fraction).size());
  const std::string where = "kept set " + KeptText(r.kept_exits) + " chosen on the search part (" +
                            std::to_string(ns) + " of " + std::to_string(p.n()) + " fit samples)";
  if (std::isnan(r.budget)) {
    Policy pol;
    pol.kept = r.kept_exits;
    pol.thresholds = r.thresholds;
    ResultRow m =
        MakeRow(p, r.method, pol, p.EvaluateFit(pol), r.budget, r.seconds, r.outcome,
                where + ", with its thresholds; no budget, so nothing certified; " + r.message);
    m.model = r.model;
    m.measure = r.measure;
    r = m;
    return;
  }
  const ThresholdSummary s = Solve(solver, p.Thresholds(r.kept_exits, r.budget), o);
  ResultRow m = MakeRow(p, r.method, s.policy, s.has_policy() ? s.fit : Evaluation{}, r.budget,
                        r.seconds + s.seconds, ToString(s.outcome), where + "; " + s.message);
  m.kept_exits = r.kept_exits;
  m.model = r.model;
  m.measure = r.measure;
  m.guarantee = s.guarantee;
  if (!s.has_policy()) {
    m.guarantee.cost_bound = m.guarantee.accuracy_bound = m.guarantee.drop_bound =
        std::numeric_limits<double>::quiet_NaN();
  }
  r = m;
}

void ShiftCheckRow(const PlacementProblem& p, Method solver, const SolverOptions& options,
                   ResultRow& r, double alpha) {
  if (!p.has_eval() || !r.has_policy() || r.kept_exits.empty() ||
      r.thresholds.size() + 1 != r.kept_exits.size()) {
    return;
  }
  // The row's kept set, its thresholds solved by `solver` on the selection part at the row's
  // budget (a budget-free rule's row: at its fit cost), tested on the held-out part against eval.
  const double budget = std::isnan(r.budget) ? r.fit_cost : r.budget;
  const ThresholdProblem fit = p.Thresholds(r.kept_exits, budget);
  ThresholdProblem eval = fit;
  eval.scores = p.eval_scores;
  eval.correct = p.eval_correct;
  SolverOptions o = options;  // the selection part: the placement's search part
  if (o.guarantee.on()) {
    o.guarantee.search_fraction =
        o.guarantee.PlacementSearchFraction(solver, !std::isnan(o.accuracy_drop));
  }
  const ShiftResult sh = ShiftChecks(solver, fit, eval, {fit.budget}, o, alpha)[0];
  if (!sh.tested) return;
  r.shift_p = sh.p_value;
  r.shift_fired = sh.shifted;
}

namespace {

// RunPlace with the guarantee: the search on the search part, each row certified.
PlaceRunResult RunPlaceGuaranteed(const PlacementProblem& problem, const PlaceRunOptions& a) {
  if (a.all_rows) {
    throw InputError("--all-rows",
                     "lists every kept set's answer, which --guarantee does not "
                     "certify (only the kept set chosen at each budget is): give one "
                     "of them");
  }
  SearchPartProblem sp;
  MakeSearchPart(problem, a.solver, a.solver_options, &sp);
  PlaceRunOptions inner = a;
  inner.solver_options.guarantee.level = 0.0;
  PlaceRunResult res = RunPlace(sp.problem, inner);
  const GuaranteeOptions& g = a.solver_options.guarantee;
  std::string text;
  Appendf(text,
          "\nguarantee %s (%s, horizon %s): the placement is searched on the search part "
          "(%d of %d fit samples; the figures below are on it), and each chosen kept set's "
          "thresholds are certified on the other %d (see the certified rows after them)\n",
          FormatDouble(g.level).c_str(), ToString(g.bound).c_str(),
          std::isinf(g.horizon) ? "inf" : FormatDouble(g.horizon).c_str(), sp.problem.n(),
          problem.n(), problem.n() - sp.problem.n());
  res.text = text + res.text;
  res.failures = 0;
  Appendf(res.text, "\ncertified rows (--guarantee %s; fit figures on the whole fit split):\n",
          FormatDouble(g.level).c_str());
  Appendf(res.text, "  %-28s %-10s %-18s %9s %11s %9s %11s  %s\n", "method", "budget", "kept exits",
          "fit_acc", "fit_cost", "eval_acc", "eval_cost", "outcome");
  for (ResultRow& r : res.rows) {
    CertifyRow(problem, a.solver, a.solver_options, r);
    LabelRowBudget(r, problem.profile->FullCost());
    ShiftCheckRow(problem, a.solver, a.solver_options, r);
    if (!std::isnan(r.budget) && !r.has_solution()) ++res.failures;
    auto num = [](double v, const char* f) {
      char b[32];
      if (std::isnan(v)) return std::string("-");
      std::snprintf(b, sizeof b, f, v);
      return std::string(b);
    };
    Appendf(res.text, "  %-28s %-10s %-18s %9s %11s %9s %11s  %s\n", r.method.c_str(),
            num(r.budget, "%.6g").c_str(), KeptText(r.kept_exits).c_str(),
            num(r.fit_acc, "%.4f").c_str(), num(r.fit_cost, "%.6g").c_str(),
            num(r.eval_acc, "%.4f").c_str(), num(r.eval_cost, "%.6g").c_str(), r.outcome.c_str());
  }
  MarkPareto(res.rows);
  const Policy run_to_end = RunToEndPolicy(AllExits(problem.k()), problem.order);
  res.reference_fit = problem.EvaluateFit(run_to_end);
  res.reference_eval = problem.EvaluateEval(run_to_end);
  return res;
}

}  // namespace

PlaceRunResult RunPlace(const PlacementProblem& problem, const PlaceRunOptions& a) {
  if (const std::string bad = a.Validate(); !bad.empty()) throw InputError("place", bad);
  if (const std::string bad = problem.Check(); !bad.empty()) throw InputError("place", bad);
  // The enumerations' candidate limits, before any method runs.
  for (PlacementMethod m : a.methods) {
    std::string err;
    if (m == PlacementMethod::kFlopScore) {
      FlopScoreOptions o;
      if (a.max_candidates > 0) o.max_candidates = a.max_candidates;
      err = FlopScoreLimitError(problem.candidates(), o);
    } else if (m == PlacementMethod::kExhaustive) {
      ExhaustiveOptions o;
      if (a.max_candidates > 0) o.max_candidates = a.max_candidates;
      err = ExhaustiveLimitError(problem.candidates(), o);
    }
    if (!err.empty()) throw InputError(ToString(m), err);
  }
  if (a.solver_options.guarantee.on()) return RunPlaceGuaranteed(problem, a);
  const CostProfile& prof = *problem.profile;
  const int k = problem.k();
  PlaceRunResult res;
  std::string& text = res.text;
  std::vector<double>& budgets = res.budgets;
  budgets = a.budgets;
  const bool has_exhaustive = std::find(a.methods.begin(), a.methods.end(),
                                        PlacementMethod::kExhaustive) != a.methods.end();
  if (budgets.empty() && has_exhaustive) budgets = DefaultPlaceBudgets(prof);
  const std::string solver_name = ToString(a.solver);

  const ThresholdSolverFn solver = SolverFor(a.solver, a.solver_options);
  Progress* progress = a.progress;
  // The whole run's work, planned up front: subsets of the enumerations, budgets of the rest.
  {
    const int m = problem.candidates();
    const std::uint64_t subsets = m < 63 ? std::uint64_t{1} << m : 0;
    const std::uint64_t nb = budgets.size();
    std::uint64_t total = 0;
    for (PlacementMethod meth : a.methods) {
      if (meth == PlacementMethod::kFlopScore) total += subsets + nb;
      if (meth == PlacementMethod::kGreedyEfficiency || meth == PlacementMethod::kGreedyTh) {
        total += 1 + nb;
      }
      if (meth == PlacementMethod::kGreedyForward || meth == PlacementMethod::kGreedyBackward) {
        total += nb;
      }
      if (meth == PlacementMethod::kExhaustive) total += subsets + (a.compare ? nb : 0);
    }
    if (a.compare && !budgets.empty()) total += 2 * nb;
    if (progress) progress->Plan(total);
  }
  // The serial parts run on this thread: a cancelled run stops at the next item.
  auto advance = [&](const std::string& detail = "") {
    ProgressAdvance(progress, 1, detail);
    ProgressRethrow(progress);
  };
  std::vector<ResultRow>& rows = res.rows;
  auto add_row = [&](ResultRow r) {
    r.model = a.model;
    r.measure = a.measure;
    LabelRowBudget(r, prof.FullCost());
    rows.push_back(std::move(r));
  };
  // A fixed kept set solved at every budget, as a comparison series.
  auto series = [&](const std::string& name, const std::vector<int>& kept) {
    int solved = 0;
    ProgressPhase(progress, name, "budgets", budgets.size());
    for (double b : budgets) {
      const ThresholdSummary s = solver(problem.Thresholds(kept, b));
      ResultRow r = MakeRow(problem, name, s.policy, s.has_policy() ? s.fit : Evaluation{}, b,
                            s.seconds, ToString(s.outcome), s.message);
      r.kept_exits = kept;
      if (s.ok()) ++solved;
      add_row(std::move(r));
      advance();
    }
    return solved;
  };

  for (PlacementMethod m : a.methods) {
    const std::string name = ToString(m);
    if (m == PlacementMethod::kFlopScore) {
      FlopScoreOptions o;
      o.tolerance = a.tolerance;
      o.threads = a.threads;
      o.keep_top = 5;
      if (a.max_candidates > 0) o.max_candidates = a.max_candidates;
      o.progress = progress;
      const FlopScoreSummary s = FlopScore(problem, o);
      Appendf(text, "\n%s\n", s.BriefReport().c_str());
      PolicyText(text, prof, s.policy, s.fit, s.eval, "  ");
      Appendf(text, "  best subsets by eq. 4 (score in %s x samples):\n", prof.unit.c_str());
      for (const SubsetScore& t : s.top) {
        Appendf(text, "    %-20s score %s\n", KeptText(t.kept).c_str(), Fmt(t.score).c_str());
      }
      add_row(MakeRow(problem, name, s.policy, s.fit, std::nan(""), s.seconds, ToString(s.outcome),
                      s.message));
      if (!budgets.empty()) series(name + "+" + solver_name, s.policy.kept);
    } else if (m == PlacementMethod::kGreedyEfficiency || m == PlacementMethod::kGreedyTh) {
      GreedyOptions o;
      o.rule = m == PlacementMethod::kGreedyTh ? GreedyRule::kTh : GreedyRule::kEfficiency;
      o.tolerance = a.tolerance;
      o.th = a.th;
      ProgressPhase(progress, name, "scans", 1);
      const GreedySummary s = Greedy(problem, o);
      advance();
      Appendf(text, "\n%s\n", s.BriefReport().c_str());
      PolicyText(text, prof, s.policy, s.fit, s.eval, "  ");
      if (a.verbose) {
        for (const GreedyStep& st : s.steps) {
          Appendf(text, "    exit %d: I=%.4f I'=%.4f lhs=%s rhs=%s -> %s\n", st.exit + 1,
                  st.i_reach, st.i_next, Fmt(st.lhs).c_str(), Fmt(st.rhs).c_str(),
                  st.kept ? "keep" : "drop");
        }
      }
      add_row(MakeRow(problem, name, s.policy, s.fit, std::nan(""), s.seconds, ToString(s.outcome),
                      s.message));
      if (!budgets.empty()) series(name + "+" + solver_name, s.policy.kept);
    } else if (m == PlacementMethod::kGreedyForward || m == PlacementMethod::kGreedyBackward) {
      Appendf(text, "\n%s (thresholds by %s):\n", name.c_str(), solver_name.c_str());
      ProgressPhase(progress, name, "budgets", budgets.size());
      for (double b : budgets) {
        GreedyOptions o;
        o.rule =
            m == PlacementMethod::kGreedyForward ? GreedyRule::kForward : GreedyRule::kBackward;
        o.budget = b;
        // Each threshold solve of the search is reported (the steps of one budget can be long).
        int solves = 0;
        const ThresholdSolverFn counted = [&](const ThresholdProblem& tp) {
          ThresholdSummary ts = solver(tp);
          ProgressAdvance(progress, 0, "budget " + Fmt(b) + ": solve " + std::to_string(++solves));
          ProgressRethrow(progress);
          return ts;
        };
        const GreedySummary s = Greedy(problem, o, progress ? counted : solver);
        Appendf(text, "  budget %s: %s\n", Fmt(b).c_str(), s.BriefReport().c_str());
        if (s.ok()) PolicyText(text, prof, s.policy, s.fit, s.eval, "    ");
        if (!s.ok()) ++res.failures;
        add_row(MakeRow(problem, name, s.policy, s.ok() ? s.fit : Evaluation{}, b, s.seconds,
                        ToString(s.outcome), s.message));
        advance(std::to_string(s.steps.size()) + " steps at budget " + Fmt(b));
      }
    } else {
      ExhaustiveOptions o;
      o.budgets = budgets;
      o.threads = a.threads;
      if (a.max_candidates > 0) o.max_candidates = a.max_candidates;
      o.exact_path = a.solver == Method::kExact && a.exact_path;
      o.polish_top = o.exact_path ? a.polish : 0;
      o.prune = a.prune;
      o.reuse = a.reuse;
      o.progress = progress;
      // Warm starts across budgets belong to the fast path: a warm-started exact solve can end
      // below the cold one, and exhaustive must never be below any kept set solved alone.
      const ExhaustiveSummary s =
          Exhaustive(problem, o, solver,
                     o.exact_path ? WarmSolverFor(a.solver, a.solver_options) : WarmSolverFn{});
      Appendf(text, "\n%s\n", s.BriefReport().c_str());
      if (!s.ok()) ++res.failures;
      // Best subset per budget.
      Appendf(text, "  %-10s %-18s %9s %11s %9s %11s\n", "budget", "kept exits", "fit_acc",
              "fit_cost", "eval_acc", "eval_cost");
      std::map<SubsetMask, int> wins;
      std::map<SubsetMask, double> acc_sum;
      for (const SubsetSolution& sol : s.solutions) acc_sum[sol.mask] += sol.summary.fit.accuracy;
      for (std::size_t bi = 0; bi < budgets.size(); ++bi) {
        const int q = s.best_per_budget.empty() ? -1 : s.best_per_budget[bi];
        if (q < 0) {
          Appendf(text, "  %-10s infeasible\n", Fmt(budgets[bi]).c_str());
          continue;
        }
        const SubsetSolution& sol = s.solutions[q];
        ++wins[sol.mask];
        ResultRow r =
            MakeRow(problem, name, sol.summary.policy, sol.summary.fit, budgets[bi],
                    sol.summary.seconds, ToString(sol.summary.outcome), sol.summary.message);
        Appendf(text, "  %-10s %-18s %9.4f %11s %9.4f %11s\n", Fmt(budgets[bi]).c_str(),
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
        const std::vector<int> kept = KeptFromMask(best, k);
        Appendf(text,
                "  best single kept set over the budgets: %s (%s), best at %d of %zu "
                "budgets, mean fit accuracy %.4f\n",
                KeptText(kept).c_str(), Names(prof, kept).c_str(), wins[best], budgets.size(),
                best_sum / budgets.size());
        if (a.compare) series("best-subset", kept);
      }
    }
  }
  if (a.compare && !budgets.empty()) {
    const std::vector<int> even = EvenlySpacedExits(prof, a.even);
    Appendf(text,
            "\ncomparison series (thresholds by %s at every budget): all-exits (%s), even-%d "
            "(%s)\n",
            solver_name.c_str(), KeptText(AllExits(k)).c_str(), a.even, KeptText(even).c_str());
    series("all-exits", AllExits(k));
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
      Appendf(text, "  %-28s mean fit accuracy %.4f over %d budgets", meth.c_str(),
              v.first / v.second, v.second);
      if (mean_eval.count(meth)) {
        Appendf(text, ", mean eval accuracy %.4f", mean_eval[meth].first / mean_eval[meth].second);
      }
      Appendf(text, "\n");
    }
  }
  for (ResultRow& r : rows) ShiftCheckRow(problem, a.solver, a.solver_options, r);
  MarkPareto(rows);
  const Policy run_to_end = RunToEndPolicy(AllExits(k), problem.order);
  res.reference_fit = problem.EvaluateFit(run_to_end);
  res.reference_eval = problem.EvaluateEval(run_to_end);
  return res;
}

}  // namespace exitplan
