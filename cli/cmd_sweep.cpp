// exitplan sweep FILE.yaml: run a YAML experiment (models x targets x methods x budgets) on a
// thread pool, resumable and shardable; writes Pareto CSVs, plots, a summary and configs.
#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/option_flags.hpp"
#include "dse/sweep.hpp"
#include "profiles/budget.hpp"
#include "profiles/error.hpp"
#include "profiles/profile.hpp"
#include "profiles/progress.hpp"

namespace exitplan::cli {
namespace {

struct SweepArgs {
  std::string file;
  RegistryFlags flags;
  int abort_after = -1;
};

int Run(const SweepArgs& a) {
  const OptionValues v = a.flags.Values();
  SweepOptions o;
  o.jobs = v.Int("jobs");
  internal::ParseShard(v.Text("shard"), o.shard_index, o.shard_count);
  o.force = v.Bool("force");
  o.abort_after = a.abort_after;
  Progress progress(StderrProgress("exitplan sweep", v.Bool("quiet")));
  o.progress = &progress;
  o.command_line = CommandLine();
  if (const std::string bad = o.Validate(); !bad.empty()) throw InputError("exitplan sweep", bad);
  SweepSpec spec = LoadSweepSpec(a.file);
  if (v.Has("out")) spec.output = v.Text("out");  // the command line over the sweep file
  // The reference of the relative budgets, per model and target, printed with the summary (on
  // stdout: a failing run stays one line on stderr).
  std::vector<std::string> full_costs;
  for (const SweepModel& m : spec.models) {
    for (const CostProfile& p : LoadProfiles(m.profile)) {
      if (!m.targets.empty() &&
          std::find(m.targets.begin(), m.targets.end(), p.target) == m.targets.end()) {
        continue;
      }
      full_costs.push_back(m.name + " / " + p.target + ": " + FullCostLine(p));
    }
  }
  const SweepSummary s = RunSweep(spec, o);
  progress.Finish();
  std::printf("%s\n", s.BriefReport().c_str());
  if (!v.Bool("quiet")) {  // information, not a result: -q drops it as every command does
    for (const std::string& line : full_costs) std::printf("%s\n", line.c_str());
  }
  const std::size_t shown =
      v.Bool("verbose") ? s.errors.size() : std::min<std::size_t>(s.errors.size(), 20);
  for (std::size_t i = 0; i < shown; ++i) std::printf("  failed: %s\n", s.errors[i].c_str());
  if (s.errors.size() > shown) {
    std::printf("  ... and %zu more failed cells (-v lists them all)\n", s.errors.size() - shown);
  }
  if (s.complete) {
    std::printf("reports: %s/reports/ (Pareto CSV + SVG plot per model/target)\n",
                spec.output.c_str());
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
      "sweep",
      "run a YAML experiment file: every model x target x method x measure x budget "
      "cell, resumable (finished cells are skipped), shardable; writes reports");
  app->add_option("file", a->file, "the sweep file (docs/sweeps.md)")->required();
  a->flags.Add(*app, "sweep");
  app->add_option("--abort-after", a->abort_after,
                  "testing only: exit abruptly (status 137) after writing this many cells")
      ->group("");
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
