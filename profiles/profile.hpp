// Cost profiles: per-exit costs of one model on one target (docs/formats.md).
//
//   unit: ms                       # ms | us | s | flops | mflops | gflops | mj | relative
//   target: cpu-1thread            # free text
//   exits:                         # backbone: cumulative cost up to the exit's attachment point
//     - {name: b1, backbone: 0.21, head: 0.03}   # head: this exit's head alone
//   # or, when measured costs already include every earlier head:
//   cumulative: [c1, ..., cK]
//
// A file may hold several targets under `targets: {name: {unit:, exits:|cumulative:}}`.
// Cost of stopping at exit k under kept set S = backbone(k) + sum of head(j), j in S, j <= k.
#pragma once

#include <string>
#include <vector>

namespace exitplan {

class CostProfile {
 public:
  std::string source;              // file it came from
  std::string target;              // e.g. "cpu-1thread"
  std::string unit;                // one of KnownUnits()
  std::vector<std::string> names;  // per exit, shallow to deep
  std::vector<double> backbone;    // per exit, cumulative up to the attachment point
  std::vector<double> head;        // per exit; all 0 for a cumulative profile
  bool has_heads = true;           // false for `cumulative:` profiles (heads already inside)

  int k() const { return static_cast<int>(backbone.size()); }
  // Cost of stopping at each exit k (size K) when `kept` (0-based, ascending) are the kept exits.
  // Exits outside `kept` get the cost they would have if they were kept as well.
  std::vector<double> StopCosts(const std::vector<int>& kept) const;
  // Stop costs with every exit kept.
  std::vector<double> StopCostsAllKept() const;
  // The reference for relative budgets: always running to exit K with every exit kept
  // (backbone(K) + all heads; cumulative(K) for a cumulative profile).
  double FullCost() const;
  // Running to exit K with only exit K's head: the network without early exits.
  double BackboneOnlyCost() const { return backbone.back() + head.back(); }
};

std::vector<std::string> KnownUnits();

// Reads every target in a profile file. Throws InputError naming the file, the YAML line and the
// key on unknown or duplicate keys, unknown units, negative or decreasing costs.
std::vector<CostProfile> LoadProfiles(const std::string& path);
// The same from YAML text; `source` names it in messages (for tests and fuzzing).
std::vector<CostProfile> ParseProfiles(const std::string& yaml_text, const std::string& source);
// Reads one target (`target` empty: the file must hold exactly one).
CostProfile LoadProfile(const std::string& path, const std::string& target = "");
// Throws InputError when the profile's K differs from the dump's.
void CheckProfileMatches(const CostProfile& profile, int k, const std::string& dump_source);

// Kept-exit lists: parse "1,3,5" (1-based, as users count exits) into 0-based ascending indices,
// adding the final exit K if absent. Throws InputError on out-of-range or repeated exits.
std::vector<int> ParseKeptExits(const std::string& text, int k);
std::vector<int> AllExits(int k);

}  // namespace exitplan
