// The comparison of Ilhan et al. 2023 Table 1: at each budget, eval accuracy of the baselines
// of Ilhan et al. 2023 (MSDNet: max prob + geometric quotas, BranchyNet: entropy + geometric,
// PABEE: agreement vote + geometric), EENet and its two ablations, the optim/ solvers on max prob
// and on the learned scores, and "best": the policy with the highest fit accuracy within the budget
// on the fit split (what exitplan deploys; chosen on the fit split only, eval only measures it).
#pragma once

#include <string>
#include <vector>

#include "optim/eenet.hpp"
#include "profiles/evaluator.hpp"

namespace exitplan {

struct Dump;
class CostProfile;

struct ComparisonRow {
  double budget = 0.0;  // absolute
  double budget_fraction = 0.0;
  std::string method;      // msdnet, branchynet, pabee, eenet, eenet-no-scorer, ...
  std::string detail;      // measure + threshold rule
  bool available = false;  // false: the method could not run (message says why)
  std::string message;
  Policy policy;
  Evaluation fit, eval;
  double seconds = 0.0;
  bool within_budget() const;  // fit cost <= budget (relative slack 1e-9)
};

struct ComparisonOptions {
  EENetOptions eenet;
  std::vector<double> budget_fractions = {0.35, 0.45, 0.55, 0.65, 0.75, 0.85};  // of FullCost()
  std::vector<std::string> solvers = {"exact", "ippp"};  // optim/ methods tried (when landed)
};

// MSDNet's exit distribution (Huang et al. 2018, as Ilhan et al. 2023 and 004 use it): p_k
// proportional to q^k with q solved (bisection on log q) so that sum_k p_k c_k = budget. Clamped to
// all-first / all-last when the budget is outside [c_1, c_K].
std::vector<double> GeometricDistribution(const std::vector<double>& stop_cost, double budget);

// Runs every method at every budget on the dump's fit split (eval split measured when present).
// `progress` (may be null) gets one line per finished row.
std::vector<ComparisonRow> CompareExitPolicies(const Dump& dump, const CostProfile& profile,
                                               const ComparisonOptions& options,
                                               void (*progress)(const ComparisonRow&) = nullptr);

// A Markdown table: one row per budget, one column per method, cells "eval_acc" (fit cost in
// brackets when over budget).
std::string ComparisonMarkdown(const std::vector<ComparisonRow>& rows, const std::string& unit);

}  // namespace exitplan
