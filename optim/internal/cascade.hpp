// Small helpers shared by the threshold methods: per-exit orders "most confident
// first", the threshold that stops the n most confident of a set, and the problem's kept rows.
#pragma once

#include <cstdint>
#include <vector>

#include "optim/problem.hpp"

namespace exitplan::internal {

// True when score a is more confident than score b under `order`.
inline bool MoreConfident(double a, double b, ScoreOrder order) {
  return order == ScoreOrder::kDescending ? a > b : a < b;
}

// Indices 0..N-1 sorted most confident first at exit `exit` (stable, so ties keep index order).
std::vector<int> ConfidenceOrder(const ThresholdProblem& p, int exit);
// The same into `out` (its storage is reused).
void ConfidenceOrder(const ThresholdProblem& p, int exit, std::vector<int>& out);

// Sorts `values` ascending (descending when asked), like std::sort (stable radix sort; the
// relative order of -0.0 and +0.0, which compare equal, is their input order).
void SortValues(std::vector<double>& values, bool descending);
// The same sort, also returning each sorted value's original position in `index`.
void SortValuesWithIndex(std::vector<double>& values, std::vector<int>& index, bool descending);

// `values` sorted most confident first. Returns a threshold under which exactly the first n
// values pass when values[n-1] and values[n] differ; with ties at the cut, an ascending order
// stops fewer and a descending order more (the rule Passes() defines). n may be 0 or size().
double ThresholdForTop(const std::vector<double>& values, std::size_t n, ScoreOrder order);

// The same threshold from unsorted values, by selection instead of a sort (O(size)); `values`
// is reordered. The returned value equals ThresholdForTop's on the sorted values.
double ThresholdForTopUnsorted(std::vector<double>& values, std::size_t n, ScoreOrder order);

// A threshold that lies strictly between two distinct sorted neighbours `more` (passes) and
// `less` (does not pass), as close to the middle as doubles allow.
double ThresholdBetween(double more, double less, ScoreOrder order);
// A threshold that no value in [lo_value, hi_value] passes / that every value passes.
double ThresholdNone(double most_confident, ScoreOrder order);
double ThresholdAll(double least_confident, ScoreOrder order);

// The natural box of the scores of the kept non-final exits: [0, 1] when every score lies in it,
// [-1, 0] likewise, otherwise [min, max] of the data. Used when SolverOptions leaves it NaN.
void InferBox(const ThresholdProblem& p, double* lo, double* hi);

}  // namespace exitplan::internal
