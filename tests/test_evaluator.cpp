// The exact cascade evaluator against a brute-force per-sample loop, hand cases and ties.
#include <catch2/catch.hpp>
#include <random>

#include "profiles/evaluator.hpp"
#include "test_util.hpp"

using namespace exitplan;

namespace {

// Straightforward reference: walk each sample through the kept exits.
Evaluation BruteForce(const ScoreMatrix& s, ScoreOrder order, const CorrectMatrix& c,
                      const std::vector<double>& cost, const Policy& p) {
  Evaluation ev;
  const int k = static_cast<int>(s.rows()), n = static_cast<int>(s.cols());
  ev.n = n;
  ev.exit_fraction.assign(k, 0.0);
  double right = 0, total = 0;
  for (int i = 0; i < n; ++i) {
    int e = k - 1;
    for (std::size_t q = 0; q + 1 < p.kept.size(); ++q) {
      const double v = s(p.kept[q], i);
      const bool stop =
          order == ScoreOrder::kDescending ? v >= p.thresholds[q] : v < p.thresholds[q];
      if (stop) {
        e = p.kept[q];
        break;
      }
    }
    right += c(e, i);
    total += cost[e];
    ev.exit_fraction[e] += 1.0 / n;
  }
  ev.accuracy = right / n;
  ev.mean_cost = total / n;
  return ev;
}

}  // namespace

TEST_CASE("evaluator equals brute force on random data, both orders, random kept sets") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int trial = 0; trial < 50; ++trial) {
    const int k = 1 + trial % 7, n = 200 + trial;
    ScoreMatrix s(k, n);
    CorrectMatrix c(k, n);
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < k; ++j) {
        // Coarse scores so ties with thresholds happen.
        s(j, i) = std::round(u(rng) * 10) / 10;
        c(j, i) = u(rng) < 0.7;
      }
    }
    std::vector<double> cost(k);
    for (int j = 0; j < k; ++j) cost[j] = (j + 1) * 1.5 + u(rng);
    Policy p;
    for (int j = 0; j < k - 1; ++j) {
      if (u(rng) < 0.6) p.kept.push_back(j);
    }
    p.kept.push_back(k - 1);
    for (std::size_t q = 0; q + 1 < p.kept.size(); ++q) {
      p.thresholds.push_back(std::round(u(rng) * 10) / 10);
    }
    REQUIRE(CheckPolicy(p, k).empty());
    for (ScoreOrder order : {ScoreOrder::kDescending, ScoreOrder::kAscending}) {
      const Evaluation a = Evaluate(s, order, c, cost, p);
      const Evaluation b = BruteForce(s, order, c, cost, p);
      CHECK(a.accuracy == Approx(b.accuracy).epsilon(1e-12));
      CHECK(a.mean_cost == Approx(b.mean_cost).epsilon(1e-12));
      for (int j = 0; j < k; ++j)
        CHECK(a.exit_fraction[j] == Approx(b.exit_fraction[j]).margin(1e-12));
      const std::vector<int> exits = ExitOfSamples(s, order, p);
      long count0 = 0;
      for (int e : exits) count0 += e == p.kept[0];
      CHECK(count0 == a.exit_count[p.kept[0]]);
    }
  }
}

