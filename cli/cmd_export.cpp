// exitplan export --from REPORT.csv (--row N | --budget B --method M [--measure X]): the
// deployment config of one report row, as YAML or JSON (by the extension of --out), for
// include/exitplan/runtime.hpp.
#include <algorithm>
#include <cctype>
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

// The command's values, read once from the registry's flags.
struct Args {
  std::string from, method, measure, format, out, profile, target, score_order;
  int row = -1;
  double budget = std::nan("");  // absolute, resolved
  bool allow_over_budget = false;
};

std::string Lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// "json", "yaml" or "" for the extension of `path`.
std::string FormatOfExtension(const std::string& path) {
  const std::string ext = Lower(std::filesystem::path(path).extension().string());
  if (ext == ".json") return "json";
  if (ext == ".yaml" || ext == ".yml") return "yaml";
  return "";
}

std::string Describe(const ResultRow& r, int index) {
  return "row " + std::to_string(index) + " (" + r.method + " " + r.measure + ", budget " +
         FormatDouble(r.budget) + ", fit cost " + FormatDouble(r.fit_cost) + ", fit accuracy " +
         FormatDouble(r.fit_acc) + ")";
}

// The rows of the method (and measure) in `rows`; throws when there are none, or when the
// method has several measures and none was given.
std::vector<int> MethodRows(const std::vector<ResultRow>& rows, const Args& a) {
  std::vector<int> idx;
  std::vector<std::string> measures;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].method != a.method) continue;
    if (std::find(measures.begin(), measures.end(), rows[i].measure) == measures.end()) {
      measures.push_back(rows[i].measure);
    }
    if (!a.measure.empty() && rows[i].measure != a.measure) continue;
    idx.push_back(static_cast<int>(i));
  }
  std::string list;
  for (const auto& m : measures) list += (list.empty() ? "" : ", ") + m;
  if (measures.empty()) {
    throw InputError("--method", "no row of method '" + a.method + "' in " + a.from);
  }
  if (a.measure.empty() && measures.size() > 1) {
    throw InputError("--measure", "method '" + a.method + "' has rows with several measures in " +
                                      a.from + " (" + list + "): give --measure");
  }
  if (idx.empty()) {
    throw InputError("--measure", "no row of method '" + a.method + "' with measure '" +
                                      a.measure + "' in " + a.from + " (measures: " + list + ")");
  }
  return idx;
}

// The row solved at budget B: a row of the method (and measure) whose budget is B. A report holds
// answers at its own budgets only, so any other B is refused, naming the rows with the nearest
// budgets (solving at B needs the dump: exitplan thresholds, place or a sweep at B).
int RowAtBudget(const std::vector<ResultRow>& rows, const Args& a) {
  const std::vector<int> idx = MethodRows(rows, a);
  for (int i : idx) {
    if (std::fabs(rows[i].budget - a.budget) <= 1e-9 * std::fabs(a.budget)) return i;
  }
  std::vector<int> near = idx;
  std::sort(near.begin(), near.end(), [&](int x, int y) {
    const double dx = std::isnan(rows[x].budget) ? INFINITY : std::fabs(rows[x].budget - a.budget);
    const double dy = std::isnan(rows[y].budget) ? INFINITY : std::fabs(rows[y].budget - a.budget);
    return dx != dy ? dx < dy : x < y;
  });
  std::string list;
  for (std::size_t q = 0; q < near.size() && q < 3; ++q) {
    list += (q ? "; " : "") + Describe(rows[near[q]], near[q]);
  }
  throw InputError("--budget", "no row of " + a.method +
                                   (a.measure.empty() ? "" : " " + a.measure) + " was solved at " +
                                   FormatDouble(a.budget) + " in " + a.from + "; nearest: " + list +
                                   ". Give one of these budgets or --row N, or solve at " +
                                   FormatDouble(a.budget) + " with exitplan thresholds or a sweep");
}

