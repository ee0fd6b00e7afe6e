// JsonLineParser: one JSON Lines record, a flat object, as (key, text)
// pairs. The one parser of the interaction reader (io/reader.cc) and the
// catalog reader (src/catalog).
//
//   strings           their unescaped text
//   numbers, booleans their JSON token ("4.5", "true"), checked to be valid
//   null              "" (as if the key held an empty value)
//   objects, arrays   their raw JSON text; the key is also listed in
//                     nested_keys (callers refuse nested ids and values)
// A repeated key keeps its first position and its last value. A line that is
// not exactly one JSON object (bad JSON, an array, two objects) fails with
// simdjson's reason.
//
// Thread-safety: one parser per thread (it reuses its buffers).

#ifndef ENCORE_IO_JSON_LINE_H_
#define ENCORE_IO_JSON_LINE_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace encore::io {

class JsonLineParser {
 public:
  JsonLineParser();
  ~JsonLineParser();
  JsonLineParser(const JsonLineParser&) = delete;
  JsonLineParser& operator=(const JsonLineParser&) = delete;

  // Parses `line` (no line break; trailing blanks allowed). On success
  // *fields and *nested_keys hold the record and true is returned; on
  // failure *error says why and false is returned.
  bool Parse(std::string_view line, std::vector<std::pair<std::string, std::string>>* fields,
             std::vector<std::string>* nested_keys, std::string* error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace encore::io

#endif  // ENCORE_IO_JSON_LINE_H_
