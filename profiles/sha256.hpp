// SHA-256 (FIPS 180-4) of byte strings and files, for provenance and cache keys.
#pragma once

#include <string>

namespace exitplan {

// Lower-case hex SHA-256 of a byte string / a file's bytes. Sha256File throws InputError naming
// the path when it cannot be read.
std::string Sha256Hex(const std::string& bytes);
std::string Sha256File(const std::string& path);

}  // namespace exitplan
