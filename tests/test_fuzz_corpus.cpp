// The libFuzzer targets of tests/fuzz/, replayed over their committed seed corpus
// (tests/fuzz/corpus/<target>/, which holds every finding's reproducer) and the project's own
// example files, so each finding stays a regression test in every build, the sanitizer build
// included. A target's entry point must return normally on every input: a crash, a sanitizer
// report or an exception other than InputError fails the test.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "exitplan_paths.hpp"

// The entry points, renamed per target by tests/CMakeLists.txt.
extern "C" int FuzzNpy(const std::uint8_t* data, std::size_t size);
extern "C" int FuzzNpz(const std::uint8_t* data, std::size_t size);
extern "C" int FuzzProfile(const std::uint8_t* data, std::size_t size);
extern "C" int FuzzSweep(const std::uint8_t* data, std::size_t size);
extern "C" int FuzzCsv(const std::uint8_t* data, std::size_t size);
extern "C" int FuzzManifest(const std::uint8_t* data, std::size_t size);

namespace fs = std::filesystem;

namespace {

using Target = int (*)(const std::uint8_t*, std::size_t);

// Files of `dir` (not recursive) whose names end in one of `exts` (all when empty), sorted.
std::vector<fs::path> Files(const fs::path& dir, const std::vector<std::string>& exts = {}) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string ext = e.path().extension().string();
    if (exts.empty() || std::find(exts.begin(), exts.end(), ext) != exts.end()) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Runs `target` on every file; returns how many.
int Replay(Target target, const std::vector<fs::path>& files) {
  int n = 0;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO("input " << f.string());
    CHECK(target(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()) == 0);
    ++n;
  }
  return n;
}

const fs::path kSrc = EXITPLAN_SOURCE_DIR;
const fs::path kCorpus = kSrc / "tests/fuzz/corpus";

}  // namespace

TEST_CASE("fuzz corpus: npy") {
  CHECK(Replay(FuzzNpy, Files(kCorpus / "fuzz_npy")) >= 9);
  CHECK(Replay(FuzzNpy, Files(kSrc / "data/example", {".npy"})) >= 4);
}

TEST_CASE("fuzz corpus: npz") { CHECK(Replay(FuzzNpz, Files(kCorpus / "fuzz_npz")) >= 2); }

TEST_CASE("fuzz corpus: profile") {
  Replay(FuzzProfile, Files(kCorpus / "fuzz_profile"));
  CHECK(Replay(FuzzProfile, Files(kSrc / "data/example", {".yaml"})) >= 1);
  CHECK(Replay(FuzzProfile, Files(kSrc / "tests/fixtures", {".yaml"})) >= 1);
}

TEST_CASE("fuzz corpus: sweep") {
  CHECK(Replay(FuzzSweep, Files(kCorpus / "fuzz_sweep")) >= 1);
  CHECK(Replay(FuzzSweep, Files(kSrc / "data/examples", {".yaml"})) >= 1);
  CHECK(Replay(FuzzSweep, Files(kSrc / "tests/fixtures/issue6", {".yaml"})) >= 1);
}

TEST_CASE("fuzz corpus: csv") { Replay(FuzzCsv, Files(kCorpus / "fuzz_csv")); }

TEST_CASE("fuzz corpus: manifest") {
  CHECK(Replay(FuzzManifest, Files(kCorpus / "fuzz_manifest")) >= 1);
  // The target's scratch file (tests/fuzz/fuzz_manifest.cpp).
  fs::remove("/tmp/exitplan-fuzz-manifest-" + std::to_string(::getpid()) + ".yaml");
}
