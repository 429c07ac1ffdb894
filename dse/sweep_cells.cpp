// The sweep's cells and their store: inputs and their hashes, cell identities, the cell result
// files under <output>/cells/ and the manifest that merge and export read back.
#include <signal.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>

#include "dse/config.hpp"
#include "dse/internal/sweep_internal.hpp"
#include "dse/sweep.hpp"
#include "optim/calibration.hpp"
#include "profiles/feature_cache.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/profile.hpp"

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
        throw InputError(m.profile, "no target '" + t + "' for model " + m.name +
                                        " (targets: " + names + ")");
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
    << m.source << YAML::Key << "configs" << YAML::Value << m.configs << YAML::Key << "groups"
    << YAML::Value << YAML::BeginSeq;
  for (const Group& g : m.groups) {
    e << YAML::BeginMap << YAML::Key << "model" << YAML::Value << g.model << YAML::Key << "target"
      << YAML::Value << g.target << YAML::Key << "unit" << YAML::Value << g.unit << YAML::Key
      << "score_order" << YAML::Value << g.score_order << YAML::Key << "dump" << YAML::Value
      << g.dump << YAML::Key << "profile" << YAML::Value << g.profile << YAML::Key << "exit_names"
      << YAML::Value << YAML::Flow << g.exit_names << YAML::Key << "inputs" << YAML::Value
      << YAML::BeginSeq;
    for (const auto& s : g.inputs) e << s;
    e << YAML::EndSeq;
    if (!g.calibrated.empty()) {
      std::vector<std::string> t;
      for (double v : g.temperatures) t.push_back(FormatDouble(v));  // exact round trip
      e << YAML::Key << "temperatures" << YAML::Value << YAML::Flow << t << YAML::Key
        << "calibrated" << YAML::Value << YAML::Flow << g.calibrated;
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

Manifest ManifestFromFile(const std::string& path) {
  Manifest m;
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (root["schema"].as<std::string>() != "exitplan-sweep-manifest/1") {
      throw InputError(path, "not an exitplan sweep manifest");
    }
    m.sweep = root["sweep"].as<std::string>();
    m.source = root["source"].as<std::string>();
    m.configs = root["configs"].as<bool>();
    for (const auto& g : root["groups"]) {
      Group gr;
      gr.model = g["model"].as<std::string>();
      gr.target = g["target"].as<std::string>();
      gr.unit = g["unit"].as<std::string>();
      gr.score_order = g["score_order"].as<std::string>();
      gr.dump = g["dump"].as<std::string>();
      gr.profile = g["profile"].as<std::string>();
      gr.exit_names = g["exit_names"].as<std::vector<std::string>>();
      gr.inputs = g["inputs"].as<std::vector<std::string>>();
      if (g["calibrated"]) {
        gr.calibrated = g["calibrated"].as<std::vector<std::string>>();
        for (const auto& t : g["temperatures"]) {
          gr.temperatures.push_back(ParseDoubleList(t.as<std::string>(), path + " temperatures")[0]);
        }
      }
      m.groups.push_back(gr);
    }
    for (const auto& c : root["cells"]) {
      m.cells.push_back({c[0].as<std::string>(), c[1].as<int>()});
    }
  } catch (const YAML::BadFile&) {
    throw InputError(path, "missing: not the output directory of an exitplan sweep");
  } catch (const YAML::Exception& e) {
    throw InputError(path, std::string("malformed sweep manifest: ") + e.what());
  }
  return m;
}

std::string CellPath(const std::string& out, const std::string& hash) {
  return out + "/cells/" + hash + ".csv";
}

// A finished cell result, or nullopt when absent, unreadable or an "error" to retry.
std::optional<ResultRow> ReadCell(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  try {
    std::vector<ResultRow> rows = ResultsFromCsv(ReadFile(path), path);
    if (rows.size() != 1) return std::nullopt;
    return rows[0];
  } catch (const InputError&) {
    return std::nullopt;
  }
}

bool Failed(const ResultRow& r) { return !r.has_solution(); }

std::string Describe(const ResultRow& r) {
  return r.model + "/" + r.target + " " + r.method + " " + r.measure + " budget " +
         FormatDouble(r.budget);
}

// A run killed while writing a cell leaves "<hash>.csv.tmp.<pid>" behind (WriteFileAtomic); the
// final names are never half-written. Removes those whose process is gone (on this host: a live
// shard sharing the directory keeps its files).
void RemoveStaleTemporaries(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const auto at = name.rfind(".tmp.");
    if (at == std::string::npos) continue;
    const std::string pid_text = name.substr(at + 5);
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::stol(pid_text);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      fs::remove(e.path(), ec);
    }
  }
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
          for (double b : spec.budgets.values) {
            SweepCell c;
            c.index = static_cast<int>(cells.size());
            c.model = static_cast<int>(mi);
            c.method = static_cast<int>(me);
            c.target = TargetName(p);
            c.measure = measure;
            c.budget_value = b;
            c.budget = spec.budgets.relative ? b * full : b;
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
