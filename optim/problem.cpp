#include "optim/problem.hpp"

#include <cmath>
#include <sstream>

#include "profiles/dump.hpp"
#include "profiles/profile.hpp"

namespace exitplan {

Evaluation ThresholdProblem::Evaluate(const Policy& policy) const {
  return exitplan::Evaluate(*scores, order, *correct, stop_cost, policy);
}

std::string ThresholdProblem::Check() const {
  if (scores == nullptr || correct == nullptr) return "scores or correctness not set";
  if (scores->rows() != correct->rows() || scores->cols() != correct->cols()) {
    return "scores and correctness differ in shape";
  }
  if (static_cast<int>(stop_cost.size()) != k()) return "stop_cost must have K entries";
  Policy p{kept, std::vector<double>(kept.empty() ? 0 : kept.size() - 1, 0.0)};
  if (std::string err = CheckPolicy(p, k()); !err.empty()) return err;
  if (!std::isfinite(budget)) return "budget = " + std::to_string(budget) + ": must be finite";
  return "";
}

ThresholdProblem ThresholdProblem::From(const SplitData& split, Measure measure, Target target,
                                        const CostProfile& profile, const std::vector<int>& kept,
                                        double budget) {
  ThresholdProblem p;
  p.scores = &split.Scores(measure);
  p.correct = &split.Correct(target);
  p.order = split.Order(measure);
  p.kept = kept;
  p.stop_cost = profile.StopCosts(kept);
  p.budget = budget;
  return p;
}

std::string ToString(Outcome outcome) {
  switch (outcome) {
    case Outcome::kNotRun:
      return "not_run";
    case Outcome::kOptimal:
      return "optimal";
    case Outcome::kConverged:
      return "converged";
    case Outcome::kIterationLimit:
      return "iteration_limit";
    case Outcome::kInfeasible:
      return "infeasible";
    case Outcome::kFailure:
      return "failure";
    case Outcome::kUnconstrained:
      return "unconstrained";
    case Outcome::kOverBudget:
      return "over_budget";
  }
  return "?";
}

bool OutcomeFromString(const std::string& text, Outcome* outcome) {
  for (Outcome o :
       {Outcome::kNotRun, Outcome::kOptimal, Outcome::kConverged, Outcome::kIterationLimit,
        Outcome::kInfeasible, Outcome::kFailure, Outcome::kUnconstrained, Outcome::kOverBudget}) {
    if (text == ToString(o)) {
      *outcome = o;
      return true;
    }
  }
  return false;
}

std::string ThresholdSummary::BriefReport() const {
  std::ostringstream s;
  s << method << ": " << ToString(outcome);
  if (has_policy()) {
    s << ", fit accuracy " << fit.accuracy << ", fit cost " << fit.mean_cost;
  }
  s << ", " << iterations << " iterations, " << seconds << " s";
  if (!message.empty()) s << " (" << message << ")";
  return s.str();
}

std::string ThresholdSummary::FullReport() const {
  std::ostringstream s;
  s << BriefReport() << "\n";
  s << "  kept exits (1-based):";
  for (int e : policy.kept) s << " " << e + 1;
  s << "\n  thresholds: " << JoinDoubles(policy.thresholds, ", ") << "\n";
  if (has_policy()) s << "  exit fractions: " << JoinDoubles(fit.exit_fraction, ", ") << "\n";
  if (!trace.empty()) s << "  trace: " << trace.size() << " entries, last " << trace.back() << "\n";
  return s.str();
}

}  // namespace exitplan
