#include "optim/eenet_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <type_traits>

#include "optim/internal/float_gemm.hpp"
#include "profiles/dump.hpp"
#include "profiles/error.hpp"
#include "profiles/softmax.hpp"

namespace exitplan {
namespace {

constexpr double kLeak = 0.01;  // Ilhan et al. 2023: sigma_leaky(x) = max(0, x) + 0.01 min(0, x)

// log(1 + exp(x)) without overflow.
double Softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
double Sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

struct ExitParams {
  Eigen::Map<const Eigen::MatrixXd> w_sh;
  Eigen::Map<const Eigen::VectorXd> b_sh, w_g, w_h;
  double b_g, b_h;
};

ExitParams Params(const EENetLayout& l, const Eigen::VectorXd& theta, int j) {
  const double* p = theta.data() + l.offset[j];
  const int h = l.hidden[j], d = l.inputs[j];
  return ExitParams{Eigen::Map<const Eigen::MatrixXd>(p, h, d),
                    Eigen::Map<const Eigen::VectorXd>(p + h * d, h),
                    Eigen::Map<const Eigen::VectorXd>(p + h * d + h, h),
                    Eigen::Map<const Eigen::VectorXd>(p + h * d + 2 * h + 1, h),
                    p[h * d + 2 * h],
                    p[h * d + 3 * h + 1]};
}

// Which samples a pass reads: columns first .. first + n - 1 of the inputs and of the K x N
// targets, or the listed columns (a training mini-batch or the held-out part, read in place
// without copying the inputs).
struct Columns {
  const int* index = nullptr;
  int first = 0, n = 0;
  int operator()(int i) const { return index ? index[i] : first + i; }
};

template <typename T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

// c = op(a) op(b), op(x) = x' when the flag is set: Eigen's product, for float on the widest SIMD
// of this CPU (internal::FloatGemm).
template <typename T, typename A, typename B>
void Product(Mat<T>& c, const A& a, bool ta, const B& b, bool tb) {
  const int m = static_cast<int>(ta ? a.cols() : a.rows());
  const int depth = static_cast<int>(ta ? a.rows() : a.cols());
  const int n = static_cast<int>(tb ? b.rows() : b.cols());
  if constexpr (std::is_same_v<T, float>) {
    c.resize(m, n);
    internal::FloatGemm(ta, tb, m, n, depth, a.data(), static_cast<int>(a.outerStride()), b.data(),
                        static_cast<int>(b.outerStride()), c.data(), m);
  } else if (!ta && !tb) {
    c.noalias() = a * b;
  } else if (ta && !tb) {
    c.noalias() = a.transpose() * b;
  } else if (!ta && tb) {
    c.noalias() = a * b.transpose();
  } else {
    c.noalias() = a.transpose() * b.transpose();
  }
}

// Everything the backward pass needs from the forward pass. The per-exit layers (the products
// over the hidden units: nearly all the arithmetic) run in T; the K x n quantities (scores,
// assignment logits, the loss and its derivatives with respect to them) in double.
template <typename T>
struct Tape {
  std::vector<Mat<T>> w;      // per exit: W_sh (H x D)
  std::vector<Mat<T>> heads;  // per exit: [w_g'; w_h'] (2 x H)
  std::vector<Mat<T>> x, s;   // per exit: inputs D x n; activation leaky(z) H x n (z > 0 iff s > 0)
  Mat<T> ur;                  // 2 x n: both heads of one exit, before their biases
  Eigen::Matrix<T, Eigen::Dynamic, 1> bias, db;  // one exit's b_sh, and its gradient
  Eigen::MatrixXd u, rt;  // K x n: utility logits (q = sigmoid(u)), assignment logits
  Eigen::MatrixXd q, r;   // K x n: sigmoid(u), softmax over exits of rt
  Eigen::VectorXd lse;    // n: log-sum-exp over exits of rt (log r = rt - lse)
  // Backward workspace, kept between calls: re-allocating these per mini-batch (each above glibc's
  // mmap threshold) cost a page fault storm of ~30% of the training time.
  Eigen::MatrixXd surv, du, dr, dq;  // K x n
  Mat<T> dur, dz, dw, dheads, dqj;   // one exit's: 2 x n, H x n, H x D, 2 x H, j x n
};

// Tapes reused across calls, one per thread, precision and batch size (training alternates full
// batches, the last short batch and the held-out set; one shared tape would reallocate, and fault
// in fresh pages, three times per epoch). Large sets (scoring a whole split) get a temporary tape.
template <typename T>
class TapeLease {
 public:
  explicit TapeLease(int n) {
    if (n <= 4096) {
      thread_local std::map<int, Tape<T>> cache;
      tape_ = &cache[n];
    } else {
      owned_ = std::make_unique<Tape<T>>();
      tape_ = owned_.get();
    }
  }
  Tape<T>& operator*() { return *tape_; }

