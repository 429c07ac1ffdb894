#include "profiles/yaml_check.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "profiles/error.hpp"

namespace exitplan {

std::string YamlWhere(const std::string& source, const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  if (m.line < 0) return source;
  return source + ":" + std::to_string(m.line + 1);
}

YAML::Node LoadYamlFile(const std::string& path, const std::string& what) {
  constexpr std::size_t kMaxBytes = 64u << 20;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    struct stat lst {};
    if (e == ENOENT && ::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
      throw InputError(path, "dangling symbolic link (its target does not exist)");
    }
    if (e == ENOENT) throw InputError(path, what);
    throw InputError(path, std::string("cannot open: ") + std::strerror(e));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw InputError(path, std::string("cannot stat: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw InputError(path, "is a directory, expected a YAML file");
  if (!S_ISREG(st.st_mode)) throw InputError(path, "is not a regular file, expected a YAML file");
  if (static_cast<std::uint64_t>(st.st_size) > kMaxBytes) {
    throw InputError(path, "is " + std::to_string(st.st_size) +
                               " bytes; YAML files larger than 64 MB are refused");
  }
  std::string text;
  text.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw InputError(path, std::string("cannot read: ") + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return LoadYamlText(text, path);
}

YAML::Node LoadYamlText(const std::string& text, const std::string& source) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    const std::string at =
        e.mark.line >= 0 ? source + ":" + std::to_string(e.mark.line + 1) : source;
    throw InputError(at, "invalid YAML: " + e.msg);
  }
}

std::string YamlDescribe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Undefined:
      return "nothing";
    case YAML::NodeType::Scalar:
      break;
  }
  const std::string& s = node.Scalar();
  return "'" + (s.size() > 60 ? s.substr(0, 60) + "..." : s) + "'";
}

std::string YamlKey(const std::string& source, const YAML::Node& key, const std::string& context) {
  if (!key.IsScalar()) {
    throw InputError(YamlWhere(source, key), "a key in " + context + " is " + YamlDescribe(key) +
                                                 "; keys must be plain names");
  }
  return key.Scalar();
}

void CheckYamlKeys(const std::string& source, const YAML::Node& map,
                   const std::set<std::string>& allowed, const std::string& context) {
  if (!map.IsMap()) {
    throw InputError(YamlWhere(source, map),
                     context + ": expected a mapping, found " + YamlDescribe(map));
  }
  std::set<std::string> seen;
  for (const auto& kv : map) {
    const std::string key = YamlKey(source, kv.first, context);
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

std::string YamlString(const std::string& source, const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar()) {
    throw InputError(YamlWhere(source, node),
                     what + ": expected a text value, found " + YamlDescribe(node));
  }
  return node.Scalar();
}

double YamlDouble(const std::string& source, const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar()) {
    throw InputError(YamlWhere(source, node),
                     what + ": expected a number, found " + YamlDescribe(node));
  }
  double v = 0;
  if (!YAML::convert<double>::decode(node, v)) {
    throw InputError(YamlWhere(source, node),
                     what + ": expected a number, found " + YamlDescribe(node));
  }
  if (!std::isfinite(v)) {
    throw InputError(YamlWhere(source, node),
                     what + ": must be finite, found " + YamlDescribe(node));
  }
  return v;
}

std::int64_t YamlInt(const std::string& source, const YAML::Node& node, const std::string& what,
                     std::int64_t lo, std::int64_t hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!node.IsScalar()) {
    throw InputError(YamlWhere(source, node),
                     what + ": expected an integer in " + range + ", found " + YamlDescribe(node));
  }
  long long v = 0;
  if (!YAML::convert<long long>::decode(node, v)) {
    throw InputError(YamlWhere(source, node),
                     what + ": expected an integer in " + range + ", found " + YamlDescribe(node));
  }
  if (v < lo || v > hi) {
    throw InputError(YamlWhere(source, node),
                     what + " = " + std::to_string(v) + " is out of range " + range);
  }
  return v;
}

bool YamlBool(const std::string& source, const YAML::Node& node, const std::string& what) {
  bool v = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, v)) {
    throw InputError(YamlWhere(source, node),
                     what + ": expected true or false, found " + YamlDescribe(node));
  }
  return v;
}

std::size_t YamlSequence(const std::string& source, const YAML::Node& node,
                         const std::string& what) {
  if (!node.IsSequence()) {
    throw InputError(YamlWhere(source, node),
                     what + ": expected a list, found " + YamlDescribe(node));
  }
  return node.size();
}

}  // namespace exitplan
