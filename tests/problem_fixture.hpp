// A ThresholdProblem that owns the K x N score and correctness matrices it points to, for the
// solver tests (test_exact, test_ippp, test_solve, test_geometric): a test fills s and c and sets
// kept, stop_cost and budget.
#pragma once

#include "optim/problem.hpp"

namespace exitplan::testing {

struct OwnedProblem {
  ScoreMatrix s;
  CorrectMatrix c;
  ThresholdProblem p;

  OwnedProblem(int k, int n, ScoreOrder order) : s(k, n), c(k, n) {
    p.scores = &s;
    p.correct = &c;
    p.order = order;
  }
  // p points into this object.
  OwnedProblem(const OwnedProblem&) = delete;
  OwnedProblem& operator=(const OwnedProblem&) = delete;
};

}  // namespace exitplan::testing
