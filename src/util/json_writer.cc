#include "util/json_writer.h"

#include <charconv>
#include <cmath>

#include "encore/status.h"

namespace encore {

namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the valid UTF-8 sequence starting at s[i] (2 to 4), or 0 when the
// bytes there are not one (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF). REQUIRES: s[i] >= 0x80.
size_t MultiByteLength(std::string_view s, size_t i) {
  const unsigned char b0 = static_cast<unsigned char>(s[i]);
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  const unsigned char b1 = static_cast<unsigned char>(s[i + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (!IsContinuation(static_cast<unsigned char>(s[i + k]))) return 0;
  }
  return len;
}

// The two-character escape of an ASCII character, if JSON has one we need.
const char* ShortEscape(unsigned char c) {
  switch (c) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\b':
      return "\\b";
    case '\f':
      return "\\f";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      return nullptr;
  }
}

void AppendUnicodeEscape(unsigned code, std::string* out) {
  out->append("\\u");
  for (int shift = 12; shift >= 0; shift -= 4) out->push_back(kHex[(code >> shift) & 0xF]);
}

}  // namespace

void JsonWriter::AppendQuoted(std::string_view s, std::string* out) {
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (const char* escape = ShortEscape(c)) {
        out->append(escape);
      } else if (c < 0x20 || c == 0x7F) {
        AppendUnicodeEscape(c, out);
      } else {
        out->push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    const size_t len = MultiByteLength(s, i);
    if (len == 0) {
      out->append(kReplacement);
      ++i;
    } else if (len == 3 && c == 0xE2 && s[i + 1] == '\x80' &&
               (s[i + 2] == '\xA8' || s[i + 2] == '\xA9')) {
      AppendUnicodeEscape(s[i + 2] == '\xA8' ? 0x2028 : 0x2029, out);
      i += len;
    } else {
      out->append(s.substr(i, len));
      i += len;
    }
  }
  out->push_back('"');
}

std::string JsonWriter::Quote(std::string_view s) {
  std::string out;
  AppendQuoted(s, &out);
  return out;
}

bool JsonWriter::AppendFloat(float v, std::string* out) {
  if (!std::isfinite(v)) return false;
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return false;  // cannot happen: 32 bytes hold any float
  out->append(buf, end);
  return true;
}

void JsonWriter::NewLine(size_t depth) {
  if (indent_ <= 0) return;
  out_.push_back('\n');
  out_.append(depth * static_cast<size_t>(indent_), ' ');
}

void JsonWriter::BeforeValue() {
  if (stack_.empty()) {
    ENCORE_CHECK(!wrote_root_);  // one JSON text holds exactly one value
    wrote_root_ = true;
    return;
  }
  Level& top = stack_.back();
  if (top.is_object) {
    ENCORE_CHECK(top.key_pending);  // object members need a Key() first
    top.key_pending = false;
    return;
  }
  if (!top.empty) out_.push_back(',');
  top.empty = false;
  NewLine(stack_.size());
}

void JsonWriter::Key(std::string_view name) {
  ENCORE_CHECK(!stack_.empty() && stack_.back().is_object && !stack_.back().key_pending);
  Level& top = stack_.back();
  if (!top.empty) out_.push_back(',');
  top.empty = false;
  NewLine(stack_.size());
  AppendQuoted(name, &out_);
  out_.push_back(':');
  if (indent_ > 0) out_.push_back(' ');
  top.key_pending = true;
}

void JsonWriter::BeginContainer(bool is_object, char open) {
  BeforeValue();
  out_.push_back(open);
  stack_.push_back(Level{is_object, true, false});
}

void JsonWriter::EndContainer(bool is_object, char close) {
  ENCORE_CHECK(!stack_.empty() && stack_.back().is_object == is_object &&
               !stack_.back().key_pending);
  const bool empty = stack_.back().empty;
  stack_.pop_back();
  if (!empty) NewLine(stack_.size());
  out_.push_back(close);
}

void JsonWriter::BeginObject() { BeginContainer(true, '{'); }
void JsonWriter::EndObject() { EndContainer(true, '}'); }
void JsonWriter::BeginArray() { BeginContainer(false, '['); }
void JsonWriter::EndArray() { EndContainer(false, ']'); }

void JsonWriter::String(std::string_view s) {
  BeforeValue();
  AppendQuoted(s, &out_);
}

void JsonWriter::Int(int64_t v) {
  BeforeValue();
  out_.append(std::to_string(v));
}

void JsonWriter::Uint(uint64_t v) {
  BeforeValue();
  out_.append(std::to_string(v));
}

void JsonWriter::Double(double v) {
  if (!std::isfinite(v)) {
    Null();
    return;
  }
  BeforeValue();
  char buf[32];
  // Shortest form that reads back as the same double, e.g. 0.5, 3, 1e+20:
  // all valid JSON numbers.
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  ENCORE_CHECK(ec == std::errc());
  out_.append(buf, end);
}

void JsonWriter::Bool(bool v) {
  BeforeValue();
  out_.append(v ? "true" : "false");
}

void JsonWriter::Null() {
  BeforeValue();
  out_.append("null");
}

}  // namespace encore
