#include "profiles/stats.hpp"

#include <algorithm>
#include <cmath>

namespace exitplan {

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const double pos = q * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
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
