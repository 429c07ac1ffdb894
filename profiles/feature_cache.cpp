#include "profiles/feature_cache.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "profiles/dump.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/sha256.hpp"

namespace exitplan {
namespace fs = std::filesystem;
namespace {

constexpr char kMagic[8] = {'E', 'X', 'P', 'L', 'F', 'E', 'A', 'T'};
constexpr std::uint32_t kVersion = 1;             // bump when the features or this layout change
constexpr std::uint32_t kByteOrder = 0x01020304;  // entries are read on the machine that wrote them
constexpr std::size_t kHeader = 8 + 4 + 4 + 3 * 8 + 64 + 8;
constexpr std::size_t kTrailer = 64;  // hex SHA-256 of everything before it
constexpr int kFloatMeasures[] = {
    static_cast<int>(Measure::kMaxProb), static_cast<int>(Measure::kEntropy),
    static_cast<int>(Measure::kMargin), static_cast<int>(Measure::kPatience),
    static_cast<int>(Measure::kVote)};

std::int64_t Nanos(const struct timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

std::string Identity(const struct stat& st) {
  std::ostringstream o;
  o << st.st_dev << ' ' << st.st_ino << ' ' << st.st_size << ' ' << Nanos(st.st_mtim) << ' '
    << Nanos(st.st_ctim);
  return o.str();
}

std::size_t PayloadBytes(std::size_t cells) { return cells * (5 * 8 + 4 + 1 + 1); }

std::string EntryPath(const std::string& dir, const std::string& key) {
  return (fs::path(dir) / "features" / (key + ".feat")).string();
}

template <typename T>
void Put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

template <typename T>
T Get(const std::string& in, std::size_t at) {
  T v;
  std::memcpy(&v, in.data() + at, sizeof(T));
  return v;
}

}  // namespace

std::string DefaultFeatureCacheDir() {
  if (const char* d = std::getenv("EXITPLAN_CACHE_DIR")) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    return (fs::path(x) / "exitplan").string();
  }
  if (const char* h = std::getenv("HOME"); h && *h) {
    return (fs::path(h) / ".cache" / "exitplan").string();
  }
  return "";
}

std::string CachedFileSha256(const std::string& path, const std::string& cache_dir) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw InputError(path, "cannot read (stat failed)");
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  const fs::path memo =
      fs::path(cache_dir) / "digests" / Sha256Hex(ec ? path : abs.lexically_normal().string());
  const std::string identity = Identity(st);
  {
    std::ifstream in(memo);
    std::string tag, id_line, sha;
    if (in && std::getline(in, tag) && std::getline(in, id_line) && std::getline(in, sha) &&
        tag == "exitplan-digest 1" && id_line == identity && sha.size() == 64) {
      return sha;
    }
  }
  const auto started = std::chrono::system_clock::now();
  const std::string sha = Sha256File(path);
  // Remember it only for a file that had not changed for 2 s when hashing began (see the header).
  const std::int64_t start_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(started.time_since_epoch()).count();
  const std::int64_t newest = std::max(Nanos(st.st_mtim), Nanos(st.st_ctim));
  struct stat after {};
  if (start_ns - newest > 2000000000LL && ::stat(path.c_str(), &after) == 0 &&
      Identity(after) == identity) {
    try {
      WriteFileAtomic(memo.string(), "exitplan-digest 1\n" + identity + "\n" + sha + "\n");
    } catch (const std::exception&) {
      // The cache only saves time.
    }
  }
  return sha;
}

std::string FeatureCacheKey(const SplitData& s) {
  if (s.cache_dir_.empty() || s.mode != DumpMode::kLogits) return "";
  std::ostringstream o;
  o << "exitplan-features " << kVersion << "\n";
  for (std::size_t f = 0; f < s.cache_inputs_.size(); ++f) {
    o << "input " << f << ' ' << CachedFileSha256(s.cache_inputs_[f], s.cache_dir_) << "\n";
  }
  o << "layout " << (s.layout_ == Layout::kNKC ? "nk" : "kn") << "\nshape " << s.n << ' ' << s.k
    << ' ' << s.c << "\ntemperatures";
  for (double t : s.temperatures) {
    std::uint64_t bits;
    std::memcpy(&bits, &t, sizeof bits);
    o << ' ' << std::hex << bits << std::dec;
  }
  o << "\n";
  return Sha256Hex(o.str());
}

bool ReadCachedFeatures(SplitData& s, const std::string& key) {
  const std::string path = EntryPath(s.cache_dir_, key);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  std::string in;
  try {
    in = ReadFile(path);
  } catch (const std::exception&) {
    return false;
  }
  const std::size_t cells = static_cast<std::size_t>(s.n) * static_cast<std::size_t>(s.k);
  const std::size_t payload = PayloadBytes(cells);
  if (in.size() != kHeader + payload + kTrailer) return false;
  if (std::memcmp(in.data(), kMagic, 8) != 0 || Get<std::uint32_t>(in, 8) != kVersion ||
      Get<std::uint32_t>(in, 12) != kByteOrder ||
      Get<std::uint64_t>(in, 16) != std::uint64_t(s.n) ||
      Get<std::uint64_t>(in, 24) != std::uint64_t(s.k) ||
      Get<std::uint64_t>(in, 32) != std::uint64_t(s.c) || in.compare(40, 64, key) != 0 ||
      Get<std::uint64_t>(in, 104) != payload) {
    return false;
  }
  if (Sha256Hex(in.substr(0, kHeader + payload)) != in.substr(kHeader + payload)) return false;
  std::size_t at = kHeader;
  for (int m : kFloatMeasures) {
    s.scores_[m].resize(s.k, s.n);
    std::memcpy(s.scores_[m].data(), in.data() + at, cells * 8);
    at += cells * 8;
  }
  s.predicted.resize(s.k, s.n);
  std::memcpy(s.predicted.data(), in.data() + at, cells * 4);
  at += cells * 4;
  s.correct.resize(s.k, s.n);
  std::memcpy(s.correct.data(), in.data() + at, cells);
  at += cells;
  s.agrees_final.resize(s.k, s.n);
  std::memcpy(s.agrees_final.data(), in.data() + at, cells);
  return true;
}

void WriteCachedFeatures(const SplitData& s, const std::string& key) {
  const std::size_t cells = static_cast<std::size_t>(s.n) * static_cast<std::size_t>(s.k);
  std::string out;
  out.reserve(kHeader + PayloadBytes(cells) + kTrailer);
  out.append(kMagic, 8);
  Put(out, kVersion);
  Put(out, kByteOrder);
  Put(out, std::uint64_t(s.n));
  Put(out, std::uint64_t(s.k));
  Put(out, std::uint64_t(s.c));
  out += key;
  Put(out, std::uint64_t(PayloadBytes(cells)));
  for (int m : kFloatMeasures) {
    out.append(reinterpret_cast<const char*>(s.scores_[m].data()), cells * 8);
  }
  out.append(reinterpret_cast<const char*>(s.predicted.data()), cells * 4);
  out.append(reinterpret_cast<const char*>(s.correct.data()), cells);
  out.append(reinterpret_cast<const char*>(s.agrees_final.data()), cells);
  out += Sha256Hex(out);
  try {
    WriteFileAtomic(EntryPath(s.cache_dir_, key), out);
  } catch (const std::exception&) {
    // The cache only saves time.
  }
}

}  // namespace exitplan
