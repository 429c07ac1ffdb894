#include "dse/export_run.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <memory>

#include "dse/dump_options.hpp"
#include "dse/internal/sweep_internal.hpp"
#include "dse/sweep.hpp"
#include "optim/calibration.hpp"
#include "optim/solve.hpp"
#include "profiles/budget.hpp"
#include "profiles/error.hpp"
#include "profiles/evaluator.hpp"
#include "profiles/feature_cache.hpp"
#include "profiles/io.hpp"
#include "profiles/profile.hpp"

namespace fs = std::filesystem;

namespace exitplan {
namespace {

using internal::sweep::Group;
using internal::sweep::Manifest;

// The command's values, read once from the registry's.
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
  const std::string ext = Lower(fs::path(path).extension().string());
  if (ext == ".json") return "json";
  if (ext == ".yaml" || ext == ".yml") return "yaml";
  return "";
}

std::string Describe(const ResultRow& r, int index) {
  return "row " + std::to_string(index) + " (" + r.method + " " + r.measure + ", budget " +
         FormatDouble(r.budget) + ", fit cost " + FormatDouble(r.fit_cost) + ", fit accuracy " +
         FormatDouble(r.fit_acc) + ")";
}

// --profile's target: --target, else the report's target column when the profile holds several.
CostProfile ProfileOf(const std::string& path, const std::string& target,
                      const std::vector<ResultRow>& rows) {
  if (!target.empty() || rows.empty()) return LoadProfile(path, target);
  const std::vector<CostProfile> all = LoadProfiles(path);
  if (all.size() > 1) {
    for (const CostProfile& p : all) {
      if (p.target == rows.front().target) return p;
    }
  }
  return LoadProfile(path, target);
}

std::string ExitList(const std::vector<int>& kept) {
  std::string s;
  for (int e : kept) s += (s.empty() ? "" : ",") + std::to_string(e + 1);
  return s;
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
    throw InputError("--measure", "no row of method '" + a.method + "' with measure '" + a.measure +
                                      "' in " + a.from + " (measures: " + list + ")");
  }
  return idx;
}

// The rows of `idx` by distance of their budget to b (rows without a budget last).
std::vector<int> Nearest(const std::vector<ResultRow>& rows, std::vector<int> idx, double b) {
  std::sort(idx.begin(), idx.end(), [&](int x, int y) {
    const double dx = std::isnan(rows[x].budget) ? INFINITY : std::fabs(rows[x].budget - b);
    const double dy = std::isnan(rows[y].budget) ? INFINITY : std::fabs(rows[y].budget - b);
    return dx != dy ? dx < dy : x < y;
  });
  return idx;
}

// Solving a row group at a budget: what is refused names the nearest rows, so the user can take
// one of them instead.
struct Solver {
  const std::vector<ResultRow>& rows;
  const Args& a;
  std::vector<int> near;  // the group's rows, nearest budget first

  [[noreturn]] void Refuse(const std::string& why) const {
    std::string list;
    for (std::size_t q = 0; q < near.size() && q < 3; ++q) {
      list += (q ? "; " : "") + Describe(rows[near[q]], near[q]);
    }
    throw InputError("--budget",
                     "no row of " + a.method + (a.measure.empty() ? "" : " " + a.measure) +
                         " was solved at " + FormatDouble(a.budget) + " in " + a.from +
                         " and it cannot be solved there: " + why + "; nearest: " + list +
                         ". Give one of these budgets or --row N");
  }
};

// The inputs of one solve: the dump (calibrated when the method was), the profile, the method's
// settings, and the lines "file sha256" of what was read.
struct SolveInputs {
  std::unique_ptr<Dump> dump;
  CostProfile profile;
  SweepMethod method;
  std::vector<std::string> inputs;
  std::vector<std::string> exit_names;
  std::vector<double> temperatures;  // when calibrated
  std::string score_order = "descending";
};

bool IsDirectory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

