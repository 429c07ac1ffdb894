#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "bench/aaai21_data.hpp"
#include "optim/exact.hpp"
#include "optim/solve.hpp"
#include "problem_fixture.hpp"
#include "test_util.hpp"

using namespace exitplan;

namespace {
struct Random : testing::OwnedProblem {
  Random(ScoreOrder order, int n, int k, unsigned seed) : OwnedProblem(k, n, order) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> level(0, 5);  // few distinct values: many ties
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int i = 0; i < n; ++i)
      for (int e = 0; e < k; ++e) {
        s(e, i) = level(rng) / 5.0;
        c(e, i) = u(rng) < 0.4 + 0.15 * e;
      }
    p.kept.clear();
    for (int e = 0; e < k; ++e) p.kept.push_back(e);
    p.stop_cost.clear();
    for (int e = 0; e < k; ++e) p.stop_cost.push_back(1.0 + e * 0.8);
  }
};

// Brute force over every combination of thresholds at the distinct values (plus "none").
double BruteForce(const ThresholdProblem& p) {
  std::vector<double> cand = {-0.1, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.1};
  const int m = static_cast<int>(p.kept.size()) - 1;
  std::vector<int> idx(m, 0);
  double best = -1;
  while (true) {
    Policy pol{p.kept, std::vector<double>(m)};
    for (int q = 0; q < m; ++q) pol.thresholds[q] = cand[idx[q]];
    const Evaluation ev = p.Evaluate(pol);
    if (ev.mean_cost <= p.budget) best = std::max(best, ev.accuracy);
    int q = 0;
    while (q < m && ++idx[q] == static_cast<int>(cand.size())) idx[q++] = 0;
    if (q == m) break;
  }
  return best;
}

// The distinct scores of exit q over every sample, ascending.
std::vector<double> DistinctScores(const ScoreMatrix& s, int q) {
  std::vector<double> v(s.cols());
  for (Eigen::Index i = 0; i < s.cols(); ++i) v[i] = s(q, i);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// How many of the single-threshold moves t of exit q in `cand` (counted into *tried) give a
// within-budget policy better than `e`: more accurate, or as accurate and costlier. 0 when `e` is
// a coordinate optimum over them.
int CountBetterMoves(const ThresholdProblem& p, const ThresholdSummary& e, int q,
                     const std::vector<double>& cand, int* tried) {
  int better = 0;
  for (double t : cand) {
    Policy pol = e.policy;
    pol.thresholds[q] = t;
    const Evaluation ev = p.Evaluate(pol);
    ++*tried;
    if (ev.mean_cost <= p.budget &&
        (ev.accuracy > e.fit.accuracy ||
         (ev.accuracy == e.fit.accuracy && ev.mean_cost > e.fit.mean_cost)))
      ++better;
  }
  return better;
}
}  // namespace

TEST_CASE("exact meets the budget and is never below the heuristics on random instances") {
  for (unsigned seed = 1; seed <= 12; ++seed) {
    for (ScoreOrder order : {ScoreOrder::kAscending, ScoreOrder::kDescending}) {
      Random r(order, 40, 3, seed);
      for (double b : {1.2, 1.6, 2.0, 2.4}) {
        r.p.budget = b;
        const ThresholdSummary e = Solve(Method::kExact, r.p);
        REQUIRE(e.ok());
        CHECK(e.fit.mean_cost <= b);
        for (Method m : {Method::kGeometric, Method::kGeometricQuantile, Method::kSingle}) {
          const ThresholdSummary h = Solve(m, r.p);
          if (h.ok() && h.fit.mean_cost <= b) CHECK(e.fit.accuracy >= h.fit.accuracy);
        }
        // Coordinate ascent is not a proof of optimality, but on these tiny instances with
        // multiple starts it should reach the brute-force optimum most of the time.
        const double opt = BruteForce(r.p);
        CHECK(e.fit.accuracy <= opt + 1e-12);
      }
    }
  }
}

TEST_CASE("exact equals brute force on tiny instances in most cases") {
  int equal = 0, total = 0;
  for (unsigned seed = 1; seed <= 30; ++seed) {
    Random r(ScoreOrder::kDescending, 25, 3, seed);
    for (double b : {1.3, 1.7, 2.1}) {
      r.p.budget = b;
      const ThresholdSummary e = Solve(Method::kExact, r.p);
      equal += std::fabs(e.fit.accuracy - BruteForce(r.p)) < 1e-12;
      ++total;
    }
  }
  INFO(equal << " of " << total);
  CHECK(equal >= 0.9 * total);
}

