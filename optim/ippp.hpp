// iPPP (Tan et al. (AAAI 2021), Tan et al. AAAI 2021, Algorithm 1) and the same smoothed problem
// handed to NLopt.
//
// Problem P2: the exit indicators are smoothed with the sigmoid sigma(x) = 1 / (1 + exp(-k x)):
// a sample stops at kept exit q with "probability" s_q = sigma(sgn (t_q - x_q)) (sgn = +1 for an
// ascending measure, which stops when x < t, and -1 for a descending one) and reaches exit q with
// prod_{i<q} (1 - s_i). o(t) = smoothed accuracy, c(t) = smoothed mean cost - budget.
// Algorithm 1: T outer proximal iterations, each J accelerated projected-gradient steps (step
// 1/eta, momentum (eta - mu)/(eta + mu)) on
//   phi(t) = -o(t) + gamma/2 ||t - t_outer||^2 + beta/2 max(c(t), 0)^2
// with box projection onto the measure's range. The output is the outer iterate before the
// smallest outer step (Algorithm 1 line 10, upstream iPPP.py). Warm start (eq. 20-21): one shared
// threshold, the root s of smoothed_cost(t_all + s d) = budget with d the all-ones direction
// towards "fewer exits", found with Brent's method on [0, box width] (upstream: brentq on [0, 1]).
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "optim/problem.hpp"

namespace exitplan {

struct IpppOptions {
  double steepness = 30.0;  // k: sigmoid slope, per unit of score (paper: 30), > 0
  // beta: penalty weight on 0.5 max(c, 0)^2 in raw cost units. NaN = automatic: 1 / (d_K - d_1)^2
  // times `beta_scale`, i.e. the penalty is measured in units of the cost span (the paper tuned
  // beta per model: 2e7 for seconds, 5e2 for relative costs, 1e-14 for FLOPs; these are all
  // close to 1-100 / span^2).
  double beta = std::numeric_limits<double>::quiet_NaN();
  double beta_scale = 100.0;  // used when beta is NaN, > 0
  double gamma = 10.0;        // proximal weight, > 0
  int outer_iters = 100;      // T, >= 1
  int inner_iters = 10;       // J, >= 1
  double eta = 100.0;         // smoothness: step 1/eta, > mu
  double mu = 1.0;            // strong convexity, > 0 (momentum (eta - mu)/(eta + mu))
  // Warm start: true = eq. 20-21 (one shared threshold from the smoothed cost); false = start
  // from `initial` (one threshold per kept exit before the final).
  bool warm_start = true;
  std::vector<double> initial;
  // Arithmetic of the iteration's smoothed terms: "single" (float, 16 lanes per vector: two to
  // three times as fast; sums still gathered in double every 1,024 samples; on AVX-512 CPUs a
  // kernel of its own with an approximate reciprocal refined by a Newton step and FMAs, whose
  // answers differ from other CPUs' at rounding level) or "double" (the precision of the
  // published code, the same answers on every CPU). The warm start is always solved in double.
  // Falls back to double when k (score range) exceeds float's exponent range.
  std::string precision = "single";
  // ippp-nlopt: algorithm "auglag-lbfgs", "mma" or "slsqp"; relative tolerance; evaluations.
  std::string nlopt_algorithm = "slsqp";
  double nlopt_xtol = 1e-8;
  int nlopt_max_evals = 2000;
  std::string Validate() const;
};

// The smoothed P2 terms at t (size m-1): smoothed accuracy o, smoothed mean cost (raw units,
// without subtracting the budget) and their gradients. Exposed for tests (finite differences).
struct SmoothedValue {
  double accuracy = 0.0, cost = 0.0;
  std::vector<double> grad_accuracy, grad_cost;
};
// precision: "double" or "single" (the float kernel of IpppOptions::precision).
SmoothedValue EvaluateSmoothed(const ThresholdProblem& problem, double steepness,
                               const std::vector<double>& t,
                               const std::string& precision = "double");

// Above this many sample-exits (N x (m-1)) the single-precision iteration keeps no double copy
// of its data (8 bytes per sample-exit): the warm start, always in double, then recomputes the
// exponentials in windows of 4,096 samples at each of its evaluations. Variable for tests.
inline std::size_t ippp_double_layout_limit = std::size_t{1} << 22;

// The warm start of eq. 20-21 within [box_lo, box_hi]; returns m-1 equal thresholds. precision
// "single": as SolveIppp computes it with IpppOptions::precision = "single" (the same root; with
// ippp_double_layout_limit exceeded, by windows).
std::vector<double> IpppWarmStart(const ThresholdProblem& problem, double steepness, double box_lo,
                                  double box_hi, const std::string& precision);

// The warm start of eq. 20-21 within [box_lo, box_hi]; returns m-1 equal thresholds.
std::vector<double> IpppWarmStart(const ThresholdProblem& problem, double steepness, double box_lo,
                                  double box_hi);

// Automatic beta for a problem (see IpppOptions::beta).
double IpppAutoBeta(const ThresholdProblem& problem, double beta_scale);

ThresholdSummary SolveIppp(const ThresholdProblem& problem, const IpppOptions& options,
                           double box_lo, double box_hi);
ThresholdSummary SolveIpppNlopt(const ThresholdProblem& problem, const IpppOptions& options,
                                double box_lo, double box_hi);

}  // namespace exitplan