 private:
  Tape<T>* tape_ = nullptr;
  std::unique_ptr<Tape<T>> owned_;
};

template <typename T>
void Forward(const EENetLayout& l, const Eigen::VectorXd& theta, const EENetInputs& in,
             const Columns& cols, Tape<T>* t) {
  const int n = cols.n, k = l.k, c3 = l.c + 3;
  t->w.resize(k);
  t->heads.resize(k);
  t->x.resize(k);
  t->s.resize(k);
  t->u.resize(k, n);
  t->rt.resize(k, n);
  t->q.resize(k, n);
  for (int j = 0; j < k; ++j) {
    const ExitParams p = Params(l, theta, j);
    Mat<T>& w = t->w[j];
    w = p.w_sh.cast<T>();
    Mat<T>& heads = t->heads[j];
    heads.resize(2, l.hidden[j]);
    heads.row(0) = p.w_g.transpose().cast<T>();
    heads.row(1) = p.w_h.transpose().cast<T>();
    Mat<T>& x = t->x[j];
    x.resize(l.inputs[j], n);
    const Eigen::MatrixXf& base = in.base[j];
    if (cols.index) {
      for (int i = 0; i < n; ++i) x.col(i).head(c3) = base.col(cols.index[i]).cast<T>();
    } else {
      x.topRows(c3) = base.middleCols(cols.first, n).cast<T>();
    }
    if (j > 0)
      x.bottomRows(j) = t->q.topRows(j).template cast<T>();  // b_k: the earlier utility scores
    Mat<T>& s = t->s[j];
    Product(s, w, false, x, false);
    t->bias = p.b_sh.cast<T>();  // cast once: a cast inside colwise() is not vectorised
    s.colwise() += t->bias;
    s = s.cwiseMax(static_cast<T>(kLeak) * s);  // leaky ReLU: max(z, 0.01 z)
    Product(t->ur, heads, false, s, false);
    t->u.row(j) = t->ur.row(0).template cast<double>().array() + p.b_g;
    t->rt.row(j) = t->ur.row(1).template cast<double>().array() + p.b_h;
    t->q.row(j) = t->u.row(j).unaryExpr([](double v) { return Sigmoid(v); });
  }
  t->r.resize(k, n);
  t->lse.resize(n);
  for (int i = 0; i < n; ++i) {
    const double m = t->rt.col(i).maxCoeff();
    t->r.col(i) = (t->rt.col(i).array() - m).exp();
    const double sum = t->r.col(i).sum();
    t->r.col(i) /= sum;
    t->lse(i) = m + std::log(sum);
  }
}

template <typename T>
EENetLoss LossAndGradient(const EENetLayout& l, const Eigen::VectorXd& theta, const EENetInputs& in,
                          const Columns& cols, const CorrectMatrix& correct,
                          const Eigen::MatrixXd& r_target, const std::vector<double>& cost,
                          double budget, const EENetLossWeights& w, Eigen::VectorXd* grad,
                          const Eigen::MatrixXd* fixed_survival) {
  TapeLease<T> lease(cols.n);
  Tape<T>& t = *lease;
  Forward(l, theta, in, cols, &t);
  const int n = cols.n, k = l.k;
  EENetLoss loss;
  // Survival weights (eq. 13), constants: w_nk = (1 - sum_{k'<k} r_nk') / sum_n (same).
  Eigen::MatrixXd& surv = t.surv;
  if (fixed_survival) {
    surv = *fixed_survival;
  } else {
    surv.resize(k, n);
    for (int i = 0; i < n; ++i) {
      double acc = 0.0;
      for (int j = 0; j < k; ++j) {
        surv(j, i) = std::max(0.0, 1.0 - acc);
        acc += t.r(j, i);
      }
    }
  }
  Eigen::MatrixXd& du = t.du;  // dL/du
  Eigen::MatrixXd& dr = t.dr;  // dL/drt (through the softmax)
  du.resize(k, n);
  dr.resize(k, n);
  for (int j = 0; j < k; ++j) {
    const double surv_sum = surv.row(j).sum();
    const double norm = surv_sum > 0 ? 1.0 / surv_sum : 0.0;
    for (int i = 0; i < n; ++i) {
      const double wk = surv(j, i) * norm / k;  // eq. 11's 1/K folded in
      const double u = t.u(j, i);
      const bool y = correct(j, cols(i)) != 0;
      // -(y log q + (1-y) log(1-q)) with log q = -softplus(-u), log(1-q) = -softplus(u).
      loss.g += wk * (y ? Softplus(-u) : Softplus(u));
      du(j, i) = wk * (t.q(j, i) - (y ? 1.0 : 0.0));
    }
  }
  // L_budget (eq. 14) = |B - mean_n sum_k r_nk c_k| / B.
  for (int j = 0; j < k; ++j) loss.mean_cost += t.r.row(j).sum() * cost[j];
  loss.mean_cost /= n;
  const double gap = loss.mean_cost - budget;
  loss.budget = std::abs(gap) / budget;
  const double sign = gap > 0 ? 1.0 : (gap < 0 ? -1.0 : 0.0);
  // L_CE (eq. 15) = -1/(NK) sum r_nk log rhat_nk, with log rhat = rt - logsumexp(rt).
  for (int i = 0; i < n; ++i) {
    const int col = cols(i);
    for (int j = 0; j < k; ++j) {
      const double target = r_target(j, col);
      if (target > 0) loss.ce -= target * (t.rt(j, i) - t.lse(i));
    }
  }
  loss.ce /= static_cast<double>(n) * k;
  loss.l2 = 0.5 * w.weight_decay * theta.squaredNorm();
  loss.total = loss.g + w.alpha * loss.budget + w.beta * loss.ce + loss.l2;
  if (!grad) return loss;

  // dL/drhat_nk = alpha sign c_k / (B N) + (CE handled in closed form below); through the
  // softmax: d/drt_nk = rhat_nk (g_nk - sum_k' rhat_nk' g_nk'). For CE with sum_k r_nk = 1 the
  // softmax gradient is (rhat_nk - r_nk) / (NK).
  const double budget_scale = w.alpha * sign / (budget * n);
  const double ce_scale = w.beta / (static_cast<double>(n) * k);
  for (int i = 0; i < n; ++i) {
    const int col = cols(i);
    double mean_g = 0.0;
    for (int j = 0; j < k; ++j) mean_g += t.r(j, i) * cost[j];
    const double rsum = r_target.col(col).sum();
    for (int j = 0; j < k; ++j) {
      dr(j, i) = budget_scale * t.r(j, i) * (cost[j] - mean_g) +
                 ce_scale * (t.r(j, i) * rsum - r_target(j, col));
    }
  }
  grad->resize(theta.size());
  *grad = w.weight_decay * theta;
  // Backward, deepest exit first: exit j's inputs hold q_1..q_{j-1} (b_k, eq. 8), so its input
  // gradient adds to the utility gradients of the earlier exits before those are propagated.
  Eigen::MatrixXd& dq = t.dq;  // dL/dq through the b inputs
  dq.setZero(k, n);
  for (int j = k - 1; j >= 0; --j) {
    const int h = l.hidden[j], d = l.inputs[j];
    if (j < k - 1) {  // q = sigmoid(u): dq/du = q (1 - q)
      du.row(j).array() += dq.row(j).array() * t.q.row(j).array() * (1.0 - t.q.row(j).array());
    }
    const Mat<T>& s = t.s[j];
    t.dur.resize(2, n);
    t.dur.row(0) = du.row(j).cast<T>();
    t.dur.row(1) = dr.row(j).cast<T>();
    Mat<T>& dz = t.dz;
    Product(dz, t.heads[j], true, t.dur, false);  // dL/ds, H x n
    // dL/dz = dL/ds * (1 where s > 0, else kLeak). Eigen 3.4's select() runs one coefficient at a
    // time behind a branch that mispredicts about half the time here; this form vectorises and
    // gives the same values: step = clamp(s * big * big, 0, 1) is exactly 1 for every s > 0
    // (denormals included: big^2 >= 2^(mantissa + exponent range)) and 0 otherwise, so
    // step + (1 - step) * kLeak is exactly 1 or kLeak.
    const T big = std::ldexp(T(1), std::numeric_limits<T>::max_exponent - 2);
    const auto step = ((s.array() * big) * big).max(T(0)).min(T(1));
    dz.array() *= step + (T(1) - step) * static_cast<T>(kLeak);
    double* g = grad->data() + l.offset[j];
    Product(t.dw, dz, false, t.x[j], true);  // H x D
    Eigen::Map<Eigen::MatrixXd>(g, h, d) += t.dw.template cast<double>();
    // Row sums of dz column by column (contiguous and vectorised; rowwise().sum() walks each row
    // with stride H, one coefficient at a time), in the same order of additions.
    t.db = dz.col(0);
    for (int i = 1; i < n; ++i) t.db += dz.col(i);
    Eigen::Map<Eigen::VectorXd>(g + h * d, h) += t.db.template cast<double>();
    Product(t.dheads, t.dur, false, s, true);  // 2 x H
    Eigen::Map<Eigen::VectorXd>(g + h * d + h, h) +=
        t.dheads.row(0).transpose().template cast<double>();
    g[h * d + 2 * h] += du.row(j).sum();
    Eigen::Map<Eigen::VectorXd>(g + h * d + 2 * h + 1, h) +=
        t.dheads.row(1).transpose().template cast<double>();
    g[h * d + 3 * h + 1] += dr.row(j).sum();
    if (j > 0) {
      Product(t.dqj, t.w[j].rightCols(j), true, dz, false);
      dq.topRows(j) += t.dqj.template cast<double>();
    }
  }
  return loss;
}

}  // namespace

EENetLayout EENetLayout::FromHidden(int k, int c, const std::vector<int>& hidden) {
  EENetLayout l;
  l.k = k;
  l.c = c;
  l.hidden = hidden;
  l.inputs.resize(k);
  l.offset.resize(k);
  for (int j = 0; j < k; ++j) {
    l.inputs[j] = c + 3 + j;
    l.offset[j] = l.size;
    l.size += l.BlockSize(j);
  }
  return l;
}

EENetLayout EENetLayout::Make(int k, int c, double hidden_ratio) {
  std::vector<int> hidden(k);
  for (int j = 0; j < k; ++j) {
    hidden[j] = std::max(1, static_cast<int>(std::lround(hidden_ratio * (c + 3 + j))));
  }
  return FromHidden(k, c, hidden);
}

EENetInputs EENetInputs::Gather(const std::vector<int>& index) const {
  EENetInputs out;
  out.base.reserve(base.size());
  for (const Eigen::MatrixXf& m : base) out.base.push_back(m(Eigen::all, index));
  return out;
}

EENetInputs BuildEENetInputs(const SplitData& split, const std::vector<double>& temperatures) {
  if (!split.has_logits()) {
    throw InputError(split.source,
                     "the EENet scorer needs per-exit logits, but this is a "
                     "scores-mode dump");
  }
  const int k = split.k, n = split.n, c = split.c;
  if (!temperatures.empty() && static_cast<int>(temperatures.size()) != k) {
    throw InputError("temperatures", "expected " + std::to_string(k) + " values, got " +
                                         std::to_string(temperatures.size()));
  }
  EENetInputs in;
  in.base.assign(k, Eigen::MatrixXf(c + 3, n));
  const double log_c = std::log(static_cast<double>(c));
  std::vector<double> z(c);
  std::vector<int> votes(c);
  for (int i = 0; i < n; ++i) {
    std::fill(votes.begin(), votes.end(), 0);
    int best_votes = 0;
    for (int j = 0; j < k; ++j) {
      split.Logits(i, j, z.data());
      const double inv_t = temperatures.empty() ? 1.0 : 1.0 / temperatures[j];
      const ExitSoftmax sm = ComputeExitSoftmax(z.data(), c, inv_t, log_c, split.source, i, j);
      const int arg = sm.arg;
      Eigen::MatrixXf& b = in.base[j];
      for (int q = 0; q < c; ++q) b(q, i) = static_cast<float>(z[q] / sm.sum);
      b(c, i) = static_cast<float>(sm.max_prob);     // eq. 5
      b(c + 1, i) = static_cast<float>(sm.entropy);  // eq. 6
      best_votes = std::max(best_votes, ++votes[arg]);
      b(c + 2, i) = static_cast<float>(static_cast<double>(best_votes) / (j + 1));  // eq. 7
    }
  }
  return in;
}

void EENetForward(const EENetLayout& layout, const Eigen::VectorXd& theta, const EENetInputs& in,
                  ScoreMatrix* q, ScoreMatrix* r) {
  // In chunks of at most 4096 samples, so scoring a large split keeps the per-layer activations
  // (H x chunk per exit) small and reuses one cached tape.
  constexpr int kChunk = 4096;
  const int n = in.n(), k = layout.k;
  if (q) q->resize(k, n);
  if (r) r->resize(k, n);
  for (int start = 0; start < n; start += kChunk) {
    const int len = std::min(kChunk, n - start);
    TapeLease<double> lease(len);
    Tape<double>& tape = *lease;
    Forward(layout, theta, in, Columns{nullptr, start, len}, &tape);
    if (q) q->middleCols(start, len) = tape.q;
    if (r) r->middleCols(start, len) = tape.r;
  }
}

Eigen::MatrixXd EENetSurvival(const Eigen::MatrixXd& r) {
  const int k = static_cast<int>(r.rows()), n = static_cast<int>(r.cols());
  Eigen::MatrixXd surv(k, n);
  for (int i = 0; i < n; ++i) {
    double acc = 0.0;
    for (int j = 0; j < k; ++j) {
      surv(j, i) = std::max(0.0, 1.0 - acc);
      acc += r(j, i);
    }
  }
  return surv;
}

Eigen::MatrixXd EENetAssignmentTargets(const CorrectMatrix& correct) {
  const int k = static_cast<int>(correct.rows()), n = static_cast<int>(correct.cols());
  Eigen::MatrixXd r(k, n);
  for (int i = 0; i < n; ++i) {
    int right = 0;
    for (int j = 0; j < k; ++j) right += correct(j, i) != 0;
    for (int j = 0; j < k; ++j) {
      r(j, i) = right == 0 ? 1.0 / k : (correct(j, i) ? 1.0 / right : 0.0);
    }
  }
  return r;
}

EENetLoss EENetLossAndGradient(const EENetLayout& l, const Eigen::VectorXd& theta,
                               const EENetInputs& in, const CorrectMatrix& correct,
                               const Eigen::MatrixXd& r_target, const std::vector<double>& cost,
                               double budget, const EENetLossWeights& w, Eigen::VectorXd* grad,
                               const Eigen::MatrixXd* fixed_survival, EENetPrecision precision,
                               std::span<const int> columns) {
  const Columns cols{columns.empty() ? nullptr : columns.data(), 0,
                     columns.empty() ? in.n() : static_cast<int>(columns.size())};
  if (precision == EENetPrecision::kFloat) {
    return LossAndGradient<float>(l, theta, in, cols, correct, r_target, cost, budget, w, grad,
                                  fixed_survival);
  }
  return LossAndGradient<double>(l, theta, in, cols, correct, r_target, cost, budget, w, grad,
                                 fixed_survival);
}

}  // namespace exitplan
