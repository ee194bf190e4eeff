// Extracts the "text" field of one JSON-lines record (a minimal, strict JSON reader: only
// what JSONL corpora need — objects, strings with escapes, numbers, literals, nesting).
#pragma once

#include <optional>
#include <string>

namespace kmoe {

// The top-level "text" string of a JSON object line, or nullopt if the object has none.
// Throws kmoe::Error on malformed JSON.
std::optional<std::string> jsonl_text_field(const std::string& line);

}  // namespace kmoe
