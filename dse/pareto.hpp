// Pareto fronts over (cost, accuracy) points.
#pragma once

#include <vector>

namespace exitplan {

struct FrontPoint {
  double cost = 0.0;      // lower is better
  double accuracy = 0.0;  // higher is better
};

// true for each point that no other point dominates: another point with accuracy >= and cost <=,
// one of them strictly. Equal points do not dominate each other (both stay on the front).
// O(n log n).
std::vector<bool> ParetoMask(const std::vector<FrontPoint>& points);

}  // namespace exitplan
