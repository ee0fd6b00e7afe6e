// Fuzzes the hand-written text handling of pipelines: derived-column
// templates (output.h), sizes and windows (config.h), and the PostgreSQL
// output's connection-string redaction and COPY escaping (postgres_text.h).
// The first byte picks one of them (byte - '0', modulo 6); the rest is its
// input.
// Invariants:
//  0 templates: WithDerivedColumns accepts exactly the templates a reference
//    parser accepts ({name}, {row}, {{, }}), and every derived cell equals
//    the reference expansion;
//  1 sizes: ParseSize never crashes; a size it accepts is accepted again,
//    with the same value, with blanks around it and in upper case; "N UNIT"
//    written from numbers parses to N times the unit unless that overflows;
//  2 windows: likewise for ParseWindow (1 to 100000 days, weeks or months);
//  3 conninfo (arbitrary text): when libpq would read a password from it
//    (references of libpq's key=value and URI grammars), that password appears
//    neither in the shown connection ("where") nor in any message scrubbed
//    with the secrets found;
//  4 conninfo (built): the same for a connection string built from pieces,
//    key=value (quoted or backslash-escaped) or URI (percent-encoded, or
//    sloppily with some bytes of the password left as they are), with the
//    password in the user info or the query;
//  5 COPY: AppendCopyText leaves no tab, LF or CR; PostgreSQL's COPY text
//    unescaping (written here) gives every cell back, also for a whole line
//    split at tabs.
// Passwords holding '*' are not checked for (the mask is "********").

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "encore/status.h"
#include "pipeline/config.h"
#include "pipeline/output.h"
#include "pipeline/postgres_text.h"
#include "pipeline/testing_rows.h"

