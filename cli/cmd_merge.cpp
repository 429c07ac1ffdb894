// exitplan merge DIR...: join the outputs of the shards of one sweep into the report a single
// run gives.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/option_flags.hpp"
#include "dse/sweep.hpp"

namespace exitplan::cli {
namespace {

struct MergeArgs {
  std::vector<std::string> dirs;
  RegistryFlags flags;
};

int Run(const MergeArgs& a) {
  const OptionValues v = a.flags.Values();
  const std::string out = v.Has("out") ? v.Text("out") : a.dirs.front();
  const SweepSummary s = MergeSweeps(a.dirs, out, CommandLine());
  std::printf("merged %zu directories: %d cells, %d failed\n", a.dirs.size(), s.cells_total,
              s.cells_failed);
  std::printf("reports: %s/reports/\nsummary: %s/summary.md\n", out.c_str(), out.c_str());
  return s.cells_failed ? kExitSolverFailure : kExitOk;
}

}  // namespace

void RegisterMerge(CLI::App& root, std::vector<Command>& out) {
  auto a = std::make_shared<MergeArgs>();
  CLI::App* app = root.add_subcommand(
      "merge",
      "join the output directories of the shards of one sweep (exitplan sweep --shard) "
      "and write the reports");
  app->add_option("dirs", a->dirs, "shard output directories")->required();
  a->flags.Add(*app, "merge");
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
