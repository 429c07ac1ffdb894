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
#include "dse/options.hpp"
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
  std::string name;    // the report's model column (default: the dump folder's name)
  std::string origin;  // how it was made, for provenance ("exitplan.load_dump('data/example')")
  std::shared_ptr<InputHashes> inputs;
};

// A policy: the deployment config of one result row (dse/config.hpp), plus what it needs to
// write its provenance when saved.
struct PyPolicy {
  DeployConfig config;
  std::shared_ptr<InputHashes> inputs;    // of the dump (and profile) it was chosen on
  std::vector<std::string> extra_inputs;  // e.g. the profile file
  std::string TextYaml() const;
  std::string TextJson() const;
  DeployConfig WithProvenance() const;
};

// One row of a Pareto CSV (dse/report.hpp) with its policy when it has a solution.
struct PyResult {
  ResultRow row;
  std::optional<PyPolicy> policy;
};

// The keyword options of a verb as the option registry's values (dse/options.hpp): kwarg
// `foo_bar` is the CLI's `--foo-bar` (key foo_bar), checked by the registry exactly as the flag
// is. Python numbers, strings, booleans and lists are turned into the text the flag would get.
// Keys in `fixed` belong to the objects passed in (the Dump, the Profile) and are refused.
OptionValues ValuesFor(const py::kwargs& kwargs, const std::string& command,
                       const std::vector<std::string>& fixed = {});
// "exitplan.thresholds(method='exact', budget='40%')": the call, for provenance.
std::string CallText(const std::string& verb, const py::kwargs& kwargs);

// Policies and rows.
// `used` is the dump the rows were computed on (a calibrated copy of dump.dump with --calibrate).
PyPolicy PolicyOf(const ResultRow& row, const PyDump& dump, const Dump& used,
                  const CostProfile& profile, const std::string& call);
std::vector<PyResult> ResultsOf(const std::vector<ResultRow>& rows, const PyDump& dump,
                                const Dump& used, const CostProfile& profile,
                                const std::string& call);

void BindVerbs(py::module_& m);

}  // namespace exitplan::python
