#include "optim/exact.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <type_traits>

#include "optim/geometric.hpp"
#include "optim/internal/cascade.hpp"
#include "optim/ippp.hpp"
#include "optim/single.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace exitplan {
namespace {

// A state's rank in the constrained problem: feasible beats infeasible; among feasible, more
// correct then cheaper (the search) or costlier (the final polish, `costlier`: of equally
// accurate states within budget, the one that sends more samples on, which on unseen data is
// the more accurate while the budget still holds); among infeasible, cheaper.
struct Value {
  bool feasible = false;
  std::int64_t correct = 0;
  double cost = 0.0;  // mean cost, computed exactly as the evaluator does
  bool Better(const Value& o, bool costlier = false) const {
    if (feasible != o.feasible) return feasible;
    if (feasible && correct != o.correct) return correct > o.correct;
    if (feasible && costlier) return cost > o.cost;
    return cost < o.cost;
  }
};

constexpr std::uint32_t kSampleMask = (std::uint32_t{1} << 30) - 1;

// The layout of an exit's order (ExactSolver::Layout): the samples are split into segments of
// kSegment consecutive numbers and the positions into chunks of kChunk; an entry is the sample's
// number within its segment (16 bits) in one array and its position within its chunk with the
// order's two bits (16 bits) in another.
constexpr int kSegmentBits = 16, kChunkBits = 12;
constexpr std::uint32_t kSegment = std::uint32_t{1} << kSegmentBits;
constexpr std::uint32_t kChunk = std::uint32_t{1} << kChunkBits;
constexpr std::uint32_t kFlags = std::uint32_t{3} << 30;

// A sample's code for an update of q (ExactSolver::Update) from its summary v.
inline std::uint8_t CodeOf(std::uint32_t v, std::uint32_t uq) {
  const std::uint32_t f = v & 127;
  return static_cast<std::uint8_t>(f < uq ? 0 : f == uq ? v >> 8 : v);
}

#if defined(__x86_64__)
// (GCC 12's intrinsics headers trip -Wuninitialized in a function with a target attribute.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// CodeOf for n layout entries of one segment, 16 at a time (the last ones masked): one gather
// of the summaries (sm: the segment's first) and one byte store.
__attribute__((target("avx512f,avx512bw,avx512vl"))) void StageAvx512(const std::uint16_t* idx16,
                                                                      const std::uint16_t* sm,
                                                                      std::size_t n,
                                                                      std::uint32_t uq,
                                                                      std::uint8_t* stage) {
  const __m512i m7 = _mm512_set1_epi32(127), mffff = _mm512_set1_epi32(0xffff);
  const __m512i vq = _mm512_set1_epi32(static_cast<int>(uq));
  for (std::size_t t = 0; t < n; t += 16) {
    const __mmask16 live = n - t >= 16 ? 0xffff : static_cast<__mmask16>((1u << (n - t)) - 1);
    const __m512i idx = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(live, idx16 + t));
    const __m512i v = _mm512_and_si512(
        _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, idx, sm, 2), mffff);
    const __m512i f = _mm512_and_si512(v, m7);
    const __mmask16 is_q = _mm512_cmpeq_epi32_mask(f, vq);
    const __mmask16 reach = _mm512_cmpge_epu32_mask(f, vq);
    const __m512i dn =
        _mm512_maskz_mov_epi32(reach, _mm512_mask_blend_epi32(is_q, v, _mm512_srli_epi32(v, 8)));
    _mm_mask_storeu_epi8(stage + t, live, _mm512_cvtepi32_epi8(dn));
  }
}
// The same for a layout with one segment, whose entries are in the order's own sequence (see
// Layout): into buf, 32 bits per entry, the order's two bits | the code.
__attribute__((target("avx512f"))) void FillAvx512(const std::uint16_t* idx16,
                                                   const std::uint16_t* pf, const std::uint16_t* sm,
                                                   std::size_t n, std::uint32_t uq,
                                                   std::uint32_t* buf) {
  const __m512i fl = _mm512_set1_epi32(0xc000);
  const __m512i m7 = _mm512_set1_epi32(127), mff = _mm512_set1_epi32(0xff);
  const __m512i mffff = _mm512_set1_epi32(0xffff);
  const __m512i vq = _mm512_set1_epi32(static_cast<int>(uq));
  for (std::size_t t = 0; t < n; t += 16) {
    const __m512i idx =
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx16 + t)));
    const __m512i e =
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pf + t)));
    const __m512i v = _mm512_and_si512(_mm512_i32gather_epi32(idx, sm, 2), mffff);
    const __m512i f = _mm512_and_si512(v, m7);
    const __mmask16 is_q = _mm512_cmpeq_epi32_mask(f, vq);
    const __mmask16 reach = _mm512_cmpge_epu32_mask(f, vq);
    const __m512i dn = _mm512_maskz_mov_epi32(
        reach, _mm512_and_si512(_mm512_mask_blend_epi32(is_q, v, _mm512_srli_epi32(v, 8)), mff));
    _mm512_storeu_si512(buf + t,
                        _mm512_or_si512(_mm512_slli_epi32(_mm512_and_si512(e, fl), 16), dn));
  }
}
// The same straight from the order's entries (ExactSolver's direct storage, one 32-bit entry per
// position).
__attribute__((target("avx512f"))) void FillDirectAvx512(const std::uint32_t* ord,
                                                         const std::uint16_t* sm, std::size_t n,
                                                         std::uint32_t uq, std::uint32_t* buf) {
  const __m512i lm = _mm512_set1_epi32(static_cast<int>(kSampleMask));
  const __m512i fl = _mm512_set1_epi32(static_cast<int>(kFlags));
  const __m512i m7 = _mm512_set1_epi32(127), mff = _mm512_set1_epi32(0xff);
  const __m512i mffff = _mm512_set1_epi32(0xffff);
  const __m512i vq = _mm512_set1_epi32(static_cast<int>(uq));
  for (std::size_t t = 0; t < n; t += 16) {
    const __m512i e = _mm512_loadu_si512(ord + t);
    const __m512i v =
        _mm512_and_si512(_mm512_i32gather_epi32(_mm512_and_si512(e, lm), sm, 2), mffff);
    const __m512i f = _mm512_and_si512(v, m7);
    const __mmask16 is_q = _mm512_cmpeq_epi32_mask(f, vq);
    const __mmask16 reach = _mm512_cmpge_epu32_mask(f, vq);
    const __m512i dn = _mm512_maskz_mov_epi32(
        reach, _mm512_and_si512(_mm512_mask_blend_epi32(is_q, v, _mm512_srli_epi32(v, 8)), mff));
    _mm512_storeu_si512(buf + t, _mm512_or_si512(_mm512_and_si512(e, fl), dn));
  }
}
// The put-back of ExactSolver::Update for n entries (n a multiple of 16), 16 at a time: buf at
// each entry's position = its two bits | its code, by one scatter.
__attribute__((target("avx512f"))) void PutAvx512(const std::uint16_t* pf,
                                                  const std::uint8_t* stage, std::size_t n,
                                                  std::uint32_t* buf) {
  const __m512i fl = _mm512_set1_epi32(0xc000), pm = _mm512_set1_epi32(kChunk - 1);
  for (std::size_t t = 0; t < n; t += 16) {
    const __m512i e =
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pf + t)));
    const __m512i c =
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(stage + t)));
    const __m512i v = _mm512_or_si512(_mm512_slli_epi32(_mm512_and_si512(e, fl), 16), c);
    _mm512_i32scatter_epi32(buf, _mm512_and_si512(e, pm), v, 4);
  }
}

