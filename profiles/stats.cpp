#include "profiles/stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>

#include "profiles/features.hpp"
#include "profiles/parallel.hpp"

namespace exitplan {

double Quantile(std::vector<double> values, double q) {
  return Quantiles(std::move(values), {q})[0];
}

namespace {

// Order-preserving map of a (non-NaN) double to an unsigned integer.
inline std::uint64_t Key(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return (b >> 63) ? ~b : b | (std::uint64_t{1} << 63);
}

// The values of the given ranks (0-based, ascending order of the values) by one histogram pass
// over the top 16 bits of Key and one pass collecting the few buckets holding those ranks, each
// then selected with nth_element: about two streaming passes however many ranks.
std::vector<double> ValuesAtRanks(const std::vector<double>& v,
                                  const std::vector<std::size_t>& ranks) {
  constexpr int kShift = 48;
  std::vector<std::uint32_t> hist(std::size_t{1} << 16, 0);
  for (double x : v) ++hist[Key(x) >> kShift];
  // Bucket of each rank and the rank inside it.
  std::vector<std::size_t> bucket(ranks.size()), inside(ranks.size());
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    std::size_t below = 0, bkt = 0;
    while (below + hist[bkt] <= ranks[r]) below += hist[bkt++];
    bucket[r] = bkt;
    inside[r] = ranks[r] - below;
  }
  std::vector<std::size_t> wanted(bucket);
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<std::vector<double>> members(wanted.size());
  std::vector<int> slot(hist.size(), -1);
  for (std::size_t w = 0; w < wanted.size(); ++w) {
    slot[wanted[w]] = static_cast<int>(w);
    members[w].reserve(hist[wanted[w]]);
  }
  for (double x : v) {
    const int s = slot[Key(x) >> kShift];
    if (s >= 0) members[static_cast<std::size_t>(s)].push_back(x);
  }
  std::vector<double> out(ranks.size());
  for (std::size_t r = 0; r < ranks.size(); ++r) {
    std::vector<double>& m = members[static_cast<std::size_t>(slot[bucket[r]])];
    const auto at = m.begin() + static_cast<std::ptrdiff_t>(inside[r]);
    std::nth_element(m.begin(), at, m.end());
    out[r] = *at;
  }
  return out;
}

// Quantiles of a large row (n >= 4096) by the radix selection above: reads `values` only.
std::vector<double> LargeRowQuantiles(const std::vector<double>& values,
                                      const std::vector<double>& qs) {
  std::vector<double> out(qs.size(), std::nan(""));
  const std::size_t n = values.size();
  {
    // Large rows: the two ranks around each position, found by a radix histogram.
    std::vector<std::size_t> ranks;
    for (double q : qs) {
      const auto lo =
          std::min(static_cast<std::size_t>(std::floor(q * static_cast<double>(n - 1))), n - 1);
      ranks.push_back(lo);
      ranks.push_back(std::min(lo + 1, n - 1));
    }
    const std::vector<double> at = ValuesAtRanks(values, ranks);
    for (std::size_t t = 0; t < qs.size(); ++t) {
      const double pos = qs[t] * static_cast<double>(n - 1);
      const double lo = at[2 * t], hi = at[2 * t + 1];
      out[t] = lo + (pos - static_cast<double>(ranks[2 * t])) * (hi - lo);
    }
    return out;
  }
}

}  // namespace

std::vector<double> Quantiles(std::vector<double> values, const std::vector<double>& qs) {
  std::vector<double> out(qs.size(), std::nan(""));
  const std::size_t n = values.size();
  if (n == 0) return out;
  if (n >= 4096) return LargeRowQuantiles(values, qs);
  std::vector<std::size_t> order(qs.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return qs[a] < qs[b]; });
  // Ascending q: everything left of an earlier selected position is <= it, so each selection
  // runs on the part right of the previous one.
  std::size_t start = 0;
  for (std::size_t o : order) {
    const double pos = qs[o] * static_cast<double>(n - 1);
    const auto lo = std::min(static_cast<std::size_t>(std::floor(pos)), n - 1);
    const auto at = values.begin() + static_cast<std::ptrdiff_t>(lo);
    std::nth_element(values.begin() + static_cast<std::ptrdiff_t>(start), at, values.end());
    const double v_lo = *at;
    const double v_hi = lo + 1 < n ? *std::min_element(at + 1, values.end()) : v_lo;
    out[o] = v_lo + (pos - static_cast<double>(lo)) * (v_hi - v_lo);
    start = lo;
  }
  return out;
}

std::vector<std::vector<double>> RowQuantiles(const ScoreMatrix& m, const std::vector<double>& qs) {
  const std::size_t k = static_cast<std::size_t>(m.rows()), n = static_cast<std::size_t>(m.cols());
  std::vector<std::vector<double>> out(k);
  // Rows in groups of 4: one pass over the column-major matrix copies 4 rows (reading each column's
  // 4 adjacent values), instead of one pass per row; the groups run in parallel.
  constexpr std::size_t kGroup = 4;
  const std::size_t groups = (k + kGroup - 1) / kGroup;
  const int threads = static_cast<int>(
      std::max<std::size_t>(1, std::min<std::size_t>({static_cast<std::size_t>(FeatureThreads()),
                                                      groups, (k * n * 4) >> 22})));
  // One buffer of kGroup rows per worker, reused for each of its groups (a fresh 4 x N buffer per
  // group would be mapped and zeroed by the kernel every time).
  std::vector<std::vector<std::vector<double>>> buffers(static_cast<std::size_t>(threads));
  ParallelFor(groups, threads, [&](std::size_t g, int worker) {
    std::vector<std::vector<double>>& rows = buffers[static_cast<std::size_t>(worker)];
    if (rows.empty()) rows.assign(kGroup, std::vector<double>(n));
    const std::size_t first = g * kGroup, count = std::min(kGroup, k - first);
    const double* data = m.data();
    for (std::size_t i = 0; i < n; ++i) {
      const double* col = data + i * k + first;
      for (std::size_t r = 0; r < count; ++r) rows[r][i] = col[r];
    }
    // Each row selected where it is (Quantiles would copy it once more).
    for (std::size_t r = 0; r < count; ++r) {
      out[first + r] = n >= 4096 ? LargeRowQuantiles(rows[r], qs) : Quantiles(rows[r], qs);
    }
  });
  return out;
}

double ExpectedCalibrationError(const ScoreMatrix& confidence, const CorrectMatrix& correct,
                                int exit, int bins) {
  const int n = static_cast<int>(confidence.cols());
  std::vector<double> conf_sum(bins, 0.0), right(bins, 0.0), count(bins, 0.0);
  for (int i = 0; i < n; ++i) {
    const double c = confidence(exit, i);
    int b = static_cast<int>(std::ceil(c * bins)) - 1;  // bins (lo, hi], as Guo et al.
    b = std::clamp(b, 0, bins - 1);
    conf_sum[b] += c;
    right[b] += correct(exit, i);
    count[b] += 1.0;
  }
  double ece = 0.0;
  for (int b = 0; b < bins; ++b) {
    if (count[b] > 0) ece += std::abs(right[b] - conf_sum[b]) / n;
  }
  return ece;
}

}  // namespace exitplan
