// Dumps: per-exit outputs of one model on its splits (docs/formats.md).
//
// Logits mode: <split>_logits.npy [N, K, C] (or [K, N, C] with Layout::kKNC) and
// <split>_labels.npy [N], or <split>.npz holding `logits` and `labels`. The logits stay
// memory-mapped; one pass reduces them to the per-exit features below.
// Scores mode: <split>_confidence.npy [K, N] and <split>_correct.npy [K, N] of 0/1.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "profiles/npy.hpp"
#include "profiles/types.hpp"

namespace exitplan {

enum class DumpMode { kLogits, kScores };
enum class Layout { kNKC, kKNC };
std::string ToString(DumpMode mode);
Layout LayoutFromString(const std::string& text, const std::string& what = "--layout");

struct DumpOptions {
  std::string fit_split = "val";    // the split policies are chosen on
  std::string eval_split = "test";  // the split that only measures them (optional in the dump)
  Layout layout = Layout::kNKC;     // logits axis order: [N, K, C] or [K, N, C]
  // Which way the stored confidences of a scores-mode dump are more confident. Logits-mode
  // measures are always descending.
  ScoreOrder score_order = ScoreOrder::kDescending;
  bool require_eval = false;  // error when the eval split is absent
  // Logits-mode feature cache (profiles/feature_cache.hpp): its folder, "" = no cache (the
  // command-line tools pass DefaultFeatureCacheDir() unless --no-cache), and the smallest logits
  // file worth caching (below it the pass takes less time than hashing and reading an entry).
  std::string cache_dir;
  std::size_t cache_min_bytes = std::size_t{64} << 20;
};

// One split, laid out for the evaluator. Every K x N matrix is column-major.
class SplitData {
 public:
  std::string name;    // "val"
  std::string source;  // the file(s) it came from, for messages
  DumpMode mode = DumpMode::kLogits;
  int n = 0, k = 0, c = 0;  // c = 0 in scores mode

  std::vector<std::int32_t> labels;  // logits mode
  LabelMatrix predicted;             // K x N, argmax class (logits mode)
  CorrectMatrix correct;       // K x N, 1 when exit k is right (labels / given in scores mode)
  CorrectMatrix agrees_final;  // K x N, 1 when exit k predicts what exit K predicts
  std::vector<double> temperatures;  // per exit; features were computed from logits / T_k
  ScoreOrder confidence_order = ScoreOrder::kDescending;  // of Measure::kConfidence

  bool has_logits() const { return mode == DumpMode::kLogits; }
  bool has(Measure m) const { return scores_[static_cast<int>(m)].size() > 0; }
  // K x N scores of a measure; throws InputError when this dump does not have it (e.g. max_prob
  // in a scores-mode dump) saying why.
  const ScoreMatrix& Scores(Measure m) const;
  ScoreOrder Order(Measure m) const;
  const CorrectMatrix& Correct(Target t) const;

  // Logits of sample i at exit j (C values), read from the mapped file.
  void Logits(int i, int j, double* out) const;
  const NpyArray& logits_array() const { return logits_; }

  // (Re)computes every logits feature in one pass over the dump, with per-exit temperatures
  // (empty = all 1). Throws InputError on NaN or Inf logits.
  void ComputeFeatures(const std::vector<double>& temperatures = {});

  // True when the last ComputeFeatures came from the feature cache (no pass over the logits).
  bool features_from_cache = false;

  // Internal: set by the loader.
  std::string cache_dir_;                  // "" = not cached
  std::vector<std::string> cache_inputs_;  // the files the features depend on
  NpyArray logits_;
  Layout layout_ = Layout::kNKC;
  std::array<ScoreMatrix, kNumMeasures> scores_;
};

struct Dump {
  std::string dir;
  DumpMode mode = DumpMode::kLogits;
  int k = 0, c = 0;
  SplitData fit;
  std::optional<SplitData> eval;
  bool has_eval() const { return eval.has_value(); }
};

// Loads and validates a dump directory (one file set per split), computes features.
// Throws InputError naming the file and the problem.
Dump LoadDump(const std::string& dir, const DumpOptions& options = {});

// Loads one split from a directory; nullopt when none of its files exist.
std::optional<SplitData> LoadSplit(const std::string& dir, const std::string& split,
                                   const DumpOptions& options);

// The same loading and checks for arrays already in memory (NpyArray::View over a caller's
// buffer, as the Python module does): the messages name each array's source().
SplitData SplitFromLogits(NpyArray logits, NpyArray labels, const std::string& split,
                          const DumpOptions& options);
SplitData SplitFromScores(NpyArray confidence, NpyArray correct, const std::string& split,
                          const DumpOptions& options);
// A dump of given splits, with LoadDump's checks that the eval split agrees with the fit split.
Dump DumpFromSplits(const std::string& dir, SplitData fit, std::optional<SplitData> eval);

}  // namespace exitplan
