// The exitplan executable's subcommands. cli/ only parses and dispatches: everything testable lives
// in the profiles, optim and dse libraries.
//
// Each subcommand lives in its own cli/cmd_<name>.cpp and registers itself with a Register*
// function listed here and called from main.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace exitplan::cli {

// Documented exit codes (README): 0 ok, 2 bad input, 3 solver failure / infeasible, 1 internal.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitSolverFailure = 3;

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;  // returns the exit status; may throw InputError
};

void RegisterInspect(CLI::App& root, std::vector<Command>& out);
void RegisterEvaluate(CLI::App& root, std::vector<Command>& out);
void RegisterSweep(CLI::App& root, std::vector<Command>& out);
void RegisterMerge(CLI::App& root, std::vector<Command>& out);
void RegisterExport(CLI::App& root, std::vector<Command>& out);
void RegisterFitScorer(CLI::App& root, std::vector<Command>& out);
void RegisterThresholds(CLI::App& root, std::vector<Command>& out);
void RegisterPlace(CLI::App& root, std::vector<Command>& out);
void RegisterOptions(CLI::App& root, std::vector<Command>& out);

// The whole command line, quoted, for provenance in reports and configs.
const std::string& CommandLine();
void SetCommandLine(int argc, char** argv);

}  // namespace exitplan::cli
