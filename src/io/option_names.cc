// Names of reading options (declared in reader.h). The dataset options
// (feedback, duplicates, weights, transform) are parsed in src/data/dataset.cc.

#include "encore/reader.h"

namespace encore {

Result<char> ParseSeparator(const std::string& s) {
  if (s == "\\t" || s == "tab" || s == "\t") return '\t';
  if (s == "comma") return ',';
  if (s == "space") return ' ';
  if (s == "semicolon") return ';';
  if (s == "pipe") return '|';
  if (s.size() == 1) return s[0];
  return Status::InvalidArgument("separator '" + s +
                                 "' must be one byte (or tab, comma, space, semicolon, pipe)");
}

Result<TimeUnit> ParseTimeUnit(const std::string& text) {
  if (text == "auto") return TimeUnit::kAuto;
  if (text == "s") return TimeUnit::kSeconds;
  if (text == "ms") return TimeUnit::kMilliseconds;
  return Status::InvalidArgument("time unit '" + text + "': use auto, s or ms");
}

}  // namespace encore
