// The exact cascade evaluator: the one place that defines what a policy does.
//
// A sample stops at the first kept exit whose score passes its threshold (score >= t for a
// descending measure, score < t for an ascending one), otherwise at exit K. Every solver reports
// through Evaluate().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "profiles/types.hpp"

namespace exitplan {

class CostProfile;
class SplitData;

struct Policy {
  std::vector<int> kept;           // 0-based exit indices, ascending; the last is K-1
  std::vector<double> thresholds;  // one per kept exit before the final: size kept.size() - 1
};

struct Evaluation {
  int n = 0;                          // samples evaluated (0: not run)
  double accuracy = 0.0;              // fraction correct at the exit each sample stops at
  double mean_cost = 0.0;             // mean stop cost per sample
  std::vector<double> exit_fraction;  // size K: fraction stopping at each exit (0 if dropped)
  std::vector<double>
      exit_accuracy;  // size K: accuracy of the samples stopping there (NaN if none)
  std::vector<std::int64_t> exit_count;  // size K
};

// "" when the policy fits K exits, otherwise one line saying what is wrong.
std::string CheckPolicy(const Policy& policy, int k);

// scores and correct are K x N column-major; stop_cost has size K (CostProfile::StopCosts).
// The policy must pass CheckPolicy (asserted in debug builds only: this is the hot path).
Evaluation Evaluate(const ScoreMatrix& scores, ScoreOrder order, const CorrectMatrix& correct,
                    const std::vector<double>& stop_cost, const Policy& policy);

// Evaluate on a chosen inner loop (tests compare them): the scalar reference, the branch-free
// AVX2 or AVX-512 one; kAuto (what Evaluate uses) picks the widest this CPU has. A kernel the CPU
// lacks, or more than 64 kept exits, falls back to the scalar one. Same results for every kernel.
enum class CascadeKernel { kAuto, kScalar, kAvx2, kAvx512 };
Evaluation EvaluateWith(CascadeKernel kernel, const ScoreMatrix& scores, ScoreOrder order,
                        const CorrectMatrix& correct, const std::vector<double>& stop_cost,
                        const Policy& policy);

// The exit (0-based) each sample stops at.
std::vector<int> ExitOfSamples(const ScoreMatrix& scores, ScoreOrder order, const Policy& policy);

// Convenience: evaluate a split's measure and target under a profile's cost model for the kept set.
Evaluation EvaluateSplit(const SplitData& split, Measure measure, Target target,
                         const CostProfile& profile, const Policy& policy);

// Does `score` pass threshold t? The definition every module uses.
inline bool Passes(double score, double t, ScoreOrder order) {
  return order == ScoreOrder::kDescending ? score >= t : score < t;
}

}  // namespace exitplan
