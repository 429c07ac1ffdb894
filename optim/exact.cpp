#include "optim/exact.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <sstream>

#include "optim/geometric.hpp"
#include "optim/internal/cascade.hpp"
#include "optim/single.hpp"

namespace exitplan {
namespace {

// A state's rank in the constrained problem: feasible beats infeasible; among feasible, more
// correct then cheaper; among infeasible, cheaper.
struct Value {
  bool feasible = false;
  std::int64_t correct = 0;
  double cost = 0.0;  // mean cost, computed exactly as the evaluator does
  bool Better(const Value& o) const {
    if (feasible != o.feasible) return feasible;
    if (feasible && correct != o.correct) return correct > o.correct;
    return cost < o.cost;
  }
};

class ExactSolver {
 public:
  // Set up for a problem. The storage is kept between problems (SolveExact keeps one solver per
  // thread): on the shared VM, first-touch page faults of fresh buffers cost as much as sorting.
  void Reset(const ThresholdProblem& p) {
    p_ = &p;
    n_ = p.n();
    m_ = static_cast<int>(p.kept.size());
    order_.resize(m_ - 1);
    vals_.resize(m_ - 1);
    rank_.resize(m_ - 1);
    for (int q = 0; q + 1 < m_; ++q) {
      internal::ConfidenceOrder(p, p.kept[q], order_[q]);
      vals_[q].resize(n_);
      rank_[q].resize(n_);
      for (int j = 0; j < n_; ++j) {
        vals_[q][j] = (*p.scores)(p.kept[q], order_[q][j]);
        rank_[q][order_[q][j]] = j;
      }
    }
    corr_.resize(static_cast<std::size_t>(n_) * m_);
    for (int i = 0; i < n_; ++i)
      for (int q = 0; q < m_; ++q) corr_[static_cast<std::size_t>(i) * m_ + q] = (*p.correct)(p.kept[q], i);
    cost_.resize(m_);
    for (int q = 0; q < m_; ++q) cost_[q] = p.stop_cost[p.kept[q]];
    cut_.clear();
    ex_.clear();
  }

  int m() const { return m_; }

  std::vector<int> CutsOf(const std::vector<double>& t) const {
    std::vector<int> cut(m_ - 1);
    for (int q = 0; q + 1 < m_; ++q) {
      int c = 0;
      for (int i = 0; i < n_; ++i) c += Passes((*p_->scores)(p_->kept[q], i), t[q], p_->order);
      cut[q] = c;
    }
    return cut;
  }

  std::vector<double> ThresholdsOf(const std::vector<int>& cut) const {
    std::vector<double> t(m_ - 1);
    for (int q = 0; q + 1 < m_; ++q) {
      const std::vector<double>& v = vals_[q];
      if (cut[q] <= 0) t[q] = internal::ThresholdNone(v.front(), p_->order);
      else if (cut[q] >= n_) t[q] = internal::ThresholdAll(v.back(), p_->order);
      else t[q] = internal::ThresholdBetween(v[cut[q] - 1], v[cut[q]], p_->order);
    }
    return t;
  }

  // Mean cost of exit-slot counts, summed in the evaluator's order (ascending exits).
  double MeanCost(const std::vector<std::int64_t>& cnt) const {
    double total = 0.0;
    for (int q = 0; q < m_; ++q) total += static_cast<double>(cnt[q]) * cost_[q];
    return total / n_;
  }

  void Assign(const std::vector<int>& cut) {
    cut_ = cut;
    ex_.assign(n_, m_ - 1);
    for (int i = 0; i < n_; ++i) ex_[i] = Down(i, -1);
  }

  Value Current() const {
    std::vector<std::int64_t> cnt(m_, 0);
    std::int64_t correct = 0;
    for (int i = 0; i < n_; ++i) {
      ++cnt[ex_[i]];
      correct += corr_[static_cast<std::size_t>(i) * m_ + ex_[i]];
    }
    Value v;
    v.correct = correct;
    v.cost = MeanCost(cnt);
    v.feasible = v.cost <= p_->budget;
    return v;
  }

