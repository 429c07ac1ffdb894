#include "optim/geometric.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>

#include "optim/internal/cascade.hpp"

namespace exitplan {
namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double ExpectedCost(const std::vector<double>& q, const std::vector<double>& c) {
  double s = 0.0;
  for (std::size_t i = 0; i < q.size(); ++i) s += q[i] * c[i];
  return s;
}

}  // namespace

std::string GeometricOptions::Validate() const {
  if (!(quantile_p_step > 0.0 && quantile_p_step <= 1.0)) {
    return "geometric.quantile_p_step = " + std::to_string(quantile_p_step) +
           ": must be in (0, 1]\n";
  }
  return "";
}

std::vector<double> GeometricFractions(double r, int m) {
  std::vector<double> q(m, 0.0);
  if (r <= 0.0) {
    q[0] = 1.0;
    return q;
  }
  // Weights r^k scaled by the largest, so that large r does not overflow.
  const double lr = std::log(r);
  const double top = lr > 0 ? lr * (m - 1) : 0.0;
  double sum = 0.0;
  for (int k = 0; k < m; ++k) sum += (q[k] = std::exp(lr * k - top));
  for (double& v : q) v /= sum;
  return q;
}

GeometricLaw GeometricQuotaLaw(const ThresholdProblem& p) {
  const int m = static_cast<int>(p.kept.size());
  std::vector<double> c(m);
  for (int q = 0; q < m; ++q) c[q] = p.stop_cost[p.kept[q]];
  // Solve r: expected cost is increasing in r (mass moves to deeper, costlier exits).
  double r = 0.0;
  int iters = 0;
  if (p.budget >= c.back()) {
    r = 1e300;  // everything to the final exit
  } else if (p.budget > c.front()) {
    double lo = -200.0, hi = 200.0;  // log r
    for (; iters < 200 && hi - lo > 1e-15 * std::max(1.0, std::fabs(lo)); ++iters) {
      const double mid = 0.5 * (lo + hi);
      if (ExpectedCost(GeometricFractions(std::exp(mid), m), c) <= p.budget)
        lo = mid;
      else
        hi = mid;
    }
    r = std::exp(lo);
  }
  GeometricLaw law;
  law.frac = r >= 1e300 ? std::vector<double>(m, 0.0) : GeometricFractions(r, m);
  if (r >= 1e300) law.frac.back() = 1.0;
  law.r = r;
  law.iters = iters;
  return law;
}

ThresholdSummary SolveGeometric(const ThresholdProblem& p, const GeometricOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  ThresholdSummary s;
  s.method = "geometric";
  const int m = static_cast<int>(p.kept.size());
  const int n = p.n();
  const GeometricLaw law = GeometricQuotaLaw(p);
  const std::vector<double>& frac = law.frac;
  const double r = law.r;
  const int iters = law.iters;
  // Cascade quotas on the fit split.
  // Scratch kept per thread: fresh megabytes per solve cost page faults on a VM.
  thread_local std::vector<char> stopped;
  thread_local std::vector<double> vals;
  stopped.assign(n, 0);
  vals.reserve(n);
  s.policy.kept = p.kept;
  s.policy.thresholds.assign(m - 1, 0.0);
  double cum = 0.0;
  long prev_target = 0;
  long stopped_count = 0;
  for (int q = 0; q + 1 < m; ++q) {
    const int e = p.kept[q];
    cum += frac[q];
    // Cumulative counts rounded up: every sample stops no later than the law's fractions say,
    // so the realised fit cost does not exceed the budget through rounding.
    const long target = std::min<long>(n, static_cast<long>(std::ceil(cum * n - 1e-9)));
    const long want = std::max<long>(0, target - std::max(prev_target, stopped_count));
    prev_target = target;
    vals.clear();
    for (int i = 0; i < n; ++i)
      if (!stopped[i]) vals.push_back((*p.scores)(e, i));
    // By selection, not a sort: only the values at the cut matter.
    double t = internal::ThresholdForTopUnsorted(vals, static_cast<std::size_t>(want), p.order);
    // Ties at the cut are resolved toward the budget: a tied group straddling the quota stops
    // whole (more samples stop early, never fewer). For a descending measure score >= t already
    // passes the whole group; for an ascending one score < t stops none of it, so t moves to the
    // next double above the tied value. With every cumulative count at least its quota, the fit
    // cost cannot exceed the budget.
    if (p.order == ScoreOrder::kAscending && want > 0) {
      long passing = 0;
      for (int i = 0; i < n; ++i) {
        if (!stopped[i] && Passes((*p.scores)(e, i), t, p.order)) ++passing;
      }
      if (passing < want) t = std::nextafter(t, std::numeric_limits<double>::infinity());
    }
    s.policy.thresholds[q] = t;
    for (int i = 0; i < n; ++i) {
      if (!stopped[i] && Passes((*p.scores)(e, i), t, p.order)) {
        stopped[i] = 1;
        ++stopped_count;
      }
    }
  }
  s.fit = p.Evaluate(s.policy);
  s.iterations = iters;
  s.outcome = Outcome::kConverged;
  std::ostringstream msg;
  msg << "ratio r = 1 - p = " << r << ", target fractions";
  for (double f : frac) msg << " " << f;
  s.message = msg.str();
  s.trace = frac;
  s.seconds = Seconds(t0);
  return s;
}

