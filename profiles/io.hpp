// Writing files so that nothing half-written is ever left behind, and
// SHA-256 of inputs for provenance.
#pragma once

#include <string>

namespace exitplan {

// Writes `content` to a temporary file beside `path`, then renames it over `path`.
// Creates missing parent directories. Throws InputError naming the path on failure.
void WriteFileAtomic(const std::string& path, const std::string& content);

// Whole file as a string; throws InputError when unreadable.
std::string ReadFile(const std::string& path);

// Lower-case hex SHA-256 of a byte string / a file's bytes (FIPS 180-4).
std::string Sha256Hex(const std::string& bytes);
std::string Sha256File(const std::string& path);

}  // namespace exitplan
