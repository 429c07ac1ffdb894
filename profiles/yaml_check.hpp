// Checks yaml-cpp 0.7 leaves to its users (it accepts unknown and duplicate keys silently): file:line of a node, and
// unknown or duplicate keys in a mapping (yaml-cpp accepts duplicates silently). Shared by every
// YAML reader (cost profiles, sweep files).
#pragma once

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

namespace exitplan {

// "<source>:<1-based line>" of a node, or just source when the node has no mark.
std::string YamlWhere(const std::string& source, const YAML::Node& node);

// Throws InputError at the offending key when `map` is not a mapping, holds a key outside
// `allowed` ("unknown key 'x' in <context> (expected one of: a, b)") or a key twice.
void CheckYamlKeys(const std::string& source, const YAML::Node& map,
                   const std::set<std::string>& allowed, const std::string& context);

}  // namespace exitplan