GeometricQuantileLaw GeometricQuantilePk(const ThresholdProblem& p,
                                         const GeometricOptions& options) {
  const int m = static_cast<int>(p.kept.size());
  std::vector<double> time(m);
  for (int q = 0; q < m; ++q) time[q] = p.stop_cost[p.kept[q]];
  const int steps = static_cast<int>(std::lround(1.0 / options.quantile_p_step));
  std::vector<double> pk(m);
  bool found = false;
  int it = 0;
  for (int i = 1; i <= steps && !found; ++i) {
    ++it;
    // Same float operations as Heuristic.py: p = 0.01 * i, pk[b] = (1-p)^b * p, running sum,
    // pk *= 1/sum, then numpy's add.reduce of pk * time (first element, then the rest in order).
    const double pp = options.quantile_p_step * i;
    double sum = 0.0;
    for (int b = 0; b < m; ++b) {
      pk[b] = std::pow(1.0 - pp, static_cast<double>(b)) * pp;
      sum += pk[b];
    }
    const double a = 1.0 / sum;
    for (double& v : pk) v = a * v;
    double rest = 0.0;
    for (int b = 1; b < m; ++b) rest += pk[b] * time[b];
    const double cost = pk[0] * time[0] + rest;
    if (cost <= p.budget) found = true;
  }
  return {pk, it, found};
}

ThresholdSummary SolveGeometricQuantile(const ThresholdProblem& p,
                                        const GeometricOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  ThresholdSummary s;
  s.method = "geometric-quantile";
  const int m = static_cast<int>(p.kept.size());
  const int n = p.n();
  const GeometricQuantileLaw law = GeometricQuantilePk(p, options);
  const std::vector<double>& pk = law.pk;
  const bool found = law.found;
  const int it = law.iters;
  s.policy.kept = p.kept;
  s.iterations = it;
  if (!found) {
    s.outcome = Outcome::kInfeasible;
    s.message = "no p on the grid meets the budget (even p = 1, everything at the first exit)";
    s.seconds = Seconds(t0);
    return s;
  }
  s.policy.thresholds.assign(m - 1, 0.0);
  thread_local std::vector<double> sorted;
  sorted.resize(n);
  double cum = 0.0;
  for (int b = 0; b + 1 < m; ++b) {
    const int e = p.kept[b];
    for (int i = 0; i < n; ++i) sorted[i] = (*p.scores)(e, i);
    cum += pk[b];
    const long idx = std::min<long>(static_cast<long>(std::floor(n * cum)), n - 1);
    // The idx-th of the sorted values, by selection (the same value a full sort puts there).
    if (p.order == ScoreOrder::kDescending)
      std::nth_element(sorted.begin(), sorted.begin() + idx, sorted.end(), std::greater<double>());
    else
      std::nth_element(sorted.begin(), sorted.begin() + idx, sorted.end());
    s.policy.thresholds[b] = sorted[idx];
  }
  s.fit = p.Evaluate(s.policy);
  s.outcome = Outcome::kConverged;
  std::ostringstream msg;
  msg << "p = " << options.quantile_p_step * it;
  s.message = msg.str();
  s.trace = pk;
  s.seconds = Seconds(t0);
  return s;
}

}  // namespace exitplan
