#include "cli/option_flags.hpp"

#include <map>

#include "profiles/error.hpp"

namespace exitplan::cli {
namespace {

// Flags of earlier versions and what replaced them: refused with the new spelling, so an old
// command line fails loudly instead of meaning something else.
struct OldFlag {
  const char* flag;
  bool takes_value;
  const char* hint;
  std::vector<std::string> commands;  // empty: every command
};
const std::vector<OldFlag>& OldFlags() {
  static const std::vector<OldFlag> t = {
      {"--relative", false, "write relative budgets with a suffix: 40% or 0.4x", {}},
      {"--budget-unit",
       true,
       "a bare budget is absolute (profile unit); write 40% or 0.4x for a "
       "fraction of the full cost",
       {}},
      {"--budget-range", true, "give the range to --budget: --budget LO:HI:N", {}},
      {"--budget-fraction", true, "give the fraction to --budget: --budget 40% or 0.4x", {}},
      {"--threads", true, "use -j/--jobs", {}},
      {"--output", true, "use -o/--out", {}},
      {"--holdout", true, "use --holdout-fraction", {}},
      {"--no-ippp-start", false, "use --no-start-ippp", {}},
      {"--no-heuristic-starts", false, "use --no-start-heuristics", {}},
      {"--no-path",
       false,
       "the full exhaustive search is the default now; --fast asks for the "
       "fast path",
       {}},
      {"--box", true, "use --box-lo LO --box-hi HI", {}},
      {"--alpha", true, "use --eenet-alpha (EENet's budget-loss weight)", {"fit-scorer"}},
      {"--beta",
       true,
       "use --eenet-beta (EENet's cross-entropy weight); --beta is iPPP's "
       "penalty weight in thresholds",
       {"fit-scorer"}},
      {"--thresholds",
       true,
       "use --threshold-method (algorithm1, exact, ippp or best)",
       {"fit-scorer"}},
  };
  return t;
}

std::string HelpOf(const OptionSpec& s) {
  std::string h = s.help;
  if (!s.default_text.empty() && s.type != OptionType::kSwitch)
    h += " (default: " + s.default_text + ")";
  if (s.type == OptionType::kInt || s.type == OptionType::kDouble ||
      s.type == OptionType::kChoice) {
    if (const std::string r = s.RangeText(); !r.empty()) h += " [" + r + "]";
  }
  return h;
}

}  // namespace

void RegistryFlags::Add(CLI::App& app, const std::string& command,
                        const std::set<std::string>& required) {
  for (const OptionSpec* s : OptionsOfCommand(command)) {
    auto g = std::make_unique<Given>();
    g->key = s->key;
    g->flag = s->Flag();
    const std::string names = (s->short_flag.empty() ? "" : s->short_flag + ",") + s->Flag();
    Given* p = g.get();
    if (s->type == OptionType::kSwitch) {
      // A switch that is off by default is turned on with --key; one that is on by default is
      // turned off with --no-key (--key is accepted too, and not shown).
      const bool on = s->default_text == "true";
      const std::string off = "--no-" + s->Flag().substr(2);
      CLI::Option* yes = app.add_flag_function(
          on ? s->Flag() : names, [p](std::int64_t) { p->switch_count = 1; }, HelpOf(*s));
      g->option = yes;
      if (on) {
        yes->group("");
        g->option = app.add_flag_function(
            off, [p](std::int64_t) { p->switch_count = -1; }, "turn off: " + HelpOf(*s));
      }
    } else {
      g->option = app.add_option(names, g->text, HelpOf(*s));
      const char* type = s->type == OptionType::kInt        ? "INT"
                         : s->type == OptionType::kDouble   ? "NUMBER"
                         : s->type == OptionType::kFraction ? "FRACTION"
                         : s->type == OptionType::kBudgets  ? "BUDGETS"
                         : s->type == OptionType::kList     ? "LIST"
                         : s->type == OptionType::kChoice   ? "CHOICE"
                                                            : "TEXT";
      g->option->type_name(type);
    }
    if (required.count(s->key)) g->option->required();
    given_.push_back(std::move(g));
  }
  for (const OldFlag& o : OldFlags()) {
    if (!o.commands.empty() &&
        std::find(o.commands.begin(), o.commands.end(), command) == o.commands.end()) {
      continue;
    }
    // A renamed flag that is now an option of this command keeps its new meaning.
    bool taken = false;
    for (const auto& g : given_) taken = taken || g->flag == o.flag;
    if (taken) continue;
    auto r = std::make_unique<Renamed>();
    r->flag = o.flag;
    r->hint = o.hint;
    r->option = o.takes_value ? app.add_option(o.flag, r->text) : app.add_flag(o.flag);
    r->option->group("");  // not shown in --help
    renamed_.push_back(std::move(r));
  }
}

OptionValues RegistryFlags::Values() const {
  for (const auto& r : renamed_) {
    if (r->option->count() > 0) throw InputError(r->flag, "no longer an option: " + r->hint);
  }
  OptionValues v;
  for (const auto& g : given_) {
    if (g->switch_count != 0) {
      v.Set(g->key, g->switch_count > 0 ? "true" : "false", g->flag);
    } else if (g->option->count() > 0) {
      v.Set(g->key, g->text, g->flag);
    }
  }
  return v;
}

}  // namespace exitplan::cli
