#include "dse/internal/path_solver.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>

namespace exitplan::internal {

PathShared PathShared::Prepare(const ScoreMatrix& scores, const CorrectMatrix& correct,
                               ScoreOrder order) {
  PathShared s;
  s.scores = &scores;
  s.correct = &correct;
  s.order = order;
  s.k = static_cast<int>(scores.rows());
  s.n = static_cast<int>(scores.cols());
  s.order_of.resize(s.k);
  s.rank.resize(s.k);
  s.cut_ok.resize(s.k);
  const bool desc = order == ScoreOrder::kDescending;
  for (int j = 0; j < s.k; ++j) {
    std::vector<int>& o = s.order_of[j];
    o.resize(s.n);
    std::iota(o.begin(), o.end(), 0);
    std::stable_sort(o.begin(), o.end(), [&](int a, int b) {
      return desc ? scores(j, a) > scores(j, b) : scores(j, a) < scores(j, b);
    });
    s.rank[j].resize(s.n);
    for (int q = 0; q < s.n; ++q) s.rank[j][o[q]] = q;
    s.cut_ok[j].assign(s.n + 1, 1);
    for (int c = 1; c < s.n; ++c) s.cut_ok[j][c] = scores(j, o[c - 1]) != scores(j, o[c]);
  }
  return s;
}

PathSolver::PathSolver(const PathShared& shared, const std::vector<int>& kept,
                       const std::vector<double>& stop_cost)
    : s_(shared), kept_(kept), m_(static_cast<int>(kept.size())) {
  for (int e : kept_) cost_.push_back(stop_cost[e]);
  corr_.assign(s_.n, 0);
  for (int i = 0; i < s_.n; ++i) {
    for (int q = 0; q < m_; ++q) {
      if ((*s_.correct)(kept_[q], i)) corr_[i] |= std::uint32_t{1} << q;
    }
  }
}

namespace {
double MeanCost(const std::vector<std::int64_t>& cnt, const std::vector<double>& cost, int n) {
  double total = 0.0;
  for (std::size_t q = 0; q < cnt.size(); ++q) total += static_cast<double>(cnt[q]) * cost[q];
  return n > 0 ? total / n : 0.0;
}
}  // namespace

void PathSolver::Value(const std::vector<int>& cuts, std::int64_t* correct,
                       double* mean_cost) const {
  std::vector<std::int64_t> cnt(m_, 0);
  std::int64_t right = 0;
  for (int i = 0; i < s_.n; ++i) {
    int stop = m_ - 1;
    for (int q = 0; q < m_ - 1; ++q) {
      if (s_.rank[kept_[q]][i] < cuts[q]) {
        stop = q;
        break;
      }
    }
    ++cnt[stop];
    right += (*s_.correct)(kept_[stop], i);
  }
  *correct = right;
  *mean_cost = MeanCost(cnt, cost_, s_.n);
}

std::vector<int> PathSolver::Ascend(double budget, std::vector<int> cuts, int max_sweeps,
                                    int* sweeps, double lambda, std::int64_t* out_right,
                                    double* out_mean_cost) const {
  const bool lagrangian = lambda >= 0.0;
  std::int64_t last_right = -1;  // the state's figures as the last update saw them
  double last_total = 0.0;
  const int n = s_.n;
  // Bit p of pass[i]: sample i passes slot p under the current cuts (m - 1 <= 30 slots).
  std::vector<std::uint32_t> pass(n, 0);
  for (int p = 0; p < m_ - 1; ++p) {
    const std::vector<int>& ord = s_.order_of[kept_[p]];
    for (int c = 0; c < cuts[p]; ++c) pass[ord[c]] |= std::uint32_t{1} << p;
  }
  std::vector<int> slot(n);  // downstream slot of each sample when it does not stop at q
  std::vector<char> reach(n);
  const double slack = 1e-12 * std::max(1.0, std::abs(budget));
  const double limit = (budget + slack) * n;
  int sw = 0;
  bool converged = false;
  for (; sw < max_sweeps; ++sw) {
    bool changed = false;
    for (int q = 0; q < m_ - 1; ++q) {
      const int e = kept_[q];
      const std::uint32_t below = (std::uint32_t{1} << q) - 1;
      const std::uint32_t not_q = ~(std::uint32_t{1} << q);
      // Base: nobody stops at q.
      std::int64_t right = 0;
      double total = 0.0;  // running cost sum; the final answer is re-checked by the evaluator
      for (int i = 0; i < n; ++i) {
        const std::uint32_t bits = pass[i] & not_q;
        const int stop = bits ? std::countr_zero(bits) : m_ - 1;
        reach[i] = (pass[i] & below) == 0;
        slot[i] = stop;
        right += (corr_[i] >> stop) & 1u;
        total += cost_[stop];
      }
      // Scan q's cuts.
      const std::vector<int>& ord = s_.order_of[e];
      const std::vector<char>& ok = s_.cut_ok[e];
      int best_c = -1;
      bool best_feas = false;
      double best_right = 0;
      double best_cost = std::numeric_limits<double>::infinity();
      int cur_pos = -1;
      bool cur_feas = false;
      double cur_right = 0;
      double cur_cost = 0;
      for (int c = 0; c <= n; ++c) {
        if (c > 0) {
          const int i = ord[c - 1];
          if (reach[i]) {
            const int d = slot[i];
            right += static_cast<std::int64_t>((corr_[i] >> q) & 1u) -
                     static_cast<std::int64_t>((corr_[i] >> d) & 1u);
            total += cost_[q] - cost_[d];
          }
        }
        if (!ok[c]) continue;
        const double cost = total;  // compared as a sum; the mean is total / n
        // Lagrangian mode: every state "fits"; compare right - lambda x total instead of right.
        const bool feas = lagrangian || total <= limit;
        const double value =
            lagrangian ? static_cast<double>(right) - lambda * total : static_cast<double>(right);
        if (c == cuts[q]) {
          cur_pos = c, cur_feas = feas, cur_right = value, cur_cost = cost;
          last_right = right;
          last_total = total;
        }
        bool better;
        if (best_c < 0) {
          better = true;
        } else if (feas != best_feas) {
          better = feas;
        } else if (feas && value != best_right) {
          better = value > best_right;
        } else {
          better = cost < best_cost;
        }
        if (better) best_c = c, best_feas = feas, best_right = value, best_cost = cost;
      }
      // Move only on a strict improvement over the current cut (no cycling).
      bool improve = cur_pos < 0;
      if (!improve && best_c != cuts[q]) {
        if (best_feas != cur_feas) {
          improve = best_feas;
        } else if (best_feas && best_right != cur_right) {
          improve = best_right > cur_right;
        } else {
          improve = best_cost < cur_cost;
        }
      }
      if (improve && best_c != cuts[q]) {
        const std::uint32_t bit = std::uint32_t{1} << q;
        for (int c = std::min(cuts[q], best_c); c < std::max(cuts[q], best_c); ++c) {
          pass[ord[c]] ^= bit;
        }
        cuts[q] = best_c;
        changed = true;
        last_right = -1;
      }
    }
    if (!changed) {
      ++sw;
      converged = true;
      break;
    }
  }
  if (sweeps) *sweeps += sw;
  if (out_right != nullptr && out_mean_cost != nullptr) {
    if (converged && last_right >= 0 && n > 0) {
      *out_right = last_right;
      *out_mean_cost = last_total / n;
    } else {
      Value(cuts, out_right, out_mean_cost);
    }
  }
  return cuts;
}

std::vector<int> PathSolver::CutsOf(const std::vector<double>& t) const {
  std::vector<int> cuts(m_ - 1, 0);
  for (int q = 0; q < m_ - 1; ++q) {
    int c = 0;
    for (int i = 0; i < s_.n; ++i) {
      c += Passes((*s_.scores)(kept_[q], i), t[q], s_.order) ? 1 : 0;
    }
    cuts[q] = c;
  }
  return cuts;
}

std::vector<double> PathSolver::ThresholdsOf(const std::vector<int>& cuts) const {
  const double inf = std::numeric_limits<double>::infinity();
  const bool desc = s_.order == ScoreOrder::kDescending;
  std::vector<double> t(m_ - 1);
  for (int q = 0; q < m_ - 1; ++q) {
    const int e = kept_[q];
    const std::vector<int>& ord = s_.order_of[e];
    const int c = cuts[q];
    auto val = [&](int pos) { return (*s_.scores)(e, ord[pos]); };
    if (s_.n == 0) {
      t[q] = desc ? inf : -inf;
    } else if (desc) {  // score >= t passes
      t[q] = c == 0 ? std::nextafter(val(0), inf) : val(c - 1);
    } else {  // score < t passes
      t[q] = c == s_.n ? std::nextafter(val(s_.n - 1), inf) : val(c);
    }
  }
  return t;
}

}  // namespace exitplan::internal