  // One exact coordinate update of exit q. lambda >= 0: maximise correct - lambda * N * mean
  // cost; lambda < 0: the constrained rule of Value::Better. Returns true when the cut changed.
  bool Update(int q, double lambda) {
    // Counts and correct with nobody stopping at q.
    std::vector<std::int64_t> cnt(m_, 0);
    std::int64_t correct = 0;
    down_.resize(n_);
    for (int i = 0; i < n_; ++i) {
      int e = ex_[i];
      if (e == q) e = Down(i, q);
      down_[i] = e;
      ++cnt[e];
      correct += corr_[static_cast<std::size_t>(i) * m_ + e];
    }
    const std::vector<int>& ord = order_[q];
    const std::vector<double>& v = vals_[q];
    auto score = [&](std::int64_t c, const std::vector<std::int64_t>& k, Value* out) {
      out->correct = c;
      out->cost = MeanCost(k);
      out->feasible = out->cost <= p_->budget;
    };
    auto better = [&](const Value& a, const Value& b) {
      if (lambda >= 0) {
        const double sa = a.correct - lambda * n_ * a.cost, sb = b.correct - lambda * n_ * b.cost;
        if (sa != sb) return sa > sb;
        return a.cost < b.cost;
      }
      return a.Better(b);
    };
    Value best, cur, at_current;
    score(correct, cnt, &best);
    int best_cut = 0;
    if (cut_[q] == 0) at_current = best;
    // The running total cost screens candidates cheaply; the exact evaluator-order mean is computed
    // only for candidates that may beat the best so far (and at the current cut).
    double total = 0.0;
    for (int e = 0; e < m_; ++e) total += static_cast<double>(cnt[e]) * cost_[e];
    const double slack = 1e-9 * (std::fabs(total) + 1.0);
    const double budget_total = p_->budget * n_;
    for (int j = 0; j < n_; ++j) {
      const int i = ord[j];
      if (ex_[i] >= q) {  // reaches q: moves from its downstream exit to q
        const int d = down_[i];
        --cnt[d];
        ++cnt[q];
        total += cost_[q] - cost_[d];
        correct += corr_[static_cast<std::size_t>(i) * m_ + q] - corr_[static_cast<std::size_t>(i) * m_ + d];
      }
      if (j + 1 == n_ || v[j + 1] != v[j]) {
        bool candidate;
        if (lambda >= 0) {
          const double sb = best.correct - lambda * n_ * best.cost;
          candidate = correct - lambda * total >= sb - lambda * slack - 1e-9;
        } else if (total <= budget_total + slack) {
          candidate = !best.feasible || correct >= best.correct;
        } else {
          candidate = !best.feasible && total <= best.cost * n_ + slack;
        }
        const bool here = j + 1 == cut_[q];
        if (!candidate && !here) continue;
        score(correct, cnt, &cur);
        if (here) at_current = cur;
        if (better(cur, best)) {
          best = cur;
          best_cut = j + 1;
        }
      }
    }
    if (best_cut == cut_[q] || !better(best, at_current)) return false;
    cut_[q] = best_cut;
    for (int i = 0; i < n_; ++i) {
      if (ex_[i] < q) continue;
      ex_[i] = rank_[q][i] < best_cut ? q : down_[i];
    }
    return true;
  }

  // Cyclic coordinate ascent over the exits, at most max_sweeps sweeps. An update is idempotent
  // (with the others fixed it keeps the first best cut), so once the cycle comes back to the
  // last exit that changed, every further update would be a no-op: stopping there gives the
  // same state as finishing the sweep and running a confirming one, with fewer updates.
  int Ascend(double lambda, int max_sweeps) {
    const int k = m_ - 1;
    if (k <= 0) return 1;
    const long limit = static_cast<long>(max_sweeps) * k;
    int last = -1, since = 0;
    long u = 0;
    for (; u < limit; ++u) {
      const int q = static_cast<int>(u % k);
      if (q == last || since == k) break;
      if (Update(q, lambda)) {
        last = q;
        since = 0;
      } else {
        ++since;
      }
    }
    return static_cast<int>((u + k - 1) / k);
  }

  const std::vector<int>& cut() const { return cut_; }

 private:
  // First kept slot after `after` at which sample i stops under the current cuts.
  int Down(int i, int after) const {
    for (int q = after + 1; q + 1 < m_; ++q)
      if (rank_[q][i] < cut_[q]) return q;
    return m_ - 1;
  }

