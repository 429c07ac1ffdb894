// Per-exit temperature scaling (Guo et al. 2017; the unsupervised early-exit paper (2023)
// recommends calibrating the exits before thresholding their confidences): T_k minimises the mean
// negative log-likelihood of softmax(z / T_k) on the fit split, fitted with Ceres'
// GradientProblemSolver (L-BFGS) on log T_k with a closed-form gradient. The temperatures feed
// SplitData::ComputeFeatures(temperatures), so every confidence measure and the EENet scorer can
// use them.
#pragma once

#include <string>
#include <vector>

#include "optim/problem.hpp"

namespace exitplan {

class SplitData;

struct CalibrationOptions {
  double min_temperature = 0.05;  // T is clamped to [min, max] (both > 0, min < max)
  double max_temperature = 100.0;
  int max_iterations = 100;           // L-BFGS iterations per exit, >= 1
  double gradient_tolerance = 1e-10;  // Ceres' gradient_tolerance, > 0
  bool use_agreement = false;         // fit NLL against exit K's prediction instead of the labels
  std::string Validate() const;
};

struct CalibrationSummary {
  Outcome outcome = Outcome::kNotRun;
  std::string message = "not run";
  std::vector<double> temperatures;  // per exit
  std::vector<double> nll_before;    // mean NLL at T = 1, per exit
  std::vector<double> nll_after;     // mean NLL at T_k
  std::vector<int> iterations;
  double seconds = 0.0;
  bool ok() const { return HasSolution(outcome); }
  std::string BriefReport() const;
  std::string FullReport() const;
};

// Fits one temperature per exit on a logits-mode split. Throws InputError for a scores-mode split
// or bad options.
CalibrationSummary FitTemperatures(const SplitData& split, const CalibrationOptions& options = {});

// Mean NLL of softmax(z / T) against `target` for one exit, and dNLL/dT when `grad` is set.
// z is C x N (column = sample).
double TemperatureNll(const Eigen::MatrixXd& z, const std::vector<int>& target, double t,
                      double* grad);

}  // namespace exitplan
