// exitplan fit-scorer: trains an EENet exit utility scorer (Ilhan et al. 2023) on the fit split for
// a budget, sets thresholds (Algorithm 1, or re-solved on the learned scores with an optim/
// solver), reports fit and eval figures next to the max-prob baseline, and saves the scorer as
// YAML.
#include <cmath>
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/dump_args.hpp"
#include "cli/option_flags.hpp"
#include "dse/fit_scorer_run.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/progress.hpp"

namespace exitplan::cli {
namespace {

struct FitScorerArgs {
  RegistryFlags flags;
};

int Run(FitScorerArgs& args) {
  // Options first, before any file is read.
  const OptionValues v = args.flags.Values();
  const FitScorerRequest q = FitScorerRequestFrom(v);
  Dump dump = LoadDumpFrom(v);
  const CostProfile profile = LoadProfileFor(v, dump);
  if (!dump.fit.has_logits()) {
    throw InputError(dump.fit.source,
                     "fit-scorer needs per-exit logits, but this is a scores-mode dump");
  }
  const double budget = FitScorerBudget(q, profile);
  if (!v.Bool("quiet")) {  // information, not a result: -q drops it as every command does
    std::printf(
        "budget %.6g %s (%.4f of the full cost %.6g %s: every exit kept, running to the "
        "final exit)\n",
        budget, profile.unit.c_str(), budget / profile.FullCost(), profile.FullCost(),
        profile.unit.c_str());
  }
  std::fflush(stdout);
  Progress progress(StderrProgress("exitplan fit-scorer", v.Bool("quiet")));
  FitScorerResult r = RunFitScorer(dump, profile, q, &progress);
  progress.Finish();
  if (!r.calibration.empty() && !v.Bool("quiet")) std::printf("%s\n", r.calibration.c_str());
  const std::string text = r.Text(v.Bool("verbose"));
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (!r.ok()) {
    std::fprintf(stderr, "exitplan: fit-scorer: %s (no scorer written)\n",
                 r.summary.message.c_str());
    return kExitSolverFailure;
  }
  std::fflush(stdout);
  for (const std::string& w : r.warnings) std::fprintf(stderr, "exitplan: %s\n", w.c_str());
  if (v.Has("out")) {
    r.file.provenance = CommandLine() + " | fit split sha256 " + Sha256File(dump.fit.source) +
                        " | seed " + std::to_string(q.eenet.seed);
    SaveScorer(v.Text("out"), r.file);
    std::printf("wrote %s and its weights %s\n", v.Text("out").c_str(),
                ScorerWeightsPath(v.Text("out")).c_str());
  } else {
    std::printf(
        "scorer not saved (give -o FILE.yaml to save it for evaluate --scorer and "
        "export)\n");
  }
  return kExitOk;
}

}  // namespace

void RegisterFitScorer(CLI::App& root, std::vector<Command>& out) {
  auto a = std::make_shared<FitScorerArgs>();
  CLI::App* app = root.add_subcommand(
      "fit-scorer",
      "train an EENet exit utility scorer (Ilhan et al. 2023) for a budget and save "
      "it (a YAML file and its .npz of weights)");
  a->flags.Add(*app, "fit-scorer", {"dump", "profile"});
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
