// libFuzzer target: the result-CSV reader (report and cell files) on arbitrary text, and the
// round trip of what it accepts.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dse/report.hpp"
#include "profiles/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const std::vector<exitplan::ResultRow> rows = exitplan::ResultsFromCsv(text, "fuzz.csv");
    (void)exitplan::ResultsToCsv(rows);
  } catch (const exitplan::InputError&) {
  }
  return 0;
}
