// FloatGemm compiled with -mavx2 -mfma (set for this file alone in CMakeLists.txt, which also
// defines EXITPLAN_AVX2_KERNELS on x86-64); called only after a run-time check that the CPU has
// AVX2 and FMA (float_gemm.cpp).
//
// Eigen's namespace is renamed in this file: its template instantiations here contain AVX2
// instructions, and under their usual names the linker could merge them with the default-flag
// copies the rest of the program uses (one definition rule), running AVX2 code on CPUs without
// it. The standard headers Eigen needs come first, unrenamed and only for declarations.
#if defined(EXITPLAN_AVX2_KERNELS)

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <new>
#include <type_traits>

#define Eigen exitplan_eigen_avx2
#include <Eigen/Core>

namespace exitplan::internal {
namespace avx2 {
#include "optim/internal/float_gemm_impl.hpp"
}  // namespace avx2

void FloatGemmAvx2Fma(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda,
                      const float* b, int ldb, float* c, int ldc) {
  avx2::FloatGemmBody(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
}

}  // namespace exitplan::internal

#endif  // EXITPLAN_AVX2_KERNELS
