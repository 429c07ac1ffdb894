// exitplan options: the option registry (dse/options.hpp) as text or as the Markdown table of
// docs/options.md: every option with its YAML key, flag, type, default, valid values, commands
// and sweep methods.
#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "dse/options.hpp"

namespace exitplan::cli {

void RegisterOptions(CLI::App& root, std::vector<Command>& out) {
  struct Args {
    bool markdown = false;
    std::string command, method;
  };
  auto a = std::make_shared<Args>();
  CLI::App* app = root.add_subcommand(
      "options",
      "list every option: YAML key, flag, type, default, valid values, the commands "
      "and sweep methods it applies to");
  app->add_flag("--markdown", a->markdown, "the Markdown table of docs/options.md");
  app->add_option("--command", a->command, "only the options of this command");
  app->add_option("--for-method", a->method, "only the sweep options: keys of this method");
  out.push_back({app, [a]() {
                   const std::string text =
                       a->markdown ? OptionsMarkdown() : OptionsText(a->command, a->method);
                   std::fputs(text.c_str(), stdout);
                   return kExitOk;
                 }});
}

}  // namespace exitplan::cli
