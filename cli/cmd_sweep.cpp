// exitplan sweep FILE.yaml: run a YAML experiment (models x targets x methods x budgets) on a
// thread pool, resumable and shardable; writes Pareto CSVs, plots, a summary and configs.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "dse/sweep.hpp"
#include "profiles/error.hpp"

namespace exitplan::cli {
namespace {

struct SweepArgs {
  std::string file;
  int jobs = 0;
  std::string shard = "1/1";
  std::string output;
  bool force = false;
  bool quiet = false;
  int abort_after = -1;
};

int Run(const SweepArgs& a) {
  SweepOptions o;
  o.jobs = a.jobs;
  internal::ParseShard(a.shard, o.shard_index, o.shard_count);
  o.force = a.force;
  o.abort_after = a.abort_after;
  o.progress = !a.quiet && isatty(STDERR_FILENO);
  o.command_line = CommandLine();
  if (const std::string bad = o.Validate(); !bad.empty()) throw InputError("exitplan sweep", bad);
  SweepSpec spec = LoadSweepSpec(a.file);
  if (!a.output.empty()) spec.output = a.output;
  const SweepSummary s = RunSweep(spec, o);
  std::printf("%s\n", s.BriefReport().c_str());
  const std::size_t shown = std::min<std::size_t>(s.errors.size(), 20);
  for (std::size_t i = 0; i < shown; ++i) std::printf("  failed: %s\n", s.errors[i].c_str());
  if (s.errors.size() > shown) std::printf("  ... and %zu more failed cells\n", s.errors.size() - shown);
  if (s.complete) {
    std::printf("reports: %s/reports/ (Pareto CSV + SVG plot per model/target)\n", spec.output.c_str());
    std::printf("summary: %s/summary.md\n", spec.output.c_str());
    if (spec.configs) std::printf("configs: %s/configs/\n", spec.output.c_str());
  } else {
    std::printf("cells: %s/cells/ (merge the shards with: exitplan merge DIR...)\n",
                spec.output.c_str());
  }
  return s.cells_failed ? kExitSolverFailure : kExitOk;
}

}  // namespace

void RegisterSweep(CLI::App& root, std::vector<Command>& out) {
  auto a = std::make_shared<SweepArgs>();
  CLI::App* app = root.add_subcommand(
      "sweep", "run a YAML experiment file: every model x target x method x measure x budget "
               "cell, resumable (finished cells are skipped), shardable; writes reports");
  app->add_option("file", a->file, "the sweep file (docs/sweeps.md)")->required();
  app->add_option("-j,--jobs", a->jobs, "worker threads (0: all cores)")->capture_default_str();
  app->add_option("--shard", a->shard,
                  "run only share I of N (1 <= I <= N, e.g. $SLURM_ARRAY_TASK_ID/4); join the "
                  "outputs with exitplan merge")
      ->capture_default_str();
  app->add_option("-o,--output", a->output, "output directory (default: the file's output:)");
  app->add_flag("--force", a->force, "recompute every cell even when its result exists");
  app->add_flag("-q,--quiet", a->quiet, "no progress line on stderr");
  app->add_option("--abort-after", a->abort_after,
                  "testing only: exit abruptly (status 137) after writing this many cells")
      ->group("");
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
