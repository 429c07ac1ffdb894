#include "optim/internal/float_gemm.hpp"

#include <Eigen/Core>

namespace exitplan::internal {
namespace portable {
#include "optim/internal/float_gemm_impl.hpp"
}  // namespace portable

#if defined(EXITPLAN_AVX2_KERNELS)
// optim/internal/float_gemm_avx2.cpp
void FloatGemmAvx2Fma(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda,
                      const float* b, int ldb, float* c, int ldc);
#endif

namespace {

using Kernel = void (*)(bool, bool, int, int, int, const float*, int, const float*, int, float*,
                        int);

struct Choice {
  Kernel kernel;
  const char* name;
};

Choice Pick() {
#if defined(EXITPLAN_AVX2_KERNELS)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return {&FloatGemmAvx2Fma, "avx2+fma"};
  }
#endif
  return {&FloatGemmPortable, "portable"};
}

const Choice& Chosen() {
  static const Choice choice = Pick();
  return choice;
}

}  // namespace

void FloatGemmPortable(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda,
                       const float* b, int ldb, float* c, int ldc) {
  portable::FloatGemmBody(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
}

void FloatGemm(bool trans_a, bool trans_b, int m, int n, int k, const float* a, int lda,
               const float* b, int ldb, float* c, int ldc) {
  Chosen().kernel(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
}

const char* FloatGemmKernel() { return Chosen().name; }

}  // namespace exitplan::internal
