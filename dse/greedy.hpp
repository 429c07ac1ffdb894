// Greedy exit placement.
//
// Rule-based scans from the input to the output (Scardapane et al. 2020, section 4), with the
// confidence thresholds of each exit from the unsupervised early-exit paper's tolerance rule
// (dse/flop_score.hpp: exit number n of the kept set gets the drop budget T / 2^n). At candidate i,
// with the exits kept so far fixed:
//   I_i      fraction of fit samples that reach exit i,
//   I_{i+1}  fraction that reach it and do not stop there (those continuing to the next exit).
// - efficiency (Scardapane et al. 2020 eq. 4, from Teerapittayanon et al.): keep exit i when
//     (gamma_{i+1} - gamma_i) (I_i - I_{i+1}) > gamma_i I_{i+1},
//   gamma_i = the cost of running the network up to exit i (stop cost at i with the exits kept so
//   far plus i's head), gamma_{i+1} = the stop cost at the next exit (the next candidate, or exit
//   K) with i kept. Read literally as the paper writes it.
// - th (Scardapane et al. 2020 eq. 5, from [3]): keep exit i when
//     (TH - cm_i) gamma_f(i+1) - (1 - cm_i) gamma_c(i) - (1 - TH) gamma_f(i) >= 0,
//   cm_i = I_{i+1} / I_i (1 when no sample reaches i), gamma_f(i) the cost of the backbone segment
//   ending at exit i (backbone(i) - backbone(i-1)), gamma_f(i+1) the next segment, gamma_c(i) the
//   head cost.
// Budgeted searches on the objective itself (each step re-solves thresholds at budget B with an
// optim/ method):
// - forward: start from {K}; add the candidate that most increases fit accuracy at B (ties: lower
//   fit cost, then the shallower exit); stop when no addition increases it.
// - backward: start from every exit; drop the exit whose removal gives the highest accuracy at B
//   (ties as above); drop while that accuracy is not below the current one (fewer heads at equal
//   accuracy are preferred); stop otherwise.
#pragma once

#include <string>
#include <vector>

#include "dse/placement.hpp"

namespace exitplan {

enum class GreedyRule { kEfficiency, kTh, kForward, kBackward };
std::string ToString(GreedyRule rule);

struct GreedyOptions {
  GreedyRule rule = GreedyRule::kTh;
  double tolerance = 0.05;  // T for the rule-based scans' thresholds, in (0, 1)
  double th = 0.9;          // TH of eq. 5, in [0, 1]
  double budget = 0.0;      // forward/backward: absolute budget in the profile's unit, > 0
  std::string Validate() const;
};

// One decision of a scan or one accepted move of forward/backward.
struct GreedyStep {
  int exit = -1;         // 0-based candidate
  bool kept = false;     // rule scans: kept; forward: added; backward: dropped
  double lhs = 0.0;      // rule scans: left side of the inequality; forward/backward: accuracy
  double rhs = 0.0;      // rule scans: right side (0 for eq. 5); forward/backward: fit cost
  double i_reach = 0.0;  // I_i
  double i_next = 0.0;   // I_{i+1}
};

struct GreedySummary {
  Outcome outcome = Outcome::kNotRun;
  std::string message = "not run";
  GreedyRule rule = GreedyRule::kTh;
  std::vector<int> kept;  // chosen kept set, 0-based, final included
  Policy policy;          // kept with thresholds (tolerance rule or the solver's)
  Evaluation fit, eval;   // eval.n = 0 without an eval split
  std::vector<GreedyStep> steps;
  int solves = 0;  // threshold problems solved (forward/backward)
  double seconds = 0.0;
  bool ok() const { return HasSolution(outcome); }
  std::string BriefReport() const;
};

// Eq. 4 and eq. 5 as functions, for tests and reports.
bool EfficiencyCondition(double gamma_i, double gamma_next, double i_reach, double i_next,
                         double* lhs = nullptr, double* rhs = nullptr);
bool ThCondition(double th, double cm, double gamma_f_next, double gamma_c, double gamma_f,
                 double* lhs = nullptr);

// Runs one greedy method. `solver` is used by forward/backward only (SolverFor(Method::kExact) in
// the CLI). Throws InputError for a malformed problem, bad options, or a profile without head
// costs for the rule scans.
GreedySummary Greedy(const PlacementProblem& problem, const GreedyOptions& options,
                     const ThresholdSolverFn& solver = {});

}  // namespace exitplan
