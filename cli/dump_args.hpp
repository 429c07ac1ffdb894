// The options every dump-reading subcommand shares, declared once (STYLE.md 5).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "profiles/dump.hpp"
#include "profiles/profile.hpp"

namespace exitplan::cli {

struct DumpArgs {
  std::string dump;
  std::string fit_split = "val";
  std::string eval_split = "test";
  std::string layout = "nk";
  std::string score_order = "descending";
  bool no_cache = false;

  void Add(CLI::App& app);
  DumpOptions Options() const;  // validates the option values (throws InputError)
  Dump Load() const;
};

struct ProfileArgs {
  std::string profile;
  std::string target;
  void Add(CLI::App& app, bool required = true);
  CostProfile Load(const Dump& dump) const;  // also checks K against the dump
};

}  // namespace exitplan::cli
