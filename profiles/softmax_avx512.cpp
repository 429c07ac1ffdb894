// The softmax row kernels for AVX-512 (F + DQ + VL) with F16C, compiled with those flags alone
// (CMakeLists.txt) and used only after a run-time check (profiles/softmax.cpp). One 8-double vector
// holds exactly the reference's 8 partial sums (class q in lane q % 8), reduced in the reference's
// order, so the results are bit-identical to profiles/softmax.hpp's arithmetic and to the AVX2
// kernels. Like softmax_avx2.cpp it uses no inline function or template of another header.
#if defined(EXITPLAN_AVX512_KERNELS)

#include <immintrin.h>
#include <math.h>

#include <cstdint>

#include "profiles/softmax_kernel.hpp"

namespace exitplan::softmax {
namespace {

inline __m512d Load8(const std::uint16_t* p) {
  return _mm512_cvtps_pd(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
inline __m512d Load8(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
inline __m512d Load8(const double* p) { return _mm512_loadu_pd(p); }
inline __m512d LoadPart(const std::uint16_t* p, __mmask8 m) {
  return _mm512_cvtps_pd(_mm256_cvtph_ps(_mm_maskz_loadu_epi16(static_cast<__mmask8>(m), p)));
}
inline __m512d LoadPart(const float* p, __mmask8 m) {
  return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, p));
}
inline __m512d LoadPart(const double* p, __mmask8 m) { return _mm512_maskz_loadu_pd(m, p); }

// ExpNonPositive on 8 lanes; *valid = lanes with d >= kExpMin.
inline __m512d Exp8(__m512d d, __mmask8* valid) {
  const __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(d, _mm512_set1_pd(kLog2e)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(kLn2Hi), d);
  r = _mm512_fnmadd_pd(n, _mm512_set1_pd(kLn2Lo), r);
  __m512d p = _mm512_set1_pd(kPoly[0]);
#pragma GCC unroll 12
  for (int i = 1; i < 12; ++i) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(kPoly[i]));
  const __m512d one = _mm512_set1_pd(1.0);
  p = _mm512_fmadd_pd(p, r, one);
  p = _mm512_fmadd_pd(p, r, one);
  *valid = _mm512_cmp_pd_mask(d, _mm512_set1_pd(kExpMin), _CMP_GE_OQ);
  // p * 2^n in one instruction: n is integral and in [-1021, 0] wherever valid, so the product is
  // normal and exact, as the reference's multiplication by the power of two built from n's bits.
  return _mm512_maskz_scalef_pd(*valid, p, n);
}

// Exp8 on two vectors at once, the two polynomial chains interleaved (each FMA waits for the one
// before it: two independent chains keep the vector units busy).
inline void Exp8x2(__m512d d0, __m512d d1, __m512d* e0, __m512d* e1, __mmask8* valid0,
                   __mmask8* valid1) {
  const __m512d log2e = _mm512_set1_pd(kLog2e), hi = _mm512_set1_pd(kLn2Hi),
                lo = _mm512_set1_pd(kLn2Lo);
  const __m512d n0 =
      _mm512_roundscale_pd(_mm512_mul_pd(d0, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512d n1 =
      _mm512_roundscale_pd(_mm512_mul_pd(d1, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r0 = _mm512_fnmadd_pd(n0, hi, d0), r1 = _mm512_fnmadd_pd(n1, hi, d1);
  r0 = _mm512_fnmadd_pd(n0, lo, r0);
  r1 = _mm512_fnmadd_pd(n1, lo, r1);
  __m512d p0 = _mm512_set1_pd(kPoly[0]), p1 = p0;
#pragma GCC unroll 12
  for (int i = 1; i < 12; ++i) {
    const __m512d k = _mm512_set1_pd(kPoly[i]);
    p0 = _mm512_fmadd_pd(p0, r0, k);
    p1 = _mm512_fmadd_pd(p1, r1, k);
  }
  const __m512d one = _mm512_set1_pd(1.0);
  p0 = _mm512_fmadd_pd(p0, r0, one);
  p1 = _mm512_fmadd_pd(p1, r1, one);
  p0 = _mm512_fmadd_pd(p0, r0, one);
  p1 = _mm512_fmadd_pd(p1, r1, one);
  const __m512d min = _mm512_set1_pd(kExpMin);
  *valid0 = _mm512_cmp_pd_mask(d0, min, _CMP_GE_OQ);
  *valid1 = _mm512_cmp_pd_mask(d1, min, _CMP_GE_OQ);
  *e0 = _mm512_maskz_scalef_pd(*valid0, p0, n0);
  *e1 = _mm512_maskz_scalef_pd(*valid1, p1, n1);
}

// Pass 1 reads the stored values at their own width, 16 at a time for float16 and float32 (as
// floats: exact) and 8 for double, keeping the largest and smallest. Multiplying by inv_t is
// monotonic (non-decreasing when inv_t >= 0, non-increasing when it is negative), so
// max_q (z_q * inv_t) = max_z * inv_t (or min_z * inv_t): the reference's y_max, found without
// storing y. `bad` collects z - z: 0 for finite z, NaN for an infinity or a NaN.
struct Extremes {
  __m512d max, min;
  __m512i bad;
};

template <typename T>
struct Wide;  // the pass-1 vector of 16 (8 for double) stored values
template <>
struct Wide<std::uint16_t> {
  static constexpr int kWidth = 16;
  static __m512 Load(const std::uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static __m512 LoadPart(const std::uint16_t* p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
  }
};
template <>
struct Wide<float> {
  static constexpr int kWidth = 16;
  static __m512 Load(const float* p) { return _mm512_loadu_ps(p); }
  static __m512 LoadPart(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};

// Four independent running maxima and minima of floats (no loop-carried chain longer than one
// max per vector), reduced to doubles at the end.
template <typename T>
bool FloatExtremes(const T* src, int c, double* zmax, double* zmin) {
  __m512 mx[4], mn[4];
  for (int u = 0; u < 4; ++u) {
    mx[u] = _mm512_set1_ps(-INFINITY);
    mn[u] = _mm512_set1_ps(INFINITY);
  }
  __m512i bad = _mm512_setzero_si512();
  auto take = [&](int u, __m512 x) {
    bad = _mm512_or_si512(bad, _mm512_castps_si512(_mm512_sub_ps(x, x)));
    mx[u] = _mm512_max_ps(mx[u], x);
    mn[u] = _mm512_min_ps(mn[u], x);
  };
  int q = 0;
  for (; q + 64 <= c; q += 64) {
    take(0, Wide<T>::Load(src + q));
    take(1, Wide<T>::Load(src + q + 16));
    take(2, Wide<T>::Load(src + q + 32));
    take(3, Wide<T>::Load(src + q + 48));
  }
  for (; q + 16 <= c; q += 16) take(0, Wide<T>::Load(src + q));
  if (q < c) {
    const __mmask16 m = static_cast<__mmask16>((1u << (c - q)) - 1);
    const __m512 x = Wide<T>::LoadPart(src + q, m);  // 0 past c: finite, and masked off below
    bad = _mm512_or_si512(bad, _mm512_castps_si512(_mm512_sub_ps(x, x)));
    mx[1] = _mm512_mask_max_ps(mx[1], m, mx[1], x);
    mn[1] = _mm512_mask_min_ps(mn[1], m, mn[1], x);
  }
  if (_mm512_test_epi32_mask(bad, bad) != 0) return false;
  *zmax =
      _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(mx[0], mx[1]), _mm512_max_ps(mx[2], mx[3])));
  *zmin =
      _mm512_reduce_min_ps(_mm512_min_ps(_mm512_min_ps(mn[0], mn[1]), _mm512_min_ps(mn[2], mn[3])));
  return true;
}

bool DoubleExtremes(const double* src, int c, double* zmax, double* zmin) {
  __m512d mx[4], mn[4];
  for (int u = 0; u < 4; ++u) {
    mx[u] = _mm512_set1_pd(-INFINITY);
    mn[u] = _mm512_set1_pd(INFINITY);
  }
  __m512i bad = _mm512_setzero_si512();
  auto take = [&](int u, __m512d x) {
    bad = _mm512_or_si512(bad, _mm512_castpd_si512(_mm512_sub_pd(x, x)));
    mx[u] = _mm512_max_pd(mx[u], x);
    mn[u] = _mm512_min_pd(mn[u], x);
  };
  int q = 0;
  for (; q + 32 <= c; q += 32) {
    take(0, _mm512_loadu_pd(src + q));
    take(1, _mm512_loadu_pd(src + q + 8));
    take(2, _mm512_loadu_pd(src + q + 16));
    take(3, _mm512_loadu_pd(src + q + 24));
  }
  for (; q + 8 <= c; q += 8) take(0, _mm512_loadu_pd(src + q));
  if (q < c) {
    const __mmask8 m = static_cast<__mmask8>((1u << (c - q)) - 1);
    const __m512d x = _mm512_maskz_loadu_pd(m, src + q);
    bad = _mm512_or_si512(bad, _mm512_castpd_si512(_mm512_sub_pd(x, x)));
    mx[1] = _mm512_mask_max_pd(mx[1], m, mx[1], x);
    mn[1] = _mm512_mask_min_pd(mn[1], m, mn[1], x);
  }
  if (_mm512_test_epi64_mask(bad, bad) != 0) return false;
  *zmax =
      _mm512_reduce_max_pd(_mm512_max_pd(_mm512_max_pd(mx[0], mx[1]), _mm512_max_pd(mx[2], mx[3])));
  *zmin =
      _mm512_reduce_min_pd(_mm512_min_pd(_mm512_min_pd(mn[0], mn[1]), _mm512_min_pd(mn[2], mn[3])));
  return true;
}

inline bool Extremes(const std::uint16_t* src, int c, double* zmax, double* zmin) {
  return FloatExtremes(src, c, zmax, zmin);
}
inline bool Extremes(const float* src, int c, double* zmax, double* zmin) {
  return FloatExtremes(src, c, zmax, zmin);
}
inline bool Extremes(const double* src, int c, double* zmax, double* zmin) {
  return DoubleExtremes(src, c, zmax, zmin);
}

// y = z * inv_t; when inv_t = 1 that is z itself (the multiplication is exact), one instruction
// fewer per vector.
template <bool kUnit>
inline __m512d Scaled(__m512d x, __m512d vinv) {
  return kUnit ? x : _mm512_mul_pd(x, vinv);
}

template <typename T, bool kUnit>
bool RowAt(const T* src, int c, double inv_t, double log_c, double* e, ExitSoftmax* out) {
  double zmax, zmin;
  if (!Extremes(src, c, &zmax, &zmin)) return false;
  // A +0 / -0 tie may give either zero; d = y - y_max and everything after it are the same.
  const double ymax = inv_t >= 0 ? zmax * inv_t : zmin * inv_t;
  // Pass 2: y = z * inv_t, e = exp(y - ymax), the two lane-wise sums, the largest e off the
  // maximum. The lanes with d = 0 are the classes at the maximum (e = 1): the first is arg; when
  // there are two or more the largest e other than arg's is 1, otherwise it is the largest e
  // with d != 0.
  const __m512d vinv = _mm512_set1_pd(inv_t);
  const __m512d vymax = _mm512_set1_pd(ymax);
  const __m512d zero = _mm512_setzero_pd();
  __m512d s = zero, a = zero, sec = zero;
  int arg = -1, at_max = 0;
  // One vector of e: the sums (in class order), the largest e off the maximum, the first maximum.
  auto take = [&](int b, __m512d d, __m512d ev, __mmask8 valid) {
    s = _mm512_add_pd(s, ev);
    // Where e = 0 the reference adds e * d = -0 to a (never -0 itself): a is unchanged, as here.
    a = _mm512_mask3_fmadd_pd(ev, d, a, valid);
    const __mmask8 top = _mm512_cmp_pd_mask(d, zero, _CMP_EQ_OQ);
    sec = _mm512_mask_max_pd(sec, static_cast<__mmask8>(~top), sec, ev);
    if (top != 0) {
      if (arg < 0) arg = b + __builtin_ctz(top);
      at_max += __builtin_popcount(top);
    }
    if (e) {
      const int left = c - b;
      _mm512_mask_storeu_pd(
          e + b, left >= 8 ? static_cast<__mmask8>(0xff) : static_cast<__mmask8>((1u << left) - 1),
          ev);
    }
  };
  // The logits of the next row are usually the next bytes (N x K x C order): fetched into the
  // cache while this row computes (the hardware prefetcher stops at each 4 KiB page).
  const char* next = reinterpret_cast<const char*>(src + c);
  int b = 0;
  for (; b + 16 <= c; b += 16) {
    _mm_prefetch(next + b * sizeof(T), _MM_HINT_T0);
    if (sizeof(T) == 8) _mm_prefetch(next + b * sizeof(T) + 64, _MM_HINT_T0);
    const __m512d d0 = _mm512_sub_pd(Scaled<kUnit>(Load8(src + b), vinv), vymax);
    const __m512d d1 = _mm512_sub_pd(Scaled<kUnit>(Load8(src + b + 8), vinv), vymax);
    __m512d e0, e1;
    __mmask8 valid0, valid1;
    Exp8x2(d0, d1, &e0, &e1, &valid0, &valid1);
    take(b, d0, e0, valid0);
    take(b + 8, d1, e1, valid1);
  }
  for (; b < c; b += 8) {
    const int left = c - b;
    const __mmask8 m =
        left >= 8 ? static_cast<__mmask8>(0xff) : static_cast<__mmask8>((1u << left) - 1);
    const __m512d x = left >= 8 ? Load8(src + b) : LoadPart(src + b, m);
    // Past c: d = -inf, so e = 0 and the lane adds nothing.
    const __m512d d = _mm512_mask_blend_pd(m, _mm512_set1_pd(-INFINITY),
                                           _mm512_sub_pd(Scaled<kUnit>(x, vinv), vymax));
    __mmask8 valid;
    const __m512d ev = Exp8(d, &valid);
    take(b, d, ev, valid);
  }
  // ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7)), as the reference.
  auto combine = [](__m512d v) {
    const __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1));
    const __m128d w = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    return _mm_cvtsd_f64(w) + _mm_cvtsd_f64(_mm_unpackhi_pd(w, w));
  };
  const double sum = combine(s);
  const double acc = combine(a);
  const double second = at_max > 1 ? 1.0 : _mm512_reduce_max_pd(sec);
  out->arg = arg;
  out->sum = sum;
  out->max_prob = 1.0 / sum;
  out->entropy = c > 1 ? 1.0 - (::log(sum) - acc / sum) / log_c : 1.0;
  out->margin = c > 1 ? (1.0 - second) / sum : 1.0;
  return true;
}

template <typename T>
bool Row(const void* src_v, int c, double inv_t, double log_c, double* y, double* e,
         ExitSoftmax* out) {
  (void)y;  // not needed: pass 2 rescales the stored values
  const T* src = static_cast<const T*>(src_v);
  return inv_t == 1.0 ? RowAt<T, true>(src, c, inv_t, log_c, e, out)
                      : RowAt<T, false>(src, c, inv_t, log_c, e, out);
}

}  // namespace

RowKernel Avx512RowKernel(Elem elem) {
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

#endif  // EXITPLAN_AVX512_KERNELS
