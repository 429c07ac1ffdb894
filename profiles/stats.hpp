// Small statistics over per-exit rows: quantiles and expected calibration error.
#pragma once

#include <vector>

#include "profiles/types.hpp"

namespace exitplan {

// Linear-interpolated quantile (numpy's default), q in [0, 1]. `values` is copied. A NaN counts
// as greater than every number (a quantile whose ranks reach the NaNs is NaN).
double Quantile(std::vector<double> values, double q);

// The same for several q at once, found by selection (std::nth_element on a shrinking range, or
// a radix histogram for long vectors), not by sorting. Returns one value per q, in the order given.
std::vector<double> Quantiles(std::vector<double> values, const std::vector<double>& qs);

// Quantiles of each row (exit) of a K x N matrix: K rows of qs.size() values, equal to Quantiles
// of each row. Rows of 2^15 samples or more: one multi-threaded SIMD pass over the whole matrix
// counts every row's values against pivots from a sample and keeps the few between them (no row
// is copied); shorter rows are copied out and selected in parallel.
std::vector<std::vector<double>> RowQuantiles(const ScoreMatrix& m, const std::vector<double>& qs);

// Expected calibration error of one exit with `bins` equal-width bins over [0, 1] of confidence
// (Guo et al. 2017): sum over bins of |accuracy - mean confidence| weighted by the bin's share.
double ExpectedCalibrationError(const ScoreMatrix& confidence, const CorrectMatrix& correct,
                                int exit, int bins = 15);

}  // namespace exitplan
