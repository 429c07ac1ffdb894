// The CLI's verbs over in-memory dumps and profiles: the same option names (`--foo-bar` is the
// kwarg `foo_bar`), defaults, checks and messages as the subcommands in cli/, and the same rows.
// Solves run without the GIL, so Python threads can run them side by side.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>
#include <thread>

#include "common.hpp"
#include "dse/export_run.hpp"
#include "dse/fit_scorer_run.hpp"
#include "dse/place_run.hpp"
#include "dse/placement.hpp"
#include "dse/sweep.hpp"
#include "dse/threshold_rows.hpp"
#include "optim/calibration.hpp"
#include "optim/eenet.hpp"
#include "optim/eenet_compare.hpp"
#include "optim/solve.hpp"
#include "profiles/budget.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "profiles/parallel.hpp"
#include "profiles/progress.hpp"
#include "profiles/stats.hpp"

namespace exitplan::python {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string ValueText(py::handle v, const std::string& name) {
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>() ? "true" : "false";
  if (py::isinstance<py::int_>(v)) return std::to_string(v.cast<long long>());
  if (py::isinstance<py::float_>(v)) return FormatDouble(v.cast<double>());
  if (py::isinstance<py::str>(v)) return v.cast<std::string>();
  if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v) || py::hasattr(v, "__array__")) {
    std::string out;
    for (py::handle item : v) out += (out.empty() ? "" : ",") + ValueText(item, name);
    return out;
  }
  if (py::hasattr(v, "__float__")) return FormatDouble(v.cast<double>());  // numpy scalars
  std::string flag = "--" + name;
  std::replace(flag.begin(), flag.end(), '_', '-');
  throw InputError(flag, "expected a number, text or a list, found " +
                             std::string(py::str(py::type::of(v).attr("__name__"))));
}

}  // namespace

std::string CliName(const std::string& kwarg) {
  std::string s = "--" + kwarg;
  std::replace(s.begin(), s.end(), '_', '-');
  return s;
}

std::string CallText(const std::string& verb, const py::kwargs& kwargs) {
  std::string s = "exitplan." + verb + "(";
  bool first = true;
  for (auto kv : kwargs) {
    s +=
        (first ? "" : ", ") + kv.first.cast<std::string>() + "=" + std::string(py::repr(kv.second));
    first = false;
  }
  return s + ")";
}

OptionValues ValuesFor(const py::kwargs& kwargs, const std::string& command,
                       const std::vector<std::string>& fixed) {
  std::string verb = command;
  std::replace(verb.begin(), verb.end(), '-', '_');
  OptionValues values;
  for (auto kv : kwargs) {
    const std::string key = kv.first.cast<std::string>();
    if (kv.second.is_none()) continue;  // None: not given, the default applies
    if (std::find(fixed.begin(), fixed.end(), key) != fixed.end()) {
      const bool profile = key == "profile" || key == "target";
      throw InputError(
          "exitplan." + verb,
          "option '" + key + "' belongs to the " + (profile ? "Profile" : "Dump") +
              " passed in (give it to " +
              (profile ? "exitplan.load_profile" : "exitplan.load_dump or Dump.from_arrays") + ")");
    }
    const OptionSpec* spec = FindOption(key);
    if (spec == nullptr || !spec->ForCommand(command)) {
      std::string keys;
      for (const OptionSpec* o : OptionsOfCommand(command)) {
        if (std::find(fixed.begin(), fixed.end(), o->key) != fixed.end()) continue;
        keys += (keys.empty() ? "" : ", ") + o->key;
      }
      throw InputError("exitplan." + verb,
                       "unknown option '" + key + "' (options of " + command + ": " + keys + ")");
    }
    values.Set(key, ValueText(kv.second, key), spec->Flag());
  }
  return values;
}

