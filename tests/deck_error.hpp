// The message of the error a deck raises ("" when it parses): shared by the deck test suites.
#pragma once

#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/run_deck.hpp"

namespace kmoe::testing {

inline std::string deck_error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse_run_deck_string(text, "bad.toml", overrides);
  } catch (const Error& err) {
    return err.what();
  }
  return "";
}

}  // namespace kmoe::testing
