// exitplan evaluate: the exact evaluator's figures for a given policy on the fit and eval splits.
#include <cstdio>
#include <memory>
#include <optional>

#include "cli/commands.hpp"
#include "cli/dump_args.hpp"
#include "cli/option_flags.hpp"
#include "optim/eenet.hpp"
#include "profiles/error.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/profile.hpp"

namespace exitplan::cli {
namespace {

struct EvaluateArgs {
  RegistryFlags flags;
};

std::string Fractions(const Evaluation& ev, const std::string& sep) {
  return JoinDoubles(ev.exit_fraction, sep);
}

int Run(const EvaluateArgs& args) {
  const OptionValues v = args.flags.Values();
  const std::string format = v.Has("format") ? v.Text("format") : "text";
  if (format != "text" && format != "csv") {
    throw InputError("--format", "unknown format '" + format + "' (expected text or csv)");
  }
  const Target target = TargetFromString(v.Text("correct"), "--correct");
  const std::string scorer_path = v.Text("scorer"), thresholds = v.Text("thresholds");
  const std::string exits = v.Text("exits");
  if (scorer_path.empty() && thresholds.empty()) {
    throw InputError("--thresholds", "required (unless --scorer gives them)");
  }
  if (!scorer_path.empty() && v.Bool("calibrate")) {
    throw InputError("--calibrate", "a scorer file carries its own temperatures");
  }
  std::optional<ScorerFile> scorer;
  if (!scorer_path.empty()) scorer = LoadScorer(scorer_path);
  Dump dump = LoadDumpFrom(v);
  const CostProfile profile = LoadProfileFor(v, dump);
  CalibrateIfAsked(v, dump, target);
  const Measure measure = MeasureFor(v, dump);
  Policy policy;
  if (scorer) {
    if (const std::string err = scorer->scorer.CheckSplit(dump.fit); !err.empty()) {
      throw InputError(scorer_path, err);
    }
    policy = scorer->policy;
    if (!exits.empty() && ParseKeptExits(exits, dump.k) != policy.kept) {
      throw InputError("--exits",
                       "a scorer's kept exits are fixed by its file (" + scorer_path + ")");
    }
  } else {
    policy.kept = exits.empty() ? AllExits(dump.k) : ParseKeptExits(exits, dump.k);
  }
  if (!thresholds.empty()) policy.thresholds = ParseDoubleList(thresholds, "--thresholds");
  // A threshold for the final exit may be given; it is never read (a sample that passes no
  // earlier exit stops at the final one).
  if (policy.thresholds.size() == policy.kept.size()) policy.thresholds.pop_back();
  if (const std::string err = CheckPolicy(policy, dump.k); !err.empty()) {
    throw InputError("--thresholds", err + " for kept exits " + exits);
  }
  std::vector<const SplitData*> splits = {&dump.fit};
  if (dump.eval) splits.push_back(&*dump.eval);
  if (format == "csv") {
    std::printf("split,accuracy,mean_cost,exit_fractions\n");
  } else {
    std::printf("%-6s %9s %12s  exit_fractions (exits 1..%d)\n", "split", "accuracy",
                ("mean_cost/" + profile.unit).c_str(), dump.k);
  }
  for (const SplitData* s : splits) {
    // With a scorer: EENet's inference rule (Ilhan et al. 2023, Algorithm 2), i.e. the exact
    // evaluator on the learned scores.
    const Evaluation ev = scorer
                              ? Evaluate(scorer->scorer.Score(*s), ScoreOrder::kDescending,
                                         s->Correct(target), profile.StopCosts(policy.kept), policy)
                              : EvaluateSplit(*s, measure, target, profile, policy);
    if (format == "csv") {
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
  a->flags.Add(*app, "evaluate", {"dump", "profile"});
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