// Pass 1 of ExactSolver::Update (see there) over one chunk, for j in [lo, n), (n - lo) a
// multiple of 16, 16 entries at a time: buf[j] = the order's two bits | the code of the sample at
// position base + j. The run ends' cuts by a suffix minimum across lanes, the reaching samples'
// entries by compressed stores. Gives the scalar loop's entries exactly; `after` carries the cut
// after the run containing j = lo. Returns the new `out`.
__attribute__((target("avx512f"))) std::uint64_t* ReachAvx512(const std::uint32_t* buf, int n,
                                                              int lo, int base, std::uint64_t* out,
                                                              std::uint64_t* after) {
  const __m512i lane = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
  const __m512i inf = _mm512_set1_epi32(0x7fffffff);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i m7 = _mm512_set1_epi32(127);
  const __m512i mff = _mm512_set1_epi32(0xff);
  __m512i carry = _mm512_set1_epi32(static_cast<int>(*after));
  for (int j0 = n - 16; j0 >= lo; j0 -= 16) {
    const __m512i o = _mm512_loadu_si512(buf + j0);
    // after(j) = the least j' + 1 >= j + 1 with a run end at j' (else the carry).
    const __mmask16 ends = _mm512_cmplt_epi32_mask(o, zero);
    __m512i c =
        _mm512_mask_blend_epi32(ends, inf, _mm512_add_epi32(_mm512_set1_epi32(base + j0), lane));
    c = _mm512_min_epu32(c, _mm512_alignr_epi32(inf, c, 1));
    c = _mm512_min_epu32(c, _mm512_alignr_epi32(inf, c, 2));
    c = _mm512_min_epu32(c, _mm512_alignr_epi32(inf, c, 4));
    c = _mm512_min_epu32(c, _mm512_alignr_epi32(inf, c, 8));
    c = _mm512_min_epu32(c, carry);
    carry = _mm512_permutexvar_epi32(zero, c);
    const __m512i dn = _mm512_and_si512(o, mff);
    const __mmask16 reach = _mm512_test_epi32_mask(dn, dn);
    const __m512i dc =
        _mm512_sub_epi32(_mm512_add_epi32(_mm512_and_si512(_mm512_srli_epi32(o, 30), one), one),
                         _mm512_and_si512(_mm512_srli_epi32(dn, 7), one));
    const __m512i low = _mm512_or_si512(_mm512_slli_epi32(dc, 8), _mm512_and_si512(dn, m7));
    const __m512i e0 =
        _mm512_or_si512(_mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm512_castsi512_si256(c)), 16),
                        _mm512_cvtepu32_epi64(_mm512_castsi512_si256(low)));
    const __m512i e1 = _mm512_or_si512(
        _mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(c, 1)), 16),
        _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(low, 1)));
    const unsigned r = reach, r0 = r & 0xff, r1 = r >> 8;
    out -= __builtin_popcount(r);
    _mm512_mask_compressstoreu_epi64(out, static_cast<__mmask8>(r0), e0);
    _mm512_mask_compressstoreu_epi64(out + __builtin_popcount(r0), static_cast<__mmask8>(r1), e1);
  }
  *after = static_cast<std::uint32_t>(_mm_cvtsi128_si32(_mm512_castsi512_si128(carry)));
  return out;
}
// Over 16 packed reaching samples (Update's entries): the sum of their cost steps, the sum of
// the negative ones (so the running total over the block never falls below its start plus
// `neg`), the sum of their correct-count changes and how many of those are +1.
struct BlockBounds {
  double sum, neg;
  std::int64_t dc, plus;
};
__attribute__((target("avx512f"))) BlockBounds BlockAvx512(const std::uint64_t* rs,
                                                           const double* step) {
  const __m512i m8 = _mm512_set1_epi64(255), m3 = _mm512_set1_epi64(3);
  const __m512i two = _mm512_set1_epi64(2), zero = _mm512_setzero_si512();
  const __m512i a = _mm512_loadu_si512(rs), b = _mm512_loadu_si512(rs + 8);
  const __m512d sa = _mm512_i64gather_pd(_mm512_and_si512(a, m8), step, 8);
  const __m512d sb = _mm512_i64gather_pd(_mm512_and_si512(b, m8), step, 8);
  const __m512d z = _mm512_setzero_pd();
  const __m512i ca = _mm512_and_si512(_mm512_srli_epi64(a, 8), m3);
  const __m512i cb = _mm512_and_si512(_mm512_srli_epi64(b, 8), m3);
  const int plus = __builtin_popcount(_mm512_cmpeq_epi64_mask(ca, two)) +
                   __builtin_popcount(_mm512_cmpeq_epi64_mask(cb, two));
  const int minus = __builtin_popcount(_mm512_cmpeq_epi64_mask(ca, zero)) +
                    __builtin_popcount(_mm512_cmpeq_epi64_mask(cb, zero));
  BlockBounds r;
  r.sum = _mm512_reduce_add_pd(_mm512_add_pd(sa, sb));
  r.neg = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_min_pd(sa, z), _mm512_min_pd(sb, z)));
  r.dc = plus - minus;
  r.plus = plus;
  return r;
}
#pragma GCC diagnostic pop

const bool kHasAvx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512vl");
#else
constexpr bool kHasAvx512 = false;
void StageAvx512(const std::uint16_t*, const std::uint16_t*, std::size_t, std::uint32_t,
                 std::uint8_t*) {}
void FillAvx512(const std::uint16_t*, const std::uint16_t*, const std::uint16_t*, std::size_t,
                std::uint32_t, std::uint32_t*) {}
void PutAvx512(const std::uint16_t*, const std::uint8_t*, std::size_t, std::uint32_t*) {}
void FillDirectAvx512(const std::uint32_t*, const std::uint16_t*, std::size_t, std::uint32_t,
                      std::uint32_t*) {}
struct BlockBounds {
  double sum, neg;
  std::int64_t dc, plus;
};
BlockBounds BlockAvx512(const std::uint64_t*, const double*) { return {}; }
std::uint64_t* ReachAvx512(const std::uint32_t*, int, int, int, std::uint64_t* out,
                           std::uint64_t*) {
  return out;
}
#endif

// Up to how many samples ExactSolver keeps each order as it is: the summaries (2 bytes each,
// 1 MB at most) are then gathered in the order's sequence straight from the L2 cache, which in
// one loaded run at K = 32 was 0.87x the segmented storage's CPU time at N = 250k and the same
// at 1M.
constexpr int kDirectMax = 1 << 19;

class ExactSolverBase {
 public:
  virtual ~ExactSolverBase() = default;
  virtual void Reset(const ThresholdProblem& p) = 0;
  virtual void Release() = 0;
  virtual int m() const = 0;
  virtual std::vector<int> CutsOf(const std::vector<double>& t) const = 0;
  // geometric's and geometric-quantile's thresholds from the orders, as those methods compute
  // them; false when the orders are not float-keyed (then the caller runs the methods).
  virtual bool GeometricStart(const GeometricLaw& law, std::vector<double>* t) = 0;
  virtual bool QuantileStart(const GeometricQuantileLaw& law, std::vector<double>* t) const = 0;
  virtual std::vector<double> ThresholdsOf(const std::vector<int>& cut) const = 0;
  virtual void Assign(const std::vector<int>& cut) = 0;
  virtual Value Current() const = 0;
  virtual int Ascend(double lambda, int max_sweeps) = 0;
  virtual const std::vector<int>& cut() const = 0;
  // The constrained updates' tie rule among equally accurate states within budget: the cheaper
  // (false) or the costlier (true; Value::Better).
  bool costlier_ties = false;
};

