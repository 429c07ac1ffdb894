// Running a sweep (this shard's cells on a thread pool, then the reports) and merging shards.
#include "dse/sweep.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <sstream>

#include "dse/internal/sweep_internal.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/parallel.hpp"
#include "profiles/profile.hpp"

namespace fs = std::filesystem;

namespace exitplan {

using namespace internal::sweep;

namespace {

// The final-exit reference of the group's plots: the full cost and the final exit's accuracy
// against the labels (left NaN when the dump has no labels to compare with).
void SetReference(const Dump& dump, const CostProfile& profile, Group& g) {
  g.reference_cost = profile.FullCost();
  auto final_acc = [&](const SplitData& split) {
    try {
      return split.Correct(Target::kLabels).row(dump.k - 1).cast<double>().mean();
    } catch (const std::exception&) {
      return std::nan("");
    }
  };
  g.reference_fit_acc = final_acc(dump.fit);
  if (dump.eval) g.reference_eval_acc = final_acc(*dump.eval);
  if (std::isnan(g.reference_fit_acc)) g.reference_cost = std::nan("");
}

// Test only (SweepOptions::abort_in_reports): ends the process before that rename of the reports.
int g_abort_in_reports = -1;
void AbortBeforeRename(int done) {
  if (done >= g_abort_in_reports) std::_Exit(137);
}

}  // namespace

namespace internal {

void ParseShard(const std::string& text, int& index, int& count) {
  const auto slash = text.find('/');
  auto bad = [&]() {
    return InputError("--shard", "expected I/N with 1 <= I <= N (e.g. 2/4), found '" + text + "'");
  };
  if (slash == std::string::npos) throw bad();
  try {
    std::size_t p1 = 0, p2 = 0;
    const int i = std::stoi(text.substr(0, slash), &p1);
    const int n = std::stoi(text.substr(slash + 1), &p2);
    if (p1 != slash || p2 != text.size() - slash - 1 || n < 1 || i < 1 || i > n) throw bad();
    index = i - 1;
    count = n;
  } catch (const std::logic_error&) {
    throw bad();
  }
}

}  // namespace internal

std::string SweepOptions::Validate() const {
  std::string out;
  if (jobs < 0) out += "jobs = " + std::to_string(jobs) + ": must be >= 0 (0 = all cores)\n";
  if (shard_count < 1) out += "shard count = " + std::to_string(shard_count) + ": must be >= 1\n";
  if (shard_index < 0 || shard_index >= std::max(1, shard_count)) {
    out += "shard index = " + std::to_string(shard_index + 1) + ": must be in 1.." +
           std::to_string(shard_count) + "\n";
  }
  if (!out.empty()) out.pop_back();
  return out;
}

std::string SweepSummary::BriefReport() const {
  if (!done) return "sweep: not run";
  std::ostringstream s;
  s << "sweep: " << cells_total << " cells";
  if (cells_in_shard != cells_total) s << " (" << cells_in_shard << " in this shard)";
  s << ", " << cells_run << " run, " << cells_skipped << " already done, " << cells_failed
    << " failed, ";
  if (cells_over_budget) s << cells_over_budget << " over budget (kept off the front), ";
  s << FormatDouble(std::round(seconds * 100) / 100) << " s";
  if (!complete) s << "; reports not written (cells missing: run the other shards, then merge)";
  return s.str();
}

std::string SweepSummary::FullReport() const {
  std::string s = BriefReport() + "\n";
  for (const auto& e : errors) s += "  failed: " + e + "\n";
  for (const auto& r : reports) s += "  wrote " + r + "\n";
  return s;
}

SweepSummary RunSweep(const SweepSpec& spec, const SweepOptions& options) {
  if (const std::string bad = options.Validate(); !bad.empty()) throw InputError("sweep", bad);
  const auto t0 = std::chrono::steady_clock::now();
  SweepSummary summary;
  std::vector<LoadedModel> models;
  std::vector<std::vector<CostProfile>> profiles;
  bool calibrate = false;
  for (const SweepMethod& m : spec.methods) calibrate |= m.calibrate;
  for (const SweepModel& m : spec.models) {
    models.push_back(LoadModel(spec, m, calibrate));
    profiles.push_back(models.back().profiles);
  }
  std::vector<SweepCell> cells = internal::EnumerateCells(spec, profiles);
  Manifest manifest;
  manifest.source = spec.source;
  manifest.configs = spec.configs;
  manifest.fit_split = spec.fit_split;
  manifest.eval_split = spec.eval_split;
  manifest.has_methods = true;
  manifest.methods = spec.methods;
  std::map<std::pair<int, std::string>, int> group_of;
  std::string all_hashes;
  for (SweepCell& c : cells) {
    const LoadedModel& lm = models[c.model];
    c.hash = Sha256Hex(CellKey(spec, spec.models[c.model], lm, spec.methods[c.method], c));
    all_hashes += c.hash + "\n";
    auto key = std::make_pair(c.model, c.target);
    if (!group_of.count(key)) {
      const CostProfile& p =
          *std::find_if(lm.profiles.begin(), lm.profiles.end(),
                        [&](const CostProfile& q) { return TargetName(q) == c.target; });
      Group g;
      g.model = spec.models[c.model].name;
      g.target = c.target;
      g.unit = p.unit;
      g.score_order = spec.models[c.model].score_order;
      g.dump = spec.models[c.model].dump;
      g.profile = spec.models[c.model].profile;
      g.layout = spec.models[c.model].layout;
      g.exit_names = p.names;
      g.inputs = lm.input_files;
      for (const SweepMethod& me : spec.methods) {
        if (me.calibrate) g.calibrated.push_back(me.label);
      }
      if (!g.calibrated.empty()) g.temperatures = lm.temperatures;
      SetReference(lm.dump, p, g);
      group_of[key] = static_cast<int>(manifest.groups.size());
      manifest.groups.push_back(g);
    }
    manifest.cells.push_back({c.hash, group_of[key]});
  }
  {
    // Two groups whose names map to one report file name are refused before anything is written.
    std::vector<internal::sweep::GroupName> names;
    for (const Group& g : manifest.groups) {
      const auto m = std::find_if(spec.models.begin(), spec.models.end(),
                                  [&](const SweepModel& x) { return x.name == g.model; });
      names.push_back({g.model, g.target, m->where.empty() ? spec.source : m->where});
    }
    internal::sweep::CheckReportStems(names);
  }
  manifest.sweep = Sha256Hex(all_hashes);
  CreateDirectories(spec.output + "/cells");
  // Temporaries of a killed run go, unless another run shares the directory right now.
  DirectoryLock lock(spec.output);
  if (lock.TryExclusive()) {
    RemoveStaleTemporaries(spec.output);
    RemoveStaleTemporaries(spec.output + "/cells");
  }
  lock.Shared();

  // This shard's cells, and which of them still need computing (a damaged cell file is refused
  // here, before anything is written).
  std::vector<const SweepCell*> todo;
  for (const SweepCell& c : cells) {
    if (c.index % options.shard_count != options.shard_index) continue;
    ++summary.cells_in_shard;
    if (!options.force) {
      if (std::optional<ResultRow> r = ReadCell(CellPath(spec.output, c.hash));
          r && r->outcome != "error") {
        ++summary.cells_skipped;
        continue;
      }
    }
    todo.push_back(&c);
  }
  summary.cells_total = static_cast<int>(cells.size());
  {
    const std::string path = spec.output + "/manifest.yaml", text = ManifestToYaml(manifest);
    std::error_code ec;
    if (!fs::is_regular_file(fs::symlink_status(path, ec)) || ReadFile(path) != text) {
      WriteFileAtomic(path, text);
    }
  }

  // The cells run on ParallelFor: each cell is independent and writes its own file, so the
  // results do not depend on the number of jobs or on the order of completion. A cell that cannot
  // be written (disk full) stops the pool; ParallelFor rethrows that first error after the join,
  // so it reaches the one catch site in cli/main.cpp.
  std::atomic<int> written{0};
  std::atomic<int> failed{0};
  ProgressPhase(options.progress, "cells", "cells", todo.size());
  // Returns false (stop handing out cells) once the progress callback cancelled the run.
  auto run_cell = [&](std::size_t i) {
    const SweepCell& c = *todo[i];
    const SweepModel& model = spec.models[c.model];
    const LoadedModel& lm = models[c.model];
    const SweepMethod& method = spec.methods[c.method];
    const CostProfile& profile =
        *std::find_if(lm.profiles.begin(), lm.profiles.end(),
                      [&](const CostProfile& q) { return TargetName(q) == c.target; });
    ResultRow row;
    row.model = model.name;
    row.target = c.target;
    row.unit = profile.unit;
    row.method = method.label;
    row.measure = c.measure;
    row.budget = c.budget;
    const auto c0 = std::chrono::steady_clock::now();
    try {
      SweepCellInput in;
      in.dump = method.calibrate ? lm.calibrated.get() : &lm.dump;
      in.profile = &profile;
      in.method = &method;
      if (c.measure != "eenet") in.measure = MeasureFromString(c.measure, "measure");
      in.target = TargetFromString(method.correct, "correct");
      in.kept =
          method.exits == "all" ? AllExits(lm.dump.k) : ParseKeptExits(method.exits, lm.dump.k);
      in.budget = c.budget;
      row.kept_exits = in.kept;
      const SweepMethodFn fn = FindSweepMethod(method.method);
      fn(in, row);
      if (row.outcome.empty()) row.outcome = "error", row.message = "method set no outcome";
      LabelRowBudget(row, profile.FullCost());
    } catch (const std::exception& e) {
      row.outcome = "error";
      row.message = e.what();
    }
    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
    // The cells directory is flushed once after the pool (a cell lost to a power cut is only
    // computed again; its content is always on disk before its name).
    WriteFileAtomic(CellPath(spec.output, c.hash), ResultsToCsv({row}), false);
    const int done = ++written;
    if (options.abort_after >= 0 && done >= options.abort_after) {
      std::_Exit(137);  // test only: as if the process were killed here
    }
    const int failed_now = failed += Failed(row) ? 1 : 0;
    ProgressAdvance(options.progress, 1, std::to_string(failed_now) + " failed");
    return !ProgressCancelled(options.progress);
  };
  std::exception_ptr pool_error;
  try {
    ParallelFor(todo.size(), options.jobs, run_cell);
  } catch (...) {
    pool_error = std::current_exception();
  }
  // The cells written before an error stay (a resume skips them), so the directory is flushed
  // either way; the pool's error comes first.
  if (!todo.empty()) {
    try {
      SyncDirectory(spec.output + "/cells");
    } catch (...) {
      if (!pool_error) throw;
    }
  }
  if (pool_error) std::rethrow_exception(pool_error);
  ProgressRethrow(options.progress);
  summary.cells_run = static_cast<int>(todo.size());

  // Failures of this shard (computed now or before), and the reports when every cell is there.
  bool complete = true;
  for (const SweepCell& c : cells) {
    std::optional<ResultRow> r = ReadCell(CellPath(spec.output, c.hash));
    if (!r) {
      complete = false;
      continue;
    }
    if (c.index % options.shard_count != options.shard_index) continue;
    if (Failed(*r)) {
      ++summary.cells_failed;
      summary.errors.push_back(Describe(*r) + ": " + r->outcome + ": " + r->message);
    } else if (OverBudget(*r)) {
      ++summary.cells_over_budget;
    }
  }
  summary.complete = complete;
  if (complete) {
    g_abort_in_reports = options.abort_in_reports;
    WriteReports(manifest, spec.output, options.command_line, summary,
                 options.abort_in_reports >= 0 ? AbortBeforeRename : nullptr);
  }
  summary.done = true;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

SweepSummary MergeSweeps(const std::vector<std::string>& dirs, const std::string& output,
                         const std::string& command_line) {
  const auto t0 = std::chrono::steady_clock::now();
  if (dirs.empty()) throw InputError("merge", "no sweep directory given");
  SweepSummary summary;
  const Manifest first = ManifestFromFile(dirs[0] + "/manifest.yaml");
  for (std::size_t d = 1; d < dirs.size(); ++d) {
    const Manifest m = ManifestFromFile(dirs[d] + "/manifest.yaml");
    if (m.sweep != first.sweep) {
      throw InputError(dirs[d], "holds a different sweep than " + dirs[0] +
                                    " (inputs or settings differ: manifest sweep hash " +
                                    m.sweep.substr(0, 12) + " vs " + first.sweep.substr(0, 12) +
                                    ")");
    }
  }
  // Everything is read and checked before anything is written: the best result of each cell
  // (a finished one over an "error" to retry), and the reports rendered in memory.
  int missing = 0;
  std::string first_missing;
  std::vector<ResultRow> best_rows;
  std::vector<std::string> sources;
  for (const auto& [hash, group] : first.cells) {
    std::optional<ResultRow> best;
    std::string from;
    for (const std::string& d : dirs) {
      std::optional<ResultRow> r = ReadCell(CellPath(d, hash));
      if (r && (!best || (best->outcome == "error" && r->outcome != "error"))) {
        best = r;
        from = CellPath(d, hash);
      }
    }
    if (!best) {
      if (!missing++) first_missing = hash;
      continue;
    }
    best_rows.push_back(*best);
    sources.push_back(from);
    if (Failed(*best)) {
      ++summary.cells_failed;
      summary.errors.push_back(Describe(*best) + ": " + best->outcome + ": " + best->message);
    } else if (OverBudget(*best)) {
      ++summary.cells_over_budget;
    }
  }
  if (missing) {
    throw InputError(dirs[0], std::to_string(missing) + " of " +
                                  std::to_string(first.cells.size()) +
                                  " cells have no result in any directory given (first: cells/" +
                                  first_missing + ".csv): run the missing shards first");
  }
  OutputSet set;
  summary.cells_total = summary.cells_in_shard = static_cast<int>(first.cells.size());
  summary.cells_skipped = summary.cells_total;
  summary.complete = true;
  AddReports(first, best_rows, output, command_line, set, summary);
  for (std::size_t i = 0; i < first.cells.size(); ++i) {
    const std::string to = CellPath(output, first.cells[i].first);
    std::error_code ec;
    if (fs::exists(to, ec) && fs::equivalent(sources[i], to, ec)) continue;
    std::string content = ReadFile(sources[i]);
    if (fs::exists(to, ec) && fs::is_regular_file(to, ec) && ReadFile(to) == content) continue;
    set.Add(to, std::move(content));
  }
  const std::string manifest_text = ManifestToYaml(first);
  std::error_code ec;
  if (!fs::is_regular_file(fs::symlink_status(output + "/manifest.yaml", ec)) ||
      ReadFile(output + "/manifest.yaml") != manifest_text) {
    set.Add(output + "/manifest.yaml", manifest_text);
  }
  std::optional<DirectoryLock> lock;
  if (fs::is_directory(output, ec)) {
    lock.emplace(output);
    if (lock->TryExclusive()) {
      RemoveStaleTemporaries(output);
      RemoveStaleTemporaries(output + "/cells");
    }
    lock->Shared();
  }
  set.Commit();
  summary.done = true;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

}  // namespace exitplan
