// exitplan merge DIR...: join the outputs of the shards of one sweep into the report a single
// run gives.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "dse/sweep.hpp"

namespace exitplan::cli {
namespace {

struct MergeArgs {
  std::vector<std::string> dirs;
  std::string output;
};

int Run(const MergeArgs& a) {
  const std::string out = a.output.empty() ? a.dirs.front() : a.output;
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
      "merge", "join the output directories of the shards of one sweep (exitplan sweep --shard) "
               "and write the reports");
  app->add_option("dirs", a->dirs, "shard output directories")->required();
  app->add_option("-o,--output", a->output, "where to write (default: the first directory)");
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
