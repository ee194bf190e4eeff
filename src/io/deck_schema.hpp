// The run deck's schema: one entry per key, bound to the RunDeck member it fills.
// Parsing, validation messages, the resolved-deck printer and the reference all read this
// table, so a key is declared exactly once.
#pragma once

#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "io/run_deck.hpp"

namespace kmoe {

struct Bounds {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool hi_open = false;
  bool contains(double v) const;
  std::string describe() const;  // e.g. "> 0", "in [0, 1)"
};

struct DeckField {
  std::string section;
  std::string key;
  std::variant<int64_t*, double*, bool*, std::string*> target;
  Bounds bounds;                     // numeric keys
  std::vector<std::string> choices;  // string keys with a fixed set of values (empty: free text)
  std::string doc;

  std::string full_name() const { return section + "." + key; }
  std::string type_name() const;
  std::string allowed() const;  // human description of allowed values
};

// The shortest TOML float that reads back as exactly v ("0.1", not "0.10000000000000001"; "2.0").
std::string float_text(double v);

// A TOML basic string: quoted, with quotes, backslashes and control characters escaped.
std::string toml_string(const std::string& text);

// The field's current value as TOML (floats in their shortest round-trip form).
std::string value_text(const DeckField& field);

// The schema bound to `deck`'s members (pointers stay valid while `deck` lives).
std::vector<DeckField> deck_fields(RunDeck& deck);
std::vector<std::string> deck_sections();

// The candidate closest to `word` by edit distance, or "" if none is plausibly meant.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace kmoe
