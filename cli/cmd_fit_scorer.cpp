// exitplan fit-scorer: trains an EENet exit utility scorer (Ilhan et al. 2023) on the fit split for a
// budget, sets thresholds (Algorithm 1, or re-solved on the learned scores with an optim/ solver),
// reports fit and eval figures next to the max-prob baseline, and saves the scorer as YAML.
#include <cmath>
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/dump_args.hpp"
#include "cli/option_flags.hpp"
#include "optim/calibration.hpp"
#include "optim/eenet.hpp"
#include "optim/eenet_compare.hpp"
#include "optim/solve.hpp"
#include "profiles/budget.hpp"
#include "profiles/error.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/io.hpp"

namespace exitplan::cli {
namespace {

struct FitScorerArgs {
  RegistryFlags flags;
};

void PrintEval(const char* what, const std::string& split, const Evaluation& ev) {
  std::printf("%-28s %-5s accuracy %.4f  mean_cost %.6g  exit_fractions %s\n", what, split.c_str(),
              ev.accuracy, ev.mean_cost, JoinDoubles(ev.exit_fraction, ",").c_str());
}

int Run(FitScorerArgs& args) {
  // Options first, before any file is read.
  const OptionValues v = args.flags.Values();
  CheckGivenOptionsApply(v, {"eenet"});
  MethodSettings settings;
  v.ApplyTo(settings);
  EENetOptions& eenet = settings.eenet;
  if (!v.Has("budget")) throw InputError("--budget", std::string("required: ") + kBudgetGrammar);
  const std::vector<Budget> budgets = v.Budgets("budget");
  if (budgets.size() != 1) throw InputError("--budget", "fit-scorer trains for one budget");
  const std::string threshold_method = v.Text("threshold_method");
  const Target target = TargetFromString(v.Text("correct"), "--correct");
  Dump dump = LoadDumpFrom(v);
  const CostProfile profile = LoadProfileFor(v, dump);
  if (!dump.fit.has_logits()) {
    throw InputError(dump.fit.source, "fit-scorer needs per-exit logits, but this is a scores-mode dump");
  }
  const double budget = budgets[0].Resolve(profile);
  if (v.Bool("calibrate")) {
    CalibrationOptions co;
    co.use_agreement = target == Target::kAgreement;
    const CalibrationSummary cs = FitTemperatures(dump.fit, co);
    std::printf("%s\n", cs.BriefReport().c_str());
    eenet.temperatures = cs.temperatures;
    dump.fit.ComputeFeatures(cs.temperatures);
    if (dump.eval) dump.eval->ComputeFeatures(cs.temperatures);
  }
  const std::vector<int> all = AllExits(dump.k);
  const std::vector<double> cost = profile.StopCosts(all);
  const CorrectMatrix& correct = dump.fit.Correct(target);
  std::printf("budget %.6g %s (%.4f of the full cost %.6g %s: every exit kept, running to the final "
              "exit)\n", budget, profile.unit.c_str(), budget / profile.FullCost(),
              profile.FullCost(), profile.unit.c_str());
  const EENetSummary s = FitEENet(dump.fit, correct, cost, budget, eenet);
  std::printf("%s", v.Bool("verbose") ? s.FullReport().c_str() : (s.BriefReport() + "\n").c_str());
  if (!s.ok()) {
    std::fprintf(stderr, "exitplan: fit-scorer: %s (no scorer written)\n", s.message.c_str());
    return kExitSolverFailure;
  }

  // Thresholds: Algorithm 1, or re-solved on the learned scores; `best` keeps the one with the
  // highest fit accuracy within the budget.
  ScoreMatrix fit_q = s.scorer.Score(dump.fit);
  std::string method = "algorithm1";
  Policy policy = s.policy;
  Evaluation fit = s.fit;
  std::vector<std::string> candidates;
  if (threshold_method == "best") {
    candidates = {"exact", "ippp"};
  } else if (threshold_method != "algorithm1") {
    candidates = {threshold_method};
  }
  const bool must_replace = threshold_method != "algorithm1" && threshold_method != "best";
  for (const std::string& m : candidates) {
    ThresholdProblem p;
    p.scores = &fit_q;
    p.correct = &correct;
    p.kept = all;
    p.stop_cost = cost;
    p.budget = budget;
    const ThresholdSummary ts = Solve(MethodFromString(m), p);
    std::printf("re-solved on learned scores: %s\n", ts.BriefReport().c_str());
    if (!ts.ok()) {
      if (must_replace) {
        std::fprintf(stderr, "exitplan: %s failed; keeping Algorithm 1 thresholds\n", m.c_str());
      }
      continue;
    }
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
  std::printf("thresholds (%s): %s\n", method.c_str(), JoinDoubles(policy.thresholds, ",").c_str());
  PrintEval("eenet", dump.fit.name, fit);
  // The baseline the scorer has to beat to be worth deploying: max prob + geometric quotas.
  const ScoreMatrix& mp = dump.fit.Scores(Measure::kMaxProb);
  Policy base;
  FitQuotasToBudget(mp, correct, cost, budget, GeometricDistribution(cost, budget),
                    BudgetFit::kRepair, &base);
  const Evaluation base_fit = Evaluate(mp, ScoreOrder::kDescending, correct, cost, base);
  PrintEval("max_prob + geometric", dump.fit.name, base_fit);
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
    PrintEval("max_prob + exact", dump.fit.name, exact_fit);
  }
  if (dump.eval) {
    const ScoreMatrix eval_q = s.scorer.Score(*dump.eval);
    const CorrectMatrix& ec = dump.eval->Correct(target);
    PrintEval("eenet", dump.eval->name, Evaluate(eval_q, ScoreOrder::kDescending, ec, cost, policy));
    PrintEval("max_prob + geometric", dump.eval->name,
              Evaluate(dump.eval->Scores(Measure::kMaxProb), ScoreOrder::kDescending, ec, cost, base));
    if (mp_exact.ok()) {
      PrintEval("max_prob + exact", dump.eval->name,
                Evaluate(dump.eval->Scores(Measure::kMaxProb), ScoreOrder::kDescending, ec, cost,
                         mp_exact.policy));
    }
  }
  const bool exact_better = mp_exact.ok() && exact_fit.mean_cost <= budget * (1 + 1e-9) &&
                            exact_fit.accuracy > base_fit.accuracy;
  const double best_base = exact_better ? exact_fit.accuracy : base_fit.accuracy;
  const char* best_name = exact_better ? "max_prob + exact" : "max_prob + geometric";
  if (fit.accuracy <= best_base) {
    std::printf("note: at this budget the scorer does not beat %s on the fit split (%.4f vs %.4f); "
                "deploy that policy instead\n", best_name, fit.accuracy, best_base);
  } else {
    std::printf("note: the scorer beats %s on the fit split (%.4f vs %.4f)\n", best_name,
                fit.accuracy, best_base);
  }
  if (v.Has("out")) {
    ScorerFile f;
    f.scorer = s.scorer;
    f.policy = policy;
    f.threshold_method = method;
    f.budget = budget;
    f.unit = profile.unit;
    f.distribution = s.quota_distribution;
    f.fit_accuracy = fit.accuracy;
    f.fit_cost = fit.mean_cost;
    f.provenance = CommandLine() + " | fit split sha256 " + Sha256File(dump.fit.source) +
                   " | seed " + std::to_string(eenet.seed);
    SaveScorer(v.Text("out"), f);
    std::printf("wrote %s and its weights %s\n", v.Text("out").c_str(),
                ScorerWeightsPath(v.Text("out")).c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterFitScorer(CLI::App& root, std::vector<Command>& out) {
  auto a = std::make_shared<FitScorerArgs>();
  CLI::App* app = root.add_subcommand(
      "fit-scorer", "train an EENet exit utility scorer (Ilhan et al. 2023) for a budget and save "
                    "it (a YAML file and its .npz of weights)");
  a->flags.Add(*app, "fit-scorer", {"dump", "profile"});
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
