// Sweep file parsing: the YAML text of a sweep file into a SweepSpec (dse/sweep.hpp).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>

#include "dse/internal/sweep_internal.hpp"
#include "dse/options.hpp"
#include "dse/sweep.hpp"
#include "profiles/budget.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/yaml_check.hpp"

namespace fs = std::filesystem;

namespace exitplan {
namespace {

// ---------------------------------------------------------------------------------------------
// Sweep file parsing (yaml-cpp, which accepts unknown and duplicate keys: both checked by hand).

struct Yaml {
  std::string source;
  std::string Where(const YAML::Node& node) const { return YamlWhere(source, node); }
  void Keys(const YAML::Node& map, const std::set<std::string>& allowed,
            const std::string& context) const {
    CheckYamlKeys(source, map, allowed, context);
  }
  std::string Str(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) throw InputError(Where(node), key + ": expected a string");
    return node.as<std::string>();
  }
  double Num(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) throw InputError(Where(node), key + ": expected a number");
    const std::string text = node.as<std::string>();
    try {
      const double v = node.as<double>();
      if (!std::isfinite(v)) throw InputError(Where(node), key + ": must be finite");
      return v;
    } catch (const YAML::Exception&) {
      throw InputError(Where(node), key + ": expected a number, found '" + text + "'");
    }
  }
  int Int(const YAML::Node& node, const std::string& key) const {
    const double v = Num(node, key);
    if (v != std::floor(v) || std::fabs(v) > 1e9) {
      throw InputError(Where(node), key + ": expected an integer, found " + FormatDouble(v));
    }
    return static_cast<int>(v);
  }
  bool Bool(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) throw InputError(Where(node), key + ": expected true or false");
    const std::string t = node.as<std::string>();
    if (t == "true" || t == "True" || t == "yes") return true;
    if (t == "false" || t == "False" || t == "no") return false;
    throw InputError(Where(node), key + ": expected true or false, found '" + t + "'");
  }
  // A scalar or a sequence of scalars.
  std::vector<std::string> Strs(const YAML::Node& node, const std::string& key) const {
    std::vector<std::string> out;
    if (node.IsScalar()) return {node.as<std::string>()};
    if (!node.IsSequence()) throw InputError(Where(node), key + ": expected a list of strings");
    for (const auto& item : node) out.push_back(Str(item, key));
    return out;
  }
};

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

std::string Scalar(const YAML::Node& n) {
  if (n.IsScalar()) return n.as<std::string>();
  YAML::Emitter e;
  e << YAML::Flow << n;
  return e.c_str();
}

}  // namespace