// Per sample: the pass bits (bit q set when the sample passes kept exit q's threshold; the final
// exit always passes) and the correctness bits, in W 64-bit words each (W = 1 up to 64 kept exits,
// 2 up to 128). A sample stops at its lowest pass bit.
//
// The hot loop (Update) needs, for every sample in exit q's order, only a 16-bit summary of the
// sample's state: its stop exit f and the next passing exit after f, each with its correctness
// bit. It is kept up to date for the few samples whose pass bits change. Read in q's order the
// summaries would be read at random over all N (8 MB at N = 4M, beyond the 2 MB L2 cache), so
// each order is stored by segments of 2^16 sample numbers (Layout): an update turns the
// summaries into one byte per sample for q segment by segment (128 KB of summaries at a time,
// in cache), then puts the bytes back in q's order chunk by chunk (4096 positions, in cache).
// The sample numbers and the positions are in two 16-bit arrays, each read front to back by
// the pass that needs it. Up to kDirectMax samples the order is kept as it is instead (then
// the summaries stay in cache).
template <int W>
class ExactSolver final : public ExactSolverBase {
 public:
  // Set up for a problem. The storage is kept between problems (SolveExact keeps one solver per
  // thread): on the shared VM, first-touch page faults of fresh buffers cost as much as sorting.
  void Reset(const ThresholdProblem& p) override {
    p_ = &p;
    n_ = p.n();
    m_ = static_cast<int>(p.kept.size());
    segs_ = std::max(
        1, static_cast<int>((static_cast<std::uint32_t>(n_) + kSegment - 1) >> kSegmentBits));
    chunks_ =
        std::max(1, static_cast<int>((static_cast<std::uint32_t>(n_) + kChunk - 1) >> kChunkBits));
    direct_ = n_ <= kDirectMax;
    if (direct_) segs_ = 1;
    ord_.resize(m_ - 1);
    idx_.resize(m_ - 1);
    pf_.resize(m_ - 1);
    off_.resize(m_ - 1);
    offc_.resize(m_ - 1);
    dec_q_ = -1;
    BuildOrders();
    st_.assign(static_cast<std::size_t>(n_) * 2 * W, 0);
    for (int i = 0; i < n_; ++i) {
      const std::uint8_t* c = &(*p.correct)(0, i);
      for (int q = 0; q < m_; ++q)
        if (c[p.kept[q]] != 0) st_[static_cast<std::size_t>(i) * 2 * W + W + q / 64] |= Bit(q);
    }
    cost_.resize(m_);
    for (int q = 0; q < m_; ++q) cost_[q] = p.stop_cost[p.kept[q]];
    cut_.clear();
  }

  // Frees the storage (large problems: do not hold gigabytes between solves).
  void Release() override {
    std::vector<std::vector<std::uint32_t>>().swap(ord_);
    std::vector<std::vector<std::uint16_t>>().swap(idx_);
    std::vector<std::vector<std::uint16_t>>().swap(pf_);
    std::vector<std::vector<std::uint32_t>>().swap(off_);
    std::vector<std::vector<std::uint32_t>>().swap(offc_);
    std::vector<std::uint64_t>().swap(st_);
    std::vector<std::uint16_t>().swap(sum_);
    std::vector<std::uint8_t>().swap(stage_);
    std::vector<std::uint64_t>().swap(reach_);
    std::vector<std::uint32_t>().swap(cursor_);
    std::vector<std::uint32_t>().swap(cursorc_);
    dec_q_ = -1;
  }

  int m() const override { return m_; }

  // The orders of the non-final kept exits (ConfidenceOrderPacked's, bit for bit). When every
  // score is a float value (as dumps store them), by 32-bit keys built for kGroup exits per pass
  // over the score matrix, whose exits are contiguous per sample: one strided pass per exit would
  // read a cache line per sample and exit, 8x the matrix per group. Otherwise exit by exit.
  void BuildOrders() {
    constexpr int kGroup = 4;
    const int nq = m_ - 1, k = p_->k();
    const std::size_t n = static_cast<std::size_t>(n_);
    const double sign = p_->order == ScoreOrder::kDescending ? -1.0 : 1.0;
    const double* const scores = p_->scores->data();
    const std::uint8_t* const correct = p_->correct->data();
    const int* const kept = p_->kept.data();
    int done = 0;
    if (nq > 0) {
      std::vector<std::uint32_t> keys(kGroup * n), key2(n), pay2(n), ord(n);
      std::vector<std::uint8_t> cor(kGroup * n);
      for (; done < nq; done += kGroup) {
        const int g = std::min(kGroup, nq - done);
        bool fits = true;
        for (std::size_t i = 0; i < n; ++i) {
          const double* s = scores + i * k;
          const std::uint8_t* c = correct + i * k;
          for (int e = 0; e < g; ++e) {
            const double x = sign * s[kept[done + e]];
            const float f = static_cast<float>(x);
            fits &= static_cast<double>(f) == x;  // false for NaN too
            keys[e * n + i] = FloatKey(f);
            cor[e * n + i] = c[kept[done + e]] != 0;
          }
        }
        if (!fits) break;
        for (int e = 0; e < g; ++e) {
          std::vector<std::uint32_t>& out = ord;
          const std::uint8_t* ce = &cor[e * n];
          for (std::size_t i = 0; i < n; ++i)
            out[i] = static_cast<std::uint32_t>(i) | static_cast<std::uint32_t>(ce[i]) << 30;
          std::uint32_t* key = &keys[e * n];
          RadixSort32(key, out.data(), key2.data(), pay2.data(), n);
          for (std::size_t j = 0; j < n; ++j)
            if (j + 1 == n || key[j + 1] != key[j]) out[j] |= std::uint32_t{1} << 31;
          Layout(done + e, out.data());
        }
      }
    }
    float_orders_ = done >= nq;
    std::vector<std::uint32_t> ord;
    for (int q = done; q < nq; ++q) {
      internal::ConfidenceOrderPacked(*p_, kept[q], ord);
      Layout(q, ord.data());
    }
  }

  // Stores exit q's order o (ConfidenceOrderPacked's entries, most confident first) by segment
  // of the sample numbers and chunk of the positions, in two arrays: an update reads the
  // summaries of one segment at a time (kSegment of them, 128 KB, stay in cache) where in the
  // order's own sequence they would be read at random over all N, then puts the codes back in
  // the order's sequence one chunk at a time. idx_[q]: the samples' numbers within their
  // segment, by segment, then by chunk from the last to the first, then by position:
  // off_[q][Run(s, c)] is where segment s's entries in chunk c start, off_[q][Run(s, c) + 1]
  // where they end. pf_[q]: the same entries' positions within their chunk | the order's two
  // bits << 14, by chunk from the last to the first, then by segment, then by position:
  // offc_[q][RunC(c, s)] is where they start. Both are read front to back by an update.
  void Layout(int q, const std::uint32_t* o) {
    const std::size_t n = static_cast<std::size_t>(n_);
    if (direct_) {
      ord_[q].assign(o, o + n);
      return;
    }
    std::vector<std::uint32_t>& off = off_[q];
    std::vector<std::uint32_t>& offc = offc_[q];
    off.assign(static_cast<std::size_t>(segs_) * chunks_ + 1, 0);
    offc.assign(static_cast<std::size_t>(segs_) * chunks_ + 1, 0);
    for (std::size_t j = 0; j < n; ++j) {
      const int s = static_cast<int>((o[j] & kSampleMask) >> kSegmentBits);
      const int c = static_cast<int>(j >> kChunkBits);
      ++off[Run(s, c) + 1];
      ++offc[RunC(c, s) + 1];
    }
    for (std::size_t r = 1; r < off.size(); ++r) {
      off[r] += off[r - 1];
      offc[r] += offc[r - 1];
    }
    cursor_.assign(off.begin(), off.end() - 1);
    cursorc_.assign(offc.begin(), offc.end() - 1);
    std::vector<std::uint16_t>& idx = idx_[q];
    std::vector<std::uint16_t>& pf = pf_[q];
    idx.resize(n);
    pf.resize(n);
    for (std::size_t j = 0; j < n; ++j) {
      const std::uint32_t e = o[j], i = e & kSampleMask;
      const int s = static_cast<int>(i >> kSegmentBits), c = static_cast<int>(j >> kChunkBits);
      idx[cursor_[Run(s, c)]++] = static_cast<std::uint16_t>(i & (kSegment - 1));
      pf[cursorc_[RunC(c, s)]++] =
          static_cast<std::uint16_t>((j & (kChunk - 1)) | (e & kFlags) >> 16);
    }
  }

