// Checks yaml-cpp 0.7 leaves to its users (it accepts unknown and duplicate keys silently):
// file:line of a node, unknown or duplicate keys in a mapping, and typed reads of values that name
// the file, the line and what was expected instead of yaml-cpp's "bad conversion". Shared by every
// YAML reader (cost profiles, sweep files).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <string>

namespace exitplan {

// "<source>:<1-based line>" of a node, or just source when the node has no mark.
std::string YamlWhere(const std::string& source, const YAML::Node& node);

// Reads and parses a YAML file. Throws InputError naming the file when it is missing (`what`:
// "no such profile file"), a dangling link, a directory, a FIFO or device (never opened
// blocking), larger than 64 MB, or invalid YAML (with its line).
YAML::Node LoadYamlFile(const std::string& path, const std::string& what);
// Parses YAML text; invalid YAML throws InputError naming "<source>:<line>". Nesting deeper than
// yaml-cpp's depth guard is refused the same way (never a stack overflow).
YAML::Node LoadYamlText(const std::string& text, const std::string& source);

// Throws InputError at the offending key when `map` is not a mapping, holds a key outside
// `allowed` ("unknown key 'x' in <context> (expected one of: a, b)"), a key twice, or a key that
// is not a plain scalar (a sequence or mapping used as a key).
void CheckYamlKeys(const std::string& source, const YAML::Node& map,
                   const std::set<std::string>& allowed, const std::string& context);

// Typed reads; `what` names the value in messages ("exits[2].name"). Each throws InputError at
// the node's line when the node is not what is asked for (a sequence or mapping where a scalar is
// expected, text where a number is expected, a number out of range).
// The text of a mapping key; complex keys (sequences, mappings) are refused.
std::string YamlKey(const std::string& source, const YAML::Node& key, const std::string& context);
// A scalar's text (null / `~` counts as missing and is refused too).
std::string YamlString(const std::string& source, const YAML::Node& node, const std::string& what);
// A finite number.
double YamlDouble(const std::string& source, const YAML::Node& node, const std::string& what);
// An integer in [lo, hi].
std::int64_t YamlInt(const std::string& source, const YAML::Node& node, const std::string& what,
                     std::int64_t lo, std::int64_t hi);
// true/false (also yes/no, on/off as YAML 1.1 spells them).
bool YamlBool(const std::string& source, const YAML::Node& node, const std::string& what);
// Throws unless the node is a sequence; returns its size.
std::size_t YamlSequence(const std::string& source, const YAML::Node& node,
                         const std::string& what);

// A short, quoted rendering of a node for messages: 'text' for scalars, "a sequence" / "a
// mapping" otherwise.
std::string YamlDescribe(const YAML::Node& node);

}  // namespace exitplan
