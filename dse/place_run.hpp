// One placement run as `exitplan place` does it: each requested placement method on one dump and
// profile, plus comparison series (fixed kept sets solved at every budget), as report rows with the
// Pareto front marked, and the human-readable text of what was found.
#pragma once

#include <string>
#include <vector>

#include "dse/options.hpp"
#include "dse/placement.hpp"
#include "dse/report.hpp"
#include "optim/solve.hpp"
#include "profiles/budget.hpp"
#include "profiles/dump.hpp"
#include "profiles/progress.hpp"

namespace exitplan {

struct PlaceRunOptions {
  std::vector<PlacementMethod> methods;  // non-empty
  std::string model;                     // the rows' `model` column
  std::string measure;                   // the rows' `measure` column (the measure's name)
  Method solver = Method::kExact;  // thresholds of the budgeted searches and comparison series
  // Absolute budgets (profile unit). Empty: none for the budget-free rules; for exhaustive the
  // default grid DefaultPlaceBudgets gives.
  std::vector<double> budgets;
  double tolerance = 0.05;  // flop-score and the greedy rules
  double th = 0.9;          // greedy-th
  int threads = 2;
  int max_candidates = -1;  // <= 0: each method's default
  bool compare = false;     // also the series all-exits, even-<even> and best-subset
  int even = 3;
  bool all_rows = false;         // exhaustive: every (subset, budget) solution as a row
  bool exact_path = false;       // exhaustive with solver exact: the fast path
  int polish = 0;                // exhaustive fast path: polish_top
  bool prune = true;             // exhaustive: ExhaustiveOptions::prune
  bool reuse = true;             // exhaustive: ExhaustiveOptions::reuse
  SolverOptions solver_options;  // options of `solver` (seed, iPPP's, exact's, ...)
  bool verbose = false;          // greedy rules: their per-exit decisions in the text
  // One phase per method and comparison series (flop-score and exhaustive count subsets, the
  // others budgets); null: none. Its callback throwing cancels the run (RunPlace rethrows).
  Progress* progress = nullptr;
  std::string Validate() const;  // "" or one line per broken rule
};

// The option checks of a place run, before any file is read (methods, solver, --fast and
// --polish, budgets of the greedy searches, --out), and the run's options from the registry values
// `v`. Throws InputError naming the option. The model, measure and budgets are filled in once the
// dump and profile are loaded (PlaceProblemFor, PlaceBudgets).
struct PlaceRequest {
  PlaceRunOptions run;
  std::vector<std::string> method_names;
  Target target = Target::kLabels;     // --correct
  Target ca_target = Target::kLabels;  // --ca (flop-score and the greedy rules)
  bool ca_given = false;               // --ca given; else agreement, or labels on a scores dump
  std::vector<Budget> budgets;         // as given
  std::string out;                     // --out ("" when not given)
  bool horizon_given = false;          // --horizon given (else DefaultHorizon from the dump)
};
PlaceRequest PlaceRequestFrom(const OptionValues& v);

// The placement problem of a loaded dump (its fit split, and its eval split when there is one) and
// profile for `measure`. Without --ca, CA is agreement with exit K on a logits dump and the labels
// on a scores-mode dump (it has no exit-K predictions); --ca agreement given for a scores-mode
// dump throws InputError.
PlacementProblem PlaceProblemFor(const Dump& dump, const CostProfile& profile, Measure measure,
                                 const PlaceRequest& request);

// The absolute budgets of the run: the given ones, or DefaultPlaceBudgets when exhaustive runs
// without any.
std::vector<double> PlaceBudgets(const PlaceRequest& request, const CostProfile& profile);

struct PlaceRunResult {
  std::vector<ResultRow> rows;  // Pareto column marked (MarkPareto)
  std::vector<double> budgets;  // the absolute budgets used
  std::string text;             // per method: what was found, as `exitplan place` prints it
  int failures = 0;             // budgeted searches without a solution
  // Every exit kept, every sample to the final exit: the reference point of the plot.
  Evaluation reference_fit, reference_eval;  // reference_eval.n = 0 without an eval split
  bool any_solution() const;
};

// 50 budgets from the cheapest policy of any kept set (every sample stops at the cheapest single
// exit) to the full cost, inclusive.
std::vector<double> DefaultPlaceBudgets(const CostProfile& profile);

// Throws InputError for invalid options. With options.solver_options.guarantee on, the search
// runs on the guarantee's search part only and every budgeted row is certified (CertifyRow).
PlaceRunResult RunPlace(const PlacementProblem& problem, const PlaceRunOptions& options);

// ---- --guarantee with a placement search (docs/guarantees.md, "Placement searches") ----
// Which exits to keep is itself fitted to data, so the guarantee cannot be applied to each kept
// set searched over and the best one taken. Instead the placement search runs without the
// guarantee on the guarantee's search part of the fit split only (GuaranteeSearchPart with the
// solver options' seed and search fraction); the kept set it chooses at a budget is then a
// function of the search part, and is solved again with the guarantee on the whole fit split,
// which cuts the same search part (the path) and tests on the calibration part the search never
// saw. The statement of the guarantee holds for the returned policy unchanged.

// The search part of a placement problem (owning its matrices); the eval split is kept as given.
struct SearchPartProblem {
  ScoreMatrix scores;
  CorrectMatrix correct, ca_correct;
  PlacementProblem problem;
};
// `solver`: the threshold method (its default search fraction).
void MakeSearchPart(const PlacementProblem& problem, Method solver, const SolverOptions& options,
                    SearchPartProblem* out);

// Replaces a row found on the search part by its kept set solved with the guarantee at the row's
// budget on the whole fit split (policy, figures, outcome, guarantee; the message says where the
// kept set came from). A row without a budget (budget-free rules) keeps its policy, re-measured
// on the whole fit split, with no guarantee. Rows without a policy are left alone.
void CertifyRow(const PlacementProblem& problem, Method solver, const SolverOptions& options,
                ResultRow& row);

// The shift check (optim/shift.hpp) of a row between the fit and eval splits: the row's kept set
// with thresholds solved by `solver` (`options`, without the guarantee) on the selection part of
// the fit split at the row's budget (a row without one: at its fit cost), tested on the held-out
// part against the eval split. Sets row.shift_p and row.shift_fired; nothing without an eval
// split or a policy, or when the selection part has no policy at that budget.
void ShiftCheckRow(const PlacementProblem& problem, Method solver, const SolverOptions& options,
                   ResultRow& row, double alpha = 0.05);

}  // namespace exitplan