  // The order's entry (ConfidenceOrderPacked's) at position j of exit q: from the decoded chunk
  // when it is that one, else by a binary search in each segment's entries of j's chunk.
  std::uint32_t Ord(int q, int j) const {
    if (direct_) return ord_[q][j];
    const int c = j >> kChunkBits;
    if (dec_q_ == q && dec_c_ == c) return dec_[j & (kChunk - 1)];
    const std::uint32_t pos = static_cast<std::uint32_t>(j) & (kChunk - 1);
    const std::uint16_t* pf = pf_[q].data();
    const std::uint32_t* offc = offc_[q].data();
    for (int s = 0; s < segs_; ++s) {
      const std::uint16_t* a = pf + offc[RunC(c, s)];
      const std::uint16_t* const start = a;
      const std::uint16_t* const stop = pf + offc[RunC(c, s) + 1];
      const std::uint16_t* b = stop;
      while (a < b) {
        const std::uint16_t* mid = a + (b - a) / 2;
        if ((*mid & (kChunk - 1)) < pos)
          a = mid + 1;
        else
          b = mid;
      }
      if (a != stop && (*a & (kChunk - 1)) == pos)
        return Entry(q, s, c, static_cast<std::uint32_t>(a - start), *a);
    }
    return 0;  // not reached: every position is in one segment
  }
  // The order's entry of the k-th entry of segment s in chunk c, whose pf_ value is v.
  std::uint32_t Entry(int q, int s, int c, std::uint32_t k, std::uint16_t v) const {
    return static_cast<std::uint32_t>(v & 0xc000) << 16 |
           static_cast<std::uint32_t>(s) << kSegmentBits | idx_[q][off_[q][Run(s, c)] + k];
  }
  // The same for walks along the order: decodes j's whole chunk when it is not the decoded one.
  std::uint32_t OrdSeq(int q, int j) const {
    if (direct_) return ord_[q][j];
    const int c = j >> kChunkBits;
    if (dec_q_ != q || dec_c_ != c) {
      dec_.resize(kChunk);
      const std::uint16_t* pf = pf_[q].data();
      const std::uint32_t* offc = offc_[q].data();
      for (int s = 0; s < segs_; ++s) {
        const std::uint32_t a = offc[RunC(c, s)], b = offc[RunC(c, s) + 1];
        for (std::uint32_t t = a; t < b; ++t)
          dec_[pf[t] & (kChunk - 1)] = Entry(q, s, c, t - a, pf[t]);
      }
      dec_q_ = q;
      dec_c_ = c;
    }
    return dec_[j & (kChunk - 1)];
  }
  // fn(sample) for every sample at a position in [lo, hi) of exit q's order, segment by segment
  // (not in the order's sequence); the samples' state words are fetched ahead.
  template <class F>
  void ForRange(int q, int lo, int hi, F&& fn) const {
    if (lo >= hi) return;
    if (direct_) {
      const std::uint32_t* o = ord_[q].data();
      for (int j = lo; j < hi; ++j) {
        if (j + 16 < hi)
          __builtin_prefetch(&st_[static_cast<std::size_t>(o[j + 16] & kSampleMask) * 2 * W], 1);
        fn(o[j] & kSampleMask);
      }
      return;
    }
    const int c0 = lo >> kChunkBits, c1 = (hi - 1) >> kChunkBits;
    const std::uint16_t* idx = idx_[q].data();
    const std::uint16_t* pf = pf_[q].data();
    const std::uint32_t* off = off_[q].data();
    const std::uint32_t* offc = offc_[q].data();
    for (int s = 0; s < segs_; ++s) {
      const std::uint32_t base = static_cast<std::uint32_t>(s) << kSegmentBits;
      for (int c = c1; c >= c0; --c) {
        const int first = c << kChunkBits;
        const bool whole = first >= lo && first + static_cast<int>(kChunk) <= hi;
        const std::uint32_t a = off[Run(s, c)], b = off[Run(s, c) + 1];
        const std::uint16_t* const pc = pf + offc[RunC(c, s)] - a;
        for (std::uint32_t t = a; t < b; ++t) {
          if (t + 16 < b)
            __builtin_prefetch(&st_[static_cast<std::size_t>(base | idx[t + 16]) * 2 * W], 1);
          if (!whole) {
            const int j = first + static_cast<int>(pc[t] & (kChunk - 1));
            if (j < lo || j >= hi) continue;
          }
          fn(base | idx[t]);
        }
      }
    }
  }

  // With NaN-free scores (the float orders), passing t is a prefix of each exit's order: a
  // binary search per exit. Otherwise one pass over the samples (their exits are contiguous).
  std::vector<int> CutsOf(const std::vector<double>& t) const override {
    std::vector<int> cut(m_ - 1, 0);
    if (float_orders_) {
      for (int q = 0; q + 1 < m_; ++q) cut[q] = CutOf(q, t[q]);
      return cut;
    }
    const int k = p_->k();
    const double* s = p_->scores->data();
    const int* kept = p_->kept.data();
    for (int i = 0; i < n_; ++i, s += k)
      for (int q = 0; q + 1 < m_; ++q) cut[q] += Passes(s[kept[q]], t[q], p_->order);
    return cut;
  }

  double ScoreAt(int q, int j) const { return (*p_->scores)(p_->kept[q], Sample(q, j)); }