// A sweep's report: the row group's model, target and method settings from the manifest; the
// inputs from the paths the sweep read (or --dump/--profile), checked against its SHA-256s.
SolveInputs FromManifest(const Solver& s, const Manifest& m, const OptionValues& v) {
  const ResultRow& r = s.rows[s.near[0]];
  const Group* group = nullptr;
  for (const Group& g : m.groups) {
    if (g.model == r.model && g.target == r.target) group = &g;
  }
  if (!group)
    s.Refuse("the sweep's manifest.yaml has no model " + r.model + " / target " + r.target);
  if (!m.has_methods) {
    s.Refuse(
        "the sweep's manifest.yaml predates the method settings export needs (run the "
        "sweep again: its finished cells are kept)");
  }
  const SweepMethod* method = nullptr;
  for (const SweepMethod& me : m.methods) {
    if (me.label == r.method) method = &me;
  }
  if (!method) s.Refuse("the sweep's manifest.yaml has no method labelled " + r.method);
  SweepSpec spec;
  spec.fit_split = m.fit_split;
  spec.eval_split = m.eval_split;
  SweepModel model;
  model.name = group->model;
  model.dump = v.Has("dump") ? v.Text("dump") : group->dump;
  model.profile = v.Has("profile") ? v.Text("profile") : group->profile;
  model.targets = {group->target};
  model.layout = group->layout;
  model.score_order = group->score_order;
  if (!IsDirectory(model.dump)) {
    s.Refuse("the sweep's dump " + model.dump +
             " is not a directory from here (give --dump and "
             "--profile)");
  }
  std::error_code ec;
  if (!fs::is_regular_file(model.profile, ec)) {
    s.Refuse("the sweep's profile " + model.profile + " is not a file from here (give --profile)");
  }
  internal::sweep::LoadedModel lm = internal::sweep::LoadModel(spec, model, false);
  // The same files, byte for byte: the dump's by name and SHA-256, the profile (last) by SHA-256.
  const std::vector<std::string>& want = group->inputs;
  const std::vector<std::string>& got = lm.input_files;
  auto sha = [](const std::string& line) { return line.substr(line.rfind(' ') + 1); };
  auto name = [](const std::string& line) { return line.substr(0, line.rfind(' ')); };
  if (want.size() != got.size()) {
    s.Refuse(model.dump + " holds " + std::to_string(got.size() - 1) + " files of splits " +
             m.fit_split + "/" + m.eval_split + ", the sweep read " +
             std::to_string(want.size() - 1));
  }
  for (std::size_t i = 0; i < want.size(); ++i) {
    const bool last = i + 1 == want.size();
    const std::string file = last ? model.profile : (fs::path(model.dump) / name(got[i])).string();
    if ((!last && name(want[i]) != name(got[i])) || sha(want[i]) != sha(got[i])) {
      s.Refuse(file + " is not the file the sweep read (" +
               (last || name(want[i]) == name(got[i]) ? "its SHA-256 differs from"
                                                      : "expected " + name(want[i]) + " by") +
               " the manifest's)");
    }
  }
  SolveInputs in;
  in.profile = lm.profiles.at(0);
  in.method = *method;
  in.inputs = want;
  in.exit_names = group->exit_names;
  in.score_order = group->score_order;
  in.dump = std::make_unique<Dump>(std::move(lm.dump));
  if (method->calibrate) {
    // The sweep's temperatures (written in shortest round-trip form): the same features as its
    // cells used, without fitting them again.
    in.temperatures = group->temperatures;
    if (static_cast<int>(in.temperatures.size()) != in.dump->k) {
      s.Refuse("the sweep's manifest.yaml has no temperatures for calibrated method " + r.method);
    }
    in.dump->fit.ComputeFeatures(in.temperatures);
    if (in.dump->eval) in.dump->eval->ComputeFeatures(in.temperatures);
  }
  return in;
}

