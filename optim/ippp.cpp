#include "optim/ippp.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <nlopt.hpp>
#include <sstream>
#include <type_traits>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "optim/internal/cascade.hpp"
#include "profiles/error.hpp"

namespace exitplan {
namespace {

std::string Num(double v) { return FormatDouble(v); }

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The vectorised hot loop: 8 doubles or 16 floats at a time with GCC vector extensions, compiled
// for AVX-512, AVX2 and the baseline and picked at run time. Every variant performs the same IEEE
// operations in the same order (no FMA contraction in ISO C++ mode), so results do not depend on
// the machine; the one exception is the float kernel on AVX-512 CPUs, which has a faster variant
// of its own (KernelFma512 below) that differs at rounding level. Layout: blocks of kN samples,
// [block][exit][lane].
// The fixed-m kernels below would otherwise get FMA contraction (target avx2 / avx512f) and
// change results by rounding.
#pragma GCC optimize("fp-contract=off")

// Lane types: 64-byte vectors of 8 doubles or 16 floats, their integer masks, and the bit set
// of correct samples per block and exit (one lane-sized word, so that testing it is a single
// broadcast-and-test).
template <class T>
struct Lanes;
template <>
struct Lanes<double> {
  static constexpr int kN = 8;
  typedef double V __attribute__((vector_size(64)));
  typedef double Vu __attribute__((vector_size(64), aligned(8)));  // heap storage
  typedef long long I __attribute__((vector_size(64)));
  using Bits = unsigned char;
  static constexpr I kLaneIndex = {0, 1, 2, 3, 4, 5, 6, 7};
  // Lane sums are flushed into double totals only at the end: double accumulates exactly as it
  // always did.
  static constexpr int kFlushBlocks = 1 << 30;
};
template <>
struct Lanes<float> {
  static constexpr int kN = 16;
  typedef float V __attribute__((vector_size(64)));
  typedef float Vu __attribute__((vector_size(64), aligned(4)));
  typedef int I __attribute__((vector_size(64)));
  using Bits = int;
  static constexpr I kLaneIndex = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  // float lane sums are flushed into double totals every 64 blocks (1,024 samples), so a sum
  // over the whole split loses no more than a float sum over 64 terms.
  static constexpr int kFlushBlocks = 64;
};

// Storage on 64-byte boundaries, so that each block's 64-byte vectors lie in one cache line (from
// the default 16-byte alignment every load of the kernel was split across two lines). Written by
// hand: the standard library has no aligned allocator and Eigen's aligns only to the vector width
// it was compiled for.
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{64}));
  }
  void deallocate(T* p, std::size_t) { ::operator delete (p, std::align_val_t{64}); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const {
    return true;
  }
};

// Blocks of kN samples, [block][exit][lane]. S: the type the exponentials are stored in (float
// with double arithmetic halves the layout; see Smoothed).
template <class T, class S = T>
struct BlockData {
  template <class U>
  using Vec = std::vector<U, CacheLineAllocator<U>>;
  int blocks = 0, m = 0;
  Vec<S> a;                           // blocks x m x kN: exp(sg k (x - c0))
  Vec<typename Lanes<T>::Bits> corr;  // blocks x (m+1): bit l = sample kN b + l correct
  Vec<T> mask;                        // kN lanes of the last block: 1 real, 0 padding
  int samples = 0;                    // real (not padding) samples
  long long correct0 = 0;             // (EncodeSteps) samples correct at the first kept exit
};

struct Sums {
  double so = 0, sc = 0;
  double go[64] = {}, gc[64] = {};
};

// One block of kN samples (see Kernel): adds its terms to the lane sums so, sc, go, gc. cw: the
// stop costs per lane (zero in the padding lanes of the last block).
template <class T, int M, int G, class S>
inline __attribute__((always_inline)) void Block(
    const S* a, const typename Lanes<T>::Bits* crb, int m, int want_grad,
    const typename Lanes<T>::V* ev, const typename Lanes<T>::V* cw, typename Lanes<T>::V& so,
    typename Lanes<T>::V& sc, typename Lanes<T>::V* go, typename Lanes<T>::V* gc) {
  using L = Lanes<T>;
  using V = typename L::V;
  using I = typename L::I;
  constexpr int kA = M > 0 ? M + 1 : 65;
  const V zero = {};
  const V one = zero + T(1);
  const I lane_index = L::kLaneIndex;
  typedef S Su __attribute__((vector_size(sizeof(S) * L::kN), aligned(sizeof(S))));
  const Su* au = reinterpret_cast<const Su*>(a);
  V cur[kA], prev[kA], g[kA];
  V reach = one;
#pragma GCC unroll 8
  for (int q = 0; q < m; ++q) {
    V aq;
    if constexpr (std::is_same_v<S, T>)
      aq = au[q];
    else
      aq = __builtin_convertvector(au[q], V);  // (exact: float to double)
    const V u = aq * ev[q];
    const V r = one / (one + u);
    cur[q] = r;
    prev[q] = u * r;
    g[q] = reach * r;
    reach = reach * prev[q];
  }
  g[m] = reach;
  // Correctness as one bit per lane: the per-evaluation data shrinks from 9 to ~4.1 doubles per
  // sample and exit pair, which matters because the loop is bound by memory traffic. g * correct
  // as a select: g >= 0 is finite, so this equals the product with 0/1 exactly. The select is a
  // bitwise and with all-ones/zero lanes made by shifts (lane l: -((bits >> l) & 1)): GCC lowers
  // vector comparisons and "cond ? g : zero" on vectors wider than the target's (64 bytes under
  // AVX2) lane by lane, with scalar extracts and branches, which made the AVX2 variant ~20x
  // slower than AVX-512.

  const I sel_m = -(((I{} + crb[m]) >> lane_index) & 1);
  V so_suf = reinterpret_cast<V>(reinterpret_cast<I>(g[m]) & sel_m), sc_suf = g[m] * cw[m];
#pragma GCC unroll 8
  for (int q = m - 1; q >= 0; --q) {
    const I sel = -(((I{} + crb[q]) >> lane_index) & 1);
    const V wo = reinterpret_cast<V>(reinterpret_cast<I>(g[q]) & sel), wc = g[q] * cw[q];
    if (want_grad & 1) go[q] += wo * prev[q] - cur[q] * so_suf;
    if (want_grad & 2) gc[q] += wc * prev[q] - cur[q] * sc_suf;
    so_suf += wo;
    sc_suf += wc;
  }
  so += so_suf;
  sc += sc_suf;
}

