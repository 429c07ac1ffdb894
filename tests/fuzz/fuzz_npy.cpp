// libFuzzer target: the .npy header parser and element access on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "profiles/error.hpp"
#include "profiles/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const exitplan::NpyArray a =
        exitplan::ParseNpy(nullptr, reinterpret_cast<const char*>(data), size, "fuzz.npy");
    (void)a.Describe();
    if (a.size() > 0) {
      volatile double sink = a.At(0) + a.At(a.size() - 1) + a.At(a.size() / 2);
      (void)sink;
      std::vector<double> out(std::min<std::size_t>(a.size(), 64));
      a.CopyTo(a.size() - out.size(), out.size(), out.data());
    }
  } catch (const exitplan::InputError&) {
  }
  return 0;
}
