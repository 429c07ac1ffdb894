// Hostile inputs on the reading side (.npy, .npz, scores dumps, profiles), run through the real
// binary: each is refused with exit 2 and one line naming the file, and nothing is written.
#include <zlib.h>

#include <limits>
#include <optional>

#include "bad_input.hpp"
#include "optim/eenet.hpp"
#include "profiles/io.hpp"
#include "profiles/npy.hpp"
#include "profiles/sha256.hpp"

using exitplan::testing::BadInputCase;
using exitplan::testing::F32Bytes;
using exitplan::testing::I64Bytes;
using exitplan::testing::NpyBytes;
using exitplan::testing::SmallProfile;
using exitplan::testing::WriteSmallDump;

namespace {

const char* kF4 = "{'descr': '<f4', 'fortran_order': False, 'shape': ";

// A dump dir "d" whose val logits are `logits` (bytes of a whole .npy) and whose labels are 2
// valid int64 labels.
void DumpWithLogits(const BadInputCase& t, const std::string& logits) {
  t.Write("d/val_logits.npy", logits);
  t.Write("d/val_labels.npy",
          NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", I64Bytes({0, 1})));
}

std::vector<std::string> Inspect(const BadInputCase& t) { return {"inspect", "--dump", t / "d"}; }

}  // namespace

// ---- the harness itself ----------------------------------------------------------------------

TEST_CASE("bad input harness: a valid dump passes and a write is noticed") {
  BadInputCase t;
  WriteSmallDump(t / "d");
  t.ExpectSuccess(Inspect(t));
  const auto before = exitplan::testing::TakeSnapshot({t.path()});
  t.Write("d/new.txt", "x");
  const auto after = exitplan::testing::TakeSnapshot({t.path()});
  CHECK(exitplan::testing::DiffSnapshots(before, after).find("created") != std::string::npos);
  CHECK(exitplan::testing::OneLineProblem("exitplan: error: a\nb\n") != "");
  CHECK(exitplan::testing::OneLineProblem("exitplan: error: a \x1b[31m\n") != "");
  CHECK(exitplan::testing::OneLineProblem("exitplan: error: x.npy: bad\n") == "");
}

// ---- .npy ------------------------------------------------------------------------------------

TEST_CASE("bad input: npy: no magic", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, "this is not an npy file at all");
  t.ExpectRefused(Inspect(t), "val_logits.npy", "not a .npy file");
}

TEST_CASE("bad input: npy: empty file", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, "");
  t.ExpectRefused(Inspect(t), "val_logits.npy", "empty");
}

TEST_CASE("bad input: npy: truncated data", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes(std::string(kF4) + "(2, 3, 4), }", F32Bytes(std::vector<float>(20))));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "truncated");
}

TEST_CASE("bad input: npy: unsupported dtype", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3, 4), }",
                             std::string(2 * 3 * 4 * 8, '\0')));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "dtype");
}

TEST_CASE("bad input: npy: unknown format version", "[bad-input]") {
  BadInputCase t;
  std::string bytes = NpyBytes(std::string(kF4) + "(2, 3, 4), }", F32Bytes(std::vector<float>(24)));
  bytes[6] = 9;
  DumpWithLogits(t, bytes);
  t.ExpectRefused(Inspect(t), "val_logits.npy", "version");
}

TEST_CASE("bad input: npy: labels out of range", "[bad-input]") {
  BadInputCase t;
  t.Write("d/val_logits.npy",
          NpyBytes(std::string(kF4) + "(2, 3, 4), }", F32Bytes(std::vector<float>(24, 0.5f))));
  t.Write("d/val_labels.npy",
          NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", I64Bytes({0, 4})));
  t.ExpectRefused(Inspect(t), "val_labels.npy", "out of range");
}

TEST_CASE("bad input: npy: labels missing", "[bad-input]") {
  BadInputCase t;
  t.Write("d/val_logits.npy",
          NpyBytes(std::string(kF4) + "(2, 3, 4), }", F32Bytes(std::vector<float>(24, 0.5f))));
  t.ExpectRefused(Inspect(t), "val_labels.npy", "missing");
}

// ---- profiles --------------------------------------------------------------------------------

TEST_CASE("bad input: profile: missing file", "[bad-input]") {
  BadInputCase t;
  WriteSmallDump(t / "d");
  t.ExpectRefused(
      {"evaluate", "--dump", t / "d", "--profile", t / "nope.yaml", "--thresholds", "0.5,0.5"},
      "nope.yaml", "no such profile");
}

TEST_CASE("bad input: profile: unknown key", "[bad-input]") {
  BadInputCase t;
  WriteSmallDump(t / "d");
  t.Write("p.yaml", SmallProfile() + "latency: 3\n");
  t.ExpectRefused(
      {"evaluate", "--dump", t / "d", "--profile", t / "p.yaml", "--thresholds", "0.5,0.5"},
      "p.yaml:", "unknown key 'latency'");
}

TEST_CASE("bad input: npy: truncated header", "[bad-input]") {
  BadInputCase t;
  std::string bytes = NpyBytes(std::string(kF4) + "(2, 3, 4), }", F32Bytes(std::vector<float>(24)));
  bytes[8] = static_cast<char>(0xff);  // header length 0x??ff: beyond the file
  bytes[9] = static_cast<char>(0x7f);
  DumpWithLogits(t, bytes);
  t.ExpectRefused(Inspect(t), "val_logits.npy", "truncated .npy header");
}

TEST_CASE("bad input: npy: trailing data after the array", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes(std::string(kF4) + "(2, 3, 4), }", F32Bytes(std::vector<float>(25))));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "4 bytes of trailing data");
}

TEST_CASE("bad input: npy: C-order shape product wraps 64 bits", "[bad-input]") {
  BadInputCase t;
  // (2^62 + 200) * 3 * 4 = 200 * 12 mod 2^64: the old reader took N = 200.
  DumpWithLogits(t, NpyBytes(std::string(kF4) + "(4611686018427388104, 3, 4), }",
                             F32Bytes(std::vector<float>(200 * 12))));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "more than 2^64 elements");
}

TEST_CASE("bad input: npy: Fortran-order shape product wraps 64 bits", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': "
                             "(4611686018427388104, 3, 4), }",
                             F32Bytes(std::vector<float>(200 * 12))));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "more than 2^64 elements");
}