int Run(const ExportArgs& args) {
  const OptionValues v = args.flags.Values();
  Args a;
  a.from = v.Text("from");
  a.method = v.Text("method");
  a.measure = v.Text("measure");
  a.format = v.Has("format") ? v.Text("format") : "";  // empty: from the extension of --out
  a.out = v.Text("out");
  a.profile = v.Text("profile");
  a.target = v.Text("target");
  a.score_order = v.Has("score_order") ? v.Text("score_order") : "";
  a.row = v.Has("row") ? v.Int("row") : -1;
  a.allow_over_budget = v.Bool("allow_over_budget");
  if (!a.format.empty() && a.format != "yaml" && a.format != "json" && a.format != "both") {
    throw InputError("--format", "unknown format '" + a.format + "' (expected yaml, json or both)");
  }
  // The format follows the extension of --out; --format must agree with it.
  const std::string ext_format = a.out.empty() ? "" : FormatOfExtension(a.out);
  std::string format = a.format;
  if (format.empty()) format = ext_format.empty() ? "yaml" : ext_format;
  if ((format == "yaml" || format == "json") && !ext_format.empty() && ext_format != format) {
    throw InputError("--format", format + " does not match the extension of --out " + a.out +
                                     " (" + ext_format + ")");
  }
  if (format == "both" && a.out.empty()) {
    throw InputError("--format both", "needs --out FILE (writes FILE.yaml and FILE.json)");
  }
  const bool by_row = a.row >= 0;
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
  if (by_budget) {
    if (!a.profile.empty()) {
      a.budget = budget_text[0].Resolve(LoadProfile(a.profile, a.target));
    } else {
      const std::string unit = rows.empty() ? "" : rows.front().unit;
      a.budget = budget_text[0].Resolve(0.0, unit);
    }
  }
  int index = -1;
  if (by_row) {
    if (a.row >= static_cast<int>(rows.size())) {
      throw InputError("--row", std::to_string(a.row) + " is outside 0.." +
                                    std::to_string(static_cast<int>(rows.size()) - 1) +
                                    " (0-based data rows of " + a.from + ", as pandas numbers them)");
    }
    index = a.row;
  } else {
    index = RowAtBudget(rows, a);
  }
  const ResultRow& row = rows[index];
  if (row.has_policy() && !row.has_solution() && !a.allow_over_budget) {
    throw InputError(a.from + " " + Describe(row, index),
                     "is over its budget (fit cost / budget = " +
                         FormatDouble(row.budget_fraction()) +
                         "): not deployable at that budget; --allow-over-budget exports it anyway");
  }
  ConfigContext ctx;
  ctx.command_line = CommandLine();
  ctx.report = a.from;
  ctx.row = index;
  ctx.allow_over_budget = a.allow_over_budget;
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
  const std::string chosen = Describe(row, index);
  if (a.out.empty()) {
    std::fputs((format == "json" ? ConfigToJson(c) : ConfigToYaml(c)).c_str(), stdout);
    std::fprintf(stderr, "exported %s of %s\n", chosen.c_str(), a.from.c_str());
    return kExitOk;
  }
  if (format == "both") {
    // y.json, y.yaml or y: the stem gets both extensions (never y.json.yaml).
    const std::string stem = ext_format.empty()
                                 ? a.out
                                 : (std::filesystem::path(a.out).parent_path() /
                                    std::filesystem::path(a.out).stem())
                                       .string();
    OutputSet both;  // both files or neither
    both.Add(stem + ".yaml", ConfigToYaml(c));
    both.Add(stem + ".json", ConfigToJson(c));
    both.Commit();
    std::printf("wrote %s.yaml and %s.json: %s\n", stem.c_str(), stem.c_str(), chosen.c_str());
  } else {
    WriteFileAtomic(a.out, format == "json" ? ConfigToJson(c) : ConfigToYaml(c));
    std::printf("wrote %s (%s): %s\n", a.out.c_str(), format.c_str(), chosen.c_str());
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
