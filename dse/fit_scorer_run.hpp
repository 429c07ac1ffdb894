// One scorer fit as `exitplan fit-scorer` does it: the option checks, the EENet training (Ilhan et
// al. 2023), its thresholds (Algorithm 1, or re-solved on the learned scores with an optim/
// method), and the max-prob baselines beside it; shared by the CLI and the Python module so that
// both give the same numbers and the same verdict.
#pragma once

#include <string>
#include <vector>

#include "dse/options.hpp"
#include "optim/eenet.hpp"
#include "profiles/budget.hpp"
#include "profiles/dump.hpp"
#include "profiles/profile.hpp"
#include "profiles/progress.hpp"

namespace exitplan {

// The option checks of a fit-scorer run, before any file is read (the EENet options, one budget,
// the threshold method, the correctness target). Throws InputError naming the option.
struct FitScorerRequest {
  EENetOptions eenet;
  Budget budget;
  std::string threshold_method = "algorithm1";  // algorithm1 | best | a threshold method
  Target target = Target::kLabels;
  bool calibrate = false;
};
FitScorerRequest FitScorerRequestFrom(const OptionValues& v);

// The budget of the run, absolute, in the profile's unit.
double FitScorerBudget(const FitScorerRequest& request, const CostProfile& profile);

// One policy's figures on one split, as the CLI prints them ("eenet", "max_prob + geometric",
// "max_prob + exact"; the fit split first, then the eval split).
struct FitScorerFigure {
  std::string policy;
  std::string split;
  Evaluation eval;
};

struct FitScorerResult {
  double budget = 0.0;                // absolute
  std::string calibration;            // the fitted temperatures' report; "" without calibration
  EENetSummary summary;               // the training
  std::vector<std::string> resolved;  // one line per re-solve on the learned scores
  std::vector<std::string> warnings;  // a requested re-solve that failed (Algorithm 1 kept)
  std::string threshold_method;  // algorithm1, exact, ippp, ...: where the thresholds come from
  Evaluation fit;                // the scorer with those thresholds on the fit split
  std::vector<FitScorerFigure> figures;
  bool scorer_better = false;  // beats the best max-prob baseline on the fit split
  std::string note;            // says which policy to deploy
  ScorerFile file;             // ready for SaveScorer; the caller sets the provenance
  bool ok() const { return summary.ok(); }
  // What `exitplan fit-scorer` prints after the budget line: the training's report (the full one
  // when `verbose`), the re-solves, the thresholds, the figures and the note. Empty past the
  // training's report when the training found no solution.
  std::string Text(bool verbose) const;
};

// Trains and evaluates on `dump` (logits mode; with request.calibrate on a calibrated copy).
// `progress` (may be null) gets the training's epochs. Throws InputError for a scores-mode dump
// or bad options.
FitScorerResult RunFitScorer(const Dump& dump, const CostProfile& profile,
                             const FitScorerRequest& request, Progress* progress = nullptr);

}  // namespace exitplan
