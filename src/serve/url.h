// Request-target parsing for the HTTP server: splitting the origin-form
// target into path segments and query parameters, and percent-decoding
// (RFC 3986). '+' is a literal plus everywhere (this is not form encoding):
// clients encode a space as %20.
//
// Thread-safety: pure functions.
#ifndef ENCORE_SERVE_URL_H_
#define ENCORE_SERVE_URL_H_

#include <string>
#include <string_view>
#include <vector>

#include "encore/status.h"

namespace encore::serve {

// Decodes %XX escapes (hex digits in either case) into *out. InvalidArgument
// when a '%' is not followed by two hex digits. `what` names the piece in
// the message ("user id", "query parameter 'limit'").
Status PercentDecode(std::string_view in, std::string_view what, std::string* out);

// An origin-form target split at '?': raw (still encoded) path segments and
// query pairs.
struct Target {
  std::vector<std::string_view> segments;  // "/v1/users/u%201" -> {"v1","users","u%201"}
  struct Param {
    std::string_view key;    // raw
    std::string_view value;  // raw; empty for "?flag"
  };
  std::vector<Param> query;
  // The raw value of the last parameter named `key` (compared after
  // decoding is not needed: parameter names are plain ASCII), or nullptr.
  const std::string_view* Find(std::string_view key) const;
};

// Fails (InvalidArgument) unless `target` starts with '/'. Empty segments are
// kept ("/a//b" has three), so routes can reject them; a trailing '/' gives
// a trailing empty segment.
Status SplitTarget(std::string_view target, Target* out);

// Parses a non-negative decimal integer (digits only, no sign, no spaces)
// no larger than `max`. InvalidArgument naming `what` and the range.
Status ParseBoundedUint(std::string_view text, std::string_view what, uint32_t min, uint32_t max,
                        uint32_t* out);

}  // namespace encore::serve

#endif  // ENCORE_SERVE_URL_H_
