#include "io/text.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace encore::io {

namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ParseDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

bool ParseIso(std::string_view s, int64_t* out) {
  int year, month, day;
  if (!ParseDigits(s, 0, 4, &year) || s.size() < 10 || s[4] != '-' ||
      !ParseDigits(s, 5, 2, &month) || s[7] != '-' || !ParseDigits(s, 8, 2, &day)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return false;
  int hour = 0, minute = 0, second = 0;
  int64_t offset_seconds = 0;
  size_t pos = 10;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return false;
    if (!ParseDigits(s, pos + 1, 2, &hour) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ParseDigits(s, pos + 4, 2, &minute)) {
      return false;
    }
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (!ParseDigits(s, pos + 1, 2, &second)) return false;
      pos += 3;
      if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        size_t start = ++pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
        if (pos == start) return false;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return false;
    if (pos < s.size()) {
      char z = s[pos];
      if (z == 'Z' || z == 'z') {
        ++pos;
      } else if (z == '+' || z == '-') {
        int oh = 0, om = 0;
        if (!ParseDigits(s, pos + 1, 2, &oh)) return false;
        pos += 3;
        if (pos < s.size()) {
          if (s[pos] == ':') ++pos;
          if (!ParseDigits(s, pos, 2, &om)) return false;
          pos += 2;
        }
        if (oh > 23 || om > 59) return false;
        offset_seconds = (z == '+' ? 1 : -1) * (oh * 3600 + om * 60);
      } else {
        return false;
      }
    }
    if (pos != s.size()) return false;
  }
  *out = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
         offset_seconds;
  return true;
}

}  // namespace

bool ParseFloat(std::string_view text, float* out) {
  std::string_view s = TrimSpaces(text);
  if (s.empty()) return false;
  if (s.front() == '+') s.remove_prefix(1);  // from_chars rejects a leading '+'
  if (s.empty() || s.front() == '+') return false;
  // Only decimal digits, sign, point and exponent: rejects "nan", "inf", "0x1p3".
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == 'e' || c == 'E' || c == '+')) {
      return false;
    }
  }
  float v;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool ParseTimestamp(std::string_view text, TimeUnit unit, int64_t* out) {
  std::string_view s = TrimSpaces(text);
  if (s.empty()) return false;
  bool numeric = true;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (i == 0 && c == '-') || c == '.')) {
      numeric = false;
      break;
    }
  }
  if (numeric && !(s.size() >= 5 && s[4] == '-')) {
    std::string_view int_part = s.substr(0, s.find('.'));
    if (int_part.empty() || int_part == "-") return false;
    if (s.find('.') != std::string_view::npos &&
        (s.find('.', s.find('.') + 1) != std::string_view::npos || s.back() == '.')) {
      return false;
    }
    int64_t v;
    auto [ptr, ec] = std::from_chars(int_part.data(), int_part.data() + int_part.size(), v);
    if (ec != std::errc() || ptr != int_part.data() + int_part.size()) return false;
    bool millis = unit == TimeUnit::kMilliseconds ||
                  (unit == TimeUnit::kAuto && (v >= 100000000000LL || v <= -100000000000LL));
    *out = millis ? v / 1000 : v;
    return true;
  }
  return ParseIso(s, out);
}

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    // ASCII fast path, 8 bytes at a time.
    while (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & 0x8080808080808080ULL) break;
      p += 8;
    }
    if (p >= end) break;
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

std::string QuoteForMessage(std::string_view text, size_t max_bytes) {
  std::string out = "'";
  size_t n = std::min(text.size(), max_bytes);
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  out += "'";
  if (text.size() > max_bytes) out += "...";
  return out;
}

}  // namespace encore::io
