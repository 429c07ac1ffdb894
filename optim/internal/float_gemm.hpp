// Single-precision matrix products for EENet training (optim/eenet_model.cpp), on the widest
// SIMD the CPU offers. The project builds for baseline x86-64 (SSE2), where Eigen's float product
// reaches about a quarter of what the same Eigen code compiled for AVX2 + FMA does (measured
// 11.6 vs 49.5 GMAC/s on a 212 x 106 by 106 x 512 product), and these products are nearly all of
// the training time. So the products are compiled twice: with the default flags
// (float_gemm.cpp) and with -mavx2 -mfma (float_gemm_avx2.cpp, x86-64 only), and the AVX2 copy
// is picked at run time when the CPU has both. Both are Eigen's own product; only the compiler
// flags differ, so results differ at rounding level (FMA) between CPUs, never between runs.
#pragma once

namespace exitplan::internal {

// C (m x n) = op(A) op(B) with op(X) = X' when the flag is set; column-major with leading
// dimensions lda, ldb, ldc (A is m x k, or k x m when transposed; B likewise). C is overwritten
// and must not overlap A or B.
void FloatGemm(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda,
               const float* b, int ldb, float* c, int ldc);

// The same product with the default compiler flags (what FloatGemm uses on CPUs without AVX2).
void FloatGemmPortable(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda,
                       const float* b, int ldb, float* c, int ldc);

// "avx2+fma" or "portable": the kernel FloatGemm runs on this CPU.
const char* FloatGemmKernel();

}  // namespace exitplan::internal
