#include "profiles/features.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "profiles/error.hpp"
#include "profiles/parallel.hpp"
#include "profiles/softmax_kernel.hpp"

namespace exitplan {

int FeatureThreads() {
  if (const char* env = std::getenv("EXITPLAN_THREADS")) {
    const int v = std::atoi(env);
    if (v > 0) return std::min(v, 256);
  }
  return ResolveJobs(0);
}

bool ParallelBlocks(std::size_t n, std::size_t block, std::size_t work,
                    const std::function<bool(std::size_t, std::size_t)>& body) {
  const std::size_t blocks = (n + block - 1) / block;
  // Below ~4 M elements a thread costs more to start than it saves.
  constexpr std::size_t kMinWorkPerThread = std::size_t{1} << 22;
  const std::size_t by_work = std::max<std::size_t>(1, work / kMinWorkPerThread);
  const int threads = static_cast<int>(
      std::min<std::size_t>({static_cast<std::size_t>(FeatureThreads()), blocks, by_work}));
  return ParallelFor(blocks, std::max(1, threads), [&](std::size_t b) {
    const std::size_t begin = b * block, end = std::min(n, begin + block);
    return body(begin, end);
  });
}

void ComputeLogitFeatures(SplitData& s) {
  const int n = s.n, k = s.k, c = s.c;
  const NpyArray& a = s.logits_;
  for (int m = 0; m < kNumMeasures; ++m) {
    if (static_cast<Measure>(m) != Measure::kConfidence) s.scores_[m].resize(k, n);
  }
  s.predicted.resize(k, n);
  s.correct.resize(k, n);
  s.agrees_final.resize(k, n);
  double* max_prob = s.scores_[static_cast<int>(Measure::kMaxProb)].data();
  double* entropy = s.scores_[static_cast<int>(Measure::kEntropy)].data();
  double* margin = s.scores_[static_cast<int>(Measure::kMargin)].data();
  double* patience = s.scores_[static_cast<int>(Measure::kPatience)].data();
  double* vote = s.scores_[static_cast<int>(Measure::kVote)].data();
  std::int32_t* predicted = s.predicted.data();
  std::uint8_t* correct = s.correct.data();
  std::uint8_t* agrees = s.agrees_final.data();

  // Read the mapped bytes directly when they are C-order in the host's byte order; otherwise
  // convert each row to double first (NpyArray::CopyTo) and run the double kernel on it.
  const bool direct = !a.fortran_order() && a.native_byte_order();
  softmax::Elem elem = softmax::Elem::kF64;
  if (direct && a.item_size() == 2) elem = softmax::Elem::kF16;
  if (direct && a.item_size() == 4) elem = softmax::Elem::kF32;
  const softmax::RowKernel kernel = softmax::PickRowKernel(elem);
  const std::size_t item = direct ? a.item_size() : 8;
  const unsigned char* base = a.raw_data();
  const double log_c = std::log(static_cast<double>(c));
  std::vector<double> inv_t(static_cast<std::size_t>(k));
  for (int j = 0; j < k; ++j) inv_t[j] = 1.0 / s.temperatures[j];
  const std::size_t cc = static_cast<std::size_t>(c);
  const bool nkc = s.layout_ == Layout::kNKC;

  std::mutex failure_mutex;
  std::size_t first_failure = static_cast<std::size_t>(-1);  // i * k + j of the first bad row
  auto body = [&](std::size_t begin, std::size_t end) {
    std::vector<double> y(static_cast<std::size_t>(softmax::PaddedClasses(c)));
    std::vector<double> row(direct ? 0 : cc);
    std::vector<int> votes(cc, 0);
    for (std::size_t i = begin; i < end; ++i) {
      int best_votes = 0;
      const std::size_t col = i * static_cast<std::size_t>(k);
      for (int j = 0; j < k; ++j) {
        const std::size_t first =
            nkc ? (i * k + j) * cc : (static_cast<std::size_t>(j) * n + i) * cc;
        const void* src = base + first * item;
        if (!direct) {
          a.CopyTo(first, cc, row.data());
          src = row.data();
        }
        ExitSoftmax sm;
        if (!kernel(src, c, inv_t[j], log_c, y.data(), nullptr, &sm)) {
          std::lock_guard<std::mutex> lock(failure_mutex);
          first_failure = std::min(first_failure, col + j);
          for (int jj = 0; jj < j; ++jj) votes[predicted[col + jj]] = 0;
          return false;
        }
        const std::size_t at = col + j;
        const int arg = sm.arg;
        max_prob[at] = sm.max_prob;
        entropy[at] = sm.entropy;
        margin[at] = sm.margin;
        predicted[at] = arg;
        correct[at] = arg == s.labels[i] ? 1 : 0;
        patience[at] = (j > 0 && predicted[at - 1] == arg) ? patience[at - 1] + 1.0 : 0.0;
        best_votes = std::max(best_votes, ++votes[arg]);
        vote[at] = static_cast<double>(best_votes) / (j + 1);
      }
      const int last = predicted[col + k - 1];
      for (int j = 0; j < k; ++j) {
        agrees[col + j] = predicted[col + j] == last;
        votes[predicted[col + j]] = 0;
      }
    }
    return true;
  };
  const std::size_t rows = static_cast<std::size_t>(n) * k;
  const std::size_t block = std::max<std::size_t>(1, (std::size_t{1} << 18) / (cc * k));
  if (!ParallelBlocks(static_cast<std::size_t>(n), block, rows * cc, body)) {
    // Redo the first bad row through the reference path, which names the class.
    const int i = static_cast<int>(first_failure / k), j = static_cast<int>(first_failure % k);
    std::vector<double> z(cc);
    s.Logits(i, j, z.data());
    ComputeExitSoftmax(z.data(), c, inv_t[j], log_c, a.source(), i, j);
    throw InputError(a.source(), "non-finite logit at sample " + std::to_string(i) + ", exit " +
                                     std::to_string(j + 1));
  }
}

namespace {

// Asks for transparent huge pages on a fresh allocation before its first touch: a 1 GB feature
// matrix then faults in 512 times instead of 262,144 (most of the scores pass's time otherwise).
void AdviseHugePages(void* p, std::size_t bytes) {
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const std::uintptr_t begin = (reinterpret_cast<std::uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

// One block of samples [begin, end) of a scores dump: K rows of values read, the block's K x
// (end - begin) columns written. Conf / Corr: the stored element types (double / double mean
// "through NpyArray::At"). Returns false on a NaN confidence or a correctness value not 0/1.
template <typename Conf, typename Corr>
bool ScoresBlock(const NpyArray& conf, const NpyArray& corr, std::size_t n, int k,
                 std::size_t begin, std::size_t end, bool conf_at, bool corr_at, double* out,
                 std::uint8_t* right) {
  bool ok = true;
  for (int j = 0; j < k; ++j) {
    const std::size_t row = static_cast<std::size_t>(j) * n;
    const Conf* cv = reinterpret_cast<const Conf*>(conf.raw_data()) + row;
    const Corr* rv = reinterpret_cast<const Corr*>(corr.raw_data()) + row;
    for (std::size_t i = begin; i < end; ++i) {
      const double v = conf_at ? conf.At(row + i) : static_cast<double>(cv[i]);
      const double c = corr_at ? corr.At(row + i) : static_cast<double>(rv[i]);
      ok &= (v == v) & ((c == 0.0) | (c == 1.0));
      out[i * k + j] = v;
      right[i * k + j] = c != 0.0;
    }
  }
  return ok;
}

}  // namespace

bool LoadScoreFeatures(const NpyArray& conf, const NpyArray& corr, SplitData& s) {
  const int k = s.k;
  const std::size_t n = static_cast<std::size_t>(s.n);
  ScoreMatrix& sc = s.scores_[static_cast<int>(Measure::kConfidence)];
  sc.resize(k, s.n);
  AdviseHugePages(sc.data(), sc.size() * sizeof(double));
  s.correct.resize(k, s.n);
  const bool conf_native = conf.is_float() && !conf.fortran_order() && conf.native_byte_order();
  const bool conf_f4 = conf_native && conf.item_size() == 4;
  const bool conf_f8 = conf_native && conf.item_size() == 8;
  const bool corr_u8 = corr.item_size() == 1 && !corr.fortran_order() &&
                       (corr.kind() == NpyKind::kBool || corr.kind() == NpyKind::kUnsigned);
  double* out = sc.data();
  std::uint8_t* right = s.correct.data();
  // Blocks of samples: K rows of `block` values read, `block` columns of K written (both cached).
  const std::size_t block = 512;
  auto body = [&](std::size_t begin, std::size_t end) {
    if (conf_f4 && corr_u8) {
      return ScoresBlock<float, std::uint8_t>(conf, corr, n, k, begin, end, false, false, out,
                                              right);
    }
    if (conf_f8 && corr_u8) {
      return ScoresBlock<double, std::uint8_t>(conf, corr, n, k, begin, end, false, false, out,
                                               right);
    }
    if (conf_f4) {
      return ScoresBlock<float, std::uint8_t>(conf, corr, n, k, begin, end, false, true, out,
                                              right);
    }
    return ScoresBlock<double, std::uint8_t>(conf, corr, n, k, begin, end, !conf_f8, !corr_u8, out,
                                             right);
  };
  return ParallelBlocks(n, block, n * k, body);
}

}  // namespace exitplan
