#include "optim/internal/cascade.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>

namespace exitplan::internal {

namespace {

// Order-preserving map of a double to an unsigned integer (-0.0 folded into +0.0).
inline std::uint64_t OrderKey(double v) {
  v += 0.0;
  std::uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u >> 63) ? ~u : (u | (std::uint64_t{1} << 63));
}

// Stable LSD radix sort of (key, payload) by key; written out because no listed library offers
// a radix sort and it is ~5x faster than std::sort on the 50,000-200,000 keys sorted per solve.
template <class T>
void RadixSort(std::vector<std::uint64_t>& key, std::vector<T>& payload) {
  const std::size_t n = key.size();
  if (n == 0) return;
  // Scratch kept per thread across calls: on the shared VM, first-touch page faults of fresh
  // multi-megabyte buffers cost more than the sort itself.
  thread_local std::vector<std::uint64_t> key2;
  thread_local std::vector<T> pay2;
  if (key2.size() < n) key2.resize(n);
  if (pay2.size() < n) pay2.resize(n);
  constexpr int kBits = 11, kBuckets = 1 << kBits;
  std::vector<std::size_t> count(kBuckets);
  for (int shift = 0; shift < 64; shift += kBits) {
    std::fill(count.begin(), count.end(), 0);
    for (std::size_t i = 0; i < n; ++i) ++count[(key[i] >> shift) & (kBuckets - 1)];
    if (count[(key[0] >> shift) & (kBuckets - 1)] == n) continue;  // one bucket: order unchanged
    std::size_t sum = 0;
    for (std::size_t& c : count) {
      const std::size_t t = c;
      c = sum;
      sum += t;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t dst = count[(key[i] >> shift) & (kBuckets - 1)]++;
      key2[dst] = key[i];
      pay2[dst] = payload[i];
    }
    key.swap(key2);
    payload.swap(pay2);
    key.resize(n);  // the scratch may have been larger
    payload.resize(n);
  }
}

}  // namespace

void ConfidenceOrder(const ThresholdProblem& p, int exit, std::vector<int>& idx) {
  // Indices sorted by key = sign * score, ties by index: the stable radix sort gives exactly the
  // order of sorting (key, index) pairs. NaN scores have no meaningful order either way.
  const int n = p.n();
  const double sign = p.order == ScoreOrder::kDescending ? -1.0 : 1.0;
  thread_local std::vector<std::uint64_t> key;
  key.resize(n);
  idx.resize(n);
  for (int i = 0; i < n; ++i) {
    key[i] = OrderKey(sign * (*p.scores)(exit, i));
    idx[i] = i;
  }
  RadixSort(key, idx);
}

void ConfidenceOrderPacked(const ThresholdProblem& p, int exit, std::vector<std::uint32_t>& out) {
  const int n = p.n();
  const double sign = p.order == ScoreOrder::kDescending ? -1.0 : 1.0;
  thread_local std::vector<std::uint64_t> key;
  key.resize(n);
  out.resize(n);
  for (int i = 0; i < n; ++i) {
    key[i] = OrderKey(sign * (*p.scores)(exit, i));
    out[i] = static_cast<std::uint32_t>(i) | static_cast<std::uint32_t>((*p.correct)(exit, i) != 0)
                                                 << 30;
  }
  RadixSort(key, out);
  // Equal keys are equal scores (OrderKey folds -0.0 into +0.0, which compare equal).
  for (int j = 0; j < n; ++j) {
    if (j + 1 == n || key[j + 1] != key[j]) out[j] |= std::uint32_t{1} << 31;
  }
}

std::vector<int> ConfidenceOrder(const ThresholdProblem& p, int exit) {
  std::vector<int> idx;
  ConfidenceOrder(p, exit, idx);
  return idx;
}

void SortValuesWithIndex(std::vector<double>& values, std::vector<int>& index, bool descending) {
  const double sign = descending ? -1.0 : 1.0;
  const std::size_t n = values.size();
  thread_local std::vector<std::uint64_t> key;
  thread_local std::vector<double> copy;
  key.resize(n);
  copy.assign(values.begin(), values.end());
  index.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    key[i] = OrderKey(sign * values[i]);
    index[i] = static_cast<int>(i);
  }
  RadixSort(key, index);
  for (std::size_t i = 0; i < n; ++i) values[i] = copy[index[i]];
}

void SortValues(std::vector<double>& values, bool descending) {
  const double sign = descending ? -1.0 : 1.0;
  thread_local std::vector<std::uint64_t> key;
  key.resize(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) key[i] = OrderKey(sign * values[i]);
  RadixSort(key, values);
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

double ThresholdForTopUnsorted(std::vector<double>& values, std::size_t n, ScoreOrder order) {
  if (values.empty()) return order == ScoreOrder::kAscending ? -1e300 : 1e300;
  const bool asc = order == ScoreOrder::kAscending;
  if (n == 0 || n >= values.size()) {
    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    if (n == 0) return ThresholdNone(asc ? *lo : *hi, order);
    return ThresholdAll(asc ? *hi : *lo, order);
  }
  // Sorted most confident first, ascending picks values[n] and descending values[n - 1].
  if (asc) {
    std::nth_element(values.begin(), values.begin() + n, values.end());
    return values[n];
  }
  std::nth_element(values.begin(), values.begin() + (n - 1), values.end(), std::greater<double>());
  return values[n - 1];
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
  // One pass over the samples (their exits are contiguous), not one strided pass per exit.
  double mn = std::numeric_limits<double>::infinity(), mx = -mn;
  const int k = p.k(), m = static_cast<int>(p.kept.size());
  const double* s = p.scores->data();
  for (int i = 0; i < p.n(); ++i, s += k)
    for (int q = 0; q + 1 < m; ++q) {
      mn = std::min(mn, s[p.kept[q]]);
      mx = std::max(mx, s[p.kept[q]]);
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