// M > 0: the number of exits m known at compile time, so the loops over exits unroll and the
// per-exit accumulators stay in registers (with a run-time m they live on the stack and the
// store-to-load chains through them bound the loop); G: want_grad known at compile time (-1: at
// run time). The arithmetic is the same in every instantiation for a given T. The lane sums are
// locals of one chunk of kFlushBlocks blocks, and the last block (whose padding lanes weigh
// nothing) is handled outside the loop, so the loop keeps its accumulators in registers.
template <class T, int M, int G, class S>
inline __attribute__((always_inline)) void Kernel(const BlockData<T, S>& d, const T* e,
                                                  const T* cost, int want_grad_rt, Sums* out) {
  using L = Lanes<T>;
  using V = typename L::V;
  using Vu = typename L::Vu;
  constexpr int kN = L::kN;
  const int m = M > 0 ? M : d.m;
  if (m < 0 || m > 64) __builtin_unreachable();  // (so the compiler sees g[m], cw[m] are set)
  const int want_grad = G >= 0 ? G : want_grad_rt;
  constexpr int kA = M > 0 ? M + 1 : 65;  // array size
  const V zero = {};
  V ev[kA], cost_full[kA], cost_last[kA];
#pragma GCC unroll 8
  for (int q = 0; q < m; ++q) ev[q] = zero + e[q];
  // Cost weights per lane: the padding lanes of the last block weigh nothing (mask 0/1, so the
  // products are exact and the other blocks can use the unmasked costs).
  const V mk_last = *reinterpret_cast<const Vu*>(d.mask.data());
#pragma GCC unroll 8
  for (int q = 0; q <= m; ++q) {
    cost_full[q] = zero + cost[q];
    cost_last[q] = cost_full[q] * mk_last;
  }
  const std::size_t a_stride = static_cast<std::size_t>(m) * kN, c_stride = m + 1;
  for (int b0 = 0; b0 < d.blocks; b0 += std::min(L::kFlushBlocks, d.blocks - b0)) {
    const int b1 = b0 + std::min(L::kFlushBlocks, d.blocks - b0);
    const int full_end = b1 == d.blocks ? b1 - 1 : b1;
    V so = zero, sc = zero, go[kA], gc[kA];
#pragma GCC unroll 8
    for (int q = 0; q < m; ++q) go[q] = gc[q] = zero;
    const S* a = &d.a[b0 * a_stride];
    const typename L::Bits* crb = &d.corr[b0 * c_stride];
    for (int b = b0; b < full_end; ++b, a += a_stride, crb += c_stride)
      Block<T, M, G, S>(a, crb, m, want_grad, ev, cost_full, so, sc, go, gc);
    if (full_end < b1) Block<T, M, G, S>(a, crb, m, want_grad, ev, cost_last, so, sc, go, gc);
    for (int l = 0; l < kN; ++l) {
      out->so += so[l];
      out->sc += sc[l];
      for (int q = 0; q < m; ++q) {
        out->go[q] += go[q][l];
        out->gc[q] += gc[q][l];
      }
    }
  }
}

template <class T, int M, class S>
inline __attribute__((always_inline)) void KernelDispatch(const BlockData<T, S>& d, const T* e,
                                                          const T* cost, int g, Sums* out) {
  switch (g) {
    case 0:
      Kernel<T, M, 0, S>(d, e, cost, g, out);
      break;
    case 1:
      Kernel<T, M, 1, S>(d, e, cost, g, out);
      break;
    case 2:
      Kernel<T, M, 2, S>(d, e, cost, g, out);
      break;
    default:
      Kernel<T, M, 3, S>(d, e, cost, g, out);
      break;
  }
}
template <class T, int M, class S>
__attribute__((target("avx512f"))) void KernelAvx512(const BlockData<T, S>& d, const T* e,
                                                     const T* cost, int g, Sums* out) {
  KernelDispatch<T, M, S>(d, e, cost, g, out);
}
template <class T, int M, class S>
__attribute__((target("avx2"))) void KernelAvx2(const BlockData<T, S>& d, const T* e, const T* cost,
                                                int g, Sums* out) {
  KernelDispatch<T, M, S>(d, e, cost, g, out);
}
template <class T, int M, class S>
void KernelBase(const BlockData<T, S>& d, const T* e, const T* cost, int g, Sums* out) {
  KernelDispatch<T, M, S>(d, e, cost, g, out);
}
template <class T, class S = T>
using KernelFn = void (*)(const BlockData<T, S>&, const T*, const T*, int, Sums*);

