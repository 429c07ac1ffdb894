// FLOP-score subset selection (the unsupervised early-exit paper (2023), sections 3.3-3.4).
//
// Thresholds (section 3.3): exit number n (1-based) of an ordered subset gets the lowest threshold
// whose accuracy-drop bound (eq. 3) HR(t) x (1 - CA(t)) stays within T / 2^n, where HR is the
// fraction of all fit samples passing t at that exit alone and CA the accuracy of those samples
// (agreement with exit K's prediction by default, labels on request). HR x (1 - CA) is simply the
// fraction of fit samples that pass and are wrong, so the rule admits equal-score groups from the
// most confident down while their wrong count stays <= N T / 2^n.
//
// Score (section 3.4, eq. 4): K(S) = sum over exits d in S of |H_d| (C2_d - C1_d) - |M_d| C1_d,
// with hits H_d and misses M_d counted on the samples that reach d given the earlier exits of S,
// C1_d = head(d) and C2_d = the cost of the rest of the backbone after d, backbone(K) + head(K) -
// backbone(d) (the final classifier is part of the backbone). The best subset maximises K(S); ties
// go to the smaller mask (fewer / shallower exits), so results never depend on the thread count.
//
// Every subset of up to max_candidates candidates is enumerated depth-first with incremental reach
// sets held as bitsets (one bit per sample): including exit j costs one AND / ANDNOT / popcount
// pass over N/64 words, excluding it costs nothing. 2^20 subsets of 10k samples take about a
// second (bench/bench_placement.cpp).
#pragma once

#include <string>
#include <vector>

#include "dse/placement.hpp"
#include "profiles/progress.hpp"

namespace exitplan {

struct FlopScoreOptions {
  double tolerance = 0.05;  // T: allowed total accuracy drop, a fraction in (0, 1)
  int max_candidates = 24;  // enumeration limit on K-1 (2^24 subsets); 1..40
  int threads = 2;          // worker threads, >= 1; results identical for any value
  int keep_top = 10;        // how many of the best subsets to report, >= 1
  // Phase "flop-score" counting the subsets enumerated; null: none. Its callback throwing cancels
  // the enumeration (FlopScore rethrows).
  Progress* progress = nullptr;
  std::string Validate() const;
};

// One subset's figures under eq. 4.
struct SubsetScore {
  SubsetMask mask = 0;
  double score = 0.0;
  std::vector<int> kept;           // 0-based, final included
  std::vector<double> thresholds;  // one per kept exit before the final (tolerance rule)
  std::vector<std::int64_t> hits;  // per kept exit before the final
  std::vector<std::int64_t> misses;
};

struct FlopScoreSummary {
  Outcome outcome = Outcome::kNotRun;
  std::string message = "not run";
  SubsetScore best;
  std::vector<SubsetScore> top;  // best first
  Policy policy;                 // best.kept with its thresholds
  Evaluation fit;                // exact evaluator, fit split, `correct`
  Evaluation eval;               // n = 0 without an eval split
  std::uint64_t subsets = 0;     // subsets scored
  double seconds = 0.0;
  bool ok() const { return HasSolution(outcome); }
  std::string BriefReport() const;
};

// The threshold of one exit from the tolerance rule: the lowest t such that the samples passing t
// hold at most `allowed_wrong` wrong ones (correct == 0). When even the most confident group holds
// too many, a threshold no sample passes.
double ToleranceThreshold(const double* scores, const std::uint8_t* correct, int n, int stride,
                          ScoreOrder order, double allowed_wrong);

// table[j][p]: threshold of candidate exit j (0-based) at 0-based position p of a subset, i.e.
// drop budget T / 2^(p+1); p = 0..K-2.
std::vector<std::vector<double>> ToleranceThresholdTable(const ScoreMatrix& scores,
                                                         const CorrectMatrix& ca, ScoreOrder order,
                                                         double tolerance);

// Eq. 4 for one subset, sample by sample (the reference the enumeration is tested against).
SubsetScore ScoreSubset(const PlacementProblem& problem,
                        const std::vector<std::vector<double>>& table, SubsetMask mask);

// Scores every subset and returns the best. Throws InputError for a malformed problem, bad options,
// a profile without head costs, or more candidates than max_candidates.
FlopScoreSummary FlopScore(const PlacementProblem& problem, const FlopScoreOptions& options = {});

}  // namespace exitplan
