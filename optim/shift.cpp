#include "optim/shift.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <vector>

#include "optim/guarantee.hpp"

namespace exitplan {
namespace {

void Moments(const std::vector<double>& x, double* mean, double* var) {
  double s = 0.0;
  for (double v : x) s += v;
  *mean = x.empty() ? 0.0 : s / static_cast<double>(x.size());
  double q = 0.0;
  for (double v : x) q += (v - *mean) * (v - *mean);
  *var = x.size() > 1 ? q / static_cast<double>(x.size() - 1) : 0.0;
}

}  // namespace

double WelchZPValue(double mean_a, double var_a, long n_a, double mean_b, double var_b, long n_b) {
  const double se2 = var_a / static_cast<double>(n_a) + var_b / static_cast<double>(n_b);
  const double diff = mean_a - mean_b;
  if (!(se2 > 0.0)) return std::fabs(diff) <= 1e-15 * std::max(1.0, std::fabs(mean_a)) ? 1.0 : 0.0;
  return std::erfc(std::fabs(diff) / std::sqrt(2.0 * se2));
}

ShiftResult ShiftCheck(const ThresholdProblem& fit, const ThresholdProblem& eval,
                       const Policy& policy, double alpha) {
  ShiftResult r;
  r.alpha = alpha;
  std::vector<double> cf, ce;
  std::vector<std::uint8_t> kf, ke;
  PerSample(fit, policy, &cf, &kf);
  PerSample(eval, policy, &ce, &ke);
  std::vector<double> af(kf.begin(), kf.end()), ae(ke.begin(), ke.end());
  double vcf, vce, vaf, vae;
  Moments(cf, &r.fit_cost, &vcf);
  Moments(ce, &r.eval_cost, &vce);
  Moments(af, &r.fit_accuracy, &vaf);
  Moments(ae, &r.eval_accuracy, &vae);
  const long nf = static_cast<long>(cf.size()), ne = static_cast<long>(ce.size());
  r.p_cost = WelchZPValue(r.fit_cost, vcf, nf, r.eval_cost, vce, ne);
  r.p_accuracy = WelchZPValue(r.fit_accuracy, vaf, nf, r.eval_accuracy, vae, ne);
  r.p_value = std::min(1.0, 2.0 * std::min(r.p_cost, r.p_accuracy));
  r.shifted = r.p_value < alpha;
  return r;
}

std::string ShiftResult::Warning() const {
  if (!shifted) return "";
  std::ostringstream s;
  s << "warning: the eval split does not look exchangeable with the fit split under this policy "
       "(two-sample test p = "
    << FormatDouble(p_value) << " < " << FormatDouble(alpha) << ": mean cost "
    << FormatDouble(fit_cost) << " on fit vs " << FormatDouble(eval_cost) << " on eval, accuracy "
    << FormatDouble(fit_accuracy) << " vs " << FormatDouble(eval_accuracy)
    << "); budgets and guarantees fitted on the fit split need not hold on it";
  return s.str();
}

}  // namespace exitplan