SweepSpec ParseSweepSpec(const std::string& yaml_text, const std::string& source,
                         const std::string& base_dir) {
  const Yaml y{source};
  const YAML::Node root = LoadYamlText(yaml_text, source);
  if (!root.IsMap()) throw InputError(source, "a sweep file is a mapping (models:, methods:, ...)");
  // The top-level keys are declared in the option registry (dse/options.cpp: SweepFile).
  std::set<std::string> top_keys;
  for (const OptionSpec* o : SweepFileOptions()) top_keys.insert(o->sweep_file_key);
  y.Keys(root, top_keys, "the sweep file");
  SweepSpec spec;
  spec.source = source;
  for (const OptionSpec* o : SweepFileOptions()) {
    if (o->sweep_file_required && !root[o->sweep_file_key]) {
      throw InputError(source, "missing key '" + o->sweep_file_key + "'");
    }
  }
  spec.output = Resolve(base_dir, y.Str(root["output"], "output"));
  if (root["fit_split"]) spec.fit_split = y.Str(root["fit_split"], "fit_split");
  if (root["eval_split"]) spec.eval_split = y.Str(root["eval_split"], "eval_split");
  if (root["configs"]) spec.configs = y.Bool(root["configs"], "configs");

  const YAML::Node models = root["models"];
  if (!models.IsSequence() || models.size() == 0) {
    throw InputError(y.Where(models), "models: expected a non-empty list");
  }
  std::set<std::string> model_names;
  std::vector<internal::sweep::GroupName> named_groups;
  for (const auto& mn : models) {
    y.Keys(mn, {"name", "dump", "profile", "targets", "target", "layout", "score_order"},
           "a model");
    SweepModel m;
    for (const char* need : {"name", "dump", "profile"}) {
      if (!mn[need])
        throw InputError(y.Where(mn), std::string("model: missing key '") + need + "'");
    }
    m.name = y.Str(mn["name"], "name");
    m.where = y.Where(mn["name"]);
    if (!model_names.insert(m.name).second) {
      throw InputError(y.Where(mn["name"]), "name: model '" + m.name + "' appears twice");
    }
    m.dump = Resolve(base_dir, y.Str(mn["dump"], "dump"));
    m.profile = Resolve(base_dir, y.Str(mn["profile"], "profile"));
    if (mn["targets"] && mn["target"]) {
      throw InputError(y.Where(mn["target"]), "target: give either target or targets");
    }
    if (mn["targets"]) m.targets = y.Strs(mn["targets"], "targets");
    if (mn["target"]) m.targets = {y.Str(mn["target"], "target")};
    // Groups named here whose report files would coincide are refused now; those of models
    // taking every target of their profile, once the profiles are read (RunSweep).
    const YAML::Node tnode = mn["targets"] ? mn["targets"] : mn["target"];
    for (std::size_t t = 0; t < m.targets.size(); ++t) {
      named_groups.push_back(
          {m.name, m.targets[t], y.Where(tnode.IsSequence() ? tnode[t] : tnode)});
    }
    internal::sweep::CheckReportStems(named_groups);
    if (mn["layout"]) {
      m.layout = y.Str(mn["layout"], "layout");
      try {
        LayoutFromString(m.layout, "layout");
      } catch (const InputError& e) {
        throw InputError(y.Where(mn["layout"]), e.what());
      }
    }
    if (mn["score_order"]) {
      m.score_order = y.Str(mn["score_order"], "score_order");
      try {
        ScoreOrderFromString(m.score_order, "score_order");
      } catch (const InputError& e) {
        throw InputError(y.Where(mn["score_order"]), e.what());
      }
    }
    spec.models.push_back(m);
  }

  const YAML::Node methods = root["methods"];
  if (!methods.IsSequence() || methods.size() == 0) {
    throw InputError(y.Where(methods), "methods: expected a non-empty list");
  }
  const std::vector<std::string> known = SweepMethodNames();
  std::set<std::string> labels;
  for (const auto& mn : methods) {
    y.Keys(mn,
           {"method", "label", "measure", "measures", "correct", "exits", "options", "calibrate"},
           "a method");
    SweepMethod m;
    if (!mn["method"]) throw InputError(y.Where(mn), "method: missing key 'method'");
    m.method = y.Str(mn["method"], "method");
    if (std::find(known.begin(), known.end(), m.method) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw InputError(y.Where(mn["method"]),
                       "method: unknown method '" + m.method + "' (expected one of: " + list + ")");
    }
    m.label = mn["label"] ? y.Str(mn["label"], "label") : m.method;
    if (mn["measure"] && mn["measures"]) {
      throw InputError(y.Where(mn["measure"]), "measure: give either measure or measures");
    }
    if (mn["measure"]) m.measures = {y.Str(mn["measure"], "measure")};
    if (mn["measures"]) m.measures = y.Strs(mn["measures"], "measures");
    if (m.measures.empty()) throw InputError(y.Where(mn["measures"]), "measures: empty list");
    const YAML::Node mnode = mn["measures"] ? mn["measures"] : mn["measure"];
    if (m.method == "eenet") {  // the scorer is the measure
      if (mnode) throw InputError(y.Where(mnode), "measure: eenet learns its own scores");
      if (mn["calibrate"]) throw InputError(y.Where(mn["calibrate"]), "calibrate: not for eenet");
      m.measures = {"eenet"};
    }
    for (const std::string& ms : m.method == "eenet" ? std::vector<std::string>{} : m.measures) {
      try {
        MeasureFromString(ms, "measure");
      } catch (const InputError& e) {
        throw InputError(y.Where(mnode), e.what());
      }
    }
    if (mn["correct"]) {
      m.correct = y.Str(mn["correct"], "correct");
      try {
        TargetFromString(m.correct, "correct");
      } catch (const InputError& e) {
        throw InputError(y.Where(mn["correct"]), e.what());
      }
    }
    if (mn["exits"]) m.exits = y.Str(mn["exits"], "exits");
    if (mn["calibrate"]) m.calibrate = y.Bool(mn["calibrate"], "calibrate");
    if (mn["options"]) {
      // Every key must be a registry option that applies to this method (a placement search:
      // also its solver's options), with a valid value: refused here, with the line, not when
      // cells run.
      const YAML::Node on = mn["options"];
      if (!on.IsMap()) throw InputError(y.Where(on), "options: expected a mapping");
      std::set<std::string> seen;
      for (const auto& kv : on) {
        const std::string key = YamlKey(source, kv.first, "options");
        if (!seen.insert(key).second) {
          throw InputError(y.Where(kv.first), "duplicate key '" + key + "' in options");
        }
        m.options[key] = Scalar(kv.second);
      }
      const bool declared = MethodOptionKeys(m.method) != "none" || IsSearchMethod(m.method);
      const auto solver = m.options.find("solver");
      for (const auto& kv : on) {
        const std::string key = YamlKey(source, kv.first, "options");
        const OptionSpec* o = FindOption(key);
        if (!o || (o->methods.empty() && declared)) {
          throw InputError(y.Where(kv.first), "unknown option '" + key + "' of method " + m.method +
                                                  " (it takes: " + MethodOptionKeys(m.method) +
                                                  ")");
        }
        if (!declared) continue;  // a method registered elsewhere checks its own options
        const std::string why =
            CheckApplies(*o, m.method, solver == m.options.end() ? "" : solver->second);
        if (!why.empty()) throw InputError(y.Where(kv.first), why);
        CheckOptionValue(*o, m.options[key], y.Where(kv.second) + ": option " + key);
      }
    }
    for (const std::string& ms : m.measures) {
      if (!labels.insert(m.label + "\n" + ms).second) {
        throw InputError(y.Where(mn), "method '" + m.label + "' with measure " + ms +
                                          " appears twice (give a distinct label:)");
      }
    }
    spec.methods.push_back(m);
  }

  // Budgets: the one grammar of profiles/budget.hpp, as a list of items (each may be a range)
  // or one string: [30%, 50%, 2ms] or "20%:100%:20". A bare number is absolute (profile unit).
  const YAML::Node b = root["budgets"];
  if (b.IsMap()) {
    throw InputError(y.Where(b),
                     "budgets: write a list in the budget grammar, e.g. budgets: "
                     "[30%, 50%, 80%] or budgets: \"20%:100%:20\" (a bare number is "
                     "absolute, in the profile's unit; see docs/formats.md)");
  }
  std::vector<YAML::Node> items;
  if (b.IsSequence()) {
    for (const auto& v : b) items.push_back(v);
  } else {
    items.push_back(b);
  }
  for (const YAML::Node& v : items) {
    if (!v.IsScalar())
      throw InputError(y.Where(v), "budgets: expected a budget such as 40% or 2ms");
    for (const Budget& x : ParseBudgets(v.as<std::string>(), y.Where(v) + ": budgets")) {
      spec.budgets.items.push_back(x);
    }
    if (spec.budgets.items.size() > static_cast<std::size_t>(kMaxBudgets)) {
      throw InputError(y.Where(v), "budgets: more than " + std::to_string(kMaxBudgets));
    }
  }
  if (spec.budgets.items.empty()) throw InputError(y.Where(b), "budgets: no budget given");
  return spec;
}

SweepSpec LoadSweepSpec(const std::string& path) {
  const std::string text = ReadFile(path);
  return ParseSweepSpec(text, path, fs::path(path).parent_path().string());
}

}  // namespace exitplan
