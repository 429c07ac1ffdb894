// `single`: one threshold shared by every kept exit before the final (the single-threshold method
// of Tan et al.'s experiments; Dennis et al. 2018). The mean cost is monotone in the shared
// threshold, so the threshold that spends the most of the budget without exceeding it is found by
// bisection over the sorted distinct scores (exact: no float tolerance, O(log(NK)) evaluations).
#pragma once

#include <string>

#include "optim/problem.hpp"

namespace exitplan {

ThresholdSummary SolveSingle(const ThresholdProblem& problem);

}  // namespace exitplan