TEST_CASE("bad input: npy: scores-mode shape product wraps 64 bits", "[bad-input]") {
  BadInputCase t;
  // 2^63 + 3 exits x 2 samples = 6 elements mod 2^64.
  t.Write("d/val_confidence.npy", NpyBytes(std::string(kF4) + "(9223372036854775811, 2), }",
                                           F32Bytes({.5f, .5f, .5f, .5f, .5f, .5f})));
  t.Write("d/val_correct.npy",
          NpyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (9223372036854775811, 2), }",
                   std::string(6, '\1')));
  t.ExpectRefused(Inspect(t), "val_confidence.npy", "more than 2^64 elements");
}

TEST_CASE("bad input: npy: byte size wraps 64 bits", "[bad-input]") {
  BadInputCase t;
  // 2^62 elements fit, 2^62 * 8 bytes do not.
  DumpWithLogits(t, NpyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': "
                             "(4611686018427387904, 1, 1), }",
                             std::string(64, '\0')));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "more than 2^64 bytes");
}

TEST_CASE("bad input: npy: dimension beyond 2^64", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes(std::string(kF4) + "(99999999999999999999999, 3, 4), }", ""));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "beyond 2^64");
}

TEST_CASE("bad input: npy: item size beyond 2^64", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes("{'descr': '<f99999999999999999999', 'fortran_order': False, "
                             "'shape': (2, 3, 4), }",
                             ""));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "beyond 2^64");
}

TEST_CASE("bad input: npy: 30 KB shape tuple", "[bad-input]") {
  BadInputCase t;
  std::string shape = "(";
  for (int i = 0; i < 10000; ++i) shape += "1, ";
  shape += "2, 3, 4)";
  DumpWithLogits(t,
                 NpyBytes(std::string(kF4) + shape + ", }", F32Bytes(std::vector<float>(24)), 2));
  const std::string err = t.ExpectRefused(Inspect(t), "val_logits.npy", "expected a 3-d array");
  CHECK(err.size() < 400);
}

TEST_CASE("bad input: npy: 2 MB descr in a version 2 header", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes("{'descr': '<f" + std::string(2 << 20, '4') +
                                 "', 'fortran_order': False, 'shape': (2, 3, 4), }",
                             F32Bytes(std::vector<float>(24)), 2));
  const std::string err = t.ExpectRefused(Inspect(t), "val_logits.npy", "unsupported dtype");
  CHECK(err.size() < 400);
}

TEST_CASE("bad input: npy: newline and escape bytes inside the header", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t,
                 NpyBytes("{'descr': '<f\n\x1b[2J4', 'fortran_order': False, 'shape': (2, 3, 4), }",
                          F32Bytes(std::vector<float>(24))));
  const std::string err = t.ExpectRefused(Inspect(t), "val_logits.npy", "unsupported dtype");
  CHECK(err.find("\\n\\x1b[2J") != std::string::npos);
}

TEST_CASE("bad input: npy: structured dtype", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes("{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, "
                             "'shape': (2, 3, 4), }",
                             std::string(2 * 3 * 4 * 8, '\0')));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "structured arrays are not supported");
}

TEST_CASE("bad input: npy: fortran_order is not a boolean", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes("{'descr': '<f4', 'fortran_order': 1, 'shape': (2, 3, 4), }",
                             F32Bytes(std::vector<float>(24))));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "not a valid .npy header");
}

TEST_CASE("bad input: npy: header without a shape", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(
      t, NpyBytes("{'descr': '<f4', 'fortran_order': False, }", F32Bytes(std::vector<float>(24))));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "no 'shape' field");
}

TEST_CASE("bad input: npy: unknown key in the header", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), "
                             "'strides': (4,), }",
                             F32Bytes(std::vector<float>(24))));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "unknown key 'strides'");
}

TEST_CASE("bad input: npy: key twice in the header", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes("{'descr': '<f4', 'shape': (9,), 'fortran_order': False, 'shape': "
                             "(2, 3, 4), }",
                             F32Bytes(std::vector<float>(24))));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "appears twice");
}

TEST_CASE("bad input: npy: negative dimension", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes(std::string(kF4) + "(-2, 3, 4), }", F32Bytes(std::vector<float>(24))));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "negative dimension");
}

TEST_CASE("bad input: npy: unterminated string in the header", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3, 4), }", ""));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "not a valid .npy header");
}

TEST_CASE("bad input: npy: text after the header dict", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(
      t, NpyBytes(std::string(kF4) + "(2, 3, 4), } junk", F32Bytes(std::vector<float>(24))));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "after the closing");
}

TEST_CASE("bad input: npy: a FIFO does not hang", "[bad-input]") {
  BadInputCase t;
  t.Mkdir("d");
  REQUIRE(mkfifo((t / "d/val_logits.npy").c_str(), 0600) == 0);
  t.Write("d/val_labels.npy",
          NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", I64Bytes({0, 1})));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "a FIFO", 20);
}

TEST_CASE("bad input: npy: a directory in place of the file", "[bad-input]") {
  BadInputCase t;
  t.Mkdir("d/val_logits.npy");
  t.Write("d/val_labels.npy",
          NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", I64Bytes({0, 1})));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "a directory");
}

TEST_CASE("bad input: npy: a character device in place of the file", "[bad-input]") {
  BadInputCase t;
  t.Mkdir("d");
  std::filesystem::create_symlink("/dev/zero", t / "d/val_logits.npy");
  t.Write("d/val_labels.npy",
          NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", I64Bytes({0, 1})));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "a character device", 20);
}

TEST_CASE("bad input: npy: dangling symbolic link", "[bad-input]") {
  BadInputCase t;
  t.Mkdir("d");
  std::filesystem::create_symlink(t / "gone.npy", t / "d/val_logits.npy");
  t.Write("d/val_labels.npy",
          NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", I64Bytes({0, 1})));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "dangling symbolic link");
}

TEST_CASE("bad input: npy: integer logits", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3, 4), }",
                             std::string(96, '\0')));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "expected float16/32/64 logits");
}

TEST_CASE("bad input: npy: 2-d logits", "[bad-input]") {
  BadInputCase t;
  DumpWithLogits(t, NpyBytes(std::string(kF4) + "(2, 12), }", F32Bytes(std::vector<float>(24))));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "expected a 3-d array");
}

TEST_CASE("bad input: npy: NaN logits", "[bad-input]") {
  BadInputCase t;
  std::vector<float> v(24, 0.5f);
  v[7] = std::numeric_limits<float>::quiet_NaN();
  DumpWithLogits(t, NpyBytes(std::string(kF4) + "(2, 3, 4), }", F32Bytes(v)));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "non-finite logit");
}

