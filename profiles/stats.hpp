// Small statistics over per-exit rows: quantiles and expected calibration error.
#pragma once

#include <vector>

#include "profiles/types.hpp"

namespace exitplan {

// Linear-interpolated quantile (numpy's default), q in [0, 1]. `values` is copied.
double Quantile(std::vector<double> values, double q);

// The same for several q at once, found by selection (std::nth_element on a shrinking range),
// not by sorting: O(n) per quantile. Returns one value per q, in the order given.
std::vector<double> Quantiles(std::vector<double> values, const std::vector<double>& qs);

// Quantiles of each row (exit) of a K x N matrix: K rows of qs.size() values, the rows computed
// in parallel.
std::vector<std::vector<double>> RowQuantiles(const ScoreMatrix& m, const std::vector<double>& qs);

// Expected calibration error of one exit with `bins` equal-width bins over [0, 1] of confidence
// (Guo et al. 2017): sum over bins of |accuracy - mean confidence| weighted by the bin's share.
double ExpectedCalibrationError(const ScoreMatrix& confidence, const CorrectMatrix& correct,
                                int exit, int bins = 15);

}  // namespace exitplan
