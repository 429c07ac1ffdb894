// libFuzzer target: the sweep manifest and cell-file readers on arbitrary bytes. They read files,
// so each input is written to one scratch file of this process first.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "dse/internal/sweep_internal.hpp"
#include "profiles/error.hpp"

namespace {

const std::string& ScratchPath() {
  static const std::string path =
      "/tmp/exitplan-fuzz-manifest-" + std::to_string(::getpid()) + ".yaml";
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(ScratchPath(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const exitplan::internal::sweep::Manifest m =
        exitplan::internal::sweep::ManifestFromFile(ScratchPath());
    (void)exitplan::internal::sweep::ManifestToYaml(m);
    std::vector<exitplan::internal::sweep::GroupName> names;  // as merge checks them
    for (const auto& g : m.groups) names.push_back({g.model, g.target, "fuzz"});
    exitplan::internal::sweep::CheckReportStems(names);
  } catch (const exitplan::InputError&) {
  }
  try {
    (void)exitplan::internal::sweep::ReadCell(ScratchPath());
  } catch (const exitplan::InputError&) {
  }
  return 0;
}
