// Hostile inputs on the reading side (.npy, .npz, scores dumps, profiles), run through the real
// binary: each is refused with exit 2 and one line naming the file, and nothing is written.
#include "bad_input.hpp"

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
  t.ExpectRefused({"evaluate", "--dump", t / "d", "--profile", t / "nope.yaml", "--thresholds",
                   "0.5,0.5"},
                  "nope.yaml", "no such profile");
}

TEST_CASE("bad input: profile: unknown key", "[bad-input]") {
  BadInputCase t;
  WriteSmallDump(t / "d");
  t.Write("p.yaml", SmallProfile() + "latency: 3\n");
  t.ExpectRefused({"evaluate", "--dump", t / "d", "--profile", t / "p.yaml", "--thresholds",
                   "0.5,0.5"},
                  "p.yaml:", "unknown key 'latency'");
}
