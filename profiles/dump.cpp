#include "profiles/dump.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "profiles/error.hpp"
#include "profiles/feature_cache.hpp"
#include "profiles/features.hpp"
#include "profiles/memory.hpp"
#include "profiles/softmax.hpp"

namespace exitplan {
namespace fs = std::filesystem;

std::string ToString(DumpMode mode) { return mode == DumpMode::kLogits ? "logits" : "scores"; }

Layout LayoutFromString(const std::string& text, const std::string& what) {
  if (text == "nk" || text == "nkc") return Layout::kNKC;
  if (text == "kn" || text == "knc") return Layout::kKNC;
  throw InputError(what,
                   "unknown layout '" + text + "' (expected nk for [N,K,C] or kn for [K,N,C])");
}

const ScoreMatrix& SplitData::Scores(Measure m) const {
  if (!has(m)) {
    if (mode == DumpMode::kScores) {
      throw InputError(source, "measure " + ToString(m) +
                                   " needs logits, but this is a scores-mode dump (it only has "
                                   "'confidence')");
    }
    throw InputError(source,
                     "measure confidence is only in scores-mode dumps; use max_prob, "
                     "entropy, margin, patience or vote");
  }
  return scores_[static_cast<int>(m)];
}

ScoreOrder SplitData::Order(Measure m) const {
  return m == Measure::kConfidence ? confidence_order : ScoreOrder::kDescending;
}

const CorrectMatrix& SplitData::Correct(Target t) const {
  if (t == Target::kLabels) return correct;
  if (agrees_final.size() == 0) {
    throw InputError(source,
                     "target agreement needs logits (exit K's predictions), but this is a "
                     "scores-mode dump");
  }
  return agrees_final;
}

void SplitData::Logits(int i, int j, double* out) const {
  const std::size_t first =
      layout_ == Layout::kNKC ? (static_cast<std::size_t>(i) * k + j) * static_cast<std::size_t>(c)
                              : (static_cast<std::size_t>(j) * n + i) * static_cast<std::size_t>(c);
  logits_.CopyTo(first, static_cast<std::size_t>(c), out);
}

void SplitData::ComputeFeatures(const std::vector<double>& temps) {
  if (mode != DumpMode::kLogits) return;
  temperatures = temps.empty() ? std::vector<double>(k, 1.0) : temps;
  if (static_cast<int>(temperatures.size()) != k) {
    throw InputError("temperatures", "expected " + std::to_string(k) + " values, got " +
                                         std::to_string(temperatures.size()));
  }
  features_from_cache = false;
  const std::string key = FeatureCacheKey(*this);
  if (!key.empty() && ReadCachedFeatures(*this, key)) {
    features_from_cache = true;
    return;
  }
  ComputeLogitFeatures(*this);
  if (!key.empty()) WriteCachedFeatures(*this, key);
}

namespace {

// True when something is at p, even a dangling link or an entry that cannot be examined: the
// reader then says what is wrong with it.
bool Exists(const fs::path& p) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(p, ec);
  return st.type() != fs::file_type::not_found &&
         (ec ? ec != std::errc::no_such_file_or_directory : st.type() != fs::file_type::none);
}

// Refuses, before allocating, a split whose K x N per-exit matrices do not fit in memory.
void CheckFeatureMemory(const std::string& source, std::size_t k, std::size_t n,
                        std::uint64_t bytes_per_sample_exit) {
  CheckMemory(source, SaturatingMul(SaturatingMul(k, n), bytes_per_sample_exit),
              "the per-exit features of " + std::to_string(n) + " samples x " + std::to_string(k) +
                  " exits");
}

// Counts of exits, samples and classes are ints throughout: a dimension of 2^31 or more is
// refused before anything is sized from it (the memory check does not cover the classes).
int DimOf(const NpyArray& a, std::size_t v, const char* what) {
  if (v > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw InputError(a.source(), std::string(what) + " = " + std::to_string(v) + " in " +
                                     a.Describe() +
                                     ": at most 2147483647 (2^31 - 1) are supported");
  }
  return static_cast<int>(v);
}

void CheckZeroOne(const NpyArray& a) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double v = a.At(i);
    if (v != 0.0 && v != 1.0) {
      throw InputError(a.source(), "expected 0/1 correctness values, found " + FormatDouble(v) +
                                       " at flat index " + std::to_string(i));
    }
  }
}

