// SHA-256 of files through OpenSSL: multi-buffer files against the string hash and FIPS 180-4
// vectors, and an unreadable file named.
#include <catch2/catch.hpp>
#include <fstream>

#include "profiles/error.hpp"
#include "profiles/sha256.hpp"
#include "test_util.hpp"

using namespace exitplan;

TEST_CASE("sha256: files spanning several read buffers hash like their bytes") {
  testing::TempDir dir;
  std::string content;
  for (int i = 0; i < (3 << 20) + 17; ++i) content.push_back(static_cast<char>((i * 131) >> 3));
  testing::WriteText(dir / "big.bin", content);
  CHECK(Sha256File(dir / "big.bin") == Sha256Hex(content));
  testing::WriteText(dir / "a.bin", std::string(1000000, 'a'));
  CHECK(Sha256File(dir / "a.bin") ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  testing::WriteText(dir / "empty.bin", "");
  CHECK(Sha256File(dir / "empty.bin") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK_THROWS_AS(Sha256File(dir / "missing.bin"), InputError);
  CHECK_THROWS_WITH(Sha256File(dir / "missing.bin"), Catch::Contains("missing.bin"));
}
