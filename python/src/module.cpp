// The Python module exitplan._core: dumps from NumPy arrays (read in place) or files, cost
// profiles, result rows and policies. The verbs are in verbs.cpp; python/exitplan/__init__.py
// adds the pure-Python conveniences (tables as pandas DataFrames, logging).
#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "common.hpp"
#include "exitplan/runtime.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"

namespace exitplan::python {
namespace {

namespace fs = std::filesystem;
namespace json = runtime::json;

// ---------------------------------------------------------------------------------------------
// NumPy arrays in and out without copies.

std::string TypeName(py::handle obj) { return py::str(py::type::of(obj).attr("__name__")); }

// Keeps a Python object alive from C++ (an NpyArray's owner); the GIL is taken to release it,
// since the last reference may go on a thread that does not hold it.
std::shared_ptr<const void> HoldPython(py::object obj) {
  auto* held = new py::object(std::move(obj));
  return std::shared_ptr<const void>(held, [](const void* p) {
    if (!Py_IsInitialized()) return;  // interpreter gone: nothing left to release
    py::gil_scoped_acquire gil;
    delete static_cast<const py::object*>(p);
  });
}

// A read-only view of the caller's array as an NpyArray. C- or Fortran-contiguous arrays of a
// dtype exitplan reads (float16/32/64, integers, bool; either byte order) are not copied; a
// strided view (e.g. a[:, ::2]) is made contiguous once.
NpyArray ViewOf(py::handle obj, const std::string& source) {
  if (obj.is_none()) throw InputError(source, "expected an array, found None");
  py::array a = py::array::ensure(obj);
  if (!a) throw InputError(source, "expected a NumPy array, found " + TypeName(obj));
  const char kind = a.dtype().kind();
  const std::string descr = py::str(a.dtype().attr("str"));
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b') {
    throw InputError(
        source, "unsupported dtype '" + descr + "' (expected float16/32/64, integers or bool)");
  }
  const bool c_order = (a.flags() & py::array::c_style) != 0;
  const bool f_order = (a.flags() & py::array::f_style) != 0;
  if (!c_order && !f_order) {
    a = py::module_::import("numpy").attr("ascontiguousarray")(a);
  }
  std::vector<std::size_t> shape(a.shape(), a.shape() + a.ndim());
  const void* data = a.data();
  return NpyArray::View(HoldPython(a), data, descr, std::move(shape), !c_order && f_order, source);
}

// A NumPy array over memory `owner` keeps alive (the array's base holds a copy of it).
py::array ArrayOver(std::shared_ptr<const void> owner, const void* data, const py::dtype& dtype,
                    std::vector<py::ssize_t> shape, std::vector<py::ssize_t> strides) {
  auto* keep = new std::shared_ptr<const void>(std::move(owner));
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<const void>*>(p); });
  py::array out(dtype, shape, strides, data, base);
  out.attr("flags").attr("writeable") = false;
  return out;
}

template <typename Matrix>
py::array MatrixView(const std::shared_ptr<PyDump>& owner, const Matrix& m) {
  using T = typename Matrix::Scalar;
  if (m.size() == 0) return py::none();
  const auto rows = static_cast<py::ssize_t>(m.rows());
  return ArrayOver(
      owner, m.data(), py::dtype::of<T>(), {rows, static_cast<py::ssize_t>(m.cols())},
      {static_cast<py::ssize_t>(sizeof(T)), static_cast<py::ssize_t>(sizeof(T)) * rows});
}

// ---------------------------------------------------------------------------------------------
// Dumps.

std::vector<std::string> FileInputs(const std::string& dir, const DumpOptions& o) {
  std::vector<std::string> files, lines;
  if (!fs::is_directory(dir)) return lines;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    for (const std::string& split : {o.fit_split, o.eval_split}) {
      if (name.rfind(split + "_", 0) == 0 || name == split + ".npz") {
        files.push_back(entry.path().string());
        break;
      }
    }
  }
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    lines.push_back(fs::path(f).filename().string() + " " + Sha256File(f));
  }
  return lines;
}

std::string BytesOf(const NpyArray& a) {
  return std::string(static_cast<const char*>(a.data()), a.size() * a.item_size());
}

// Provenance of an in-memory dump: the SHA-256 of each array's bytes as handed over. What the
// hash needs is captured (the logits buffer is shared, labels and scores are small), so a policy
// can be saved after its dump is gone.
std::function<std::vector<std::string>()> ArrayInputs(const Dump& d) {
  std::vector<std::pair<std::string, NpyArray>> arrays;
  std::vector<std::pair<std::string, std::string>> blobs;
  for (const SplitData* s : {&d.fit, d.eval ? &*d.eval : nullptr}) {
    if (s == nullptr) continue;
    if (s->has_logits()) {
      const NpyArray& a = s->logits_array();
      arrays.emplace_back(a.source() + " (array " + a.Describe() + ")", a);
      blobs.emplace_back(s->name + " labels (array int32 [" + std::to_string(s->n) + "])",
                         std::string(reinterpret_cast<const char*>(s->labels.data()),
                                     s->labels.size() * sizeof(std::int32_t)));
    } else {
      const ScoreMatrix& sc = s->Scores(Measure::kConfidence);
      blobs.emplace_back(
          s->source + " (array float64 [" + std::to_string(s->k) + ", " + std::to_string(s->n) +
              "])",
          std::string(reinterpret_cast<const char*>(sc.data()), sc.size() * sizeof(double)));
    }
  }
  return [arrays, blobs] {
    std::vector<std::string> lines;
    for (const auto& [name, a] : arrays) lines.push_back(name + " " + Sha256Hex(BytesOf(a)));
    for (const auto& [name, bytes] : blobs) lines.push_back(name + " " + Sha256Hex(bytes));
    return lines;
  };
}

