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
  for (int i = 1; i < 12; ++i) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(kPoly[i]));
  const __m512d one = _mm512_set1_pd(1.0);
  p = _mm512_fmadd_pd(p, r, one);
  p = _mm512_fmadd_pd(p, r, one);
  *valid = _mm512_cmp_pd_mask(d, _mm512_set1_pd(kExpMin), _CMP_GE_OQ);
  // 2^n: n + 1.5 * 2^52 + 1023 holds n + 1023 in its low mantissa bits (n integral, small).
  const __m512i t =
      _mm512_castpd_si512(_mm512_add_pd(n, _mm512_set1_pd(6755399441055744.0 + 1023)));
  const __m512d scale = _mm512_castsi512_pd(_mm512_slli_epi64(t, 52));
  return _mm512_maskz_mul_pd(*valid, p, scale);
}

template <typename T>
bool Row(const void* src_v, int c, double inv_t, double log_c, double* y, double* e,
         ExitSoftmax* out) {
  const T* src = static_cast<const T*>(src_v);
  const __m512d vinv = _mm512_set1_pd(inv_t);
  const __m512d ninf = _mm512_set1_pd(-INFINITY);
  const __m512d eight = _mm512_set1_pd(8.0);
  __mmask8 bad = 0;
  __m512d vmax = ninf, vidx = _mm512_setzero_pd();
  __m512d idx = _mm512_setr_pd(0, 1, 2, 3, 4, 5, 6, 7);
  // Pass 1: convert, check, scale, lane-wise maximum with its first index; y padded with -inf.
  for (int q = 0; q < c; q += 8) {
    const int left = c - q;
    const __mmask8 m =
        left >= 8 ? static_cast<__mmask8>(0xff) : static_cast<__mmask8>((1u << left) - 1);
    const __m512d x = left >= 8 ? Load8(src + q) : LoadPart(src + q, m);
    bad |= _mm512_mask_cmp_pd_mask(m, _mm512_sub_pd(x, x), _mm512_setzero_pd(), _CMP_NEQ_UQ);
    const __m512d v = _mm512_mask_blend_pd(m, ninf, _mm512_mul_pd(x, vinv));
    _mm512_storeu_pd(y + q, v);
    const __mmask8 gt = _mm512_cmp_pd_mask(v, vmax, _CMP_GT_OQ);
    vmax = _mm512_mask_blend_pd(gt, vmax, v);
    vidx = _mm512_mask_blend_pd(gt, vidx, idx);
    idx = _mm512_add_pd(idx, eight);
  }
  if (bad) return false;
  const double ymax = _mm512_reduce_max_pd(vmax);
  const __mmask8 at_max = _mm512_cmp_pd_mask(vmax, _mm512_set1_pd(ymax), _CMP_EQ_OQ);
  const int arg = static_cast<int>(
      _mm512_mask_reduce_min_pd(at_max, vidx));  // the first index holding the maximum
  // Pass 2.
  const int padded = PaddedClasses(c);
  const __m512d vymax = _mm512_set1_pd(ymax);
  const __m512d varg = _mm512_set1_pd(static_cast<double>(arg));
  __m512d s = _mm512_setzero_pd(), a = s, sec = s;
  idx = _mm512_setr_pd(0, 1, 2, 3, 4, 5, 6, 7);
  for (int b = 0; b < padded; b += 8) {
    const __m512d d = _mm512_sub_pd(_mm512_loadu_pd(y + b), vymax);
    __mmask8 valid;
    const __m512d ev = Exp8(d, &valid);
    s = _mm512_add_pd(s, ev);
    // Where e = 0 the reference adds e * d = -0, here e * 0: the same sum (it is never -0).
    a = _mm512_fmadd_pd(ev, _mm512_maskz_mov_pd(valid, d), a);
    const __mmask8 not_arg = _mm512_cmp_pd_mask(idx, varg, _CMP_NEQ_OQ);
    sec = _mm512_mask_max_pd(sec, not_arg, sec, ev);
    idx = _mm512_add_pd(idx, eight);
    if (e) {
      const int left = c - b;
      _mm512_mask_storeu_pd(
          e + b, left >= 8 ? static_cast<__mmask8>(0xff) : static_cast<__mmask8>((1u << left) - 1),
          ev);
    }
  }
  // ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7)), as the reference.
  auto combine = [](__m512d v) {
    const __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1));
    const __m128d w = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    return _mm_cvtsd_f64(w) + _mm_cvtsd_f64(_mm_unpackhi_pd(w, w));
  };
  const double sum = combine(s);
  const double acc = combine(a);
  const double second = _mm512_reduce_max_pd(sec);
  out->arg = arg;
  out->sum = sum;
  out->max_prob = 1.0 / sum;
  out->entropy = c > 1 ? 1.0 - (::log(sum) - acc / sum) / log_c : 1.0;
  out->margin = c > 1 ? (1.0 - second) / sum : 1.0;
  return true;
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