TEST_CASE("bad input: npy: float labels", "[bad-input]") {
  BadInputCase t;
  t.Write("d/val_logits.npy",
          NpyBytes(std::string(kF4) + "(2, 3, 4), }", F32Bytes(std::vector<float>(24, 0.5f))));
  t.Write("d/val_labels.npy", NpyBytes(std::string(kF4) + "(2,), }", F32Bytes({0, 1})));
  t.ExpectRefused(Inspect(t), "val_labels.npy", "expected integer labels");
}

TEST_CASE("bad input: npy: labels of the wrong length", "[bad-input]") {
  BadInputCase t;
  t.Write("d/val_logits.npy",
          NpyBytes(std::string(kF4) + "(2, 3, 4), }", F32Bytes(std::vector<float>(24, 0.5f))));
  t.Write("d/val_labels.npy", NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                                       I64Bytes({0, 1, 2})));
  t.ExpectRefused(Inspect(t), "val_labels.npy", "expected labels of shape [2]");
}

// A sparse file: the size of a header plus `data_bytes`, without writing them.
void WriteSparseNpy(const BadInputCase& t, const std::string& rel, const std::string& dict,
                    std::uint64_t data_bytes) {
  const std::string p = t.Write(rel, NpyBytes(dict, ""));
  std::filesystem::resize_file(p, std::filesystem::file_size(p) + data_bytes);
}

TEST_CASE("bad input: npy: huge valid logits need more memory than there is", "[bad-input]") {
  BadInputCase t;
  // 2^31 - 1 samples x 4 exits x 1 class of float16: a 16 GB sparse file whose features need
  // ~400 GB.
  WriteSparseNpy(t, "d/val_logits.npy",
                 "{'descr': '<f2', 'fortran_order': False, 'shape': (2147483647, 4, 1), }",
                 2147483647ull * 4 * 2);
  t.Write("d/val_labels.npy",
          NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", I64Bytes({0, 1})));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "of memory");
}

TEST_CASE("bad input: npy: huge valid scores need more memory than there is", "[bad-input]") {
  BadInputCase t;
  const std::string dict =
      "{'descr': '|u1', 'fortran_order': False, 'shape': (2048, 2147483647), }";
  WriteSparseNpy(t, "d/val_confidence.npy", dict, 2048ull * 2147483647ull);
  WriteSparseNpy(t, "d/val_correct.npy", dict, 2048ull * 2147483647ull);
  t.ExpectRefused(Inspect(t), "val_confidence.npy", "of memory");
}

TEST_CASE("bad input: npy: 2^31 classes, few enough features to fit in memory", "[bad-input]") {
  BadInputCase t;
  // 1 sample x 1 exit x 2^31 classes of float16: a 4 GB sparse file, 47 bytes of features.
  WriteSparseNpy(t, "d/val_logits.npy",
                 "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 1, 2147483648), }",
                 2147483648ull * 2);
  t.Write("d/val_labels.npy",
          NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", I64Bytes({0})));
  t.ExpectRefused(Inspect(t), "val_logits.npy", "C (classes) = 2147483648");
}

TEST_CASE("bad input: npy: 2^31 samples in a scores dump", "[bad-input]") {
  BadInputCase t;
  const std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2147483648), }";
  WriteSparseNpy(t, "d/val_confidence.npy", dict, 2147483648ull);
  WriteSparseNpy(t, "d/val_correct.npy", dict, 2147483648ull);
  t.ExpectRefused(Inspect(t), "val_confidence.npy", "N (samples) = 2147483648");
}

