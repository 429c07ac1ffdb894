// The EENet exit utility scorer network (Ilhan et al. 2023, section 3.2, eq. 3-15): the per-exit
// two-head network, its inputs, its loss and the loss's hand-derived gradient. Training (Adam,
// early stopping) and Algorithm 1 live in optim/eenet.hpp; this header is the differentiable part,
// kept separate so the gradient can be checked against central differences
// (tests/test_eenet_model.cpp).
//
// Per exit k (0-based j here) and sample n:
//   x_k = [y_k (C probabilities), a_k = (max prob eq. 5, entropy confidence eq. 6, vote eq. 7),
//          b_k = (q_1 .. q_{k-1}) the utility scores of the earlier exits]      D_k = C + k + 2
//   s_k = leaky_relu(W_sh x_k + b_sh)           (eq. 8; leaky slope 0.01)        H_k = hidden
//   q_k = sigmoid(w_g . s_k + b_g)              (eq. 9, utility score)
//   rt_k = w_h . s_k + b_h, r_k = softmax_k(rt)  (eq. 10, linear assignment head, softmax over
//   exits)
// Choices the paper leaves open (documented in docs/eenet.md): every layer has a bias (the paper
// writes none; PyTorch's Linear, used by the published code, has one); b_k is treated as an input
// and differentiated through (the paper's graph; the published code detaches it instead).
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <vector>

#include "profiles/types.hpp"

namespace exitplan {

class SplitData;

// Where each exit's parameters sit in the flat parameter vector.
struct EENetLayout {
  int k = 0;                // exits
  int c = 0;                // classes
  std::vector<int> inputs;  // D_k = C + 3 + k (0-based k: the earlier scores are k values)
  std::vector<int> hidden;  // H_k
  std::vector<int> offset;  // start of exit k's block; block = W_sh (H x D, column-major),
                            // b_sh (H), w_g (H), b_g (1), w_h (H), b_h (1)
  int size = 0;             // total parameters

  // D_h = max(1, round(hidden_ratio * D_k)) per exit (Ilhan et al. 2023: 0.5 D for images, 2 D for
  // text).
  static EENetLayout Make(int k, int c, double hidden_ratio);
  static EENetLayout FromHidden(int k, int c, const std::vector<int>& hidden);
  int BlockSize(int j) const { return hidden[j] * inputs[j] + 3 * hidden[j] + 2; }
};

// The base inputs of each exit: [y_k; max prob; entropy conf; vote], one (C + 3) x N matrix per
// exit (column n = sample n). The earlier utility scores are appended during the forward pass.
// Stored in single precision: half the memory of doubles (at ImageNet scale, 50k x K x 1003 values
// per split), and what the single-precision training products read directly. Their rounding
// (relative 6e-8) is far below anything the scorer resolves.
struct EENetInputs {
  std::vector<Eigen::MatrixXf> base;  // size K, each (C + 3) x N
  int n() const { return base.empty() ? 0 : static_cast<int>(base.front().cols()); }
  // The columns `index` of every exit's matrix.
  EENetInputs Gather(const std::vector<int>& index) const;
};

// Builds the inputs from a logits-mode split, with probabilities softmax(logits / T_k).
// temperatures empty = all 1. Throws InputError for a scores-mode split.
EENetInputs BuildEENetInputs(const SplitData& split, const std::vector<double>& temperatures);

// Forward pass: q (K x N utility scores, eq. 9) and optionally r (K x N assignment probabilities,
// eq. 10; column n sums to 1), in double precision.
void EENetForward(const EENetLayout& layout, const Eigen::VectorXd& theta, const EENetInputs& in,
                  ScoreMatrix* q, ScoreMatrix* r);

// Targets of eq. 3-4 from K x N correctness: q_k = 1 when exit k is right; r_k = 1 / #right over
// the right exits, or 1/K at every exit when none is right.
Eigen::MatrixXd EENetAssignmentTargets(const CorrectMatrix& correct);

struct EENetLossWeights {
  double alpha = 0.1;          // weight of L_budget (eq. 14)
  double beta = 1e-3;          // weight of L_CE (eq. 15)
  double weight_decay = 0.01;  // L2: adds weight_decay / 2 * |theta|^2 (PyTorch's coupled decay)
};

struct EENetLoss {
  double total = 0.0, g = 0.0, budget = 0.0, ce = 0.0, l2 = 0.0;
  double mean_cost = 0.0;  // sum_k mean_n r_nk c_k, the cost the assignment head predicts
};

// The arithmetic of the per-exit layers (the H x D products, nearly all of the work). kFloat is
// what training uses (twice the SIMD width of double; PyTorch, and the published EENet code, train
// in float32 too); the scores, logits, the loss and the parameters stay double either way.
// kDouble is exact enough for the central-difference gradient check.
enum class EENetPrecision { kDouble, kFloat };

// L = L_g + alpha L_budget + beta L_CE + weight_decay/2 |theta|^2 over the given samples (eq.
// 11-15, with eq. 12 as the usual negative log-likelihood), and its gradient when `grad` is set.
// The survival weights of eq. 13 are computed from the current r and held constant (outside the
// graph, as the paper says); `fixed_survival` (K x N, from EENetSurvival) replaces them, which a
// finite-difference check needs. `correct` and `r_target` are K x N for the same samples as `in`.
// `columns` (empty = all) restricts the loss to those samples (columns of `in`, `correct` and
// `r_target`, read in place: a mini-batch without copies); `fixed_survival` then has one column
// per listed sample.
EENetLoss EENetLossAndGradient(const EENetLayout& layout, const Eigen::VectorXd& theta,
                               const EENetInputs& in, const CorrectMatrix& correct,
                               const Eigen::MatrixXd& r_target, const std::vector<double>& cost,
                               double budget, const EENetLossWeights& weights,
                               Eigen::VectorXd* grad,
                               const Eigen::MatrixXd* fixed_survival = nullptr,
                               EENetPrecision precision = EENetPrecision::kDouble,
                               std::span<const int> columns = {});

// 1 - sum_{k'<k} r_nk' (clamped at 0): the unnormalised survival weights of eq. 13.
Eigen::MatrixXd EENetSurvival(const Eigen::MatrixXd& r);

}  // namespace exitplan
