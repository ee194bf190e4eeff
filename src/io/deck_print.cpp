// RunDeck → TOML: the resolved deck (every key, defaults filled in) and the schema reference.
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "io/deck_schema.hpp"

namespace kmoe {
std::string float_text(double v) {
  for (int digits = 1;; ++digits) {
    std::ostringstream out;
    out << std::setprecision(digits) << v;
    if (digits >= 17 || std::stod(out.str()) == v) {
      // TOML needs a '.' or exponent to read the value back as a float.
      if (out.str().find_first_of(".eEn") == std::string::npos) out << ".0";
      return out.str();
    }
  }
}

std::string toml_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char escape[8];
      std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned char>(c));
      out += escape;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string value_text(const DeckField& f) {
  std::ostringstream out;
  switch (f.target.index()) {
    case 0:
      out << *std::get<0>(f.target);
      break;
    case 1:
      out << float_text(*std::get<1>(f.target));
      break;
    case 2:
      out << (*std::get<2>(f.target) ? "true" : "false");
      break;
    default:
      out << toml_string(*std::get<3>(f.target));
  }
  return out.str();
}

std::string to_toml(const RunDeck& deck) {
  RunDeck copy = deck;
  const auto fields = deck_fields(copy);
  std::ostringstream out;
  for (const auto& section : deck_sections()) {
    out << "[" << section << "]\n";
    for (const auto& f : fields) {
      if (f.section == section) out << f.key << " = " << value_text(f) << "\n";
    }
    out << "\n";
  }
  return out.str();
}

std::string schema_reference() {
  RunDeck defaults;
  const auto fields = deck_fields(defaults);
  std::ostringstream out;
  out << "# kmoe run deck: every key with its default.\n"
         "# Unknown keys are errors. Override any key with --set section.key=value.\n\n";
  for (const auto& section : deck_sections()) {
    out << "[" << section << "]\n";
    for (const auto& f : fields) {
      if (f.section != section) continue;
      out << "# " << f.doc << "\n#   " << f.type_name() << ", allowed: " << f.allowed() << "\n";
      if (f.full_name() == "moe.load_balancing_weight_end") {
        out << "# " << f.key << " = (follows moe.load_balancing_weight unless set)\n";
      } else {
        out << f.key << " = " << value_text(f) << "\n";
      }
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace kmoe
