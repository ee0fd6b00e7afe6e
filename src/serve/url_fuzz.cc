// Fuzzes the request-target parsing of the HTTP server (serve/url.h), which
// sees every byte a client sends in the request line.
// Invariants:
//  - PercentDecode fails exactly when a '%' is not followed by two hex
//    digits; its output is never longer than the input (each escape shrinks
//    by two bytes, nothing else changes);
//  - decoding an encoding gives the bytes back, whatever the hex case;
//  - SplitTarget accepts exactly the targets starting with '/'; the segments
//    joined by '/' give the path back, and the pieces view the target;
//  - a target built from encoded segments and query pairs splits and decodes
//    back into the same pieces, and Find returns the last value of a key;
//  - ParseBoundedUint agrees with a reference (1 to 10 digits, in range).

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "encore/status.h"
#include "serve/url.h"

namespace {

using encore::Status;

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool IsUnreserved(unsigned char c) {  // RFC 3986 section 2.3
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Every byte but the unreserved ones as %XX, in upper or lower case.
std::string Encode(std::string_view in, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (unsigned char c : in) {
    if (IsUnreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

std::string Decode(std::string_view in) {
  std::string out;
  Status s = encore::serve::PercentDecode(in, "fuzz", &out);
  ENCORE_CHECK(s.ok());
  return out;
}

void CheckPercentDecode(std::string_view s) {
  bool well_formed = true;
  size_t escapes = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size()) {
      well_formed = false;
      break;
    }
    if (!IsHex(s[i + 1]) || !IsHex(s[i + 2])) {
      well_formed = false;
      break;
    }
    ++escapes;
    i += 2;
  }
  std::string out;
  Status st = encore::serve::PercentDecode(s, "user id", &out);
  ENCORE_CHECK(st.ok() == well_formed);
  if (!st.ok()) {
    ENCORE_CHECK(st.code() == encore::StatusCode::kInvalidArgument);
    ENCORE_CHECK(st.message().find("user id") != std::string::npos);
    return;
  }
  ENCORE_CHECK(out.size() <= s.size());
  ENCORE_CHECK(out.size() == s.size() - 2 * escapes);
  // Round trips both ways.
  ENCORE_CHECK(Decode(Encode(out, true)) == out);
  ENCORE_CHECK(Decode(Encode(out, false)) == out);
  ENCORE_CHECK(Decode(Encode(s, escapes % 2 == 0)) == s);
}

bool Inside(std::string_view piece, std::string_view whole) {
  return piece.empty() || (piece.data() >= whole.data() &&
                           piece.data() + piece.size() <= whole.data() + whole.size());
}

void CheckSplitTarget(std::string_view s) {
  encore::serve::Target t;
  Status st = encore::serve::SplitTarget(s, &t);
  ENCORE_CHECK(st.ok() == (!s.empty() && s[0] == '/'));
  if (!st.ok()) return;
  const size_t q = s.find('?');
  const std::string_view path = s.substr(1, q == std::string_view::npos ? q : q - 1);
  std::string joined;
  for (size_t i = 0; i < t.segments.size(); ++i) {
    ENCORE_CHECK(t.segments[i].find('/') == std::string_view::npos);
    ENCORE_CHECK(Inside(t.segments[i], s));
    if (i > 0) joined += '/';
    joined += t.segments[i];
  }
  ENCORE_CHECK(joined == path);
  for (const auto& p : t.query) {
    ENCORE_CHECK(Inside(p.key, s) && Inside(p.value, s));
    ENCORE_CHECK(p.key.find_first_of("&=") == std::string_view::npos);
    ENCORE_CHECK(p.value.find('&') == std::string_view::npos);
  }
  if (!t.query.empty()) {
    const std::string_view* found = t.Find(t.query.front().key);
    ENCORE_CHECK(found != nullptr);
    for (auto it = t.query.rbegin(); it != t.query.rend(); ++it) {
      if (it->key == t.query.front().key) {
        ENCORE_CHECK(found == &it->value);
        break;
      }
    }
  }
}

// Reference for ParseBoundedUint: 1 to 10 ASCII digits, value in [min, max].
bool ReferenceBoundedUint(std::string_view text, uint32_t min, uint32_t max, uint32_t* out) {
  if (text.empty() || text.size() > 10) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v < min || v > max) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

void CheckBoundedUint(std::string_view s, uint32_t min, uint32_t max) {
  uint32_t got = 7, want = 0;
  Status st = encore::serve::ParseBoundedUint(s, "limit", min, max, &got);
  const bool ok = ReferenceBoundedUint(s, min, max, &want);
  ENCORE_CHECK(st.ok() == ok);
  if (ok) {
    ENCORE_CHECK(got == want);
  } else {
    ENCORE_CHECK(got == 7);  // untouched on failure
    ENCORE_CHECK(st.message().find("limit") == 0);
  }
}

// Builds a target from pieces taken from the input, encodes it, and checks
// that splitting and decoding give the pieces back.
void CheckBuiltTarget(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const bool upper = in.ConsumeBool();
  std::vector<std::string> segments(in.ConsumeIntegralInRange<size_t>(1, 5));
  for (auto& seg : segments) seg = in.ConsumeRandomLengthString(64);
  std::vector<std::pair<std::string, std::string>> params(in.ConsumeIntegralInRange<size_t>(0, 5));
  for (auto& [k, v] : params) {
    k = in.ConsumeRandomLengthString(16);
    v = in.ConsumeRandomLengthString(64);
  }
  std::string target;
  for (const auto& seg : segments) target += "/" + Encode(seg, upper);
  for (size_t i = 0; i < params.size(); ++i) {
    target += (i == 0 ? "?" : "&") + Encode(params[i].first, upper) + "=" +
              Encode(params[i].second, upper);
  }
  encore::serve::Target t;
  ENCORE_CHECK(encore::serve::SplitTarget(target, &t).ok());
  ENCORE_CHECK(t.segments.size() == segments.size());
  for (size_t i = 0; i < segments.size(); ++i) ENCORE_CHECK(Decode(t.segments[i]) == segments[i]);
  ENCORE_CHECK(t.query.size() == params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    ENCORE_CHECK(Decode(t.query[i].key) == params[i].first);
    ENCORE_CHECK(Decode(t.query[i].value) == params[i].second);
    const std::string_view* found = t.Find(Encode(params[i].first, upper));
    ENCORE_CHECK(found != nullptr);
    for (size_t j = params.size(); j-- > 0;) {
      if (params[j].first == params[i].first) {
        ENCORE_CHECK(Decode(*found) == params[j].second);
        break;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  CheckPercentDecode(s);
  CheckSplitTarget(s);
  // The server's limit (1..max_limit) and offset (0..kMaxOffset) ranges,
  // the full range, and a range from the input's first bytes.
  CheckBoundedUint(s, 1, 1000);
  CheckBoundedUint(s, 0, 1000000);
  CheckBoundedUint(s, 0, UINT32_MAX);
  if (size >= 8) {
    uint32_t a = 0, b = 0;
    for (int i = 0; i < 4; ++i) a = a << 8 | data[i];
    for (int i = 4; i < 8; ++i) b = b << 8 | data[i];
    CheckBoundedUint(s.substr(8), a < b ? a : b, a < b ? b : a);
  }
  CheckBuiltTarget(data, size);
  return 0;
}