namespace {

using encore::Result;
using encore::Status;
namespace pl = encore::pipeline;

// ------------------------------------------------------------- templates

const std::vector<std::string> kBaseColumns = {"user", "item", "score", "row", "x{"};

// A piece of a template: literal text, or the name in {name}.
struct Piece {
  bool is_name;
  std::string text;
};

// Reference: the pieces of a template, or nullopt when it is invalid.
std::optional<std::vector<Piece>> ReferenceTemplate(const std::string& t) {
  std::vector<Piece> pieces;
  std::string literal;
  size_t i = 0;
  while (i < t.size()) {
    if (t.compare(i, 2, "{{") == 0 || t.compare(i, 2, "}}") == 0) {
      literal += t[i];
      i += 2;
    } else if (t[i] == '}') {
      return std::nullopt;
    } else if (t[i] == '{') {
      size_t j = i + 1;
      while (j < t.size() && t[j] != '{' && t[j] != '}') ++j;
      if (j == t.size() || t[j] == '{') return std::nullopt;
      const std::string name = t.substr(i + 1, j - i - 1);
      if (name != "row" &&
          std::find(kBaseColumns.begin(), kBaseColumns.end(), name) == kBaseColumns.end()) {
        return std::nullopt;
      }
      pieces.push_back({false, literal});
      literal.clear();
      pieces.push_back({true, name});
      i = j + 1;
    } else {
      literal += t[i++];
    }
  }
  pieces.push_back({false, literal});
  return pieces;
}

std::string Expand(const std::vector<Piece>& pieces, const std::vector<std::string>& row,
                   size_t row_number) {
  std::string out;
  for (const Piece& p : pieces) {
    if (!p.is_name) {
      out += p.text;
    } else if (p.text == "row") {  // {row} is the row number, even with a column "row"
      out += std::to_string(row_number);
    } else {
      out +=
          row[std::find(kBaseColumns.begin(), kBaseColumns.end(), p.text) - kBaseColumns.begin()];
    }
  }
  return out;
}

void CheckTemplates(FuzzedDataProvider& in) {
  pl::testing::Rows rows(in.ConsumeIntegralInRange<size_t>(0, 3));
  for (auto& row : rows) {
    for (size_t c = 0; c < kBaseColumns.size(); ++c) row.push_back(in.ConsumeRandomLengthString(8));
  }
  std::vector<pl::DerivedColumn> derived(in.ConsumeIntegralInRange<size_t>(1, 2));
  for (auto& d : derived) {
    d.name =
        in.ConsumeBool() ? in.ConsumeRandomLengthString(4) : "d" + std::to_string(&d - &derived[0]);
    d.template_text = in.ConsumeRandomLengthString(64);
  }
  pl::testing::VectorRowSource base(kBaseColumns, rows);
  Result<std::unique_ptr<pl::RowSource>> view = pl::WithDerivedColumns(base, derived, {});

  // Reference: names non-empty and unique among all columns, templates valid.
  bool ok = true;
  std::vector<std::vector<Piece>> pieces;
  std::vector<std::string> names = kBaseColumns;
  for (const auto& d : derived) {
    if (d.name.empty() || std::find(names.begin(), names.end(), d.name) != names.end()) {
      ok = false;
      break;
    }
    names.push_back(d.name);
    auto p = ReferenceTemplate(d.template_text);
    if (!p) {
      ok = false;
      break;
    }
    pieces.push_back(*p);
  }
  ENCORE_CHECK(view.ok() == ok);
  if (!view.ok()) {
    ENCORE_CHECK(view.status().code() == encore::StatusCode::kInvalidArgument);
    return;
  }
  ENCORE_CHECK((*view)->columns() == names);
  size_t r = 0;
  Status st = (*view)->ForEach([&](std::span<const std::string_view> cells) -> Status {
    ENCORE_CHECK(r < rows.size());
    ENCORE_CHECK(cells.size() == names.size());
    for (size_t c = 0; c < kBaseColumns.size(); ++c) ENCORE_CHECK(cells[c] == rows[r][c]);
    for (size_t d = 0; d < derived.size(); ++d) {
      ENCORE_CHECK(cells[kBaseColumns.size() + d] == Expand(pieces[d], rows[r], r + 1));
    }
    ++r;
    return Status::OK();
  });
  ENCORE_CHECK(st.ok());
  ENCORE_CHECK(r == rows.size());
}

// ------------------------------------------------------ sizes and windows

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

void CheckSizes(FuzzedDataProvider& in) {
  const std::string text = in.ConsumeRandomLengthString(32);
  Result<uint64_t> size = pl::ParseSize(text);
  if (size.ok()) {
    ENCORE_CHECK(pl::ParseSize(" \t" + text + " \n").value() == *size);
    ENCORE_CHECK(pl::ParseSize(Upper(text)).value() == *size);
  } else {
    ENCORE_CHECK(size.status().message().find("is not a size") != std::string::npos);
  }
  static const std::pair<const char*, uint64_t> kUnits[] = {{"", 1},
                                                            {"B", 1},
                                                            {"k", 1ull << 10},
                                                            {"KB", 1ull << 10},
                                                            {"KiB", 1ull << 10},
                                                            {"mb", 1ull << 20},
                                                            {"MiB", 1ull << 20},
                                                            {"M", 1ull << 20},
                                                            {"GB", 1ull << 30},
                                                            {"gib", 1ull << 30},
                                                            {"g", 1ull << 30}};
  const uint64_t n = in.ConsumeBool() ? in.ConsumeIntegral<uint64_t>()
                                      : in.ConsumeIntegralInRange<uint64_t>(0, 1 << 20);
  const auto& [unit, scale] = kUnits[in.ConsumeIntegralInRange<size_t>(0, std::size(kUnits) - 1)];
  const std::string written = std::string(in.ConsumeIntegralInRange<int>(0, 2), ' ') +
                              std::to_string(n) +
                              std::string(in.ConsumeIntegralInRange<int>(0, 2), ' ') + unit;
  Result<uint64_t> parsed = pl::ParseSize(written);
  if (n > UINT64_MAX / scale) {
    ENCORE_CHECK(!parsed.ok());
  } else {
    ENCORE_CHECK(parsed.ok() && *parsed == n * scale);
  }
}

void CheckWindows(FuzzedDataProvider& in) {
  const std::string text = in.ConsumeRandomLengthString(32);
  Result<pl::WindowSpec> w = pl::ParseWindow(text);
  static const char* const kUnitNames[] = {"days", "weeks", "months"};
  if (w.ok()) {
    ENCORE_CHECK(w->amount >= 1 && w->amount <= 100000);
    ENCORE_CHECK(w->text == text);
    const std::string canonical =
        std::to_string(w->amount) + " " + kUnitNames[static_cast<int>(w->unit)];
    Result<pl::WindowSpec> again = pl::ParseWindow(canonical);
    ENCORE_CHECK(again.ok() && again->amount == w->amount && again->unit == w->unit);
  } else {
    ENCORE_CHECK(w.status().message().find("is not a duration") != std::string::npos);
  }
  const int64_t amount = in.ConsumeIntegralInRange<int64_t>(-5, 100005);
  const int unit = in.ConsumeIntegralInRange<int>(0, 2);
  std::string name = kUnitNames[unit];
  if (amount == 1 && in.ConsumeBool()) name.pop_back();  // "1 day"
  Result<pl::WindowSpec> built = pl::ParseWindow(std::to_string(amount) + " " + name);
  ENCORE_CHECK(built.ok() == (amount >= 1 && amount <= 100000));
  if (built.ok()) {
    ENCORE_CHECK(built->amount == amount && static_cast<int>(built->unit) == unit);
  }
}

// -------------------------------------------------------------- conninfo

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// The password libpq reads from a key=value connection string (its
// conninfo_parse, on the text up to the first NUL, as libpq sees a C
// string), or nullopt when it reads none or rejects the string's syntax.
std::optional<std::string> LibpqKeyValuePassword(std::string_view s) {
  s = s.substr(0, s.find('\0'));
  std::optional<std::string> password;
  size_t i = 0;
  while (i < s.size()) {
    if (IsSpace(s[i])) {
      ++i;
      continue;
    }
    const size_t name_start = i;
    while (i < s.size() && s[i] != '=' && !IsSpace(s[i])) ++i;
    const std::string_view name = s.substr(name_start, i - name_start);
    while (i < s.size() && IsSpace(s[i])) ++i;
    if (i >= s.size() || s[i] != '=') return std::nullopt;  // missing "="
    ++i;
    while (i < s.size() && IsSpace(s[i])) ++i;
    std::string value;
    if (i < s.size() && s[i] == '\'') {
      ++i;
      while (true) {
        if (i >= s.size()) return std::nullopt;  // unterminated quoted string
        if (s[i] == '\\') {
          ++i;
          if (i < s.size()) value += s[i++];
          continue;
        }
        if (s[i] == '\'') {
          ++i;
          break;
        }
        value += s[i++];
      }
    } else {
      while (i < s.size()) {
        if (IsSpace(s[i])) {
          ++i;
          break;
        }
        if (s[i] == '\\') {
          ++i;
          if (i < s.size()) value += s[i++];
        } else {
          value += s[i++];
        }
      }
    }
    if (name == "password") password = value;
  }
  return password;
}

// libpq's percent-decoding of URI pieces: nullopt for a bad escape or %00.
std::optional<std::string> LibpqUriDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0) return std::nullopt;
    const int c = hex(s[i + 1]) * 16 + hex(s[i + 2]);
    if (c == 0) return std::nullopt;
    out += static_cast<char>(c);
    i += 2;
  }
  return out;
}