SplitData ScoresFromArrays(NpyArray conf, NpyArray corr, const std::string& split,
                           const DumpOptions& options, const std::string& conf_name) {
  if (conf.ndim() != 2) {
    throw InputError(conf.source(), "expected a [K, N] array, found " + conf.Describe());
  }
  if (corr.shape() != conf.shape()) {
    throw InputError(corr.source(), "expected shape [" + std::to_string(conf.shape()[0]) + ", " +
                                        std::to_string(conf.shape()[1]) + "] like " + conf_name +
                                        ", found " + corr.Describe());
  }
  const int k = DimOf(conf, conf.shape()[0], "K (exits)");
  const int n = DimOf(conf, conf.shape()[1], "N (samples)");
  CheckFeatureMemory(conf.source(), conf.shape()[0], conf.shape()[1],
                     sizeof(double) + sizeof(std::uint8_t));
  SplitData s;
  s.name = split;
  s.source = conf.source();
  s.mode = DumpMode::kScores;
  s.k = k;
  s.n = n;
  if (s.k < 1 || s.n < 1) throw InputError(conf.source(), "empty array " + conf.Describe());
  s.confidence_order = options.score_order;
  if (!LoadScoreFeatures(conf, corr, s)) {
    // Name the first bad value, in the order the arrays are stored.
    CheckZeroOne(corr);
    for (std::size_t idx = 0; idx < conf.size(); ++idx) {
      if (std::isnan(conf.At(idx))) {
        throw InputError(conf.source(), "NaN confidence at exit " + std::to_string(idx / s.n + 1) +
                                            ", sample " + std::to_string(idx % s.n));
      }
    }
  }
  s.temperatures.assign(s.k, 1.0);
  return s;
}

SplitData LoadScores(const fs::path& conf_path, const fs::path& corr_path, const std::string& split,
                     const DumpOptions& options) {
  if (!Exists(corr_path)) {
    throw InputError(corr_path.string(), "missing (scores-mode dumps need both " +
                                             conf_path.filename().string() + " and " +
                                             corr_path.filename().string() + ")");
  }
  // Read in this order (function arguments have none): a bad confidence file is named first.
  NpyArray conf = ReadNpy(conf_path.string());
  NpyArray corr = ReadNpy(corr_path.string());
  return ScoresFromArrays(std::move(conf), std::move(corr), split, options,
                          conf_path.filename().string());
}

SplitData LoadLogits(NpyArray logits, NpyArray labels, const std::string& split,
                     const DumpOptions& options, std::vector<std::string> inputs) {
  if (!logits.is_float()) {
    throw InputError(logits.source(), "expected float16/32/64 logits, found " + logits.Describe());
  }
  if (logits.ndim() != 3) {
    throw InputError(logits.source(),
                     std::string("expected a 3-d array ") +
                         (options.layout == Layout::kNKC ? "[N, K, C]" : "[K, N, C]") + ", found " +
                         logits.Describe());
  }
  SplitData s;
  s.name = split;
  s.source = logits.source();
  s.mode = DumpMode::kLogits;
  const auto& sh = logits.shape();
  const bool nk = options.layout == Layout::kNKC;
  const int n = DimOf(logits, nk ? sh[0] : sh[1], "N (samples)");
  const int k = DimOf(logits, nk ? sh[1] : sh[0], "K (exits)");
  const int c = DimOf(logits, sh[2], "C (classes)");
  // Five score matrices (double), predictions (int32), correct and agrees_final (bytes).
  CheckFeatureMemory(logits.source(), nk ? sh[1] : sh[0], nk ? sh[0] : sh[1],
                     5 * sizeof(double) + sizeof(std::int32_t) + 2);
  s.n = n;
  s.k = k;
  s.c = c;
  if (s.n < 1 || s.k < 1 || s.c < 1) {
    throw InputError(logits.source(), "empty array " + logits.Describe());
  }
  if (labels.kind() == NpyKind::kFloat) {
    throw InputError(labels.source(), "expected integer labels, found " + labels.Describe());
  }
  if (labels.ndim() != 1 || labels.shape()[0] != static_cast<std::size_t>(s.n)) {
    std::string hint;
    if (labels.ndim() == 1 &&
        labels.shape()[0] == (options.layout == Layout::kNKC ? sh[1] : sh[0])) {
      hint = options.layout == Layout::kNKC
                 ? "; the logits look like [K, N, C]: give --layout kn (in a sweep: layout: kn)"
                 : "; the logits look like [N, K, C]: give --layout nk (the default)";
    }
    throw InputError(labels.source(),
                     "expected labels of shape [" + std::to_string(s.n) + "] (N of the logits " +
                         logits.Describe() + " as " +
                         (options.layout == Layout::kNKC ? "[N, K, C]" : "[K, N, C]") +
                         "), found " + labels.Describe() + hint);
  }
  s.labels.resize(s.n);
  for (int i = 0; i < s.n; ++i) {
    const double v = labels.At(i);
    if (v < 0 || v >= s.c) {
      throw InputError(labels.source(), "label " + FormatDouble(v) + " at sample " +
                                            std::to_string(i) + " is out of range [0, " +
                                            std::to_string(s.c) + ")");
    }
    s.labels[i] = static_cast<std::int32_t>(v);
  }
  // Cached only when read from files (their content hashes are the key).
  if (!options.cache_dir.empty() && !inputs.empty() &&
      logits.size() * logits.item_size() >= options.cache_min_bytes) {
    s.cache_dir_ = options.cache_dir;
    s.cache_inputs_ = std::move(inputs);
  }
  s.logits_ = std::move(logits);
  s.layout_ = options.layout;
  s.ComputeFeatures();
  return s;
}

