// exitplan export --from REPORT.csv (--row N | --budget B --method M): the deployment config of
// one report row, as YAML (default) or JSON, for include/exitplan/runtime.hpp.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.hpp"
#include "cli/option_flags.hpp"
#include "dse/config.hpp"
#include "dse/sweep.hpp"
#include "profiles/budget.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/profile.hpp"

namespace exitplan::cli {
namespace {

struct ExportArgs {
  RegistryFlags flags;
};

int Run(const ExportArgs& args) {
  const OptionValues v = args.flags.Values();
  struct {
    std::string from, method, measure, format, out, profile, target, score_order;
    int row = 0;
  } a;
  a.from = v.Text("from");
  a.method = v.Text("method");
  a.measure = v.Text("measure");
  a.format = v.Has("format") ? v.Text("format") : "yaml";
  a.out = v.Text("out");
  a.profile = v.Text("profile");
  a.target = v.Text("target");
  a.score_order = v.Has("score_order") ? v.Text("score_order") : "";
  a.row = v.Has("row") ? v.Int("row") : 0;
  if (a.format != "yaml" && a.format != "json" && a.format != "both") {
    throw InputError("--format", "unknown format '" + a.format + "' (expected yaml, json or both)");
  }
  if (a.format == "both" && a.out.empty()) {
    throw InputError("--format both", "needs --out FILE (writes FILE.yaml and FILE.json)");
  }
  const bool by_row = a.row != 0;
  const bool by_budget = v.Has("budget") || !a.method.empty();
  if (by_row == by_budget) {
    throw InputError("exitplan export", "give either --row N or --budget B --method M");
  }
  if (by_budget && (!v.Has("budget") || a.method.empty())) {
    throw InputError("exitplan export", "--budget and --method go together");
  }
  std::vector<Budget> budget_text;
  if (by_budget) {
    budget_text = v.Budgets("budget");
    if (budget_text.size() != 1) throw InputError("--budget", "export takes one budget");
    if (budget_text[0].relative && a.profile.empty()) {
      throw InputError("--budget", "'" + budget_text[0].text + "' is relative to the full cost: "
                                   "give --profile (and --target), or an absolute budget");
    }
  }
  const std::vector<ResultRow> rows = ResultsFromCsv(ReadFile(a.from), a.from);
  int index = -1;
  double budget = 0.0;
  if (by_budget) {
    if (!a.profile.empty()) {
      budget = budget_text[0].Resolve(LoadProfile(a.profile, a.target));
    } else {
      const std::string unit = rows.empty() ? "" : rows.front().unit;
      budget = budget_text[0].Resolve(0.0, unit);
    }
  }
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
      if (r.fit_cost > budget * (1 + 1e-12)) continue;
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
      throw InputError("--budget", FormatDouble(budget) + " is below the fit cost of every " +
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
  a->flags.Add(*app, "export", {"from"});
  out.push_back({app, [a]() { return Run(*a); }});
}

}  // namespace exitplan::cli
