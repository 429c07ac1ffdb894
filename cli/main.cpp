// exitplan: the command-line front end. The one place that catches exceptions and maps them to
// documented exit codes.
#include <iostream>

#include "cli/commands.hpp"
#include "profiles/error.hpp"

int main(int argc, char** argv) {
  using namespace exitplan::cli;
  SetCommandLine(argc, argv);
  CLI::App app{"exitplan: plan early-exit deployments from per-exit logit dumps and cost profiles",
               "exitplan"};
  app.set_version_flag("--version", std::string("exitplan ") + EXITPLAN_VERSION);
  app.require_subcommand(1);
  std::vector<Command> commands;
  RegisterInspect(app, commands);
  RegisterEvaluate(app, commands);
  RegisterSweep(app, commands);
  RegisterMerge(app, commands);
  RegisterExport(app, commands);
  RegisterFitScorer(app, commands);
  RegisterThresholds(app, commands);
  RegisterPlace(app, commands);
  RegisterOptions(app, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "exitplan: error: " << e.what() << " (run with --help for the options)\n";
    return kExitBadInput;
  }
  try {
    for (const Command& c : commands) {
      if (c.app->parsed()) return c.run();
    }
  } catch (const exitplan::InputError& e) {
    std::cerr << "exitplan: error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "exitplan: internal error: " << e.what() << "\n";
    return kExitInternal;
  }
  return kExitInternal;
}
