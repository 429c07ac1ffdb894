#include "dse/options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <sstream>

#include "profiles/error.hpp"
#include "profiles/types.hpp"

namespace exitplan {

std::string ToString(OptionType type) {
  switch (type) {
    case OptionType::kSwitch:
      return "switch";
    case OptionType::kInt:
      return "integer";
    case OptionType::kDouble:
      return "number";
    case OptionType::kFraction:
      return "fraction";
    case OptionType::kText:
      return "text";
    case OptionType::kChoice:
      return "choice";
    case OptionType::kList:
      return "list";
    case OptionType::kBudgets:
      return "budgets";
    case OptionType::kEntries:
      return "list of mappings";
  }
  return "?";
}

namespace {

using T = OptionType;

// Method groups (the names of optim/solve.hpp and dse/placement.hpp).
const std::vector<std::string> kThresholdMethods = {"geometric", "geometric-quantile", "single",
                                                    "ippp",      "ippp-nlopt",         "exact"};
const std::vector<std::string> kSearchMethods = {"greedy-forward", "greedy-backward", "exhaustive"};
const std::vector<std::string> kRuleMethods = {"flop-score", "greedy-th", "greedy-efficiency"};

std::vector<std::string> Join(std::initializer_list<std::vector<std::string>> groups) {
  std::vector<std::string> out;
  for (const auto& g : groups) out.insert(out.end(), g.begin(), g.end());
  return out;
}

const std::vector<std::string> kDumpCommands = {"inspect", "evaluate", "thresholds", "place",
                                                "fit-scorer"};
// Commands whose threshold solver takes the threshold methods' options: thresholds (--method)
// and place (--solver).
const std::vector<std::string> kSolverCommands = {"thresholds", "place"};
const std::vector<std::string> kBudgetCommands = {"thresholds", "place", "fit-scorer", "export"};
const std::vector<std::string> kAllCommands = {"inspect",    "evaluate", "thresholds", "place",
                                               "fit-scorer", "sweep",    "merge",      "export"};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A whole-text number (std::from_chars: locale-free, no hex, no leading '+').
bool ParseNumber(const std::string& text, double& v) {
  if (text.empty()) return false;
  const auto r =
      std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::general);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

bool ParseSwitch(const std::string& text, bool& v) {
  const std::string t = Lower(text);
  if (t == "true" || t == "yes" || t == "1") return v = true, true;
  if (t == "false" || t == "no" || t == "0") return v = false, true;
  return false;
}

std::string Num(double v) { return std::isnan(v) ? "auto" : FormatDouble(v); }

// The table builder: one call chain per option.
struct Decl {
  OptionSpec s;
  Decl(const std::string& key, OptionType type, const std::string& help) {
    s.key = key;
    s.type = type;
    s.help = help;
  }
  Decl& Short(const std::string& f) { return s.short_flag = f, *this; }
  Decl& Commands(const std::vector<std::string>& c) { return s.commands = c, *this; }
  Decl& Methods(const std::vector<std::string>& m) { return s.methods = m, *this; }
  Decl& Sweep() { return s.sweep_key = true, *this; }
  Decl& SweepFile(const std::string& key, bool required = false) {
    s.sweep_file_key = key;
    s.sweep_file_required = required;
    return *this;
  }
  Decl& Default(const std::string& d) { return s.default_text = d, *this; }
  Decl& Choices(const std::vector<std::string>& c) { return s.choices = c, *this; }
  Decl& Min(double v, bool open = false) { return s.min = v, s.min_open = open, *this; }
  Decl& Max(double v, bool open = false) { return s.max = v, s.max_open = open, *this; }
  Decl& Auto() { return s.nan_allowed = true, *this; }
  Decl& Double(std::function<double&(MethodSettings&)> f) {
    s.set = [f](MethodSettings& m, const std::string& t) {
      double v = std::nan("");
      if (t != "auto" && t != "off") {
        if (t.back() == '%') {
          ParseNumber(t.substr(0, t.size() - 1), v);
          v /= 100.0;
        } else {
          ParseNumber(t, v);
        }
      }
      f(m) = v;
    };
    s.get = [f](const MethodSettings& m) {
      MethodSettings c = m;
      return Num(f(c));
    };
    return *this;
  }
  Decl& Int(std::function<int&(MethodSettings&)> f) {
    s.set = [f](MethodSettings& m, const std::string& t) {
      double v = 0;
      ParseNumber(t, v);
      f(m) = static_cast<int>(v);
    };
    s.get = [f](const MethodSettings& m) {
      MethodSettings c = m;
      return std::to_string(f(c));
    };
    return *this;
  }
  Decl& Switch(std::function<bool&(MethodSettings&)> f) {
    s.set = [f](MethodSettings& m, const std::string& t) {
      bool v = false;
      ParseSwitch(t, v);
      f(m) = v;
    };
    s.get = [f](const MethodSettings& m) {
      MethodSettings c = m;
      return std::string(f(c) ? "true" : "false");
    };
    return *this;
  }
  Decl& Text(std::function<std::string&(MethodSettings&)> f) {
    s.set = [f](MethodSettings& m, const std::string& t) { f(m) = t; };
    s.get = [f](const MethodSettings& m) {
      MethodSettings c = m;
      return f(c);
    };
    return *this;
  }
};

std::vector<OptionSpec> Build() {
  std::vector<Decl> d;
  auto opt = [&](const std::string& key, OptionType type, const std::string& help) -> Decl& {
    d.emplace_back(key, type, help);
    return d.back();
  };
  const std::vector<std::string> measures = MeasureNames();

  // ---- inputs ---------------------------------------------------------------------------------
  opt("dump", T::kText,
      "dump directory: <split>_logits.npy + <split>_labels.npy, <split>.npz (members logits, "
      "labels), or <split>_confidence.npy + <split>_correct.npy (scores mode); see "
      "docs/formats.md; "
      "export: solve at --budget on it (a report not written by a sweep)")
      .Commands(Join({kDumpCommands, {"export"}}))
      .Sweep();
  opt("fit_split", T::kText, "split the policy is chosen on")
      .Default("val")
      .Commands(Join({kDumpCommands, {"export"}}))
      .Sweep()
      .SweepFile("fit_split");
  opt("eval_split", T::kText,
      "split that only measures the policy; the default is used when present, a split given "
      "explicitly must exist; none: no eval split")
      .Default("test")
      .Commands(Join({kDumpCommands, {"export"}}))
      .Sweep()
      .SweepFile("eval_split");
  opt("layout", T::kChoice, "logits axis order: nk = [N, K, C], kn = [K, N, C]")
      .Choices({"nk", "kn"})
      .Default("nk")
      .Commands(Join({kDumpCommands, {"export"}}))
      .Sweep();
  opt("score_order", T::kChoice,
      "scores mode: descending (larger is more confident, stop if score >= t) or ascending (stop "
      "if score < t)")
      .Choices({"descending", "ascending"})
      .Default("descending")
      .Commands(Join({kDumpCommands, {"export"}}))
      .Sweep();
  opt("cache", T::kSwitch,
      "read and write the logits feature cache ($EXITPLAN_CACHE_DIR, else "
      "$XDG_CACHE_HOME/exitplan or ~/.cache/exitplan; logits files of 64 MiB or more)")
      .Default("true")
      .Commands(Join({kDumpCommands, {"export"}}));
  opt("profile", T::kText, "cost profile YAML (docs/formats.md)")
      .Commands(Join({kDumpCommands, {"export"}}))
      .Sweep();
  opt("target", T::kText, "target inside a multi-target profile")
      .Commands(Join({kDumpCommands, {"export"}}))
      .Sweep();
  opt("model", T::kText, "model name for reports (default: the dump folder's name)")
      .Commands({"thresholds", "place"});

  // ---- what is solved ----------------------------------------------------------------------
  opt("method", T::kList,
      "thresholds: one threshold method (geometric, geometric-quantile, single, ippp, ippp-nlopt, "
      "exact); place: comma-separated placement methods (flop-score, greedy-efficiency, "
      "greedy-th, greedy-forward, greedy-backward, exhaustive); export: the report's method column")
      .Commands({"thresholds", "place", "export"})
      .Sweep();
  std::string measure_list;
  for (const std::string& m : measures) measure_list += (measure_list.empty() ? "" : ", ") + m;
  opt("measure", T::kText,
      "confidence measure: " + measure_list +
          " (default: max_prob, or confidence for "
          "scores-mode dumps; export: the report's measure column, e.g. eenet); a sweep method "
          "takes "
          "a list (measures:)")
      .Commands({"evaluate", "thresholds", "place", "export"})
      .Sweep();
  opt("correct", T::kChoice, "correctness target: labels, or agreement with the final exit")
      .Choices({"labels", "agreement"})
      .Default("labels")
      .Commands({"evaluate", "thresholds", "place", "fit-scorer", "export"})
      .Sweep();
  opt("exits", T::kList,
      "kept exits, 1-based and ascending, e.g. 2,4 (default: all; the final exit is always kept)")
      .Commands({"evaluate", "thresholds"})
      .Sweep();
  opt("calibrate", T::kSwitch,
      "fit per-exit temperatures on the fit split (NLL) first; every measure then comes from "
      "the calibrated probabilities")
      .Default("false")
      .Commands({"inspect", "evaluate", "thresholds", "place", "fit-scorer", "export"})
      .Sweep();
  opt("thresholds", T::kList,
      "comma-separated thresholds, one per kept exit before the final, in the order of --exits "
      "(a final one may be given and is ignored)")
      .Commands({"evaluate"});
  opt("scorer", T::kText,
      "EENet scorer file from fit-scorer: scores from the scorer, thresholds from the file "
      "unless --thresholds is given")
      .Commands({"evaluate"});

  // ---- budgets -------------------------------------------------------------------------------
  opt("budget", T::kBudgets,
      std::string("mean cost budget per sample: ") + kBudgetGrammar +
          " (a sweep file: budgets, a list of these or one string)")
      .Commands(kBudgetCommands)
      .Sweep()
      .SweepFile("budgets", true);
  opt("accuracy_drop", T::kFraction,
      "accuracy-target mode: minimise the mean cost subject to fit accuracy >= final-exit "
      "accuracy - this drop (0.005 or 0.5%); budgets are then not needed")
      .Default("off")
      .Auto()
      .Commands({"thresholds"})
      .Methods(Join({kThresholdMethods, kSearchMethods}))
      .Double([](MethodSettings& m) -> double& { return m.solver.accuracy_drop; });
  opt("budget_margin", T::kDouble,
      "confidence level (e.g. 0.95) of a bootstrap upper bound on the fit distribution's mean "
      "cost: the fit budget is tightened by (bound - mean). It bounds the true mean, not the mean "
      "of a fresh sample (about sqrt(2) times more variable for an eval split of the fit split's "
      "size), with no finite-sample guarantee (--guarantee has one); 0 = off")
      .Min(0)
      .Max(1, true)
      .Commands(kSolverCommands)
      .Methods(Join({kThresholdMethods, kSearchMethods}))
      .Double([](MethodSettings& m) -> double& { return m.solver.budget_margin; });
  opt("margin_resamples", T::kInt, "bootstrap resamples of --budget-margin")
      .Min(100)
      .Commands(kSolverCommands)
      .Methods(Join({kThresholdMethods, kSearchMethods}))
      .Int([](MethodSettings& m) -> int& { return m.solver.margin_resamples; });
  opt("margin_rounds", T::kInt, "re-solves of --budget-margin (the margin depends on the policy)")
      .Min(1)
      .Commands(kSolverCommands)
      .Methods(Join({kThresholdMethods, kSearchMethods}))
      .Int([](MethodSettings& m) -> int& { return m.solver.margin_rounds; });
  opt("target_iters", T::kInt, "bisection steps on the budget in accuracy-target mode")
      .Min(1)
      .Commands({"thresholds"})
      .Methods(Join({kThresholdMethods, kSearchMethods}))
      .Int([](MethodSettings& m) -> int& { return m.solver.target_iters; });
  // The deployment guarantee (docs/guarantees.md). With a placement search (place, sweep
  // methods greedy-forward, greedy-backward, exhaustive) the search runs on the search part only
  // and the chosen kept set is certified on the calibration part (dse/place_run.hpp).
  opt("guarantee", T::kDouble,
      "1 - delta (e.g. 0.95): with this probability over the fit split and the next --horizon "
      "deployed samples (i.i.d.), their mean cost is <= the budget (with --accuracy-drop: their "
      "accuracy >= their final-exit accuracy - the drop); place: the kept set is searched on the "
      "search part, its thresholds certified; 0 = off; see docs/guarantees.md")
      .Min(0)
      .Max(1, true)
      .Commands(kSolverCommands)
      .Methods(Join({kThresholdMethods, kSearchMethods}))
      .Double([](MethodSettings& m) -> double& { return m.solver.guarantee.level; });
  opt("horizon", T::kText,
      "--guarantee: number of deployed samples M the mean is taken over, or inf for the "
      "population mean")
      .Default("the eval split's size, inf without one")
      .Commands(kSolverCommands)
      .Methods(Join({kThresholdMethods, kSearchMethods}));
  opt("guarantee_bound", T::kChoice,
      "--guarantee: test on the calibration part, wsr (one bound on the next M samples: the "
      "best of Waudby-Smith & Ramdas-style betting and mean tests, in budget mode also a "
      "stratified-binomial test of the losses rounded against fixed midpoints), wsr-unrounded "
      "(wsr without the stratified-binomial test) or hoeffding-bentkus")
      .Choices({"wsr", "wsr-unrounded", "hoeffding-bentkus"})
      .Default("wsr")
      .Commands(kSolverCommands)
      .Methods(Join({kThresholdMethods, kSearchMethods}));
  opt("search_fraction", T::kDouble,
      "--guarantee: share of the fit split the method searches on; the rest calibrates (split "
      "at random with --seed); auto = 0.8 for exact in budget mode (with >= 8,333 fit "
      "samples: 0.6 where the budget binds hard enough that the larger calibration part is "
      "predicted to pay, 0.9 where it does not bind even at the smaller calibration part's "
      "wider gap; chosen on the first 0.6 part alone), 0.1 (a pilot part) for "
      "single in budget mode with a finite horizon or hoeffding-bentkus, else 0.5 (placement "
      "searches: 0.5 with single)")
      .Default("auto")
      .Auto()
      .Min(0, true)
      .Max(1, true)
      .Commands(kSolverCommands)
      .Methods(Join({kThresholdMethods, kSearchMethods}))
      .Double([](MethodSettings& m) -> double& { return m.solver.guarantee.search_fraction; });
  opt("feasibility_rounds", T::kInt,
      "tighten-and-resolve rounds for an answer over the budget on the fit split (still over: "
      "outcome over_budget); 0 = the method's raw answer")
      .Min(0)
      .Commands({"thresholds"})
      .Methods(Join({kThresholdMethods, kSearchMethods}))
      .Int([](MethodSettings& m) -> int& { return m.solver.feasibility_rounds; });
  opt("ippp_settings", T::kChoice,
      "default (with the feasibility step) or paper (Tan et al., AAAI 2021: iPPP's raw answers, "
      "feasibility_rounds 0)")
      .Choices({"default", "paper"})
      .Default("default")
      .Commands({"thresholds"});

  // ---- output and running ------------------------------------------------------------------
  opt("out", T::kText,
      "file to write (thresholds, place: a Pareto CSV, the plot beside it; fit-scorer: the "
      "scorer YAML, its weights beside it as .npz; export: the config) or directory (sweep, "
      "merge)")
      .Short("-o")
      .Commands({"thresholds", "place", "fit-scorer", "export", "sweep", "merge"})
      .Sweep()
      .SweepFile("output", true);
  opt("format", T::kText,
      "output format: text or csv (evaluate, thresholds); yaml, json or both (export; default: the "
      "extension of --out, .json or .yaml/.yml)")
      .Commands({"evaluate", "thresholds", "export"});
  opt("verbose", T::kSwitch,
      "more detail where there is any: each solve's full report (thresholds, fit-scorer), the "
      "greedy rules' per-exit decisions (place), every failed cell (sweep)")
      .Short("-v")
      .Default("false")
      .Commands(kAllCommands);
  opt("quiet", T::kSwitch,
      "no progress or information lines (full cost, calibration summary, progress of long "
      "work, on stderr or stdout), only results and errors")
      .Short("-q")
      .Default("false")
      .Commands(kAllCommands);
  opt("jobs", T::kInt, "worker threads, 0 = all cores (results do not depend on it)")
      .Short("-j")
      .Min(0)
      .Default("0")
      .Commands({"place", "sweep"});
  opt("seed", T::kInt,
      "master seed of every random stream (bootstrap resamples; the guarantee's search / "
      "calibration split; EENet initialisation, holdout split and batch order)")
      .Min(0)
      .Max(4294967295.0)
      .Commands({"thresholds", "place", "fit-scorer"})
      .Methods(Join({kThresholdMethods, kSearchMethods, {"eenet"}}));
  // (seed's binding is below: it writes both SolverOptions::seed and EENetOptions::seed.)
  opt("shard", T::kText,
      "run only share I of N (1 <= I <= N, e.g. $SLURM_ARRAY_TASK_ID/4); join the outputs with "
      "exitplan merge")
      .Default("1/1")
      .Commands({"sweep"});
  opt("force", T::kSwitch, "recompute every cell even when its result exists")
      .Default("false")
      .Commands({"sweep"});
  // The rest of a sweep file's top level (docs/sweeps.md); an unknown or misspelled top-level
  // key is refused when the file is read, with its line.
  opt("configs", T::kSwitch, "sweep file: write a deployment config per Pareto-front row")
      .Default("false")
      .SweepFile("configs");
  opt("models", T::kEntries,
      "sweep file: the models, each {name, dump, profile, target or targets, layout, "
      "score_order}")
      .SweepFile("models", true);
  opt("methods", T::kEntries,
      "sweep file: the methods, each {method, label, measure or measures, correct, exits, "
      "options, calibrate}")
      .SweepFile("methods", true);

  opt("from", T::kText, "export: the report CSV to take the row from (a sweep's reports/*.csv)")
      .Commands({"export"});
  opt("row", T::kInt,
      "export: the 0-based data row of the CSV (the index pandas.read_csv gives it)")
      .Min(0)
      .Commands({"export"});
  opt("allow_over_budget", T::kSwitch,
      "export: write the config of a row whose fit cost exceeds its budget (outcome over_budget)")
      .Default("false")
      .Commands({"export"});

  // ---- threshold methods -------------------------------------------------------------------
  opt("box_lo", T::kDouble,
      "low end of the measure's range (thresholds are projected onto [box_lo, box_hi] by iPPP); "
      "auto: [0, 1] if every score lies in it, else [-1, 0] likewise, else the data's range")
      .Auto()
      .Commands(kSolverCommands)
      .Methods(Join({kThresholdMethods, kSearchMethods}))
      .Double([](MethodSettings& m) -> double& { return m.solver.box_lo; });
  opt("box_hi", T::kDouble, "high end of the measure's range (see box_lo)")
      .Auto()
      .Commands(kSolverCommands)
      .Methods(Join({kThresholdMethods, kSearchMethods}))
      .Double([](MethodSettings& m) -> double& { return m.solver.box_hi; });
  opt("quantile_p_step", T::kDouble, "geometric-quantile: grid step of p")
      .Min(0, true)
      .Max(1)
      .Commands(kSolverCommands)
      .Methods({"geometric-quantile", "exact"})
      .Double([](MethodSettings& m) -> double& { return m.solver.geometric.quantile_p_step; });
  const std::vector<std::string> ippp_users = {"ippp", "exact"};
  opt("steepness", T::kDouble, "ippp, ippp-nlopt: sigmoid slope k per unit of score")
      .Min(0, true)
      .Commands(kSolverCommands)
      .Methods({"ippp", "ippp-nlopt", "exact"})
      .Double([](MethodSettings& m) -> double& { return m.solver.ippp.steepness; });
  opt("beta", T::kDouble,
      "ippp: penalty weight in raw cost units; auto = beta_scale / (cost span)^2")
      .Auto()
      .Min(0)
      .Commands(kSolverCommands)
      .Methods(ippp_users)
      .Double([](MethodSettings& m) -> double& { return m.solver.ippp.beta; });
  opt("beta_scale", T::kDouble, "ippp: the automatic beta is beta_scale / (cost span)^2")
      .Min(0, true)
      .Commands(kSolverCommands)
      .Methods(ippp_users)
      .Double([](MethodSettings& m) -> double& { return m.solver.ippp.beta_scale; });
  opt("gamma", T::kDouble, "ippp: proximal weight")
      .Min(0, true)
      .Commands(kSolverCommands)
      .Methods(ippp_users)
      .Double([](MethodSettings& m) -> double& { return m.solver.ippp.gamma; });
  opt("outer_iters", T::kInt, "ippp: outer iterations T")
      .Min(1)
      .Commands(kSolverCommands)
      .Methods(ippp_users)
      .Int([](MethodSettings& m) -> int& { return m.solver.ippp.outer_iters; });
  opt("inner_iters", T::kInt, "ippp: inner iterations J")
      .Min(1)
      .Commands(kSolverCommands)
      .Methods(ippp_users)
      .Int([](MethodSettings& m) -> int& { return m.solver.ippp.inner_iters; });
  opt("eta", T::kDouble, "ippp: smoothness, step 1/eta; must exceed mu")
      .Min(0, true)
      .Commands(kSolverCommands)
      .Methods(ippp_users)
      .Double([](MethodSettings& m) -> double& { return m.solver.ippp.eta; });
  opt("mu", T::kDouble, "ippp: strong convexity, momentum (eta - mu)/(eta + mu)")
      .Min(0, true)
      .Commands(kSolverCommands)
      .Methods(ippp_users)
      .Double([](MethodSettings& m) -> double& { return m.solver.ippp.mu; });
  opt("ippp_precision", T::kChoice,
      "ippp: arithmetic of the iteration, single (float, about 2x faster) or double")
      .Choices({"single", "double"})
      .Commands(kSolverCommands)
      .Methods(ippp_users)
      .Text([](MethodSettings& m) -> std::string& { return m.solver.ippp.precision; });
  opt("warm_start", T::kSwitch,
      "ippp, ippp-nlopt: start from one shared threshold fitted to the smoothed cost (off: from "
      "--initial)")
      .Commands(kSolverCommands)
      .Methods({"ippp", "ippp-nlopt", "exact"})
      .Switch([](MethodSettings& m) -> bool& { return m.solver.ippp.warm_start; });
  opt("initial", T::kList,
      "ippp, ippp-nlopt: start from these thresholds (one per kept exit before the final) "
      "instead of the warm start")
      .Commands({"thresholds"})
      .Methods({"ippp", "ippp-nlopt"});
  opt("nlopt_algorithm", T::kChoice, "ippp-nlopt: the NLopt algorithm")
      .Choices({"slsqp", "mma", "auglag-lbfgs"})
      .Commands(kSolverCommands)
      .Methods({"ippp-nlopt"})
      .Text([](MethodSettings& m) -> std::string& { return m.solver.ippp.nlopt_algorithm; });
  opt("nlopt_xtol", T::kDouble, "ippp-nlopt: relative tolerance on the thresholds")
      .Min(0, true)
      .Commands(kSolverCommands)
      .Methods({"ippp-nlopt"})
      .Double([](MethodSettings& m) -> double& { return m.solver.ippp.nlopt_xtol; });
  opt("nlopt_max_evals", T::kInt, "ippp-nlopt: evaluation limit")
      .Min(1)
      .Commands(kSolverCommands)
      .Methods({"ippp-nlopt"})
      .Int([](MethodSettings& m) -> int& { return m.solver.ippp.nlopt_max_evals; });
  opt("lambda_iters", T::kInt, "exact: bisection steps on lambda (0 = no Lagrangian start)")
      .Min(0)
      .Commands(kSolverCommands)
      .Methods({"exact"})
      .Int([](MethodSettings& m) -> int& { return m.solver.exact.lambda_iters; });
  opt("max_sweeps", T::kInt, "exact: coordinate sweeps per start")
      .Min(1)
      .Commands(kSolverCommands)
      .Methods({"exact"})
      .Int([](MethodSettings& m) -> int& { return m.solver.exact.max_sweeps; });
  opt("start_ippp", T::kSwitch, "exact: also start from iPPP's answer (one iPPP solve)")
      .Commands(kSolverCommands)
      .Methods({"exact"})
      .Switch([](MethodSettings& m) -> bool& { return m.solver.exact.start_ippp; });
  opt("start_heuristics", T::kSwitch,
      "exact: also start from the geometric, geometric-quantile and single answers")
      .Commands(kSolverCommands)
      .Methods({"exact"})
      .Switch([](MethodSettings& m) -> bool& { return m.solver.exact.start_heuristics; });

  // ---- placement -----------------------------------------------------------------------------
  opt("solver", T::kChoice, "threshold method of the budgeted placement searches")
      .Choices(kThresholdMethods)
      .Commands({"place"})
      .Methods(kSearchMethods)
      .Text([](MethodSettings& m) -> std::string& { return m.placement_solver; });
  opt("tolerance", T::kDouble,
      "flop-score, greedy rules: allowed accuracy drop T, a fraction; exit n of a subset gets "
      "T/2^n")
      .Min(0, true)
      .Max(1, true)
      .Commands({"place"})
      .Methods(kRuleMethods)
      .Double([](MethodSettings& m) -> double& { return m.greedy.tolerance; });
  opt("th", T::kDouble, "greedy-th: the rule's TH")
      .Min(0)
      .Max(1)
      .Commands({"place"})
      .Methods({"greedy-th"})
      .Double([](MethodSettings& m) -> double& { return m.greedy.th; });
  opt("ca", T::kChoice,
      "flop-score, greedy rules: CA measured against agreement with the final exit "
      "(unsupervised) or labels; a scores-mode dump has no final-exit predictions, so labels "
      "there unless given")
      .Choices({"agreement", "labels"})
      .Default("agreement")
      .Commands({"place"})
      .Methods(kRuleMethods);
  opt("max_candidates", T::kInt,
      "limit on K-1 candidate exits, checked before any work (default: flop-score 48, at most 62; "
      "exhaustive 16, at most 30)")
      .Min(1)
      .Max(62)
      .Commands({"place"})
      .Methods({"flop-score", "exhaustive"});
  opt("prune", T::kSwitch, "exhaustive: skip subsets that provably cannot enter the front")
      .Commands({"place"})
      .Methods({"exhaustive"})
      .Switch([](MethodSettings& m) -> bool& { return m.exhaustive.prune; });
  opt("reuse", T::kSwitch, "exhaustive: reuse proven-optimal answers across budgets, warm starts")
      .Commands({"place"})
      .Methods({"exhaustive"})
      .Switch([](MethodSettings& m) -> bool& { return m.exhaustive.reuse; });
  opt("fast", T::kSwitch,
      "exhaustive with solver exact: a fast path (shared sort orders, a lambda grid per subset) "
      "instead of the full exact solver per (subset, budget); may miss the best subset")
      .Commands({"place"})
      .Methods({"exhaustive"})
      .Switch([](MethodSettings& m) -> bool& { return m.fast; });
  opt("polish", T::kInt,
      "exhaustive --fast: re-solve the best N subsets of every budget with the full exact "
      "solver and keep the better answer")
      .Min(0)
      .Commands({"place"})
      .Methods({"exhaustive"})
      .Int([](MethodSettings& m) -> int& { return m.exhaustive.polish_top; });
  opt("all_rows", T::kSwitch,
      "exhaustive: write every (subset, budget) solution, not only the best per budget")
      .Default("false")
      .Commands({"place"});
  opt("compare", T::kSwitch,
      "also solve keeping every exit, the evenly spaced placement and the best exhaustive subset "
      "at every budget")
      .Default("false")
      .Commands({"place"});
  opt("even", T::kInt, "number of evenly spaced early exits for --compare")
      .Min(0)
      .Default("3")
      .Commands({"place"});

  // ---- EENet ---------------------------------------------------------------------------------
  const std::vector<std::string> fs = {"fit-scorer"}, ee = {"eenet"};
  opt("threshold_method", T::kChoice,
      "fit-scorer: thresholds by algorithm1 (exit quotas), re-solved on the learned scores by "
      "exact or ippp, or best (the highest fit accuracy within budget)")
      .Choices({"algorithm1", "exact", "ippp", "best"})
      .Default("algorithm1")
      .Commands(fs);
  opt("hidden_ratio", T::kDouble, "eenet: hidden size D_h / D")
      .Min(0, true)
      .Commands(fs)
      .Methods(ee)
      .Double([](MethodSettings& m) -> double& { return m.eenet.hidden_ratio; });
  opt("learning_rate", T::kDouble, "eenet: Adam step size")
      .Min(0, true)
      .Commands(fs)
      .Methods(ee)
      .Double([](MethodSettings& m) -> double& { return m.eenet.learning_rate; });
  opt("eenet_alpha", T::kDouble, "eenet: weight alpha of the budget loss")
      .Min(0)
      .Commands(fs)
      .Methods(ee)
      .Double([](MethodSettings& m) -> double& { return m.eenet.alpha; });
  opt("eenet_beta", T::kDouble, "eenet: weight beta of the cross-entropy loss")
      .Min(0)
      .Commands(fs)
      .Methods(ee)
      .Double([](MethodSettings& m) -> double& { return m.eenet.beta; });
  opt("weight_decay", T::kDouble, "eenet: L2 weight")
      .Min(0)
      .Commands(fs)
      .Methods(ee)
      .Double([](MethodSettings& m) -> double& { return m.eenet.weight_decay; });
  opt("batch_size", T::kInt, "eenet: samples per Adam step")
      .Min(1)
      .Commands(fs)
      .Methods(ee)
      .Int([](MethodSettings& m) -> int& { return m.eenet.batch_size; });
  opt("max_epochs", T::kInt, "eenet: epoch limit")
      .Min(1)
      .Commands(fs)
      .Methods(ee)
      .Int([](MethodSettings& m) -> int& { return m.eenet.max_epochs; });
  opt("patience", T::kInt,
      "eenet: early stopping after this many epochs without a better "
      "held-out loss")
      .Min(1)
      .Commands(fs)
      .Methods(ee)
      .Int([](MethodSettings& m) -> int& { return m.eenet.patience; });
  opt("holdout_fraction", T::kDouble,
      "eenet: share of the fit split held out for early stopping (0: stop on the training loss)")
      .Min(0)
      .Max(0.9)
      .Commands(fs)
      .Methods(ee)
      .Double([](MethodSettings& m) -> double& { return m.eenet.holdout_fraction; });
  opt("budget_fit", T::kChoice,
      "eenet: how Algorithm 1's exit distribution meets the budget: none (as learned), repair "
      "(only when over), match (largest cost within budget), best (the tilt with the best fit "
      "accuracy within budget)")
      .Choices({"none", "repair", "match", "best"})
      .Commands(fs)
      .Methods(ee);

  std::vector<OptionSpec> out;
  for (Decl& x : d) out.push_back(std::move(x.s));
  // Bindings that write two structs or convert: set here, next to nothing else.
  for (OptionSpec& s : out) {
    if (s.key == "seed") {
      s.set = [](MethodSettings& m, const std::string& t) {
        double v = 0;
        ParseNumber(t, v);
        m.solver.seed = static_cast<unsigned>(v);
        m.eenet.seed = static_cast<unsigned>(v);
      };
      s.get = [](const MethodSettings& m) { return std::to_string(m.solver.seed); };
    } else if (s.key == "initial") {
      s.set = [](MethodSettings& m, const std::string& t) {
        m.solver.ippp.initial = ParseDoubleList(t, "initial");
        m.solver.ippp.warm_start = false;
      };
      s.get = [](const MethodSettings& m) { return JoinDoubles(m.solver.ippp.initial, ","); };
    } else if (s.key == "budget_fit") {
      s.set = [](MethodSettings& m, const std::string& t) {
        m.eenet.budget_fit = BudgetFitFromString(t, "budget_fit");
      };
      s.get = [](const MethodSettings& m) { return ToString(m.eenet.budget_fit); };
    } else if (s.key == "tolerance") {
      s.set = [](MethodSettings& m, const std::string& t) {
        double v = 0;
        ParseNumber(t, v);
        m.greedy.tolerance = m.flop_score.tolerance = v;
      };
    } else if (s.key == "max_candidates") {
      s.set = [](MethodSettings& m, const std::string& t) {
        double v = 0;
        ParseNumber(t, v);
        m.flop_score.max_candidates = m.exhaustive.max_candidates = static_cast<int>(v);
      };
      s.default_text = "48 (flop-score), 16 (exhaustive)";
    }
    if (s.get && s.default_text.empty()) s.default_text = s.get(MethodSettings{});
  }
  return out;
}

}  // namespace

std::string OptionSpec::Flag() const {
  std::string f = "--" + key;
  std::replace(f.begin(), f.end(), '_', '-');
  return f;
}

std::string OptionSpec::RangeText() const {
  if (type == OptionType::kChoice) {
    std::string s = "one of: ";
    for (std::size_t i = 0; i < choices.size(); ++i) s += (i ? ", " : "") + choices[i];
    return s;
  }
  if (type == OptionType::kFraction) {
    return std::string("in [0, 1], or a percentage") + (nan_allowed ? ", or off" : "");
  }
  if (type == OptionType::kBudgets) return "budget grammar";
  if (type != OptionType::kInt && type != OptionType::kDouble) return "";
  const bool lo = std::isfinite(min), hi = std::isfinite(max);
  std::string s;
  if (lo && hi) {
    s = std::string("in ") + (min_open ? "(" : "[") + FormatDouble(min) + ", " + FormatDouble(max) +
        (max_open ? ")" : "]");
  } else if (lo) {
    s = std::string(min_open ? "> " : ">= ") + FormatDouble(min);
  } else if (hi) {
    s = std::string(max_open ? "< " : "<= ") + FormatDouble(max);
  }
  if (nan_allowed) s += s.empty() ? "or auto" : ", or auto";
  return s;
}

bool OptionSpec::ForCommand(const std::string& c) const {
  return std::find(commands.begin(), commands.end(), c) != commands.end();
}

bool OptionSpec::ForMethod(const std::string& m) const {
  return std::find(methods.begin(), methods.end(), m) != methods.end();
}

const std::vector<OptionSpec>& Options() {
  static const std::vector<OptionSpec> table = Build();
  return table;
}

const OptionSpec* FindOption(const std::string& key) {
  for (const OptionSpec& s : Options()) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

std::vector<const OptionSpec*> OptionsOfCommand(const std::string& command) {
  std::vector<const OptionSpec*> out;
  for (const OptionSpec& s : Options()) {
    if (s.ForCommand(command)) out.push_back(&s);
  }
  return out;
}

std::vector<const OptionSpec*> SweepFileOptions() {
  std::vector<const OptionSpec*> out;
  for (const OptionSpec& s : Options()) {
    if (!s.sweep_file_key.empty()) out.push_back(&s);
  }
  return out;
}

bool IsSearchMethod(const std::string& method) {
  return std::find(kSearchMethods.begin(), kSearchMethods.end(), method) != kSearchMethods.end();
}

namespace {
bool Applies(const OptionSpec& spec, const std::string& method, const std::string& solver) {
  if (spec.ForMethod(method)) return true;
  // A placement search takes the options of its threshold solver (default exact), except the
  // accuracy-target and margin modes, which are declared for the searches themselves.
  if (IsSearchMethod(method)) return spec.ForMethod(solver.empty() ? "exact" : solver);
  return false;
}
}  // namespace

std::string MethodOptionKeys(const std::string& method, const std::string& solver) {
  std::string s;
  for (const OptionSpec& o : Options()) {
    if (Applies(o, method, solver)) s += (s.empty() ? "" : ", ") + o.key;
  }
  return s.empty() ? "none" : s;
}

std::string CheckApplies(const OptionSpec& spec, const std::string& method,
                         const std::string& solver) {
  if (Applies(spec, method, solver)) return "";
  std::string s = "option '" + spec.key + "' is not for method " + method;
  if (IsSearchMethod(method))
    s += " (solver " + (solver.empty() ? std::string("exact") : solver) + ")";
  if (!spec.methods.empty()) {
    std::string m;
    for (const std::string& x : spec.methods) m += (m.empty() ? "" : ", ") + x;
    s += "; it is for " + m;
  }
  return s + "; " + method + " takes: " + MethodOptionKeys(method, solver);
}

void CheckGivenOptionsApply(const OptionValues& values, const std::vector<std::string>& methods,
                            const std::string& solver) {
  for (const auto& [key, text] : values.Given()) {
    const OptionSpec* spec = FindOption(key);
    if (!spec || spec->methods.empty()) continue;
    std::string why;
    for (const std::string& m : methods) {
      why = CheckApplies(*spec, m, solver);
      if (why.empty()) break;
    }
    if (!why.empty()) throw InputError(values.Where(key), why);
  }
}

void CheckOptionValue(const OptionSpec& spec, const std::string& text, const std::string& where) {
  auto bad = [&](const std::string& why) { return InputError(where, "'" + text + "': " + why); };
  switch (spec.type) {
    case OptionType::kSwitch: {
      bool b;
      if (!ParseSwitch(text, b)) throw bad("expected true or false");
      return;
    }
    case OptionType::kInt:
    case OptionType::kDouble: {
      if (spec.nan_allowed && text == "auto") return;
      double v = 0;
      if (!ParseNumber(text, v) || !std::isfinite(v)) {
        throw bad(spec.type == OptionType::kInt ? "expected an integer"
                                                : "expected a finite number");
      }
      if (spec.type == OptionType::kInt && v != std::floor(v)) throw bad("expected an integer");
      const bool below = spec.min_open ? !(v > spec.min) : !(v >= spec.min);
      const bool above = spec.max_open ? !(v < spec.max) : !(v <= spec.max);
      if (below || above) throw bad("must be " + spec.RangeText());
      return;
    }
    case OptionType::kFraction:
      if (spec.nan_allowed && text == "off") return;
      ParseFraction(text, where);
      return;
    case OptionType::kChoice:
      if (std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
        throw bad("expected " + spec.RangeText());
      }
      return;
    case OptionType::kList:
      if (text.empty()) throw bad("expected a comma-separated list");
      return;
    case OptionType::kBudgets:
      ParseBudgets(text, where);
      return;
    case OptionType::kText:
      return;
    case OptionType::kEntries:
      throw bad("a list of mappings, given in a sweep file only");
  }
}

void OptionValues::Set(const std::string& key, const std::string& text, const std::string& where) {
  const OptionSpec* spec = FindOption(key);
  if (!spec) throw InputError(where, "unknown option '" + key + "'");
  CheckOptionValue(*spec, text, where);
  given_[key] = text;
  where_[key] = where;
}

std::string OptionValues::Text(const std::string& key) const {
  auto it = given_.find(key);
  if (it != given_.end()) return it->second;
  const OptionSpec* spec = FindOption(key);
  if (!spec) throw InputError("option registry", "no option '" + key + "' (a programming error)");
  return spec->default_text;
}

std::string OptionValues::Where(const std::string& key) const {
  auto it = where_.find(key);
  if (it != where_.end()) return it->second;
  const OptionSpec* spec = FindOption(key);
  return spec ? spec->Flag() : key;
}

double OptionValues::Double(const std::string& key) const {
  const std::string t = Text(key);
  if (t == "auto" || t == "off") return std::nan("");
  const OptionSpec* spec = FindOption(key);
  if (spec->type == OptionType::kFraction) return ParseFraction(t, Where(key));
  double v = 0;
  if (!ParseNumber(t, v)) throw InputError(Where(key), "'" + t + "': expected a number");
  return v;
}

int OptionValues::Int(const std::string& key) const {
  const double v = Double(key);
  return static_cast<int>(v);
}

bool OptionValues::Bool(const std::string& key) const {
  bool b = false;
  const std::string t = Text(key);
  if (!ParseSwitch(t, b)) throw InputError(Where(key), "'" + t + "': expected true or false");
  return b;
}

std::vector<Budget> OptionValues::Budgets(const std::string& key) const {
  return ParseBudgets(Text(key), Where(key));
}

void OptionValues::ApplyTo(MethodSettings& s) const {
  for (const auto& [key, text] : given_) {
    const OptionSpec* spec = FindOption(key);
    if (!spec->set) continue;
    try {
      spec->set(s, text);
    } catch (const InputError& e) {
      throw InputError(Where(key), e.what());
    }
  }
  auto first = [](const std::string& e) { return e.substr(0, e.find('\n')); };
  if (const std::string e = s.solver.Validate(); !e.empty()) throw InputError("options", first(e));
  if (const std::string e = s.eenet.Validate(); !e.empty()) throw InputError("options", first(e));
}

namespace {
std::string JoinNames(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}
std::string Cell(std::string s) {
  for (char& c : s) {
    if (c == '|') c = '/';
  }
  return s;
}
}  // namespace

std::string OptionsMarkdown() {
  std::ostringstream md;
  md << "| YAML key | flag | type | default | valid | commands | sweep methods | what it does |\n"
     << "|---|---|---|---|---|---|---|---|\n";
  for (const OptionSpec& s : Options()) {
    std::string flag = "`" + s.Flag() + "`";
    if (!s.short_flag.empty()) flag = "`" + s.short_flag + "`, " + flag;
    // A switch on by default is turned off with --no-key (cli/option_flags.cpp).
    if (s.type == OptionType::kSwitch && s.default_text == "true")
      flag = "`--no-" + s.Flag().substr(2) + "`";
    if (s.commands.empty()) flag = "";
    std::string yaml = s.methods.empty() && !s.sweep_key ? "" : "`" + s.key + "`";
    if (!s.sweep_file_key.empty()) {
      yaml = "`" + s.sweep_file_key + "` (sweep file" +
             (s.sweep_file_required ? ", required" : "") + ")";
    }
    if (yaml.empty() && s.commands.empty()) continue;
    md << "| " << (yaml.empty() ? "(command line only)" : yaml) << " | " << flag << " | "
       << ToString(s.type) << " | "
       << Cell(s.default_text.empty() ? "" : "`" + s.default_text + "`") << " | "
       << Cell(s.RangeText()) << " | " << JoinNames(s.commands) << " | " << JoinNames(s.methods)
       << " | " << Cell(s.help) << " |\n";
  }
  return md.str();
}

std::string OptionsText(const std::string& command, const std::string& method) {
  std::ostringstream os;
  for (const OptionSpec& s : Options()) {
    if (!command.empty() && !s.ForCommand(command)) continue;
    if (!method.empty() && !s.ForMethod(method)) continue;
    os << s.key << "  (" << s.Flag() << ", " << ToString(s.type);
    if (!s.default_text.empty()) os << ", default " << s.default_text;
    if (const std::string r = s.RangeText(); !r.empty()) os << ", " << r;
    os << ")\n    " << s.help << "\n";
    if (!s.commands.empty()) os << "    commands: " << JoinNames(s.commands) << "\n";
    if (!s.methods.empty()) os << "    sweep methods: " << JoinNames(s.methods) << "\n";
  }
  return os.str();
}

}  // namespace exitplan
