#include "optim/internal/cascade.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <cmath>
#include <limits>
#include <numeric>

namespace exitplan::internal {

std::vector<int> ConfidenceOrder(const ThresholdProblem& p, int exit) {
  // Indices sorted by key = sign * score, ties by index. A stable LSD radix sort on the key's
  // order-preserving bit pattern gives exactly the order of sorting (key, index) pairs, about 5x
  // faster than std::sort for the 50,000-sample problems solved per budget (no listed library
  // offers a radix sort). -0.0 is folded into +0.0 (they compare equal). NaN scores have no
  // meaningful order either way.
  const int n = p.n();
  const double sign = p.order == ScoreOrder::kDescending ? -1.0 : 1.0;
  std::vector<std::uint64_t> key(n), key2(n);
  std::vector<int> idx(n), idx2(n);
  for (int i = 0; i < n; ++i) {
    const double v = sign * (*p.scores)(exit, i) + 0.0;
    std::uint64_t u;
    std::memcpy(&u, &v, sizeof u);
    key[i] = (u >> 63) ? ~u : (u | (std::uint64_t{1} << 63));
    idx[i] = i;
  }
  constexpr int kBits = 11, kBuckets = 1 << kBits;
  if (n == 0) return idx;
  std::vector<int> count(kBuckets);
  for (int shift = 0; shift < 64; shift += kBits) {
    std::fill(count.begin(), count.end(), 0);
    for (int i = 0; i < n; ++i) ++count[(key[i] >> shift) & (kBuckets - 1)];
    if (count[(key[0] >> shift) & (kBuckets - 1)] == n) continue;  // one bucket: order unchanged
    int sum = 0;
    for (int& c : count) {
      const int t = c;
      c = sum;
      sum += t;
    }
    for (int i = 0; i < n; ++i) {
      const int dst = count[(key[i] >> shift) & (kBuckets - 1)]++;
      key2[dst] = key[i];
      idx2[dst] = idx[i];
    }
    key.swap(key2);
    idx.swap(idx2);
  }
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
