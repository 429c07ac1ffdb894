// The geometric baseline of Huang et al. (MSDNet), as used by seeds 001 and 004.
//
// `geometric` (ours, cascade quotas): exit fractions q_k proportional to r^(k-1) over the kept
// exits (r = 1 - p of MSDNet's p(1-p)^(k-1); r may exceed 1, as in MSDNet's own code, so every
// budget between the first and the final exit's cost is reachable). r is solved by bisection so
// that sum_k q_k c_k equals the budget (to machine precision, no grid). Thresholds then come
// from the fit split walking exits in order: among the samples not yet stopped, the q_k N most
// confident stop at exit k (cumulative counts rounded up, so rounding never adds cost).
//
// `geometric-quantile` (Tan et al.'s public code, models/functions/Heuristic.py): p on the grid
// 0.01, 0.02, ..., 1.00, the first p whose expected cost sum_k pk c_k <= budget is used, and
// threshold k is exit k's own sorted confidence (all N samples, not only those reaching it) at
// position min(floor(N * cumsum(pk)[k]), N - 1). Reproduces the upstream saved results exactly.
#pragma once

#include <string>
#include <vector>

#include "optim/problem.hpp"

namespace exitplan {

struct GeometricOptions {
  // geometric-quantile: grid step of p (upstream 0.01); p runs over step, 2 step, ..., 1.
  double quantile_p_step = 0.01;
  std::string Validate() const;
};

ThresholdSummary SolveGeometric(const ThresholdProblem& problem, const GeometricOptions& options);
ThresholdSummary SolveGeometricQuantile(const ThresholdProblem& problem,
                                        const GeometricOptions& options);

// Exit fractions of the geometric law with ratio r over m exits (r = 0: all at the first).
std::vector<double> GeometricFractions(double r, int m);

// The data-free halves of the two methods, shared with exact (which builds these starts from its
// own sorted orders): geometric's per-kept-exit fractions with the solved r and bisection steps;
// geometric-quantile's pk over the kept exits and its grid steps (`found` false when no p on the
// grid meets the budget).
struct GeometricLaw {
  std::vector<double> frac;
  double r = 0.0;
  int iters = 0;
};
GeometricLaw GeometricQuotaLaw(const ThresholdProblem& problem);
struct GeometricQuantileLaw {
  std::vector<double> pk;
  int iters = 0;
  bool found = false;
};
GeometricQuantileLaw GeometricQuantilePk(const ThresholdProblem& problem,
                                         const GeometricOptions& options);

}  // namespace exitplan