TEST_CASE("exact works with many kept exits (every per-sample state width) and refuses > 128") {
  // Up to 64 kept exits use one 64-bit pass word per sample, 65-128 two. Exits 1-16
  // are always wrong and the later ones more and more accurate, with a budget that cannot pay for
  // the final exit for everyone: the answer has to stop samples at the deep exits.
  for (int k : {16, 20, 40, 64, 65, 100, 128}) {
    const int n = 400;
    ScoreMatrix s(k, n);
    CorrectMatrix c(k, n);
    std::mt19937 rng(7 + k);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int i = 0; i < n; ++i)
      for (int e = 0; e < k; ++e) {
        s(e, i) = u(rng);
        const double pc =
            e < 16 ? 0.0 : 0.3 + 0.6 * (e - 16) / std::max(1, k - 17) + 0.3 * (s(e, i) - 0.5);
        c(e, i) = u(rng) < pc;
      }
    ThresholdProblem p;
    p.scores = &s;
    p.correct = &c;
    p.order = ScoreOrder::kDescending;
    for (int e = 0; e < k; ++e) {
      p.kept.push_back(e);
      p.stop_cost.push_back(1.0 + e);
    }
    p.budget = 1.0 + (k <= 16 ? 8 : 16 + (k - 16) / 2);
    const ThresholdSummary e = Solve(Method::kExact, p);
    INFO(k << " exits: " << e.message);
    REQUIRE(e.ok());
    CHECK(e.fit.mean_cost <= p.budget);
    for (Method m : {Method::kGeometric, Method::kGeometricQuantile, Method::kSingle}) {
      const ThresholdSummary h = Solve(m, p);
      if (h.ok() && h.fit.mean_cost <= p.budget) CHECK(e.fit.accuracy >= h.fit.accuracy);
    }
    if (k > 16) {
      double deep = 0;  // stopped at exits 17..K-1, whose state bits lie beyond 16
      for (int q = 16; q + 1 < k; ++q) deep += e.fit.exit_fraction[q];
      CHECK(deep > 0.2);
      CHECK(e.fit.accuracy > 0.3);
    }
  }
  Random r(ScoreOrder::kDescending, 50, 129, 3);
  r.p.budget = 0.5 * (r.p.MinCost() + r.p.MaxCost());
  const ThresholdSummary e = Solve(Method::kExact, r.p);
  CHECK(e.outcome == Outcome::kFailure);
  CHECK_THAT(e.message, Catch::Contains("at most 128 kept exits, got 129"));
  CHECK(e.iterations == 0);  // refused before any start was solved
  SolverOptions drop;
  drop.accuracy_drop = 0.01;  // the accuracy-target mode refuses the same way
  const ThresholdSummary d = Solve(Method::kExact, r.p, drop);
  CHECK(d.outcome == Outcome::kFailure);
  CHECK_THAT(d.message, Catch::Contains("at most 128 kept exits, got 129"));
}

TEST_CASE("exact handles degenerate inputs") {
  Random r(ScoreOrder::kAscending, 10, 2, 5);
  r.p.budget = r.p.MinCost();  // zero slack: everything must stop at exit 1
  ThresholdSummary s = Solve(Method::kExact, r.p);
  REQUIRE(s.ok());
  CHECK(s.fit.exit_fraction[0] == 1.0);
  r.p.kept = {1};  // only the final exit
  r.p.budget = r.p.MaxCost();
  s = Solve(Method::kExact, r.p);
  REQUIRE(s.ok());
  CHECK(s.fit.exit_fraction[1] == 1.0);
  // All scores tied: the only choices are all or none at each exit.
  Random t(ScoreOrder::kDescending, 10, 3, 6);
  t.s.setConstant(0.5);
  t.p.budget = 1.5;
  s = Solve(Method::kExact, t.p);
  REQUIRE(s.ok());
  CHECK(s.fit.mean_cost <= 1.5);
}

TEST_CASE("exact beats geometric, single and ippp on aaai21 at every budget, within budget") {
  for (const std::string name : {"alex", "scan", "msdnet"}) {
    const std::string dir = testing::SharedData("aaai21/" + name);
    if (dir.empty()) continue;
    const aaai21::Model m = aaai21::Load(dir, name);
    const auto budgets = m.budgets();
    SolverOptions o = aaai21::PaperOptions(m);
    o.exact.start_ippp = false;
    const int step = name == "msdnet" ? 20 : 10;  // bench_aaai21 checks all 100
    for (std::size_t i = 0; i < budgets.size(); i += step) {
      const ThresholdProblem p = aaai21::Problem(m, budgets[i]);
      std::vector<std::vector<double>> starts;
      double best = 0;
      for (Method meth :
           {Method::kGeometric, Method::kGeometricQuantile, Method::kSingle, Method::kIppp}) {
        const ThresholdSummary h = Solve(meth, p, o);
        REQUIRE(h.has_policy());  // iPPP's answer may be over budget (outcome over_budget)
        starts.push_back(h.policy.thresholds);
        if (h.fit.mean_cost <= p.budget) best = std::max(best, h.fit.accuracy);
      }
      // The published iPPP answer (fit accuracy) too, when it met the budget.
      if (m.fit_cost[2][i] <= p.budget) best = std::max(best, m.fit_acc[2][i]);
      const ThresholdSummary e = SolveExact(p, o.exact, starts);
      INFO(name << " budget " << i);
      REQUIRE(e.ok());
      CHECK(e.fit.mean_cost <= p.budget);
      CHECK(e.fit.accuracy >= best);
    }
  }
}