#if defined(__x86_64__)
// The float kernel on AVX-512: the same smoothed terms in less than half the vector operations
// of Block<float> (per 16 samples and exit: 10 with both gradients, 9 with the accuracy gradient
// alone, ~22 and ~16 there), written with intrinsics because the vector extensions can name neither
// mask registers nor the approximate reciprocal. Its arithmetic differs from Block<float> by
// rounding only (see IpppOptions::precision):
// * r = 1 / (1 + u) is rcp14 (relative error < 2^-14) refined by one Newton step
//   r0 + r0 (1 - d r0) in FMA form, relative error ~2^-28 before rounding: as accurate as the
//   division, which was the loop's bottleneck (one 16-lane division per sample block and exit
//   costs ~20 multiplies of throughput on this kind of CPU); d = 1 + a e is one FMA.
// * Terms by arrival probabilities: with reach_q the probability of arriving at exit q
//   (reach_0 = 1, reach_{q+1} = reach_q (1 - cur_q), one FMA, rounded in absolute terms: an
//   error below 2^-24 reach_q), a sample's smoothed value sum_q g_q w_q (g_q = reach_q -
//   reach_{q+1}: stopping at q) is w_0 + sum_{q>=1} (w_q - w_{q-1}) reach_q, and its
//   derivative by t_q is (up to sg k) -cur_q R_q with R_q = sum_{b>q} (w_b - w_{b-1}) reach_b:
//   reach_b for b > q carries the factor 1 - cur_q, whose derivative is -cur_q (1 - cur_q).
//   So each exit and term costs one FMA for the suffix sum and one for the gradient. For the
//   cost the steps w_b - w_{b-1} are constants; for the accuracy they are +1, 0 or -1 per
//   sample: the layout holds their two masks (EncodeSteps), so the suffix sum takes one masked
//   add and one masked subtract, straight from mask registers. The w_0 term is counted once
//   (the samples correct at the first kept exit, and w_0 times the number of samples).
// * The padding lanes of the last block start with reach = 0, so every term of theirs is 0.
// * Lane sums are float within chunks of 64 blocks (1,024 samples) as in Block<float>, then
//   converted and added in double lanes, reduced once at the end.
template <int M, int G>
__attribute__((target("avx512f"), always_inline)) inline void BlockFma(
    const float* a, const int* crb, int m, int want_grad, __m512 reach, const __m512* ev,
    const __m512* dw, __m512& so, __m512& sc, __m512* acc_o, __m512* acc_c) {
  constexpr int kA = M > 0 ? M + 1 : 65;
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 cur[kA], rch[kA];  // rch[q]: reach_q, the probability of arriving at exit q
  rch[0] = reach;
#pragma GCC unroll 8
  for (int q = 0; q < m; ++q) {
    const __m512 d = _mm512_fmadd_ps(_mm512_load_ps(a + 16 * q), ev[q], one);
    const __m512 r0 = _mm512_maskz_rcp14_ps(0xFFFF, d);  // (maskz: no undefined source)
    const __m512 r = _mm512_fmadd_ps(r0, _mm512_fnmadd_ps(d, r0, one), r0);
    cur[q] = r;
    rch[q + 1] = _mm512_fnmadd_ps(rch[q], r, rch[q]);  // reach_q (1 - cur_q)
  }
  // Suffix sums over exits b > q of (c_b - c_{b-1}) reach_b and (w_b - w_{b-1}) reach_b.
  __m512 ro = _mm512_setzero_ps(), rc = _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int q = m - 1; q >= 0; --q) {
    typedef unsigned short Half __attribute__((may_alias));
    const Half* steps = reinterpret_cast<const Half*>(crb + q + 1);
    ro = _mm512_mask_add_ps(ro, static_cast<__mmask16>(steps[0]), ro, rch[q + 1]);
    ro = _mm512_mask_sub_ps(ro, static_cast<__mmask16>(steps[1]), ro, rch[q + 1]);
    rc = _mm512_fmadd_ps(dw[q + 1], rch[q + 1], rc);
    if (want_grad & 1) acc_o[q] = _mm512_fmadd_ps(cur[q], ro, acc_o[q]);
    if (want_grad & 2) acc_c[q] = _mm512_fmadd_ps(cur[q], rc, acc_c[q]);
  }
  so = _mm512_add_ps(so, ro);
  sc = _mm512_add_ps(sc, rc);
}

// x's 16 float lanes added to the 8 double lanes of acc.
__attribute__((target("avx512f"), always_inline)) inline void AddWide(__m512d& acc, __m512 x) {
  const __m512d lo = _mm512_maskz_cvtps_pd(
      0xFF, _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, _mm512_castps_pd(x), 0)));
  const __m512d hi = _mm512_maskz_cvtps_pd(
      0xFF, _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, _mm512_castps_pd(x), 1)));
  acc = _mm512_add_pd(acc, _mm512_add_pd(lo, hi));
}

// The sum of acc's 8 lanes, in lane order.
__attribute__((target("avx512f"), always_inline)) inline double SumLanes(__m512d acc) {
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, acc);
  double s = 0.0;
  for (double v : lanes) s += v;
  return s;
}

template <int M, int G>
__attribute__((target("avx512f"), always_inline)) inline void KernelFmaImpl(
    const BlockData<float>& d, const float* e, const float* cost, int want_grad_rt, Sums* out) {
  constexpr int kN = 16, kFlush = Lanes<float>::kFlushBlocks;
  const int m = M > 0 ? M : d.m;
  if (m < 0 || m > 64) __builtin_unreachable();
  const int want_grad = G >= 0 ? G : want_grad_rt;
  constexpr int kA = M > 0 ? M + 1 : 65;
  __m512 ev[kA], dw[kA];
#pragma GCC unroll 8
  for (int q = 0; q < m; ++q) ev[q] = _mm512_set1_ps(e[q]);
#pragma GCC unroll 8
  for (int q = 1; q <= m; ++q) dw[q] = _mm512_set1_ps(cost[q] - cost[q - 1]);
  const __m512 one = _mm512_set1_ps(1.0f), reach_last = _mm512_load_ps(d.mask.data());
  const __m512d zero_d = _mm512_setzero_pd();
  __m512d dso = zero_d, dsc = zero_d, dacc_o[kA], dacc_c[kA];
#pragma GCC unroll 8
  for (int q = 0; q < m; ++q) dacc_o[q] = dacc_c[q] = zero_d;
  const std::size_t a_stride = static_cast<std::size_t>(m) * kN, c_stride = m + 1;
  for (int b0 = 0; b0 < d.blocks; b0 += std::min(kFlush, d.blocks - b0)) {
    const int b1 = b0 + std::min(kFlush, d.blocks - b0);
    const int full_end = b1 == d.blocks ? b1 - 1 : b1;
    const __m512 zero = _mm512_setzero_ps();
    __m512 so = zero, sc = zero, acc_o[kA], acc_c[kA];
#pragma GCC unroll 8
    for (int q = 0; q < m; ++q) acc_o[q] = acc_c[q] = zero;
    const float* a = &d.a[b0 * a_stride];
    const int* crb = &d.corr[b0 * c_stride];
    for (int b = b0; b < full_end; ++b, a += a_stride, crb += c_stride)
      BlockFma<M, G>(a, crb, m, want_grad, one, ev, dw, so, sc, acc_o, acc_c);
    if (full_end < b1)
      BlockFma<M, G>(a, crb, m, want_grad, reach_last, ev, dw, so, sc, acc_o, acc_c);
    AddWide(dso, so);
    AddWide(dsc, sc);
    for (int q = 0; q < m; ++q) {
      if (want_grad & 1) AddWide(dacc_o[q], acc_o[q]);
      if (want_grad & 2) AddWide(dacc_c[q], acc_c[q]);
    }
  }
  // The first exit's terms: every sample arrives there (reach_0 = 1), so they are the number of
  // samples correct at it and w_0 times the number of samples.
  out->so += static_cast<double>(d.correct0) + SumLanes(dso);
  out->sc += static_cast<double>(cost[0]) * d.samples + SumLanes(dsc);
  for (int q = 0; q < m; ++q) {
    if (want_grad & 1) out->go[q] -= SumLanes(dacc_o[q]);
    if (want_grad & 2) out->gc[q] -= SumLanes(dacc_c[q]);
  }
}

