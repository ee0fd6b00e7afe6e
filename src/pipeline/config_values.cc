// ParseSize and ParseWindow (declared in config.h), apart from config.cc so
// the fuzzer (src/pipeline/pipeline_text_fuzz.cc) builds them without
// toml++. Moved unchanged from config.cc.

#include <cctype>
#include <charconv>
#include <limits>
#include <sstream>

#include "pipeline/config.h"

namespace encore::pipeline {

Result<uint64_t> ParseSize(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  size_t start = i;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  auto bad = [&] {
    return Status::InvalidArgument("size '" + text +
                                   "' is not a size: write bytes, or a whole number with KB, MB "
                                   "or GB (e.g. \"1MB\", \"512 KB\")");
  };
  if (i == start) return bad();
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data() + start, text.data() + i, n);
  if (ec != std::errc()) return bad();
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  std::string unit;
  for (; i < text.size(); ++i) {
    if (std::isspace(static_cast<unsigned char>(text[i]))) break;
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  }
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  if (i != text.size()) return bad();
  uint64_t scale = 0;
  if (unit.empty() || unit == "b") scale = 1;
  if (unit == "k" || unit == "kb" || unit == "kib") scale = 1ull << 10;
  if (unit == "m" || unit == "mb" || unit == "mib") scale = 1ull << 20;
  if (unit == "g" || unit == "gb" || unit == "gib") scale = 1ull << 30;
  if (scale == 0) return bad();
  if (n > std::numeric_limits<uint64_t>::max() / scale) return bad();
  return n * scale;
}

Result<WindowSpec> ParseWindow(const std::string& text) {
  std::istringstream in(text);
  int64_t amount = 0;
  std::string unit, rest;
  auto bad = [&] {
    return Status::InvalidArgument("window '" + text +
                                   "' is not a duration: write \"N days\", \"N weeks\" or \"N "
                                   "months\" with N >= 1 (e.g. \"9 months\")");
  };
  if (!(in >> amount) || amount < 1 || !(in >> unit) || (in >> rest)) return bad();
  WindowSpec w;
  w.amount = amount;
  w.text = text;
  if (unit == "day" || unit == "days") {
    w.unit = WindowSpec::Unit::kDays;
  } else if (unit == "week" || unit == "weeks") {
    w.unit = WindowSpec::Unit::kWeeks;
  } else if (unit == "month" || unit == "months") {
    w.unit = WindowSpec::Unit::kMonths;
  } else {
    return bad();
  }
  if (amount > 100000) return bad();
  return w;
}

}  // namespace encore::pipeline
