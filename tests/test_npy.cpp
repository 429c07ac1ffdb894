// The .npy/.npz reader on files written in every supported dtype, order, byte order and version.
#include <zip.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "profiles/error.hpp"
#include "profiles/npy.hpp"
#include "test_util.hpp"

using namespace exitplan;
using exitplan::testing::TempDir;
using exitplan::testing::WriteNpyAs;

namespace {

// A 2x3 array with values exactly representable in every dtype tested.
const std::vector<double> kValues = {0, 1, 2, 3, 4, 5};

void WriteZip(const std::string& path,
              const std::vector<std::pair<std::string, std::string>>& members, bool deflate) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  REQUIRE(z != nullptr);
  for (const auto& [name, bytes] : members) {
    zip_source_t* src = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    const zip_int64_t idx = zip_file_add(z, name.c_str(), src, ZIP_FL_OVERWRITE);
    REQUIRE(idx >= 0);
    zip_set_file_compression(z, static_cast<zip_uint64_t>(idx),
                             deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  REQUIRE(zip_close(z) == 0);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("npy: every dtype, byte order, memory order and version reads back exactly") {
  TempDir dir;
  const std::vector<std::string> descrs = {"<f2", "<f4", "<f8", ">f2", ">f4", ">f8", "<i1",
                                           "|i1", "<i2", ">i2", "<i4", ">i4", "<i8", ">i8",
                                           "|u1", "<u2", ">u4", "<u8", "|b1"};
  for (const std::string& d : descrs) {
    for (bool fortran : {false, true}) {
      for (int version : {1, 2, 3}) {
        const std::string path = dir / "a.npy";
        std::vector<double> values = kValues;
        if (d == "|b1") values = {0, 1, 1, 0, 1, 0};
        WriteNpyAs(path, d, {2, 3}, values, fortran, version);
        const NpyArray a = ReadNpy(path);
        INFO("descr " << d << " fortran " << fortran << " version " << version);
        REQUIRE(a.shape() == std::vector<std::size_t>{2, 3});
        REQUIRE(a.size() == 6);
        REQUIRE(a.fortran_order() == fortran);
        for (std::size_t i = 0; i < 6; ++i) CHECK(a.At(i) == values[i]);
        std::vector<double> out(6);
        a.CopyTo(0, 6, out.data());
        CHECK(out == values);
      }
    }
  }
}

TEST_CASE("npy: 3-d Fortran order maps C indices correctly") {
  TempDir dir;
  std::vector<double> v(24);
  for (int i = 0; i < 24; ++i) v[i] = i * 0.5;
  WriteNpyAs(dir / "f.npy", "<f8", {2, 3, 4}, v, /*fortran=*/true);
  const NpyArray a = ReadNpy(dir / "f.npy");
  for (int i = 0; i < 24; ++i) CHECK(a.At(i) == v[i]);
  CHECK(a.Describe() == "float64 [2, 3, 4]");
}

TEST_CASE("npy: float16 values convert exactly") {
  TempDir dir;
  const std::vector<double> v = {0.5, -2.0, 65504.0, 0.0009765625};
  WriteNpyAs(dir / "h.npy", "<f2", {4}, v);
  const NpyArray a = ReadNpy(dir / "h.npy");
  for (int i = 0; i < 4; ++i) CHECK(a.At(i) == v[i]);
}

TEST_CASE("npy: bad files are clear errors naming the file") {
  TempDir dir;
  SECTION("missing") {
    CHECK_THROWS_WITH(ReadNpy(dir / "nope.npy"),
                      Catch::Contains("nope.npy") && Catch::Contains("cannot open"));
  }
  SECTION("not .npy") {
    exitplan::testing::WriteText(dir / "t.npy", "hello world, not numpy");
    CHECK_THROWS_WITH(ReadNpy(dir / "t.npy"),
                      Catch::Contains("t.npy") && Catch::Contains("not a .npy file"));
  }
  SECTION("truncated data") {
    WriteNpyAs(dir / "tr.npy", "<f4", {100}, std::vector<double>(100, 1.0));
    std::filesystem::resize_file(dir / "tr.npy", 128 + 40);
    CHECK_THROWS_WITH(ReadNpy(dir / "tr.npy"),
                      Catch::Contains("truncated") && Catch::Contains("float32 [100]"));
  }
  SECTION("truncated header") {
    WriteNpyAs(dir / "th.npy", "<f4", {2}, {1, 2});
    std::filesystem::resize_file(dir / "th.npy", 30);
    CHECK_THROWS_WITH(ReadNpy(dir / "th.npy"), Catch::Contains("truncated"));
  }
  SECTION("unsupported dtype") {
    WriteNpyAs(dir / "c.npy", "<f8", {2}, {1, 2});
    std::string bytes = Slurp(dir / "c.npy");
    bytes.replace(bytes.find("<f8"), 3, "<c8");
    exitplan::testing::WriteText(dir / "c.npy", bytes);
    CHECK_THROWS_WITH(ReadNpy(dir / "c.npy"), Catch::Contains("unsupported dtype '<c8'"));
    bytes.replace(bytes.find("'<c8'"), 5, "'|O8'");
    exitplan::testing::WriteText(dir / "o.npy", bytes);
    CHECK_THROWS_WITH(ReadNpy(dir / "o.npy"), Catch::Contains("unsupported dtype"));
  }
  SECTION("empty file") {
    exitplan::testing::WriteText(dir / "e.npy", "");
    CHECK_THROWS_WITH(ReadNpy(dir / "e.npy"), Catch::Contains("empty file"));
  }
}

TEST_CASE("npz: stored and deflated members read back; missing member is an error") {
  TempDir dir;
  WriteNpyAs(dir / "logits.npy", "<f4", {2, 3}, kValues);
  WriteNpyAs(dir / "labels.npy", "<i8", {2}, {1, 0});
  for (bool deflate : {false, true}) {
    const std::string path = dir / (deflate ? "d.npz" : "s.npz");
    WriteZip(path,
             {{"logits.npy", Slurp(dir / "logits.npy")}, {"labels.npy", Slurp(dir / "labels.npy")}},
             deflate);
    const NpyArray a = ReadNpzMember(path, "logits");
    REQUIRE(a.shape() == std::vector<std::size_t>{2, 3});
    for (std::size_t i = 0; i < 6; ++i) CHECK(a.At(i) == kValues[i]);
    CHECK(ReadNpzMember(path, "labels").At(0) == 1.0);
    CHECK_THROWS_WITH(ReadNpzMember(path, "scores"),
                      Catch::Contains("has no array 'scores' (it holds: logits, labels)"));
  }
  // np.savez(path, logits, labels) names the arrays arr_0, arr_1: the message says how to fix it.
  const std::string positional = dir / "p.npz";
  WriteZip(positional,
           {{"arr_0.npy", Slurp(dir / "logits.npy")}, {"arr_1.npy", Slurp(dir / "labels.npy")}},
           false);
  CHECK_THROWS_WITH(ReadNpzMember(positional, "logits"),
                    Catch::Contains("has no array 'logits' (it holds: arr_0, arr_1)") &&
                        Catch::Contains("np.savez(path, logits=logits, labels=labels)"));
  exitplan::testing::WriteText(dir / "bad.npz", "not a zip");
  CHECK_THROWS_WITH(ReadNpzMember(dir / "bad.npz", "logits"), Catch::Contains("bad.npz"));
}

TEST_CASE("WriteNpy round trip") {
  TempDir dir;
  WriteNpy(dir / "w.npy", {3}, {1.5, -2.25, 1e300});
  const NpyArray a = ReadNpy(dir / "w.npy");
  CHECK(a.At(0) == 1.5);
  CHECK(a.At(1) == -2.25);
  CHECK(a.At(2) == 1e300);
}
