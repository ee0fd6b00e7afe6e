// JsonWriter: builds one JSON text incrementally (objects, arrays, scalars).
//
//   JsonWriter w;
//   w.BeginObject();
//   w.Key("users"); w.Uint(610);
//   w.Key("names"); w.BeginArray(); w.String("a\"b"); w.EndArray();
//   w.EndObject();
//   std::string text = w.str();   // {"users":610,"names":["a\"b"]}
//
// The output is always valid JSON (RFC 8259) when calls are well nested:
//  - strings are escaped: '"', '\\' and every control character (U+0000 to
//    U+001F, and U+007F) become escapes, as do U+2028 and U+2029 so the text
//    can also be embedded in JavaScript; bytes that are not valid UTF-8
//    (stray continuation bytes, overlong forms, surrogates, > U+10FFFF) are
//    replaced by U+FFFD, one per bad byte, so arbitrary input bytes are safe;
//  - doubles print in their shortest round-trip form; NaN and infinities,
//    which JSON cannot represent, print as null.
// Misuse (a value where a key is due, unbalanced End*) aborts via ENCORE_CHECK.
//
// With indent > 0 the text is pretty-printed, one member or element a line.
//
// Thread-safety: a plain value; no internal synchronisation.

#ifndef ENCORE_UTIL_JSON_WRITER_H_
#define ENCORE_UTIL_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace encore {

class JsonWriter {
 public:
  // indent: spaces per nesting level; 0 writes everything on one line.
  explicit JsonWriter(int indent = 0) : indent_(indent) {}

  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  // The name of the next object member. REQUIRES: inside an object.
  void Key(std::string_view name);

  void String(std::string_view s);
  void Int(int64_t v);
  void Uint(uint64_t v);
  void Double(double v);
  void Bool(bool v);
  void Null();

  // The text so far. Complete once every Begin* has been ended.
  const std::string& str() const { return out_; }
  // True when exactly one complete value has been written.
  bool complete() const { return stack_.empty() && wrote_root_; }

  // Appends `s` to `out` as a quoted, escaped JSON string.
  static void AppendQuoted(std::string_view s, std::string* out);
  // `s` as a quoted, escaped JSON string.
  static std::string Quote(std::string_view s);
  // Appends the shortest text that reads back as exactly `v` (std::to_chars;
  // also valid CSV and JSON). A NaN or infinity appends nothing and returns
  // false: callers decide (rank/encode.h makes it an error).
  static bool AppendFloat(float v, std::string* out);

 private:
  struct Level {
    bool is_object = false;
    bool empty = true;
    bool key_pending = false;  // objects: a key was written, its value is due
  };

  // Writes the separator and indentation due before a value or key.
  void BeforeValue();
  void BeginContainer(bool is_object, char open);
  void EndContainer(bool is_object, char close);
  void NewLine(size_t depth);

  int indent_;
  std::string out_;
  std::vector<Level> stack_;
  bool wrote_root_ = false;
};

}  // namespace encore

#endif  // ENCORE_UTIL_JSON_WRITER_H_
