// The command-line face of the option registry (dse/options.hpp): every command's flags are
// generated from the registry's declarations, so each option is declared once. CLI11 stays here.
#pragma once

#include <CLI/CLI.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "dse/options.hpp"

namespace exitplan::cli {

class RegistryFlags {
 public:
  // Adds the flags of every registry option of `command` (and the refusals of renamed flags);
  // the keys in `required` must be given.
  void Add(CLI::App& app, const std::string& command, const std::set<std::string>& required = {});
  // After parsing: the given values, each checked against its declaration (throws InputError
  // naming the flag), and the refusal of a renamed flag with its new spelling.
  OptionValues Values() const;

 private:
  struct Given {
    std::string key;
    std::string flag;
    CLI::Option* option = nullptr;
    std::string text;
    int switch_count = 0;  // switches: > 0 given as --key, < 0 as --no-key
  };
  std::vector<std::unique_ptr<Given>> given_;
  struct Renamed {
    std::string flag, hint;
    CLI::Option* option = nullptr;
    std::string text;
  };
  std::vector<std::unique_ptr<Renamed>> renamed_;
};

}  // namespace exitplan::cli
