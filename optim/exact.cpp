#include "optim/exact.hpp"

namespace exitplan {
std::string ExactOptions::Validate() const { return ""; }
ThresholdSummary SolveExact(const ThresholdProblem& problem, const ExactOptions& options,
                            const std::vector<std::vector<double>>& starts) {
  ThresholdSummary s;
  s.method = "exact";
  s.outcome = Outcome::kFailure;
  s.message = "not implemented yet";
  return s;
}
}  // namespace exitplan
