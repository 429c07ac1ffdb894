// Up-front memory checks: a huge but valid input is refused with one line saying how much memory
// it needs, instead of failing later with std::bad_alloc.
#pragma once

#include <cstdint>
#include <string>

namespace exitplan {

// Bytes of memory this process may still allocate: the smaller of MemAvailable (/proc/meminfo,
// else physical memory) and the address-space / data-segment limits; UINT64_MAX when unknown.
std::uint64_t AvailableMemory();

// "1.5 GB", "640.0 MB", "12 bytes".
std::string FormatBytes(std::uint64_t bytes);

// Throws InputError(where, "<what> need(s) <bytes>; only <available> of memory is available")
// when `bytes` exceeds AvailableMemory().
void CheckMemory(const std::string& where, std::uint64_t bytes, const std::string& what);

// a * b, or UINT64_MAX when the product does not fit in 64 bits.
std::uint64_t SaturatingMul(std::uint64_t a, std::uint64_t b);

}  // namespace exitplan
