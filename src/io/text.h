// Small, strict parsers for fields of text input: numbers, timestamps, UTF-8.
// Each returns false (or nullopt) on anything it does not fully understand;
// callers turn that into a rejected row with a reason.
//
// Thread-safety: pure functions.

#ifndef ENCORE_IO_TEXT_H_
#define ENCORE_IO_TEXT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "encore/reader.h"

namespace encore::io {

// Parses a finite decimal number ("4", "-1.5", "2e3", " 3.5 "). Surrounding
// spaces are allowed; "nan", "inf", hex and trailing garbage are not.
bool ParseFloat(std::string_view text, float* out);

// Parses a timestamp into unix seconds (UTC): an integer (seconds, or
// milliseconds per `unit`; kAuto treats |t| >= 1e11 as milliseconds), or
// ISO-8601: YYYY-MM-DD, optionally followed by 'T' or ' ' and HH:MM[:SS[.fff]]
// and a zone (Z, +HH:MM, +HHMM, +HH). Fractions of a second are truncated.
bool ParseTimestamp(std::string_view text, TimeUnit unit, int64_t* out);

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
bool IsValidUtf8(std::string_view text);

// A short, printable rendering of a field for error messages: at most
// `max_bytes` bytes, control and non-ASCII bytes escaped, in single quotes.
std::string QuoteForMessage(std::string_view text, size_t max_bytes = 40);

}  // namespace encore::io

#endif  // ENCORE_IO_TEXT_H_