TEST_CASE("bad input: npy: 2^32 exits in [K, N, C] logits", "[bad-input]") {
  BadInputCase t;
  WriteSparseNpy(t, "d/val_logits.npy",
                 "{'descr': '<f2', 'fortran_order': False, 'shape': (4294967296, 1, 1), }",
                 4294967296ull * 2);
  t.Write("d/val_labels.npy",
          NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", I64Bytes({0})));
  t.ExpectRefused({"inspect", "--dump", t / "d", "--layout", "kn"}, "val_logits.npy",
                  "K (exits) = 4294967296");
}

// ---- scores dumps ----------------------------------------------------------------------------

void ScoresDump(const BadInputCase& t, const std::string& conf, const std::string& corr) {
  if (!conf.empty()) t.Write("d/val_confidence.npy", conf);
  if (!corr.empty()) t.Write("d/val_correct.npy", corr);
}
const char* kU1 = "{'descr': '|u1', 'fortran_order': False, 'shape': ";

TEST_CASE("bad input: scores: correctness file missing", "[bad-input]") {
  BadInputCase t;
  ScoresDump(t, NpyBytes(std::string(kF4) + "(2, 3), }", F32Bytes({.1f, .2f, .3f, .4f, .5f, .6f})),
             "");
  t.ExpectRefused(Inspect(t), "val_correct.npy", "missing");
}

TEST_CASE("bad input: scores: confidence file missing", "[bad-input]") {
  BadInputCase t;
  ScoresDump(t, "", NpyBytes(std::string(kU1) + "(2, 3), }", std::string(6, '\1')));
  t.ExpectRefused(Inspect(t), "val_confidence.npy", "missing");
}

TEST_CASE("bad input: scores: correctness not 0/1", "[bad-input]") {
  BadInputCase t;
  ScoresDump(t, NpyBytes(std::string(kF4) + "(2, 3), }", F32Bytes({.1f, .2f, .3f, .4f, .5f, .6f})),
             NpyBytes(std::string(kU1) + "(2, 3), }", std::string("\1\0\2\1\1\1", 6)));
  t.ExpectRefused(Inspect(t), "val_correct.npy", "expected 0/1");
}

TEST_CASE("bad input: scores: NaN confidence", "[bad-input]") {
  BadInputCase t;
  ScoresDump(t,
             NpyBytes(std::string(kF4) + "(2, 3), }",
                      F32Bytes({.1f, .2f, std::numeric_limits<float>::quiet_NaN(), .4f, .5f, .6f})),
             NpyBytes(std::string(kU1) + "(2, 3), }", std::string(6, '\1')));
  t.ExpectRefused(Inspect(t), "val_confidence.npy", "NaN confidence");
}

TEST_CASE("bad input: scores: 1-d confidence", "[bad-input]") {
  BadInputCase t;
  ScoresDump(t, NpyBytes(std::string(kF4) + "(6,), }", F32Bytes({.1f, .2f, .3f, .4f, .5f, .6f})),
             NpyBytes(std::string(kU1) + "(6,), }", std::string(6, '\1')));
  t.ExpectRefused(Inspect(t), "val_confidence.npy", "expected a [K, N] array");
}

TEST_CASE("bad input: scores: shapes differ", "[bad-input]") {
  BadInputCase t;
  ScoresDump(t, NpyBytes(std::string(kF4) + "(2, 3), }", F32Bytes({.1f, .2f, .3f, .4f, .5f, .6f})),
             NpyBytes(std::string(kU1) + "(3, 2), }", std::string(6, '\1')));
  t.ExpectRefused(Inspect(t), "val_correct.npy", "expected shape [2, 3]");
}

// ---- .npz ------------------------------------------------------------------------------------

// One member of a hand-built zip, with every field that a hostile archive may lie about.
struct ZipEntry {
  ZipEntry(std::string n, std::string d, bool def = false,
           std::optional<std::uint32_t> c = std::nullopt,
           std::optional<std::uint32_t> u = std::nullopt)
      : name(std::move(n)), data(std::move(d)), deflate(def), crc(c), uncompressed(u) {}
  std::string name;
  std::string data;  // uncompressed bytes
  bool deflate = false;
  std::optional<std::uint32_t> crc;           // default: the true CRC-32
  std::optional<std::uint32_t> uncompressed;  // default: data.size()
  std::uint16_t method = 0xffff;              // default: 0 or 8
  std::uint16_t flags = 0;
};

std::string RawDeflate(const std::string& data) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 16, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void Put16(std::string& s, std::uint32_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>((v >> 8) & 0xff);
}
void Put32(std::string& s, std::uint32_t v) {
  Put16(s, v & 0xffff);
  Put16(s, v >> 16);
}

std::string ZipBytes(const std::vector<ZipEntry>& entries) {
  std::string out, central;
  for (const ZipEntry& e : entries) {
    const std::string payload = e.deflate ? RawDeflate(e.data) : e.data;
    const std::uint32_t crc =
        e.crc ? *e.crc
              : static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(e.data.data()),
                                                 static_cast<uInt>(e.data.size())));
    const std::uint16_t method = e.method != 0xffff ? e.method : (e.deflate ? 8 : 0);
    const std::uint32_t usize =
        e.uncompressed ? *e.uncompressed : static_cast<std::uint32_t>(e.data.size());
    const std::uint32_t offset = static_cast<std::uint32_t>(out.size());
    Put32(out, 0x04034b50);
    Put16(out, 20);
    Put16(out, e.flags);
    Put16(out, method);
    Put32(out, 0);
    Put32(out, crc);
    Put32(out, static_cast<std::uint32_t>(payload.size()));
    Put32(out, usize);
    Put16(out, static_cast<std::uint32_t>(e.name.size()));
    Put16(out, 0);
    out += e.name + payload;
    Put32(central, 0x02014b50);
    Put16(central, 20);
    Put16(central, 20);
    Put16(central, e.flags);
    Put16(central, method);
    Put32(central, 0);
    Put32(central, crc);
    Put32(central, static_cast<std::uint32_t>(payload.size()));
    Put32(central, usize);
    Put16(central, static_cast<std::uint32_t>(e.name.size()));
    Put16(central, 0);
    Put16(central, 0);
    Put16(central, 0);
    Put16(central, 0);
    Put32(central, 0);
    Put32(central, offset);
    central += e.name;
  }
  const std::uint32_t cd_offset = static_cast<std::uint32_t>(out.size());
  out += central;
  Put32(out, 0x06054b50);
  Put16(out, 0);
  Put16(out, 0);
  Put16(out, static_cast<std::uint32_t>(entries.size()));
  Put16(out, static_cast<std::uint32_t>(entries.size()));
  Put32(out, static_cast<std::uint32_t>(central.size()));
  Put32(out, cd_offset);
  Put16(out, 0);
  return out;
}

std::string LogitsNpy() {
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[i] = 0.25f * i;
  return NpyBytes(std::string(kF4) + "(2, 3, 4), }", F32Bytes(v));
}
std::string LabelsNpy() {
  return NpyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", I64Bytes({0, 1}));
}

TEST_CASE("bad input harness: hand-built .npz archives are read, stored and deflated") {
  for (bool deflate : {false, true}) {
    BadInputCase t;
    ZipEntry logits{"logits.npy", LogitsNpy()}, labels{"labels.npy", LabelsNpy()};
    logits.deflate = labels.deflate = deflate;
    t.Write("d/val.npz", ZipBytes({logits, labels}));
    const auto r = t.ExpectSuccess(Inspect(t));
    CHECK(r.out.find("N=2 K=3 C=4") != std::string::npos);
  }
}

TEST_CASE("bad input: npz: not a zip archive", "[bad-input]") {
  BadInputCase t;
  t.Write("d/val.npz", "PK but not really a zip archive, just text");
  t.ExpectRefused(Inspect(t), "val.npz", "not a .npz file");
}

TEST_CASE("bad input: npz: trailing data after the archive", "[bad-input]") {
  BadInputCase t;
  t.Write("d/val.npz",
          ZipBytes({{"logits.npy", LogitsNpy()}, {"labels.npy", LabelsNpy()}}) + "junk");
  t.ExpectRefused(Inspect(t), "val.npz", "trailing data");
}

TEST_CASE("bad input: npz: truncated archive", "[bad-input]") {
  BadInputCase t;
  const std::string z = ZipBytes({{"logits.npy", LogitsNpy()}, {"labels.npy", LabelsNpy()}});
  t.Write("d/val.npz", z.substr(0, z.size() - 30));
  t.ExpectRefused(Inspect(t), "val.npz", "not a .npz file");
}

TEST_CASE("bad input: npz: member missing", "[bad-input]") {
  BadInputCase t;
  t.Write("d/val.npz", ZipBytes({{"logits.npy", LogitsNpy()}}));
  t.ExpectRefused(Inspect(t), "val.npz", "has no array 'labels'");
}

TEST_CASE("bad input: npz: flipped payload byte in a stored member (CRC)", "[bad-input]") {
  BadInputCase t;
  std::string z = ZipBytes({{"logits.npy", LogitsNpy()}, {"labels.npy", LabelsNpy()}});
  z[30 + 10 + 128 + 5] ^= 0x40;  // a data byte of logits.npy (local header, name, npy header)
  t.Write("d/val.npz", z);
  t.ExpectRefused(Inspect(t), "val.npz:logits.npy", "CRC-32 mismatch");
}

TEST_CASE("bad input: npz: wrong CRC of a deflated member", "[bad-input]") {
  BadInputCase t;
  ZipEntry logits{"logits.npy", LogitsNpy(), true, 0x12345678u};
  t.Write("d/val.npz", ZipBytes({logits, {"labels.npy", LabelsNpy()}}));
  t.ExpectRefused(Inspect(t), "val.npz:logits.npy", "CRC-32 mismatch");
}

