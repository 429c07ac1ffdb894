// One entry point for every budget-constrained threshold method, selectable by name (issue 3).
//
// The per-method option structs live in their own headers (optim/geometric.hpp, optim/ippp.hpp,
// optim/exact.hpp, ...) and are gathered in SolverOptions so the CLI, YAML sweeps and dse/ can pass
// one object. Every method returns a ThresholdSummary whose `fit` is the exact evaluator's figures.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "optim/problem.hpp"

namespace exitplan {

enum class Method {
  kGeometric,          // MSDNet's geometric exit distribution, p solved exactly, cascade quotas
  kGeometricQuantile,  // seed 004 code's variant (Heuristic.py): 1% grid of p, per-exit quantiles
  kSingle,             // one threshold shared by all exits, bisection on the budget
  kIppp,               // seed 004 Algorithm 1
  kIpppNlopt,          // the smoothed P2 handed to NLopt
  kExact,              // our own solver on the true step-function problem
};
std::string ToString(Method method);
Method MethodFromString(const std::string& text, const std::string& what = "--method");
std::vector<std::string> MethodNames();

// Options of every method; the fields of each are documented in its own header. Filled in by
// the method headers as they land (issue 3).
struct SolverOptions {
  // Set by the caller when known: the measure's natural range, used by methods that project onto
  // a box (iPPP) and for the "threshold outside the measure's range" message. NaN = infer from data.
  double box_lo = std::numeric_limits<double>::quiet_NaN();
  double box_hi = std::numeric_limits<double>::quiet_NaN();
  unsigned seed = 1;  // master seed; every random sub-stream derives from it
  // Returns "" or one line per broken constraint naming the field, its value and the rule.
  std::string Validate() const;
};

// Solves the problem with one method. Never throws for an infeasible budget (Outcome::kInfeasible);
// throws InputError only for a malformed problem or options.
ThresholdSummary Solve(Method method, const ThresholdProblem& problem,
                       const SolverOptions& options = {});

}  // namespace exitplan
