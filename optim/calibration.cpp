#include "optim/calibration.hpp"

#include <ceres/ceres.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "profiles/dump.hpp"
#include "profiles/error.hpp"

namespace exitplan {
namespace {

// NLL as a function of s = log T (keeps T > 0 without constraints), for Ceres.
class LogTemperatureNll final : public ceres::FirstOrderFunction {
 public:
  LogTemperatureNll(const Eigen::MatrixXd& z, const std::vector<int>& target, double lo, double hi)
      : z_(z), target_(target), lo_(std::log(lo)), hi_(std::log(hi)) {}
  bool Evaluate(const double* s, double* cost, double* gradient) const override {
    // Outside the clamp box the function is extended flat-free: reject so the line search backs
    // off.
    if (!std::isfinite(s[0]) || s[0] < lo_ - 1e-9 || s[0] > hi_ + 1e-9) return false;
    const double t = std::exp(s[0]);
    double dt = 0.0;
    cost[0] = TemperatureNll(z_, target_, t, gradient ? &dt : nullptr);
    if (gradient) gradient[0] = dt * t;  // dNLL/ds = dNLL/dT * dT/ds
    return std::isfinite(cost[0]);
  }
  int NumParameters() const override { return 1; }

 private:
  const Eigen::MatrixXd& z_;
  const std::vector<int>& target_;
  double lo_, hi_;
};

}  // namespace

std::string CalibrationOptions::Validate() const {
  std::string e;
  if (!(min_temperature > 0))
    e += "min_temperature = " + FormatDouble(min_temperature) + ": must be > 0\n";
  if (!(max_temperature > min_temperature) || !std::isfinite(max_temperature)) {
    e += "max_temperature = " + FormatDouble(max_temperature) +
         ": must be finite and > min_temperature\n";
  }
  if (max_iterations < 1)
    e += "max_iterations = " + std::to_string(max_iterations) + ": must be >= 1\n";
  if (!(gradient_tolerance > 0))
    e += "gradient_tolerance = " + FormatDouble(gradient_tolerance) + ": must be > 0\n";
  if (!e.empty()) e.pop_back();
  return e;
}

double TemperatureNll(const Eigen::MatrixXd& z, const std::vector<int>& target, double t,
                      double* grad) {
  // NLL(T) = mean_i [logsumexp(z_i / T) - z_iy / T];
  // dNLL/dT = mean_i [(z_iy - sum_c p_ic z_ic) / T^2] with p_i = softmax(z_i / T).
  const int n = static_cast<int>(z.cols()), c = static_cast<int>(z.rows());
  const double inv = 1.0 / t;
  double nll = 0.0, g = 0.0;
  for (int i = 0; i < n; ++i) {
    const double m = z.col(i).maxCoeff() * inv;
    double s = 0.0, ez = 0.0;
    for (int q = 0; q < c; ++q) {
      const double e = std::exp(z(q, i) * inv - m);
      s += e;
      ez += e * z(q, i);
    }
    const double zy = z(target[i], i);
    nll += m + std::log(s) - zy * inv;
    g += (zy - ez / s) * inv * inv;
  }
  if (grad) *grad = g / n;
  return nll / n;
}

CalibrationSummary FitTemperatures(const SplitData& split, const CalibrationOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (const std::string err = options.Validate(); !err.empty())
    throw InputError("calibration options", err);
  if (!split.has_logits()) {
    throw InputError(split.source,
                     "temperature scaling needs per-exit logits, but this is a "
                     "scores-mode dump");
  }
  CalibrationSummary sum;
  sum.outcome = Outcome::kConverged;
  sum.message = "converged";
  std::vector<int> target(split.n);
  for (int i = 0; i < split.n; ++i) {
    target[i] = options.use_agreement ? split.predicted(split.k - 1, i) : split.labels[i];
  }
  Eigen::MatrixXd z(split.c, split.n);
  for (int j = 0; j < split.k; ++j) {
    for (int i = 0; i < split.n; ++i) split.Logits(i, j, z.col(i).data());
    sum.nll_before.push_back(TemperatureNll(z, target, 1.0, nullptr));
    double s = 0.0;  // log T, starting at T = 1
    s = std::clamp(s, std::log(options.min_temperature), std::log(options.max_temperature));
    ceres::GradientProblem problem(
        new LogTemperatureNll(z, target, options.min_temperature, options.max_temperature));
    ceres::GradientProblemSolver::Options o;
    o.line_search_direction_type = ceres::LBFGS;
    o.max_num_iterations = options.max_iterations;
    o.gradient_tolerance = options.gradient_tolerance;
    o.function_tolerance = 1e-14;
    o.parameter_tolerance = 1e-12;
    o.logging_type = ceres::SILENT;
    ceres::GradientProblemSolver::Summary cs;
    ceres::Solve(o, problem, &s, &cs);
    const double t = std::clamp(std::exp(s), options.min_temperature, options.max_temperature);
    sum.temperatures.push_back(t);
    sum.nll_after.push_back(TemperatureNll(z, target, t, nullptr));
    sum.iterations.push_back(static_cast<int>(cs.iterations.size()));
    if (cs.termination_type == ceres::FAILURE) {
      sum.outcome = Outcome::kFailure;
      sum.message = "exit " + std::to_string(j + 1) + ": " + cs.message;
    } else if (cs.termination_type == ceres::NO_CONVERGENCE && sum.outcome == Outcome::kConverged) {
      sum.outcome = Outcome::kIterationLimit;
      sum.message = "exit " + std::to_string(j + 1) + " reached max_iterations";
    }
  }
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return sum;
}

std::string CalibrationSummary::BriefReport() const {
  std::ostringstream o;
  o << "temperature scaling: " << ToString(outcome) << ", T = " << JoinDoubles(temperatures, ",")
    << " (" << message << ")";
  return o.str();
}

std::string CalibrationSummary::FullReport() const {
  std::ostringstream o;
  o << BriefReport() << "\n  exit  temperature  nll_before  nll_after  iterations\n";
  for (std::size_t j = 0; j < temperatures.size(); ++j) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "  %-4zu  %11.5f  %10.5f  %9.5f  %10d\n", j + 1, temperatures[j],
                  nll_before[j], nll_after[j], iterations[j]);
    o << buf;
  }
  return o.str();
}

}  // namespace exitplan
