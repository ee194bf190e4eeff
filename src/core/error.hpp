// kmoe's error type: a message plus the chain of contexts it passed through
// ("reading deck inputs/a.toml" → "model.d_model" → "must be divisible by model.n_heads").
#pragma once

#include <stdexcept>
#include <string>

namespace kmoe {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  // Returns a new error whose message is "context: <this message>".
  Error with_context(const std::string& context) const { return Error(context + ": " + what()); }
};

// Throws Error(message) when the condition does not hold.
inline void require(bool condition, const std::string& message) {
  if (!condition) throw Error(message);
}

}  // namespace kmoe
