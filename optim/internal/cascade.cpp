#include "optim/internal/cascade.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace exitplan::internal {

std::vector<int> ConfidenceOrder(const ThresholdProblem& p, int exit) {
  // Sort (key, index) pairs: contiguous and deterministic (ties by index, as a stable sort).
  const int n = p.n();
  std::vector<std::pair<double, int>> kv(n);
  const double sign = p.order == ScoreOrder::kDescending ? -1.0 : 1.0;
  for (int i = 0; i < n; ++i) kv[i] = {sign * (*p.scores)(exit, i), i};
  std::sort(kv.begin(), kv.end());
  std::vector<int> idx(n);
  for (int i = 0; i < n; ++i) idx[i] = kv[i].second;
  return idx;
}

double ThresholdNone(double most_confident, ScoreOrder order) {
  // Ascending passes when score < t: t = the smallest score stops nobody (a tie does not stop).
  // Descending passes when score >= t: the next double above the largest score stops nobody.
  return order == ScoreOrder::kAscending
             ? most_confident
             : std::nextafter(most_confident, std::numeric_limits<double>::infinity());
}

double ThresholdAll(double least_confident, ScoreOrder order) {
  return order == ScoreOrder::kAscending
             ? std::nextafter(least_confident, std::numeric_limits<double>::infinity())
             : least_confident;
}

double ThresholdForTop(const std::vector<double>& values, std::size_t n, ScoreOrder order) {
  if (values.empty()) return order == ScoreOrder::kAscending ? -1e300 : 1e300;
  if (n == 0) return ThresholdNone(values.front(), order);
  if (n >= values.size()) return ThresholdAll(values.back(), order);
  return order == ScoreOrder::kAscending ? values[n] : values[n - 1];
}

double ThresholdBetween(double more, double less, ScoreOrder order) {
  const double mid = more + 0.5 * (less - more);
  if (order == ScoreOrder::kAscending) {
    // more < t <= less passes exactly `more` and what is below it.
    return (mid > more && mid <= less) ? mid : less;
  }
  // less < t <= more.
  return (mid > less && mid <= more) ? mid : more;
}

void InferBox(const ThresholdProblem& p, double* lo, double* hi) {
  double mn = std::numeric_limits<double>::infinity(), mx = -mn;
  for (std::size_t q = 0; q + 1 < p.kept.size(); ++q) {
    const int e = p.kept[q];
    mn = std::min(mn, p.scores->row(e).minCoeff());
    mx = std::max(mx, p.scores->row(e).maxCoeff());
  }
  if (!(mn <= mx)) {
    *lo = 0.0;
    *hi = 1.0;
  } else if (mn >= 0.0 && mx <= 1.0) {
    *lo = 0.0;
    *hi = 1.0;
  } else if (mn >= -1.0 && mx <= 0.0) {
    *lo = -1.0;
    *hi = 0.0;
  } else {
    *lo = mn;
    *hi = mx;
  }
}

}  // namespace exitplan::internal
