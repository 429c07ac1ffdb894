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
#include <thread>

#include "dse/internal/sweep_internal.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/profile.hpp"

namespace fs = std::filesystem;

namespace exitplan {

using namespace internal::sweep;

namespace {

// Progress on stderr: "cells done / total, elapsed, estimate".
class Progress {
 public:
  Progress(bool on, int total) : on_(on), total_(total), start_(Clock::now()) {}
  void Update(int done) {
    if (!on_) return;
    std::lock_guard<std::mutex> lock(mu_);
    const double el = Seconds();
    if (done < total_ && el - last_ < 0.2) return;
    last_ = el;
    const double eta = done > 0 ? el / done * (total_ - done) : 0.0;
    std::fprintf(stderr, "\rexitplan sweep: %d / %d cells, %.1f s elapsed, ~%.1f s left   ", done,
                 total_, el, eta);
    if (done == total_) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }
  double Seconds() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }

 private:
  using Clock = std::chrono::steady_clock;
  bool on_;
  int total_;
  Clock::time_point start_;
  std::mutex mu_;
  double last_ = -1.0;
};

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
    << " failed, " << FormatDouble(std::round(seconds * 100) / 100) << " s";
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
  std::map<std::pair<int, std::string>, int> group_of;
  std::string all_hashes;
  for (SweepCell& c : cells) {
    const LoadedModel& lm = models[c.model];
    c.hash = Sha256Hex(CellKey(spec, spec.models[c.model], lm, spec.methods[c.method], c));
    all_hashes += c.hash + "\n";
    auto key = std::make_pair(c.model, c.target);
    if (!group_of.count(key)) {
      const CostProfile& p = *std::find_if(lm.profiles.begin(), lm.profiles.end(),
                                           [&](const CostProfile& q) {
                                             return TargetName(q) == c.target;
                                           });
      Group g;
      g.model = spec.models[c.model].name;
      g.target = c.target;
      g.unit = p.unit;
      g.score_order = spec.models[c.model].score_order;
      g.dump = spec.models[c.model].dump;
      g.profile = spec.models[c.model].profile;
      g.exit_names = p.names;
      g.inputs = lm.input_files;
      for (const SweepMethod& me : spec.methods) {
        if (me.calibrate) g.calibrated.push_back(me.label);
      }
      if (!g.calibrated.empty()) g.temperatures = lm.temperatures;
      group_of[key] = static_cast<int>(manifest.groups.size());
      manifest.groups.push_back(g);
    }
    manifest.cells.push_back({c.hash, group_of[key]});
  }
  manifest.sweep = Sha256Hex(all_hashes);
  fs::create_directories(spec.output + "/cells");
  RemoveStaleTemporaries(spec.output + "/cells");
  WriteFileAtomic(spec.output + "/manifest.yaml", ManifestToYaml(manifest));

  // This shard's cells, and which of them still need computing.
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

  // The thread pool: workers take the next cell index; each cell is independent and writes its
  // own file, so the results do not depend on the number of jobs or on the order of completion.
  int jobs = options.jobs > 0 ? options.jobs : static_cast<int>(std::thread::hardware_concurrency());
  jobs = std::max(1, std::min<int>(jobs, static_cast<int>(todo.size())));
  std::atomic<std::size_t> next{0};
  std::atomic<int> written{0};
  Progress progress(options.progress, static_cast<int>(todo.size()));
  std::mutex err_mu;
  auto worker = [&]() {
    for (;;) {
      const std::size_t i = next.fetch_add(1);
      if (i >= todo.size()) return;
      const SweepCell& c = *todo[i];
      const SweepModel& model = spec.models[c.model];
      const LoadedModel& lm = models[c.model];
      const SweepMethod& method = spec.methods[c.method];
      const CostProfile& profile = *std::find_if(
          lm.profiles.begin(), lm.profiles.end(),
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
        in.kept = method.exits == "all" ? AllExits(lm.dump.k) : ParseKeptExits(method.exits, lm.dump.k);
        in.budget = c.budget;
        row.kept_exits = in.kept;
        const SweepMethodFn fn = FindSweepMethod(method.method);
        fn(in, row);
        if (row.outcome.empty()) row.outcome = "error", row.message = "method set no outcome";
      } catch (const std::exception& e) {
        row.outcome = "error";
        row.message = e.what();
      }
      row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
      WriteFileAtomic(CellPath(spec.output, c.hash), ResultsToCsv({row}));
      const int done = ++written;
      if (options.abort_after >= 0 && done >= options.abort_after) {
        std::_Exit(137);  // test only: as if the process were killed here
      }
      progress.Update(done);
    }
  };
  std::vector<std::thread> pool;
  for (int j = 1; j < jobs; ++j) pool.emplace_back(worker);
  if (!todo.empty()) worker();
  for (auto& t : pool) t.join();
  summary.cells_run = static_cast<int>(todo.size());

  // Failures of this shard (computed now or before), and the reports when every cell is there.
  bool complete = true;
  for (const SweepCell& c : cells) {
    std::optional<ResultRow> r = ReadCell(CellPath(spec.output, c.hash));
    if (!r) {
      complete = false;
      continue;
    }
    if (c.index % options.shard_count == options.shard_index && Failed(*r)) {
      ++summary.cells_failed;
      summary.errors.push_back(Describe(*r) + ": " + r->outcome + ": " + r->message);
    }
  }
  summary.complete = complete;
  if (complete) WriteReports(manifest, spec.output, options.command_line, summary);
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
  fs::create_directories(output + "/cells");
  int missing = 0;
  std::string first_missing;
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
    const std::string to = CellPath(output, hash);
    std::error_code ec;
    if (!fs::exists(to) || !fs::equivalent(from, to, ec)) WriteFileAtomic(to, ReadFile(from));
    if (Failed(*best)) {
      ++summary.cells_failed;
      summary.errors.push_back(Describe(*best) + ": " + best->outcome + ": " + best->message);
    }
  }
  if (missing) {
    throw InputError(dirs[0], std::to_string(missing) + " of " +
                                  std::to_string(first.cells.size()) +
                                  " cells have no result in any directory given (first: cells/" +
                                  first_missing + ".csv): run the missing shards first");
  }
  WriteFileAtomic(output + "/manifest.yaml", ManifestToYaml(first));
  summary.cells_total = summary.cells_in_shard = static_cast<int>(first.cells.size());
  summary.cells_skipped = summary.cells_total;
  summary.complete = true;
  WriteReports(first, output, command_line, summary);
  summary.done = true;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

}  // namespace exitplan
