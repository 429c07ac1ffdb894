// The softmax row kernels compiled with -mavx2 -mfma -mf16c -ffp-contract=off (set for this file
// alone in CMakeLists.txt, which also defines EXITPLAN_AVX2_KERNELS on x86-64); used only after a
// run-time check that the CPU has all three (profiles/softmax.cpp). Each one is the reference
// arithmetic of profiles/softmax.hpp, 4 doubles at a time: the same operations in the same order
// per class (explicit FMAs where the reference calls std::fma), the same 8 partial sums combined
// in the same order, so the results are bit-identical.
//
// No inline function or template of another header is used here: under its usual name an
// instantiation compiled with these flags could be merged by the linker with the default-flag
// copy and run on CPUs without AVX2.
#if defined(EXITPLAN_AVX2_KERNELS)

#include <immintrin.h>
#include <math.h>

#include <cstdint>

#include "profiles/softmax_kernel.hpp"

namespace exitplan::softmax {
namespace {

inline __m256d Load4(const std::uint16_t* p) {
  return _mm256_cvtps_pd(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
inline __m256d Load4(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
inline __m256d Load4(const double* p) { return _mm256_loadu_pd(p); }
inline double Load1(const std::uint16_t* p) { return static_cast<double>(_cvtsh_ss(*p)); }
inline double Load1(const float* p) { return static_cast<double>(*p); }
inline double Load1(const double* p) { return *p; }

// ExpNonPositive on 4 lanes.
inline __m256d Exp4(__m256d d) {
  const __m256d n = _mm256_round_pd(_mm256_mul_pd(d, _mm256_set1_pd(kLog2e)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(kLn2Hi), d);
  r = _mm256_fnmadd_pd(n, _mm256_set1_pd(kLn2Lo), r);
  __m256d p = _mm256_set1_pd(kPoly[0]);
  for (int i = 1; i < 12; ++i) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(kPoly[i]));
  const __m256d one = _mm256_set1_pd(1.0);
  p = _mm256_fmadd_pd(p, r, one);
  p = _mm256_fmadd_pd(p, r, one);
  const __m256d valid = _mm256_cmp_pd(d, _mm256_set1_pd(kExpMin), _CMP_GE_OQ);
  // n is integral and in [-1021, 0] wherever valid; elsewhere the lane is masked to 0.
  const __m256i n64 = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(_mm256_and_pd(n, valid)));
  const __m256i bits = _mm256_slli_epi64(_mm256_add_epi64(n64, _mm256_set1_epi64x(1023)), 52);
  return _mm256_and_pd(_mm256_mul_pd(p, _mm256_castsi256_pd(bits)), valid);
}

inline double HorizontalMax(__m256d v) {
  __m128d m = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  const double lo = _mm_cvtsd_f64(m), hi = _mm_cvtsd_f64(_mm_unpackhi_pd(m, m));
  return hi > lo ? hi : lo;
}

// (a + b) reduced as CombineLanes: lanes of a are partials 0..3, of b 4..7.
inline double Combine(__m256d a, __m256d b) {
  const __m256d v = _mm256_add_pd(a, b);
  const __m128d w = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(w) + _mm_cvtsd_f64(_mm_unpackhi_pd(w, w));
}

template <typename T>
bool Row(const void* src_v, int c, double inv_t, double log_c, double* y, double* e,
         ExitSoftmax* out) {
  const T* src = static_cast<const T*>(src_v);
  const __m256d vinv = _mm256_set1_pd(inv_t);
  // Pass 1: convert, check, scale, lane-wise maximum with its first index.
  __m256d bad = _mm256_setzero_pd();
  __m256d vmax = _mm256_set1_pd(-INFINITY);
  __m256d vidx = _mm256_setzero_pd();
  __m256d idx = _mm256_setr_pd(0, 1, 2, 3);
  const __m256d four = _mm256_set1_pd(4.0);
  int q = 0;
  for (; q + 4 <= c; q += 4) {
    const __m256d x = Load4(src + q);
    bad = _mm256_or_pd(bad, _mm256_cmp_pd(_mm256_sub_pd(x, x), _mm256_setzero_pd(), _CMP_NEQ_UQ));
    const __m256d v = _mm256_mul_pd(x, vinv);
    _mm256_storeu_pd(y + q, v);
    const __m256d gt = _mm256_cmp_pd(v, vmax, _CMP_GT_OQ);
    vmax = _mm256_blendv_pd(vmax, v, gt);
    vidx = _mm256_blendv_pd(vidx, idx, gt);
    idx = _mm256_add_pd(idx, four);
  }
  if (_mm256_movemask_pd(bad) != 0) return false;
  double ymax = -INFINITY;
  int arg = -1;
  if (q > 0) {
    ymax = HorizontalMax(vmax);
    alignas(32) double lanes[4], where[4];
    _mm256_store_pd(lanes, vmax);
    _mm256_store_pd(where, vidx);
    for (int l = 0; l < 4; ++l) {
      if (lanes[l] == ymax && (arg < 0 || where[l] < arg)) arg = static_cast<int>(where[l]);
    }
  }
  for (; q < c; ++q) {
    const double x = Load1(src + q);
    if (!__builtin_isfinite(x)) return false;
    y[q] = x * inv_t;
    if (arg < 0 || y[q] > ymax) {
      ymax = y[q];
      arg = q;
    }
  }
  const int padded = PaddedClasses(c);
  for (int p = c; p < padded; ++p) y[p] = -INFINITY;  // d = -inf: e = 0, adds nothing
  // Pass 2: e = exp(y - ymax) and the two lane-wise sums, the largest e other than arg's.
  const __m256d vymax = _mm256_set1_pd(ymax);
  const __m256d varg = _mm256_set1_pd(static_cast<double>(arg));
  const __m256d vmin = _mm256_set1_pd(kExpMin);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0, a0 = s0, a1 = s0, sec = s0;
  idx = _mm256_setr_pd(0, 1, 2, 3);
  for (int b = 0; b < padded; b += 8) {
    const __m256d d0 = _mm256_sub_pd(_mm256_loadu_pd(y + b), vymax);
    const __m256d d1 = _mm256_sub_pd(_mm256_loadu_pd(y + b + 4), vymax);
    const __m256d e0 = Exp4(d0), e1 = Exp4(d1);
    s0 = _mm256_add_pd(s0, e0);
    s1 = _mm256_add_pd(s1, e1);
    // Where e = 0 the reference adds e * d = -0, here e * 0: the same sum (it is never -0).
    a0 = _mm256_fmadd_pd(e0, _mm256_and_pd(d0, _mm256_cmp_pd(d0, vmin, _CMP_GE_OQ)), a0);
    a1 = _mm256_fmadd_pd(e1, _mm256_and_pd(d1, _mm256_cmp_pd(d1, vmin, _CMP_GE_OQ)), a1);
    const __m256d idx1 = _mm256_add_pd(idx, four);
    sec = _mm256_max_pd(sec, _mm256_andnot_pd(_mm256_cmp_pd(idx, varg, _CMP_EQ_OQ), e0));
    sec = _mm256_max_pd(sec, _mm256_andnot_pd(_mm256_cmp_pd(idx1, varg, _CMP_EQ_OQ), e1));
    idx = _mm256_add_pd(idx1, four);
    if (e) {
      if (b + 8 <= c) {
        _mm256_storeu_pd(e + b, e0);
        _mm256_storeu_pd(e + b + 4, e1);
      } else {
        alignas(32) double tmp[8];
        _mm256_store_pd(tmp, e0);
        _mm256_store_pd(tmp + 4, e1);
        for (int p = b; p < c; ++p) e[p] = tmp[p - b];
      }
    }
  }
  const double sum = Combine(s0, s1);
  const double acc = Combine(a0, a1);
  const double second = HorizontalMax(sec);
  out->arg = arg;
  out->sum = sum;
  out->max_prob = 1.0 / sum;
  out->entropy = c > 1 ? 1.0 - (::log(sum) - acc / sum) / log_c : 1.0;
  out->margin = c > 1 ? (1.0 - second) / sum : 1.0;
  return true;
}

}  // namespace

RowKernel Avx2RowKernel(Elem elem) {
  switch (elem) {
    case Elem::kF16:
      return &Row<std::uint16_t>;
    case Elem::kF32:
      return &Row<float>;
    case Elem::kF64:
      break;
  }
  return &Row<double>;
}

}  // namespace exitplan::softmax

#endif  // EXITPLAN_AVX2_KERNELS