namespace {

// The options a dump verb does not take as keywords: they were given to the Dump and Profile.
const std::vector<std::string> kObjectKeys = {"dump",       "profile", "target",     "fit_split",
                                              "eval_split", "layout",  "score_order"};

// progress=: a callable progress(done, total) of every long verb, called with the GIL held (from
// the calling thread or a worker thread of the call), first with (0, total), then whenever done
// grows; the last call has done == total. An exception it raises (KeyboardInterrupt too) stops
// the work and propagates. Without one, the progress lines the command line prints on a
// non-terminal go to the `logging` logger "exitplan" at level INFO (nothing for calls that end
// within 2 s). A Ctrl-C reaching the calling thread stops the work in both cases.
class PyProgress {
 public:
  PyProgress(py::kwargs& kw, const std::string& verb) {
    auto st = std::make_shared<State>();
    if (kw.contains("progress")) {
      st->fn = kw["progress"];
      PyDict_DelItemString(kw.ptr(), "progress");
      if (st->fn.is_none()) {
        st->fn = py::object();
      } else if (!PyCallable_Check(st->fn.ptr())) {
        throw InputError("exitplan." + verb, "progress: expected a callable progress(done, total)");
      }
    }
    st->caller = std::this_thread::get_id();
    if (!st->fn) {
      st->log = py::module_::import("logging").attr("getLogger")("exitplan");
      ProgressPrinterOptions o;
      o.command = "exitplan." + verb;
      State* raw = st.get();
      st->printer = std::make_unique<ProgressPrinter>(o, [raw](const std::string& line) {
        py::gil_scoped_acquire gil;
        raw->log.attr("info")(line.substr(0, line.size() - (line.empty() ? 0 : 1)));
      });
    }
    state_ = st;
    progress_ = std::make_unique<Progress>([st](const ProgressUpdate& u) { st->On(u); });
  }
  Progress* get() { return progress_.get(); }
  // The last call (done == total); what the callback raises there propagates too.
  void Finish() {
    progress_->Finish();
    progress_->Rethrow();
  }

