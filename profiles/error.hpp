// Errors raised by exitplan's readers and validators.
//
// Exceptions are used only at the edges: readers throw InputError, and cli/main.cpp is
// the one place that catches it and maps it to exit status 2. Solvers report outcomes in their
// Summary instead of throwing.
#pragma once

#include <stdexcept>
#include <string>

namespace exitplan {

// Bad input: a file, a field or an option that is not what it should be. what() is one line that
// names the file (or option) and says what was expected and what was found.
class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
  // "<where>: <message>", e.g. InputError("data/val_logits.npy", "truncated: ...").
  InputError(const std::string& where, const std::string& message)
      : std::runtime_error(where + ": " + message) {}
};

}  // namespace exitplan
