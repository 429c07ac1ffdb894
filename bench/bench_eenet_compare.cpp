// The Ilhan et al. 2023 Table 1-style comparison on ../shared/data/fmnist-resnet8 (skipped when
// absent) and on data/example: eval accuracy of every method at budgets spread between the
// cheapest and the full cost, as a Markdown table, plus one CSV-like line per row.
//   build/bench/bench_eenet_compare [dump profile [fractions]]
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "exitplan_paths.hpp"
#include "optim/eenet_compare.hpp"
#include "profiles/dump.hpp"
#include "profiles/profile.hpp"
#include "profiles/types.hpp"

using namespace exitplan;

namespace {

void Print(const ComparisonRow& r) {
  std::printf("  %-22s B=%-9.5g fit %.4f @ %-9.5g eval %.4f @ %-9.5g %6.2fs %s\n", r.method.c_str(),
              r.budget, r.fit.accuracy, r.fit.mean_cost, r.eval.accuracy, r.eval.mean_cost,
              r.seconds,
              r.available ? (r.within_budget() ? "" : "OVER BUDGET") : r.message.c_str());
  std::fflush(stdout);
}

void Run(const std::string& dir, const std::string& profile_path, const std::string& target,
         const std::vector<double>& fractions) {
  if (!std::filesystem::exists(dir)) {
    std::printf("SKIP: %s is absent\n", dir.c_str());
    return;
  }
  const Dump dump = LoadDump(dir);
  const CostProfile profile = LoadProfile(profile_path, target);
  ComparisonOptions opt;
  if (!fractions.empty()) opt.budget_fractions = fractions;
  std::printf("== %s (%s, full cost %.6g %s)\n", dir.c_str(), profile_path.c_str(),
              profile.FullCost(), profile.unit.c_str());
  const auto rows = CompareExitPolicies(dump, profile, opt, &Print);
  std::printf("\n%s\n", ComparisonMarkdown(rows, profile.unit).c_str());
  // The bar of within budget on the fit split, and eval accuracy at least that of the
  // published EENet code at the same budget (reference/published-eenet-code.csv, when present).
  std::ifstream ref(dir + "/reference/published-eenet-code.csv");
  std::string line;
  std::getline(ref, line);  // header
  while (std::getline(ref, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    if (f.size() < 9 || f[2] != "eenet") continue;
    const double frac = std::stod(f[8]), pub_eval = std::stod(f[5]);
    for (const ComparisonRow& r : rows) {
      if (r.method != "eenet" || std::abs(r.budget_fraction - frac) > 1e-6) continue;
      std::printf(
          "bar at %.2f of full cost: within budget on fit: %s (%.5g <= %.5g); eval %.4f vs "
          "published code %.4f: %s\n",
          frac, r.within_budget() ? "yes" : "NO", r.fit.mean_cost, r.budget, r.eval.accuracy,
          pub_eval, r.eval.accuracy >= pub_eval ? "ok" : "BELOW");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3) {
    std::vector<double> fr;
    if (argc >= 4) fr = ParseDoubleList(argv[3], "fractions");
    Run(argv[1], argv[2], argc >= 5 ? argv[4] : "", fr);
    return 0;
  }
  const std::string shared = std::string(EXITPLAN_SHARED_DIR) + "/data/fmnist-resnet8";
  Run(shared, shared + "/profile-ms.yaml", "", {});
  const std::string ex = std::string(EXITPLAN_SOURCE_DIR) + "/data/example";
  Run(ex, ex + "/profile.yaml", "cpu-1thread", {});
  return 0;
}
