#include "profiles/softmax.hpp"

#include <cmath>

#include "profiles/error.hpp"
#include "profiles/types.hpp"

namespace exitplan {

ExitSoftmax ComputeExitSoftmax(double* z, int c, double inv_t, double log_c,
                               const std::string& source, int sample, int exit) {
  ExitSoftmax out;
  int arg = 0;
  for (int q = 0; q < c; ++q) {
    if (!std::isfinite(z[q])) {
      throw InputError(source, "non-finite logit (" + FormatDouble(z[q]) + ") at sample " +
                                   std::to_string(sample) + ", exit " + std::to_string(exit + 1) +
                                   ", class " + std::to_string(q));
    }
    z[q] *= inv_t;
    if (z[q] > z[arg]) arg = q;
  }
  // Stable softmax: p_q = exp(z_q - z_max) / s. Entropy from log p_q = z_q - z_max - log s.
  const double zmax = z[arg];
  double s = 0.0, second = -INFINITY;
  for (int q = 0; q < c; ++q) {
    const double e = std::exp(z[q] - zmax);
    z[q] = e;  // reuse z for exp values
    s += e;
    if (q != arg && e > second) second = e;
  }
  const double log_s = std::log(s);
  double h = 0.0;
  for (int q = 0; q < c; ++q) {
    if (z[q] > 0.0) {
      const double p = z[q] / s;
      h -= p * (std::log(z[q]) - log_s);
    }
  }
  out.arg = arg;
  out.sum = s;
  out.max_prob = 1.0 / s;
  out.entropy = c > 1 ? 1.0 - h / log_c : 1.0;
  out.margin = c > 1 ? (1.0 - second) / s : 1.0;
  return out;
}

}  // namespace exitplan
