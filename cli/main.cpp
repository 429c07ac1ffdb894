// exitplan: the command-line front end. The one place that catches exceptions and maps them to
// documented exit codes.
#include <iostream>
#include <string>
#include <string_view>

#include "cli/commands.hpp"
#include "profiles/error.hpp"

namespace {

// One terminal-safe line of a message that may echo bytes from files and options: control
// characters (a newline in a .npy header or a YAML block scalar, escape sequences), DEL, C1
// controls and bytes that are not UTF-8 are written as \n, \t, \r or \xNN; very long messages
// are cut.
std::string OneLine(std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  constexpr std::size_t kMaxBytes = 2000;
  std::string out;
  const auto escape = [&](unsigned char b) {
    if (b == '\n')
      out += "\\n";
    else if (b == '\t')
      out += "\\t";
    else if (b == '\r')
      out += "\\r";
    else
      out += {'\\', 'x', kHex[b >> 4], kHex[b & 15]};
  };
  std::size_t i = 0;
  while (i < text.size() && out.size() < kMaxBytes) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b >= 0x20 && b < 0x7f) {
      out += static_cast<char>(b);
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence of a printable code point (U+00A0 and up) passes unchanged.
    std::size_t len = b >= 0xf0 && b < 0xf5 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b < 0xe0 ? 2 : 0;
    if (b >= 0xf5) len = 0;
    bool ok = len > 0 && i + len <= text.size();
    char32_t cp = ok ? (b & (0x7f >> len)) : 0;
    for (std::size_t j = 1; ok && j < len; ++j) {
      const auto c = static_cast<unsigned char>(text[i + j]);
      ok = (c & 0xc0) == 0x80;
      cp = (cp << 6) | (c & 0x3f);
    }
    const char32_t min_cp = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    ok = ok && cp >= min_cp && cp >= 0xa0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      escape(b);
      ++i;
    }
  }
  if (i < text.size()) out += "... (message cut)";
  return out;
}

}  // namespace

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
    std::cerr << "exitplan: error: " << OneLine(e.what()) << " (run with --help for the options)\n";
    return kExitBadInput;
  }
  try {
    for (const Command& c : commands) {
      if (c.app->parsed()) return c.run();
    }
  } catch (const exitplan::InputError& e) {
    std::cerr << "exitplan: error: " << OneLine(e.what()) << "\n";
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "exitplan: internal error: " << OneLine(e.what()) << "\n";
    return kExitInternal;
  }
  return kExitInternal;
}