  // How many samples pass t at non-final kept exit q (a prefix of its order; float orders only).
  int CutOf(int q, double t) const {
    int lo = 0, hi = n_;  // Passes holds before lo, fails from hi on
    while (lo < hi) {
      const int mid = lo + (hi - lo) / 2;
      if (Passes(ScoreAt(q, mid), t, p_->order))
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  }

  // SolveGeometric's cascade, step for step, with its selections read off the orders: among the
  // samples not yet stopped (walked in q's order, most confident first), ThresholdForTopUnsorted's
  // value, the ascending tie rule, then every one that passes stops.
  bool GeometricStart(const GeometricLaw& law, std::vector<double>* out) override {
    if (!float_orders_) return false;
    const bool asc = p_->order == ScoreOrder::kAscending;
    const long n = n_;
    stopped_.assign(n_, 0);
    out->assign(m_ - 1, 0.0);
    double cum = 0.0;
    long prev_target = 0, stopped_count = 0;
    for (int q = 0; q + 1 < m_; ++q) {
      cum += law.frac[q];
      const long target = std::min<long>(n, static_cast<long>(std::ceil(cum * n - 1e-9)));
      const long want = std::max<long>(0, target - std::max(prev_target, stopped_count));
      prev_target = target;
      const long size = n - stopped_count;
      auto free_at = [&](int j) { return stopped_[OrdSeq(q, j) & kSampleMask] == 0; };
      double t;
      if (size == 0) {
        t = asc ? -1e300 : 1e300;
      } else if (want == 0) {
        int j = 0;
        while (!free_at(j)) ++j;
        t = internal::ThresholdNone(ScoreAt(q, j), p_->order);
      } else if (want >= size) {
        int j = n_ - 1;
        while (!free_at(j)) --j;
        t = internal::ThresholdAll(ScoreAt(q, j), p_->order);
      } else {
        // Sorted most confident first, ascending picks values[want] and descending values[want-1].
        const long pick = asc ? want : want - 1;
        long seen = 0;
        int j = 0;
        for (;; ++j) {
          if (free_at(j) && seen++ == pick) break;
        }
        t = ScoreAt(q, j);
      }
      if (asc && want > 0) {
        long passing = 0;
        const int c = CutOf(q, t);
        ForRange(q, 0, c, [&](std::uint32_t i) { passing += stopped_[i] == 0; });
        if (passing < want) t = std::nextafter(t, std::numeric_limits<double>::infinity());
      }
      (*out)[q] = t;
      const int c = CutOf(q, t);
      ForRange(q, 0, c, [&](std::uint32_t i) {
        char& st = stopped_[i];
        stopped_count += st == 0;
        st = 1;
      });
    }
    std::vector<char>().swap(stopped_);
    return true;
  }

  // SolveGeometricQuantile's thresholds: exit q's value at position min(floor(N cumsum), N - 1)
  // of all its samples sorted most confident first.
  bool QuantileStart(const GeometricQuantileLaw& law, std::vector<double>* out) const override {
    if (!float_orders_) return false;
    out->assign(m_ - 1, 0.0);
    double cum = 0.0;
    for (int q = 0; q + 1 < m_; ++q) {
      cum += law.pk[q];
      const long idx = std::min<long>(static_cast<long>(std::floor(n_ * cum)), n_ - 1);
      (*out)[q] = ScoreAt(q, static_cast<int>(idx));
    }
    return true;
  }

  std::vector<double> ThresholdsOf(const std::vector<int>& cut) const override {
    std::vector<double> t(m_ - 1);
    for (int q = 0; q + 1 < m_; ++q) {
      if (cut[q] <= 0)
        t[q] = internal::ThresholdNone(ScoreAt(q, 0), p_->order);
      else if (cut[q] >= n_)
        t[q] = internal::ThresholdAll(ScoreAt(q, n_ - 1), p_->order);
      else
        t[q] = internal::ThresholdBetween(ScoreAt(q, cut[q] - 1), ScoreAt(q, cut[q]), p_->order);
    }
    return t;
  }

  // Mean cost of exit-slot counts, summed in the evaluator's order (ascending exits).
  double MeanCost(const std::vector<std::int64_t>& cnt) const {
    double total = 0.0;
    for (int q = 0; q < m_; ++q) total += static_cast<double>(cnt[q]) * cost_[q];
    return total / n_;
  }

  void Assign(const std::vector<int>& cut) override {
    cut_ = cut;
    for (int i = 0; i < n_; ++i) {
      std::uint64_t* w = &st_[static_cast<std::size_t>(i) * 2 * W];
      for (int k = 0; k < W; ++k) w[k] = 0;
      w[(m_ - 1) / 64] = Bit(m_ - 1);
    }
    for (int q = 0; q + 1 < m_; ++q) {
      const std::uint64_t bit = Bit(q);
      ForRange(q, 0, cut_[q],
               [&](std::uint32_t i) { st_[static_cast<std::size_t>(i) * 2 * W + q / 64] |= bit; });
    }
    sum_.assign(static_cast<std::size_t>(n_) + 1, 0);  // one spare: the vector pass reads pairs
    cnt_.assign(m_, 0);
    correct_ = 0;
    for (int i = 0; i < n_; ++i) {
      const std::uint16_t v = Summary(i);
      sum_[i] = v;
      ++cnt_[v & 127];
      correct_ += (v >> 7) & 1;
    }
  }

  Value Current() const override {
    Value v;
    v.correct = correct_;
    v.cost = MeanCost(cnt_);
    v.feasible = v.cost <= p_->budget;
    return v;
  }

  // One exact coordinate update of exit q. lambda >= 0: maximise correct - lambda * N * mean
  // cost; lambda < 0: the constrained rule of Value::Better. Returns true when the cut changed.
  // Two passes: a branch-free one over q's order that packs the samples reaching q (whether a
  // sample reaches q is unpredictable, so a branch on it stalls), then the scan of the prefixes
  // over those samples only. Cost O(N) + O(reaching) + O(|change|) for the state.
  bool Update(int q, double lambda) {
    // 1. The samples reaching q in q's order, each as (cut after its run of equal scores << 16 |
    //    correct(q) - correct(down) + 1 << 8 | down), where down is the exit the sample stops at
    //    when it does not stop at q. Walked backwards, so the run's end is known; written from
    //    the end of the buffer.
    reach_.resize(static_cast<std::size_t>(n_) + 1);
    std::uint64_t* const end = reach_.data() + n_ + 1;
    std::uint64_t* out = end;
    {
      // a. Per layout entry, segment by segment, the sample's code (CodeOf), stored in pf_'s
      //    sequence: each segment's summaries are read at random but stay in cache.
      const std::uint16_t* const idx = idx_[q].data();
      const std::uint16_t* const pf = pf_[q].data();
      const std::uint32_t* const off = off_[q].data();
      const std::uint32_t* const offc = offc_[q].data();
      const std::uint32_t uq = static_cast<std::uint32_t>(q);
      const bool one = segs_ == 1;  // then both arrays are in the order's sequence: no put-back
      stage_.resize(one || direct_ ? 0 : static_cast<std::size_t>(n_));
      std::uint8_t* const stage = stage_.data();
      for (int s = 0; s < (one || direct_ ? 0 : segs_); ++s) {
        const std::uint16_t* const sm = sum_.data() + (static_cast<std::size_t>(s) << kSegmentBits);
        for (int c = chunks_ - 1; c >= 0; --c) {
          std::size_t t = off[Run(s, c)];
          const std::size_t b = off[Run(s, c) + 1];
          std::uint8_t* const dst = stage + offc[RunC(c, s)] - t;
          if (kHasAvx512) {
            StageAvx512(idx + t, sm, b - t, uq, dst + t);
            continue;
          }
          for (; t < b; ++t) dst[t] = CodeOf(sm[idx[t]], uq);
        }
      }
      // b. Chunk by chunk from the last, the codes put back in q's order (with the order's two
      //    bits) in a chunk-sized buffer, then the entries of the reaching samples.
      chunk_.resize(kChunk);
      std::uint32_t* const buf = chunk_.data();
      std::uint64_t after = static_cast<std::uint64_t>(n_);
      for (int c = chunks_ - 1; c >= 0; --c) {
        const int first = c << kChunkBits;
        const int len = std::min(static_cast<int>(kChunk), n_ - first);
        const std::uint32_t a = direct_ ? 0 : offc[RunC(c, 0)];
        if (direct_) {
          // The summaries gathered in the order's sequence (at most kDirectMax of them, which
          // stay in cache).
          const std::uint32_t* const o = ord_[q].data() + first;
          const std::uint16_t* const sm = sum_.data();
          int t = 0;
          if (kHasAvx512) {
            t = len & ~15;
            FillDirectAvx512(o, sm, static_cast<std::size_t>(t), uq, buf);
          }
          for (; t < len; ++t) buf[t] = (o[t] & kFlags) | CodeOf(sm[o[t] & kSampleMask], uq);
        } else if (one) {
          // The chunk's entries are its positions in order: the codes straight from the
          // summaries (all N of them, at most 128 KB, stay in cache).
          const std::uint16_t* const sm = sum_.data();
          int t = 0;
          if (kHasAvx512) {
            t = len & ~15;
            FillAvx512(idx + a, pf + a, sm, static_cast<std::size_t>(t), uq, buf);
          }
          for (; t < len; ++t)
            buf[t] =
                static_cast<std::uint32_t>(pf[a + t] & 0xc000) << 16 | CodeOf(sm[idx[a + t]], uq);
        } else {
          std::uint32_t t = a;
          if (kHasAvx512) {
            const std::uint32_t v = static_cast<std::uint32_t>(len) & ~15u;
            PutAvx512(pf + a, stage + a, v, buf);
            t += v;
          }
          for (; t < a + static_cast<std::uint32_t>(len); ++t)
            buf[pf[t] & (kChunk - 1)] = static_cast<std::uint32_t>(pf[t] & 0xc000) << 16 | stage[t];
        }
        int top = len;
        if (kHasAvx512) {
          top = len % 16;
          out = ReachAvx512(buf, len, top, first, out, &after);
        }
        for (int j = top - 1; j >= 0; --j) {
          const std::uint32_t o = buf[j];
          after = (o >> 31) ? static_cast<std::uint64_t>(first + j + 1) : after;
          const std::uint32_t dn = o & 255;
          const std::uint64_t dc = ((o >> 30) & 1) + 1 - ((dn >> 7) & 1);
          out[-1] = after << 16 | dc << 8 | (dn & 127);
          out -= dn != 0;
        }
      }
    }
    const std::uint64_t* const rs = out;
    const std::size_t nr = static_cast<std::size_t>(end - out);
    // 2. Counts and correct with nobody stopping at q: the current state minus the reaching
    //    samples in q's prefix (they stop at q now), which go to their next passing exit.
    std::vector<std::int64_t>& cnt = cnt_tmp_;
    cnt = cnt_;
    std::int64_t correct = correct_;
    for (std::size_t k = 0; k < nr && static_cast<int>(rs[k] >> 16) <= cut_[q]; ++k) {
      --cnt[q];
      ++cnt[rs[k] & 255];
      correct -= static_cast<std::int64_t>((rs[k] >> 8) & 3) - 1;
    }
    auto score = [&](std::int64_t c, const std::vector<std::int64_t>& k, Value* out) {
      out->correct = c;
      out->cost = MeanCost(k);
      out->feasible = out->cost <= p_->budget;
    };
    auto better = [&](const Value& a, const Value& b) {
      if (lambda >= 0) {
        const double sa = a.correct - lambda * n_ * a.cost, sb = b.correct - lambda * n_ * b.cost;
        if (sa != sb) return sa > sb;
        return a.cost < b.cost;
      }
      return a.Better(b, costlier_ties);
    };
    Value best, cur;
    const Value at_current = Current();
    score(correct, cnt, &best);
    std::vector<std::int64_t>& best_cnt = cnt_best_;
    best_cnt = cnt;
    std::int64_t best_correct = correct;
    int best_cut = 0;
    // The running total cost screens candidates cheaply; the exact evaluator-order mean is computed
    // only for candidates that may beat the best so far.
    double total = 0.0;
    for (int e = 0; e < m_; ++e) total += static_cast<double>(cnt[e]) * cost_[e];
    const double slack = 1e-9 * (std::fabs(total) + 1.0);
    const double budget_total = p_->budget * n_;
    // Screening bounds of the best so far, recomputed only when it changes.
    double lambda_bound = 0.0;
    auto rebound = [&] {
      if (lambda >= 0) {
        const double sb = best.correct - lambda * n_ * best.cost;
        lambda_bound = sb - lambda * slack - 1e-9;
      }
    };
    rebound();
    double best_total = total;  // the running total at the best so far
    const double cq = cost_[q];
    const std::int64_t cnt_q0 = cnt[q];
    // cq - cost_[d] per exit d, the running total's step when a sample moves from d to q.
    std::vector<double>& step = step_;
    step.resize(m_);
    for (int e = 0; e < m_; ++e) step[e] = cq - cost_[e];
    // The counts are brought up to date only for the candidates that are scored (cnt holds the
    // moves of rs[0, applied)): the per-sample work is the running total and correct count.
    std::size_t applied = 0;
    // 3. The prefixes: a cut can only fall at the end of a run of equal scores, and only a cut
    //    after a reaching sample gives a new state (a cut with no reaching sample since the
    //    previous one repeats that state, which was either screened out or scored already).
    //    Blocks of 16 entries in which no cut can be a candidate (by bounds on the running
    //    correct count and total over the block, with a margin beyond the screen's own) are
    //    passed over as a whole: most of them, once a good state is known.
    auto entry = [&](std::size_t k) {
      const std::uint64_t r = rs[k];
      const int d = static_cast<int>(r & 255);
      total += step[d];
      correct += static_cast<std::int64_t>((r >> 8) & 3) - 1;
      const std::uint64_t run = r >> 16;
      if (k + 1 < nr && (rs[k + 1] >> 16) == run) return;
      bool candidate;
      if (lambda >= 0) {
        candidate = correct - lambda * total >= lambda_bound;
      } else if (total <= budget_total + slack) {
        // An equally accurate state must be cheaper (costlier with costlier_ties) to win; the
        // running totals of two states are within 2 slack of their exact (evaluator-order)
        // costs' order.
        candidate = !best.feasible || correct > best.correct ||
                    (correct == best.correct && (costlier_ties ? total > best_total - 2 * slack
                                                               : total < best_total + 2 * slack));
      } else {
        candidate = !best.feasible && total <= best.cost * n_ + slack;
      }
      if (!candidate) return;
      for (; applied <= k; ++applied) --cnt[rs[applied] & 255];
      cnt[q] = cnt_q0 + static_cast<std::int64_t>(k + 1);
      score(correct, cnt, &cur);
      if (better(cur, best)) {
        best = cur;
        best_cut = static_cast<int>(run);
        best_cnt = cnt;
        best_correct = correct;
        best_total = total;
        rebound();
      }
    };
    std::size_t k = 0;
    if (kHasAvx512) {
      for (; k + 16 <= nr; k += 16) {
        const BlockBounds b = BlockAvx512(rs + k, step.data());
        const double low_total = total + b.neg;  // <= the running total anywhere in the block
        bool skip;
        if (lambda >= 0)
          skip = (correct + b.plus) - lambda * low_total < lambda_bound - lambda * slack - 1e-9;
        else if (best.feasible)
          skip = correct + b.plus < best.correct || low_total > budget_total + 2 * slack;
        else
          skip = low_total > std::max(budget_total, best.cost * n_) + 2 * slack;
        if (skip) {
          total += b.sum;
          correct += b.dc;
          continue;
        }
        for (std::size_t e = k; e < k + 16; ++e) entry(e);
      }
    }
    for (; k < nr; ++k) entry(k);
    if (best_cut == cut_[q] || !better(best, at_current)) return false;
    // Only the samples between the old and the new cut change their pass bit at q.
    const std::uint64_t bit = Bit(q);
    const int lo = std::min(best_cut, cut_[q]), hi = std::max(best_cut, cut_[q]);
    const std::uint64_t set = best_cut > cut_[q] ? bit : 0;
    ForRange(q, lo, hi, [&](std::uint32_t i) {
      std::uint64_t& w = st_[static_cast<std::size_t>(i) * 2 * W + q / 64];
      w = (w & ~bit) | set;
      sum_[i] = Summary(i);
    });
    cut_[q] = best_cut;
    cnt_ = best_cnt;
    correct_ = best_correct;
    return true;
  }

  // Cyclic coordinate ascent over the exits, at most max_sweeps sweeps. An update is idempotent
  // (with the others fixed it keeps the first best cut), so once the cycle comes back to the
  // last exit that changed, every further update would be a no-op: stopping there gives the
  // same state as finishing the sweep and running a confirming one, with fewer updates.
  int Ascend(double lambda, int max_sweeps) override {
    const int k = m_ - 1;
    if (k <= 0) return 1;
    const long limit = static_cast<long>(max_sweeps) * k;
    int last = -1, since = 0;
    long u = 0;
    for (; u < limit; ++u) {
      const int q = static_cast<int>(u % k);
      if (q == last || since == k) break;
      if (Update(q, lambda)) {
        last = q;
        since = 0;
      } else {
        ++since;
      }
    }
    return static_cast<int>((u + k - 1) / k);
  }

  const std::vector<int>& cut() const override { return cut_; }

 private:
  // Order-preserving map of a float to an unsigned integer (-0.0 folded into +0.0), the float
  // counterpart of ConfidenceOrderPacked's key: on float values both give the same order.
  static std::uint32_t FloatKey(float v) {
    v += 0.0f;
    std::uint32_t u;
    std::memcpy(&u, &v, sizeof u);
    return (u >> 31) ? ~u : (u | (std::uint32_t{1} << 31));
  }
  // Stable LSD radix sort of (key, payload) by key in three passes (11, 11, 10 bits), a digit
  // that is the same for every key skipped; written out because no listed library has a radix
  // sort. The scratch has room for n of each; the result is back in key and pay.
  static void RadixSort32(std::uint32_t* key, std::uint32_t* pay, std::uint32_t* key2,
                          std::uint32_t* pay2, std::size_t n) {
    if (n == 0) return;
    constexpr int kBits = 11, kBuckets = 1 << kBits;
    std::vector<std::size_t> count(3 * kBuckets, 0);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t v = key[i];
      ++count[v & (kBuckets - 1)];
      ++count[kBuckets + ((v >> kBits) & (kBuckets - 1))];
      ++count[2 * kBuckets + (v >> 2 * kBits)];
    }
    std::uint32_t *k0 = key, *p0 = pay, *k1 = key2, *p1 = pay2;
    for (int pass = 0; pass < 3; ++pass) {
      std::size_t* c = &count[pass * kBuckets];
      const int shift = pass * kBits;
      if (c[(k0[0] >> shift) & (kBuckets - 1)] == n) continue;
      std::size_t sum = 0;
      for (int b = 0; b < kBuckets; ++b) {
        const std::size_t t = c[b];
        c[b] = sum;
        sum += t;
      }
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t dst = c[(k0[i] >> shift) & (kBuckets - 1)]++;
        k1[dst] = k0[i];
        p1[dst] = p0[i];
      }
      std::swap(k0, k1);
      std::swap(p0, p1);
    }
    if (k0 != key) {
      std::memcpy(key, k0, n * sizeof *key);
      std::memcpy(pay, p0, n * sizeof *pay);
    }
  }
  static std::uint64_t Bit(int q) { return std::uint64_t{1} << (q % 64); }
  // Lowest set bit at or above `from` of sample i's pass words (one exists: the final exit).
  int NextPass(std::size_t i, int from) const {
    const std::uint64_t* w = &st_[i * 2 * W];
    int word = from / 64;
    std::uint64_t bits = w[word] & (~std::uint64_t{0} << (from % 64));
    while (bits == 0) bits = w[++word];
    return word * 64 + __builtin_ctzll(bits);
  }
  bool CorrectAt(std::size_t i, int q) const {
    return (st_[i * 2 * W + W + q / 64] >> (q % 64)) & 1;
  }
  // Sample i's summary: stop exit f | correct(f) << 7 | next passing exit after f << 8 |
  // its correctness << 15 (the next exit is the final one's slot when f is the final exit).
  std::uint16_t Summary(std::uint32_t i) const {
    const int f = NextPass(i, 0);
    const int g = f + 1 < m_ ? NextPass(i, f + 1) : f;
    return static_cast<std::uint16_t>(f | CorrectAt(i, f) << 7 | g << 8 | CorrectAt(i, g) << 15);
  }
  // Where segment s's entries in chunk c start in a layout (see Layout).
  std::size_t Run(int s, int c) const {
    return static_cast<std::size_t>(s) * chunks_ + (chunks_ - 1 - c);
  }
  // Where chunk c's entries of segment s start in pf_ (see Layout).
  std::size_t RunC(int c, int s) const {
    return static_cast<std::size_t>(chunks_ - 1 - c) * segs_ + s;
  }
  int Sample(int q, int j) const { return static_cast<int>(Ord(q, j) & kSampleMask); }

  const ThresholdProblem* p_ = nullptr;
  int n_ = 0, m_ = 0;
  bool float_orders_ = false;  // every order came from float keys (so no score is NaN)
  // Per non-final kept exit, its order (ConfidenceOrderPacked's) as Layout stores it.
  // Up to kDirectMax samples (direct_), the order itself instead (ConfidenceOrderPacked's).
  bool direct_ = false;
  std::vector<std::vector<std::uint32_t>> ord_;
  std::vector<std::vector<std::uint16_t>> idx_, pf_;
  std::vector<std::vector<std::uint32_t>> off_, offc_;
  int segs_ = 1, chunks_ = 1;  // segments of kSegment samples, chunks of kChunk positions
  std::vector<std::uint32_t> cursor_, cursorc_;  // Layout's
  mutable std::vector<std::uint32_t> dec_;       // OrdSeq's decoded chunk dec_c_ of exit dec_q_
  mutable int dec_q_ = -1, dec_c_ = -1;
  std::vector<std::uint8_t> stage_;   // Update's codes in pf_'s sequence
  std::vector<std::uint32_t> chunk_;  // Update's codes of one chunk in q's order
  std::vector<std::uint64_t> reach_;  // Update's packed reaching samples
  // Per sample: W words of pass bits, then W words of correctness bits (one cache line).
  std::vector<std::uint64_t> st_;
  std::vector<std::uint16_t> sum_;  // per sample: Summary()
  std::vector<char> stopped_;       // GeometricStart's cascade
  std::vector<double> cost_;
  std::vector<int> cut_;
  std::vector<std::int64_t> cnt_, cnt_tmp_, cnt_best_;  // samples stopping at each kept exit
  std::vector<double> step_;                            // Update's running-total steps
  std::int64_t correct_ = 0;
};