DumpOptions OptionsOf(const std::string& fit_split, const std::string& eval_split,
                      const std::string& layout, const std::string& score_order) {
  DumpOptions o;
  o.fit_split = fit_split;
  o.eval_split = eval_split;
  o.layout = LayoutFromString(layout);
  o.score_order = ScoreOrderFromString(score_order);
  return o;
}

std::string Repr(const std::string& s) { return py::repr(py::str(s)); }

std::shared_ptr<PyDump> LoadDumpPy(const std::string& dir, const std::string& fit_split,
                                   std::optional<std::string> eval_split, const std::string& layout,
                                   const std::string& score_order, const std::string& name) {
  auto d = std::make_shared<PyDump>();
  // As --eval-split: a split named explicitly must exist; `none`: no eval split.
  const std::string e = eval_split.value_or("test");
  d->options = OptionsOf(fit_split, e == "none" ? fit_split : e, layout, score_order);
  d->options.require_eval = eval_split.has_value() && e != "none";
  {
    py::gil_scoped_release release;
    d->dump = LoadDump(dir, d->options);
  }
  d->name = name;
  if (d->name.empty()) d->name = fs::path(dir).lexically_normal().filename().string();
  if (d->name.empty()) d->name = fs::path(dir).lexically_normal().parent_path().filename().string();
  d->origin = "exitplan.load_dump(" + Repr(dir) + ")";
  const DumpOptions o = d->options;
  d->inputs = std::make_shared<InputHashes>([dir, o] { return FileInputs(dir, o); });
  return d;
}

std::shared_ptr<PyDump> FromArrays(py::object fit_logits, py::object fit_labels,
                                   py::object eval_logits, py::object eval_labels,
                                   const std::string& layout, const std::string& fit_split,
                                   const std::string& eval_split, const std::string& name) {
  auto d = std::make_shared<PyDump>();
  d->options = OptionsOf(fit_split, eval_split, layout, "descending");
  const std::string f = d->options.fit_split, e = d->options.eval_split;
  if (eval_logits.is_none() != eval_labels.is_none()) {
    throw InputError(eval_logits.is_none() ? e + "_logits" : e + "_labels",
                     "missing (logits-mode dumps need " + e + "_logits and " + e + "_labels)");
  }
  NpyArray fl = ViewOf(fit_logits, f + "_logits"), fb = ViewOf(fit_labels, f + "_labels");
  std::optional<NpyArray> el, eb;
  if (!eval_logits.is_none()) {
    el = ViewOf(eval_logits, e + "_logits");
    eb = ViewOf(eval_labels, e + "_labels");
  }
  {
    py::gil_scoped_release release;
    SplitData fit = SplitFromLogits(std::move(fl), std::move(fb), f, d->options);
    std::optional<SplitData> ev;
    if (el) ev = SplitFromLogits(std::move(*el), std::move(*eb), e, d->options);
    d->dump = DumpFromSplits("", std::move(fit), std::move(ev));
  }
  d->name = name;
  d->origin = "exitplan.Dump.from_arrays(...)";
  d->inputs = std::make_shared<InputHashes>(ArrayInputs(d->dump));
  return d;
}

std::shared_ptr<PyDump> FromScores(py::object fit_confidence, py::object fit_correct,
                                   py::object eval_confidence, py::object eval_correct,
                                   const std::string& score_order, const std::string& fit_split,
                                   const std::string& eval_split, const std::string& name) {
  auto d = std::make_shared<PyDump>();
  d->options = OptionsOf(fit_split, eval_split, "nk", score_order);
  const std::string f = d->options.fit_split, e = d->options.eval_split;
  if (eval_confidence.is_none() != eval_correct.is_none()) {
    throw InputError(
        eval_confidence.is_none() ? e + "_confidence" : e + "_correct",
        "missing (scores-mode dumps need both " + e + "_confidence and " + e + "_correct)");
  }
  NpyArray fc = ViewOf(fit_confidence, f + "_confidence"), fk = ViewOf(fit_correct, f + "_correct");
  std::optional<NpyArray> ec, ek;
  if (!eval_confidence.is_none()) {
    ec = ViewOf(eval_confidence, e + "_confidence");
    ek = ViewOf(eval_correct, e + "_correct");
  }
  {
    py::gil_scoped_release release;
    SplitData fit = SplitFromScores(std::move(fc), std::move(fk), f, d->options);
    std::optional<SplitData> ev;
    if (ec) ev = SplitFromScores(std::move(*ec), std::move(*ek), e, d->options);
    d->dump = DumpFromSplits("", std::move(fit), std::move(ev));
  }
  d->name = name;
  d->origin = "exitplan.Dump.from_scores(...)";
  d->inputs = std::make_shared<InputHashes>(ArrayInputs(d->dump));
  return d;
}

// One split of a dump, as Python sees it (keeps the dump alive).
struct PySplit {
  std::shared_ptr<PyDump> owner;
  const SplitData* split = nullptr;
};

