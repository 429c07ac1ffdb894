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
// The subsets are searched depth-first with incremental reach sets held as bitsets (one bit per
// sample): including exit j costs one AND / ANDNOT / popcount pass over N/64 words, excluding it
// costs nothing. An exact branch and bound (the bound and its proof: flop_score.cpp, struct
// Enumerator) skips every subtree that provably cannot hold one of the best subsets; the answer,
// scores included, is bit-identical to scoring every subset (tested up to 20 candidates). On
// language-model-like dumps (confidence rising with depth) it scores under a thousand of the 2^48
// subsets of 48 candidates (bench/bench_placement.cpp), so the default limit is 48 candidates,
// up to 62 on request; the worst case is still exponential, and progress reports the subsets
// covered.
#pragma once

#include <string>
#include <vector>

#include "dse/placement.hpp"
#include "profiles/progress.hpp"

namespace exitplan {

struct FlopScoreOptions {
  double tolerance = 0.05;  // T: allowed total accuracy drop, a fraction in (0, 1)
  int max_candidates = 48;  // limit on K-1 candidates, checked before any work; 1..62
  int threads = 2;          // worker threads, >= 1; results identical for any value
  int keep_top = 10;        // how many of the best subsets to report, >= 1
  bool prune = true;        // branch and bound (exact); false: score every subset
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
  std::uint64_t pruned = 0;      // subsets ruled out by the bound; subsets + pruned = 2^(K-1)
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

// The refusal FlopScore throws for `candidates` above options.max_candidates ("" when within it),
// naming the methods to use instead; `exitplan place` checks it before running any method.
std::string FlopScoreLimitError(int candidates, const FlopScoreOptions& options);

// Finds the best subsets (every subset scored or ruled out by the bound). Throws InputError for a
// malformed problem, bad options, a profile without head costs, or more candidates than
// max_candidates.
FlopScoreSummary FlopScore(const PlacementProblem& problem, const FlopScoreOptions& options = {});

}  // namespace exitplan
