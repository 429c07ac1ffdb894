#include "test_util.hpp"

#include <sys/mount.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>

namespace exitplan::testing {

bool Close(double a, double b, double rel_tol, double abs_tol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::abs(a - b) <= abs_tol + rel_tol * std::max(std::abs(a), std::abs(b));
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/exitplan-test-XXXXXX";
  const char* p = mkdtemp(tmpl);
  if (p == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

template <typename T>
void Put(std::string& out, T value, bool swap) {
  char b[sizeof(T)];
  std::memcpy(b, &value, sizeof(T));
  if (swap) std::reverse(b, b + sizeof(T));
  out.append(b, sizeof(T));
}

void PutValue(std::string& out, char code, int size, bool swap, double v) {
  switch (code) {
    case 'f':
      if (size == 2)
        Put(out, Eigen::numext::bit_cast<std::uint16_t>(Eigen::half(float(v))), swap);
      else if (size == 4)
        Put(out, static_cast<float>(v), swap);
      else
        Put(out, v, swap);
      return;
    case 'i':
      if (size == 1)
        Put(out, static_cast<std::int8_t>(v), false);
      else if (size == 2)
        Put(out, static_cast<std::int16_t>(v), swap);
      else if (size == 4)
        Put(out, static_cast<std::int32_t>(v), swap);
      else
        Put(out, static_cast<std::int64_t>(v), swap);
      return;
    case 'u':
      if (size == 1)
        Put(out, static_cast<std::uint8_t>(v), false);
      else if (size == 2)
        Put(out, static_cast<std::uint16_t>(v), swap);
      else if (size == 4)
        Put(out, static_cast<std::uint32_t>(v), swap);
      else
        Put(out, static_cast<std::uint64_t>(v), swap);
      return;
    case 'b':
      Put(out, static_cast<std::uint8_t>(v != 0), false);
      return;
  }
  throw std::runtime_error("bad dtype code");
}

}  // namespace

void WriteNpyAs(const std::string& path, const std::string& descr,
                const std::vector<std::size_t>& shape, const std::vector<double>& values,
                bool fortran, int version) {
  const char code = descr[1];
  const int size = std::stoi(descr.substr(2));
  const bool swap = descr[0] == '>';  // host is little-endian
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': (";
  for (std::size_t d : shape) header += std::to_string(d) + ",";
  header += "), }";
  std::string data;
  // Storage order: C (last axis fastest) or Fortran (first axis fastest).
  std::size_t total = 1;
  for (std::size_t d : shape) total *= d;
  for (std::size_t s = 0; s < total; ++s) {
    std::size_t c_index = s;
    if (fortran && shape.size() > 1) {
      std::size_t rest = s, stride = 1;
      c_index = 0;
      std::vector<std::size_t> idx(shape.size());
      for (std::size_t d = 0; d < shape.size(); ++d) {
        idx[d] = rest % shape[d];
        rest /= shape[d];
      }
      for (std::size_t d = shape.size(); d-- > 0;) {
        c_index += idx[d] * stride;
        stride *= shape[d];
      }
    }
    PutValue(data, code, size, swap, values[c_index]);
  }
  const std::string out = NpyBytes(header, data, version);
  std::ofstream f(path, std::ios::binary);
  f.write(out.data(), static_cast<std::streamsize>(out.size()));
}

std::string NpyBytes(const std::string& dict, const std::string& data, int version) {
  std::string header = dict;
  const std::size_t prefix = version == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(version);
  out += '\0';
  if (version == 1) {
    Put(out, static_cast<std::uint16_t>(header.size()), false);
  } else {
    Put(out, static_cast<std::uint32_t>(header.size()), false);
  }
  return out + header + data;
}

std::map<std::string, std::string> FileTree(const std::string& dir) {
  std::map<std::string, std::string> m;
  if (!std::filesystem::exists(dir)) return m;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string rel = std::filesystem::relative(e.path(), dir).string();
    if (e.is_directory()) {
      m[rel] = "<dir>";
    } else {
      std::ifstream f(e.path(), std::ios::binary);
      m[rel] = std::string(std::istreambuf_iterator<char>(f), {});
    }
  }
  return m;
}

Tmpfs::Tmpfs(const std::string& dir, const std::string& options, unsigned long flags) : dir_(dir) {
  std::filesystem::create_directories(dir);
  ok_ = ::mount("tmpfs", dir.c_str(), "tmpfs", flags, options.c_str()) == 0;
  if (!ok_) std::cout << "SKIP: cannot mount a tmpfs at " << dir << " (needs root)\n";
}

Tmpfs::~Tmpfs() {
  if (ok_) ::umount2(dir_.c_str(), MNT_DETACH);
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

void WriteRandomLogitsDump(const std::string& dir, const std::string& split, int n, int k, int c,
                           unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::uniform_int_distribution<int> cls(0, c - 1);
  std::vector<double> logits(static_cast<std::size_t>(n) * k * c), labels(n);
  for (int i = 0; i < n; ++i) {
    labels[i] = cls(rng);
    for (int j = 0; j < k; ++j) {
      for (int q = 0; q < c; ++q) {
        // Deeper exits see more of the true class.
        const double signal = q == labels[i] ? 0.8 * (j + 1) : 0.0;
        logits[(static_cast<std::size_t>(i) * k + j) * c + q] = signal + 1.5 * noise(rng);
      }
    }
  }
  WriteNpyAs(
      dir + "/" + split + "_logits.npy", "<f4",
      {static_cast<std::size_t>(n), static_cast<std::size_t>(k), static_cast<std::size_t>(c)},
      logits);
  WriteNpyAs(dir + "/" + split + "_labels.npy", "<i8", {static_cast<std::size_t>(n)}, labels);
}

std::string SharedData(const std::string& relative) {
  const std::string p = std::string(EXITPLAN_SHARED_DIR) + "/data/" + relative;
  if (!std::filesystem::exists(p)) {
    std::cout << "SKIP: reference data " << p << " is absent (../shared/data)\n";
    return "";
  }
  return p;
}

std::string ProjectPath(const std::string& relative) {
  return std::string(EXITPLAN_SOURCE_DIR) + "/" + relative;
}

}  // namespace exitplan::testing
