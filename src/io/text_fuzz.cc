// Fuzzes the field parsers: numbers, timestamps, UTF-8 validation.
// Invariants: parsed numbers are finite; a parsed ISO timestamp formats back
// to a string that parses to the same instant.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "encore/status.h"
#include "io/text.h"
#include "util/time_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace encore;
  std::string_view s(reinterpret_cast<const char*>(data), size);
  float f;
  if (io::ParseFloat(s, &f)) ENCORE_CHECK(std::isfinite(f));
  int64_t t;
  if (io::ParseTimestamp(s, TimeUnit::kSeconds, &t) && t > -62135596800LL && t < 253402300799LL) {
    int64_t back;
    ENCORE_CHECK(io::ParseTimestamp(FormatUtcTime(t), TimeUnit::kSeconds, &back));
    ENCORE_CHECK(back == t);
  }
  (void)io::IsValidUtf8(s);
  (void)io::QuoteForMessage(s);
  return 0;
}