// A report from elsewhere (`exitplan thresholds -o`): the inputs from --dump and --profile, the
// method is the report's method column with its default settings; the nearest row's policy must
// give that row's fit accuracy and cost on them.
SolveInputs FromOptions(const Solver& s, const OptionValues& v) {
  const ResultRow& r = s.rows[s.near[0]];
  if (!v.Has("dump") || !v.Has("profile")) {
    s.Refuse(
        "it is not a sweep's report (no manifest.yaml beside its folder): give --dump and "
        "--profile (and --target) it was made from");
  }
  const std::vector<std::string> methods = MethodNames();
  if (std::find(methods.begin(), methods.end(), r.method) == methods.end()) {
    s.Refuse("'" + r.method +
             "' is not a threshold method (placement searches are solved again "
             "only from a sweep's report)");
  }
  const ResultRow* with_policy = nullptr;
  for (int i : s.near) {
    const ResultRow& q = s.rows[i];
    if (!q.has_policy()) continue;
    if (!with_policy) with_policy = &q;
    if (q.kept_exits != with_policy->kept_exits) {
      s.Refuse("its rows keep different exits (" + ExitList(with_policy->kept_exits) + " and " +
               ExitList(q.kept_exits) + ")");
    }
  }
  if (!with_policy) s.Refuse("none of its rows has a policy");
  const DumpOptions o = DumpOptionsFrom(v);
  SolveInputs in;
  in.dump = std::make_unique<Dump>(LoadDump(v.Text("dump"), o));
  in.profile = ProfileOf(v.Text("profile"), v.Text("target"), s.rows);
  CheckProfileMatches(in.profile, in.dump->k, in.dump->fit.source);
  if (in.profile.unit != r.unit) {
    s.Refuse("the profile's unit is " + in.profile.unit + ", the report's " + r.unit);
  }
  in.method.method = in.method.label = r.method;
  in.method.correct = v.Text("correct");
  in.method.exits = ExitList(with_policy->kept_exits);
  in.method.calibrate = v.Bool("calibrate");
  const Target target = TargetFromString(in.method.correct, "--correct");
  const Measure measure = MeasureFromString(r.measure, "--measure");
  if (in.method.calibrate) {
    if (!in.dump->fit.has_logits()) {
      throw InputError("--calibrate", "temperature scaling needs logits, but " +
                                          in.dump->fit.source + " is a scores-mode dump");
    }
    CalibrationOptions co;
    co.use_agreement = target == Target::kAgreement;
    const CalibrationSummary cs = FitTemperatures(in.dump->fit, co);
    in.temperatures = cs.temperatures;
    in.dump->fit.ComputeFeatures(cs.temperatures);
    if (in.dump->eval) in.dump->eval->ComputeFeatures(cs.temperatures);
  }
  // The report was made from these inputs when its policy gives its figures on them.
  const Policy p{with_policy->kept_exits, with_policy->thresholds};
  const Evaluation ev = EvaluateSplit(in.dump->fit, measure, target, in.profile, p);
  auto same = [](double x, double y) {
    return std::fabs(x - y) <= 1e-9 * std::max(1.0, std::fabs(y));
  };
  if (!same(ev.accuracy, with_policy->fit_acc) || !same(ev.mean_cost, with_policy->fit_cost)) {
    s.Refuse("the policy of the nearest row with one gives fit accuracy " +
             FormatDouble(ev.accuracy) + " and fit cost " + FormatDouble(ev.mean_cost) + " on " +
             v.Text("dump") + " with " + v.Text("profile") + ", the report says " +
             FormatDouble(with_policy->fit_acc) + " and " + FormatDouble(with_policy->fit_cost) +
             " (not the dump, profile, --target, --correct or --calibrate it was made from)");
  }
  const SweepSpec spec = [&] {
    SweepSpec sp;
    sp.fit_split = o.fit_split;
    sp.eval_split = o.eval_split;
    return sp;
  }();
  for (const std::string& f : internal::sweep::DumpFiles(v.Text("dump"), spec)) {
    in.inputs.push_back(fs::path(f).filename().string() + " " + Sha256File(f));
  }
  in.inputs.push_back(fs::path(v.Text("profile")).filename().string() + " " +
                      Sha256File(v.Text("profile")));
  in.exit_names = in.profile.names;
  in.score_order = ToString(o.score_order);
  return in;
}

