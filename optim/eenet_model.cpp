#include "optim/eenet_model.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "profiles/dump.hpp"
#include "profiles/error.hpp"
#include "profiles/softmax.hpp"

namespace exitplan {
namespace {

constexpr double kLeak = 0.01;  // seed 001: sigma_leaky(x) = max(0, x) + 0.01 min(0, x)

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
                    Eigen::Map<const Eigen::VectorXd>(p + h * d + 2 * h + 1, h), p[h * d + 2 * h],
                    p[h * d + 3 * h + 1]};
}

// Everything the backward pass needs from the forward pass.
struct Tape {
  std::vector<Eigen::MatrixXd> x, z, s;  // per exit: inputs D x n, pre-activation and activation H x n
  Eigen::MatrixXd u, rt;                  // K x n: utility logits (q = sigmoid(u)), assignment logits
  Eigen::MatrixXd r;                      // K x n: softmax over exits of rt
  Eigen::MatrixXd q;                      // K x n: sigmoid(u)
  // Backward workspace, kept between calls: re-allocating these per mini-batch (each above glibc's
  // mmap threshold) cost a page fault storm of ~30% of the training time.
  Eigen::MatrixXd surv, du, dr, dq, ds, dz;
};

// Tapes reused across calls, one per thread and batch size (training alternates full batches, the
// last short batch and the held-out set; one shared tape would reallocate, and fault in fresh
// pages, three times per epoch). Large sets (scoring a whole split) get a temporary tape.
class TapeLease {
 public:
  explicit TapeLease(int n) {
    if (n <= 4096) {
      thread_local std::map<int, Tape> cache;
      tape_ = &cache[n];
    } else {
      owned_ = std::make_unique<Tape>();
      tape_ = owned_.get();
    }
  }
  Tape& operator*() { return *tape_; }

 private:
  Tape* tape_ = nullptr;
  std::unique_ptr<Tape> owned_;
};

void Forward(const EENetLayout& l, const Eigen::VectorXd& theta, const EENetInputs& in,
             Tape* tape) {
  const int n = in.n(), k = l.k;
  tape->x.resize(k);
  tape->z.resize(k);
  tape->s.resize(k);
  tape->u.resize(k, n);
  tape->rt.resize(k, n);
  Eigen::MatrixXd& q = tape->q;
  q.resize(k, n);
  for (int j = 0; j < k; ++j) {
    const ExitParams p = Params(l, theta, j);
    Eigen::MatrixXd& x = tape->x[j];
    x.resize(l.inputs[j], n);
    x.topRows(l.c + 3) = in.base[j];
    if (j > 0) x.bottomRows(j) = q.topRows(j);  // b_k: earlier utility scores, held constant
    Eigen::MatrixXd& z = tape->z[j];
    z.noalias() = p.w_sh * x;
    z.colwise() += p.b_sh;
    Eigen::MatrixXd& s = tape->s[j];
    s = z.unaryExpr([](double v) { return v > 0 ? v : kLeak * v; });
    tape->u.row(j).noalias() = p.w_g.transpose() * s;
    tape->u.row(j).array() += p.b_g;
    tape->rt.row(j).noalias() = p.w_h.transpose() * s;
    tape->rt.row(j).array() += p.b_h;
    q.row(j) = tape->u.row(j).unaryExpr([](double v) { return Sigmoid(v); });
  }
  tape->r.resize(k, n);
  for (int i = 0; i < n; ++i) {
    const double m = tape->rt.col(i).maxCoeff();
    tape->r.col(i) = (tape->rt.col(i).array() - m).exp();
    tape->r.col(i) /= tape->r.col(i).sum();
  }
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
  for (const Eigen::MatrixXd& m : base) out.base.push_back(m(Eigen::all, index));
  return out;
}

