#include "optim/ippp.hpp"

#include "profiles/error.hpp"

namespace exitplan {
std::string IpppOptions::Validate() const { return ""; }
ThresholdSummary SolveIppp(const ThresholdProblem& problem, const IpppOptions& options,
                           double box_lo, double box_hi) {
  ThresholdSummary s;
  s.method = "ippp";
  s.outcome = Outcome::kFailure;
  s.message = "not implemented yet";
  return s;
}
ThresholdSummary SolveIpppNlopt(const ThresholdProblem& problem, const IpppOptions& options,
                                double box_lo, double box_hi) {
  return SolveIppp(problem, options, box_lo, box_hi);
}
}  // namespace exitplan
