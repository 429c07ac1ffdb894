// Throughput of the exact cascade evaluator: samples x exits evaluated per second on a
// 50,000 x 5 dump, one thread. Target: at least 100 million per second. Prints figures measured in
// one run; not a timed test.
#include <chrono>
#include <cstdio>
#include <random>

#include "profiles/evaluator.hpp"

using namespace exitplan;

namespace {

template <typename F>
double SecondsPerCall(F&& f, int reps) {
  f();  // warm up
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) f();
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(t1 - t0).count() / reps;
}

}  // namespace

int main() {
  const int n = 50000, k = 5;
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  ScoreMatrix scores(k, n);
  CorrectMatrix correct(k, n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < k; ++j) {
      scores(j, i) = u(rng);
      correct(j, i) = u(rng) < 0.7;
    }
  }
  const std::vector<double> cost = {1, 2, 3, 4, 5};
  const Policy typical{{0, 1, 2, 3, 4}, {0.8, 0.8, 0.8, 0.8}};  // ~20% stop at each exit
  const Policy worst{{0, 1, 2, 3, 4}, {2.0, 2.0, 2.0, 2.0}};    // nobody stops early
  double sink = 0;
  const int reps = 400;
  std::printf("bench_evaluator: N=%d K=%d, single thread, %d evaluations per figure\n", n, k, reps);
  for (const auto& [name, policy] : {std::pair{"typical (thresholds 0.8)", typical},
                                     std::pair{"worst case (no early stop)", worst}}) {
    for (ScoreOrder order : {ScoreOrder::kDescending, ScoreOrder::kAscending}) {
      // Ascending stops when score < t: mirror the thresholds so the same share stops.
      Policy p = policy;
      if (order == ScoreOrder::kAscending) {
        for (double& t : p.thresholds) t = 1.0 - t;
      }
      const double s =
          SecondsPerCall([&] { sink += Evaluate(scores, order, correct, cost, p).accuracy; }, reps);
      const double rate = static_cast<double>(n) * k / s;
      std::printf(
          "  %-28s %-10s %8.3f ms/eval  %7.1f M samples*exits/s  (%.1fx the 100 M/s target)\n",
          name, ToString(order).c_str(), s * 1e3, rate / 1e6, rate / 1e8);
    }
  }
  // For scale: the per-sample reference path (ExitOfSamples + accumulation), as a naive loop.
  const double s_ref = SecondsPerCall(
      [&] {
        const std::vector<int> e = ExitOfSamples(scores, ScoreOrder::kDescending, typical);
        double acc = 0;
        for (int i = 0; i < n; ++i) acc += correct(e[i], i);
        sink += acc;
      },
      reps / 4);
  const double s_fast = SecondsPerCall(
      [&] { sink += Evaluate(scores, ScoreOrder::kDescending, correct, cost, typical).accuracy; },
      reps);
  std::printf("  naive per-sample loop: %.3f ms/eval; Evaluate is %.1fx faster\n", s_ref * 1e3,
              s_ref / s_fast);
  std::printf("(checksum %g)\n", sink);
  return 0;
}