// The password libpq reads from a postgres[ql]:// URI (its
// conninfo_uri_parse_options, simplified where only the host is concerned):
// user info ends at the first '@' that comes before any '/'; the query
// starts at the next '?' and holds key=value pairs separated by '&'.
// nullopt when it reads none or rejects the URI.
std::optional<std::string> LibpqUriPassword(std::string_view s) {
  s = s.substr(0, s.find('\0'));
  s.remove_prefix(s.find("://") + 3);  // one of libpq's two prefixes
  std::optional<std::string> password;
  if (size_t at = s.find_first_of("@/"); at != std::string_view::npos && s[at] == '@') {
    const std::string_view userinfo = s.substr(0, at);
    if (size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
      password = LibpqUriDecode(userinfo.substr(colon + 1));
      if (!password) return std::nullopt;
    }
    s.remove_prefix(at + 1);
  }
  if (size_t q = s.find('?'); q != std::string_view::npos) {
    std::string_view query = s.substr(q + 1);
    while (true) {
      const size_t amp = query.find('&');
      const std::string_view param = query.substr(0, amp);
      const size_t eq = param.find('=');
      if (eq == std::string_view::npos || param.find('=', eq + 1) != std::string_view::npos) {
        return std::nullopt;  // missing or extra "="
      }
      std::optional<std::string> key = LibpqUriDecode(param.substr(0, eq));
      std::optional<std::string> value = LibpqUriDecode(param.substr(eq + 1));
      if (!key || !value) return std::nullopt;
      if (*key == "password") password = *value;
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  return password;
}

// `s` with bytes outside printable ASCII as \xNN, for failure reports.
std::string Escaped(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void CheckRedacted(const std::string& conninfo, const std::string& password,
                   std::string_view context) {
  if (password.empty() || password.find('*') != std::string::npos) return;
  const pl::Conninfo info = pl::ParseConninfo(conninfo);
  // A message that quotes the password, as a server or libpq message might.
  const std::string message =
      "FATAL: " + std::string(context) + password + "\" " + std::string(context) + password;
  const std::string scrubbed = pl::Scrub(message, info.secrets);
  if (info.where.find(password) != std::string::npos ||
      scrubbed.find(password) != std::string::npos) {
    std::fprintf(stderr, "conninfo: %s\npassword: %s\nwhere:    %s\nscrubbed: %s\n",
                 Escaped(conninfo).c_str(), Escaped(password).c_str(), Escaped(info.where).c_str(),
                 Escaped(scrubbed).c_str());
    for (const auto& secret : info.secrets) {
      std::fprintf(stderr, "secret:   %s\n", Escaped(secret).c_str());
    }
    ENCORE_CHECK(!"the password is shown");
  }
}

void CheckConninfoText(FuzzedDataProvider& in) {
  const std::string conninfo = in.ConsumeRemainingBytesAsString();
  const pl::Conninfo info = pl::ParseConninfo(conninfo);
  ENCORE_CHECK(!info.where.empty());
  ENCORE_CHECK(info.where.find_first_of("\t\n\r") == std::string::npos);
  const bool uri = conninfo.starts_with("postgresql://") || conninfo.starts_with("postgres://");
  if (std::optional<std::string> password =
          uri ? LibpqUriPassword(conninfo) : LibpqKeyValuePassword(conninfo)) {
    CheckRedacted(conninfo, *password, "");
  }
}

// Value pieces: short, from an alphabet rich in the characters the two
// grammars treat specially.
std::string Piece(FuzzedDataProvider& in) {
  static const char kAlphabet[] = "ab1 \t\n'\\\"=&@:/?%#+,*\x01\xc3\xa9";
  std::string out;
  for (size_t n = in.ConsumeIntegralInRange<size_t>(0, 10); n > 0; --n) {
    out += in.ConsumeBool() ? kAlphabet[in.ConsumeIntegralInRange<size_t>(0, sizeof(kAlphabet) - 2)]
                            : static_cast<char>(in.ConsumeIntegralInRange<int>(1, 255));
  }
  return out;
}

std::string KeyValueEncode(const std::string& v, bool quoted) {
  std::string out = quoted ? "'" : "";
  for (char c : v) {
    if (c == '\\' || (quoted ? c == '\'' : (IsSpace(c) || c == '\''))) out += '\\';
    out += c;
  }
  return quoted ? out + "'" : out;
}

std::string PercentEncode(const std::string& v) {
  std::string out;
  for (unsigned char c : v) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      static const char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void CheckConninfoBuilt(FuzzedDataProvider& in) {
  std::string password = Piece(in);
  if (password.empty()) password = "pw";
  std::map<std::string, std::string> values;
  for (const char* key : {"host", "port", "dbname", "user", "sslmode"}) {
    if (in.ConsumeBool()) values[key] = in.ConsumeBool() ? password : Piece(in);
  }
  std::string conninfo;
  bool sloppy = false;
  if (in.ConsumeBool()) {
    // key=value, in an order the input picks, the password somewhere.
    std::vector<std::pair<std::string, std::string>> pairs(values.begin(), values.end());
    pairs.insert(pairs.begin() + in.ConsumeIntegralInRange<size_t>(0, pairs.size()),
                 {"password", password});
    for (const auto& [k, v] : pairs) {
      const bool quoted = v.empty() || in.ConsumeBool();
      conninfo += std::string(in.ConsumeIntegralInRange<int>(0, 2), ' ') + k +
                  std::string(in.ConsumeIntegralInRange<int>(0, 1), ' ') + "=" +
                  std::string(in.ConsumeIntegralInRange<int>(0, 1), ' ') +
                  KeyValueEncode(v, quoted) + " ";
    }
  } else {
    conninfo = in.ConsumeBool() ? "postgresql://" : "postgres://";
    const bool in_userinfo = in.ConsumeBool();
    // Sloppy: some bytes of the password left unencoded, as people write
    // them; then the password is whatever libpq makes of it.
    sloppy = in_userinfo && in.ConsumeIntegralInRange<int>(0, 3) == 0;
    if (in_userinfo || values.count("user")) {
      conninfo += PercentEncode(values["user"]);
      if (in_userinfo) {
        conninfo += ":";
        for (char c : password) {
          conninfo += sloppy && in.ConsumeBool() ? std::string(1, c) : PercentEncode({c});
        }
      }
      conninfo += "@";
    }
    if (values.count("host")) conninfo += PercentEncode(values["host"]);
    if (values.count("port")) conninfo += ":" + PercentEncode(values["port"]);
    if (values.count("dbname")) conninfo += "/" + PercentEncode(values["dbname"]);
    std::string query;
    if (values.count("sslmode")) query += "sslmode=" + PercentEncode(values["sslmode"]);
    if (!in_userinfo) query += (query.empty() ? "" : "&") + ("password=" + PercentEncode(password));
    if (!query.empty()) conninfo += "?" + query;
  }
  const std::string context = Piece(in);
  const bool uri = conninfo.starts_with("postgres");
  std::optional<std::string> libpq_password =
      uri ? LibpqUriPassword(conninfo) : LibpqKeyValuePassword(conninfo);
  if (!sloppy) {
    ENCORE_CHECK(libpq_password == password);  // the builder and the reference agree
  } else if (!libpq_password) {
    return;  // libpq rejects it
  }
  CheckRedacted(conninfo, *libpq_password, context);
}

// ------------------------------------------------------------------ COPY

// PostgreSQL's COPY FROM text-format unescaping of one field.
std::string CopyUnescape(std::string_view s) {
  std::string out;
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    if (octal(c)) {
      int v = c - '0';
      for (int k = 0; k < 2 && i + 1 < s.size() && octal(s[i + 1]); ++k) v = v * 8 + (s[++i] - '0');
      out += static_cast<char>(v & 0xff);
    } else if (c == 'x' && i + 1 < s.size() && hex(s[i + 1]) >= 0) {
      int v = hex(s[++i]);
      if (i + 1 < s.size() && hex(s[i + 1]) >= 0) v = v * 16 + hex(s[++i]);
      out += static_cast<char>(v);
    } else {
      switch (c) {
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        default:
          out += c;
      }
    }
  }
  return out;
}

void CheckCopy(FuzzedDataProvider& in) {
  std::vector<std::string> cells(in.ConsumeIntegralInRange<size_t>(1, 4));
  for (auto& c : cells) c = in.ConsumeRandomLengthString(64);
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    std::string one;
    pl::AppendCopyText(cells[i], &one);
    ENCORE_CHECK(one.find_first_of("\t\n\r") == std::string::npos);
    ENCORE_CHECK(one != "\\N");  // the NULL marker
    ENCORE_CHECK(one != "\\.");  // the end-of-data marker
    ENCORE_CHECK(CopyUnescape(one) == cells[i]);
    if (i > 0) line += '\t';
    pl::AppendCopyText(cells[i], &line);
  }
  size_t field = 0, start = 0;
  while (true) {
    const size_t tab = line.find('\t', start);
    ENCORE_CHECK(field < cells.size());
    ENCORE_CHECK(CopyUnescape(std::string_view(line).substr(start, tab - start)) == cells[field]);
    ++field;
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  ENCORE_CHECK(field == cells.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  FuzzedDataProvider in(data + 1, size - 1);
  switch (static_cast<uint8_t>(data[0] - '0') % 6) {
    case 0:
      CheckTemplates(in);
      break;
    case 1:
      CheckSizes(in);
      break;
    case 2:
      CheckWindows(in);
      break;
    case 3:
      CheckConninfoText(in);
      break;
    case 4:
      CheckConninfoBuilt(in);
      break;
    default:
      CheckCopy(in);
  }
  return 0;
}
