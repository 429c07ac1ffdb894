// exitplan export --from REPORT.csv (--row N | --budget B --method M): the deployment config of
// one report row, as YAML (default) or JSON, for include/exitplan/runtime.hpp.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.hpp"
#include "dse/config.hpp"
#include "dse/sweep.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/profile.hpp"

namespace exitplan::cli {
namespace {

struct ExportArgs {
  std::string from;
  int row = 0;
  double budget = std::nan("");
  std::string method;
  std::string measure;
  std::string format = "yaml";
  std::string out;
  std::string profile;
  std::string target;
  std::string score_order;
};

int Run(const ExportArgs& a) {
  if (a.format != "yaml" && a.format != "json" && a.format != "both") {
    throw InputError("--format", "unknown format '" + a.format + "' (expected yaml, json or both)");
  }
  if (a.format == "both" && a.out.empty()) {
    throw InputError("--format both", "needs --out FILE (writes FILE.yaml and FILE.json)");
  }
  const bool by_row = a.row != 0;
  const bool by_budget = !std::isnan(a.budget) || !a.method.empty();
  if (by_row == by_budget) {
    throw InputError("exitplan export", "give either --row N or --budget B --method M");
  }
  if (by_budget && (std::isnan(a.budget) || a.method.empty())) {
    throw InputError("exitplan export", "--budget and --method go together");
  }
  const std::vector<ResultRow> rows = ResultsFromCsv(ReadFile(a.from), a.from);
  int index = -1;
  if (by_row) {
    if (a.row < 1 || a.row > static_cast<int>(rows.size())) {
      throw InputError("--row", std::to_string(a.row) + " is outside 1.." +
                                    std::to_string(rows.size()) + " (data rows of " + a.from + ")");
    }
    index = a.row - 1;
  } else {
    // The most accurate row (on the fit split) of this method whose fit cost is within B: what
    // a deployment with mean-cost budget B should use. Ties: the lower cost, then the earlier row.
    double best_acc = -INFINITY, best_cost = INFINITY;
    double lowest = INFINITY;
    bool method_seen = false;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const ResultRow& r = rows[i];
      if (r.method != a.method || (!a.measure.empty() && r.measure != a.measure)) continue;
      method_seen = true;
      if (!r.has_solution()) continue;
      lowest = std::min(lowest, r.fit_cost);
      if (r.fit_cost > a.budget * (1 + 1e-12)) continue;
      if (r.fit_acc > best_acc || (r.fit_acc == best_acc && r.fit_cost < best_cost)) {
        best_acc = r.fit_acc;
        best_cost = r.fit_cost;
        index = static_cast<int>(i);
      }
    }
    if (!method_seen) {
      throw InputError("--method", "no row of method '" + a.method +
                                       (a.measure.empty() ? "" : "' with measure '" + a.measure) +
                                       "' in " + a.from);
    }
    if (index < 0) {
      throw InputError("--budget", FormatDouble(a.budget) + " is below the fit cost of every " +
                                       "solved row of " + a.method + " in " + a.from +
                                       " (lowest " + FormatDouble(lowest) + ")");
    }
  }
  const ResultRow& row = rows[index];
  ConfigContext ctx;
  ctx.command_line = CommandLine();
  ctx.report = a.from;
  ctx.row = index + 1;
  if (!SweepReportContext(a.from, row, ctx)) {
    ctx.inputs = {std::filesystem::path(a.from).filename().string() + " " + Sha256File(a.from)};
  }
  if (!a.profile.empty()) {
    const CostProfile p = LoadProfile(a.profile, a.target);
    ctx.exit_names = p.names;
  }
  if (!a.score_order.empty()) {
    ctx.score_order = ToString(ScoreOrderFromString(a.score_order));
  }
  const DeployConfig c = ConfigFromRow(row, ctx);
  if (a.out.empty()) {
    std::fputs((a.format == "json" ? ConfigToJson(c) : ConfigToYaml(c)).c_str(), stdout);
    return kExitOk;
  }
  if (a.format == "both") {
    OutputSet both;  // both files or neither
    both.Add(a.out + ".yaml", ConfigToYaml(c));
    both.Add(a.out + ".json", ConfigToJson(c));
    both.Commit();
    std::printf("wrote %s.yaml and %s.json (row %d: %s %s, budget %s)\n", a.out.c_str(),
                a.out.c_str(), index + 1, row.method.c_str(), row.measure.c_str(),
                FormatDouble(row.budget).c_str());
  } else {
    WriteFileAtomic(a.out, a.format == "json" ? ConfigToJson(c) : ConfigToYaml(c));
    std::printf("wrote %s (row %d: %s %s, budget %s)\n", a.out.c_str(), index + 1,
                row.method.c_str(), row.measure.c_str(), FormatDouble(row.budget).c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterExport(CLI::App& root, std::vector<Command>& out) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* app = root.add_subcommand(
      "export", "write the deployment config (YAML or JSON) of one row of a Pareto report");
  app->add_option("--from", a->from, "a report CSV (exitplan sweep's reports/*.csv)")->required();
  app->add_option("--row", a->row, "1-based data row of the CSV");
  app->add_option("--budget", a->budget,
                  "with --method: the most accurate row (fit split) whose fit cost is <= B (absolute, in "
                  "the CSV's unit)");
  app->add_option("--method", a->method, "method column of the row (with --budget)");
  app->add_option("--measure", a->measure, "measure column, when the method has several");
  app->add_option("--format", a->format, "yaml, json or both")->capture_default_str();
  app->add_option("-o,--out", a->out, "file to write (default: stdout)");
  app->add_option("--profile", a->profile,
                  "cost profile for exit names (default: from the sweep's manifest)");
  app->add_option("--target", a->target, "target of --profile");
  app->add_option("--score-order", a->score_order,
                  "order of the `confidence` measure (default: from the sweep's manifest)");
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