 private:
  struct State {
    py::object fn, log;
    std::unique_ptr<ProgressPrinter> printer;
    std::thread::id caller;
    bool called = false;
    std::uint64_t last_done = 0;
    std::chrono::steady_clock::time_point last_signal_check{};
    void On(const ProgressUpdate& u) {
      const bool on_caller = std::this_thread::get_id() == caller;
      if (fn) {
        if (called && u.done == last_done) return;
        py::gil_scoped_acquire gil;
        if (on_caller && PyErr_CheckSignals() != 0) throw py::error_already_set();
        called = true;
        last_done = u.done;
        fn(u.done, u.total);
        return;
      }
      (*printer)(u);
      const auto now = std::chrono::steady_clock::now();
      if (on_caller && now - last_signal_check > std::chrono::milliseconds(100)) {
        last_signal_check = now;
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      }
    }
  };
  std::shared_ptr<State> state_;
  std::unique_ptr<Progress> progress_;
};

// --calibrate: a calibrated copy of the dump (the caller's Dump is never changed).
void CalibrateIfAsked(const OptionValues& v, Dump& dump, Target target) {
  if (!v.Bool("calibrate")) return;
  if (!dump.fit.has_logits()) {
    throw InputError("--calibrate", "temperature scaling needs logits, but " + dump.fit.source +
                                        " is a scores-mode dump");
  }
  CalibrationOptions co;
  co.use_agreement = target == Target::kAgreement;
  const CalibrationSummary cs = FitTemperatures(dump.fit, co);
  dump.fit.ComputeFeatures(cs.temperatures);
  if (dump.eval) dump.eval->ComputeFeatures(cs.temperatures);
}

Measure MeasureFor(const OptionValues& v, const Dump& dump) {
  if (v.Has("measure")) return MeasureFromString(v.Text("measure"));
  return dump.fit.has_logits() ? Measure::kMaxProb : Measure::kConfidence;
}

std::string ModelName(const OptionValues& v, const PyDump& d) {
  return v.Has("model") ? v.Text("model") : d.name;
}

void CheckProfile(const PyDump& d, const CostProfile& p) {
  CheckProfileMatches(p, d.dump.k, d.dump.fit.source);
}

// ---------------------------------------------------------------------------------------------
// evaluate

py::list EvaluateVerb(const std::shared_ptr<PyDump>& d, const CostProfile& profile, py::kwargs kw) {
  const OptionValues v = ValuesFor(kw, "evaluate", kObjectKeys);
  if (v.Has("format")) throw InputError("exitplan.evaluate", "format: the figures are returned");
  const Target target = TargetFromString(v.Text("correct"), "--correct");
  const std::string scorer_path = v.Text("scorer"), thresholds = v.Text("thresholds");
  const std::string exits = v.Text("exits");
  if (scorer_path.empty() && thresholds.empty()) {
    throw InputError("--thresholds", "required (unless --scorer gives them)");
  }
  if (!scorer_path.empty() && v.Bool("calibrate")) {
    throw InputError("--calibrate", "a scorer file carries its own temperatures");
  }
  std::optional<ScorerFile> scorer;
  if (!scorer_path.empty()) scorer = LoadScorer(scorer_path);
  CheckProfile(*d, profile);
  std::vector<std::pair<std::string, Evaluation>> out;
  {
    py::gil_scoped_release release;
    Dump copy;
    const Dump* dump = &d->dump;
    if (v.Bool("calibrate")) {
      copy = d->dump;
      CalibrateIfAsked(v, copy, target);
      dump = &copy;
    }
    const Measure measure = MeasureFor(v, *dump);
    Policy policy;
    if (scorer) {
      if (const std::string err = scorer->scorer.CheckSplit(dump->fit); !err.empty()) {
        throw InputError(scorer_path, err);
      }
      policy = scorer->policy;
      if (!exits.empty() && ParseKeptExits(exits, dump->k) != policy.kept) {
        throw InputError("--exits",
                         "a scorer's kept exits are fixed by its file (" + scorer_path + ")");
      }
    } else {
      policy.kept = exits.empty() ? AllExits(dump->k) : ParseKeptExits(exits, dump->k);
    }
    if (!thresholds.empty()) policy.thresholds = ParseDoubleList(thresholds, "--thresholds");
    if (policy.thresholds.size() == policy.kept.size()) policy.thresholds.pop_back();
    if (const std::string err = CheckPolicy(policy, dump->k); !err.empty()) {
      throw InputError("--thresholds", err + " for kept exits " + exits);
    }
    std::vector<const SplitData*> splits = {&dump->fit};
    if (dump->eval) splits.push_back(&*dump->eval);
    for (const SplitData* s : splits) {
      const Evaluation ev =
          scorer ? Evaluate(scorer->scorer.Score(*s), ScoreOrder::kDescending, s->Correct(target),
                            profile.StopCosts(policy.kept), policy)
                 : EvaluateSplit(*s, measure, target, profile, policy);
      out.emplace_back(s->name, ev);
    }
  }
  py::list rows;
  for (const auto& [name, ev] : out) {
    py::dict r;
    r["split"] = name;
    r["accuracy"] = ev.accuracy;
    r["mean_cost"] = ev.mean_cost;
    r["exit_fractions"] = ev.exit_fraction;
    r["exit_accuracy"] = ev.exit_accuracy;
    r["exit_counts"] = ev.exit_count;
    r["n"] = ev.n;
    rows.append(r);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// thresholds

std::vector<PyResult> ThresholdsVerb(const std::shared_ptr<PyDump>& d, const CostProfile& profile,
                                     py::kwargs kw) {
  PyProgress progress(kw, "thresholds");
  const std::string call = CallText("thresholds", kw);
  const OptionValues v = ValuesFor(kw, "thresholds", kObjectKeys);
  if (!v.Has("method")) throw InputError("--method", "required");
  ThresholdRunOptions run_options = ThresholdRunOptionsFrom(v);
  const Method method = run_options.method;
  const Target target = run_options.target;
  const bool accuracy_target = run_options.accuracy_target;
  const std::vector<Budget>& budget_text = run_options.budgets;
  const bool horizon_given = run_options.horizon_given;
  SolverOptions& solver = run_options.solver;
  CheckProfile(*d, profile);
  const std::string model = ModelName(v, *d);
  const std::string exits = v.Text("exits");
  std::vector<ResultRow> rows;
  std::string reports;
  std::vector<std::string> notes;
  Dump copy;
  const Dump* dump = &d->dump;
  {
    py::gil_scoped_release release;
    if (v.Bool("calibrate")) {
      copy = d->dump;
      CalibrateIfAsked(v, copy, target);
      dump = &copy;
    }
    const Measure measure = MeasureFor(v, *dump);
    const std::vector<int> kept =
        exits.empty() ? AllExits(dump->k) : ParseKeptExits(exits, dump->k);
    const std::vector<double> budgets = accuracy_target ? std::vector<double>{profile.FullCost()}
                                                        : ResolveBudgets(budget_text, profile);
    DefaultHorizon(*dump, horizon_given, solver);
    ThresholdRowsRequest q;
    q.method = method;
    q.measure = measure;
    q.target = target;
    q.kept = kept;
    q.budgets = budgets;
    q.accuracy_target = accuracy_target;
    q.model = model;
    q.verbose = v.Bool("verbose");
    q.progress = progress.get();
    ThresholdRowsResult run = ThresholdRows(*dump, profile, q, solver);
    rows = std::move(run.rows);
    reports = std::move(run.reports);
    notes = std::move(run.notes);
  }
  progress.Finish();
  if (!reports.empty()) py::module_::import("sys").attr("stderr").attr("write")(reports);
  // The lines the CLI prints on stderr (unsolved budgets, shift-check warnings) go to logging.
  if (!notes.empty()) {
    py::object log = py::module_::import("logging").attr("getLogger")("exitplan");
    for (const std::string& line : notes) log.attr("warning")(line);
  }
  if (v.Has("out")) WriteFileAtomic(v.Text("out"), ResultsToCsv(rows));
  return ResultsOf(rows, *d, *dump, profile, call);
}

// ---------------------------------------------------------------------------------------------
// place

std::vector<PyResult> PlaceVerb(const std::shared_ptr<PyDump>& d, const CostProfile& prof,
                                py::kwargs kw) {
  PyProgress progress(kw, "place");
  const std::string call = CallText("place", kw);
  const OptionValues v = ValuesFor(kw, "place", kObjectKeys);
  PlaceRequest q = PlaceRequestFrom(v);
  PlaceRunOptions& o = q.run;
  CheckProfile(*d, prof);
  o.model = ModelName(v, *d);
  o.progress = progress.get();
  PlaceRunResult res;
  Dump copy;
  const Dump* dump = &d->dump;
  {
    py::gil_scoped_release release;
    if (v.Bool("calibrate")) {
      copy = d->dump;
      CalibrateIfAsked(v, copy, q.target);
      dump = &copy;
    }
    const Measure measure = MeasureFor(v, *dump);
    const PlacementProblem problem = PlaceProblemFor(*dump, prof, measure, q);
    o.budgets = PlaceBudgets(q, prof);
    o.measure = ToString(measure);
    DefaultHorizon(*dump, q.horizon_given, o.solver_options);
    res = RunPlace(problem, o);
  }
  progress.Finish();
  if (o.verbose) py::module_::import("sys").attr("stdout").attr("write")(res.text);
  if (!q.out.empty()) WriteFileAtomic(q.out, ResultsToCsv(res.rows));
  return ResultsOf(res.rows, *d, *dump, prof, call);
}

// ---------------------------------------------------------------------------------------------
// calibrate and inspect

py::dict SplitTable(const SplitData& s) {
  py::dict t;
  std::vector<int> exit;
  std::vector<double> acc, ece, agree;
  for (int j = 0; j < s.k; ++j) {
    exit.push_back(j + 1);
    double a = 0.0;
    for (int i = 0; i < s.n; ++i) a += s.correct(j, i);
    acc.push_back(a / s.n);
    if (s.has_logits()) {
      double g = 0.0;
      for (int i = 0; i < s.n; ++i) g += s.agrees_final(j, i);
      agree.push_back(g / s.n);
      ece.push_back(ExpectedCalibrationError(s.Scores(Measure::kMaxProb), s.correct, j));
    } else {
      agree.push_back(kNaN);
      ece.push_back(kNaN);
    }
  }
  t["exit"] = exit;
  t["accuracy"] = acc;
  t["ece"] = ece;
  t["agree_final"] = agree;
  for (int m = 0; m < kNumMeasures; ++m) {
    const Measure measure = static_cast<Measure>(m);
    if (!s.has(measure)) continue;
    const ScoreMatrix& sc = s.Scores(measure);
    // The CLI's `inspect` computes the same quantiles with the same call.
    const std::vector<std::vector<double>> qs = RowQuantiles(sc, {0.1, 0.5, 0.9});
    std::vector<double> q10, q50, q90;
    for (const std::vector<double>& row : qs) {
      q10.push_back(row[0]);
      q50.push_back(row[1]);
      q90.push_back(row[2]);
    }
    const std::string name = ToString(measure);
    t[py::str(name + "_q10")] = q10;
    t[py::str(name + "_q50")] = q50;
    t[py::str(name + "_q90")] = q90;
  }
  return t;
}

struct PyCalibration {
  CalibrationSummary summary;
  std::map<std::string, std::vector<double>> ece_before, ece_after;  // per split name
  std::vector<std::string> splits;
  std::shared_ptr<PyDump> dump;  // the calibrated copy
};

PyCalibration CalibrateVerb(const std::shared_ptr<PyDump>& d, const std::string& correct) {
  CalibrationOptions co;
  co.use_agreement = TargetFromString(correct, "--correct") == Target::kAgreement;
  PyCalibration c;
  auto copy = std::make_shared<PyDump>(*d);
  {
    py::gil_scoped_release release;
    c.summary = FitTemperatures(d->dump.fit, co);
    std::vector<SplitData*> splits = {&copy->dump.fit};
    if (copy->dump.eval) splits.push_back(&*copy->dump.eval);
    for (SplitData* s : splits) {
      c.splits.push_back(s->name);
      for (int j = 0; j < s->k; ++j) {
        c.ece_before[s->name].push_back(
            ExpectedCalibrationError(s->Scores(Measure::kMaxProb), s->correct, j));
      }
      s->ComputeFeatures(c.summary.temperatures);
      for (int j = 0; j < s->k; ++j) {
        c.ece_after[s->name].push_back(
            ExpectedCalibrationError(s->Scores(Measure::kMaxProb), s->correct, j));
      }
    }
  }
  c.dump = copy;
  return c;
}

// ---------------------------------------------------------------------------------------------
// fit-scorer

struct PyScorerFit {
  EENetSummary summary;
  ScorerFile file;
  std::string threshold_method;
  double budget = 0;
  std::map<std::string, py::dict> figures;  // "eenet val", "max_prob + geometric test", ...
  std::string note;
  bool scorer_better = false;
  std::string text;  // what `exitplan fit-scorer` prints after its budget line
};

PyScorerFit FitScorerVerb(const std::shared_ptr<PyDump>& d_in, const CostProfile& profile,
                          py::kwargs kw) {
  PyProgress progress(kw, "fit_scorer");
  const std::string call = CallText("fit_scorer", kw);
  const OptionValues v = ValuesFor(kw, "fit-scorer", kObjectKeys);
  const FitScorerRequest q = FitScorerRequestFrom(v);
  const std::string out = v.Text("out");
  CheckProfile(*d_in, profile);
  if (!d_in->dump.fit.has_logits()) {
    throw InputError(d_in->dump.fit.source,
                     "fit-scorer needs per-exit logits, but this is a scores-mode dump");
  }
  PyScorerFit r;
  r.budget = FitScorerBudget(q, profile);
  FitScorerResult run;
  {
    py::gil_scoped_release release;
    run = RunFitScorer(d_in->dump, profile, q, progress.get());
  }
  progress.Finish();
  if (!run.warnings.empty()) {
    py::object log = py::module_::import("logging").attr("getLogger")("exitplan");
    for (const std::string& line : run.warnings) log.attr("warning")(line);
  }
  r.summary = run.summary;
  r.threshold_method = run.threshold_method;
  r.note = run.note;
  r.scorer_better = run.scorer_better;
  r.file = run.file;
  r.file.provenance = call + " | seed " + std::to_string(q.eenet.seed);
  for (const FitScorerFigure& f : run.figures) {
    py::dict dd;
    dd["accuracy"] = f.eval.accuracy;
    dd["mean_cost"] = f.eval.mean_cost;
    dd["exit_fractions"] = f.eval.exit_fraction;
    r.figures[f.policy + " " + f.split] = dd;
  }
  r.text = run.Text(false);
  if (!out.empty()) {
    if (!r.summary.ok()) {
      throw InputError("--out", "fit-scorer: " + r.summary.message + " (no scorer written)");
    }
    SaveScorer(out, r.file);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// sweep and export

SweepSummary SweepVerb(const std::string& file, py::kwargs kw) {
  PyProgress progress(kw, "sweep");
  const OptionValues v = ValuesFor(kw, "sweep");
  SweepOptions so;
  so.jobs = v.Int("jobs");
  internal::ParseShard(v.Text("shard"), so.shard_index, so.shard_count);
  so.force = v.Bool("force");
  so.progress = progress.get();
  so.command_line = CallText("sweep", kw);
  if (const std::string bad = so.Validate(); !bad.empty()) throw InputError("exitplan sweep", bad);
  SweepSpec spec = LoadSweepSpec(file);
  if (v.Has("out")) spec.output = v.Text("out");  // the call over the sweep file
  SweepSummary summary;
  {
    py::gil_scoped_release release;
    summary = RunSweep(spec, so);
  }
  progress.Finish();
  return summary;
}

PyPolicy ExportVerb(const std::string& from, py::kwargs kw) {
  const std::string call = CallText("export", kw);
  OptionValues v = ValuesFor(kw, "export", {"from"});
  v.Set("from", from, "report");
  ExportResult r;
  {
    py::gil_scoped_release release;  // solving at a budget may take a while
    r = PlanExport(v, call);
    WriteExport(r);
  }
  PyPolicy p;
  p.config = r.config;
  p.extra_inputs = r.config.inputs;  // already hashed
  p.config.inputs.clear();
  return p;
}

// The rows of a report CSV, each with its policy (exit names and score order from the sweep's
// manifest when there is one), as `exitplan export --row N` would build it.
std::vector<PyResult> ReadReport(const std::string& path) {
  std::vector<PyResult> out;
  const std::vector<ResultRow> rows = ResultsFromCsv(ReadFile(path), path);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    PyResult r;
    r.row = rows[i];
    if (r.row.has_solution() && r.row.measure != "eenet") {
      ConfigContext ctx;
      ctx.report = path;
      ctx.row = static_cast<int>(i);  // 0-based
      ctx.command_line = "exitplan.read_report(" + std::string(py::repr(py::str(path))) + ")";
      if (!SweepReportContext(path, r.row, ctx)) ctx.inputs.clear();
      try {
        PyPolicy p;
        p.config = ConfigFromRow(r.row, ctx);
        r.policy = p;
      } catch (const InputError&) {
        // a row whose thresholds do not fit its kept exits has no policy
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

void BindVerbs(py::module_& m) {
  m.def("evaluate", &EvaluateVerb, py::arg("dump"), py::arg("profile"),
        "`exitplan evaluate`: the exact evaluator's figures of one policy on every split");
  m.def("thresholds", &ThresholdsVerb, py::arg("dump"), py::arg("profile"),
        "`exitplan thresholds`: one Result per budget");
  m.def("place", &PlaceVerb, py::arg("dump"), py::arg("profile"),
        "`exitplan place`: exit placement rows (the CSV of --out)");
  m.def("split_table", &SplitTable);
  m.def("inspect_splits", [](const std::shared_ptr<PyDump>& d) {
    py::list out;
    out.append(py::make_tuple(d->dump.fit.name, SplitTable(d->dump.fit)));
    if (d->dump.eval) out.append(py::make_tuple(d->dump.eval->name, SplitTable(*d->dump.eval)));
    return out;
  });

  py::class_<PyCalibration>(m, "Calibration", "per-exit temperatures fitted on the fit split (NLL)")
      .def_property_readonly("outcome",
                             [](const PyCalibration& c) { return ToString(c.summary.outcome); })
      .def_property_readonly("message", [](const PyCalibration& c) { return c.summary.message; })
      .def_property_readonly("temperatures",
                             [](const PyCalibration& c) { return c.summary.temperatures; })
      .def_property_readonly("nll_before",
                             [](const PyCalibration& c) { return c.summary.nll_before; })
      .def_property_readonly("nll_after",
                             [](const PyCalibration& c) { return c.summary.nll_after; })
      .def_property_readonly("splits", [](const PyCalibration& c) { return c.splits; })
      .def_property_readonly("ece_before", [](const PyCalibration& c) { return c.ece_before; })
      .def_property_readonly("ece_after", [](const PyCalibration& c) { return c.ece_after; })
      .def_property_readonly(
          "dump", [](const PyCalibration& c) { return c.dump; },
          "a copy of the dump whose measures use the temperatures (logits "
          "shared, not copied); its policies carry the temperatures")
      .def("__repr__", [](const PyCalibration& c) {
        return "<exitplan.Calibration " + c.summary.BriefReport() + ">";
      });
  m.def("calibrate", &CalibrateVerb, py::arg("dump"), py::kw_only(), py::arg("correct") = "labels",
        "per-exit temperature scaling (as `inspect --calibrate`)");

  py::class_<PyScorerFit>(m, "ScorerFit", "an EENet scorer trained for one budget")
      .def_property_readonly("outcome",
                             [](const PyScorerFit& r) { return ToString(r.summary.outcome); })
      .def_property_readonly("message", [](const PyScorerFit& r) { return r.summary.message; })
      .def_property_readonly("ok", [](const PyScorerFit& r) { return r.summary.ok(); })
      .def_property_readonly("budget", [](const PyScorerFit& r) { return r.budget; })
      .def_property_readonly("epochs", [](const PyScorerFit& r) { return r.summary.epochs; })
      .def_property_readonly("threshold_method",
                             [](const PyScorerFit& r) { return r.threshold_method; })
      .def_property_readonly("thresholds",
                             [](const PyScorerFit& r) { return r.file.policy.thresholds; })
      .def_property_readonly("fit_acc", [](const PyScorerFit& r) { return r.file.fit_accuracy; })
      .def_property_readonly("fit_cost", [](const PyScorerFit& r) { return r.file.fit_cost; })
      .def_property_readonly(
          "figures", [](const PyScorerFit& r) { return r.figures; },
          "accuracy, mean cost and exit fractions of the scorer and of the "
          "max-prob baselines, keyed 'eenet val', 'max_prob + exact test', ...")
      .def_property_readonly("note", [](const PyScorerFit& r) { return r.note; })
      .def_property_readonly("scorer_better", [](const PyScorerFit& r) { return r.scorer_better; })
      .def_property_readonly(
          "text", [](const PyScorerFit& r) { return r.text; },
          "the report `exitplan fit-scorer` prints (training, thresholds, "
          "figures, summary, note)")
      .def(
          "save",
          [](const PyScorerFit& r, const std::string& path) {
            if (!r.summary.ok()) throw InputError(path, "no scorer to write: " + r.summary.message);
            SaveScorer(path, r.file);
          },
          py::arg("path"),
          "writes the scorer file and its .npz of weights beside it (as `fit-scorer --out`)")
      .def("__repr__", [](const PyScorerFit& r) {
        return "<exitplan.ScorerFit " + r.summary.BriefReport() + ">";
      });
  m.def("fit_scorer", &FitScorerVerb, py::arg("dump"), py::arg("profile"),
        "`exitplan fit-scorer`: an EENet utility scorer and its thresholds for one budget; "
        "progress=f calls f(done, total) after each epoch (an exception it raises stops the "
        "training)");

  py::class_<SweepSummary>(m, "SweepSummary")
      .def_readonly("cells_total", &SweepSummary::cells_total)
      .def_readonly("cells_in_shard", &SweepSummary::cells_in_shard)
      .def_readonly("cells_run", &SweepSummary::cells_run)
      .def_readonly("cells_skipped", &SweepSummary::cells_skipped)
      .def_readonly("cells_failed", &SweepSummary::cells_failed)
      .def_readonly("complete", &SweepSummary::complete)
      .def_readonly("seconds", &SweepSummary::seconds)
      .def_readonly("errors", &SweepSummary::errors)
      .def_readonly("reports", &SweepSummary::reports)
      .def("__repr__",
           [](const SweepSummary& s) { return "<exitplan.SweepSummary " + s.BriefReport() + ">"; });
  m.def("sweep", &SweepVerb, py::arg("file"), "`exitplan sweep FILE.yaml`");
  m.def("export", &ExportVerb, py::arg("report"),
        "`exitplan export --from REPORT.csv`: the Policy of one report row, or of its method "
        "solved at "
        "a budget the report has no row for");
  m.def("read_report", &ReadReport, py::arg("path"),
        "the rows of a Pareto report CSV as Results (with their policies)");
}

}  // namespace exitplan::python
