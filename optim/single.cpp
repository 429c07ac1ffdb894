#include "optim/single.hpp"

#include <algorithm>
#include <chrono>

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
  std::vector<double> u;
  u.reserve(static_cast<std::size_t>(p.n()) * (m - 1));
  for (int q = 0; q + 1 < m; ++q) {
    const auto row = p.scores->row(p.kept[q]);
    for (int i = 0; i < p.n(); ++i) u.push_back(row(i));
  }
  internal::SortValues(u, p.order == ScoreOrder::kDescending);
  u.erase(std::unique(u.begin(), u.end()), u.end());
  const int nu = static_cast<int>(u.size());
  auto threshold = [&](int i) {  // stops exactly the values u[0..i-1]
    if (i <= 0) return internal::ThresholdNone(u.front(), p.order);
    if (i >= nu) return internal::ThresholdAll(u.back(), p.order);
    return p.order == ScoreOrder::kAscending ? u[i] : u[i - 1];
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
  } else if (eval(hi).mean_cost > p.budget) {
    s.outcome = Outcome::kInfeasible;
    s.message = "even stopping every sample at the first kept exit exceeds the budget";
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return s;
  } else if (eval(0).mean_cost <= p.budget) {
    hi = 0;
  } else {
    lo = 1;
    while (lo < hi) {
      const int mid = lo + (hi - lo) / 2;
      if (eval(mid).mean_cost <= p.budget) hi = mid; else lo = mid + 1;
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
