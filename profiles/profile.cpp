#include "profiles/profile.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "profiles/error.hpp"
#include "profiles/types.hpp"
#include "profiles/yaml_check.hpp"

namespace exitplan {
namespace {

const std::vector<std::string> kUnits = {"ms",     "us",     "s",  "flops",
                                         "mflops", "gflops", "mj", "relative"};

double Number(const std::string& path, const YAML::Node& node, const std::string& what) {
  const double v = YamlDouble(path, node, what);
  if (v < 0) {
    throw InputError(YamlWhere(path, node),
                     what + " = " + FormatDouble(v) + ": costs must be >= 0");
  }
  return v;
}

CostProfile ParseTarget(const std::string& path, const YAML::Node& node, const std::string& name) {
  CheckYamlKeys(path, node, {"unit", "target", "exits", "cumulative"},
                name.empty() ? "the profile" : "target '" + name + "'");
  CostProfile p;
  p.source = path;
  p.target = name;
  if (node["target"]) p.target = YamlString(path, node["target"], "target");
  if (p.target.empty()) p.target = "default";
  if (!node["unit"]) throw InputError(YamlWhere(path, node), "missing key 'unit'");
  p.unit = YamlString(path, node["unit"], "unit");
  if (std::find(kUnits.begin(), kUnits.end(), p.unit) == kUnits.end()) {
    throw InputError(YamlWhere(path, node["unit"]),
                     "unknown unit '" + p.unit +
                         "' (expected ms, us, s, flops, mflops, gflops, mj or relative)");
  }
  const bool has_exits = static_cast<bool>(node["exits"]);
  const bool has_cum = static_cast<bool>(node["cumulative"]);
  if (has_exits == has_cum) {
    throw InputError(YamlWhere(path, node), "expected exactly one of 'exits' or 'cumulative'");
  }
  if (has_cum) {
    const YAML::Node cum = node["cumulative"];
    if (!cum.IsSequence() || cum.size() == 0) {
      throw InputError(YamlWhere(path, cum), "cumulative: expected a non-empty list of costs");
    }
    p.has_heads = false;
    for (std::size_t i = 0; i < cum.size(); ++i) {
      p.backbone.push_back(Number(path, cum[i], "cumulative[" + std::to_string(i) + "]"));
      p.head.push_back(0.0);
      p.names.push_back(i + 1 == cum.size() ? "final" : "exit" + std::to_string(i + 1));
    }
  } else {
    const YAML::Node exits = node["exits"];
    if (!exits.IsSequence() || exits.size() == 0) {
      throw InputError(YamlWhere(path, exits), "exits: expected a non-empty list");
    }
    for (std::size_t i = 0; i < exits.size(); ++i) {
      const YAML::Node e = exits[i];
      const std::string ctx = "exits[" + std::to_string(i) + "]";
      CheckYamlKeys(path, e, {"name", "backbone", "head"}, ctx);
      if (!e["backbone"]) throw InputError(YamlWhere(path, e), ctx + ": missing key 'backbone'");
      p.names.push_back(e["name"] ? YamlString(path, e["name"], ctx + ".name")
                                  : "exit" + std::to_string(i + 1));
      p.backbone.push_back(Number(path, e["backbone"], ctx + ".backbone"));
      p.head.push_back(e["head"] ? Number(path, e["head"], ctx + ".head") : 0.0);
    }
  }
  for (std::size_t i = 1; i < p.backbone.size(); ++i) {
    if (p.backbone[i] < p.backbone[i - 1]) {
      const YAML::Node at = has_cum ? node["cumulative"][i] : node["exits"][i];
      throw InputError(YamlWhere(path, at), std::string(has_cum ? "cumulative" : "backbone") +
                                                " costs decrease at exit " + std::to_string(i + 1) +
                                                " (" + FormatDouble(p.backbone[i - 1]) + " then " +
                                                FormatDouble(p.backbone[i]) +
                                                "): cumulative costs must be non-decreasing");
    }
  }
  // Costs must give a positive, finite reference: relative budgets are fractions of it, and mean
  // costs sum a cost per sample (a limit of 1e250 keeps sums over 10^50 samples finite).
  const double full = p.FullCost();
  const YAML::Node at = has_cum ? node["cumulative"] : node["exits"];
  if (!(full <= 1e250)) {
    throw InputError(YamlWhere(path, at), "the cost of running every exit is " +
                                              FormatDouble(full) +
                                              "; costs above 1e250 are refused (sums over samples "
                                              "would overflow)");
  }
  if (full <= 0) {
    throw InputError(YamlWhere(path, at),
                     "every cost is 0: the cost of running to the final exit must be positive");
  }
  return p;
}

}  // namespace

std::vector<std::string> KnownUnits() { return kUnits; }

std::vector<double> CostProfile::StopCosts(const std::vector<int>& kept) const {
  std::vector<double> cost(backbone.size());
  std::vector<char> is_kept(backbone.size(), 0);
  for (int j : kept) is_kept[j] = 1;
  double heads = 0.0;
  for (std::size_t j = 0; j < backbone.size(); ++j) {
    if (is_kept[j]) {
      heads += head[j];
      cost[j] = backbone[j] + heads;
    } else {
      cost[j] = backbone[j] + heads + head[j];
    }
  }
  return cost;
}

std::vector<double> CostProfile::StopCostsAllKept() const { return StopCosts(AllExits(k())); }

double CostProfile::FullCost() const { return StopCostsAllKept().back(); }

namespace {
std::vector<CostProfile> ProfilesFromYaml(const YAML::Node& root, const std::string& path);
}  // namespace

std::vector<CostProfile> LoadProfiles(const std::string& path) {
  return ProfilesFromYaml(LoadYamlFile(path, "no such profile file"), path);
}

std::vector<CostProfile> ParseProfiles(const std::string& yaml_text, const std::string& source) {
  return ProfilesFromYaml(LoadYamlText(yaml_text, source), source);
}

namespace {
std::vector<CostProfile> ProfilesFromYaml(const YAML::Node& root, const std::string& path) {
  if (!root.IsMap()) throw InputError(path, "expected a YAML mapping (unit and exits, or targets)");
  std::vector<CostProfile> out;
  if (root["targets"]) {
    CheckYamlKeys(path, root, {"targets"}, "the profile");
    const YAML::Node targets = root["targets"];
    if (!targets.IsMap() || targets.size() == 0) {
      throw InputError(YamlWhere(path, targets), "targets: expected a mapping of target names");
    }
    std::set<std::string> seen;
    for (const auto& kv : targets) {
      const std::string name = YamlKey(path, kv.first, "targets");
      if (!seen.insert(name).second) {
        throw InputError(YamlWhere(path, kv.first), "duplicate target '" + name + "'");
      }
      out.push_back(ParseTarget(path, kv.second, name));
      out.back().target = name;
    }
  } else {
    out.push_back(ParseTarget(path, root, ""));
  }
  return out;
}
}  // namespace

CostProfile LoadProfile(const std::string& path, const std::string& target) {
  std::vector<CostProfile> all = LoadProfiles(path);
  if (target.empty()) {
    if (all.size() == 1) return all.front();
    std::string names;
    for (const auto& p : all) names += (names.empty() ? "" : ", ") + p.target;
    throw InputError(path, "holds several targets (" + names + "): choose one with --target");
  }
  for (const auto& p : all) {
    if (p.target == target) return p;
  }
  std::string names;
  for (const auto& p : all) names += (names.empty() ? "" : ", ") + p.target;
  throw InputError(path, "no target '" + target + "' (it has: " + names + ")");
}

void CheckProfileMatches(const CostProfile& profile, int k, const std::string& dump_source) {
  if (profile.k() != k) {
    throw InputError(profile.source, "has " + std::to_string(profile.k()) +
                                         " exits, but the dump " + dump_source +
                                         " has K = " + std::to_string(k));
  }
}

std::vector<int> AllExits(int k) {
  std::vector<int> all(k);
  for (int j = 0; j < k; ++j) all[j] = j;
  return all;
}

std::vector<int> ParseKeptExits(const std::string& text, int k) {
  std::vector<int> one_based = ParseIntList(text, "--exits");
  std::vector<int> kept;
  for (int e : one_based) {
    if (e < 1 || e > k) {
      throw InputError("--exits",
                       "exit " + std::to_string(e) + " is out of range 1.." + std::to_string(k));
    }
    kept.push_back(e - 1);
  }
  if (std::adjacent_find(kept.begin(), kept.end()) != kept.end() ||
      std::set<int>(kept.begin(), kept.end()).size() != kept.size()) {
    throw InputError("--exits", "an exit is listed twice in '" + text + "'");
  }
  // Refused rather than sorted: thresholds are given in the order of the kept exits, and a
  // silent sort would pair them with the wrong exits.
  if (!std::is_sorted(kept.begin(), kept.end())) {
    throw InputError("--exits", "'" + text +
                                    "': list the exits in ascending order (and any "
                                    "thresholds in the same order)");
  }
  if (kept.back() != k - 1) kept.push_back(k - 1);
  return kept;
}

}  // namespace exitplan
