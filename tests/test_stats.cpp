// Quantiles against brute force: sort (NaN last), then numpy's linear interpolation.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "profiles/stats.hpp"

using namespace exitplan;

namespace {

// NaN counts as greater than every number.
bool NanLast(double a, double b) { return !std::isnan(a) && (std::isnan(b) || a < b); }

std::vector<double> BruteQuantiles(std::vector<double> v, const std::vector<double>& qs) {
  std::sort(v.begin(), v.end(), NanLast);
  const std::size_t n = v.size();
  std::vector<double> out;
  for (double q : qs) {
    const double pos = q * static_cast<double>(n - 1);
    const auto lo = std::min(static_cast<std::size_t>(std::floor(pos)), n - 1);
    const auto hi = std::min(lo + 1, n - 1);
    out.push_back(v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]));
  }
  return out;
}

bool Same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// Row j of a K x N matrix of kind `kind`: continuous, a few levels (ties), clamped to [0, 1]
// (a tenth or more exactly 0 or 1, like saturated confidences), sorted, signed with infinities,
// or sprinkled with NaN.
void Fill(ScoreMatrix& m, int kind, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> g(0.0, 1.0);
  const double inf = std::numeric_limits<double>::infinity();
  for (Eigen::Index j = 0; j < m.rows(); ++j) {
    const double shift = static_cast<double>(j) / static_cast<double>(m.rows());
    for (Eigen::Index i = 0; i < m.cols(); ++i) {
      double x = 0;
      switch (kind) {
        case 0:
          x = u(rng);
          break;
        case 1:
          x = std::floor(u(rng) * (2 + j % 5)) / 4.0;
          break;
        case 2:
          x = std::clamp(shift + 0.3 * g(rng), 0.0, 1.0);
          break;
        case 3:
          x = static_cast<double>(i % 1000) + shift;
          break;
        case 4: {
          const double r = u(rng);
          x = r < 0.001 ? -inf : r > 0.999 ? inf : (r < 0.3 ? -0.0 : g(rng) * 1e3);
          break;
        }
        default:
          x = u(rng) < 0.0005 * static_cast<double>(j % 3) ? std::nan("") : g(rng);
      }
      m(j, i) = x;
    }
  }
  if (kind == 3) {  // each row sorted along the samples
    for (Eigen::Index j = 0; j < m.rows(); ++j) {
      std::vector<double> r(m.row(j).begin(), m.row(j).end());
      std::sort(r.begin(), r.end());
      for (Eigen::Index i = 0; i < m.cols(); ++i) m(j, i) = r[static_cast<std::size_t>(i)];
    }
  }
}

}  // namespace

TEST_CASE("quantiles of short vectors equal brute force, with ties and NaN last") {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const std::vector<double> qs = {0.1, 0.5, 0.9, 0.0, 1.0, 0.25, 0.999};
  for (int n : {1, 2, 3, 7, 64, 500, 4095, 4096, 9000}) {
    for (int nan_every : {0, 2, 5, 97}) {
      std::vector<double> v(static_cast<std::size_t>(n));
      for (std::size_t i = 0; i < v.size(); ++i) {
        v[i] = nan_every && i % nan_every == 0 ? std::nan("") : std::floor(u(rng) * 9) / 8.0;
      }
      const std::vector<double> want = BruteQuantiles(v, qs), got = Quantiles(v, qs);
      for (std::size_t t = 0; t < qs.size(); ++t) {
        INFO("n " << n << ", NaN every " << nan_every << ", q " << qs[t]);
        CHECK(Same(got[t], want[t]));
      }
    }
  }
  // A NaN of either sign counts as above every number.
  const std::vector<double> v = {-std::nan(""), 1.0, 2.0, 3.0, std::nan("")};
  const std::vector<double> got = Quantiles(v, {0.0, 0.25, 0.5});
  CHECK(got[0] == 1.0);
  CHECK(got[1] == 2.0);
  CHECK(std::isnan(got[2]));  // 3 + 0 * (NaN - 3)
}

TEST_CASE("row quantiles of long rows (sampled pivots, one pass) equal brute force per row") {
  std::mt19937_64 rng(11);
  const std::vector<std::vector<double>> qsets = {
      {0.1, 0.5, 0.9}, {0.0, 1.0}, {0.37}, {0.999, 0.001, 0.5, 0.75, 0.2}};
  struct Shape {
    int k, n;
  };
  // Rows from the first length that takes the sampled pass (2^15) up; K that is a multiple of 8,
  // one that is not, and 1.
  for (Shape sh : {Shape{16, 33000}, Shape{5, 32768}, Shape{1, 100003}, Shape{12, 40001}}) {
    for (int kind = 0; kind < 6; ++kind) {
      ScoreMatrix m(sh.k, sh.n);
      Fill(m, kind, rng);
      const std::vector<double>& qs = qsets[static_cast<std::size_t>(kind + sh.k) % qsets.size()];
      const auto got = RowQuantiles(m, qs);
      REQUIRE(got.size() == static_cast<std::size_t>(sh.k));
      for (int j = 0; j < sh.k; ++j) {
        const std::vector<double> want =
            BruteQuantiles(std::vector<double>(m.row(j).begin(), m.row(j).end()), qs);
        REQUIRE(got[static_cast<std::size_t>(j)].size() == qs.size());
        for (std::size_t t = 0; t < qs.size(); ++t) {
          INFO("K " << sh.k << ", N " << sh.n << ", kind " << kind << ", row " << j << ", q "
                    << qs[t]);
          CHECK(Same(got[static_cast<std::size_t>(j)][t], want[t]));
        }
      }
    }
  }
}

TEST_CASE("row quantiles: a row with NaN in the sample is redone by the per-row selection") {
  // Every other value of row 1 is NaN: the sample sees NaN, that row takes the per-row path; the
  // others the sampled pass. Row 2 has NaN in its last 100 samples: its q = 1 falls among them.
  const int k = 3, n = 40000;
  ScoreMatrix m(k, n);
  for (int i = 0; i < n; ++i) {
    m(0, i) = (i * 7919) % n;
    m(1, i) = i % 2 ? std::nan("") : static_cast<double>(i);
    m(2, i) = i >= n - 100 ? std::nan("") : static_cast<double>(n - i);
  }
  const auto got = RowQuantiles(m, {0.1, 0.5, 1.0});
  CHECK(got[0] == std::vector<double>{0.1 * (n - 1), 0.5 * (n - 1), n - 1.0});
  // Row 1: 20000 numbers 0, 2, ..., then NaN.
  CHECK(got[1][0] == 0.1 * (n - 1) * 2);
  CHECK(std::isnan(got[1][1]));  // rank 19999 is the last number, 19999.5 interpolates to NaN
  CHECK(std::isnan(got[1][2]));
  CHECK(got[2][0] == 101 + 0.1 * (n - 1));
  CHECK(std::isnan(got[2][2]));
}