void CheckEvalSplit(const Dump& dump) {
  if (!dump.eval) return;
  const SplitData& e = *dump.eval;
  if (e.mode != dump.mode) {
    throw InputError(e.source, "split '" + e.name + "' is in " + ToString(e.mode) +
                                   " mode but split '" + dump.fit.name + "' is in " +
                                   ToString(dump.mode) + " mode");
  }
  if (e.k != dump.k) {
    throw InputError(e.source, "K = " + std::to_string(e.k) + " exits, but split '" +
                                   dump.fit.name + "' has K = " + std::to_string(dump.k));
  }
  if (e.c != dump.c) {
    throw InputError(e.source, "C = " + std::to_string(e.c) + " classes, but split '" +
                                   dump.fit.name + "' has C = " + std::to_string(dump.c));
  }
}

}  // namespace

std::optional<SplitData> LoadSplit(const std::string& dir, const std::string& split,
                                   const DumpOptions& options) {
  const fs::path d(dir);
  const fs::path logits = d / (split + "_logits.npy");
  const fs::path labels = d / (split + "_labels.npy");
  const fs::path npz = d / (split + ".npz");
  const fs::path conf = d / (split + "_confidence.npy");
  const fs::path corr = d / (split + "_correct.npy");
  if (Exists(logits)) {
    if (!Exists(labels)) {
      throw InputError(labels.string(), "missing (logits-mode dumps need " +
                                            logits.filename().string() + " and " +
                                            labels.filename().string() + ")");
    }
    return LoadLogits(ReadNpy(logits.string()), ReadNpy(labels.string()), split, options,
                      {logits.string(), labels.string()});
  }
  if (Exists(npz)) {
    return LoadLogits(ReadNpzMember(npz.string(), "logits"), ReadNpzMember(npz.string(), "labels"),
                      split, options, {npz.string()});
  }
  if (Exists(conf)) return LoadScores(conf, corr, split, options);
  if (Exists(corr)) {
    throw InputError(conf.string(), "missing (scores-mode dumps need " + conf.filename().string() +
                                        " and " + corr.filename().string() + ")");
  }
  return std::nullopt;
}

Dump LoadDump(const std::string& dir, const DumpOptions& options) {
  if (!fs::is_directory(dir)) {
    throw InputError(dir, fs::exists(dir) ? "not a directory (--dump takes the dump's folder)"
                                          : "no such dump directory");
  }
  Dump dump;
  dump.dir = dir;
  auto fit = LoadSplit(dir, options.fit_split, options);
  if (!fit) {
    throw InputError(dir, "no fit split '" + options.fit_split + "': expected " +
                              options.fit_split + "_logits.npy + " + options.fit_split +
                              "_labels.npy, " + options.fit_split + ".npz, or " +
                              options.fit_split + "_confidence.npy + " + options.fit_split +
                              "_correct.npy");
  }
  dump.fit = std::move(*fit);
  dump.mode = dump.fit.mode;
  dump.k = dump.fit.k;
  dump.c = dump.fit.c;
  if (options.eval_split != options.fit_split) {
    dump.eval = LoadSplit(dir, options.eval_split, options);
  }
  if (!dump.eval && options.require_eval) {
    throw InputError(dir, "no eval split '" + options.eval_split + "'");
  }
  CheckEvalSplit(dump);
  return dump;
}

SplitData SplitFromLogits(NpyArray logits, NpyArray labels, const std::string& split,
                          const DumpOptions& options) {
  return LoadLogits(std::move(logits), std::move(labels), split, options, {});  // not cached
}

SplitData SplitFromScores(NpyArray confidence, NpyArray correct, const std::string& split,
                          const DumpOptions& options) {
  const std::string name = confidence.source();
  return ScoresFromArrays(std::move(confidence), std::move(correct), split, options, name);
}

Dump DumpFromSplits(const std::string& dir, SplitData fit, std::optional<SplitData> eval) {
  Dump dump;
  dump.dir = dir;
  dump.fit = std::move(fit);
  dump.mode = dump.fit.mode;
  dump.k = dump.fit.k;
  dump.c = dump.fit.c;
  dump.eval = std::move(eval);
  CheckEvalSplit(dump);
  return dump;
}

}  // namespace exitplan