TEST_CASE("bad input: npz: corrupt deflate stream", "[bad-input]") {
  BadInputCase t;
  ZipEntry logits{"logits.npy", LogitsNpy(), true};
  std::string z = ZipBytes({logits, {"labels.npy", LabelsNpy()}});
  for (int i = 0; i < 12; ++i) z[30 + 10 + 2 + i] = static_cast<char>(0xff);
  t.Write("d/val.npz", z);
  t.ExpectRefused(Inspect(t), "val.npz:logits.npy", "");
}

TEST_CASE("bad input: npz: directory claims 4 GB from a small archive", "[bad-input]") {
  BadInputCase t;
  ZipEntry logits{"logits.npy", LogitsNpy(), true, std::nullopt, 0xfffffff0u};
  t.Write("d/val.npz", ZipBytes({logits, {"labels.npy", LabelsNpy()}}));
  t.ExpectRefused(Inspect(t), "val.npz:logits.npy", "more than deflate can produce");
}

TEST_CASE("bad input: npz: member size disagrees with its .npy header", "[bad-input]") {
  BadInputCase t;
  // A header claiming 100000 x 3 x 4 floats, a few bytes of data: refused before inflating.
  const std::string npy = NpyBytes(std::string(kF4) + "(100000, 3, 4), }", F32Bytes({1, 2, 3}));
  t.Write("d/val.npz", ZipBytes({{"logits.npy", npy, true}, {"labels.npy", LabelsNpy()}}));
  t.ExpectRefused(Inspect(t), "val.npz:logits.npy", "its .npy header");
}

TEST_CASE("bad input: npz: member inflates past its declared size", "[bad-input]") {
  BadInputCase t;
  // The directory declares the header's size, the stream holds 4000 more zero bytes.
  const std::string npy = LogitsNpy();
  ZipEntry logits{"logits.npy", npy + std::string(4000, '\0'), true, std::nullopt,
                  static_cast<std::uint32_t>(npy.size())};
  t.Write("d/val.npz", ZipBytes({logits, {"labels.npy", LabelsNpy()}}));
  t.ExpectRefused(Inspect(t), "val.npz:logits.npy", "inflates to more than");
}

TEST_CASE("bad input: npz: member inflates short of its declared size", "[bad-input]") {
  BadInputCase t;
  const std::string npy = LogitsNpy();
  ZipEntry logits{"logits.npy", npy.substr(0, npy.size() - 8), true, std::nullopt,
                  static_cast<std::uint32_t>(npy.size())};
  t.Write("d/val.npz", ZipBytes({logits, {"labels.npy", LabelsNpy()}}));
  t.ExpectRefused(Inspect(t), "val.npz:logits.npy", "inflates to only");
}

TEST_CASE("bad input: npz: unsupported compression method", "[bad-input]") {
  BadInputCase t;
  ZipEntry logits{"logits.npy", LogitsNpy()};
  logits.method = 12;  // bzip2
  t.Write("d/val.npz", ZipBytes({logits, {"labels.npy", LabelsNpy()}}));
  t.ExpectRefused(Inspect(t), "val.npz:logits.npy", "compression method 12");
}

TEST_CASE("bad input: npz: encrypted member", "[bad-input]") {
  BadInputCase t;
  ZipEntry logits{"logits.npy", LogitsNpy()};
  logits.flags = 1;
  t.Write("d/val.npz", ZipBytes({logits, {"labels.npy", LabelsNpy()}}));
  t.ExpectRefused(Inspect(t), "val.npz:logits.npy", "encrypted");
}

TEST_CASE("bad input: npz: member name twice", "[bad-input]") {
  BadInputCase t;
  t.Write("d/val.npz", ZipBytes({{"logits.npy", LogitsNpy()},
                                 {"logits.npy", LogitsNpy()},
                                 {"labels.npy", LabelsNpy()}}));
  t.ExpectRefused(Inspect(t), "val.npz", "twice");
}

TEST_CASE("bad input: npz: member that is not .npy", "[bad-input]") {
  BadInputCase t;
  t.Write("d/val.npz", ZipBytes({{"logits.npy", "plain text"}, {"labels.npy", LabelsNpy()}}));
  t.ExpectRefused(Inspect(t), "val.npz:logits.npy", "not a .npy file");
}

TEST_CASE("bad input: npz: stored member with trailing bytes", "[bad-input]") {
  BadInputCase t;
  t.Write("d/val.npz",
          ZipBytes({{"logits.npy", LogitsNpy() + "xyz"}, {"labels.npy", LabelsNpy()}}));
  t.ExpectRefused(Inspect(t), "val.npz:logits.npy", "trailing data");
}

TEST_CASE("bad input: npz: a FIFO does not hang", "[bad-input]") {
  BadInputCase t;
  t.Mkdir("d");
  REQUIRE(mkfifo((t / "d/val.npz").c_str(), 0600) == 0);
  t.ExpectRefused(Inspect(t), "val.npz", "a FIFO", 20);
}

TEST_CASE("bad input: npz: central directory outside the file", "[bad-input]") {
  BadInputCase t;
  std::string z = ZipBytes({{"logits.npy", LogitsNpy()}, {"labels.npy", LabelsNpy()}});
  z[z.size() - 3] = static_cast<char>(0x7f);  // the directory's offset, high byte
  t.Write("d/val.npz", z);
  t.ExpectRefused(Inspect(t), "val.npz", "outside the file");
}

// ---- profiles and YAML -----------------------------------------------------------------------

// `evaluate` on a valid small dump with the profile text given.
std::string RefuseProfile(const std::string& profile_text, const std::string& names,
                          const std::string& says) {
  BadInputCase t;
  WriteSmallDump(t / "d");
  t.Write("p.yaml", profile_text);
  return t.ExpectRefused(
      {"evaluate", "--dump", t / "d", "--profile", t / "p.yaml", "--thresholds", "0.5,0.5"}, names,
      says);
}

TEST_CASE("bad input harness: the small profile is accepted") {
  BadInputCase t;
  WriteSmallDump(t / "d");
  t.Write("p.yaml", SmallProfile());
  t.ExpectSuccess(
      {"evaluate", "--dump", t / "d", "--profile", t / "p.yaml", "--thresholds", "0.5,0.5"});
}

TEST_CASE("bad input: profile: unit is a sequence", "[bad-input]") {
  RefuseProfile("unit: [ms]\nexits:\n  - {backbone: 1}\n  - {backbone: 2}\n  - {backbone: 3}\n",
                "p.yaml:1", "unit: expected a text value, found a sequence");
}

