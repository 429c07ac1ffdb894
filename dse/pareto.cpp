#include "dse/pareto.hpp"

#include <algorithm>
#include <numeric>

namespace exitplan {

std::vector<bool> ParetoMask(const std::vector<FrontPoint>& points) {
  const std::size_t n = points.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Cheapest first; at equal cost, most accurate first.
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (points[a].cost != points[b].cost) return points[a].cost < points[b].cost;
    return points[a].accuracy > points[b].accuracy;
  });
  std::vector<bool> mask(n, false);
  double best_acc = -1e300;  // best accuracy among strictly cheaper points
  std::size_t i = 0;
  while (i < n) {
    // A group of equal cost: its best accuracy is at the group's start.
    std::size_t j = i;
    const double cost = points[order[i]].cost;
    const double group_best = points[order[i]].accuracy;
    while (j < n && points[order[j]].cost == cost) {
      const double acc = points[order[j]].accuracy;
      // Dominated by a cheaper point with accuracy >= acc, or by an equal-cost point more accurate.
      mask[order[j]] = acc > best_acc && acc == group_best;
      ++j;
    }
    best_acc = std::max(best_acc, group_best);
    i = j;
  }
  return mask;
}

}  // namespace exitplan
