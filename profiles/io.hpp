// Writing files so that nothing half-written is ever left behind (DESIGN.md "Errors"), and
// SHA-256 of inputs for provenance.
#pragma once

#include <string>

#include "profiles/sha256.hpp"

namespace exitplan {

// Writes `content` to a temporary file beside `path`, then renames it over `path`.
// Creates missing parent directories. Throws InputError naming the path on failure.
void WriteFileAtomic(const std::string& path, const std::string& content);

// Whole file as a string; throws InputError when unreadable.
std::string ReadFile(const std::string& path);

// Sha256Hex, Sha256File: profiles/sha256.hpp (included above).

}  // namespace exitplan
