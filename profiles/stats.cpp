#include "profiles/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "profiles/features.hpp"

namespace exitplan {

double Quantile(std::vector<double> values, double q) {
  return Quantiles(std::move(values), {q})[0];
}

std::vector<double> Quantiles(std::vector<double> values, const std::vector<double>& qs) {
  std::vector<double> out(qs.size(), std::nan(""));
  const std::size_t n = values.size();
  if (n == 0) return out;
  std::vector<std::size_t> order(qs.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return qs[a] < qs[b]; });
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
  const std::size_t k = static_cast<std::size_t>(m.rows());
  std::vector<std::vector<double>> out(k);
  ParallelBlocks(k, 1, static_cast<std::size_t>(m.size()) * 4, [&](std::size_t b, std::size_t e) {
    std::vector<double> row(static_cast<std::size_t>(m.cols()));
    for (std::size_t j = b; j < e; ++j) {
      for (Eigen::Index i = 0; i < m.cols(); ++i) row[static_cast<std::size_t>(i)] = m(j, i);
      out[j] = Quantiles(row, qs);
    }
    return true;
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
