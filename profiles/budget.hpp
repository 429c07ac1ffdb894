// Budgets: one grammar for every command, the sweep file and export, parsed here only.
//
//   3          absolute, in the profile's unit
//   3ms        absolute; the suffix must be the profile's unit (checked when resolved)
//   40%  0.4x  relative: a fraction of the full cost (CostProfile::FullCost(): every exit kept,
//              every sample running to the final exit); above 100% is refused
//   a,b,c      a list, in the order written
//   LO:HI:N    N budgets evenly spaced from LO to HI inclusive; N = 1 gives LO. LO and HI are
//              written in the same form (20%:80%:4, 1ms:3ms:5, 1:3:5)
//
// A bare number is always absolute (profile unit), in every command and in sweep files. Every
// value must be finite and > 0; a list holds at most kMaxBudgets budgets. An absolute budget may
// exceed the full cost (everything fits: keep every exit, run to the end).
//
// Usage: `ParseBudgets(text, "--budget")` before any file is read (bad text throws InputError
// naming `what`), then `ResolveBudgets(budgets, profile)` once the profile is known (throws
// InputError when a unit suffix is not the profile's unit).
#pragma once

#include <string>
#include <vector>

namespace exitplan {

class CostProfile;

inline constexpr int kMaxBudgets = 100000;

// One line for help texts and docs: the grammar above, briefly.
extern const char* const kBudgetGrammar;

struct Budget {
  double value = 0.0;  // relative: the fraction of the full cost (40% -> 0.4); else absolute
  bool relative = false;
  std::string unit;  // absolute: the suffix as written, lower-case ("" for a bare number)
  std::string text;  // the item as written (a range's items: generated, e.g. "40%")
  std::string what;  // where it came from, e.g. "--budget" or "sweep.yaml:12: budgets"

  // The budget in the profile's unit. Throws InputError naming `what` when `unit` is given and
  // differs from `profile_unit`.
  double Resolve(double full_cost, const std::string& profile_unit) const;
  double Resolve(const CostProfile& profile) const;
};

// Parses one item (no comma, no range). Throws InputError("<what>: budget '<item>': ...").
Budget ParseBudget(const std::string& item, const std::string& what);
// Parses a comma list of items and LO:HI:N ranges. Throws InputError naming `what` on empty
// text, a bad item, a bad range or more than kMaxBudgets budgets.
std::vector<Budget> ParseBudgets(const std::string& text, const std::string& what);
// Every budget resolved against the profile (its unit and its full cost).
std::vector<double> ResolveBudgets(const std::vector<Budget>& budgets, const CostProfile& profile);

// A fraction in [0, 1] written as 0.005 or 0.5% (e.g. --accuracy-drop). Throws InputError
// naming `what` otherwise.
double ParseFraction(const std::string& text, const std::string& what);

// The reference of every relative budget, for commands to print, e.g.
// "full cost (every exit kept, running to the final exit): 4.875 ms = 100%".
std::string FullCostLine(const CostProfile& profile);

}  // namespace exitplan