TEST_CASE("bad input: profile: target is a mapping", "[bad-input]") {
  RefuseProfile(
      "unit: ms\ntarget: {a: 1}\nexits:\n  - {backbone: 1}\n  - {backbone: 2}\n"
      "  - {backbone: 3}\n",
      "p.yaml:2", "target: expected a text value, found a mapping");
}

TEST_CASE("bad input: profile: exit name is a mapping", "[bad-input]") {
  RefuseProfile(
      "unit: ms\nexits:\n  - {backbone: 1}\n  - {name: {x: 1}, backbone: 2}\n"
      "  - {backbone: 3}\n",
      "p.yaml:4", "exits[1].name: expected a text value");
}

TEST_CASE("bad input: profile: complex key", "[bad-input]") {
  RefuseProfile("unit: ms\n? [a, b]\n: 1\nexits:\n  - {backbone: 1}\n", "p.yaml:2",
                "keys must be plain names");
}

TEST_CASE("bad input: profile: complex target name", "[bad-input]") {
  RefuseProfile("targets:\n  ? {x: 1}\n  : {unit: ms, cumulative: [1, 2, 3]}\n", "p.yaml:2",
                "keys must be plain names");
}

TEST_CASE("bad input: profile: a directory", "[bad-input]") {
  BadInputCase t;
  WriteSmallDump(t / "d");
  t.Mkdir("prof");
  t.ExpectRefused(
      {"evaluate", "--dump", t / "d", "--profile", t / "prof", "--thresholds", "0.5,0.5"}, "prof",
      "is a directory");
}

TEST_CASE("bad input: profile: a FIFO does not hang", "[bad-input]") {
  BadInputCase t;
  WriteSmallDump(t / "d");
  REQUIRE(mkfifo((t / "p.yaml").c_str(), 0600) == 0);
  t.ExpectRefused(
      {"evaluate", "--dump", t / "d", "--profile", t / "p.yaml", "--thresholds", "0.5,0.5"},
      "p.yaml", "not a regular file", 20);
}

TEST_CASE("bad input: profile: dangling symbolic link", "[bad-input]") {
  BadInputCase t;
  WriteSmallDump(t / "d");
  std::filesystem::create_symlink(t / "gone.yaml", t / "p.yaml");
  t.ExpectRefused(
      {"evaluate", "--dump", t / "d", "--profile", t / "p.yaml", "--thresholds", "0.5,0.5"},
      "p.yaml", "dangling symbolic link");
}

TEST_CASE("bad input: profile: larger than 64 MB", "[bad-input]") {
  BadInputCase t;
  WriteSmallDump(t / "d");
  const std::string p = t.Write("p.yaml", SmallProfile());
  std::filesystem::resize_file(p, 65u << 20);
  t.ExpectRefused({"evaluate", "--dump", t / "d", "--profile", p, "--thresholds", "0.5,0.5"},
                  "p.yaml", "larger than 64 MB");
}

TEST_CASE("bad input: profile: every cost is 0", "[bad-input]") {
  RefuseProfile("unit: ms\ncumulative: [0, 0, 0]\n", "p.yaml:2", "every cost is 0");
}

TEST_CASE("bad input: profile: costs of 1e308 overflow", "[bad-input]") {
  RefuseProfile(
      "unit: ms\nexits:\n  - {backbone: 1e308, head: 1e308}\n  - {backbone: 1e308}\n"
      "  - {backbone: 1e308}\n",
      "p.yaml:3", "costs above 1e250 are refused");
}

TEST_CASE("bad input: profile: cost is text", "[bad-input]") {
  RefuseProfile("unit: ms\ncumulative: [1, abc, 3]\n", "p.yaml:2",
                "expected a number, found 'abc'");
}

TEST_CASE("bad input: profile: cost is infinite", "[bad-input]") {
  RefuseProfile("unit: ms\ncumulative: [1, .inf, 3]\n", "p.yaml:2", "must be finite");
}

TEST_CASE("bad input: profile: cost beyond double range", "[bad-input]") {
  RefuseProfile("unit: ms\ncumulative: [1, 1e999, 3]\n", "p.yaml:2", "expected a number");
}

TEST_CASE("bad input: profile: negative cost", "[bad-input]") {
  RefuseProfile("unit: ms\ncumulative: [1, -2, 3]\n", "p.yaml:2", "costs must be >= 0");
}

TEST_CASE("bad input: profile: decreasing costs", "[bad-input]") {
  RefuseProfile("unit: ms\ncumulative: [1, 3, 2]\n", "p.yaml:2", "costs decrease at exit 3");
}

TEST_CASE("bad input: profile: invalid YAML", "[bad-input]") {
  RefuseProfile("unit: ms\ncumulative: [1, 2, 3\n", "p.yaml:", "invalid YAML");
}

TEST_CASE("bad input: profile: nesting 100000 deep", "[bad-input]") {
  RefuseProfile("unit: ms\ncumulative: " + std::string(100000, '[') + "\n", "p.yaml", "");
}

TEST_CASE("bad input: profile: unit is a block scalar with a newline", "[bad-input]") {
  const std::string err = RefuseProfile("unit: |\n  ms\n  second line\ncumulative: [1, 2, 3]\n",
                                        "p.yaml:1", "unknown unit");
  CHECK(err.find("ms\\nsecond line") != std::string::npos);
}

TEST_CASE("bad input: profile: escape sequence in the unit", "[bad-input]") {
  const std::string err =
      RefuseProfile("unit: \"\\e[31mms\"\ncumulative: [1, 2, 3]\n", "p.yaml:1", "unknown unit");
  CHECK(err.find("\\x1b[31m") != std::string::npos);
}

TEST_CASE("bad input: profile: exit count differs from the dump", "[bad-input]") {
  RefuseProfile("unit: ms\ncumulative: [1, 2]\n", "p.yaml", "has 2 exits, but the dump");
}

TEST_CASE("bad input: profile: duplicate key", "[bad-input]") {
  RefuseProfile("unit: ms\nunit: s\ncumulative: [1, 2, 3]\n", "p.yaml:2", "duplicate key 'unit'");
}

TEST_CASE("bad input: profile: unknown unit", "[bad-input]") {
  RefuseProfile("unit: parsecs\ncumulative: [1, 2, 3]\n", "p.yaml:1", "unknown unit 'parsecs'");
}

TEST_CASE("bad input: profile: exits is a mapping", "[bad-input]") {
  RefuseProfile("unit: ms\nexits: {a: 1}\n", "p.yaml:2", "exits: expected a non-empty list");
}

TEST_CASE("bad input: profile: targets is a sequence", "[bad-input]") {
  RefuseProfile("targets: [a, b]\n", "p.yaml:1", "targets: expected a mapping");
}

