// Words shared by every module, with a to-string / from-string pair for each
// enum that appears in the CLI, YAML or CSV.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

namespace exitplan {

// Which way a score is more confident. Descending: larger is more confident and a sample stops
// when score >= t (MSDNet's and EENet's code). Ascending: smaller is more confident and a sample
// stops when score < t, a tie does not stop (Tan et al.'s code), so published thresholds replay.
enum class ScoreOrder { kDescending, kAscending };

// Confidence measures computed from logits (profiles/features.hpp), plus the stored confidence of
// a scores-mode dump. Every logits measure is "larger is more confident".
enum class Measure {
  kMaxProb,   // max softmax probability (Ilhan et al. 2023 eq. 5)
  kEntropy,   // 1 - H(p)/log C, normalised entropy confidence (Ilhan et al. 2023 eq. 6, Scardapane
              // et al. 2020 eq. 11)
  kMargin,    // top-1 minus top-2 probability
  kPatience,  // consecutive earlier exits agreeing with this exit's prediction (PABEE)
  kVote,      // (1/k) max_c #{k' <= k : pred_k' = c} (Ilhan et al. 2023 eq. 7)
  kConfidence,  // the stored per-exit confidence of a scores-mode dump
};
inline constexpr int kNumMeasures = 6;

// What "correct" means: agreement with the label, or with exit K's prediction (the unsupervised
// early-exit paper (2023)).
enum class Target { kLabels, kAgreement };

std::string ToString(ScoreOrder order);
std::string ToString(Measure measure);
std::string ToString(Target target);
// Parse; throw InputError("option <what>: ...") listing the valid names on a bad one.
ScoreOrder ScoreOrderFromString(const std::string& text, const std::string& what = "--score-order");
Measure MeasureFromString(const std::string& text, const std::string& what = "--measure");
Target TargetFromString(const std::string& text, const std::string& what = "--target");
std::vector<std::string> MeasureNames();

// K x N, column-major: the K exits of one sample are contiguous (what the evaluator scans).
using ScoreMatrix = Eigen::MatrixXd;
using CorrectMatrix = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>;
using LabelMatrix = Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic>;

// Joins values with `sep` using the shortest round-trip text of each double.
std::string JoinDoubles(const std::vector<double>& values, const std::string& sep);
std::string FormatDouble(double value);  // shortest text that parses back to the same double
// Parses "0.9,0.8" into doubles; throws InputError naming `what` on a bad item.
std::vector<double> ParseDoubleList(const std::string& text, const std::string& what);
std::vector<int> ParseIntList(const std::string& text, const std::string& what);

}  // namespace exitplan
