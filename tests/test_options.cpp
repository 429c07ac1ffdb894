// The option registry (dse/options.hpp): one declaration per option, values checked, method
// applicability, the bindings into the option structs, and docs/options.md in step with it.
#include <catch2/catch.hpp>
#include <cctype>
#include <cmath>
#include <set>

#include "dse/options.hpp"
#include "dse/sweep.hpp"
#include "profiles/error.hpp"
#include "profiles/io.hpp"
#include "test_util.hpp"

using namespace exitplan;

TEST_CASE("options: keys are unique snake_case, flags follow them, defaults are valid values") {
  std::set<std::string> keys, shorts;
  for (const OptionSpec& s : Options()) {
    INFO(s.key);
    CHECK(keys.insert(s.key).second);
    for (char c : s.key)
      CHECK((std::islower(static_cast<unsigned char>(c)) || c == '_' ||
             std::isdigit(static_cast<unsigned char>(c))));
    std::string flag = s.key;
    for (char& c : flag) c = c == '_' ? '-' : c;
    CHECK(s.Flag() == "--" + flag);
    if (!s.short_flag.empty()) CHECK(shorts.insert(s.short_flag).second);
    CHECK_FALSE(s.help.empty());
    CHECK((!s.commands.empty() || !s.methods.empty() || !s.sweep_file_key.empty()));
    // A default is a value the option accepts (except the per-method text of max_candidates).
    if (!s.default_text.empty() && s.key != "max_candidates") {
      CHECK_NOTHROW(CheckOptionValue(s, s.default_text, s.Flag()));
    }
  }
  // The same words everywhere: one option for each of these, under one spelling.
  for (const char* k : {"out", "verbose", "quiet", "jobs", "holdout_fraction", "start_ippp",
                        "calibrate", "model", "eenet_beta", "beta", "budget"}) {
    CHECK(FindOption(k) != nullptr);
  }
  CHECK(FindOption("holdout") == nullptr);
  CHECK(FindOption("threads") == nullptr);
  CHECK(FindOption("outer_iter") == nullptr);
  CHECK(FindOption("out")->short_flag == "-o");
  CHECK(FindOption("jobs")->short_flag == "-j");
  // -o, -v, -q on every command that writes / every command.
  for (const char* c : {"thresholds", "place", "fit-scorer", "export", "sweep", "merge"}) {
    INFO(c);
    CHECK(FindOption("out")->ForCommand(c));
  }
  for (const char* c :
       {"inspect", "evaluate", "thresholds", "place", "fit-scorer", "export", "sweep", "merge"}) {
    INFO(c);
    CHECK(FindOption("verbose")->ForCommand(c));
    CHECK(FindOption("quiet")->ForCommand(c));
  }
  // iPPP's beta is not EENet's: two options.
  CHECK(FindOption("beta")->ForMethod("ippp"));
  CHECK_FALSE(FindOption("beta")->ForMethod("eenet"));
  CHECK(FindOption("eenet_beta")->ForMethod("eenet"));
  CHECK_FALSE(FindOption("beta")->ForCommand("fit-scorer"));
}

TEST_CASE("options: bound defaults are the option structs' own initialisers") {
  const MethodSettings d;
  CHECK(FindOption("outer_iters")->default_text == std::to_string(d.solver.ippp.outer_iters));
  CHECK(FindOption("steepness")->default_text == "30");
  CHECK(FindOption("beta")->default_text == "auto");
  CHECK(FindOption("holdout_fraction")->default_text == "0.2");
  CHECK(FindOption("start_ippp")->default_text == "true");
  CHECK(FindOption("fast")->default_text == "false");
  CHECK(FindOption("solver")->default_text == "exact");
}

