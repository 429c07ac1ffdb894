// Tests of per-exit temperature scaling (optim/calibration.hpp).
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "optim/calibration.hpp"
#include "profiles/dump.hpp"
#include "profiles/stats.hpp"
#include "test_util.hpp"

using namespace exitplan;
using exitplan::testing::Close;
using exitplan::testing::TempDir;

namespace {

// Logits [N, K, C] with labels drawn from softmax(z / T_true[k])... one label per sample, so each
// exit k is drawn from its own temperature by giving each exit its own label-consistent logits:
// z_k = T_true[k] * w where w are the "calibrated" logits and y ~ softmax(w).
void WriteCalibrationDump(const std::string& dir, int n, const std::vector<double>& t_true, int c,
                          unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0.0, 1.5);
  const int k = static_cast<int>(t_true.size());
  std::vector<double> logits(static_cast<std::size_t>(n) * k * c), labels(n);
  std::vector<double> w(c), p(c);
  for (int i = 0; i < n; ++i) {
    for (int q = 0; q < c; ++q) w[q] = g(rng);
    double s = 0;
    for (int q = 0; q < c; ++q) s += (p[q] = std::exp(w[q]));
    std::discrete_distribution<int> draw(p.begin(), p.end());
    labels[i] = draw(rng);
    for (int j = 0; j < k; ++j)
      for (int q = 0; q < c; ++q)
        logits[(static_cast<std::size_t>(i) * k + j) * c + q] = t_true[j] * w[q];
  }
  exitplan::testing::WriteNpyAs(
      dir + "/val_logits.npy", "<f8",
      {static_cast<std::size_t>(n), static_cast<std::size_t>(k), static_cast<std::size_t>(c)},
      logits);
  exitplan::testing::WriteNpyAs(dir + "/val_labels.npy", "<i8", {static_cast<std::size_t>(n)},
                                labels);
}

}  // namespace

TEST_CASE("TemperatureNll: hand value and gradient against central differences", "[calibration]") {
  Eigen::MatrixXd z(2, 1);
  z << 0.0, std::log(3.0);
  // T = 1: p = (0.25, 0.75), label 1 -> NLL = -log 0.75.
  REQUIRE(Close(TemperatureNll(z, {1}, 1.0, nullptr), -std::log(0.75)));
  std::mt19937 rng(2);
  std::normal_distribution<double> g(0.0, 2.0);
  Eigen::MatrixXd zz(4, 30);
  std::vector<int> y(30);
  for (int i = 0; i < 30; ++i) {
    for (int q = 0; q < 4; ++q) zz(q, i) = g(rng);
    y[i] = i % 4;
  }
  for (double t : {0.3, 1.0, 2.7}) {
    double grad = 0;
    TemperatureNll(zz, y, t, &grad);
    const double h = 1e-6;
    const double fd =
        (TemperatureNll(zz, y, t + h, nullptr) - TemperatureNll(zz, y, t - h, nullptr)) / (2 * h);
    REQUIRE(Close(grad, fd, 1e-6, 1e-9));
  }
}

TEST_CASE("temperature scaling recovers known per-exit temperatures", "[calibration]") {
  TempDir dir;
  const std::vector<double> t_true = {0.5, 1.0, 3.0};
  WriteCalibrationDump(dir.path(), 20000, t_true, 6, 5);
  Dump dump = LoadDump(dir.path());
  const CalibrationSummary s = FitTemperatures(dump.fit);
  INFO(s.FullReport());
  REQUIRE(s.ok());
  REQUIRE(s.temperatures.size() == 3);
  for (int j = 0; j < 3; ++j) {
    REQUIRE(std::abs(s.temperatures[j] / t_true[j] - 1.0) < 0.05);
    REQUIRE(s.nll_after[j] <= s.nll_before[j] + 1e-12);
    // Optimality: the derivative at the fitted T is ~0.
  }
  // ECE after calibration is small; before (T = 1 on exits 1 and 3) it is not.
  const double ece_before_3 =
      ExpectedCalibrationError(dump.fit.Scores(Measure::kMaxProb), dump.fit.correct, 2);
  dump.fit.ComputeFeatures(s.temperatures);
  const double ece_after_3 =
      ExpectedCalibrationError(dump.fit.Scores(Measure::kMaxProb), dump.fit.correct, 2);
  REQUIRE(ece_after_3 < 0.02);
  REQUIRE(ece_before_3 > 0.1);
}

TEST_CASE("calibration refuses scores-mode dumps and bad options", "[calibration]") {
  TempDir dir;
  exitplan::testing::WriteNpyAs(dir / "val_confidence.npy", "<f8", {2, 3},
                                {0.1, 0.2, 0.3, 0.4, 0.5, 0.6});
  exitplan::testing::WriteNpyAs(dir / "val_correct.npy", "|u1", {2, 3}, {1, 0, 1, 1, 1, 0});
  const Dump dump = LoadDump(dir.path());
  REQUIRE_THROWS_WITH(FitTemperatures(dump.fit), Catch::Contains("needs per-exit logits"));
  CalibrationOptions o;
  o.min_temperature = 0;
  o.max_iterations = 0;
  const std::string err = o.Validate();
  REQUIRE_THAT(err, Catch::Contains("min_temperature = 0: must be > 0"));
  REQUIRE_THAT(err, Catch::Contains("max_iterations = 0: must be >= 1"));
}
