// The option registry: every option of exitplan declared once, with its key, type, default,
// valid range, help, and the commands and sweep methods it applies to. Modelled on HiGHS's option
// records and LightGBM's annotated Config. From this one table come:
//   - the flags of every command (cli/option_flags.cpp: --<key with dashes>, e.g. beta_scale ->
//     --beta-scale; a switch is --<key> / --no-<key>),
//   - the `options:` keys of a sweep's methods (refused at parse time, with the YAML line, when
//     unknown or not for that method),
//   - validation of every value (OptionValues::Set),
//   - `exitplan options` and the table in docs/options.md (a test fails when they differ).
// Spelling: snake_case keys in YAML, the same words with dashes on the command line. Precedence:
// the command line over the sweep file over the defaults.
//
// ADDING AN OPTION is one declaration: append an entry to the table in dse/options.cpp, e.g.
//   Opt("max_sweeps", kInt, "exact: coordinate sweeps per start").Min(1)
//       .Commands({"thresholds"}).Methods(kExactOnly).Bind(&MethodSettings::solver, ...)
// Bound options (Bind) write a field of MethodSettings and take their default from that field's
// initialiser; unbound ones are read by the commands with OptionValues::Text/Double/Int/Bool.
// Then regenerate docs/options.md with `exitplan options --markdown` (see the test message).
//
// This header is CLI11-free on purpose: the Python module and dse/ use it too.
#pragma once

#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "dse/exhaustive.hpp"
#include "dse/flop_score.hpp"
#include "dse/greedy.hpp"
#include "optim/eenet.hpp"
#include "optim/solve.hpp"
#include "profiles/budget.hpp"

namespace exitplan {

enum class OptionType {
  kSwitch,  // true / false (CLI: --key, --no-key)
  kInt,
  kDouble,    // a finite number
  kFraction,  // a number in [0, 1], also written as a percentage (0.5%)
  kText,      // free text (paths, names)
  kChoice,    // one of `choices`
  kList,      // comma-separated text (exits, thresholds, methods)
  kBudgets,   // the budget grammar of profiles/budget.hpp
  kEntries,   // a YAML list of mappings (a sweep file's models: and methods:), never a flag
};
std::string ToString(OptionType type);

// Every struct an option can write into (the method options of optim/ and dse/).
struct MethodSettings {
  SolverOptions solver;
  EENetOptions eenet;
  GreedyOptions greedy;
  FlopScoreOptions flop_score;
  ExhaustiveOptions exhaustive;
  std::string placement_solver = "exact";  // threshold method of the budgeted placement searches
  bool fast = false;                       // exhaustive: the fast path (off = the full search)
};

struct OptionSpec {
  std::string key;         // snake_case; the YAML key
  std::string short_flag;  // "" or e.g. "-j"
  OptionType type = OptionType::kText;
  std::string help;
  std::vector<std::string> choices;  // kChoice
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false, max_open = false;  // (min, ...) instead of [min, ...
  bool nan_allowed = false;                 // "auto" (NaN) is a valid value (e.g. beta)
  std::vector<std::string> commands;        // commands that take it as a flag
  std::vector<std::string> methods;         // sweep methods whose `options:` take it
  bool sweep_key = false;                   // also a key of the sweep file outside `options:`
  // The key at the top level of a sweep file ("" = none; e.g. `output` for out, `budgets` for
  // budget), and whether a sweep file must have it. Any other top-level key is refused.
  std::string sweep_file_key;
  bool sweep_file_required = false;
  std::string default_text;  // as shown in help and docs ("" = none / required)
  // Bound options: write / read the field (text already checked against type and range).
  std::function<void(MethodSettings&, const std::string&)> set;
  std::function<std::string(const MethodSettings&)> get;

  std::string Flag() const;       // "--beta-scale"
  std::string RangeText() const;  // "> 0", "in [0, 1]", "one of: a, b", ""
  bool ForCommand(const std::string& command) const;
  bool ForMethod(const std::string& method) const;
};

// The whole table, in declaration order (grouped by subject).
const std::vector<OptionSpec>& Options();
// nullptr when there is no such key.
const OptionSpec* FindOption(const std::string& key);
std::vector<const OptionSpec*> OptionsOfCommand(const std::string& command);

// The options that are top-level keys of a sweep file (sweep_file_key), in declaration order.
std::vector<const OptionSpec*> SweepFileOptions();

// The threshold methods a placement search may use as its solver.
bool IsSearchMethod(const std::string& method);  // greedy-forward, greedy-backward, exhaustive

// Whether `key` may be given to `method` (with `solver`: the threshold method of a placement
// search, whose own options it then also takes). "" or one line saying why not, listing the keys
// the method does take.
std::string CheckApplies(const OptionSpec& spec, const std::string& method,
                         const std::string& solver = "");
std::string MethodOptionKeys(const std::string& method, const std::string& solver = "");

class OptionValues;
// Every given option that is declared for methods must apply to at least one of `methods` (a
// placement search with `solver`); throws InputError naming where it was given and why not.
void CheckGivenOptionsApply(const OptionValues& values, const std::vector<std::string>& methods,
                            const std::string& solver = "");

// Values given on the command line or in a sweep file, checked on Set.
class OptionValues {
 public:
  // Checks that `key` exists and `text` is a valid value; throws InputError(where, ...) with one
  // line otherwise. A later Set of the same key replaces the value (the command line after the
  // sweep file: that is the precedence).
  void Set(const std::string& key, const std::string& text, const std::string& where);
  bool Has(const std::string& key) const { return given_.count(key) > 0; }
  // The given text, else the default text.
  std::string Text(const std::string& key) const;
  double Double(const std::string& key) const;
  int Int(const std::string& key) const;
  bool Bool(const std::string& key) const;
  std::vector<Budget> Budgets(const std::string& key) const;  // Text(key) parsed as budgets
  std::string Where(const std::string& key) const;            // where it was given, or the flag
  const std::map<std::string, std::string>& Given() const { return given_; }
  // Writes every given bound option into `s`, then validates the structs it touched; throws
  // InputError naming the first broken rule.
  void ApplyTo(MethodSettings& s) const;

 private:
  std::map<std::string, std::string> given_;
  std::map<std::string, std::string> where_;
};

// Parses one value of `spec` as text (checks type and range); throws InputError(where, ...).
void CheckOptionValue(const OptionSpec& spec, const std::string& text, const std::string& where);

// The table as Markdown (docs/options.md's generated part) or as plain text for the terminal.
std::string OptionsMarkdown();
std::string OptionsText(const std::string& command = "", const std::string& method = "");

}  // namespace exitplan
