// Shared helpers for the Catch2 tests.
#pragma once

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "exitplan_paths.hpp"
#include "profiles/types.hpp"

namespace exitplan::testing {

// |a - b| <= abs_tol + rel_tol * max(|a|, |b|); NaN equals NaN, infinities must match.
bool Close(double a, double b, double rel_tol = 1e-12, double abs_tol = 1e-12);

// A temporary directory removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes an .npy with an explicit descr (e.g. "<f4", ">i8", "|u1"), shape and raw values
// converted to that dtype; fortran=true writes the data in Fortran order.
void WriteNpyAs(const std::string& path, const std::string& descr,
                const std::vector<std::size_t>& shape, const std::vector<double>& c_order_values,
                bool fortran = false, int version = 1);
void WriteText(const std::string& path, const std::string& text);
// .npy bytes: the magic, format `version` (1: 16-bit header length, else 32-bit), the verbatim
// header dict padded with spaces to a multiple of 64 bytes and ended by a newline, then `data`.
std::string NpyBytes(const std::string& dict, const std::string& data, int version = 1);

// A random logits dump [N, K, C] (float32) + labels written to dir as <split>_*.npy.
void WriteRandomLogitsDump(const std::string& dir, const std::string& split, int n, int k, int c,
                           unsigned seed);

// Every entry below `dir` (recursive, names relative to it) -> the file's content, "<dir>" for a
// directory; empty when `dir` does not exist.
std::map<std::string, std::string> FileTree(const std::string& dir);

// A tmpfs mounted at `dir` (created if needed) for the object's lifetime, with mount `options`
// ("size=16k") and `flags` (MS_RDONLY); root only: ok() is false, and a SKIP line is printed, when
// it cannot be mounted, and the caller then returns.
class Tmpfs {
 public:
  Tmpfs(const std::string& dir, const std::string& options, unsigned long flags = 0);
  ~Tmpfs();
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;
  bool ok() const { return ok_; }

 private:
  std::string dir_;
  bool ok_ = false;
};

// Path of the shared reference data, or "" (and a printed skip message) when absent.
std::string SharedData(const std::string& relative);
std::string ProjectPath(const std::string& relative);

}  // namespace exitplan::testing