TEST_CASE("bad input: profile: empty file", "[bad-input]") {
  RefuseProfile("", "p.yaml", "expected a YAML mapping");
}

// ---- what the catch site echoes --------------------------------------------------------------

TEST_CASE("bad input: option: a dump path holding a newline and an escape sequence",
          "[bad-input]") {
  BadInputCase t;
  const std::string err = t.ExpectRefused({"inspect", "--dump", t / "x\ny\x1b[2J"}, "x\\ny\\x1b[2J",
                                          "no such dump directory");
  CHECK(err.find('\x1b') == std::string::npos);
}

TEST_CASE("bad input: option: unknown option holding control bytes", "[bad-input]") {
  BadInputCase t;
  WriteSmallDump(t / "d");
  t.ExpectRefused({"inspect", "--dump", t / "d",
                   "--fro\x07\x9b"
                   "bnicate"},
                  "--fro\\x07\\x9bbnicate");
}

TEST_CASE("bad input: option: invalid UTF-8 in a path", "[bad-input]") {
  BadInputCase t;
  t.ExpectRefused({"inspect", "--dump", t / "\xff\xfe\xc0\xaf"}, "\\xff\\xfe\\xc0\\xaf",
                  "no such dump directory");
}

// ---- sweep files (the parser's reading side) -------------------------------------------------

// A sweep file around the small dump of WriteSmallDump and a valid profile, with `methods` text.
std::string RefuseSweep(const std::string& methods, const std::string& names,
                        const std::string& says) {
  BadInputCase t;
  WriteSmallDump(t / "d");
  t.Write("p.yaml", SmallProfile());
  t.Write("s.yaml", "output: out\nmodels:\n  - {name: m, dump: d, profile: p.yaml}\nmethods:\n" +
                        methods + "budgets: [50%]\n");
  return t.ExpectRefused({"sweep", t / "s.yaml", "-o", t / "out"}, names, says);
}

TEST_CASE("bad input harness: the small sweep runs") {
  BadInputCase t;
  WriteSmallDump(t / "d");
  t.Write("p.yaml", SmallProfile());
  t.Write("s.yaml",
          "output: out\nmodels:\n  - {name: m, dump: d, profile: p.yaml}\nmethods:\n"
          "  - method: single\nbudgets: [50%]\n");
  t.ExpectSuccess({"sweep", t / "s.yaml", "-o", t / "out"});
}

// Report and config file names keep only letters, digits, '.', '-' and '_': two groups whose
// names map to the same file name would overwrite each other's reports.
std::string RefuseSweepModels(const std::string& models, const std::string& names,
                              const std::string& says,
                              const std::string& profile = SmallProfile()) {
  BadInputCase t;
  WriteSmallDump(t / "d");
  t.Write("p.yaml", profile);
  t.Write("s.yaml",
          "output: out\nmodels:\n" + models + "methods:\n  - method: single\nbudgets: [50%]\n");
  return t.ExpectRefused({"sweep", t / "s.yaml", "-o", t / "out"}, names, says);
}

const char kTwoTargets[] =
    "targets:\n"
    "  cpu:\n    unit: ms\n    exits:\n      - {name: e1, backbone: 1.0, head: 0.1}\n"
    "      - {name: e2, backbone: 2.0, head: 0.1}\n      - {name: e3, backbone: 3.0, head: 0.1}\n"
    "  p__cpu:\n    unit: ms\n    exits:\n      - {name: e1, backbone: 1.0, head: 0.1}\n"
    "      - {name: e2, backbone: 2.0, head: 0.1}\n      - {name: e3, backbone: 3.0, head: 0.1}\n";

TEST_CASE("bad input: sweep: two models map to one report file name (targets named)",
          "[bad-input]") {
  const std::string err = RefuseSweepModels(
      "  - {name: a b, dump: d, profile: p.yaml, target: cpu}\n"
      "  - {name: a_b, dump: d, profile: p.yaml, target: cpu}\n",
      "s.yaml:4", "reports/a_b__cpu.csv");
  CHECK(err.find("model 'a_b' target 'cpu' and model 'a b' target 'cpu' (") != std::string::npos);
  CHECK(err.find("s.yaml:3") != std::string::npos);
}

TEST_CASE("bad input: sweep: two models map to one report file name (every target)",
          "[bad-input]") {
  // Found once the profile is read, still before anything is written.
  const std::string err = RefuseSweepModels(
      "  - {name: \"m/1\", dump: d, profile: p.yaml}\n"
      "  - {name: \"m:1\", dump: d, profile: p.yaml}\n",
      "s.yaml:4", "reports/m_1__cpu.csv");
  CHECK(err.find("model 'm:1' target 'cpu' and model 'm/1' target 'cpu'") != std::string::npos);
}

TEST_CASE("bad input: sweep: model and target names split differently by '__'", "[bad-input]") {
  // m__p / cpu and m / p__cpu both give m__p__cpu.
  RefuseSweepModels(
      "  - {name: m__p, dump: d, profile: p.yaml, target: cpu}\n"
      "  - {name: m, dump: d, profile: p.yaml, target: p__cpu}\n",
      "s.yaml:4", "reports/m__p__cpu.csv", kTwoTargets);
}

TEST_CASE("bad input: sweep: a target listed twice", "[bad-input]") {
  RefuseSweepModels("  - {name: m, dump: d, profile: p.yaml, targets: [cpu, cpu]}\n", "s.yaml:3",
                    "target 'cpu' appears twice for model 'm'");
}

TEST_CASE("sweep: models whose names differ only in unsafe characters run when targets differ") {
  BadInputCase t;
  WriteSmallDump(t / "d");
  t.Write("p.yaml", kTwoTargets);
  t.Write("s.yaml",
          "output: out\nmodels:\n  - {name: a b, dump: d, profile: p.yaml, target: cpu}\n"
          "  - {name: a_b, dump: d, profile: p.yaml, target: p__cpu}\n"
          "methods:\n  - method: single\nbudgets: [50%]\n");
  t.ExpectSuccess({"sweep", t / "s.yaml", "-o", t / "out"});
  CHECK(std::filesystem::is_regular_file(t / "out/reports/a_b__cpu.csv"));
  CHECK(std::filesystem::is_regular_file(t / "out/reports/a_b__p__cpu.csv"));
}

TEST_CASE("bad input: sweep: options key is a sequence", "[bad-input]") {
  RefuseSweep("  - method: single\n    options:\n      ? [a, b]\n      : 1\n", "s.yaml:7",
              "keys must be plain names");
}

