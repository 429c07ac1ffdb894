#include "cli/commands.hpp"

namespace exitplan::cli {
namespace {
std::string& Storage() {
  static std::string line;
  return line;
}
}  // namespace

const std::string& CommandLine() { return Storage(); }

void SetCommandLine(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i) line += ' ';
    if (a.find_first_of(" \t'\"") != std::string::npos) a = "'" + a + "'";
    line += a;
  }
  Storage() = line;
}

}  // namespace exitplan::cli
