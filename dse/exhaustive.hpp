// Exhaustive placement search: every subset of the candidate exits x every
// budget of a range, thresholds solved by a budgeted optim/ method (default `exact`), giving the
// accuracy/cost Pareto front over placements (fit split; eval figures only measure it).
//
// Work saved, each step provably harmless:
// - infeasible budgets: a budget below a subset's cheapest policy (every sample stops at its first
//   kept exit) is infeasible without solving; such (subset, budget) pairs yield no row.
// - reuse across budgets: budgets are solved from the largest down; when the solver proves its
//   answer optimal (Outcome::kOptimal) and its fit cost is within the next smaller budget, that
//   answer is optimal there too (the feasible set shrank but still holds it), so it is reused.
//   Budgets at or above a subset's full cost are clamped to it (PlacementProblem::Thresholds) and
//   pose the same problem, solved once. With a warm solver (exact), each smaller budget starts from
//   the previous budget's thresholds instead of re-running every start (the subset's first budget
//   gets the full method). The fast path (exact_path) also solves each subset's Lagrangian
//   relaxation on a lambda grid once and starts every budget from the most accurate Lagrangian
//   point that fits (as the exact method's Lagrangian start does).
// - pruning: a subset S can only reach fit accuracy UB(S) = the fraction of fit samples that at
//   least one exit of S classifies correctly, and never costs less than L(S) = the stop cost of its
//   first kept exit. If an already solved point (a, c) has a >= UB(S) and c <= L(S), one strictly,
//   every point of S is dominated and S cannot enter the front: S is skipped. The points used are
//   those of a first phase (the subsets with at most one candidate), so the set of pruned subsets
//   does not depend on the thread count or timing.
// Subsets run on `threads` threads (ParallelFor); results are stored by subset index, so the output
// is identical for any thread count.
#pragma once

#include <string>
#include <vector>

#include "dse/placement.hpp"
#include "profiles/progress.hpp"

namespace exitplan {

struct ExhaustiveOptions {
  std::vector<double> budgets;  // absolute, in the profile's unit; each finite and > 0; non-empty
  int threads = 2;              // >= 1
  int max_candidates = 16;      // enumeration limit on K-1 (2^16 subsets x budgets); 1..30
  bool prune = true;            // skip subsets that provably cannot enter the front
  bool reuse = true;            // reuse proven-optimal answers across budgets, warm starts
  // Solve with the exact method's coordinate updates along each subset's budgets, with shared
  // sort orders and warm starts (dse/internal/path_solver.hpp) instead of calling `solver` per
  // (subset, budget) pair. The CLI sets it for --solver exact.
  bool exact_path = false;
  // After the search, re-solve the best `polish_top` subsets of every budget with `solver` (the
  // full method, e.g. exact with all its starts) and keep the better answer; 0 = off.
  int polish_top = 0;
  int lagrange_points = 6;  // exact_path: lambda grid per subset (+ lambda = 0), >= 2
  // Phase "exhaustive" counting subsets (pruned ones too), then "polish" counting re-solves;
  // null: none. Its callback throwing cancels the search (Exhaustive rethrows).
  Progress* progress = nullptr;
  std::string Validate() const;
};

struct SubsetSolution {
  SubsetMask mask = 0;
  double budget = 0.0;
  ThresholdSummary summary;  // policy.kept = KeptFromMask(mask); fit figures
  bool reused = false;       // copied from a larger budget's proven-optimal answer
  bool pareto = false;       // on the front of all solutions (fit accuracy vs fit cost)
};

struct ExhaustiveSummary {
  Outcome outcome = Outcome::kNotRun;
  std::string message = "not run";
  std::vector<SubsetSolution> solutions;  // with a solution only; by mask, then budget descending
  std::uint64_t subsets = 0;              // subsets enumerated
  std::uint64_t pruned = 0;               // subsets skipped by the bound
  std::uint64_t solves = 0;               // solver calls
  std::uint64_t reused = 0;               // answers reused across budgets
  std::uint64_t infeasible = 0;           // (subset, budget) pairs below the subset's cheapest cost
  std::uint64_t polished = 0;             // answers re-solved by the full solver (polish_top)
  std::uint64_t polish_improved = 0;      // ... of which the full solver improved
  double seconds = 0.0;
  bool ok() const { return HasSolution(outcome); }
  std::string BriefReport() const;
  // For each budget (in options order): the index into `solutions` of the most accurate solution
  // at that budget (ties: lower fit cost, then smaller mask), or -1.
  std::vector<int> best_per_budget;
};

// UB(S): fraction of samples correct at some kept exit of `kept`.
double OracleAccuracy(const CorrectMatrix& correct, const std::vector<int>& kept);

// The refusal Exhaustive throws for `candidates` above options.max_candidates ("" when within it),
// naming the methods to use instead; `exitplan place` checks it before running any method.
std::string ExhaustiveLimitError(int candidates, const ExhaustiveOptions& options);

// `warm` (optional, WarmSolverFor): used for every budget of a subset after its first solved one,
// started from the previous (larger) budget's thresholds, when options.reuse is set.
ExhaustiveSummary Exhaustive(const PlacementProblem& problem, const ExhaustiveOptions& options,
                             const ThresholdSolverFn& solver, const WarmSolverFn& warm = {});

}  // namespace exitplan
