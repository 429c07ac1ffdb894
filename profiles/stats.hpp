// Small statistics over per-exit rows: quantiles and expected calibration error.
#pragma once

#include <vector>

#include "profiles/types.hpp"

namespace exitplan {

// Linear-interpolated quantile (numpy's default), q in [0, 1]. `values` is copied.
double Quantile(std::vector<double> values, double q);

// Expected calibration error of one exit with `bins` equal-width bins over [0, 1] of confidence
// (Guo et al. 2017): sum over bins of |accuracy - mean confidence| weighted by the bin's share.
double ExpectedCalibrationError(const ScoreMatrix& confidence, const CorrectMatrix& correct,
                                int exit, int bins = 15);

}  // namespace exitplan