TEST_CASE("exact ends at a coordinate optimum: no single threshold change does better") {
  // Hundreds of samples reach every exit, so an update scans its candidate cuts in blocks (most
  // of them passed over by bounds): a wrongly passed-over cut would leave a better one here.
  // Every achievable threshold of each exit in turn (each distinct score, the midpoints between
  // them and both ends), the others kept, scored by the evaluator.
  for (int levels : {0, 7}) {  // 0: float scores, all distinct; 7: seven levels, many ties
    const int n = 1200, k = 5;
    testing::OwnedProblem r(k, n, ScoreOrder::kDescending);
    std::mt19937 rng(11 + levels);
    std::normal_distribution<double> z(0.0, 1.0);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int i = 0; i < n; ++i) {
      const double difficulty = 1.3 * z(rng), luck = u(rng);
      for (int e = 0; e < k; ++e) {
        const double skill = -1.0 + 3.0 * e / (k - 1) - difficulty + 0.5 * z(rng);
        r.c(e, i) = 1.0 / (1.0 + std::exp(-skill)) > luck;
        const double conf = 1.0 / (1.0 + std::exp(-(skill + 0.9 * z(rng))));
        r.s(e, i) = levels > 0 ? std::floor(conf * levels) / levels
                               : static_cast<double>(static_cast<float>(conf));
      }
    }
    r.p.kept = {0, 1, 2, 3, 4};
    r.p.stop_cost = {1.0, 2.0, 3.5, 5.0, 8.0};
    for (double f : {0.25, 0.5, 0.75}) {
      r.p.budget = r.p.MinCost() + f * (r.p.MaxCost() - r.p.MinCost());
      const ThresholdSummary e = Solve(Method::kExact, r.p);
      INFO("levels " << levels << ", budget " << r.p.budget << ": " << e.message);
      REQUIRE(e.ok());
      REQUIRE(e.fit.mean_cost <= r.p.budget);
      int better = 0, tried = 0;
      for (int q = 0; q + 1 < k; ++q) {
        const std::vector<double> v = DistinctScores(r.s, q);
        std::vector<double> cand = {v.front() - 1.0, v.back() + 1.0};
        for (std::size_t j = 0; j < v.size(); ++j) {
          cand.push_back(v[j]);
          if (j + 1 < v.size()) cand.push_back(0.5 * (v[j] + v[j + 1]));
        }
        better += CountBetterMoves(r.p, e, q, cand, &tried);
      }
      CHECK(tried > (levels > 0 ? 40 : 1000));
      CHECK(better == 0);
    }
  }
}