template <int M>
__attribute__((target("avx512f"))) void KernelFma512(const BlockData<float>& d, const float* e,
                                                     const float* cost, int g, Sums* out) {
  switch (g) {
    case 0:
      KernelFmaImpl<M, 0>(d, e, cost, g, out);
      break;
    case 1:
      KernelFmaImpl<M, 1>(d, e, cost, g, out);
      break;
    case 2:
      KernelFmaImpl<M, 2>(d, e, cost, g, out);
      break;
    default:
      KernelFmaImpl<M, 3>(d, e, cost, g, out);
      break;
  }
}
#endif

// Whether PickKernel<float> picks KernelFma512, whose layout EncodeSteps rewrites.
bool FloatKernelIsFma512() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

// KernelFma512's correctness words: word q >= 1 of a block holds in its low 16 bits the lanes
// correct at kept exit q but not at q-1 and in its high 16 bits those correct at q-1 but not at q
// (the masks of c_q - c_{q-1} = +1 and -1); word 0 stays, and its bits are counted.
void EncodeSteps(BlockData<float>* d) {
  const int m = d->m;
  d->correct0 = 0;
  for (int b = 0; b < d->blocks; ++b) {
    int* w = &d->corr[static_cast<std::size_t>(b) * (m + 1)];
    d->correct0 += __builtin_popcount(static_cast<unsigned>(w[0]));
    for (int q = m; q >= 1; --q) {
      const unsigned now = static_cast<unsigned>(w[q]), before = static_cast<unsigned>(w[q - 1]);
      w[q] = static_cast<int>((now & ~before) | ((before & ~now) << 16));
    }
  }
}

template <class T, int M, class S = T>
KernelFn<T, S> PickKernelM() {
#if defined(__x86_64__)
  if constexpr (std::is_same_v<T, float>) {
    if (__builtin_cpu_supports("avx512f")) return &KernelFma512<M>;
  }
#endif
  if (__builtin_cpu_supports("avx512f")) return &KernelAvx512<T, M, S>;
  if (__builtin_cpu_supports("avx2")) return &KernelAvx2<T, M, S>;
  return &KernelBase<T, M, S>;
}
template <class T, class S = T>
KernelFn<T, S> PickKernel(int m) {
  __builtin_cpu_init();
  // (Float storage with double arithmetic serves only large problems: the run-time-m kernel.)
  if constexpr (!std::is_same_v<S, T>) {
    return PickKernelM<T, 0, S>();
  } else {
    switch (m) {
      case 1:
        return PickKernelM<T, 1>();
      case 2:
        return PickKernelM<T, 2>();
      case 3:
        return PickKernelM<T, 3>();
      case 4:
        return PickKernelM<T, 4>();
      case 5:
        return PickKernelM<T, 5>();
      case 6:
        return PickKernelM<T, 6>();
      default:
        return PickKernelM<T, 0>();
    }
  }
}

// While alive, float results and inputs below float's normal range count as zero (x86 MXCSR FTZ
// and DAZ; restored on destruction). The float kernel's products of many stop probabilities fall
// there at tight budgets, where each subnormal operation costs ~100 cycles: the terms involved are
// below 1e-38 of a sum that is O(1) per sample. Every x86 CPU flushes alike, so the vector
// variants still agree; other CPUs keep IEEE subnormals.
struct FlushSubnormals {
#if defined(__x86_64__) || defined(__i386__)
  unsigned saved = _mm_getcsr();
  FlushSubnormals() { _mm_setcsr(saved | 0x8040); }
  ~FlushSubnormals() { _mm_setcsr(saved); }
#endif
};

