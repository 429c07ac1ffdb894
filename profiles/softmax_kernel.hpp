// Internal: the per-row softmax kernels behind the feature pass, one per stored element type, on
// the widest SIMD the CPU offers. The portable kernels are profiles/softmax.hpp's reference
// arithmetic; the AVX2 + FMA + F16C and AVX-512 ones (profiles/softmax_avx2.cpp,
// softmax_avx512.cpp, each compiled with its flags alone and picked at run time) reproduce it bit
// for bit (tests/test_features.cpp checks).
#pragma once

#include <cstdint>

#include "profiles/softmax.hpp"

namespace exitplan::softmax {

enum class Elem { kF16, kF32, kF64 };  // IEEE half / single / double, native byte order

// One row: reads C logits of type `elem` from src, checks they are finite, computes
// y = z * inv_t into y (capacity PaddedClasses(c)) and the measures into *out; when e is not null
// e[q] = exp(d_q) for q < c. Returns false (out unset) when a logit is not finite.
using RowKernel = bool (*)(const void* src, int c, double inv_t, double log_c, double* y, double* e,
                           ExitSoftmax* out);

inline int PaddedClasses(int c) { return (c + kLanes - 1) / kLanes * kLanes; }

// The kernel for this CPU ("avx512", "avx2+fma+f16c" or "portable" from KernelName()).
RowKernel PickRowKernel(Elem elem);
RowKernel PortableRowKernel(Elem elem);
RowKernel Avx2RowKernelIfUsable(Elem elem);  // nullptr when the CPU or the build has none
const char* KernelName();

}  // namespace exitplan::softmax
