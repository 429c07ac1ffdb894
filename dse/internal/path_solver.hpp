// Exhaustive search's fast path for the `exact` method: the exact method's coordinate
// updates on cuts (optim/exact.hpp, steps 1 and 3), with every piece of work that does not depend
// on the budget or the kept set shared:
// - each exit's confidence order, sorted once for all subsets and budgets (Shared);
// - each subset's answer at one budget is the start of the next smaller budget (warm start);
// - a subset's first start also comes from its parent subset (itself without its deepest
//   candidate) with the new exit passing nobody: the parent's policy, plus one idle head.
// A state is a cut per kept exit before the final: the number of fit samples, most confident first
// at that exit, that pass it; cuts fall only between distinct scores, so each is a threshold.
// An update picks, for one exit with the others fixed, the cut with the most correct samples whose
// mean cost stays within the budget (ties to the cheaper; when none fits, the cheapest), by one
// O(N) scan of that exit's order after an O(N m) pass for the samples' downstream exits. Costs are
// summed per exit slot in the evaluator's order, so "within budget" agrees with the evaluator.
#pragma once

#include <cstdint>
#include <vector>

#include "optim/problem.hpp"
#include "profiles/types.hpp"

namespace exitplan::internal {

struct PathShared {
  const ScoreMatrix* scores = nullptr;
  const CorrectMatrix* correct = nullptr;
  ScoreOrder order = ScoreOrder::kDescending;
  int k = 0, n = 0;
  std::vector<std::vector<int>> order_of;  // per exit: samples, most confident first
  std::vector<std::vector<int>> rank;      // per exit: position of each sample in order_of
  std::vector<std::vector<char>> cut_ok;   // per exit, size n + 1: a cut between distinct scores
  static PathShared Prepare(const ScoreMatrix& scores, const CorrectMatrix& correct,
                            ScoreOrder order);
};

class PathSolver {
 public:
  PathSolver(const PathShared& shared, const std::vector<int>& kept,
             const std::vector<double>& stop_cost);
  // Coordinate ascent at `budget` from `start` cuts (size kept-1); returns the final cuts. With
  // lambda >= 0 the budget is ignored and the ascent maximises correct - lambda x total cost (the
  // Lagrangian relaxation, whose answers lie on the convex hull of the subset's front).
  // When out_right and out_mean_cost are given they receive the final state's correct count and
  // mean cost (Value()), taken from the last update when the ascent converged.
  std::vector<int> Ascend(double budget, std::vector<int> start, int max_sweeps, int* sweeps,
                          double lambda = -1.0, std::int64_t* out_right = nullptr,
                          double* out_mean_cost = nullptr) const;
  // Cuts of given thresholds, and thresholds realising given cuts.
  std::vector<int> CutsOf(const std::vector<double>& thresholds) const;
  std::vector<double> ThresholdsOf(const std::vector<int>& cuts) const;
  // Correct count and mean cost of a state, as the evaluator computes them.
  void Value(const std::vector<int>& cuts, std::int64_t* correct, double* mean_cost) const;

 private:
  const PathShared& s_;
  std::vector<int> kept_;
  std::vector<double> cost_;         // per kept slot
  std::vector<std::uint32_t> corr_;  // per sample: bit q = correct at kept slot q
  int m_;
};

}  // namespace exitplan::internal
