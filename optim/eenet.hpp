// EENet: learned exit utility scorers and budget-driven exit assignment (Ilhan et al. 2023).
//
// FitEENet trains the two-head network of optim/eenet_model.hpp on the fit split with Adam
// (mini-batches, early stopping on a held-out part of the fit split, fixed seed: runs repeat bit
// for bit on one machine), then sets thresholds by Algorithm 1: exit quotas round(N p_k) from the
// predicted assignment distribution p, samples sorted by utility, each exit taking its quota among
// the samples not yet assigned. Inference is Algorithm 2, i.e. the exact evaluator on the learned
// K x N scores (descending: a sample stops at the first exit with q_k >= t_k).
//
// The learned scores plug into ThresholdProblem like any measure, so thresholds can also be
// re-solved with the optim/ budget solvers (Solve(Method, ...)).
#pragma once

#include <Eigen/Core>
#include <string>
#include <vector>

#include "optim/eenet_model.hpp"
#include "optim/problem.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/progress.hpp"
#include "profiles/types.hpp"

namespace exitplan {

class SplitData;

// How Algorithm 1's distribution is made to meet the budget on the fit split. The paper relies on
// the soft L_budget alone; its quotas then miss the budget by the training error of that term.
enum class BudgetFit {
  kNone,    // Algorithm 1 exactly as written: p = mean predicted assignment
  kRepair,  // tilt p towards cheaper exits only when its exact fit cost exceeds the budget
  kMatch,   // tilt p (either way) so the exact fit cost is the largest not above the budget
  kBest,    // the tilt (kMatch's and a grid of others) with the highest fit accuracy within budget:
            // using the whole budget is not always best (a deep exit can beat the final one)
};
std::string ToString(BudgetFit fit);
BudgetFit BudgetFitFromString(const std::string& text, const std::string& what = "--budget-fit");

struct EENetOptions {
  double hidden_ratio = 2.0;  // D_h = round(ratio * D_k), >= 1 (Ilhan et al. 2023: 0.5 images, 2
                              // text; 2 measured better on fmnist-resnet8, see docs/eenet.md)
  double learning_rate =
      1e-3;  // Adam step size, > 0 (Ilhan et al. 2023 uses 3e-5 for 1000 epochs; see docs)
  double alpha = 0.1;          // weight of L_budget (eq. 14), >= 0 (Ilhan et al. 2023 images: 1e-1)
  double beta = 1e-3;          // weight of L_CE (eq. 15), >= 0 (Ilhan et al. 2023 images: 1e-3)
  double weight_decay = 0.01;  // L2 weight, >= 0 (Ilhan et al. 2023: 0.01)
  int batch_size = 512;        // samples per Adam step, >= 1 (published code: 512)
  int max_epochs = 1000;       // >= 1 (published code: 1000)
  int patience = 50;           // stop after this many epochs without a better held-out loss
                               // (Ilhan et al. 2023: 50), >= 1
  double holdout_fraction = 0.2;  // share of the fit split held out for early stopping, in [0, 0.9]
                                  // (0: stop on the training loss)
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  BudgetFit budget_fit = BudgetFit::kBest;
  unsigned seed = 1;  // initialisation, holdout split and batch order all derive from it
  std::vector<double> temperatures;  // per exit (empty = 1): probabilities are softmax(z / T_k)

  // "" or one line per broken rule naming the field, its value and the rule.
  std::string Validate() const;
};

// A trained scorer: layout + parameters + the temperatures its inputs use.
struct EENetScorer {
  EENetLayout layout;
  Eigen::VectorXd theta;
  std::vector<double> temperatures;  // size K

  int k() const { return layout.k; }
  int c() const { return layout.c; }
  // Utility scores q (K x N, eq. 9) of a logits-mode split; optionally the assignment
  // probabilities r (K x N, eq. 10). Throws InputError when the split's K or C differ.
  ScoreMatrix Score(const SplitData& split, ScoreMatrix* r = nullptr) const;
  // "" when the split matches (K, C, logits mode), else one line.
  std::string CheckSplit(const SplitData& split) const;
};

struct EENetSummary {
  Outcome outcome = Outcome::kNotRun;
  std::string message = "not run";
  EENetScorer scorer;
  std::vector<double> distribution;        // p_k: mean predicted assignment on the fit split
  std::vector<double> quota_distribution;  // the distribution Algorithm 1 used (after BudgetFit)
  double tilt = 0.0;                       // lambda of the tilting p_k exp(-lambda c_k / c_K)
  Policy policy;                           // every exit kept, Algorithm 1 thresholds
  Evaluation fit;                          // exact evaluator on the fit split
  double predicted_cost = 0.0;             // sum_k p_k c_k of the learned distribution
  int epochs = 0, best_epoch = 0;
  double best_holdout_loss = 0.0;
  std::vector<double> train_loss, holdout_loss;  // per epoch
  double seconds = 0.0;