// The smoothed P2 of one problem, laid out for fast repeated evaluation. For kept exit q < m-1 and
// sample n the smoothed stop indicator is 1 / (1 + u), u = exp(sg k (x - t)) with sg = +1 for an
// ascending measure (stops when x < t) and -1 for a descending one. Since u factorises as
// exp(sg k (x - c0)) * exp(-sg k (t - c0)), the first factor is computed once per sample and each
// evaluation needs one exp per exit instead of one per sample and exit (the hot loop of iPPP).
class Smoothed {
 public:
  // single: also lay out a float copy for Eval(..., single = true) (see IpppOptions::precision).
  Smoothed(const ThresholdProblem& p, double k, double box_lo, double box_hi, bool single = false)
      : n_(p.n()), m_(static_cast<int>(p.kept.size()) - 1), k_(k) {
    sg_ = p.order == ScoreOrder::kAscending ? 1.0 : -1.0;
    c0_ = 0.5 * (box_lo + box_hi);
    double dev_t = 0.5 * std::fabs(box_hi - box_lo), dev_x = 0.0;
    auto score = [&](int q, int i) { return (*p.scores)(p.kept[q], i); };
    for (int q = 0; q < m_; ++q)
      for (int i = 0; i < n_; ++i) dev_x = std::max(dev_x, std::fabs(score(q, i) - c0_));
    factored_ = k * (dev_x + dev_t) < 650.0;
    cost_.resize(m_ + 1);
    for (int q = 0; q <= m_; ++q) cost_[q] = p.stop_cost[p.kept[q]];
    if (factored_ && m_ <= 64) {
      // The blocked layouts only (the sample-major copies below serve the scalar fallback).
      // float needs u = exp(sg k (x - t)) within its range: |k (x - t)| < 80.
      const bool with_float = single && k * (dev_x + dev_t) < 80.0;
      auto a = [&](int q, int i) { return std::exp(sg_ * k * (score(q, i) - c0_)); };
      kernel_ = PickKernel<double>(m_);
      // The single-precision iteration needs double only for its warm start: above
      // ippp_double_layout_limit sample-exits it keeps no double layout (8 bytes per sample-exit)
      // and the warm start recomputes the exponentials window by window (see Eval).
      const bool large = static_cast<std::size_t>(n_) * m_ > ippp_double_layout_limit;
      const bool keep_double = !with_float || !large;
      if (!with_float && large && k * dev_x < 80.0) {
        // Double arithmetic only (ippp-nlopt, or `double` precision), above the same size: the
        // exponentials are stored in float (4 bytes per sample-exit instead of 8; each one
        // rounded to float, relative 6e-8) and widened exactly in the kernel.
        blocks_fs_ = Pool<BlockData<double, float>>().Take();
        Fill(p, blocks_fs_.get(), 0, n_, a);
        kernel_fs_ = PickKernel<double, float>(m_);
        return;
      }
      if (keep_double) {
        blocks_ = Pool<BlockData<double>>().Take();
        Fill(p, blocks_.get(), 0, n_, a);
      } else {
        problem_ = &p;
      }
      if (with_float) {
        blocks_f_ = Pool<BlockData<float>>().Take();
        if (keep_double) {  // (the same values, rounded to float, without a second exp)
          const BlockData<double>& d = *blocks_;
          Fill(p, blocks_f_.get(), 0, n_, [&](int q, int i) {
            return d.a[(static_cast<std::size_t>(i / 8) * m_ + q) * 8 + i % 8];
          });
        } else {
          Fill(p, blocks_f_.get(), 0, n_, a);
        }
        if (FloatKernelIsFma512()) EncodeSteps(blocks_f_.get());
        kernel_f_ = PickKernel<float>(m_);
        cost_f_.assign(cost_.begin(), cost_.end());
      }
      return;
    }
    x_.resize(static_cast<std::size_t>(n_) * m_);
    for (int i = 0; i < n_; ++i)
      for (int q = 0; q < m_; ++q) x_[static_cast<std::size_t>(i) * m_ + q] = score(q, i);
    if (factored_) {
      a_.resize(x_.size());
      for (std::size_t j = 0; j < x_.size(); ++j) a_[j] = std::exp(sg_ * k * (x_[j] - c0_));
    }
    corr_.resize(static_cast<std::size_t>(n_) * (m_ + 1));
    for (int i = 0; i < n_; ++i)
      for (int q = 0; q <= m_; ++q)
        corr_[static_cast<std::size_t>(i) * (m_ + 1) + q] = (*p.correct)(p.kept[q], i);
  }

  int m() const { return m_; }

  // Smoothed accuracy and mean cost; gradients when want_grad (bit 1: accuracy, bit 2: cost; the
  // scalar fallback always computes both).
  // single: use the float kernel when it was laid out (else double).
  bool has_single() const { return kernel_f_ != nullptr; }
  void Eval(const double* t, bool want_grad, SmoothedValue* out) const {
    Eval(t, want_grad ? 3 : 0, out);
  }
  void Eval(const double* t, int want_grad, SmoothedValue* out, bool single = false) const {
    const int m = m_;
    if (kernel_ != nullptr) {  // (factored, m <= 64: no heap storage per evaluation)
      double e[64];
      for (int q = 0; q < m; ++q) e[q] = std::exp(-sg_ * k_ * (t[q] - c0_));
      Sums sums;
      if (single && kernel_f_ != nullptr) {
        float ef[64];
        for (int q = 0; q < m; ++q) ef[q] = static_cast<float>(e[q]);
        const FlushSubnormals ftz;
        kernel_f_(*blocks_f_, ef, cost_f_.data(), want_grad, &sums);
      } else if (blocks_ != nullptr) {
        kernel_(*blocks_, e, cost_.data(), want_grad, &sums);
      } else if (blocks_fs_ != nullptr) {
        kernel_fs_(*blocks_fs_, e, cost_.data(), want_grad, &sums);
      } else {
        // Windows of kWindow samples, their exponentials computed afresh (each window's lane
        // sums are gathered in double; the sums agree with the full layout's to rounding).
        constexpr int kWindow = 4096;
        BlockData<double> win;
        const ThresholdProblem& p = *problem_;
        for (int i0 = 0; i0 < n_; i0 += kWindow) {
          const int i1 = std::min(n_, i0 + kWindow);
          Fill(p, &win, i0, i1, [&](int q, int i) {
            return std::exp(sg_ * k_ * ((*p.scores)(p.kept[q], i) - c0_));
          });
          kernel_(win, e, cost_.data(), want_grad, &sums);
        }
      }
      out->accuracy = sums.so / n_;
      out->cost = sums.sc / n_;
      if (want_grad) {
        const double f = sg_ * k_ / n_;
        out->grad_accuracy.resize(m);
        out->grad_cost.resize(m);
        for (int q = 0; q < m; ++q) {
          out->grad_accuracy[q] = f * sums.go[q];
          out->grad_cost[q] = f * sums.gc[q];
        }
      }
      return;
    }
    std::vector<double> e(m), cur(m), prev(m), g(m + 1);
    if (factored_) {
      for (int q = 0; q < m; ++q) e[q] = std::exp(-sg_ * k_ * (t[q] - c0_));
    }
    double so = 0.0, sc = 0.0;
    std::vector<double> go(want_grad ? m : 0, 0.0), gc(want_grad ? m : 0, 0.0);
    const double* a = factored_ ? a_.data() : nullptr;
    const double* x = x_.data();
    const double* cr = corr_.data();
    const double* cost = cost_.data();
    for (int i = 0; i < n_; ++i, x += m, cr += m + 1) {
      double reach = 1.0;
      for (int q = 0; q < m; ++q) {
        double u;
        if (factored_) {
          u = a[static_cast<std::size_t>(i) * m + q] * e[q];
        } else {
          u = std::exp(sg_ * k_ * (x[q] - t[q]));
        }
        const double r = 1.0 / (1.0 + u);  // stop
        cur[q] = r;
        prev[q] = std::isinf(u) ? 1.0 : u * r;  // continue
        g[q] = reach * r;
        reach *= prev[q];
      }
      g[m] = reach;
      double oi = 0.0, ci = 0.0;
      if (!want_grad) {
        for (int q = 0; q <= m; ++q) {
          oi += g[q] * cr[q];
          ci += g[q] * cost[q];
        }
      } else {
        // Suffix sums S_q = sum_{b > q} g_b w_b give d/dt_q = sg k (g_q w_q prev_q - cur_q S_q).
        double so_suf = g[m] * cr[m], sc_suf = g[m] * cost[m];
        for (int q = m - 1; q >= 0; --q) {
          const double wo = g[q] * cr[q], wc = g[q] * cost[q];
          go[q] += wo * prev[q] - cur[q] * so_suf;
          gc[q] += wc * prev[q] - cur[q] * sc_suf;
          so_suf += wo;
          sc_suf += wc;
        }
        oi = so_suf;
        ci = sc_suf;
      }
      so += oi;
      sc += ci;
    }
    out->accuracy = so / n_;
    out->cost = sc / n_;
    if (want_grad) {
      const double f = sg_ * k_ / n_;
      out->grad_accuracy.resize(m);
      out->grad_cost.resize(m);
      for (int q = 0; q < m; ++q) {
        out->grad_accuracy[q] = f * go[q];
        out->grad_cost[q] = f * gc[q];
      }
    }
  }

