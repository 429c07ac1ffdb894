#include "profiles/features.hpp"

#include <sys/mman.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

#if defined(__x86_64__)
// The usual scores dump (float32 confidences, one byte per correctness value, K a multiple of 8)
// by tiles transposed in SSE2 registers: 4 exits x 4 samples of floats, converted to double and
// stored with non-temporal stores (the matrix is written once and is far larger than the cache:
// no read of its lines before they are written), and 8 x 8 bytes. Same values as ScoresBlock;
// false on a NaN confidence or a correctness byte not 0/1.
bool ScoresBlockF32Tiles(const float* conf, const std::uint8_t* corr, std::size_t n, int k,
                         std::size_t begin, std::size_t end, double* out, std::uint8_t* right) {
  const std::size_t kk = static_cast<std::size_t>(k);
  const bool stream = reinterpret_cast<std::uintptr_t>(out) % 16 == 0;
  // The 4 samples' columns are one contiguous run of 4 K doubles: built in a buffer in the cache,
  // then streamed out in order (whole lines, a few write-combining buffers at a time).
  std::vector<double> run(4 * kk);  // 16-byte aligned (operator new)
  __m128 nan = _mm_setzero_ps();
  std::size_t i = begin;
  for (; i + 4 <= end; i += 4) {
    for (std::size_t j = 0; j < kk; j += 4) {
      __m128 r0 = _mm_loadu_ps(conf + j * n + i), r1 = _mm_loadu_ps(conf + (j + 1) * n + i);
      __m128 r2 = _mm_loadu_ps(conf + (j + 2) * n + i), r3 = _mm_loadu_ps(conf + (j + 3) * n + i);
      nan = _mm_or_ps(nan, _mm_or_ps(_mm_cmpunord_ps(r0, r1), _mm_cmpunord_ps(r2, r3)));
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);  // r0: sample i at exits j .. j + 3, ...
      const __m128 cols[4] = {r0, r1, r2, r3};
      for (std::size_t c = 0; c < 4; ++c) {
        double* o = run.data() + c * kk + j;
        _mm_store_pd(o, _mm_cvtps_pd(cols[c]));
        _mm_store_pd(o + 2, _mm_cvtps_pd(_mm_movehl_ps(cols[c], cols[c])));
      }
    }
    double* o = out + i * kk;
    for (std::size_t h = 0; h < 4 * kk; h += 2) {
      const __m128d v = _mm_load_pd(run.data() + h);
      if (stream) {
        _mm_stream_pd(o + h, v);
      } else {
        _mm_storeu_pd(o + h, v);
      }
    }
  }
  if (stream) _mm_sfence();
  bool ok = _mm_movemask_ps(nan) == 0;
  for (; i < end; ++i) {  // the last samples, fewer than 4
    for (std::size_t j = 0; j < kk; ++j) {
      const double v = conf[j * n + i];
      ok &= v == v;
      out[i * kk + j] = v;
    }
  }
  __m128i bits = _mm_setzero_si128();
  i = begin;
  for (; i + 8 <= end; i += 8) {
    for (std::size_t j = 0; j < kk; j += 8) {
      __m128i a[8];
      for (int r = 0; r < 8; ++r) {
        a[r] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(corr + (j + r) * n + i));
        bits = _mm_or_si128(bits, a[r]);
      }
      const __m128i s0 = _mm_unpacklo_epi8(a[0], a[1]), s1 = _mm_unpacklo_epi8(a[2], a[3]);
      const __m128i s2 = _mm_unpacklo_epi8(a[4], a[5]), s3 = _mm_unpacklo_epi8(a[6], a[7]);
      const __m128i u0 = _mm_unpacklo_epi16(s0, s1), u1 = _mm_unpackhi_epi16(s0, s1);
      const __m128i u2 = _mm_unpacklo_epi16(s2, s3), u3 = _mm_unpackhi_epi16(s2, s3);
      // Two samples' 8 exits in each.
      const __m128i v[4] = {_mm_unpacklo_epi32(u0, u2), _mm_unpackhi_epi32(u0, u2),
                            _mm_unpacklo_epi32(u1, u3), _mm_unpackhi_epi32(u1, u3)};
      std::uint8_t* o = right + i * kk + j;
      for (int c = 0; c < 4; ++c) {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(o + 2 * c * kk), v[c]);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(o + (2 * c + 1) * kk),
                         _mm_unpackhi_epi64(v[c], v[c]));
      }
    }
  }
  // Every byte 0 or 1: no bit above the lowest set in any. Otherwise the whole block again, byte
  // by byte (a bool array's other nonzero bytes are true).
  const __m128i high = _mm_and_si128(bits, _mm_set1_epi8(static_cast<char>(0xfe)));
  if (_mm_movemask_epi8(_mm_cmpeq_epi8(high, _mm_setzero_si128())) != 0xffff) {
    ok = false;
    i = begin;
  }
  for (; i < end; ++i) {
    for (std::size_t j = 0; j < kk; ++j) {
      const std::uint8_t c = corr[j * n + i];
      ok &= c <= 1;
      right[i * kk + j] = c != 0;
    }
  }
  return ok;
}
#endif

}  // namespace

bool LoadScoreFeatures(const NpyArray& conf, const NpyArray& corr, SplitData& s) {
  const int k = s.k;
  const std::size_t n = static_cast<std::size_t>(s.n);
  ScoreMatrix& sc = s.scores_[static_cast<int>(Measure::kConfidence)];
  sc.resize(k, s.n);
  AdviseHugePages(sc.data(), sc.size() * sizeof(double));
  s.correct.resize(k, s.n);
  AdviseHugePages(s.correct.data(), s.correct.size());
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
#if defined(__x86_64__)
    if (conf_f4 && corr_u8 && k % 8 == 0) {
      return ScoresBlockF32Tiles(reinterpret_cast<const float*>(conf.raw_data()), corr.raw_data(),
                                 n, k, begin, end, out, right);
    }
#endif
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