TEST_CASE("bad input: sweep: complex key at the top", "[bad-input]") {
  RefuseSweep("  - method: single\n? {x: 1}\n: 2\n", "s.yaml:6", "keys must be plain names");
}

TEST_CASE("bad input: sweep: nesting 100000 deep", "[bad-input]") {
  RefuseSweep("  - method: " + std::string(100000, '[') + "\n", "s.yaml", "");
}

TEST_CASE("bad input: sweep: method is a mapping", "[bad-input]") {
  RefuseSweep("  - method: {a: 1}\n", "s.yaml:5", "method: expected a string");
}

// Found by fuzz_npz: a deflated member whose .npy prefix declares an empty header (shorter than
// the first bytes inflated) made the reader inflate past its header buffer.
TEST_CASE("bad input: npz: deflated member with an empty .npy header", "[bad-input]") {
  BadInputCase t;
  const std::string npy = std::string("\x93NUMPY\x01\x00\x00\x00", 10) + std::string(200, 'x');
  t.Write("d/val.npz", ZipBytes({{"logits.npy", npy, true}, {"labels.npy", LabelsNpy()}}));
  t.ExpectRefused(Inspect(t), "val.npz:logits.npy", "not a valid .npy header");
}

// ---- scorer files (a small YAML and its .npz of weights) ------------------------------------

namespace {

// A valid scorer for the small dump (K = 3, C = 4) at s.yaml + s.npz, the dump at d/ and its
// profile at p.yaml; returns the evaluate command that reads them.
std::vector<std::string> ScorerCase(const BadInputCase& t) {
  WriteSmallDump(t / "d");
  t.Write("p.yaml", SmallProfile());
  exitplan::ScorerFile f;
  f.scorer.layout = exitplan::EENetLayout::FromHidden(3, 4, {2, 3, 2});
  f.scorer.theta = Eigen::VectorXd::LinSpaced(f.scorer.layout.size, -0.5, 0.5);
  f.scorer.temperatures = {1.0, 1.0, 1.0};
  f.policy.kept = {0, 1, 2};
  f.policy.thresholds = {0.6, 0.5};
  f.budget = 2.0;
  f.unit = "ms";
  f.distribution = {0.3, 0.3, 0.4};
  exitplan::SaveScorer(t / "s.yaml", f);
  return {"evaluate", "--dump", t / "d", "--profile", t / "p.yaml", "--scorer", t / "s.yaml"};
}

// s.yaml pointing at weights file `file` whose bytes are `npz` (the SHA-256 recorded matches).
void PointAt(const BadInputCase& t, const std::string& file, const std::string& npz) {
  std::string yaml = exitplan::ReadFile(t / "s.yaml");
  yaml = yaml.substr(0, yaml.find("\nweights:") + 1) + "weights: {file: " + file +
         ", sha256: " + exitplan::Sha256Hex(npz) + "}\n";
  t.Write("s.yaml", yaml);
  t.Write(file, npz);
}

}  // namespace

TEST_CASE("bad input harness: a valid scorer file pair is read") {
  BadInputCase t;
  t.ExpectSuccess(ScorerCase(t));
}

TEST_CASE("bad input: scorer: weights file missing", "[bad-input]") {
  BadInputCase t;
  const auto cmd = ScorerCase(t);
  std::filesystem::remove(t / "s.npz");
  t.ExpectRefused(cmd, "s.npz");
}

TEST_CASE("bad input: scorer: weights of another scorer", "[bad-input]") {
  BadInputCase t;
  const auto cmd = ScorerCase(t);
  std::string npz = exitplan::ReadFile(t / "s.npz");
  npz[npz.size() / 2] ^= 1;  // one weight differs: a foreign (or damaged) file
  t.Write("s.npz", npz);
  t.ExpectRefused(cmd, "s.npz", "is not the weights");
}

TEST_CASE("bad input: scorer: truncated weights", "[bad-input]") {
  BadInputCase t;
  const auto cmd = ScorerCase(t);
  const std::string npz = exitplan::ReadFile(t / "s.npz");
  PointAt(t, "cut.npz", npz.substr(0, npz.size() - 30));  // even with a matching SHA-256
  t.ExpectRefused(cmd, "cut.npz");
}

TEST_CASE("bad input: scorer: weights not an npz", "[bad-input]") {
  BadInputCase t;
  const auto cmd = ScorerCase(t);
  PointAt(t, "junk.npz", "this is not a zip archive");
  t.ExpectRefused(cmd, "junk.npz");
}

TEST_CASE("bad input: scorer: weights member missing", "[bad-input]") {
  BadInputCase t;
  const auto cmd = ScorerCase(t);
  PointAt(t, "few.npz",
          exitplan::NpzBytes({{"exit1_w_shared", {2, 7}, std::vector<double>(14, 0.1)}}));
  t.ExpectRefused(cmd, "few.npz", "exit1_b_shared");
}

TEST_CASE("bad input: scorer: weights member of the wrong shape", "[bad-input]") {
  BadInputCase t;
  const auto cmd = ScorerCase(t);
  PointAt(t, "shape.npz",
          exitplan::NpzBytes({{"exit1_w_shared", {7, 2}, std::vector<double>(14, 0.1)}}));
  t.ExpectRefused(cmd, "shape.npz",
                  "member exit1_w_shared is float64 [7, 2], expected float [2, 7]");
}

TEST_CASE("bad input: scorer: non-finite weight", "[bad-input]") {
  BadInputCase t;
  const auto cmd = ScorerCase(t);
  const exitplan::ScorerFile f = exitplan::LoadScorer(t / "s.yaml");
  exitplan::ScorerFile g = f;
  g.scorer.theta[3] = std::numeric_limits<double>::infinity();
  exitplan::SaveScorer(t / "s.yaml", g);
  t.ExpectRefused(cmd, "s.yaml", "non-finite weight");
}

TEST_CASE("bad input: scorer: weights path outside its folder", "[bad-input]") {
  BadInputCase t;
  const auto cmd = ScorerCase(t);
  std::string yaml = exitplan::ReadFile(t / "s.yaml");
  t.Write("s.yaml",
          yaml.substr(0, yaml.find("\nweights:") + 1) + "weights: {file: ../s.npz, sha256: 0}\n");
  t.ExpectRefused(cmd, "s.yaml", "must be a file name beside the scorer file");
}

TEST_CASE("bad input: scorer: weights file is a directory", "[bad-input]") {
  BadInputCase t;
  const auto cmd = ScorerCase(t);
  std::filesystem::remove(t / "s.npz");
  t.Mkdir("s.npz");
  t.ExpectRefused(cmd, "s.npz");
}
