// exitplan evaluate: the exact evaluator's figures for a given policy on the fit and eval splits.
#include <cstdio>
#include <optional>
#include <memory>

#include "cli/commands.hpp"
#include "cli/dump_args.hpp"
#include "profiles/error.hpp"
#include "optim/eenet.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/profile.hpp"

namespace exitplan::cli {
namespace {

struct EvaluateArgs {
  DumpArgs dump;
  ProfileArgs profile;
  std::string measure = "max_prob";
  std::string correct = "labels";
  std::string thresholds;
  std::string exits;
  std::string format = "text";
  std::string scorer;  // issue 5: EENet scorer YAML (scores from the scorer, its thresholds)
};

std::string Fractions(const Evaluation& ev, const std::string& sep) {
  return JoinDoubles(ev.exit_fraction, sep);
}

int Run(const EvaluateArgs& a) {
  if (a.format != "text" && a.format != "csv") {
    throw InputError("--format", "unknown format '" + a.format + "' (expected text or csv)");
  }
  const Measure measure = MeasureFromString(a.measure);
  const Target target = TargetFromString(a.correct, "--correct");
  if (a.scorer.empty() && a.thresholds.empty()) {
    throw InputError("--thresholds", "required (unless --scorer gives them)");
  }
  std::optional<ScorerFile> scorer;
  if (!a.scorer.empty()) scorer = LoadScorer(a.scorer);
  const Dump dump = a.dump.Load();
  const CostProfile profile = a.profile.Load(dump);
  Policy policy;
  if (scorer) {
    if (const std::string err = scorer->scorer.CheckSplit(dump.fit); !err.empty()) {
      throw InputError(a.scorer, err);
    }
    policy = scorer->policy;
    if (!a.exits.empty() && ParseKeptExits(a.exits, dump.k) != policy.kept) {
      throw InputError("--exits", "a scorer's kept exits are fixed by its file (" + a.scorer + ")");
    }
  } else {
    policy.kept = a.exits.empty() ? AllExits(dump.k) : ParseKeptExits(a.exits, dump.k);
  }
  if (!a.thresholds.empty()) policy.thresholds = ParseDoubleList(a.thresholds, "--thresholds");
  // A threshold for the final exit may be given; it is never read (DESIGN.md: otherwise exit K).
  if (policy.thresholds.size() == policy.kept.size()) policy.thresholds.pop_back();
  if (const std::string err = CheckPolicy(policy, dump.k); !err.empty()) {
    throw InputError("--thresholds", err + " for kept exits " + a.exits);
  }
  std::vector<const SplitData*> splits = {&dump.fit};
  if (dump.eval) splits.push_back(&*dump.eval);
  if (a.format == "csv") {
    std::printf("split,accuracy,mean_cost,exit_fractions\n");
  } else {
    std::printf("%-6s %9s %12s  exit_fractions (exits 1..%d)\n", "split", "accuracy",
                ("mean_cost/" + profile.unit).c_str(), dump.k);
  }
  for (const SplitData* s : splits) {
    // With a scorer: Algorithm 2 of seed 001, i.e. the exact evaluator on the learned scores.
    const Evaluation ev =
        scorer ? Evaluate(scorer->scorer.Score(*s), ScoreOrder::kDescending, s->Correct(target),
                          profile.StopCosts(policy.kept), policy)
               : EvaluateSplit(*s, measure, target, profile, policy);
    if (a.format == "csv") {
      std::printf("%s,%s,%s,%s\n", s->name.c_str(), FormatDouble(ev.accuracy).c_str(),
                  FormatDouble(ev.mean_cost).c_str(), Fractions(ev, ";").c_str());
    } else {
      std::printf("%-6s %9.4f %12.5g ", s->name.c_str(), ev.accuracy, ev.mean_cost);
      for (double f : ev.exit_fraction) std::printf(" %.4f", f);
      std::printf("\n");
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterEvaluate(CLI::App& root, std::vector<Command>& out) {
  auto a = std::make_shared<EvaluateArgs>();
  CLI::App* app = root.add_subcommand(
      "evaluate", "evaluate one policy (kept exits, measure, thresholds) exactly on every split");
  a->dump.Add(*app);
  a->profile.Add(*app);
  app->add_option("--measure", a->measure,
                  "confidence measure: max_prob, entropy, margin, patience, vote (logits) or "
                  "confidence (scores mode)")
      ->capture_default_str();
  app->add_option("--thresholds", a->thresholds,
                  "comma-separated thresholds, one per kept exit before the final (a final one "
                  "may be given and is ignored); required unless --scorer gives them");
  app->add_option("--exits", a->exits, "kept exits, 1-based (default: all; the final is added)");
  app->add_option("--correct", a->correct, "correctness target: labels or agreement (with exit K)")
      ->capture_default_str();
  app->add_option("--format", a->format, "text or csv")->capture_default_str();
  app->add_option("--scorer", a->scorer,
                  "EENet scorer YAML from fit-scorer: scores from the scorer (its temperatures), "
                  "thresholds from the file unless --thresholds is given");
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
