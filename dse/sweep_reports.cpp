// The sweep's reports: per model and target a Pareto CSV and SVG plot, the summary.md, and the
// deployment configs of the front's rows.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "dse/config.hpp"
#include "dse/internal/sweep_internal.hpp"
#include "dse/pareto.hpp"
#include "dse/plot.hpp"
#include "dse/sweep.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"

namespace fs = std::filesystem;

namespace exitplan {
namespace internal::sweep {

std::string SafeName(const std::string& s) {
  std::string out;
  for (char ch : s) {
    out += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')
               ? ch
               : '_';
  }
  return out.empty() ? "_" : out;
}

std::string ReportStem(const std::string& model, const std::string& target) {
  return SafeName(model) + "__" + SafeName(target);
}

void CheckReportStems(const std::vector<GroupName>& groups) {
  std::map<std::string, std::size_t> first;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const GroupName& b = groups[g];
    const std::string stem = ReportStem(b.model, b.target);
    const auto [it, fresh] = first.emplace(stem, g);
    if (fresh) continue;
    const GroupName& a = groups[it->second];
    if (a.model == b.model && a.target == b.target) {
      throw InputError(b.where, "target '" + b.target + "' appears twice for model '" + b.model +
                                    "' (also at " + a.where + ")");
    }
    throw InputError(b.where, "model '" + b.model + "' target '" + b.target + "' and model '" +
                                  a.model + "' target '" + a.target + "' (" + a.where +
                                  ") would write the same report reports/" + stem +
                                  ".csv (file names keep only letters, digits, '.', '-' and "
                                  "'_'): rename one of them");
  }
}

namespace {

// ---------------------------------------------------------------------------------------------
// Reports.

std::string Pct(double v) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", 100.0 * v);
  return buf;
}
std::string Fix(double v) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

void WriteReports(const Manifest& m, const std::string& out, const std::string& command_line,
                  SweepSummary& summary, void (*before_rename)(int)) {
  std::vector<ResultRow> cells;
  for (const auto& [hash, group] : m.cells) {
    std::optional<ResultRow> r = ReadCell(CellPath(out, hash));
    if (!r) throw InputError(CellPath(out, hash), "missing cell result");
    cells.push_back(*r);
  }
  OutputSet set;
  AddReports(m, cells, out, command_line, set, summary);
  set.Commit(before_rename);
}

void AddReports(const Manifest& m, const std::vector<ResultRow>& cells, const std::string& out,
                const std::string& command_line, OutputSet& set, SweepSummary& summary) {
  {
    // The sweep refused such groups before its first cell; a manifest edited since is refused
    // here, before any report is written.
    std::vector<GroupName> names;
    for (const Group& g : m.groups) names.push_back({g.model, g.target, out + "/manifest.yaml"});
    CheckReportStems(names);
  }
  std::vector<std::vector<ResultRow>> rows(m.groups.size());
  for (std::size_t i = 0; i < m.cells.size(); ++i) rows[m.cells[i].second].push_back(cells[i]);
  set.ReplaceDirectory(out + "/reports");
  if (m.configs) set.ReplaceDirectory(out + "/configs");
  std::ostringstream md;
  md << "# exitplan sweep summary\n\nSweep `" << m.source << "` (" << m.cells.size()
     << " cells). Pareto front chosen on the fit split; accuracy and cost measured on the eval "
        "split (fit when there is none).\n";
  for (std::size_t g = 0; g < m.groups.size(); ++g) {
    const Group& gr = m.groups[g];
    std::vector<ResultRow>& rs = rows[g];
    MarkPareto(rs);
    const std::string base = out + "/reports/" + ReportStem(gr.model, gr.target);
    set.Add(base + ".csv", ResultsToCsv(rs));
    PlotOptions po;
    po.title = gr.model + " / " + gr.target;
    // The reference on the plotted split: eval when the rows have eval figures, else fit.
    const bool eval = std::any_of(rs.begin(), rs.end(), [](const ResultRow& r) {
      return !std::isnan(r.eval_acc) && !std::isnan(r.eval_cost);
    });
    po.reference_cost = gr.reference_cost;
    po.reference_acc = eval ? gr.reference_eval_acc : gr.reference_fit_acc;
    set.Add(base + ".svg", PlotSvg(rs, po));
    summary.reports.push_back(base + ".csv");
    summary.reports.push_back(base + ".svg");

    md << "\n## " << gr.model << " / " << gr.target << " (" << gr.unit << ")\n\n"
       << "Report: `reports/" << fs::path(base).filename().string() << ".csv`, plot: `reports/"
       << fs::path(base).filename().string() << ".svg`\n\n"
       << "| method | measure | cells | solved | over budget | on front | eval acc % (lowest "
          "budget) | eval acc % (highest budget) | eval cost range | mean s/cell |\n"
       << "|---|---|---:|---:|---:|---:|---:|---:|---|---:|\n";
    std::vector<std::pair<std::string, std::string>> series;
    for (const ResultRow& r : rs) {
      if (std::find(series.begin(), series.end(), std::make_pair(r.method, r.measure)) ==
          series.end()) {
        series.push_back({r.method, r.measure});
      }
    }
    for (const auto& [method, measure] : series) {
      int cells = 0, solved = 0, over = 0, front = 0;
      double secs = 0, lo_b = INFINITY, hi_b = -INFINITY, acc_lo = NAN, acc_hi = NAN;
      double cmin = INFINITY, cmax = -INFINITY;
      for (const ResultRow& r : rs) {
        if (r.method != method || r.measure != measure) continue;
        ++cells;
        secs += r.seconds;
        over += OverBudget(r);
        if (!r.has_solution()) continue;
        ++solved;
        front += r.pareto;
        const double acc = std::isnan(r.eval_acc) ? r.fit_acc : r.eval_acc;
        const double cost = std::isnan(r.eval_cost) ? r.fit_cost : r.eval_cost;
        if (r.budget < lo_b) lo_b = r.budget, acc_lo = acc;
        if (r.budget > hi_b) hi_b = r.budget, acc_hi = acc;
        cmin = std::min(cmin, cost);
        cmax = std::max(cmax, cost);
      }
      md << "| " << method << " | " << measure << " | " << cells << " | " << solved << " | " << over
         << " | " << front << " | " << Pct(acc_lo) << " | " << Pct(acc_hi) << " | "
         << (solved ? Fix(cmin) + " - " + Fix(cmax) : "-") << " | "
         << Fix(secs / std::max(1, cells)) << " |\n";
    }
    // The front itself, thinned to at most 12 rows spread over its cost range.
    // Identical policies solved at several budgets appear once (the lowest budget).
    auto policy_key = [](const ResultRow& r) {
      std::string k = r.method + "|" + r.measure + "|";
      for (int e : r.kept_exits) k += std::to_string(e) + ",";
      return k + "|" + JoinDoubles(r.thresholds, ",");
    };
    std::vector<const ResultRow*> front;
    std::set<std::string> seen_policies;
    for (const ResultRow& r : rs) {
      if (r.pareto && seen_policies.insert(policy_key(r)).second) front.push_back(&r);
    }
    std::sort(front.begin(), front.end(),
              [](const ResultRow* a, const ResultRow* b) { return a->fit_cost < b->fit_cost; });
    if (!front.empty()) {
      md << "\nPareto front (" << front.size() << " distinct configurations"
         << (front.size() > 12 ? ", 12 shown" : "") << "):\n\n"
         << "| budget | method | measure | kept exits | fit acc % | fit cost | eval acc % | eval "
            "cost |\n|---:|---|---|---|---:|---:|---:|---:|\n";
      const std::size_t shown = std::min<std::size_t>(12, front.size());
      for (std::size_t q = 0; q < shown; ++q) {
        const std::size_t i = shown == 1 ? 0 : q * (front.size() - 1) / (shown - 1);
        const ResultRow& r = *front[i];
        std::string kept;
        for (std::size_t e = 0; e < r.kept_exits.size(); ++e) {
          kept += (e ? "," : "") + std::to_string(r.kept_exits[e] + 1);
        }
        md << "| " << Fix(r.budget) << " | " << r.method << " | " << r.measure << " | " << kept
           << " | " << Pct(r.fit_acc) << " | " << Fix(r.fit_cost) << " | " << Pct(r.eval_acc)
           << " | " << Fix(r.eval_cost) << " |\n";
      }
    }
    std::vector<std::string> failures;
    for (const ResultRow& r : rs) {
      if (Failed(r)) failures.push_back(Describe(r) + ": " + r.outcome + ": " + r.message);
    }
    if (!failures.empty()) {
      md << "\nFailed cells (" << failures.size() << "):\n\n";
      for (std::size_t q = 0; q < failures.size() && q < 20; ++q) md << "- " << failures[q] << "\n";
      if (failures.size() > 20) md << "- ... (" << failures.size() - 20 << " more in the CSV)\n";
    }

    if (m.configs) {
      ConfigContext ctx;
      ctx.exit_names = gr.exit_names;
      ctx.score_order = gr.score_order;
      ctx.inputs = gr.inputs;
      ctx.command_line = command_line;
      ctx.report = fs::path(base + ".csv").filename().string();
      const std::string cdir = out + "/configs/" + ReportStem(gr.model, gr.target);
      std::set<std::string> written;
      for (std::size_t i = 0; i < rs.size(); ++i) {
        if (!rs[i].pareto || !written.insert(policy_key(rs[i])).second) continue;
        // EENet rows need the scorer's weights, which the runtime does not evaluate: refit with
        // `exitplan fit-scorer --budget B` for a scorer file.
        if (rs[i].measure == "eenet") continue;
        ctx.row = static_cast<int>(i);  // 0-based, as export --row takes it
        ctx.temperatures.clear();
        if (std::find(gr.calibrated.begin(), gr.calibrated.end(), rs[i].method) !=
            gr.calibrated.end()) {
          ctx.temperatures = gr.temperatures;
        }
        const DeployConfig c = ConfigFromRow(rs[i], ctx);
        char name[64];
        std::snprintf(name, sizeof name, "row%04zu", i);
        const std::string stem =
            cdir + "/" + name + "_" + SafeName(rs[i].method) + "_" + SafeName(rs[i].measure);
        set.Add(stem + ".yaml", ConfigToYaml(c));
        set.Add(stem + ".json", ConfigToJson(c));
        summary.reports.push_back(stem + ".yaml");
      }
    }
  }
  set.Add(out + "/summary.md", md.str());
  set.SetMarker(out + "/summary.md");
  summary.reports.push_back(out + "/summary.md");
}

}  // namespace internal::sweep
}  // namespace exitplan