py::array LogitsView(const PySplit& s) {
  if (!s.split->has_logits()) return py::none();
  const NpyArray& a = s.split->logits_array();
  std::vector<py::ssize_t> shape(a.shape().begin(), a.shape().end()), strides(shape.size());
  py::ssize_t step = static_cast<py::ssize_t>(a.item_size());
  if (a.fortran_order()) {
    for (std::size_t d = 0; d < shape.size(); ++d) strides[d] = step, step *= shape[d];
  } else {
    for (std::size_t d = shape.size(); d-- > 0;) strides[d] = step, step *= shape[d];
  }
  return ArrayOver(a.owner(), a.data(), py::dtype(a.descr()), shape, strides);
}

// ---------------------------------------------------------------------------------------------
// Profiles from lists.

CostProfile ProfileFromLists(std::optional<std::vector<double>> backbone,
                             std::optional<std::vector<double>> head,
                             std::optional<std::vector<double>> cumulative, const std::string& unit,
                             const std::string& target,
                             std::optional<std::vector<std::string>> names) {
  const std::string where = "exitplan.Profile";
  CostProfile p;
  p.source = where;
  p.target = target.empty() ? "default" : target;
  const std::vector<std::string> units = KnownUnits();
  if (std::find(units.begin(), units.end(), unit) == units.end()) {
    throw InputError(where, "unknown unit '" + unit +
                                "' (expected ms, us, s, flops, mflops, gflops, mj or relative)");
  }
  p.unit = unit;
  if (backbone.has_value() == cumulative.has_value()) {
    throw InputError(where, "expected exactly one of 'backbone' (with 'head') or 'cumulative'");
  }
  const std::string key = cumulative ? "cumulative" : "backbone";
  p.backbone = cumulative ? *cumulative : *backbone;
  if (p.backbone.empty()) throw InputError(where, key + ": expected a non-empty list of costs");
  p.has_heads = !cumulative;
  if (cumulative && head)
    throw InputError(where, "head: not used with 'cumulative' (heads are inside)");
  p.head = head ? *head : std::vector<double>(p.backbone.size(), 0.0);
  if (p.head.size() != p.backbone.size()) {
    throw InputError(where, "head: " + std::to_string(p.head.size()) + " costs for " +
                                std::to_string(p.backbone.size()) + " exits");
  }
  auto check = [&](const std::vector<double>& v, const std::string& what) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string at = what + "[" + std::to_string(i) + "]";
      if (!std::isfinite(v[i])) throw InputError(where, at + ": must be finite");
      if (v[i] < 0)
        throw InputError(where, at + " = " + FormatDouble(v[i]) + ": costs must be >= 0");
    }
  };
  check(p.backbone, key);
  check(p.head, "head");
  for (std::size_t i = 1; i < p.backbone.size(); ++i) {
    if (p.backbone[i] < p.backbone[i - 1]) {
      throw InputError(where, key + " costs decrease at exit " + std::to_string(i + 1) + " (" +
                                  FormatDouble(p.backbone[i - 1]) + " then " +
                                  FormatDouble(p.backbone[i]) +
                                  "): cumulative costs must be non-decreasing");
    }
  }
  if (names) {
    if (names->size() != p.backbone.size()) {
      throw InputError(where, "names: " + std::to_string(names->size()) + " names for " +
                                  std::to_string(p.backbone.size()) + " exits");
    }
    p.names = *names;
  } else {
    for (std::size_t i = 0; i < p.backbone.size(); ++i) {
      p.names.push_back(cumulative && i + 1 == p.backbone.size() ? "final"
                                                                 : "exit" + std::to_string(i + 1));
    }
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Policies.

runtime::Config RuntimeConfig(const PyPolicy& p) {
  return runtime::ParseConfig(ConfigToJson(p.config), "policy");
}

// Per sample: the 1-based exit and the prediction, decided by include/exitplan/runtime.hpp on
// each exit's logits in turn, as a device would.
py::tuple Apply(const PyPolicy& p, py::object logits_obj, const std::string& layout_text) {
  const runtime::Config config = RuntimeConfig(p);
  const int k = config.num_exits;
  if (config.measure == runtime::Measure::kConfidence) {
    const NpyArray a = ViewOf(logits_obj, "scores");
    if (a.ndim() != 2 || a.shape()[0] != static_cast<std::size_t>(k)) {
      throw InputError("scores",
                       "expected the stored confidences [K, N] with K = " + std::to_string(k) +
                           " (a confidence policy), found " + a.Describe());
    }
    const std::size_t n = a.shape()[1];
    py::array_t<std::int32_t> exits(static_cast<py::ssize_t>(n)),
        preds(static_cast<py::ssize_t>(n));
    std::int32_t* e = exits.mutable_data();
    std::int32_t* q = preds.mutable_data();
    {
      py::gil_scoped_release release;
      runtime::Decider decider(config);
      for (std::size_t i = 0; i < n; ++i) {
        decider.Reset();
        e[i] = k;
        for (int j = 0; j < k; ++j) {
          if (!decider.Runs(j)) continue;
          if (decider.StepScore(j, a.At(static_cast<std::size_t>(j) * n + i))) {
            e[i] = j + 1;
            break;
          }
        }
        q[i] = -1;
      }
    }
    return py::make_tuple(exits, preds);
  }
  const Layout layout = LayoutFromString(layout_text, "layout");
  const NpyArray a = ViewOf(logits_obj, "logits");
  const std::string want = layout == Layout::kNKC ? "[N, K, C]" : "[K, N, C]";
  if (!a.is_float()) {
    throw InputError("logits", "expected float16/32/64 logits, found " + a.Describe());
  }
  if (a.ndim() != 3) {
    throw InputError("logits", "expected a 3-d array " + want + ", found " + a.Describe());
  }
  const std::size_t n = layout == Layout::kNKC ? a.shape()[0] : a.shape()[1];
  const std::size_t ka = layout == Layout::kNKC ? a.shape()[1] : a.shape()[0];
  const std::size_t c = a.shape()[2];
  if (ka != static_cast<std::size_t>(k)) {
    throw InputError("logits", "expected " + want + " with K = " + std::to_string(k) +
                                   " exits (the policy's num_exits), found " + a.Describe());
  }
  if (c < 1) throw InputError("logits", "empty array " + a.Describe());
  py::array_t<std::int32_t> exits(static_cast<py::ssize_t>(n)), preds(static_cast<py::ssize_t>(n));
  std::int32_t* e = exits.mutable_data();
  std::int32_t* q = preds.mutable_data();
  std::string error;
  {
    py::gil_scoped_release release;
    runtime::Decider decider(config);
    std::vector<double> z(c);
    for (std::size_t i = 0; i < n && error.empty(); ++i) {
      decider.Reset();
      e[i] = k;
      q[i] = -1;
      for (int j = 0; j < k; ++j) {
        if (!decider.Runs(j)) continue;
        const std::size_t first = layout == Layout::kNKC ? (i * k + j) * c : (j * n + i) * c;
        a.CopyTo(first, c, z.data());
        bool stop = false;
        try {
          stop = decider.Step(j, z.data(), static_cast<int>(c));
        } catch (const runtime::ConfigError&) {
          error =
              "non-finite logit at exit " + std::to_string(j + 1) + ", sample " + std::to_string(i);
          break;
        }
        q[i] = decider.last_prediction();
        if (stop) {
          e[i] = j + 1;
          break;
        }
      }
    }
  }
  if (!error.empty()) throw InputError("logits", error);
  return py::make_tuple(exits, preds);
}

void SavePolicy(const PyPolicy& p, const std::string& path, std::string format) {
  if (format.empty()) {
    const std::string ext = fs::path(path).extension().string();
    format = ext == ".json" ? "json" : "yaml";
  }
  if (format != "yaml" && format != "json" && format != "both") {
    throw InputError("format", "unknown format '" + format + "' (expected yaml, json or both)");
  }
  if (format == "both") {
    OutputSet both;  // both files or neither
    both.Add(path + ".yaml", p.TextYaml());
    both.Add(path + ".json", p.TextJson());
    both.Commit();
  } else {
    WriteFileAtomic(path, format == "json" ? p.TextJson() : p.TextYaml());
  }
}

// A deployment config file (the JSON twin), checked by the runtime's own reader, as a Policy that
// writes the same fields back.
PyPolicy LoadConfigPy(const std::string& path) {
  const runtime::Config rc = runtime::LoadConfig(path);
  const json::Value root = json::Parser(ReadFile(path), path).ParseDocument();
  auto number = [](const json::Value* v) {
    return v && v->type == json::Value::Type::kNumber ? v->number
                                                      : std::numeric_limits<double>::quiet_NaN();
  };
  auto text = [](const json::Value* v) {
    return v && v->type == json::Value::Type::kString ? v->string : std::string();
  };
  PyPolicy p;
  DeployConfig& c = p.config;
  c.model = rc.model;
  c.target = rc.target;
  c.unit = rc.unit;
  c.method = rc.method;
  c.measure = rc.measure_name;
  c.score_order = rc.ascending ? "ascending" : "descending";
  c.num_exits = rc.num_exits;
  for (const runtime::ExitRule& r : rc.exits) {
    ConfigExit e;
    e.index = r.index;
    e.name = r.name;
    e.measure = rc.measure_name;
    e.temperature = r.temperature;
    e.final = r.final;
    if (!r.final) e.threshold = r.threshold;
    c.exits.push_back(e);
  }
  c.budget = number(root.Find("budget"));
  c.guarantee.level = rc.guarantee_level;
  c.guarantee.bound = rc.guarantee_bound;
  c.guarantee.horizon = rc.horizon;
  c.guarantee.cost_bound = rc.cost_bound;
  c.guarantee.accuracy_bound = rc.accuracy_bound;
  c.guarantee.drop_bound = rc.drop_bound;
  c.shift_p = rc.shift_p;
  c.shift_fired = rc.shift_fired;
  if (const json::Value* ex = root.Find("expected")) {
    c.fit_accuracy = number(ex->Find("fit_accuracy"));
    c.fit_cost = number(ex->Find("fit_cost"));
    c.eval_accuracy = number(ex->Find("eval_accuracy"));
    c.eval_cost = number(ex->Find("eval_cost"));
    if (const json::Value* f = ex->Find("exit_fractions")) {
      for (const json::Value& v : f->array) c.exit_fractions.push_back(number(&v));
    }
  }
  if (const json::Value* pv = root.Find("provenance")) {
    c.exitplan_version = text(pv->Find("exitplan_version"));
    c.command_line = text(pv->Find("command_line"));
    c.report = text(pv->Find("report"));
    c.report_row = static_cast<int>(number(pv->Find("report_row")) == number(pv->Find("report_row"))
                                        ? number(pv->Find("report_row"))
                                        : 0);
    if (const json::Value* in = pv->Find("inputs")) {
      for (const json::Value& v : in->array) {
        p.extra_inputs.push_back(text(v.Find("file")) + " " + text(v.Find("sha256")));
      }
    }
  }
  return p;
}

py::dict EvaluationDict(const Evaluation& ev) {
  py::dict d;
  d["n"] = ev.n;
  d["accuracy"] = ev.accuracy;
  d["mean_cost"] = ev.mean_cost;
  d["exit_fractions"] = ev.exit_fraction;
  d["exit_accuracy"] = ev.exit_accuracy;
  d["exit_counts"] = ev.exit_count;
  return d;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

DeployConfig PyPolicy::WithProvenance() const {
  DeployConfig c = config;
  if (inputs) c.inputs = inputs->Get();
  c.inputs.insert(c.inputs.end(), extra_inputs.begin(), extra_inputs.end());
  return c;
}
std::string PyPolicy::TextYaml() const { return ConfigToYaml(WithProvenance()); }
std::string PyPolicy::TextJson() const { return ConfigToJson(WithProvenance()); }

PyPolicy PolicyOf(const ResultRow& row, const PyDump& dump, const Dump& used,
                  const CostProfile& profile, const std::string& call) {
  ConfigContext ctx;
  ctx.exit_names = profile.names;
  ctx.score_order = ToString(dump.options.score_order);
  const SplitData& fit = used.fit;
  if (fit.has_logits() && row.measure != "confidence") {
    bool calibrated = false;
    for (double t : fit.temperatures) calibrated = calibrated || t != 1.0;
    if (calibrated) ctx.temperatures = fit.temperatures;
  }
  ctx.command_line = call;
  PyPolicy p;
  p.config = ConfigFromRow(row, ctx);
  p.inputs = dump.inputs;
  if (!profile.source.empty() && fs::is_regular_file(profile.source)) {
    p.extra_inputs.push_back(fs::path(profile.source).filename().string() + " " +
                             Sha256File(profile.source));
  }
  return p;
}

std::vector<PyResult> ResultsOf(const std::vector<ResultRow>& rows, const PyDump& dump,
                                const Dump& used, const CostProfile& profile,
                                const std::string& call) {
  std::vector<PyResult> out;
  for (const ResultRow& r : rows) {
    PyResult res;
    res.row = r;
    if (r.has_solution() && r.measure != "eenet" &&
        r.thresholds.size() + 1 == r.kept_exits.size()) {
      res.policy = PolicyOf(r, dump, used, profile, call);
    }
    out.push_back(std::move(res));
  }
  return out;
}

}  // namespace exitplan::python

using namespace exitplan;
using namespace exitplan::python;

PYBIND11_MODULE(_core, m) {
  m.doc() = "exitplan: plan early-exit deployments from per-exit logits and cost profiles";
  m.attr("__version__") = EXITPLAN_VERSION;
  static py::exception<InputError> input_error(m, "InputError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InputError& e) {
      input_error(e.what());
    } catch (const runtime::ConfigError& e) {
      input_error(e.what());
    }
  });

  py::class_<PySplit>(m, "Split", "one split of a dump (the fit or the eval split)")
      .def_property_readonly("name", [](const PySplit& s) { return s.split->name; })
      .def_property_readonly("source", [](const PySplit& s) { return s.split->source; })
      .def_property_readonly("mode", [](const PySplit& s) { return ToString(s.split->mode); })
      .def_property_readonly("n", [](const PySplit& s) { return s.split->n; })
      .def_property_readonly("k", [](const PySplit& s) { return s.split->k; })
      .def_property_readonly("c", [](const PySplit& s) { return s.split->c; })
      .def_property_readonly("temperatures", [](const PySplit& s) { return s.split->temperatures; })
      .def_property_readonly("logits", &LogitsView,
                             "the logits as read (a read-only view of the caller's array or of "
                             "the memory-mapped file: no copy); None in scores mode")
      .def_property_readonly("labels",
                             [](const PySplit& s) -> py::object {
                               if (!s.split->has_logits()) return py::none();
                               return py::array_t<std::int32_t>(
                                   static_cast<py::ssize_t>(s.split->labels.size()),
                                   s.split->labels.data());
                             })
      .def(
          "scores",
          [](const PySplit& s, const std::string& measure) {
            return MatrixView(s.owner, s.split->Scores(MeasureFromString(measure, "measure")));
          },
          py::arg("measure"), "K x N scores of a confidence measure (read-only view)")
      .def_property_readonly("correct",
                             [](const PySplit& s) { return MatrixView(s.owner, s.split->correct); })
      .def_property_readonly(
          "predicted", [](const PySplit& s) { return MatrixView(s.owner, s.split->predicted); })
      .def("__repr__", [](const PySplit& s) {
        return "<exitplan.Split " + s.split->name + ": N=" + std::to_string(s.split->n) +
               " K=" + std::to_string(s.split->k) +
               (s.split->has_logits() ? " C=" + std::to_string(s.split->c) : "") + ", " +
               ToString(s.split->mode) + " mode>";
      });

  py::class_<PyDump, std::shared_ptr<PyDump>>(m, "Dump",
                                              "per-exit outputs of one model on its splits")
      .def_static("from_arrays", &FromArrays, py::arg("fit_logits"), py::arg("fit_labels"),
                  py::arg("eval_logits") = py::none(), py::arg("eval_labels") = py::none(),
                  py::kw_only(), py::arg("layout") = "nk", py::arg("fit_split") = "val",
                  py::arg("eval_split") = "test", py::arg("name") = "model",
                  "a logits-mode dump from arrays [N, K, C] (layout='kn': [K, N, C]) and "
                  "integer labels [N]; the logits are read in place, not copied")
      .def_static("from_scores", &FromScores, py::arg("fit_confidence"), py::arg("fit_correct"),
                  py::arg("eval_confidence") = py::none(), py::arg("eval_correct") = py::none(),
                  py::kw_only(), py::arg("score_order") = "descending",
                  py::arg("fit_split") = "val", py::arg("eval_split") = "test",
                  py::arg("name") = "model",
                  "a scores-mode dump from confidences [K, N] and 0/1 correctness [K, N]")
      .def_property_readonly("k", [](const PyDump& d) { return d.dump.k; })
      .def_property_readonly("c", [](const PyDump& d) { return d.dump.c; })
      .def_property_readonly("mode", [](const PyDump& d) { return ToString(d.dump.mode); })
      .def_property_readonly("dir", [](const PyDump& d) { return d.dump.dir; })
      .def_property(
          "name", [](const PyDump& d) { return d.name; },
          [](PyDump& d, const std::string& n) { d.name = n; })
      .def_property_readonly("score_order",
                             [](const PyDump& d) { return ToString(d.options.score_order); })
      .def_property_readonly("fit",
                             [](const std::shared_ptr<PyDump>& d) {
                               return PySplit{d, &d->dump.fit};
                             })
      .def_property_readonly("eval",
                             [](const std::shared_ptr<PyDump>& d) -> py::object {
                               if (!d->dump.eval) return py::none();
                               return py::cast(PySplit{d, &*d->dump.eval});
                             })
      .def_property_readonly("has_eval", [](const PyDump& d) { return d.dump.has_eval(); })
      .def("__repr__", [](const PyDump& d) {
        std::string s = "<exitplan.Dump " + d.name + ": K=" + std::to_string(d.dump.k);
        if (d.dump.fit.has_logits()) s += " C=" + std::to_string(d.dump.c);
        s += ", " + d.dump.fit.name + " N=" + std::to_string(d.dump.fit.n);
        if (d.dump.eval) s += ", " + d.dump.eval->name + " N=" + std::to_string(d.dump.eval->n);
        return s + ", " + ToString(d.dump.mode) + " mode>";
      });

  m.def("load_dump", &LoadDumpPy, py::arg("dir"), py::kw_only(), py::arg("fit_split") = "val",
        py::arg("eval_split") = py::none(), py::arg("layout") = "nk",
        py::arg("score_order") = "descending", py::arg("name") = "",
        "reads a dump directory as `--dump DIR` does (the .npy files are memory-mapped)");

  py::class_<CostProfile>(m, "Profile", "per-exit costs of one model on one target")
      .def(py::init(&ProfileFromLists), py::kw_only(), py::arg("backbone") = py::none(),
           py::arg("head") = py::none(), py::arg("cumulative") = py::none(), py::arg("unit") = "ms",
           py::arg("target") = "", py::arg("names") = py::none(),
           "a profile from lists: backbone (cumulative up to each exit's attachment point) and "
           "head costs, or cumulative costs that already include every earlier head")
      .def_readonly("source", &CostProfile::source)
      .def_readonly("target", &CostProfile::target)
      .def_readonly("unit", &CostProfile::unit)
      .def_readonly("names", &CostProfile::names)
      .def_readonly("backbone", &CostProfile::backbone)
      .def_readonly("head", &CostProfile::head)
      .def_readonly("has_heads", &CostProfile::has_heads)
      .def_property_readonly("k", &CostProfile::k)
      .def_property_readonly("full_cost", &CostProfile::FullCost)
      .def(
          "stop_costs",
          [](const CostProfile& p, std::optional<std::vector<int>> kept) {
            if (!kept) return p.StopCostsAllKept();
            std::vector<int> k0;
            for (int e : *kept) k0.push_back(e - 1);
            std::string text;
            for (int e : *kept) text += (text.empty() ? "" : ",") + std::to_string(e);
            return p.StopCosts(ParseKeptExits(text, p.k()));
          },
          py::arg("kept_exits") = py::none(),
          "cost of stopping at each exit when `kept_exits` (1-based) are kept")
      .def("__repr__", [](const CostProfile& p) {
        return "<exitplan.Profile " + p.target + ": K=" + std::to_string(p.k()) + ", unit " +
               p.unit + ", full cost " + FormatDouble(p.FullCost()) + ">";
      });
  m.def(
      "load_profile",
      [](const std::string& path, std::optional<std::string> target) {
        return LoadProfile(path, target.value_or(""));
      },
      py::arg("path"), py::arg("target") = py::none(),
      "reads a cost profile YAML (`target=` chooses one of several, as --target does)");
  m.def("load_profiles", &LoadProfiles, py::arg("path"), "every target of a profile file");

  py::class_<PyPolicy>(m, "Policy", "kept exits, stopping rule and thresholds: a deployment config")
      .def_property_readonly("kept_exits",
                             [](const PyPolicy& p) {
                               std::vector<int> k;
                               for (const ConfigExit& e : p.config.exits) k.push_back(e.index + 1);
                               return k;
                             })
      .def_property_readonly("thresholds",
                             [](const PyPolicy& p) {
                               std::vector<double> t;
                               for (const ConfigExit& e : p.config.exits)
                                 if (!e.final) t.push_back(e.threshold);
                               return t;
                             })
      .def_property_readonly("temperatures",
                             [](const PyPolicy& p) {
                               std::vector<double> t;
                               for (const ConfigExit& e : p.config.exits)
                                 t.push_back(e.temperature);
                               return t;
                             })
      .def_property_readonly("exit_names",
                             [](const PyPolicy& p) {
                               std::vector<std::string> t;
                               for (const ConfigExit& e : p.config.exits) t.push_back(e.name);
                               return t;
                             })
      .def_property_readonly("measure", [](const PyPolicy& p) { return p.config.measure; })
      .def_property_readonly("score_order", [](const PyPolicy& p) { return p.config.score_order; })
      .def_property_readonly("num_exits", [](const PyPolicy& p) { return p.config.num_exits; })
      .def_property_readonly("method", [](const PyPolicy& p) { return p.config.method; })
      .def_property_readonly("model", [](const PyPolicy& p) { return p.config.model; })
      .def_property_readonly("target", [](const PyPolicy& p) { return p.config.target; })
      .def_property_readonly("unit", [](const PyPolicy& p) { return p.config.unit; })
      .def_property_readonly("budget", [](const PyPolicy& p) { return p.config.budget; })
      .def_property_readonly("fit_accuracy",
                             [](const PyPolicy& p) { return p.config.fit_accuracy; })
      .def_property_readonly("fit_cost", [](const PyPolicy& p) { return p.config.fit_cost; })
      .def_property_readonly("eval_accuracy",
                             [](const PyPolicy& p) { return p.config.eval_accuracy; })
      .def_property_readonly("eval_cost", [](const PyPolicy& p) { return p.config.eval_cost; })
      .def_property_readonly("exit_fractions",
                             [](const PyPolicy& p) { return p.config.exit_fractions; })
      .def_property_readonly(
          "guarantee",
          [](const PyPolicy& p) -> py::object {
            const GuaranteeReport& g = p.config.guarantee;
            if (!g.on()) return py::none();
            py::dict d;
            d["level"] = g.level;
            d["delta"] = 1.0 - g.level;
            d["bound"] = g.bound;
            d["horizon"] = g.horizon;
            d["cost_bound"] = g.cost_bound;
            d["accuracy_bound"] = g.accuracy_bound;
            d["drop_bound"] = g.drop_bound;
            return d;
          },
          "the config's deployment guarantee as a dict (level, delta, bound, horizon, cost_bound, "
          "accuracy_bound, drop_bound), None without one")
      .def_property_readonly(
          "shift_check",
          [](const PyPolicy& p) -> py::object {
            if (std::isnan(p.config.shift_p)) return py::none();
            py::dict d;
            d["p_value"] = p.config.shift_p;
            d["fired"] = p.config.shift_fired;
            return d;
          },
          "the shift check of the eval split (p_value, fired), None when it was not run")
      .def("apply", &Apply, py::arg("logits"), py::arg("layout") = "nk",
           "per sample: (1-based exit, predicted class) as the C++ runtime decides them on each "
           "exit's logits; logits [N, K, C] (layout='kn': [K, N, C]); for a `confidence` policy "
           "the stored scores [K, N] (predictions are then -1)")
      .def(
          "exits_on",
          [](const PyPolicy& p, const std::shared_ptr<PyDump>& d, const std::string& split) {
            const SplitData* s = &d->dump.fit;
            if (split == "eval" || (d->dump.eval && split == d->dump.eval->name)) {
              if (!d->dump.eval) throw InputError("split", "the dump has no eval split");
              s = &*d->dump.eval;
            } else if (split != "fit" && split != s->name) {
              throw InputError("split", "unknown split '" + split + "' (expected fit, eval, " +
                                            d->dump.fit.name +
                                            (d->dump.eval ? " or " + d->dump.eval->name : "") +
                                            ")");
            }
            if (p.config.num_exits != s->k) {
              throw InputError("split", "the dump has K = " + std::to_string(s->k) +
                                            ", the policy " + std::to_string(p.config.num_exits));
            }
            const Measure m = MeasureFromString(p.config.measure, "measure");
            Policy pol;
            for (const ConfigExit& e : p.config.exits) {
              pol.kept.push_back(e.index);
              if (!e.final) pol.thresholds.push_back(e.threshold);
            }
            std::vector<int> ex = ExitOfSamples(s->Scores(m), s->Order(m), pol);
            for (int& e : ex) ++e;
            return ex;
          },
          py::arg("dump"), py::arg("split") = "eval",
          "per sample: the 1-based exit the exact evaluator stops at on a dump's split")
      .def("to_yaml", &PyPolicy::TextYaml, "the config as `exitplan export` writes it (YAML)")
      .def("to_json", &PyPolicy::TextJson,
           "the config as `exitplan export --format json` writes it")
      .def("save", &SavePolicy, py::arg("path"), py::arg("format") = "",
           "writes the deployment config (format yaml, json, or both = path.yaml and path.json; "
           "default: json for a .json path, else yaml), atomically")
      .def("__repr__", [](const PyPolicy& p) {
        std::string k, t;
        for (const ConfigExit& e : p.config.exits) {
          k += (k.empty() ? "" : ",") + std::to_string(e.index + 1);
          if (!e.final) t += (t.empty() ? "" : ",") + FormatDouble(e.threshold);
        }
        return "<exitplan.Policy " + p.config.measure + " kept_exits=[" + k + "] thresholds=[" + t +
               "]>";
      });

  py::class_<PyResult>(m, "Result", "one row of a Pareto report (the CSV columns as fields)")
      .def_property_readonly("model", [](const PyResult& r) { return r.row.model; })
      .def_property_readonly("target", [](const PyResult& r) { return r.row.target; })
      .def_property_readonly("unit", [](const PyResult& r) { return r.row.unit; })
      .def_property_readonly("method", [](const PyResult& r) { return r.row.method; })
      .def_property_readonly("measure", [](const PyResult& r) { return r.row.measure; })
      .def_property_readonly("kept_exits",
                             [](const PyResult& r) {
                               std::vector<int> k;
                               for (int e : r.row.kept_exits) k.push_back(e + 1);
                               return k;
                             })
      .def_property_readonly("budget", [](const PyResult& r) { return r.row.budget; })
      .def_property_readonly("thresholds", [](const PyResult& r) { return r.row.thresholds; })
      .def_property_readonly("fit_acc", [](const PyResult& r) { return r.row.fit_acc; })
      .def_property_readonly("fit_cost", [](const PyResult& r) { return r.row.fit_cost; })
      .def_property_readonly("eval_acc", [](const PyResult& r) { return r.row.eval_acc; })
      .def_property_readonly("eval_cost", [](const PyResult& r) { return r.row.eval_cost; })
      .def_property_readonly("exit_fractions",
                             [](const PyResult& r) { return r.row.exit_fractions; })
      .def_property_readonly("pareto", [](const PyResult& r) { return r.row.pareto; })
      .def_property_readonly("seconds", [](const PyResult& r) { return r.row.seconds; })
      .def_property_readonly("outcome", [](const PyResult& r) { return r.row.outcome; })
      .def_property_readonly("message", [](const PyResult& r) { return r.row.message; })
      .def_property_readonly(
          "guarantee",
          [](const PyResult& r) -> py::object {
            if (!r.row.guarantee.on()) return py::none();
            return py::float_(r.row.guarantee.level);
          },
          "1 - delta of the row's deployment guarantee, None without one")
      .def_property_readonly(
          "guarantee_bound",
          [](const PyResult& r) -> py::object {
            if (!r.row.guarantee.on()) return py::none();
            return py::str(r.row.guarantee.bound);
          },
          "the bound used: wsr, wsr-unrounded or hoeffding-bentkus (the calibration test is named "
          "in the message), None without a guarantee")
      .def_property_readonly(
          "horizon",
          [](const PyResult& r) -> py::object {
            if (!r.row.guarantee.on()) return py::none();
            return py::float_(r.row.guarantee.horizon);
          },
          "deployed samples M the guarantee is over (inf: the population mean)")
      .def_property_readonly(
          "cost_bound",
          [](const PyResult& r) {
            return r.row.guarantee.on() ? r.row.guarantee.cost_bound
                                        : std::numeric_limits<double>::quiet_NaN();
          },
          "certified upper bound on the deployed mean cost (NaN: none)")
      .def_property_readonly(
          "accuracy_bound",
          [](const PyResult& r) {
            return r.row.guarantee.on() ? r.row.guarantee.accuracy_bound
                                        : std::numeric_limits<double>::quiet_NaN();
          },
          "certified lower bound on the deployed accuracy (NaN: none)")
      .def_property_readonly(
          "drop_bound",
          [](const PyResult& r) {
            return r.row.guarantee.on() ? r.row.guarantee.drop_bound
                                        : std::numeric_limits<double>::quiet_NaN();
          },
          "accuracy-drop mode: the guaranteed bound on the drop (NaN: none)")
      .def_property_readonly(
          "shift_p", [](const PyResult& r) { return r.row.shift_p; },
          "p-value of the shift check (NaN when not run)")
      .def_property_readonly(
          "shift_fired",
          [](const PyResult& r) -> py::object {
            if (std::isnan(r.row.shift_p)) return py::none();
            return py::bool_(r.row.shift_fired);
          },
          "whether the shift check fired (None when not run)")
      .def_property_readonly("within_budget",
                             [](const PyResult& r) { return r.row.within_budget(); })
      .def_property_readonly("budget_fraction",
                             [](const PyResult& r) { return r.row.budget_fraction(); })
      .def_property_readonly(
          "has_policy", [](const PyResult& r) { return r.row.has_policy(); },
          "a policy and its fit figures are filled (it may be over its budget)")
      .def_property_readonly(
          "has_solution", [](const PyResult& r) { return r.row.has_solution(); },
          "a policy within its budget: what the front and configs use")
      .def_property_readonly(
          "policy",
          [](const PyResult& r) -> py::object {
            if (!r.policy) return py::none();
            return py::cast(*r.policy);
          },
          "the policy of this row (None without a solution)")
      .def("__repr__", [](const PyResult& r) {
        std::ostringstream s;
        s << "<exitplan.Result " << r.row.method << " " << r.row.measure << " budget "
          << FormatDouble(r.row.budget) << ": " << r.row.outcome;
        if (r.row.has_solution()) {
          s << ", fit_acc " << FormatDouble(r.row.fit_acc) << ", fit_cost "
            << FormatDouble(r.row.fit_cost);
        }
        return s.str() + ">";
      });
  m.attr("RESULT_COLUMNS") = ResultColumns();
  m.def(
      "results_to_csv",
      [](const std::vector<PyResult>& rs) {
        std::vector<ResultRow> rows;
        for (const PyResult& r : rs) rows.push_back(r.row);
        return ResultsToCsv(rows);
      },
      py::arg("results"), "the rows as the Pareto CSV the CLI writes");
  m.def("evaluation_dict", &EvaluationDict);
  m.def("load_config", &LoadConfigPy, py::arg("path"),
        "a deployment config (the JSON twin `exitplan export` writes) as a Policy, read and "
        "checked by the C++ runtime's reader");

  BindVerbs(m);
}