TEST_CASE("options: values are checked on Set and written into the structs by ApplyTo") {
  OptionValues v;
  v.Set("outer_iters", "7", "--outer-iters");
  v.Set("beta", "2.5", "--beta");
  v.Set("start_ippp", "false", "--no-start-ippp");
  v.Set("seed", "42", "--seed");
  v.Set("accuracy_drop", "0.5%", "--accuracy-drop");
  v.Set("initial", "0.9,0.8", "--initial");
  v.Set("eenet_beta", "0.01", "--eenet-beta");
  v.Set("holdout_fraction", "0", "--holdout-fraction");
  v.Set("tolerance", "0.1", "--tolerance");
  MethodSettings s;
  v.ApplyTo(s);
  CHECK(s.solver.ippp.outer_iters == 7);
  CHECK(s.solver.ippp.beta == 2.5);
  CHECK_FALSE(s.solver.exact.start_ippp);
  CHECK(s.solver.seed == 42u);
  CHECK(s.eenet.seed == 42u);
  CHECK(s.solver.accuracy_drop == Approx(0.005).epsilon(1e-15));
  CHECK(s.solver.ippp.initial == std::vector<double>{0.9, 0.8});
  CHECK_FALSE(s.solver.ippp.warm_start);
  CHECK(s.eenet.beta == 0.01);
  CHECK(s.eenet.holdout_fraction == 0.0);
  CHECK(s.greedy.tolerance == 0.1);
  CHECK(s.flop_score.tolerance == 0.1);
  CHECK(v.Text("outer_iters") == "7");
  CHECK(v.Text("inner_iters") == "10");  // the default
  CHECK(v.Int("inner_iters") == 10);
  CHECK(std::isnan(OptionValues().Double("beta")));
  CHECK(std::isnan(OptionValues().Double("accuracy_drop")));

  struct Bad {
    const char* key;
    const char* text;
    const char* expect;
  };
  const std::vector<Bad> bad = {
      {"outer_iters", "0", "'0': must be >= 1"},
      {"outer_iters", "2.5", "expected an integer"},
      {"outer_iters", "x", "expected an integer"},
      {"steepness", "0", "must be > 0"},
      {"steepness", "nan", "expected a finite number"},
      {"steepness", "inf", "expected a finite number"},
      {"budget_margin", "1", "must be in [0, 1)"},
      {"holdout_fraction", "0.95", "must be in [0, 0.9]"},
      {"accuracy_drop", "2", "must be in [0, 1]"},
      {"accuracy_drop", "-1%", "must be in [0, 1]"},
      {"ippp_precision", "half", "expected one of: single, double"},
      {"start_ippp", "maybe", "expected true or false"},
      {"budget", "120%", "above 100%"},
      {"jobs", "-1", "must be >= 0"},
      {"outer_iter", "3", "unknown option 'outer_iter'"},
  };
  for (const Bad& b : bad) {
    INFO(b.key << " = " << b.text);
    OptionValues w;
    CHECK_THROWS_WITH(w.Set(b.key, b.text, "here"),
                      Catch::StartsWith("here: ") && Catch::Contains(b.expect));
  }
  // Rules between options are the structs' own Validate(): eta must exceed mu.
  OptionValues w;
  w.Set("eta", "0.5", "--eta");
  MethodSettings t;
  CHECK_THROWS_WITH(w.ApplyTo(t), Catch::Contains("eta = 0.5: must be > mu"));
}

TEST_CASE("options: an option is refused for a method it does not apply to") {
  CHECK(CheckApplies(*FindOption("steepness"), "ippp") == "");
  CHECK(CheckApplies(*FindOption("steepness"), "exact") == "");  // exact starts from iPPP
  const std::string why = CheckApplies(*FindOption("steepness"), "single");
  CHECK(why.find("option 'steepness' is not for method single") == 0);
  CHECK(why.find("single takes: ") != std::string::npos);
  CHECK(CheckApplies(*FindOption("nlopt_algorithm"), "ippp") != "");
  CHECK(CheckApplies(*FindOption("hidden_ratio"), "eenet") == "");
  CHECK(CheckApplies(*FindOption("hidden_ratio"), "exact") != "");
  CHECK(CheckApplies(*FindOption("tolerance"), "flop-score") == "");
  CHECK(CheckApplies(*FindOption("tolerance"), "exhaustive") != "");
  // A placement search takes its solver's options.
  CHECK(CheckApplies(*FindOption("max_sweeps"), "exhaustive") == "");  // default solver exact
  CHECK(CheckApplies(*FindOption("max_sweeps"), "greedy-forward", "single") != "");
  CHECK(CheckApplies(*FindOption("steepness"), "greedy-forward", "ippp") == "");
  CHECK(CheckApplies(*FindOption("solver"), "exhaustive") == "");
  OptionValues v;
  v.Set("steepness", "10", "sweep.yaml:9");
  CHECK_NOTHROW(CheckGivenOptionsApply(v, {"ippp"}));
  CHECK_THROWS_WITH(
      CheckGivenOptionsApply(v, {"geometric"}),
      Catch::StartsWith("sweep.yaml:9: option 'steepness' is not for method geometric"));
  CHECK_NOTHROW(CheckGivenOptionsApply(v, {"geometric", "ippp"}));
}

