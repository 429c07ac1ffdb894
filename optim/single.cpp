#include "optim/single.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "optim/internal/cascade.hpp"

namespace exitplan {

ThresholdSummary SolveSingle(const ThresholdProblem& p) {
  const auto t0 = std::chrono::steady_clock::now();
  ThresholdSummary s;
  s.method = "single";
  const int m = static_cast<int>(p.kept.size());
  s.policy.kept = p.kept;
  // Candidates sorted most confident first: threshold index i stops (for i = 0..U) the samples
  // whose score is among the first i distinct values; more stops = lower cost.
  // Scratch kept per thread: fresh megabytes per solve cost page faults on a VM.
  thread_local std::vector<double> u;
  thread_local std::vector<int> pos, rank;
  u.clear();
  u.reserve(static_cast<std::size_t>(p.n()) * (m - 1));
  for (int q = 0; q + 1 < m; ++q) {
    const auto row = p.scores->row(p.kept[q]);
    for (int i = 0; i < p.n(); ++i) u.push_back(row(i));
  }
  internal::SortValuesWithIndex(u, pos, p.order == ScoreOrder::kDescending);
  // rank[q n + i]: index among the distinct values of sample i's score at kept exit q.
  const int n = p.n();
  rank.resize(u.size());
  for (std::size_t j = 0, r = 0; j < u.size(); ++j) {
    if (j > 0 && u[j] != u[j - 1]) ++r;
    rank[pos[j]] = static_cast<int>(r);
  }
  u.erase(std::unique(u.begin(), u.end()), u.end());
  const int nu = static_cast<int>(u.size());
  // Threshold index i stops sample i at the first kept exit q with rank < i, i.e. with the prefix
  // minimum pm_q = min(rank at exits 0..q) < i. The binary search below needs only the mean cost,
  // computed from these counts exactly as the evaluator sums it (per exit, ascending exits), so
  // each step costs O(N m) integer compares instead of a full evaluation.
  for (int q = 1; q + 1 < m; ++q)
    for (int i = 0; i < n; ++i) {
      int& r = rank[static_cast<std::size_t>(q) * n + i];
      r = std::min(r, rank[static_cast<std::size_t>(q - 1) * n + i]);
    }
  auto threshold = [&](int i) {  // stops exactly the values u[0..i-1]
    if (i <= 0) return internal::ThresholdNone(u.front(), p.order);
    if (i >= nu) return internal::ThresholdAll(u.back(), p.order);
    return p.order == ScoreOrder::kAscending ? u[i] : u[i - 1];
  };
  const int k = static_cast<int>(p.scores->rows());
  std::vector<std::int64_t> count(k);
  auto cost_of = [&](int t) {
    s.policy.thresholds.assign(m - 1, threshold(t));
    ++s.iterations;
    std::fill(count.begin(), count.end(), 0);
    std::int64_t before = 0;
    for (int q = 0; q + 1 < m; ++q) {
      const int* r = &rank[static_cast<std::size_t>(q) * n];
      std::int64_t c = 0;
      for (int i = 0; i < n; ++i) c += r[i] < t;
      count[p.kept[q]] = c - before;
      before = c;
    }
    count[p.kept[m - 1]] = n - before;
    double total = 0.0;
    for (int e = 0; e < k; ++e) total += static_cast<double>(count[e]) * p.stop_cost[e];
    return n > 0 ? total / n : 0.0;
  };
  auto eval = [&](int i) {
    s.policy.thresholds.assign(m - 1, threshold(i));
    ++s.iterations;
    return p.Evaluate(s.policy);
  };
  // Cost is non-increasing in i. Find the smallest i with cost <= budget.
  int lo = 0, hi = nu;  // invariant: cost(hi) <= budget (checked), answer in [lo, hi]
  if (m == 1 || u.empty()) {
    s.fit = eval(0);
  } else if (cost_of(hi) > p.budget) {
    s.outcome = Outcome::kInfeasible;
    s.message = "even stopping every sample at the first kept exit exceeds the budget";
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return s;
  } else if (cost_of(0) <= p.budget) {
    hi = 0;
  } else {
    lo = 1;
    while (lo < hi) {
      const int mid = lo + (hi - lo) / 2;
      if (cost_of(mid) <= p.budget) hi = mid; else lo = mid + 1;
    }
  }
  s.fit = eval(hi);
  s.outcome = Outcome::kConverged;
  s.message = "shared threshold " + FormatDouble(s.policy.thresholds.empty() ? 0.0
                                                                             : s.policy.thresholds[0]);
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

}  // namespace exitplan
