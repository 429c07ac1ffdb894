// The stable softmax of one exit's logits and the confidence measures read off it: the one
// definition shared by the dump's feature pass (profiles/features.cpp), the EENet scorer inputs
// and, as a verbatim copy kept standalone on purpose, the deployment runtime
// (include/exitplan/runtime.hpp). Thresholds are chosen at exactly these scores, so every user
// must compute them bit for bit alike: the arithmetic below is fixed to the last operation.
//
// With y_q = z_q / T (computed as z_q * (1 / T)), y_max = max_q y_q, arg = the first q with
// y_q = y_max and d_q = y_q - y_max <= 0:
//   e_q = Exp(d_q)            (this file's exp, not std::exp: see ExpNonPositive)
//   s   = sum_q e_q           (8 interleaved partial sums, see kLanes)
//   a   = sum_q e_q d_q       (same lanes, each step one fused multiply-add)
//   max_prob = 1 / s;  entropy = 1 - (log s - a / s) / log C;  margin = (1 - max_{q != arg} e_q) /
//   s
// (entropy uses H(p) = -sum_q p_q log p_q = log s - a / s with log p_q = d_q - log s exactly, so no
// logarithm per class; entropy and margin are 1 when C = 1).
//
// Why not std::exp and one running sum: a vector pass (profiles/softmax_avx2.cpp, 4 doubles at a
// time) cannot reproduce either, and at 1,000 classes the per-class std::exp and std::log cost 50x
// the memory bandwidth. Against the former arithmetic (std::exp, sequential sum, a logarithm per
// class) the scores differ by a few units in the last place (tests/test_features.cpp bounds it).
// Every multiply that feeds an add is an explicit std::fma, so no compiler contraction setting
// can change a result.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

namespace exitplan {

struct ExitSoftmax {
  int arg = 0;            // argmax class (first of ties)
  double sum = 0.0;       // s = sum_q exp(z_q - z_max); p_q = exp_q / s
  double max_prob = 0.0;  // 1 / s (max softmax probability; Ilhan et al. 2023 eq. 5)
  double entropy = 0.0;   // 1 - H(p) / log C (Ilhan et al. 2023 eq. 6); 1 when C = 1
  double margin = 0.0;    // top-1 minus top-2 probability; 1 when C = 1
};

namespace softmax {

inline constexpr int kLanes = 8;  // class q adds into partial sum q % 8
// Below this d, e = 0 (std::exp would give < 3.3e-308, invisible next to e_arg = 1).
inline constexpr double kExpMin = -708.0;
inline constexpr double kLog2e = 1.4426950408889634;
inline constexpr double kLn2Hi = 0.693147180369123816490;  // ln 2 split for the reduction
inline constexpr double kLn2Lo = 1.90821492927058770002e-10;
// 1/k! for k = 13 .. 2 (Taylor on |r| <= ln2 / 2: truncation below 1e-17 relative).
inline constexpr double kPoly[12] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                                     1.0 / 3628800.0,    1.0 / 362880.0,    1.0 / 40320.0,
                                     1.0 / 5040.0,       1.0 / 720.0,       1.0 / 120.0,
                                     1.0 / 24.0,         1.0 / 6.0,         0.5};

// exp(d) for d <= 0 (d >= kExpMin), within 2 units in the last place of std::exp: d = n ln2 + r,
// exp(d) = 2^n exp(r), exp(r) by Horner. 0 for d < kExpMin.
inline double ExpNonPositive(double d) {
  if (!(d >= kExpMin)) return 0.0;
  const double n = std::nearbyint(d * kLog2e);
  double r = std::fma(-n, kLn2Hi, d);
  r = std::fma(-n, kLn2Lo, r);
  double p = kPoly[0];
  for (int i = 1; i < 12; ++i) p = std::fma(p, r, kPoly[i]);
  p = std::fma(p, r, 1.0);
  p = std::fma(p, r, 1.0);
  const std::uint64_t bits = static_cast<std::uint64_t>(static_cast<std::int64_t>(n) + 1023) << 52;
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;  // exact: scale is a power of two and the result is normal
}

// Lane combination ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7)): the order in which a 4-wide
// vector unit reduces two accumulators.
inline double CombineLanes(const double* p) {
  return ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
}

}  // namespace softmax

// The reference (scalar) implementation. y: the C logits already multiplied by 1 / T (finite).
// When e is not null, e[q] = exp(d_q) on return. log_c = log C.
inline ExitSoftmax ExitSoftmaxOfScaled(const double* y, int c, double log_c, double* e = nullptr) {
  int arg = 0;
  for (int q = 1; q < c; ++q) {
    if (y[q] > y[arg]) arg = q;
  }
  const double ymax = y[arg];
  double s[softmax::kLanes] = {}, a[softmax::kLanes] = {};
  double second = 0.0;
  for (int q = 0; q < c; ++q) {
    const double d = y[q] - ymax;
    const double eq = softmax::ExpNonPositive(d);
    if (e) e[q] = eq;
    s[q % softmax::kLanes] += eq;
    a[q % softmax::kLanes] = std::fma(eq, d, a[q % softmax::kLanes]);
    if (q != arg && eq > second) second = eq;
  }
  const double sum = softmax::CombineLanes(s);
  const double acc = softmax::CombineLanes(a);
  ExitSoftmax out;
  out.arg = arg;
  out.sum = sum;
  out.max_prob = 1.0 / sum;
  out.entropy = c > 1 ? 1.0 - (std::log(sum) - acc / sum) / log_c : 1.0;
  out.margin = c > 1 ? (1.0 - second) / sum : 1.0;
  return out;
}

// z: the C logits of one sample at one exit; on return z[q] = exp(z_q / T - max). inv_t = 1 / T,
// log_c = log C. Throws InputError naming `source`, the sample, exit (1-based) and class on a
// non-finite logit. Uses the vector kernel when the CPU has one (same results).
ExitSoftmax ComputeExitSoftmax(double* z, int c, double inv_t, double log_c,
                               const std::string& source, int sample, int exit);

}  // namespace exitplan
