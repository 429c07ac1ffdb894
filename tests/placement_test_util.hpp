// Helpers for the placement tests: small random problems and a brute-force threshold
// solver to cross-check the searches against.
#pragma once

#include <algorithm>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "dse/placement.hpp"

namespace exitplan::testing {

struct SmallProblem {
  ScoreMatrix scores, eval_scores;
  CorrectMatrix correct, agree, eval_correct;
  CostProfile profile;
  PlacementProblem problem() const {
    PlacementProblem p;
    p.scores = &scores;
    p.correct = &correct;
    p.ca_correct = &agree;
    p.profile = &profile;
    p.eval_scores = &eval_scores;
    p.eval_correct = &eval_correct;
    return p;
  }
};

// Scores on a coarse grid (ties happen), correctness more likely when confident, deeper exits
// better; a profile with heads.
inline SmallProblem MakeSmallProblem(int k, int n, unsigned seed, int levels = 20) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  SmallProblem s;
  auto fill = [&](ScoreMatrix& sc, CorrectMatrix& co, CorrectMatrix* ag) {
    sc.resize(k, n);
    co.resize(k, n);
    if (ag) ag->resize(k, n);
    for (int i = 0; i < n; ++i) {
      const double easy = u(rng);
      for (int e = 0; e < k; ++e) {
        const double v = std::min(1.0, 0.3 * u(rng) + 0.7 * easy * (0.6 + 0.4 * e / k));
        sc(e, i) = std::round(v * levels) / levels;
        co(e, i) = u(rng) < 0.3 + 0.6 * v ? 1 : 0;
        if (ag) (*ag)(e, i) = u(rng) < 0.4 + 0.6 * v ? 1 : 0;
      }
      if (ag) (*ag)(k - 1, i) = 1;
    }
  };
  fill(s.scores, s.correct, &s.agree);
  fill(s.eval_scores, s.eval_correct, nullptr);
  s.profile.unit = "flops";
  s.profile.target = "test";
  s.profile.source = "test-profile.yaml";
  double b = 0.0;
  for (int e = 0; e < k; ++e) {
    b += 1.0 + std::floor(4.0 * u(rng));
    s.profile.backbone.push_back(b);
    s.profile.head.push_back(0.1 * (1 + std::floor(5.0 * u(rng))));
    s.profile.names.push_back("e" + std::to_string(e + 1));
  }
  return s;
}

// Exact answer by enumerating every threshold combination (distinct score values, and "none
// passes") of the kept exits. Small problems only.
inline ThresholdSummary BruteForceSolve(const ThresholdProblem& p) {
  ThresholdSummary s;
  s.method = "brute-force";
  const int q = static_cast<int>(p.kept.size()) - 1;
  std::vector<std::vector<double>> cand(q);
  for (int a = 0; a < q; ++a) {
    std::set<double> vals;
    for (int i = 0; i < p.n(); ++i) vals.insert((*p.scores)(p.kept[a], i));
    cand[a].assign(vals.begin(), vals.end());
    cand[a].push_back(std::numeric_limits<double>::infinity());  // nothing passes (descending)
  }
  std::vector<int> idx(q, 0);
  bool found = false;
  Policy best;
  Evaluation best_ev;
  for (;;) {
    Policy pol;
    pol.kept = p.kept;
    for (int a = 0; a < q; ++a) pol.thresholds.push_back(cand[a][idx[a]]);
    const Evaluation ev = p.Evaluate(pol);
    if (ev.mean_cost <= p.budget + 1e-12) {
      if (!found || ev.accuracy > best_ev.accuracy ||
          (ev.accuracy == best_ev.accuracy && ev.mean_cost < best_ev.mean_cost)) {
        found = true;
        best = pol;
        best_ev = ev;
      }
    }
    int a = 0;
    while (a < q && ++idx[a] == static_cast<int>(cand[a].size())) idx[a++] = 0;
    if (a == q) break;
  }
  s.policy.kept = p.kept;
  if (!found) {
    s.outcome = Outcome::kInfeasible;
    s.message = "budget below the cheapest policy";
    return s;
  }
  s.outcome = Outcome::kOptimal;
  s.message = "";
  s.policy = best;
  s.fit = best_ev;
  return s;
}

}  // namespace exitplan::testing