EENetInputs BuildEENetInputs(const SplitData& split, const std::vector<double>& temperatures) {
  if (!split.has_logits()) {
    throw InputError(split.source, "the EENet scorer needs per-exit logits, but this is a "
                                   "scores-mode dump");
  }
  const int k = split.k, n = split.n, c = split.c;
  if (!temperatures.empty() && static_cast<int>(temperatures.size()) != k) {
    throw InputError("temperatures", "expected " + std::to_string(k) + " values, got " +
                                         std::to_string(temperatures.size()));
  }
  EENetInputs in;
  in.base.assign(k, Eigen::MatrixXd(c + 3, n));
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
      Eigen::MatrixXd& b = in.base[j];
      for (int q = 0; q < c; ++q) b(q, i) = z[q] / sm.sum;
      b(c, i) = sm.max_prob;    // eq. 5
      b(c + 1, i) = sm.entropy;  // eq. 6
      best_votes = std::max(best_votes, ++votes[arg]);
      b(c + 2, i) = static_cast<double>(best_votes) / (j + 1);  // eq. 7
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
    EENetInputs chunk;
    const EENetInputs* src = &in;
    if (len != n) {
      chunk.base.reserve(in.base.size());
      for (const Eigen::MatrixXd& m : in.base) chunk.base.push_back(m.middleCols(start, len));
      src = &chunk;
    }
    TapeLease lease(len);
    Tape& tape = *lease;
    Forward(layout, theta, *src, &tape);
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
                               const Eigen::MatrixXd* fixed_survival) {
  TapeLease lease(in.n());
  Tape& t = *lease;
  Forward(l, theta, in, &t);
  const int n = in.n(), k = l.k;
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
  Eigen::VectorXd surv_sum = surv.rowwise().sum();
  Eigen::MatrixXd& du = t.du;  // dL/du
  Eigen::MatrixXd& dr = t.dr;  // dL/drt (through the softmax)
  du.resize(k, n);
  dr.resize(k, n);
  for (int j = 0; j < k; ++j) {
    const double norm = surv_sum(j) > 0 ? 1.0 / surv_sum(j) : 0.0;
    for (int i = 0; i < n; ++i) {
      const double wk = surv(j, i) * norm / k;  // eq. 11's 1/K folded in
      const double u = t.u(j, i);
      const double y = correct(j, i) ? 1.0 : 0.0;
      // -(y log q + (1-y) log(1-q)) with log q = -softplus(-u), log(1-q) = -softplus(u).
      loss.g += wk * (y * Softplus(-u) + (1.0 - y) * Softplus(u));
      du(j, i) = wk * (Sigmoid(u) - y);
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
    const double m = t.rt.col(i).maxCoeff();
    const double lse = m + std::log((t.rt.col(i).array() - m).exp().sum());
    for (int j = 0; j < k; ++j) {
      if (r_target(j, i) > 0) loss.ce -= r_target(j, i) * (t.rt(j, i) - lse);
    }
  }
  loss.ce /= static_cast<double>(n) * k;
  loss.l2 = 0.5 * w.weight_decay * theta.squaredNorm();
  loss.total = loss.g + w.alpha * loss.budget + w.beta * loss.ce + loss.l2;
  if (!grad) return loss;

  // dL/drhat_nk = alpha sign c_k / (B N) + (CE handled in closed form below); through the
  // softmax: d/drt_nk = rhat_nk (g_nk - sum_k' rhat_nk' g_nk'). For CE with sum_k r_nk = 1 the
  // softmax gradient is (rhat_nk - r_nk) / (NK).
  for (int i = 0; i < n; ++i) {
    double mean_g = 0.0;
    for (int j = 0; j < k; ++j) mean_g += t.r(j, i) * cost[j];
    const double rsum = r_target.col(i).sum();
    for (int j = 0; j < k; ++j) {
      const double budget_part = w.alpha * sign / (budget * n) * t.r(j, i) * (cost[j] - mean_g);
      const double ce_part = w.beta * (t.r(j, i) * rsum - r_target(j, i)) /
                             (static_cast<double>(n) * k);
      dr(j, i) = budget_part + ce_part;
    }
  }
  grad->resize(theta.size());
  *grad = w.weight_decay * theta;
  // Backward, deepest exit first: exit j's inputs hold q_1..q_{j-1} (b_k, eq. 8), so its input
  // gradient adds to the utility gradients of the earlier exits before those are propagated.
  Eigen::MatrixXd& dq = t.dq;  // dL/dq through the b inputs
  dq.resize(k, n);
  dq.setZero();
  for (int j = k - 1; j >= 0; --j) {
    const int h = l.hidden[j], d = l.inputs[j];
    const ExitParams p = Params(l, theta, j);
    if (j < k - 1) {  // q = sigmoid(u): dq/du = q (1 - q)
      for (int i = 0; i < n; ++i) {
        const double q = Sigmoid(t.u(j, i));
        du(j, i) += dq(j, i) * q * (1.0 - q);
      }
    }
    double* g = grad->data() + l.offset[j];
    Eigen::MatrixXd& ds = t.ds;
    Eigen::MatrixXd& dz = t.dz;
    ds.noalias() = p.w_g * du.row(j);  // H x n
    ds.noalias() += p.w_h * dr.row(j);
    dz = ds.cwiseProduct(t.z[j].unaryExpr([](double v) { return v > 0 ? 1.0 : kLeak; }));
    Eigen::Map<Eigen::MatrixXd>(g, h, d).noalias() += dz * t.x[j].transpose();
    Eigen::Map<Eigen::VectorXd>(g + h * d, h) += dz.rowwise().sum();
    Eigen::Map<Eigen::VectorXd>(g + h * d + h, h).noalias() += t.s[j] * du.row(j).transpose();
    g[h * d + 2 * h] += du.row(j).sum();
    Eigen::Map<Eigen::VectorXd>(g + h * d + 2 * h + 1, h).noalias() +=
        t.s[j] * dr.row(j).transpose();
    g[h * d + 3 * h + 1] += dr.row(j).sum();
    if (j > 0) dq.topRows(j).noalias() += p.w_sh.rightCols(j).transpose() * dz;
  }
  return loss;
}

}  // namespace exitplan