TEST_CASE("options: docs/options.md holds the registry's table") {
  const std::string path = exitplan::testing::ProjectPath("docs/options.md");
  const std::string doc = ReadFile(path);
  const std::string begin = "<!-- BEGIN exitplan options --markdown -->\n";
  const std::string end = "<!-- END exitplan options --markdown -->";
  const auto b = doc.find(begin), e = doc.find(end);
  REQUIRE(b != std::string::npos);
  REQUIRE(e != std::string::npos);
  const std::string table = doc.substr(b + begin.size(), e - b - begin.size());
  INFO(
      "docs/options.md differs from the registry: regenerate the part between the markers with "
      "`exitplan options --markdown`");
  CHECK(table == OptionsMarkdown());
}

TEST_CASE("options: every flag the README and docs mention exists") {
  // Flags that are not registry options: CLI11's, exitplan options' own, Slurm's and cmake's.
  const std::set<std::string> extra = {
      "--help", "--version", "--markdown", "--command", "--for-method", "--array", "--key",
      "--no-key", "--install", "--build", "--target",
      // bench_resplit's own (docs/guarantees.md)
      "--resplits", "--budgets", "--methods", "--drops", "--dumps", "--drop-methods",
      "--drop-resplits", "--shift-resplits", "--half-price", "--cells",
      // bench_placement's and bench_scale_solvers' (placement.md)
      "--scale", "--sizes"};
  std::set<std::string> known;
  for (const OptionSpec& s : Options()) {
    known.insert(s.Flag());
    if (s.type == OptionType::kSwitch) known.insert("--no-" + s.Flag().substr(2));
  }
  // docs/options.md also lists the flags of earlier versions, refused with their new spelling.
  for (const char* doc :
       {"README.md", "docs/thresholds.md", "docs/placement.md", "docs/eenet.md", "docs/sweeps.md",
        "docs/formats.md", "docs/guarantees.md", "docs/python.md"}) {
    const std::string text = ReadFile(exitplan::testing::ProjectPath(doc));
    for (std::size_t i = text.find("--"); i != std::string::npos; i = text.find("--", i + 2)) {
      if (i > 0 && (text[i - 1] == '-' || std::isalnum(static_cast<unsigned char>(text[i - 1]))))
        continue;
      std::size_t e = i + 2;
      if (e >= text.size() || !std::islower(static_cast<unsigned char>(text[e]))) continue;
      while (e < text.size() &&
             (std::islower(static_cast<unsigned char>(text[e])) ||
              std::isdigit(static_cast<unsigned char>(text[e])) || text[e] == '-')) {
        ++e;
      }
      const std::string flag = text.substr(i, e - i);
      INFO(doc << " mentions " << flag);
      CHECK((known.count(flag) > 0 || extra.count(flag) > 0));
    }
  }
}

TEST_CASE("options: a sweep file's top-level keys come from the registry; others are refused") {
  std::set<std::string> keys, required;
  for (const OptionSpec* o : SweepFileOptions()) {
    keys.insert(o->sweep_file_key);
    if (o->sweep_file_required) required.insert(o->sweep_file_key);
  }
  CHECK(keys == std::set<std::string>{"budgets", "configs", "eval_split", "fit_split", "methods",
                                      "models", "output"});
  CHECK(required == std::set<std::string>{"budgets", "methods", "models", "output"});
  CHECK(FindOption("out")->sweep_file_key == "output");
  CHECK(FindOption("budget")->sweep_file_key == "budgets");
  const std::string ok =
      "output: o\nmodels:\n  - {name: m, dump: d, profile: p.yaml}\nmethods:\n  - {method: "
      "single}\n";
  CHECK(ParseSweepSpec(ok + "budgets: [40%]\n", "s.yaml", "").budgets.items.size() == 1);
  // Misspelled: refused at parse time, with the line and the keys the registry declares.
  REQUIRE_THROWS_WITH(ParseSweepSpec(ok + "budget: [40%]\n", "s.yaml", ""),
                      "s.yaml:6: unknown key 'budget' in the sweep file (expected one of: budgets, "
                      "configs, eval_split, fit_split, methods, models, output)");
  REQUIRE_THROWS_WITH(
      ParseSweepSpec("outptu: o\n" + ok.substr(ok.find("models")) + "budgets: [1]\n", "s.yaml", ""),
      Catch::StartsWith("s.yaml:1: unknown key 'outptu' in the sweep file"));
  REQUIRE_THROWS_WITH(ParseSweepSpec(ok, "s.yaml", ""), "s.yaml: missing key 'budgets'");
  // They are no flags of any command, and no method's options.
  for (const char* k : {"models", "methods", "configs"}) {
    INFO(k);
    CHECK(FindOption(k)->commands.empty());
    CHECK(FindOption(k)->methods.empty());
  }
}