  bool ok() const { return HasSolution(outcome); }
  std::string BriefReport() const;
  std::string FullReport() const;
};

// Trains on `split` (logits mode) with correctness `correct` (K x N; labels or agreement) and stop
// costs `stop_cost` (size K, every exit kept) for mean budget `budget` (absolute units).
// An infeasible budget (below stop_cost[0]) gives Outcome::kInfeasible with the scorer trained.
// Throws InputError for bad options or a scores-mode split.
// `progress` (may be null): phase "training" counting epochs (up to max_epochs; early stopping
// ends it sooner), advanced after each epoch with its loss; its callback throwing stops the
// training (rethrown here).
EENetSummary FitEENet(const SplitData& split, const CorrectMatrix& correct,
                      const std::vector<double>& stop_cost, double budget,
                      const EENetOptions& options = {}, Progress* progress = nullptr);

// Algorithm 1 lines 4-15 for any K x N descending scores and exit distribution p (size K):
// exit k takes the round(N p_k) highest-scoring samples not taken by earlier exits, its threshold
// is the lowest score it took (+inf when its quota is 0). Returns K - 1 thresholds (the final exit
// takes the rest).
std::vector<double> QuotaThresholds(const ScoreMatrix& scores, const std::vector<double>& p);

// p_k proportional to p_k exp(-lambda c_k / c_max), the distribution closest to p (in KL) with a
// given expected cost.
std::vector<double> TiltDistribution(const std::vector<double>& p, const std::vector<double>& cost,
                                     double lambda);

// Searches lambda so that Algorithm 1 on `scores` with the tilted p has the largest exact fit cost
// not above `budget` (mode kMatch), only lowers the cost (kRepair), or has the best fit accuracy
// within budget (kBest). Returns lambda; fills the policy thresholds (every exit kept).
double FitQuotasToBudget(const ScoreMatrix& scores, const CorrectMatrix& correct,
                         const std::vector<double>& stop_cost, double budget,
                         const std::vector<double>& p, BudgetFit mode, Policy* policy);

// Scorer files (docs/eenet.md): a small YAML with `schema_version` 2 and every field but the
// weights, and the weights in an .npz beside it (scorer.yaml -> scorer.npz: per exit k the float64
// arrays exit<k>_w_shared [hidden, inputs], exit<k>_b_shared, exit<k>_w_utility, exit<k>_w_assign
// [hidden], exit<k>_b_utility, exit<k>_b_assign [1]), whose SHA-256 the YAML records. Save writes
// both or neither (OutputSet). Load reads version 2 and the version-1 files of earlier exitplan
// (weights as YAML text under `exits:`); it throws InputError naming the file and field, or the
// .npz and its member, for anything else: a missing, truncated or foreign .npz (SHA-256), a member
// of the wrong shape or type, non-finite weights.
inline constexpr int kScorerSchemaVersion = 2;
struct ScorerFile {
  EENetScorer scorer;
  Policy policy;  // thresholds chosen at fit time
  std::string threshold_method = "algorithm1";
  double budget = 0.0;               // absolute
  std::string unit;                  // of the profile used
  std::vector<double> distribution;  // p used by Algorithm 1
  double fit_accuracy = 0.0, fit_cost = 0.0;
  std::string provenance;  // free text (command line, input hashes)
};
void SaveScorer(const std::string& path, const ScorerFile& file);
ScorerFile LoadScorer(const std::string& path);
// The weights file of the scorer file `path`: its extension replaced by .npz.
std::string ScorerWeightsPath(const std::string& path);
// A version-1 scorer file (weights as YAML text), as earlier exitplan wrote it: for the tests and
// the load benchmark that keep those files readable.
std::string ScorerToYamlV1(const ScorerFile& file);

}  // namespace exitplan
