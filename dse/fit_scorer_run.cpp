#include "dse/fit_scorer_run.hpp"

#include <cstdio>
#include <optional>

#include "optim/calibration.hpp"
#include "optim/eenet_compare.hpp"
#include "optim/solve.hpp"
#include "profiles/error.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/types.hpp"

namespace exitplan {

FitScorerRequest FitScorerRequestFrom(const OptionValues& v) {
  CheckGivenOptionsApply(v, {"eenet"});
  MethodSettings settings;
  v.ApplyTo(settings);
  FitScorerRequest q;
  q.eenet = settings.eenet;
  if (!v.Has("budget")) throw InputError("--budget", std::string("required: ") + kBudgetGrammar);
  const std::vector<Budget> budgets = v.Budgets("budget");
  if (budgets.size() != 1) throw InputError("--budget", "fit-scorer trains for one budget");
  q.budget = budgets[0];
  q.threshold_method = v.Text("threshold_method");
  q.target = TargetFromString(v.Text("correct"), "--correct");
  q.calibrate = v.Bool("calibrate");
  return q;
}

double FitScorerBudget(const FitScorerRequest& q, const CostProfile& profile) {
  return q.budget.Resolve(profile);
}

std::string FitScorerResult::Text(bool verbose) const {
  std::string out = verbose ? summary.FullReport() : summary.BriefReport() + "\n";
  if (!ok()) return out;
  for (const std::string& line : resolved) out += "re-solved on learned scores: " + line + "\n";
  out +=
      "thresholds (" + threshold_method + "): " + JoinDoubles(file.policy.thresholds, ",") + "\n";
  for (const FitScorerFigure& f : figures) {
    char line[160];
    std::snprintf(line, sizeof line, "%-28s %-5s accuracy %.4f  mean_cost %.6g  exit_fractions ",
                  f.policy.c_str(), f.split.c_str(), f.eval.accuracy, f.eval.mean_cost);
    out += line + JoinDoubles(f.eval.exit_fraction, ",") + "\n";
  }
  // One line of what was done: the training, and the chosen policy's figures on every split.
  char line[256];
  std::snprintf(line, sizeof line,
                "summary: %d epochs (best %d), final training loss %.6g, best "
                "held-out loss %.6g; eenet + %s thresholds at budget %.6g %s:",
                summary.epochs, summary.best_epoch,
                summary.train_loss.empty() ? 0.0 : summary.train_loss.back(),
                summary.best_holdout_loss, threshold_method.c_str(), budget, file.unit.c_str());
  out += line;
  for (const FitScorerFigure& f : figures) {
    if (f.policy != "eenet") continue;
    std::snprintf(line, sizeof line, " %s accuracy %.4f cost %.6g;", f.split.c_str(),
                  f.eval.accuracy, f.eval.mean_cost);
    out += line;
  }
  out.back() = '\n';
  out += "note: " + note + "\n";
  return out;
}

FitScorerResult RunFitScorer(const Dump& dump_in, const CostProfile& profile,
                             const FitScorerRequest& q, Progress* progress) {
  CheckProfileMatches(profile, dump_in.k, dump_in.fit.source);
  if (!dump_in.fit.has_logits()) {
    throw InputError(dump_in.fit.source,
                     "fit-scorer needs per-exit logits, but this is a scores-mode dump");
  }
  FitScorerResult r;
  r.budget = FitScorerBudget(q, profile);
  const double budget = r.budget;
  EENetOptions eenet = q.eenet;
  // Calibration recomputes the features, on a copy: the caller's dump is never changed.
  std::optional<Dump> calibrated;
  if (q.calibrate) {
    CalibrationOptions co;
    co.use_agreement = q.target == Target::kAgreement;
    const CalibrationSummary cs = FitTemperatures(dump_in.fit, co);
    r.calibration = cs.BriefReport();
    eenet.temperatures = cs.temperatures;
    calibrated = dump_in;
    calibrated->fit.ComputeFeatures(cs.temperatures);
    if (calibrated->eval) calibrated->eval->ComputeFeatures(cs.temperatures);
  }
  const Dump& dump = calibrated ? *calibrated : dump_in;
  const std::vector<int> all = AllExits(dump.k);
  const std::vector<double> cost = profile.StopCosts(all);
  const CorrectMatrix& correct = dump.fit.Correct(q.target);
  r.summary = FitEENet(dump.fit, correct, cost, budget, eenet, progress);
  const EENetSummary& s = r.summary;
  if (!s.ok()) return r;

  // Thresholds: Algorithm 1, or re-solved on the learned scores; `best` keeps the one with the
  // highest fit accuracy within the budget.
  const ScoreMatrix fit_q = s.scorer.Score(dump.fit);
  std::string method = "algorithm1";
  Policy policy = s.policy;
  Evaluation fit = s.fit;
  std::vector<std::string> candidates;
  if (q.threshold_method == "best") {
    candidates = {"exact", "ippp"};
  } else if (q.threshold_method != "algorithm1") {
    candidates = {q.threshold_method};
  }
  const bool must_replace = q.threshold_method != "algorithm1" && q.threshold_method != "best";
  for (const std::string& m : candidates) {
    ThresholdProblem p;
    p.scores = &fit_q;
    p.correct = &correct;
    p.kept = all;
    p.stop_cost = cost;
    p.budget = budget;
    const ThresholdSummary ts = Solve(MethodFromString(m), p);
    r.resolved.push_back(ts.BriefReport());
    if (!ts.ok()) {
      if (must_replace) r.warnings.push_back(m + " failed; keeping Algorithm 1 thresholds");
      continue;
    }
    const Evaluation ev = p.Evaluate(ts.policy);
    const bool better =
        ev.mean_cost <= budget * (1 + 1e-9) &&
        (must_replace || ev.accuracy > fit.accuracy || fit.mean_cost > budget * (1 + 1e-9));
    if (better) {
      method = m;
      policy = ts.policy;
      fit = ev;
    }
  }
  r.threshold_method = method;
  r.fit = fit;
  r.figures.push_back({"eenet", dump.fit.name, fit});
  // The baseline the scorer has to beat to be worth deploying: max prob + geometric quotas.
  const ScoreMatrix& mp = dump.fit.Scores(Measure::kMaxProb);
  Policy base;
  FitQuotasToBudget(mp, correct, cost, budget, GeometricDistribution(cost, budget),
                    BudgetFit::kRepair, &base);
  const Evaluation base_fit = Evaluate(mp, ScoreOrder::kDescending, correct, cost, base);
  r.figures.push_back({"max_prob + geometric", dump.fit.name, base_fit});
  // And the exact solver on max prob: the strongest hand-made policy.
  ThresholdProblem mp_problem;
  mp_problem.scores = &mp;
  mp_problem.correct = &correct;
  mp_problem.kept = all;
  mp_problem.stop_cost = cost;
  mp_problem.budget = budget;
  const ThresholdSummary mp_exact = Solve(Method::kExact, mp_problem);
  Evaluation exact_fit;
  if (mp_exact.ok()) {
    exact_fit = mp_problem.Evaluate(mp_exact.policy);
    r.figures.push_back({"max_prob + exact", dump.fit.name, exact_fit});
  }
  if (dump.eval) {
    const ScoreMatrix eval_q = s.scorer.Score(*dump.eval);
    const CorrectMatrix& ec = dump.eval->Correct(q.target);
    const ScoreMatrix& emp = dump.eval->Scores(Measure::kMaxProb);
    r.figures.push_back(
        {"eenet", dump.eval->name, Evaluate(eval_q, ScoreOrder::kDescending, ec, cost, policy)});
    r.figures.push_back({"max_prob + geometric", dump.eval->name,
                         Evaluate(emp, ScoreOrder::kDescending, ec, cost, base)});
    if (mp_exact.ok()) {
      r.figures.push_back({"max_prob + exact", dump.eval->name,
                           Evaluate(emp, ScoreOrder::kDescending, ec, cost, mp_exact.policy)});
    }
  }
  const bool exact_better = mp_exact.ok() && exact_fit.mean_cost <= budget * (1 + 1e-9) &&
                            exact_fit.accuracy > base_fit.accuracy;
  const double best_base = exact_better ? exact_fit.accuracy : base_fit.accuracy;
  const char* best_name = exact_better ? "max_prob + exact" : "max_prob + geometric";
  r.scorer_better = fit.accuracy > best_base;
  char buf[256];
  if (!r.scorer_better) {
    std::snprintf(buf, sizeof buf,
                  "at this budget the scorer does not beat %s on the fit split "
                  "(%.4f vs %.4f); deploy that policy instead",
                  best_name, fit.accuracy, best_base);
  } else {
    std::snprintf(buf, sizeof buf, "the scorer beats %s on the fit split (%.4f vs %.4f)", best_name,
                  fit.accuracy, best_base);
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
  return r;
}

}  // namespace exitplan
