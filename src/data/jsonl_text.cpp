#include "data/jsonl_text.hpp"

#include "core/error.hpp"

namespace kmoe {
namespace {

class JsonCursor {
 public:
  static constexpr int kMaxDepth = 512;
  explicit JsonCursor(const std::string& s) : s_(s) {}

  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) ++i_;
  }
  char peek() {
    skip_space();
    if (i_ >= s_.size()) fail("unexpected end of line");
    return s_[i_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  bool at_end() {
    skip_space();
    return i_ >= s_.size();
  }

  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) fail("unterminated escape");
      const char e = s_[i_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u':
          append_utf8(out, code_point());
          break;
        default:
          fail("bad escape");
      }
    }
  }

  // Nesting is bounded: a line nested 100,000 deep would otherwise overflow the stack.
  void skip_value(int depth = 0) {
    const char c = peek();
    if (c == '"') {
      string();
    } else if (c == '{' || c == '[') {
      if (depth >= kMaxDepth) fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
      const char close = c == '{' ? '}' : ']';
      ++i_;
      if (peek() == close) {
        ++i_;
        return;
      }
      while (true) {
        if (close == '}') {
          string();
          expect(':');
        }
        skip_value(depth + 1);
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect(close);
        return;
      }
    } else {
      const size_t start = i_;
      while (i_ < s_.size() && std::string(",}] \t\r\n").find(s_[i_]) == std::string::npos) ++i_;
      if (i_ == start) fail("expected a value");
    }
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("malformed JSON at column " + std::to_string(i_ + 1) + ": " + what);
  }

 private:
  unsigned hex4() {
    if (i_ + 4 > s_.size()) fail("short \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[i_++];
      v <<= 4;
      if (h >= '0' && h <= '9')
        v |= unsigned(h - '0');
      else if (h >= 'a' && h <= 'f')
        v |= unsigned(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        v |= unsigned(h - 'A' + 10);
      else
        fail("bad hex digit");
    }
    return v;
  }
  unsigned code_point() {
    const unsigned high = hex4();
    if (high >= 0xD800 && high < 0xDC00 && i_ + 6 <= s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
      i_ += 2;
      const unsigned low = hex4();
      return 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
    }
    return high;
  }
  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  const std::string& s_;
  size_t i_ = 0;
};

}  // namespace

std::optional<std::string> jsonl_text_field(const std::string& line) {
  JsonCursor json(line);
  std::optional<std::string> text;
  json.expect('{');
  if (json.peek() == '}') return text;
  while (true) {
    const std::string key = json.string();
    json.expect(':');
    if (key == "text") {
      if (json.peek() != '"') json.fail("\"text\" is not a string");
      text = json.string();
    } else {
      json.skip_value();
    }
    if (json.peek() == ',') {
      json.expect(',');
      continue;
    }
    json.expect('}');
    break;
  }
  if (!json.at_end()) json.fail("trailing characters after the object");
  return text;
}

}  // namespace kmoe
