#include "profiles/softmax.hpp"

#include <Eigen/Core>
#include <cmath>
#include <cstring>
#include <vector>
#if defined(EXITPLAN_AVX2_KERNELS)
#include <cpuid.h>
#endif

#include "profiles/error.hpp"
#include "profiles/softmax_kernel.hpp"
#include "profiles/types.hpp"

namespace exitplan {
namespace softmax {

#if defined(EXITPLAN_AVX2_KERNELS)
// profiles/softmax_avx2.cpp, profiles/softmax_avx512.cpp
RowKernel Avx2RowKernel(Elem elem);
#endif
#if defined(EXITPLAN_AVX512_KERNELS)
RowKernel Avx512RowKernel(Elem elem);
#endif

namespace {

template <typename T>
double ToDouble(const void* src, int q) {
  T v;
  std::memcpy(&v, static_cast<const unsigned char*>(src) + sizeof(T) * q, sizeof(T));
  if constexpr (sizeof(T) == 2) {
    return static_cast<double>(static_cast<float>(Eigen::numext::bit_cast<Eigen::half>(v)));
  } else {
    return static_cast<double>(v);
  }
}

template <typename T>
bool PortableRow(const void* src, int c, double inv_t, double log_c, double* y, double* e,
                 ExitSoftmax* out) {
  for (int q = 0; q < c; ++q) {
    const double z = ToDouble<T>(src, q);
    if (!std::isfinite(z)) return false;
    y[q] = z * inv_t;
  }
  *out = ExitSoftmaxOfScaled(y, c, log_c, e);
  return true;
}

bool Avx2Usable() {
#if defined(EXITPLAN_AVX2_KERNELS)
  // F16C from CPUID leaf 1 (ECX bit 29): clang 14 does not know "f16c" in __builtin_cpu_supports.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
#else
  return false;
#endif
}

bool Avx512Usable() {
#if defined(EXITPLAN_AVX512_KERNELS)
  return Avx2Usable() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#else
  return false;
#endif
}

}  // namespace

RowKernel PortableRowKernel(Elem elem) {
  switch (elem) {
    case Elem::kF16:
      return &PortableRow<std::uint16_t>;
    case Elem::kF32:
      return &PortableRow<float>;
    case Elem::kF64:
      break;
  }
  return &PortableRow<double>;
}

RowKernel PickRowKernel(Elem elem) {
#if defined(EXITPLAN_AVX512_KERNELS)
  static const bool avx512 = Avx512Usable();
  if (avx512) return Avx512RowKernel(elem);
#endif
#if defined(EXITPLAN_AVX2_KERNELS)
  static const bool avx2 = Avx2Usable();
  if (avx2) return Avx2RowKernel(elem);
#endif
  return PortableRowKernel(elem);
}

RowKernel Avx2RowKernelIfUsable(Elem elem) {
#if defined(EXITPLAN_AVX2_KERNELS)
  if (Avx2Usable()) return Avx2RowKernel(elem);
#endif
  return nullptr;
}

const char* KernelName() {
  return Avx512Usable() ? "avx512" : Avx2Usable() ? "avx2+fma+f16c" : "portable";
}

}  // namespace softmax

ExitSoftmax ComputeExitSoftmax(double* z, int c, double inv_t, double log_c,
                               const std::string& source, int sample, int exit) {
  for (int q = 0; q < c; ++q) {
    if (!std::isfinite(z[q])) {
      throw InputError(source, "non-finite logit (" + FormatDouble(z[q]) + ") at sample " +
                                   std::to_string(sample) + ", exit " + std::to_string(exit + 1) +
                                   ", class " + std::to_string(q));
    }
  }
  thread_local std::vector<double> y;
  y.resize(static_cast<std::size_t>(softmax::PaddedClasses(c)));
  static const softmax::RowKernel kernel = softmax::PickRowKernel(softmax::Elem::kF64);
  ExitSoftmax out;
  kernel(z, c, inv_t, log_c, y.data(), z, &out);
  return out;
}

}  // namespace exitplan