 private:
  int n_, m_;
  double k_, sg_, c0_;
  bool factored_ = false;
  std::vector<double> x_, a_;  // N x m, sample-major
  std::vector<double> corr_;   // N x (m+1)
  std::vector<double> cost_;   // m+1
  // Blocked layouts come from a per-thread pool and go back to it: on the shared VM the
  // first-touch page faults and zeroing of fresh megabytes cost as much as a third of a solve.
  template <class D>
  struct BufferPool {
    std::vector<std::unique_ptr<D>> free;
    std::shared_ptr<D> Take() {
      std::unique_ptr<D> d;
      if (free.empty()) {
        d = std::make_unique<D>();
      } else {
        d = std::move(free.back());
        free.pop_back();
      }
      BufferPool* pool = this;
      return std::shared_ptr<D>(d.release(), [pool](D* b) { pool->free.emplace_back(b); });
    }
  };
  template <class D>
  static BufferPool<D>& Pool() {
    thread_local BufferPool<D> pool;
    return pool;
  }

  std::shared_ptr<BlockData<double>> blocks_;  // null: double terms evaluated by windows
  const ThresholdProblem* problem_ = nullptr;  // (then the problem, for the windows)
  KernelFn<double> kernel_ = nullptr;
  std::shared_ptr<BlockData<double, float>> blocks_fs_;  // (see the constructor)
  KernelFn<double, float> kernel_fs_ = nullptr;
  std::shared_ptr<BlockData<float>> blocks_f_;
  KernelFn<float> kernel_f_ = nullptr;
  std::vector<float> cost_f_;

  // The blocked layout of a(q, i) (rounded to T) and of the correctness bits, samples i0..i1-1.
  template <class T, class S, class A>
  void Fill(const ThresholdProblem& p, BlockData<T, S>* d, int i0, int i1, A a) const {
    constexpr int kN = Lanes<T>::kN;
    using Bits = typename Lanes<T>::Bits;
    const int n = i1 - i0;
    d->m = m_;
    d->samples = n;
    d->blocks = (n + kN - 1) / kN;
    d->a.resize(static_cast<std::size_t>(d->blocks) * m_ * kN);
    d->corr.resize(static_cast<std::size_t>(d->blocks) * (m_ + 1));
    d->mask.resize(kN);
    for (int l = 0; l < kN; ++l) d->mask[l] = (d->blocks - 1) * kN + l < n ? T(1) : T(0);
    for (int b = 0; b < d->blocks; ++b)
      for (int q = 0; q < m_; ++q) {
        S* out = &d->a[(static_cast<std::size_t>(b) * m_ + q) * kN];
        for (int l = 0; l < kN; ++l) {
          const int j = kN * b + l;
          out[l] = j < n ? static_cast<S>(a(q, i0 + j)) : S(1);
        }
      }
    // (Branch-free: whether a sample is correct is unpredictable, and the branch made this
    // loop a sixth of a small solve's set-up.)
    for (int q = 0; q <= m_; ++q) {
      const int e = p.kept[q];
      for (int b = 0; b < d->blocks; ++b) {
        const int j0 = kN * b, j1 = std::min(n, j0 + kN);
        Bits word = 0;
        for (int j = j0; j < j1; ++j)
          word |= static_cast<Bits>(
              static_cast<Bits>(static_cast<double>((*p.correct)(e, i0 + j)) != 0.0) << (j - j0));
        d->corr[static_cast<std::size_t>(b) * (m_ + 1) + q] = word;
      }
    }
  }
};

// Brent's root finder, following SciPy's brentq (scipy/optimize/Zeros/brentq.c) step for step so
// that the warm start matches the published iPPP code of Tan et al. (AAAI 2021), which calls
// root_scalar(..., method='brentq'); written out because no listed library offers a bracketed
// scalar root finder.
template <class F>
double Brentq(F f, double xa, double xb, double xtol = 2e-12, double rtol = 8.881784197001252e-16,
              int iter = 100) {
  double xpre = xa, xcur = xb, xblk = 0.0, fblk = 0.0, spre = 0.0, scur = 0.0;
  double fpre = f(xpre), fcur = f(xcur);
  if (fpre == 0) return xpre;
  if (fcur == 0) return xcur;
  for (int i = 0; i < iter; ++i) {
    if (fpre != 0 && fcur != 0 && (std::signbit(fpre) != std::signbit(fcur))) {
      xblk = xpre;
      fblk = fpre;
      spre = scur = xcur - xpre;
    }
    if (std::fabs(fblk) < std::fabs(fcur)) {
      xpre = xcur;
      xcur = xblk;
      xblk = xpre;
      fpre = fcur;
      fcur = fblk;
      fblk = fpre;
    }
    const double delta = (xtol + rtol * std::fabs(xcur)) / 2;
    const double sbis = (xblk - xcur) / 2;
    if (fcur == 0 || std::fabs(sbis) < delta) return xcur;
    if (std::fabs(spre) > delta && std::fabs(fcur) < std::fabs(fpre)) {
      double stry;
      if (xpre == xblk) {
        stry = -fcur * (xcur - xpre) / (fcur - fpre);
      } else {
        const double dpre = (fpre - fcur) / (xpre - xcur);
        const double dblk = (fblk - fcur) / (xblk - xcur);
        stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre));
      }
      if (2 * std::fabs(stry) < std::min(std::fabs(spre), 3 * std::fabs(sbis) - delta)) {
        spre = scur;
        scur = stry;
      } else {
        spre = sbis;
        scur = sbis;
      }
    } else {
      spre = sbis;
      scur = sbis;
    }
    xpre = xcur;
    fpre = fcur;
    if (std::fabs(scur) > delta)
      xcur += scur;
    else
      xcur += (sbis > 0 ? delta : -delta);
    fcur = f(xcur);
  }
  return xcur;
}

