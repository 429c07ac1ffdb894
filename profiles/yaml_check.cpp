#include "profiles/yaml_check.hpp"

#include "profiles/error.hpp"

namespace exitplan {

std::string YamlWhere(const std::string& source, const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  if (m.line < 0) return source;
  return source + ":" + std::to_string(m.line + 1);
}

void CheckYamlKeys(const std::string& source, const YAML::Node& map,
                   const std::set<std::string>& allowed, const std::string& context) {
  if (!map.IsMap()) throw InputError(YamlWhere(source, map), context + ": expected a mapping");
  std::set<std::string> seen;
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    if (!allowed.count(key)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      throw InputError(YamlWhere(source, kv.first), "unknown key '" + key + "' in " + context +
                                                        " (expected one of: " + list + ")");
    }
    if (!seen.insert(key).second) {
      throw InputError(YamlWhere(source, kv.first), "duplicate key '" + key + "' in " + context);
    }
  }
}

}  // namespace exitplan