// One solver per thread and word count, reused across problems.
ExactSolverBase& SolverFor(int kept) {
  thread_local ExactSolver<1> narrow;
  thread_local ExactSolver<2> wide;
  if (kept <= 64) return narrow;
  return wide;
}

}  // namespace

std::string ExactOptions::Validate() const {
  std::string out;
  if (lambda_iters < 0)
    out += "exact.lambda_iters = " + std::to_string(lambda_iters) + ": must be >= 0\n";
  if (max_sweeps < 1)
    out += "exact.max_sweeps = " + std::to_string(max_sweeps) + ": must be >= 1\n";
  return out;
}

ThresholdSummary SolveIpppStart(const ThresholdProblem& p, const IpppOptions& options, double lo,
                                double hi) {
  const int n = p.n();
  if (n <= kIpppStartSamples) return SolveIppp(p, options, lo, hi);
  // Evenly strided samples i_j = floor(j n / S): iPPP's 1000 gradients over all N samples would
  // cost more than the whole ascent, and its answer is only a starting point.
  const int k = p.k();
  ScoreMatrix scores(k, kIpppStartSamples);
  CorrectMatrix correct(k, kIpppStartSamples);
  for (int j = 0; j < kIpppStartSamples; ++j) {
    const Eigen::Index i =
        static_cast<Eigen::Index>(static_cast<std::int64_t>(j) * n / kIpppStartSamples);
    scores.col(j) = p.scores->col(i);
    correct.col(j) = p.correct->col(i);
  }
  ThresholdProblem sub = p;
  sub.scores = &scores;
  sub.correct = &correct;
  return SolveIppp(sub, options, lo, hi);
}

