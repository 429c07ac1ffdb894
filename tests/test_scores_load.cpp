// Scores-mode loading ([K, N] float32 confidences and bytes of correctness into the K x N
// column-major matrices) against the element-by-element definition, for the tiled path (K a
// multiple of 8) and the general one, with sample counts that leave every kind of tail.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "profiles/dump.hpp"
#include "profiles/error.hpp"

using namespace exitplan;

namespace {

struct Arrays {
  std::shared_ptr<std::vector<float>> conf;
  std::shared_ptr<std::vector<std::uint8_t>> corr;
};

Arrays Make(int k, int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Arrays a{std::make_shared<std::vector<float>>(static_cast<std::size_t>(k) * n),
           std::make_shared<std::vector<std::uint8_t>>(static_cast<std::size_t>(k) * n)};
  for (std::size_t i = 0; i < a.conf->size(); ++i) {
    (*a.conf)[i] = i % 11 == 3 ? 1.0f : u(rng);  // ties and exact values too
    (*a.corr)[i] = rng() % 2;
  }
  return a;
}

SplitData Load(const Arrays& a, int k, int n, const std::string& corr_type = "|b1") {
  const std::vector<std::size_t> shape = {static_cast<std::size_t>(k), static_cast<std::size_t>(n)};
  return SplitFromScores(NpyArray::View(a.conf, a.conf->data(), "<f4", shape, false, "conf"),
                         NpyArray::View(a.corr, a.corr->data(), corr_type, shape, false, "corr"),
                         "val", DumpOptions{});
}

}  // namespace

TEST_CASE("scores loading equals the element-by-element copy, tiled and general paths") {
  struct Shape {
    int k, n;
  };
  for (Shape sh : {Shape{8, 1}, Shape{8, 7}, Shape{16, 513}, Shape{32, 1029}, Shape{24, 5003},
                   Shape{5, 1029}, Shape{1, 9}, Shape{8, 1 << 20}}) {
    INFO("K " << sh.k << ", N " << sh.n);
    const Arrays a = Make(sh.k, sh.n, static_cast<std::uint64_t>(sh.k * 7 + sh.n));
    const SplitData s = Load(a, sh.k, sh.n);
    const ScoreMatrix& m = s.Scores(Measure::kConfidence);
    REQUIRE(m.rows() == sh.k);
    REQUIRE(m.cols() == sh.n);
    std::size_t wrong = 0;
    for (int j = 0; j < sh.k; ++j) {
      for (int i = 0; i < sh.n; ++i) {
        const std::size_t at = static_cast<std::size_t>(j) * sh.n + i;
        wrong += m(j, i) != static_cast<double>((*a.conf)[at]);
        wrong += s.correct(j, i) != (*a.corr)[at];
      }
    }
    CHECK(wrong == 0);
  }
}

TEST_CASE("scores loading names the first NaN confidence and the first non-0/1 byte") {
  const int k = 16, n = 1029;
  {
    Arrays a = Make(k, n, 1);
    (*a.conf)[5 * n + 1027] = std::nanf("");  // in the last samples, past the 4-sample tiles
    (*a.conf)[9 * n + 3] = std::nanf("");
    CHECK_THROWS_WITH(Load(a, k, n), Catch::Contains("NaN confidence at exit 6, sample 1027"));
  }
  {
    Arrays a = Make(k, n, 2);
    (*a.conf)[15 * n + 600] = std::nanf("");  // inside a tile
    CHECK_THROWS_WITH(Load(a, k, n), Catch::Contains("NaN confidence at exit 16, sample 600"));
  }
  for (std::size_t at : {std::size_t{3 * n + 17}, std::size_t{15 * n + 1028}}) {
    Arrays a = Make(k, n, 3);
    (*a.corr)[at] = 2;
    CHECK_THROWS_WITH(Load(a, k, n, "|u1"),
                      Catch::Contains("expected 0/1 correctness values, found 2 at flat index " +
                                      std::to_string(at)));
    // A bool array's byte 2 is true, stored as 1.
    const SplitData s = Load(a, k, n, "|b1");
    CHECK(s.correct(static_cast<int>(at / n), static_cast<int>(at % n)) == 1);
    CHECK(s.correct(0, 0) == (*a.corr)[0]);
  }
}
