// exitplan export --from REPORT.csv (--row N | --budget B --method M [--measure X]): the
// deployment config of one report row, or of the row group's policy solved at B, as YAML or JSON
// (by the extension of --out), for include/exitplan/runtime.hpp. The work is dse/export_run.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/option_flags.hpp"
#include "dse/export_run.hpp"

namespace exitplan::cli {
namespace {

struct ExportArgs {
  RegistryFlags flags;
};

int Run(const ExportArgs& args) {
  const OptionValues v = args.flags.Values();
  const ExportResult r = PlanExport(v, CommandLine());
  if (r.files.empty()) {
    const std::string text = ExportText(r);
    std::fputs(text.c_str(), stdout);
    std::fprintf(stderr, "exported %s of %s\n", r.chosen.c_str(), v.Text("from").c_str());
    return kExitOk;
  }
  WriteExport(r);
  if (r.files.size() == 2) {
    std::printf("wrote %s and %s: %s\n", r.files[0].first.c_str(), r.files[1].first.c_str(),
                r.chosen.c_str());
  } else {
    std::printf("wrote %s (%s): %s\n", r.files[0].first.c_str(), r.format.c_str(),
                r.chosen.c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterExport(CLI::App& root, std::vector<Command>& out) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* app = root.add_subcommand(
      "export",
      "write the deployment config (YAML or JSON) of one row of a Pareto report, or of "
      "its method solved at another budget");
  a->flags.Add(*app, "export", {"from"});
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