void Project(std::vector<double>& t, double lo, double hi) {
  for (double& v : t) v = std::min(std::max(v, lo), hi);
}

// Warm start thresholds t(s) = t_all + s d, projected (t_all: every sample stops).
std::vector<double> WarmPoint(int m, ScoreOrder order, double lo, double hi, double s) {
  std::vector<double> t(m, order == ScoreOrder::kAscending ? hi - s : lo + s);
  Project(t, lo, hi);
  return t;
}

std::vector<double> WarmStart(const Smoothed& sm, const ThresholdProblem& p, double lo, double hi) {
  // Upstream: c(s) = mean smoothed cost with cost/budget, minus 1.
  std::vector<double> rel(p.stop_cost.size());
  SmoothedValue v;
  auto f = [&](double s) {
    const std::vector<double> t = WarmPoint(sm.m(), p.order, lo, hi, s);
    sm.Eval(t.data(), false, &v);
    return v.cost / p.budget - 1.0;
  };
  const double width = hi - lo;
  const double f0 = f(0.0), f1 = f(width);
  double s;
  if (f0 >= 0.0)
    s = 0.0;
  else if (f1 <= 0.0)
    s = width;
  else
    s = Brentq(f, 0.0, width);
  return WarmPoint(sm.m(), p.order, lo, hi, s);
}

}  // namespace

std::string IpppOptions::Validate() const {
  std::string out;
  if (!(steepness > 0 && std::isfinite(steepness)))
    out += "ippp.steepness = " + Num(steepness) + ": must be > 0\n";
  if (!std::isnan(beta) && !(beta >= 0 && std::isfinite(beta)))
    out += "ippp.beta = " + Num(beta) + ": must be >= 0 (or unset for automatic)\n";
  if (!(beta_scale > 0)) out += "ippp.beta_scale = " + Num(beta_scale) + ": must be > 0\n";
  if (!(gamma > 0)) out += "ippp.gamma = " + Num(gamma) + ": must be > 0\n";
  if (outer_iters < 1)
    out += "ippp.outer_iters = " + std::to_string(outer_iters) + ": must be >= 1\n";
  if (inner_iters < 1)
    out += "ippp.inner_iters = " + std::to_string(inner_iters) + ": must be >= 1\n";
  if (!(mu > 0)) out += "ippp.mu = " + Num(mu) + ": must be > 0\n";
  if (!(eta > mu)) out += "ippp.eta = " + Num(eta) + ": must be > mu = " + Num(mu) + "\n";
  if (precision != "single" && precision != "double")
    out += "ippp.precision = '" + precision + "': must be single or double\n";
  if (nlopt_algorithm != "slsqp" && nlopt_algorithm != "mma" && nlopt_algorithm != "auglag-lbfgs")
    out += "ippp.nlopt_algorithm = '" + nlopt_algorithm + "': must be slsqp, mma or auglag-lbfgs\n";
  if (!(nlopt_xtol > 0)) out += "ippp.nlopt_xtol = " + Num(nlopt_xtol) + ": must be > 0\n";
  if (nlopt_max_evals < 1)
    out += "ippp.nlopt_max_evals = " + std::to_string(nlopt_max_evals) + ": must be >= 1\n";
  return out;
}

SmoothedValue EvaluateSmoothed(const ThresholdProblem& problem, double steepness,
                               const std::vector<double>& t, const std::string& precision) {
  double lo, hi;
  internal::InferBox(problem, &lo, &hi);
  const bool single = precision == "single";
  Smoothed sm(problem, steepness, lo, hi, single);
  SmoothedValue v;
  sm.Eval(t.data(), 3, &v, single);
  return v;
}

std::vector<double> IpppWarmStart(const ThresholdProblem& problem, double steepness, double box_lo,
                                  double box_hi) {
  return IpppWarmStart(problem, steepness, box_lo, box_hi, "double");
}

std::vector<double> IpppWarmStart(const ThresholdProblem& problem, double steepness, double box_lo,
                                  double box_hi, const std::string& precision) {
  Smoothed sm(problem, steepness, box_lo, box_hi, precision == "single");
  return WarmStart(sm, problem, box_lo, box_hi);
}

double IpppAutoBeta(const ThresholdProblem& p, double beta_scale) {
  const double span = p.MaxCost() - p.MinCost();
  return span > 0 ? beta_scale / (span * span) : beta_scale;
}