TEST_CASE("exact's answer does not depend on how the samples are numbered, over many segments") {
  // 600,000 samples: above 2^19 samples the solver stores each exit's order by segments of 2^16
  // sample numbers and chunks of 4096 positions, so here the orders span 10 segments and 147
  // chunks, with runs of equal scores (a 1e-4 grid) across chunk ends. The same samples in another
  // numbering (reversed, then rotated) put other samples together in segments and chunks: the
  // answer must not move. Near the answer (30 distinct scores either side, and the midpoints), no
  // single threshold change does better.
  const int n = 600000, k = 5;
  testing::OwnedProblem a(k, n, ScoreOrder::kDescending), b(k, n, ScoreOrder::kDescending);
  std::mt19937 rng(5);
  std::normal_distribution<double> z(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int i = 0; i < n; ++i) {
    const int j = (n - 1 - i + 100003) % n;  // sample i of a is sample j of b
    const double difficulty = 1.3 * z(rng), luck = u(rng);
    for (int e = 0; e < k; ++e) {
      const double skill = -1.0 + 3.0 * e / (k - 1) - difficulty + 0.5 * z(rng);
      const double conf = 1.0 / (1.0 + std::exp(-(skill + 0.9 * z(rng))));
      a.c(e, i) = b.c(e, j) = 1.0 / (1.0 + std::exp(-skill)) > luck;
      a.s(e, i) = b.s(e, j) = static_cast<double>(static_cast<float>(std::round(conf * 1e4) / 1e4));
    }
  }
  for (testing::OwnedProblem* r : {&a, &b}) {
    r->p.kept = {0, 1, 2, 3, 4};
    r->p.stop_cost = {1.0, 2.0, 3.5, 5.0, 8.0};
  }
  SolverOptions o;
  o.exact.start_ippp = false;
  for (double f : {0.3, 0.6}) {
    a.p.budget = b.p.budget = a.p.MinCost() + f * (a.p.MaxCost() - a.p.MinCost());
    const ThresholdSummary ea = Solve(Method::kExact, a.p, o), eb = Solve(Method::kExact, b.p, o);
    INFO("budget " << a.p.budget << ": " << ea.message);
    REQUIRE(ea.ok());
    REQUIRE(ea.fit.mean_cost <= a.p.budget);
    CHECK(ea.policy.thresholds == eb.policy.thresholds);
    CHECK(ea.fit.accuracy == eb.fit.accuracy);
    CHECK(ea.fit.mean_cost == eb.fit.mean_cost);
    int better = 0, tried = 0;
    for (int q = 0; q + 1 < k; ++q) {
      const std::vector<double> v = DistinctScores(a.s, q);
      const long at = std::lower_bound(v.begin(), v.end(), ea.policy.thresholds[q]) - v.begin();
      std::vector<double> cand;
      for (long j = std::max(0L, at - 30); j < std::min<long>(v.size(), at + 30); ++j) {
        cand.push_back(v[j]);
        if (j + 1 < static_cast<long>(v.size())) cand.push_back(0.5 * (v[j] + v[j + 1]));
      }
      better += CountBetterMoves(a.p, ea, q, cand, &tried);
    }
    CHECK(tried > 200);
    CHECK(better == 0);
  }
}

TEST_CASE("exact gives the same answer with each order stored as it is and by segments") {
  // Up to 2^19 samples the solver keeps each exit's order as it is and an update gathers the
  // samples' state in the order's sequence; above, it stores the order by segments of 2^16 sample
  // numbers, stages the codes segment by segment and puts them back chunk by chunk. The same
  // 40,000 samples each repeated 14 times (560,000: 14 copies in a row, or the whole set 14 times
  // over) have, for every thresholds, the same accuracy and mean cost, and their runs of equal
  // scores are the same runs, 14 times as long: the answer must be the same.
  const int n = 40000, k = 6;
  std::mt19937 rng(11);
  std::normal_distribution<double> z(0.0, 1.0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  testing::OwnedProblem a(k, n, ScoreOrder::kDescending);
  for (int i = 0; i < n; ++i) {
    const double difficulty = 1.2 * z(rng), luck = u(rng);
    for (int e = 0; e < k; ++e) {
      const double skill = -1.0 + 3.0 * e / (k - 1) - difficulty + 0.5 * z(rng);
      a.c(e, i) = 1.0 / (1.0 + std::exp(-skill)) > luck;
      a.s(e, i) =
          static_cast<float>(std::round(1e3 / (1.0 + std::exp(-skill - 0.8 * z(rng)))) / 1e3);
    }
  }
  auto setup = [](testing::OwnedProblem& r) {
    r.p.kept = {0, 1, 2, 3, 4, 5};
    r.p.stop_cost = {1.0, 1.5, 2.5, 3.0, 4.5, 6.0};
  };
  setup(a);
  SolverOptions o;
  o.exact.start_ippp = false;
  for (int r : {14}) {
    for (bool interleaved : {false, true}) {
      testing::OwnedProblem b(k, n * r, ScoreOrder::kDescending);
      for (int i = 0; i < n * r; ++i) {
        const int from = interleaved ? i / r : i % n;
        b.s.col(i) = a.s.col(from);
        b.c.col(i) = a.c.col(from);
      }
      setup(b);
      for (double f : {0.25, 0.5, 0.8}) {
        a.p.budget = b.p.budget = a.p.MinCost() + f * (a.p.MaxCost() - a.p.MinCost());
        const ThresholdSummary ea = Solve(Method::kExact, a.p, o),
                               eb = Solve(Method::kExact, b.p, o);
        INFO("r = " << r << (interleaved ? " in a row" : " over") << ", budget " << a.p.budget
                    << ": " << ea.message << " / " << eb.message);
        REQUIRE(ea.ok());
        REQUIRE(eb.ok());
        CHECK(ea.policy.thresholds == eb.policy.thresholds);
        CHECK(ea.fit.accuracy == eb.fit.accuracy);
        CHECK(ea.fit.mean_cost == eb.fit.mean_cost);
        CHECK(eb.fit.mean_cost <= b.p.budget);
      }
    }
  }
}