// The row group's policy family solved at a.budget, as a report row (model, target, method and
// measure of the group), with the config's context.
ResultRow SolveAtBudget(const Solver& s, const OptionValues& v, ConfigContext& ctx) {
  const ResultRow& r = s.rows[s.near[0]];
  if (r.measure == "eenet") {
    s.Refuse(
        "EENet rows get no deployment config (train the scorer file at this budget with "
        "exitplan fit-scorer --budget " +
        FormatDouble(s.a.budget) + ")");
  }
  const fs::path manifest = fs::path(s.a.from).parent_path().parent_path() / "manifest.yaml";
  std::error_code ec;
  const bool sweep =
      fs::exists(manifest, ec) && fs::path(s.a.from).parent_path().filename() == "reports";
  const SolveInputs in =
      sweep ? FromManifest(s, internal::sweep::ManifestFromFile(manifest.string()), v)
            : FromOptions(s, v);
  if (in.profile.unit != r.unit) {
    s.Refuse("the profile's unit is " + in.profile.unit + ", the report's " + r.unit);
  }
  SweepCellInput cell;
  cell.dump = in.dump.get();
  cell.profile = &in.profile;
  cell.method = &in.method;
  cell.measure = MeasureFromString(r.measure, "--measure");
  cell.target = TargetFromString(in.method.correct, "correct");
  cell.kept =
      in.method.exits == "all" ? AllExits(in.dump->k) : ParseKeptExits(in.method.exits, in.dump->k);
  cell.budget = s.a.budget;
  ResultRow out;
  out.model = r.model;
  out.target = r.target;
  out.unit = r.unit;
  out.method = r.method;
  out.measure = r.measure;
  out.budget = s.a.budget;
  out.kept_exits = cell.kept;
  // The cell computation of a sweep (dse/sweep_methods.cpp): the same solve a sweep cell at this
  // budget does, and what `exitplan thresholds` does at it for a threshold method.
  internal::sweep::FindSweepMethod(in.method.method)(cell, out);
  LabelRowBudget(out, in.profile.FullCost());
  if (!out.has_policy()) s.Refuse("outcome " + out.outcome + ": " + out.message);
  if (!out.has_solution() && !s.a.allow_over_budget) {
    s.Refuse("its answer is over the budget (fit cost " + FormatDouble(out.fit_cost) +
             ", fit cost / budget = " + FormatDouble(out.budget_fraction()) +
             "; --allow-over-budget exports it anyway)");
  }
  ctx.exit_names = in.exit_names;
  ctx.score_order = in.score_order;
  ctx.temperatures = in.temperatures;
  ctx.inputs = in.inputs;
  return out;
}

}  // namespace