ThresholdSummary SolveIppp(const ThresholdProblem& p, const IpppOptions& o, double lo, double hi) {
  const auto t0 = std::chrono::steady_clock::now();
  ThresholdSummary s;
  s.method = "ippp";
  s.policy.kept = p.kept;
  const bool single = o.precision == "single";
  const Smoothed sm(p, o.steepness, lo, hi, single);
  const int m = sm.m();
  const double beta = std::isnan(o.beta) ? IpppAutoBeta(p, o.beta_scale) : o.beta;
  std::vector<double> t = o.warm_start || o.initial.empty() ? WarmStart(sm, p, lo, hi) : o.initial;
  Project(t, lo, hi);
  const double lr = (o.eta - o.mu) / (o.eta + o.mu);
  std::vector<double> v(m), w(m), v_old(m), grad(m), opt_t = t;
  double opt = std::numeric_limits<double>::infinity();
  SmoothedValue val, val_cost;
  bool penalty_active = true;
  for (int it = 0; it < o.outer_iters; ++it) {
    v = t;
    w = t;
    for (int j = 0; j < o.inner_iters; ++j) {
      v_old = v;
      // The cost gradient is only used while the penalty is active (c > 0): predict that from
      // the previous step and on a miss add a pass for the cost gradient alone (each term is
      // computed by the same operations in every pass, so results are identical either way).
      sm.Eval(w.data(), penalty_active ? 3 : 1, &val, single);
      double c = val.cost - p.budget;
      if (c > 0.0 && !penalty_active) {
        sm.Eval(w.data(), 2, &val_cost, single);
        val.grad_cost.swap(val_cost.grad_cost);
      }
      penalty_active = c > 0.0;
      for (int q = 0; q < m; ++q) {
        grad[q] = -val.grad_accuracy[q] + o.gamma * (w[q] - t[q]);
        if (c > 0.0) grad[q] += beta * c * val.grad_cost[q];
        v[q] = std::min(std::max(w[q] - grad[q] / o.eta, lo), hi);
      }
      for (int q = 0; q < m; ++q) w[q] = v[q] + lr * (v[q] - v_old[q]);
    }
    double step = 0.0;
    for (int q = 0; q < m; ++q) step += (v[q] - t[q]) * (v[q] - t[q]);
    if (step < opt) {  // Algorithm 1 line 10: keep the iterate before the smallest step
      opt = step;
      opt_t = t;
    }
    s.trace.push_back(step);
    t = v;
  }
  s.policy.thresholds = opt_t;
  s.fit = p.Evaluate(s.policy);
  s.iterations = o.outer_iters * o.inner_iters;
  s.outcome = Outcome::kConverged;
  std::ostringstream msg;
  msg << "beta " << beta << ", smallest outer step^2 " << opt;
  s.message = msg.str();
  s.seconds = Seconds(t0);
  return s;
}

namespace {
// NLopt's result codes as named outcomes (the negative ones arrive as C++ exceptions).
Outcome NloptOutcome(nlopt::result r, std::string* note) {
  switch (r) {
    case nlopt::SUCCESS:
      *note = "converged (NLopt SUCCESS)";
      return Outcome::kConverged;
    case nlopt::STOPVAL_REACHED:
      *note = "converged: objective stop value reached";
      return Outcome::kConverged;
    case nlopt::FTOL_REACHED:
      *note = "converged: objective tolerance reached";
      return Outcome::kConverged;
    case nlopt::XTOL_REACHED:
      *note = "converged: step below nlopt_xtol";
      return Outcome::kConverged;
    case nlopt::MAXEVAL_REACHED:
      *note = "stopped at nlopt_max_evals evaluations";
      return Outcome::kIterationLimit;
    case nlopt::MAXTIME_REACHED:
      *note = "stopped at the time limit";
      return Outcome::kIterationLimit;
    default:
      break;
  }
  *note = "NLopt failed (code " + std::to_string(static_cast<int>(r)) + ")";
  return Outcome::kFailure;
}
}  // namespace

ThresholdSummary SolveIpppNlopt(const ThresholdProblem& p, const IpppOptions& o, double lo,
                                double hi) {
  const auto t0 = std::chrono::steady_clock::now();
  ThresholdSummary s;
  s.method = "ippp-nlopt";
  s.policy.kept = p.kept;
  const Smoothed sm(p, o.steepness, lo, hi);
  const int m = sm.m();
  std::vector<double> x = o.warm_start || o.initial.empty() ? WarmStart(sm, p, lo, hi) : o.initial;
  Project(x, lo, hi);
  struct Ctx {
    const Smoothed* sm;
    double budget;
    int evals = 0;
  } ctx{&sm, p.budget};
  auto objective = [](unsigned n, const double* t, double* grad, void* data) -> double {
    Ctx* c = static_cast<Ctx*>(data);
    SmoothedValue v;
    c->sm->Eval(t, grad != nullptr ? 1 : 0, &v);
    ++c->evals;
    if (grad)
      for (unsigned q = 0; q < n; ++q) grad[q] = -v.grad_accuracy[q];
    return -v.accuracy;
  };
  auto constraint = [](unsigned n, const double* t, double* grad, void* data) -> double {
    Ctx* c = static_cast<Ctx*>(data);
    SmoothedValue v;
    c->sm->Eval(t, grad != nullptr ? 2 : 0, &v);
    if (grad)
      for (unsigned q = 0; q < n; ++q) grad[q] = v.grad_cost[q] / c->budget;
    return v.cost / c->budget - 1.0;  // relative, so the tolerance is unit-free
  };
  nlopt::algorithm alg = o.nlopt_algorithm == "mma"     ? nlopt::LD_MMA
                         : o.nlopt_algorithm == "slsqp" ? nlopt::LD_SLSQP
                                                        : nlopt::AUGLAG;
  nlopt::opt opt(alg, m);
  if (alg == nlopt::AUGLAG) {
    nlopt::opt local(nlopt::LD_LBFGS, m);
    local.set_xtol_rel(o.nlopt_xtol);
    opt.set_local_optimizer(local);
  }
  opt.set_lower_bounds(std::vector<double>(m, lo));
  opt.set_upper_bounds(std::vector<double>(m, hi));
  opt.set_min_objective(objective, &ctx);
  opt.add_inequality_constraint(constraint, &ctx, 1e-9);
  opt.set_xtol_rel(o.nlopt_xtol);
  opt.set_maxeval(o.nlopt_max_evals);
  double f = 0.0;
  std::string note;
  try {
    const nlopt::result r = opt.optimize(x, f);
    s.outcome = NloptOutcome(r, &note);
  } catch (const nlopt::roundoff_limited&) {
    // Usually at the optimum already, but NLopt's own test was not met: not "converged".
    s.outcome = Outcome::kIterationLimit;
    note =
        "stopped early: round-off errors limited progress (NLopt ROUNDOFF_LIMITED); the last "
        "point is kept";
  } catch (const nlopt::forced_stop&) {
    s.outcome = Outcome::kFailure;
    note = "NLopt FORCED_STOP";
  } catch (const std::exception& e) {
    s.outcome = Outcome::kFailure;  // NLopt FAILURE, INVALID_ARGS or OUT_OF_MEMORY
    note = std::string("NLopt failed: ") + e.what();
  }
  Project(x, lo, hi);
  s.policy.thresholds = x;
  s.fit = p.Evaluate(s.policy);
  s.iterations = ctx.evals;
  s.message = o.nlopt_algorithm + ": " + note + ", smoothed accuracy " + Num(-f);
  s.seconds = Seconds(t0);
  return s;
}

}  // namespace exitplan
