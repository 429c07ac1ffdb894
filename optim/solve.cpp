#include "optim/solve.hpp"

#include "profiles/error.hpp"

namespace exitplan {
namespace {
const char* const kNames[] = {"geometric", "geometric-quantile", "single",
                              "ippp",      "ippp-nlopt",         "exact"};
}  // namespace

std::string ToString(Method method) { return kNames[static_cast<int>(method)]; }

Method MethodFromString(const std::string& text, const std::string& what) {
  for (int i = 0; i < 6; ++i) {
    if (text == kNames[i]) return static_cast<Method>(i);
  }
  throw InputError(what, "unknown method '" + text +
                             "' (expected geometric, geometric-quantile, single, ippp, ippp-nlopt "
                             "or exact)");
}

std::vector<std::string> MethodNames() { return std::vector<std::string>(kNames, kNames + 6); }

std::string SolverOptions::Validate() const { return ""; }

ThresholdSummary Solve(Method method, const ThresholdProblem& problem,
                       const SolverOptions& options) {
  if (const std::string err = problem.Check(); !err.empty()) throw InputError("problem", err);
  ThresholdSummary s;
  s.method = ToString(method);
  s.outcome = Outcome::kFailure;
  s.message = "method not implemented yet";
  s.policy.kept = problem.kept;
  return s;
}

}  // namespace exitplan