  const ThresholdProblem* p_ = nullptr;
  int n_ = 0, m_ = 0;
  std::vector<std::vector<int>> order_, rank_;
  std::vector<std::vector<double>> vals_;
  std::vector<std::uint8_t> corr_;
  std::vector<double> cost_;
  std::vector<int> cut_, ex_, down_;
};

}  // namespace

std::string ExactOptions::Validate() const {
  std::string out;
  if (lambda_iters < 0) out += "exact.lambda_iters = " + std::to_string(lambda_iters) + ": must be >= 0\n";
  if (max_sweeps < 1) out += "exact.max_sweeps = " + std::to_string(max_sweeps) + ": must be >= 1\n";
  return out;
}

ThresholdSummary SolveExact(const ThresholdProblem& p, const ExactOptions& o,
                            const std::vector<std::vector<double>>& starts) {
  const auto t0 = std::chrono::steady_clock::now();
  ThresholdSummary s;
  s.method = "exact";
  s.policy.kept = p.kept;
  thread_local ExactSolver solver;
  solver.Reset(p);
  const int m = solver.m();
  std::vector<std::vector<int>> cut_starts;
  int sweeps = 0;
  // Lagrangian starts: bisection on lambda; the cheapest-lambda feasible point and the most
  // expensive infeasible one both go on to the constrained polish.
  if (o.lambda_iters > 0) {
    double lo = 0.0, hi = 0.0;
    double min_gap = std::numeric_limits<double>::infinity();
    for (int q = 0; q + 1 < m; ++q) {
      const double g = p.stop_cost[p.kept[q + 1]] - p.stop_cost[p.kept[q]];
      if (g > 0) min_gap = std::min(min_gap, g);
    }
    hi = std::isfinite(min_gap) ? 2.0 / min_gap : 1.0;
    solver.Assign(std::vector<int>(m - 1, 0));
    sweeps += solver.Ascend(0.0, o.max_sweeps);
    if (solver.Current().feasible) {
      cut_starts.push_back(solver.cut());
    } else {
      std::vector<int> feasible_cut, infeasible_cut = solver.cut();
      // Bisection on log(lambda) over [1e-8 hi, hi]: the useful multipliers span decades.
      lo = std::log(hi * 1e-8);
      hi = std::log(hi);
      for (int it = 0; it < o.lambda_iters; ++it) {
        const double mid = 0.5 * (lo + hi);
        const double lam = std::exp(mid);
        sweeps += solver.Ascend(lam, o.max_sweeps);
        if (solver.Current().feasible) {
          hi = mid;
          feasible_cut = solver.cut();
        } else {
          lo = mid;
          infeasible_cut = solver.cut();
        }
      }
      if (!feasible_cut.empty()) cut_starts.push_back(feasible_cut);
      cut_starts.push_back(infeasible_cut);
    }
  }
  if (o.start_heuristics) {
    for (auto* f : {&SolveGeometric, &SolveGeometricQuantile}) {
      ThresholdSummary h = f(p, GeometricOptions{});
      if (h.ok()) cut_starts.push_back(solver.CutsOf(h.policy.thresholds));
    }
    ThresholdSummary h = SolveSingle(p);
    if (h.ok()) cut_starts.push_back(solver.CutsOf(h.policy.thresholds));
  }
  for (const auto& t : starts) {
    if (static_cast<int>(t.size()) == m - 1) cut_starts.push_back(solver.CutsOf(t));
  }
  if (cut_starts.empty()) cut_starts.push_back(std::vector<int>(m - 1, 0));
  Value best;
  std::vector<int> best_cut;
  for (const auto& c : cut_starts) {
    solver.Assign(c);
    sweeps += solver.Ascend(-1.0, o.max_sweeps);
    const Value v = solver.Current();
    if (best_cut.empty() || v.Better(best)) {
      best = v;
      best_cut = solver.cut();
    }
  }
  s.policy.thresholds = solver.ThresholdsOf(best_cut);
  s.fit = p.Evaluate(s.policy);
  s.iterations = sweeps;
  if (!(s.fit.mean_cost <= p.budget)) {
    s.outcome = Outcome::kInfeasible;
    s.message = "no start could be repaired to meet the budget";
  } else {
    s.outcome = Outcome::kConverged;
    std::ostringstream msg;
    msg << cut_starts.size() << " starts, " << sweeps << " coordinate sweeps";
    s.message = msg.str();
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

}  // namespace exitplan
