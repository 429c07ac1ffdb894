// `exact`: our solver on the true step-function problem (not the smoothed one).
//
// State: for each kept exit before the final, how many of the fit samples (sorted most confident
// first at that exit) pass its threshold; cuts only fall between distinct scores, so every state is
// realisable by a threshold (the midpoint of the two neighbouring scores).
// 1. Exact coordinate updates: with the other thresholds fixed, the samples that reach exit q stop
//    there iff they are a prefix of q's confidence order; one pass with prefix sums over the order
//    scores every prefix (O(N K) per update after one O(N log N) sort per exit).
// 2. Lagrangian relaxation max sum_n [correct(n, k_n) - lambda cost(k_n)] solved by those updates,
//    with bisection on lambda for the cheapest lambda that meets the budget.
// 3. Repair / polish: constrained coordinate ascent (each update picks the most accurate prefix
//    whose total cost stays <= budget, ties to the cheaper) from every start until no update helps;
//    then, from the best state, the same ascent with ties to the costlier (of equally accurate
//    states within budget, the one that sends more samples on: the fit accuracy is unchanged,
//    and on held-out data it is the more accurate; exhaustive placement's fast path,
//    dse/internal/path_solver.hpp, leaves this polish out).
// 4. Multiple starts: the Lagrangian point, geometric, geometric-quantile, single, iPPP (option)
//    and any caller-given thresholds. The best is returned; by construction it is at least as
//    accurate as every start that meets the budget on the fit split, and it meets the budget
//    exactly as the evaluator computes it.
// Memory: 4 bytes per fit sample and non-final kept exit (each exit's order, packed with its
// correctness and run ends; above 2^19 samples stored by segments of 2^16 samples and chunks
// of 4096 positions in two 16-bit arrays) plus ~37 bytes per sample (pass and correctness bits, a
// 2-byte state summary and a 1-byte code of it, the update's buffer) and 8 bytes per segment and
// chunk of each exit (N / 2^27 of the orders' size); up to 128 kept exits. Time per coordinate
// update O(N).
#pragma once

#include <string>
#include <vector>

#include "optim/ippp.hpp"
#include "optim/problem.hpp"

namespace exitplan {

struct ExactOptions {
  int lambda_iters = 14;         // bisection steps on log(lambda), >= 0 (0 = no Lagrangian start)
  int max_sweeps = 50;           // coordinate sweeps per start, >= 1
  bool start_ippp = true;        // also start from iPPP's answer (costs one iPPP solve)
  bool start_heuristics = true;  // geometric, geometric-quantile and single starts
  std::string Validate() const;
};

// The largest number of kept exits exact handles (its per-sample state is two 64-bit words).
inline constexpr int kExactMaxKept = 128;
// "" when exact can take the problem (at most kExactMaxKept kept exits, fewer than 2^30 fit
// samples), else one line saying why not. Callers check it before any other work.
std::string ExactLimitProblem(const ThresholdProblem& problem);

// The iPPP start of `exact` (SolverOptions::exact.start_ippp): iPPP on the problem itself up to
// kIpppStartSamples fit samples, above that on kIpppStartSamples evenly strided samples of it
// (samples floor(j N / S), j = 0..S-1), whose answer the ascent then polishes on all N.
inline constexpr int kIpppStartSamples = 1 << 17;
ThresholdSummary SolveIpppStart(const ThresholdProblem& problem, const IpppOptions& options,
                                double lo, double hi);

// `starts`: extra threshold vectors (size kept-1 each) to start from, e.g. other methods' answers.
ThresholdSummary SolveExact(const ThresholdProblem& problem, const ExactOptions& options,
                            const std::vector<std::vector<double>>& starts);

}  // namespace exitplan