std::string ExactLimitProblem(const ThresholdProblem& p) {
  if (p.kept.size() > static_cast<std::size_t>(kExactMaxKept)) {
    return "exact supports at most " + std::to_string(kExactMaxKept) + " kept exits, got " +
           std::to_string(p.kept.size());
  }
  if (p.n() >= (1 << 30)) {
    return "exact supports at most 2^30 - 1 fit samples, got " + std::to_string(p.n());
  }
  return "";
}

ThresholdSummary SolveExact(const ThresholdProblem& p, const ExactOptions& o,
                            const std::vector<std::vector<double>>& starts) {
  const auto t0 = std::chrono::steady_clock::now();
  ThresholdSummary s;
  s.method = "exact";
  s.policy.kept = p.kept;
  if (const std::string err = ExactLimitProblem(p); !err.empty()) {
    s.outcome = Outcome::kFailure;
    s.message = err;
    return s;
  }
  // The heuristic starts (geometric, geometric-quantile, single, in this order): single runs before
  // the solver's storage is built; the geometric ones read their selections off the solver's
  // orders (the same thresholds as the methods' own, without their passes over the score matrix)
  // or, when the orders are not float-keyed, run as methods.
  std::vector<std::vector<double>> heuristic;
  ThresholdSummary single;
  if (o.start_heuristics) single = SolveSingle(p);
  ExactSolverBase& solver = SolverFor(static_cast<int>(p.kept.size()));
  solver.Reset(p);
  if (o.start_heuristics) {
    std::vector<double> t;
    if (solver.GeometricStart(GeometricQuotaLaw(p), &t)) {
      heuristic.push_back(t);
    } else if (ThresholdSummary h = SolveGeometric(p, GeometricOptions{}); h.ok()) {
      heuristic.push_back(h.policy.thresholds);
    }
    const GeometricQuantileLaw pk = GeometricQuantilePk(p, GeometricOptions{});
    if (pk.found && solver.QuantileStart(pk, &t)) {
      heuristic.push_back(t);
    } else if (ThresholdSummary h = SolveGeometricQuantile(p, GeometricOptions{}); h.ok()) {
      heuristic.push_back(h.policy.thresholds);
    }
    if (single.ok()) heuristic.push_back(single.policy.thresholds);
  }
  const int m = solver.m();
  std::vector<std::vector<int>> cut_starts;
  int sweeps = 0;
  // Lagrangian starts: bisection on lambda; the cheapest-lambda feasible point and the most
  // expensive infeasible one both go on to the constrained polish.
  if (o.lambda_iters > 0) {
    double lo = 0.0, hi = 0.0;
    double min_gap = std::numeric_limits<double>::infinity();
    for (int q = 0; q + 1 < m; ++q) {
      const double g = p.stop_cost[p.kept[q + 1]] - p.stop_cost[p.kept[q]];
      if (g > 0) min_gap = std::min(min_gap, g);
    }
    hi = std::isfinite(min_gap) ? 2.0 / min_gap : 1.0;
    solver.Assign(std::vector<int>(m - 1, 0));
    sweeps += solver.Ascend(0.0, o.max_sweeps);
    if (solver.Current().feasible) {
      cut_starts.push_back(solver.cut());
    } else {
      std::vector<int> feasible_cut, infeasible_cut = solver.cut();
      // Bisection on log(lambda) over [1e-8 hi, hi]: the useful multipliers span decades.
      lo = std::log(hi * 1e-8);
      hi = std::log(hi);
      for (int it = 0; it < o.lambda_iters; ++it) {
        const double mid = 0.5 * (lo + hi);
        const double lam = std::exp(mid);
        sweeps += solver.Ascend(lam, o.max_sweeps);
        if (solver.Current().feasible) {
          hi = mid;
          feasible_cut = solver.cut();
        } else {
          lo = mid;
          infeasible_cut = solver.cut();
        }
      }
      if (!feasible_cut.empty()) cut_starts.push_back(feasible_cut);
      cut_starts.push_back(infeasible_cut);
    }
  }
  for (const auto& t : heuristic) cut_starts.push_back(solver.CutsOf(t));
  for (const auto& t : starts) {
    if (static_cast<int>(t.size()) == m - 1) cut_starts.push_back(solver.CutsOf(t));
  }
  if (cut_starts.empty()) cut_starts.push_back(std::vector<int>(m - 1, 0));
  Value best;
  std::vector<int> best_cut;
  // A start equal to an earlier start or to an earlier polished state ends where that one did
  // (the ascent is deterministic and stops at once on a converged state): skip it.
  std::vector<std::vector<int>> seen;
  for (const auto& c : cut_starts) {
    if (std::find(seen.begin(), seen.end(), c) != seen.end()) continue;
    seen.push_back(c);
    solver.Assign(c);
    sweeps += solver.Ascend(-1.0, o.max_sweeps);
    seen.push_back(solver.cut());
    const Value v = solver.Current();
    if (best_cut.empty() || v.Better(best)) {
      best = v;
      best_cut = solver.cut();
    }
  }
  // The polish: from the best state, the constrained ascent with ties to the costlier; every move
  // is to a state within budget at least as accurate, so the fit accuracy is the search's.
  if (best.feasible) {
    solver.Assign(best_cut);
    solver.costlier_ties = true;
    sweeps += solver.Ascend(-1.0, o.max_sweeps);
    solver.costlier_ties = false;
    best_cut = solver.cut();
  }
  s.policy.thresholds = solver.ThresholdsOf(best_cut);
  // Above 16M sample-exits, give the memory back rather than hold it for the next solve.
  if (static_cast<std::int64_t>(p.n()) * m > (std::int64_t{1} << 24)) solver.Release();
  s.fit = p.Evaluate(s.policy);
  s.iterations = sweeps;
  if (!(s.fit.mean_cost <= p.budget)) {
    s.outcome = Outcome::kInfeasible;
    s.message = "no start could be repaired to meet the budget";
  } else {
    s.outcome = Outcome::kConverged;
    std::ostringstream msg;
    msg << cut_starts.size() << " starts, " << sweeps << " coordinate sweeps";
    s.message = msg.str();
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

}  // namespace exitplan
