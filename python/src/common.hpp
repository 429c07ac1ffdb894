// The Python module's C++ side: what the bindings (module.cpp) and the verbs (verbs.cpp) share.
//
// Python objects hold exitplan's own types: a Dump (features computed once, logits read in place
// from the caller's NumPy buffer or the memory-mapped file), a CostProfile, result rows, and
// policies as the deployment config `exitplan export` writes (dse/config.hpp).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dse/config.hpp"
#include "dse/report.hpp"
#include "profiles/dump.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/profile.hpp"

namespace exitplan::python {

namespace py = pybind11;

// The provenance lines ("name sha256") of a dump's inputs, computed once when first needed
// (hashing a 1 GB dump takes seconds: only a saved config needs it).
class InputHashes {
 public:
  explicit InputHashes(std::function<std::vector<std::string>()> compute)
      : compute_(std::move(compute)) {}
  const std::vector<std::string>& Get() {
    std::call_once(once_, [this] { lines_ = compute_(); });
    return lines_;
  }

 private:
  std::function<std::vector<std::string>()> compute_;
  std::once_flag once_;
  std::vector<std::string> lines_;
};

// A dump as Python sees it.
struct PyDump {
  Dump dump;
  DumpOptions options;
  std::string name;     // the report's model column (default: the dump folder's name)
  std::string origin;   // how it was made, for provenance ("exitplan.load_dump('data/example')")
  std::shared_ptr<InputHashes> inputs;
};

// A policy: the deployment config of one result row (dse/config.hpp), plus what it needs to
// write its provenance when saved.
struct PyPolicy {
  DeployConfig config;
  std::shared_ptr<InputHashes> inputs;     // of the dump (and profile) it was chosen on
  std::vector<std::string> extra_inputs;   // e.g. the profile file
  std::string TextYaml() const;
  std::string TextJson() const;
  DeployConfig WithProvenance() const;
};

// One row of a Pareto CSV (dse/report.hpp) with its policy when it has a solution.
struct PyResult {
  ResultRow row;
  std::optional<PyPolicy> policy;
};

// Keyword options of a verb, named as the CLI's options (`--foo-bar` is `foo_bar`). Values may be
// Python numbers, strings, booleans or lists; every kwarg must be used (Finish()).
class Options {
 public:
  Options(const py::kwargs& kwargs, std::string verb);
  bool Has(const std::string& name) const;
  // As the CLI would receive the text: numbers in shortest round-trip form, lists joined by ','.
  std::string Text(const std::string& name, const std::string& fallback = "");
  double Number(const std::string& name, double fallback);
  int Int(const std::string& name, int fallback);
  unsigned Unsigned(const std::string& name, unsigned fallback);
  bool Flag(const std::string& name, bool fallback = false);
  // Raises InputError naming any kwarg the verb does not take.
  void Finish() const;
  // "exitplan.thresholds(method='exact', budget='40%')": the call, for provenance.
  std::string CallText() const;

 private:
  py::object Take(const std::string& name);
  std::string verb_;
  std::vector<std::pair<std::string, py::object>> items_;
  std::vector<std::string> used_;
};

// Option name as the CLI spells it ("--budget-range" for budget_range), for messages.
std::string CliName(const std::string& kwarg);

// Budgets in absolute units from a kwarg value: a number, a list of numbers, or text in the
// budget grammar (`3`, `3ms`, `40%`, `0.4x`, comma lists, `LO:HI:N`).
std::vector<double> ParseBudgetGrammar(const std::string& text, const CostProfile& profile,
                                       bool relative, const std::string& what);

// Policies and rows.
PyPolicy PolicyOf(const ResultRow& row, const PyDump& dump, const CostProfile& profile,
                  const std::string& call);
std::vector<PyResult> ResultsOf(const std::vector<ResultRow>& rows, const PyDump& dump,
                                const CostProfile& profile, const std::string& call);

void BindVerbs(py::module_& m);

}  // namespace exitplan::python