TEST_CASE("evaluator: every inner loop (scalar, AVX2, AVX-512) equals brute force, K up to 70") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int trial = 0; trial < 60; ++trial) {
    const int k = 2 + (trial * 7) % 69, n = 300 + trial;
    ScoreMatrix s(k, n);
    CorrectMatrix c(k, n);
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < k; ++j) {
        // NaN never passes; +-inf pass or not like any value.
        const double r = u(rng);
        s(j, i) = r < 0.02   ? std::nan("")
                  : r < 0.03 ? INFINITY
                  : r < 0.04 ? -INFINITY
                             : std::round(u(rng) * 20) / 20;
        c(j, i) = u(rng) < 0.7;
      }
    }
    std::vector<double> cost(k);
    for (int j = 0; j < k; ++j) cost[j] = (j + 1) * 0.5;
    Policy p;
    const double keep = trial % 3 == 0 ? 1.0 : 0.7;  // every exit (contiguous) or a subset
    for (int j = 0; j < k - 1; ++j) {
      if (u(rng) < keep) p.kept.push_back(j);
    }
    p.kept.push_back(k - 1);
    for (std::size_t q = 0; q + 1 < p.kept.size(); ++q) {
      p.thresholds.push_back(0.6 + std::round(u(rng) * 8) / 20);
    }
    REQUIRE(CheckPolicy(p, k).empty());
    for (ScoreOrder order : {ScoreOrder::kDescending, ScoreOrder::kAscending}) {
      const Evaluation b = BruteForce(s, order, c, cost, p);
      for (CascadeKernel kernel : {CascadeKernel::kScalar, CascadeKernel::kAvx2,
                                   CascadeKernel::kAvx512, CascadeKernel::kAuto}) {
        INFO("k " << k << " kept " << p.kept.size() << " kernel " << static_cast<int>(kernel));
        const Evaluation a = EvaluateWith(kernel, s, order, c, cost, p);
        CHECK(a.accuracy == Approx(b.accuracy).epsilon(1e-12));
        CHECK(a.mean_cost == Approx(b.mean_cost).epsilon(1e-12));
        for (int j = 0; j < k; ++j) {
          REQUIRE(a.exit_count[j] ==
                  static_cast<std::int64_t>(std::llround(b.exit_fraction[j] * n)));
        }
      }
    }
  }
}

TEST_CASE("evaluator: hand case with ties, strict < for ascending, >= for descending") {
  // K = 2, N = 4. Exit 1 scores 0.5, 0.7, 0.7, 0.9; correct at exit 1: 1,0,1,0; exit 2 all right.
  ScoreMatrix s(2, 4);
  s << 0.5, 0.7, 0.7, 0.9, 0, 0, 0, 0;
  CorrectMatrix c(2, 4);
  c << 1, 0, 1, 0, 1, 1, 1, 1;
  const std::vector<double> cost = {1.0, 3.0};
  const Policy p{{0, 1}, {0.7}};
  const Evaluation d = Evaluate(s, ScoreOrder::kDescending, c, cost, p);
  // Descending: 0.7, 0.7, 0.9 stop at exit 1 (ties stop): right 0+1+0, then 0.5 at exit 2: right.
  CHECK(d.accuracy == 0.5);
  CHECK(d.mean_cost == Approx((3 * 1.0 + 3.0) / 4));
  CHECK(d.exit_fraction == std::vector<double>{0.75, 0.25});
  CHECK(d.exit_accuracy[0] == Approx(1.0 / 3));
  // Ascending: only 0.5 < 0.7 stops (a tie does not).
  const Evaluation a = Evaluate(s, ScoreOrder::kAscending, c, cost, p);
  CHECK(a.accuracy == 1.0);
  CHECK(a.mean_cost == Approx((1.0 + 3 * 3.0) / 4));
  CHECK(a.exit_fraction == std::vector<double>{0.25, 0.75});
}

TEST_CASE("evaluator: policy checks") {
  CHECK(CheckPolicy({{0, 2}, {0.5}}, 3).empty());
  CHECK_THAT(CheckPolicy({{0, 2}, {0.5, 0.6}}, 3), Catch::Contains("expected 1 thresholds"));
  CHECK_THAT(CheckPolicy({{0, 1}, {0.5}}, 3), Catch::Contains("final exit 3 must be kept"));
  CHECK_THAT(CheckPolicy({{1, 0, 2}, {0.5, 0.5}}, 3), Catch::Contains("ascending"));
  CHECK_THAT(CheckPolicy({{0, 5}, {0.5}}, 3), Catch::Contains("out of range"));
  CHECK_THAT(CheckPolicy({{2}, {}}, 3), Catch::Equals(""));
}
