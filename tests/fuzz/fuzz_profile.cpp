// libFuzzer target: the cost-profile parser (YAML) on arbitrary text, and the cost model on what
// it accepts.
#include <cstddef>
#include <cstdint>
#include <string>

#include "profiles/error.hpp"
#include "profiles/profile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    for (const exitplan::CostProfile& p : exitplan::ParseProfiles(text, "fuzz.yaml")) {
      volatile double sink = p.FullCost() + p.BackboneOnlyCost();
      (void)sink;
      (void)p.StopCosts(exitplan::AllExits(p.k()));
    }
  } catch (const exitplan::InputError&) {
  }
  return 0;
}
