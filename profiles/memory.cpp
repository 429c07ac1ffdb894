#include "profiles/memory.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "profiles/error.hpp"

namespace exitplan {

std::uint64_t AvailableMemory() {
  std::uint64_t avail = std::numeric_limits<std::uint64_t>::max();
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::uint64_t kb = 0;
  bool found = false;
  while (meminfo >> key >> kb) {
    if (key == "MemAvailable:") {
      avail = kb * 1024;
      found = true;
      break;
    }
    meminfo.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  if (!found) {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) avail = SaturatingMul(pages, page);
  }
  for (int resource : {RLIMIT_AS, RLIMIT_DATA}) {
    struct rlimit rl {};
    if (getrlimit(resource, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
      avail = std::min<std::uint64_t>(avail, rl.rlim_cur);
    }
  }
  return avail;
}

std::string FormatBytes(std::uint64_t bytes) {
  char buf[64];
  const double b = static_cast<double>(bytes);
  if (bytes >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.1f GB", b / (1ull << 30));
  else if (bytes >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.1f MB", b / (1ull << 20));
  else if (bytes >= (1ull << 10))
    std::snprintf(buf, sizeof buf, "%.1f KB", b / (1ull << 10));
  else
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
  return buf;
}

void CheckMemory(const std::string& where, std::uint64_t bytes, const std::string& what) {
  const std::uint64_t avail = AvailableMemory();
  if (bytes <= avail) return;
  const std::string need = bytes == std::numeric_limits<std::uint64_t>::max()
                               ? std::string("more than 2^64 bytes")
                               : FormatBytes(bytes);
  throw InputError(
      where, what + " need " + need + " of memory; only " + FormatBytes(avail) + " is available");
}

std::uint64_t SaturatingMul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) return std::numeric_limits<std::uint64_t>::max();
  return out;
}

}  // namespace exitplan
