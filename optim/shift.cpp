#include "optim/shift.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <vector>

#include "optim/guarantee.hpp"
#include "optim/solve.hpp"

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

ShiftResult TwoSampleShiftTest(const ThresholdProblem& a, const ThresholdProblem& b,
                               const Policy& policy, double alpha) {
  ShiftResult r;
  r.alpha = alpha;
  r.tested = true;
  std::vector<double> ca, cb;
  std::vector<std::uint8_t> ka, kb;
  PerSample(a, policy, &ca, &ka);
  PerSample(b, policy, &cb, &kb);
  const std::vector<double> aa(ka.begin(), ka.end()), ab(kb.begin(), kb.end());
  double vca, vcb, vaa, vab;
  Moments(ca, &r.held_out_cost, &vca);
  Moments(cb, &r.eval_cost, &vcb);
  Moments(aa, &r.held_out_accuracy, &vaa);
  Moments(ab, &r.eval_accuracy, &vab);
  const long na = static_cast<long>(ca.size()), nb = static_cast<long>(cb.size());
  r.held_out_n = static_cast<int>(na);
  r.p_cost = WelchZPValue(r.held_out_cost, vca, na, r.eval_cost, vcb, nb);
  r.p_accuracy = WelchZPValue(r.held_out_accuracy, vaa, na, r.eval_accuracy, vab, nb);
  r.p_value = std::min(1.0, 2.0 * std::min(r.p_cost, r.p_accuracy));
  r.shifted = r.p_value < alpha;
  return r;
}

std::vector<int> ShiftSelectionPart(int n, Method method, const SolverOptions& options) {
  const GuaranteeOptions& g = options.guarantee;
  const double fraction =
      g.on() ? g.SearchFraction(method, !std::isnan(options.accuracy_drop)) : 0.5;
  return GuaranteeSearchPart(n, options.seed, fraction);
}

SampleSubset::SampleSubset(const ThresholdProblem& p, const std::vector<int>& idx)
    : scores(p.scores->rows(), static_cast<Eigen::Index>(idx.size())),
      correct(p.correct->rows(), static_cast<Eigen::Index>(idx.size())),
      problem(p) {
  for (std::size_t j = 0; j < idx.size(); ++j) {
    scores.col(static_cast<Eigen::Index>(j)) = p.scores->col(idx[j]);
    correct.col(static_cast<Eigen::Index>(j)) = p.correct->col(idx[j]);
  }
  problem.scores = &scores;
  problem.correct = &correct;
}

std::vector<ShiftResult> ShiftChecks(Method method, const ThresholdProblem& fit,
                                     const ThresholdProblem& eval,
                                     const std::vector<double>& budgets,
                                     const SolverOptions& options, double alpha) {
  std::vector<ShiftResult> out(budgets.size());
  for (ShiftResult& r : out) r.alpha = alpha;
  const int n = fit.n();
  if (n < 4 || eval.n() < 2) return out;
  const std::vector<int> sel = ShiftSelectionPart(n, method, options);
  std::vector<int> held;
  {
    std::vector<char> in_sel(n, 0);
    for (int i : sel) in_sel[i] = 1;
    for (int i = 0; i < n; ++i)
      if (!in_sel[i]) held.push_back(i);
  }
  const SampleSubset s(fit, sel), h(fit, held);
  SolverOptions o = options;
  o.guarantee.level = 0.0;  // the method as the guarantee's search runs it
  const std::vector<ThresholdSummary> solved = SolveBudgets(method, s.problem, budgets, o);
  for (std::size_t i = 0; i < budgets.size(); ++i) {
    if (!solved[i].has_policy()) continue;
    out[i] = TwoSampleShiftTest(h.problem, eval, solved[i].policy, alpha);
    out[i].selection_n = static_cast<int>(sel.size());
  }
  return out;
}

std::string ShiftResult::Warning() const {
  if (!shifted) return "";
  std::ostringstream s;
  s << "warning: the eval split does not look exchangeable with the fit split (two-sample test "
       "p = "
    << FormatDouble(p_value) << " < " << FormatDouble(alpha)
    << " under the method's policy fitted on " << selection_n << " fit samples: mean cost "
    << FormatDouble(held_out_cost) << " on the other " << held_out_n << " vs "
    << FormatDouble(eval_cost) << " on eval, accuracy " << FormatDouble(held_out_accuracy) << " vs "
    << FormatDouble(eval_accuracy)
    << "); budgets and guarantees fitted on the fit split need not hold on it";
  return s.str();
}

}  // namespace exitplan
