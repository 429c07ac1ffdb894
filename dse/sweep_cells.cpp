// The sweep's cells and their store: inputs and their hashes, cell identities, the cell result
// files under <output>/cells/ and the manifest that merge and export read back.
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "dse/config.hpp"
#include "dse/internal/sweep_internal.hpp"
#include "dse/sweep.hpp"
#include "optim/calibration.hpp"
#include "profiles/error.hpp"
#include "profiles/feature_cache.hpp"
#include "profiles/io.hpp"
#include "profiles/numbers.hpp"
#include "profiles/profile.hpp"
#include "profiles/yaml_check.hpp"

namespace fs = std::filesystem;

namespace exitplan {
namespace internal::sweep {

std::vector<std::string> DumpFiles(const std::string& dir, const SweepSpec& spec) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    for (const std::string& split : {spec.fit_split, spec.eval_split}) {
      if (name.rfind(split + "_", 0) == 0 || name == split + ".npz") {
        files.push_back(entry.path().string());
        break;
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string TargetName(const CostProfile& p) { return p.target.empty() ? "default" : p.target; }

LoadedModel LoadModel(const SweepSpec& spec, const SweepModel& m, bool calibrate) {
  LoadedModel out;
  DumpOptions o;
  o.fit_split = spec.fit_split;
  o.eval_split = spec.eval_split;
  o.layout = LayoutFromString(m.layout, "sweep model " + m.name + " layout");
  o.score_order = ScoreOrderFromString(m.score_order, "sweep model " + m.name + " score_order");
  o.cache_dir = DefaultFeatureCacheDir();  // EXITPLAN_CACHE_DIR= (empty) turns it off
  out.dump = LoadDump(m.dump, o);
  if (calibrate) {
    if (!out.dump.fit.has_logits()) {
      throw InputError(m.dump, "calibrate: temperature scaling needs a logits-mode dump (model " +
                                   m.name + " has scores only)");
    }
    const CalibrationSummary cal = FitTemperatures(out.dump.fit);
    if (!cal.ok()) throw InputError(m.dump, "temperature scaling failed: " + cal.message);
    out.temperatures = cal.temperatures;
    out.calibrated = std::make_unique<Dump>(LoadDump(m.dump, o));
    out.calibrated->fit.ComputeFeatures(out.temperatures);
    if (out.calibrated->eval) out.calibrated->eval->ComputeFeatures(out.temperatures);
  }
  const std::vector<CostProfile> all = LoadProfiles(m.profile);
  if (m.targets.empty()) {
    out.profiles = all;
  } else {
    for (const std::string& t : m.targets) {
      auto it = std::find_if(all.begin(), all.end(),
                             [&](const CostProfile& p) { return TargetName(p) == t; });
      if (it == all.end()) {
        std::string names;
        for (const auto& p : all) names += (names.empty() ? "" : ", ") + TargetName(p);
        throw InputError(m.profile,
                         "no target '" + t + "' for model " + m.name + " (targets: " + names + ")");
      }
      out.profiles.push_back(*it);
    }
  }
  for (const CostProfile& p : out.profiles) CheckProfileMatches(p, out.dump.k, m.dump);
  std::string lines;
  for (const std::string& f : DumpFiles(m.dump, spec)) {
    const std::string line = fs::path(f).filename().string() + " " + Sha256File(f);
    out.input_files.push_back(line);
    lines += line + "\n";
  }
  const std::string pline = fs::path(m.profile).filename().string() + " " + Sha256File(m.profile);
  out.input_files.push_back(pline);
  lines += pline + "\n";
  out.inputs_digest = Sha256Hex(lines);
  return out;
}

std::string CellKey(const SweepSpec& spec, const SweepModel& model, const LoadedModel& lm,
                    const SweepMethod& method, const SweepCell& c) {
  std::ostringstream k;
  k << "exitplan-cell/1\ninputs " << lm.inputs_digest << "\nmodel " << model.name << "\ntarget "
    << c.target << "\nlayout " << model.layout << "\nscore_order " << model.score_order
    << "\nsplits " << spec.fit_split << " " << spec.eval_split << "\nmethod " << method.method
    << "\nlabel " << method.label << "\nmeasure " << c.measure << "\ncorrect " << method.correct
    << "\nexits " << method.exits << "\n";
  for (const auto& [key, value] : method.options) k << "option " << key << "=" << value << "\n";
  if (method.calibrate) k << "calibrate temperature-scaling\n";
  k << "budget " << FormatDouble(c.budget) << "\n";
  return k.str();
}

std::string ManifestToYaml(const Manifest& m) {
  YAML::Emitter e;
  e << YAML::BeginMap << YAML::Key << "schema" << YAML::Value << "exitplan-sweep-manifest/1"
    << YAML::Key << "sweep" << YAML::Value << m.sweep << YAML::Key << "source" << YAML::Value
    << m.source << YAML::Key << "configs" << YAML::Value << m.configs;
  if (m.has_methods) {
    e << YAML::Key << "fit_split" << YAML::Value << m.fit_split << YAML::Key << "eval_split"
      << YAML::Value << m.eval_split << YAML::Key << "methods" << YAML::Value << YAML::BeginSeq;
    for (const SweepMethod& me : m.methods) {
      e << YAML::Flow << YAML::BeginMap << YAML::Key << "label" << YAML::Value << me.label
        << YAML::Key << "method" << YAML::Value << me.method << YAML::Key << "correct"
        << YAML::Value << me.correct << YAML::Key << "exits" << YAML::Value << me.exits << YAML::Key
        << "calibrate" << YAML::Value << me.calibrate << YAML::Key << "options" << YAML::Value
        << YAML::BeginMap;
      for (const auto& [key, value] : me.options) e << YAML::Key << key << YAML::Value << value;
      e << YAML::EndMap << YAML::EndMap;
    }
    e << YAML::EndSeq;
  }
  e << YAML::Key << "groups" << YAML::Value << YAML::BeginSeq;
  for (const Group& g : m.groups) {
    e << YAML::BeginMap << YAML::Key << "model" << YAML::Value << g.model << YAML::Key << "target"
      << YAML::Value << g.target << YAML::Key << "unit" << YAML::Value << g.unit << YAML::Key
      << "score_order" << YAML::Value << g.score_order << YAML::Key << "dump" << YAML::Value
      << g.dump << YAML::Key << "layout" << YAML::Value << g.layout << YAML::Key << "profile"
      << YAML::Value << g.profile << YAML::Key << "exit_names" << YAML::Value << YAML::Flow
      << g.exit_names << YAML::Key << "inputs" << YAML::Value << YAML::BeginSeq;
    for (const auto& s : g.inputs) e << s;
    e << YAML::EndSeq;
    if (!g.calibrated.empty()) {
      std::vector<std::string> t;
      for (double v : g.temperatures) t.push_back(FormatDouble(v));  // exact round trip
      e << YAML::Key << "temperatures" << YAML::Value << YAML::Flow << t << YAML::Key
        << "calibrated" << YAML::Value << YAML::Flow << g.calibrated;
    }
    if (std::isfinite(g.reference_cost)) {
      e << YAML::Key << "reference" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
        << "cost" << YAML::Value << FormatDouble(g.reference_cost) << YAML::Key << "fit_acc"
        << YAML::Value << FormatDouble(g.reference_fit_acc);
      if (std::isfinite(g.reference_eval_acc)) {
        e << YAML::Key << "eval_acc" << YAML::Value << FormatDouble(g.reference_eval_acc);
      }
      e << YAML::EndMap;
    }
    e << YAML::EndMap;
  }
  e << YAML::EndSeq << YAML::Key << "cells" << YAML::Value << YAML::BeginSeq;
  for (const auto& [hash, group] : m.cells) {
    e << YAML::Flow << YAML::BeginSeq << hash << group << YAML::EndSeq;
  }
  e << YAML::EndSeq << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

namespace {

bool IsHash(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

Manifest ManifestFromFile(const std::string& path) {
  Manifest m;
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 && errno == ENOENT) {
    throw InputError(path, "missing: not the output directory of an exitplan sweep");
  }
  const std::string text = ReadFile(path);  // names a dangling link, a directory, a FIFO
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(path + ":" + std::to_string(e.mark.line + 1),
                     "malformed sweep manifest: " + e.msg);
  }
  auto where = [&](const YAML::Node& n) { return YamlWhere(path, n); };
  auto str = [&](const YAML::Node& parent, const char* key) {
    const YAML::Node n = parent[key];
    if (!n || !n.IsScalar()) {
      throw InputError(where(n ? n : parent),
                       std::string("manifest: '") + key + "' missing or not a string");
    }
    return n.as<std::string>();
  };
  auto strs = [&](const YAML::Node& parent, const char* key) {
    const YAML::Node n = parent[key];
    std::vector<std::string> out;
    if (!n || !n.IsSequence()) {
      throw InputError(where(n ? n : parent),
                       std::string("manifest: '") + key + "' missing or not a list");
    }
    for (const auto& item : n) {
      if (!item.IsScalar()) {
        throw InputError(where(item), std::string("manifest: '") + key + "' holds a non-string");
      }
      out.push_back(item.as<std::string>());
    }
    return out;
  };
  try {
    if (!root.IsMap() || !root["schema"] || !root["schema"].IsScalar() ||
        root["schema"].as<std::string>() != "exitplan-sweep-manifest/1") {
      throw InputError(path, "not an exitplan sweep manifest (schema exitplan-sweep-manifest/1)");
    }
    m.sweep = str(root, "sweep");
    if (!IsHash(m.sweep))
      throw InputError(where(root["sweep"]), "manifest: sweep is not a SHA-256");
    m.source = str(root, "source");
    const std::string configs = str(root, "configs");
    if (configs != "true" && configs != "false") {
      throw InputError(where(root["configs"]), "manifest: configs must be true or false");
    }
    m.configs = configs == "true";
    if (const YAML::Node methods = root["methods"]) {  // absent in older manifests
      if (!methods.IsSequence())
        throw InputError(where(methods), "manifest: 'methods' is not a list");
      m.fit_split = str(root, "fit_split");
      m.eval_split = str(root, "eval_split");
      for (const auto& me : methods) {
        if (!me.IsMap()) throw InputError(where(me), "manifest: a method is not a mapping");
        SweepMethod sm;
        sm.label = str(me, "label");
        sm.method = str(me, "method");
        sm.correct = str(me, "correct");
        sm.exits = str(me, "exits");
        const std::string cal = str(me, "calibrate");
        if (cal != "true" && cal != "false") {
          throw InputError(where(me["calibrate"]), "manifest: calibrate must be true or false");
        }
        sm.calibrate = cal == "true";
        const YAML::Node opts = me["options"];
        if (!opts || !opts.IsMap()) {
          throw InputError(where(opts ? opts : me),
                           "manifest: a method's 'options' is not a mapping");
        }
        for (const auto& kv : opts) {
          if (!kv.first.IsScalar() || !kv.second.IsScalar()) {
            throw InputError(where(kv.first), "manifest: an option is not key: value");
          }
          sm.options[kv.first.as<std::string>()] = kv.second.as<std::string>();
        }
        sm.measures.clear();
        m.methods.push_back(sm);
      }
      m.has_methods = true;
    }
    const YAML::Node groups = root["groups"];
    if (!groups || !groups.IsSequence() || groups.size() == 0) {
      throw InputError(where(groups ? groups : root), "manifest: 'groups' missing or empty");
    }
    for (const auto& g : groups) {
      if (!g.IsMap()) throw InputError(where(g), "manifest: a group is not a mapping");
      Group gr;
      gr.model = str(g, "model");
      gr.target = str(g, "target");
      gr.unit = str(g, "unit");
      gr.score_order = str(g, "score_order");
      if (gr.score_order != "descending" && gr.score_order != "ascending") {
        throw InputError(where(g["score_order"]), "manifest: score_order " +
                                                      QuoteForError(gr.score_order) +
                                                      " is not descending or ascending");
      }
      gr.dump = str(g, "dump");
      gr.profile = str(g, "profile");
      if (g["layout"]) {
        gr.layout = str(g, "layout");
        if (gr.layout != "nk" && gr.layout != "kn") {
          throw InputError(where(g["layout"]),
                           "manifest: layout " + QuoteForError(gr.layout) + " is not nk or kn");
        }
      }
      gr.exit_names = strs(g, "exit_names");
      if (gr.exit_names.empty() || gr.exit_names.size() > kMaxExitsInCsv) {
        throw InputError(where(g["exit_names"]), "manifest: exit_names must name 1.." +
                                                     std::to_string(kMaxExitsInCsv) + " exits");
      }
      gr.inputs = strs(g, "inputs");
      if (g["calibrated"]) {
        gr.calibrated = strs(g, "calibrated");
        const YAML::Node t = g["temperatures"];
        if (!t || !t.IsSequence() || t.size() != gr.exit_names.size()) {
          throw InputError(where(t ? t : g), "manifest: expected one temperature per exit (" +
                                                 std::to_string(gr.exit_names.size()) + ")");
        }
        for (const auto& v : t) {
          if (!v.IsScalar()) throw InputError(where(v), "manifest: a temperature is not a number");
          gr.temperatures.push_back(
              ParseDouble(v.as<std::string>(), where(v) + " temperature", 1e-300, 1e300));
        }
      }
      if (const YAML::Node r = g["reference"]; r && r.IsMap()) {  // absent in older manifests
        gr.reference_cost = ParseDouble(str(r, "cost"), where(r["cost"]) + " reference cost", 0.0,
                                        std::numeric_limits<double>::max());
        gr.reference_fit_acc =
            ParseDouble(str(r, "fit_acc"), where(r["fit_acc"]) + " reference fit_acc", 0.0, 1.0);
        if (r["eval_acc"]) {
          gr.reference_eval_acc = ParseDouble(
              str(r, "eval_acc"), where(r["eval_acc"]) + " reference eval_acc", 0.0, 1.0);
        }
      }
      m.groups.push_back(gr);
    }
    const YAML::Node cells = root["cells"];
    if (!cells || !cells.IsSequence() || cells.size() == 0) {
      throw InputError(where(cells ? cells : root), "manifest: 'cells' missing or empty");
    }
    std::set<std::string> seen;
    for (const auto& c : cells) {
      if (!c.IsSequence() || c.size() != 2 || !c[0].IsScalar() || !c[1].IsScalar()) {
        throw InputError(where(c), "manifest: a cell is not [hash, group]");
      }
      const std::string hash = c[0].as<std::string>();
      if (!IsHash(hash)) {
        throw InputError(where(c[0]), "manifest: cell " + QuoteForError(hash) +
                                          " is not a SHA-256 (64 lower-case hex digits)");
      }
      if (!seen.insert(hash).second) {
        throw InputError(where(c[0]), "manifest: cell " + hash.substr(0, 12) + " appears twice");
      }
      const int group =
          static_cast<int>(ParseInt(c[1].as<std::string>(), where(c[1]) + " cell group", 0,
                                    static_cast<std::int64_t>(m.groups.size()) - 1));
      m.cells.push_back({hash, group});
    }
  } catch (const YAML::Exception& e) {
    throw InputError(path + ":" + std::to_string(e.mark.line + 1),
                     "malformed sweep manifest: " + e.msg);
  }
  return m;
}

std::string CellPath(const std::string& out, const std::string& hash) {
  return out + "/cells/" + hash + ".csv";
}

// A finished cell result, or nullopt when there is none yet. A cell file that is not what exitplan
// writes (cells are never half-written: WriteFileAtomic) is refused, naming its field.
std::optional<ResultRow> ReadCell(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 && errno == ENOENT) return std::nullopt;
  std::vector<ResultRow> rows = ResultsFromCsv(ReadFile(path), path);
  if (rows.size() != 1) {
    throw InputError(path, "a cell result holds one row, found " + std::to_string(rows.size()) +
                               " (remove the file to compute the cell again)");
  }
  return rows[0];
}

bool Failed(const ResultRow& r) { return !r.has_policy(); }

std::string Describe(const ResultRow& r) {
  return r.model + "/" + r.target + " " + r.method + " " + r.measure + " budget " +
         FormatDouble(r.budget);
}

}  // namespace internal::sweep

namespace internal {

using sweep::TargetName;

std::vector<SweepCell> EnumerateCells(const SweepSpec& spec,
                                      const std::vector<std::vector<CostProfile>>& profiles) {
  std::vector<SweepCell> cells;
  for (std::size_t mi = 0; mi < spec.models.size(); ++mi) {
    for (const CostProfile& p : profiles[mi]) {
      const double full = p.FullCost();
      for (std::size_t me = 0; me < spec.methods.size(); ++me) {
        for (const std::string& measure : spec.methods[me].measures) {
          for (const Budget& b : spec.budgets.items) {
            SweepCell c;
            c.index = static_cast<int>(cells.size());
            c.model = static_cast<int>(mi);
            c.method = static_cast<int>(me);
            c.target = TargetName(p);
            c.measure = measure;
            c.budget_value = b.value;
            c.budget = b.Resolve(full, p.unit);
            cells.push_back(c);
          }
        }
      }
    }
  }
  return cells;
}

}  // namespace internal

using namespace internal::sweep;

bool SweepReportContext(const std::string& report_csv, const ResultRow& row,
                        ConfigContext& context) {
  const fs::path manifest = fs::path(report_csv).parent_path().parent_path() / "manifest.yaml";
  std::error_code ec;
  if (!fs::exists(manifest, ec)) return false;
  const Manifest m = ManifestFromFile(manifest.string());
  for (const Group& g : m.groups) {
    if (g.model == row.model && g.target == row.target) {
      context.exit_names = g.exit_names;
      context.score_order = g.score_order;
      context.inputs = g.inputs;
      context.temperatures.clear();
      if (std::find(g.calibrated.begin(), g.calibrated.end(), row.method) != g.calibrated.end()) {
        context.temperatures = g.temperatures;
      }
      return true;
    }
  }
  return false;
}

}  // namespace exitplan
