// libFuzzer target: the sweep-file parser on arbitrary text (parsing only: no dump is loaded).
#include <cstddef>
#include <cstdint>
#include <string>

#include "dse/sweep.hpp"
#include "profiles/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const exitplan::SweepSpec spec = exitplan::ParseSweepSpec(text, "fuzz.yaml", "/nonexistent");
    (void)spec;
  } catch (const exitplan::InputError&) {
  }
  return 0;
}