ExportResult PlanExport(const OptionValues& v, const std::string& command_line) {
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
  if (a.from.empty()) throw InputError("--from", "give the report CSV (a sweep's reports/*.csv)");
  if (!a.format.empty() && a.format != "yaml" && a.format != "json" && a.format != "both") {
    throw InputError("--format", "unknown format '" + a.format + "' (expected yaml, json or both)");
  }
  // The format follows the extension of --out; --format must agree with it.
  const std::string ext_format = a.out.empty() ? "" : FormatOfExtension(a.out);
  std::string format = a.format;
  if (format.empty()) format = ext_format.empty() ? "yaml" : ext_format;
  if ((format == "yaml" || format == "json") && !ext_format.empty() && ext_format != format) {
    throw InputError("--format", format + " does not match the extension of --out " + a.out + " (" +
                                     ext_format + ")");
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
  if (by_row) {
    // The options that only solving at a budget reads.
    for (const char* key : {"dump", "fit_split", "eval_split", "layout", "correct", "calibrate"}) {
      if (v.Has(key)) {
        throw InputError(v.Where(key), "only used to solve at --budget B, not with --row");
      }
    }
  }
  std::vector<Budget> budget_text;
  if (by_budget) {
    budget_text = v.Budgets("budget");
    if (budget_text.size() != 1) throw InputError("--budget", "export takes one budget");
  }
  const std::vector<ResultRow> rows = ResultsFromCsv(ReadFile(a.from), a.from);
  if (by_budget) {
    if (!a.profile.empty()) {
      a.budget = budget_text[0].Resolve(ProfileOf(a.profile, a.target, rows));
    } else if (budget_text[0].relative) {
      // A sweep's report: the full cost its manifest recorded for the group.
      double full = std::nan("");
      const fs::path manifest = fs::path(a.from).parent_path().parent_path() / "manifest.yaml";
      std::error_code ec;
      if (!rows.empty() && fs::exists(manifest, ec)) {
        for (const Group& g : internal::sweep::ManifestFromFile(manifest.string()).groups) {
          if (g.model == rows.front().model && g.target == rows.front().target) {
            full = g.reference_cost;
          }
        }
      }
      if (!std::isfinite(full)) {
        throw InputError("--budget",
                         "'" + budget_text[0].text +
                             "' is relative to the full "
                             "cost: give --profile (and --target), or an absolute budget");
      }
      a.budget = budget_text[0].Resolve(full, rows.front().unit);
    } else {
      a.budget = budget_text[0].Resolve(0.0, rows.empty() ? "" : rows.front().unit);
    }
  }
  ExportResult res;
  res.format = format;
  ConfigContext ctx;
  ctx.command_line = command_line;
  ctx.report = a.from;
  ctx.allow_over_budget = a.allow_over_budget;
  int index = -1;
  if (by_row) {
    if (a.row >= static_cast<int>(rows.size())) {
      throw InputError("--row", std::to_string(a.row) + " is outside 0.." +
                                    std::to_string(static_cast<int>(rows.size()) - 1) +
                                    " (0-based data rows of " + a.from +
                                    ", as pandas numbers them)");
    }
    index = a.row;
  } else {
    const std::vector<int> idx = MethodRows(rows, a);
    for (int i : idx) {
      if (std::fabs(rows[i].budget - a.budget) <= 1e-9 * std::fabs(a.budget)) {
        index = i;
        break;
      }
    }
    if (index < 0) {
      const Solver solver{rows, a, Nearest(rows, idx, a.budget)};
      res.row = SolveAtBudget(solver, v, ctx);
      res.solved = true;
      const int n0 = solver.near[0];
      res.chosen = "solved at budget " + FormatDouble(a.budget) + " (" + res.row.method + " " +
                   res.row.measure + ", kept exits " + ExitList(res.row.kept_exits) +
                   ", fit cost " + FormatDouble(res.row.fit_cost) + ", fit accuracy " +
                   FormatDouble(res.row.fit_acc) + ", outcome " + res.row.outcome +
                   "; the report's nearest row is " + std::to_string(n0) + ", budget " +
                   FormatDouble(rows[n0].budget) + ")";
    }
  }
  if (!res.solved) {
    res.row = rows[index];
    res.report_row = index;
    res.chosen = Describe(res.row, index);
    if (res.row.has_policy() && !res.row.has_solution() && !a.allow_over_budget) {
      throw InputError(
          a.from + " " + res.chosen,
          "is over its budget (fit cost / budget = " + FormatDouble(res.row.budget_fraction()) +
              "): not deployable at that budget; --allow-over-budget exports it anyway");
    }
    if (!SweepReportContext(a.from, res.row, ctx)) {
      ctx.inputs = {fs::path(a.from).filename().string() + " " + Sha256File(a.from)};
    }
  }
  ctx.row = res.report_row;
  if (!a.profile.empty()) {
    const CostProfile p = ProfileOf(a.profile, a.target, rows);
    ctx.exit_names = p.names;
  }
  if (!a.score_order.empty()) {
    ctx.score_order = ToString(ScoreOrderFromString(a.score_order));
  }
  res.config = ConfigFromRow(res.row, ctx);
  if (!a.out.empty()) {
    if (format == "both") {
      // y.json, y.yaml or y: the stem gets both extensions (never y.json.yaml).
      const std::string stem =
          ext_format.empty() ? a.out
                             : (fs::path(a.out).parent_path() / fs::path(a.out).stem()).string();
      res.files.emplace_back(stem + ".yaml", ConfigToYaml(res.config));
      res.files.emplace_back(stem + ".json", ConfigToJson(res.config));
    } else {
      res.files.emplace_back(
          a.out, format == "json" ? ConfigToJson(res.config) : ConfigToYaml(res.config));
    }
  }
  return res;
}

void WriteExport(const ExportResult& result) {
  if (result.files.size() == 1) {
    WriteFileAtomic(result.files[0].first, result.files[0].second);
    return;
  }
  OutputSet set;  // both files or neither
  for (const auto& [path, text] : result.files) set.Add(path, text);
  if (!set.empty()) set.Commit();
}

std::string ExportText(const ExportResult& result) {
  return result.format == "json" ? ConfigToJson(result.config) : ConfigToYaml(result.config);
}

}  // namespace exitplan
