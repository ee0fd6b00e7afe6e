// See postgres_text.h. Moved from postgres_output.cc; changed since (bugs
// found by pipeline_text_fuzz, see postgres_text_test.cc): ParseConninfo
// stops at a NUL and drops a final backslash as libpq does, and splits a URI
// where libpq does (user info first); Scrub masks
// all secrets in one pass (no mask grows from another) and also masks what
// blanking makes of a secret.

#include "pipeline/postgres_text.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace encore::pipeline {

namespace {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

std::string PercentDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// `key = value ...`; a value is single-quoted (with \\ and \' escapes) or
// runs to the next blank. Stops quietly at the first malformed piece.
KeyValues ParseKeyValueForm(std::string_view s) {
  KeyValues out;
  size_t i = 0;
  auto skip_blanks = [&] {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  };
  while (true) {
    skip_blanks();
    if (i >= s.size()) break;
    size_t key_start = i;
    while (i < s.size() && s[i] != '=' && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    std::string key(s.substr(key_start, i - key_start));
    skip_blanks();
    if (i >= s.size() || s[i] != '=') break;
    ++i;
    skip_blanks();
    std::string value;
    bool quoted = i < s.size() && s[i] == '\'';
    if (quoted) ++i;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (quoted ? c == '\'' : std::isspace(static_cast<unsigned char>(c))) break;
      if (c == '\\') {
        if (i + 1 == s.size()) break;  // libpq drops a backslash at the very end
        c = s[++i];
      }
      value += c;
    }
    if (quoted && i < s.size()) ++i;
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

// postgres[ql]://[user[:password]@][netloc][/dbname][?key=value&...], split
// as libpq splits it: the user info ends at the first '@' before any '/' (so
// a password may hold an unencoded '?'), the query starts at the next '?'.
KeyValues ParseUriForm(std::string_view s) {
  KeyValues out;
  s.remove_prefix(s.find("://") + 3);
  if (size_t at = s.find_first_of("@/"); at != std::string_view::npos && s[at] == '@') {
    std::string_view userinfo = s.substr(0, at);
    size_t colon = userinfo.find(':');
    out.emplace_back("user", PercentDecode(userinfo.substr(0, colon)));
    if (colon != std::string_view::npos) {
      out.emplace_back("password", std::string(userinfo.substr(colon + 1)));
      out.emplace_back("password", PercentDecode(userinfo.substr(colon + 1)));
      // An unencoded '@' in the password cuts it for libpq, which takes the
      // rest for the host; hide what the writer meant as well.
      const size_t last = s.substr(0, s.find('/')).rfind('@');
      if (last != at) {
        std::string_view meant = s.substr(colon + 1, last - colon - 1);
        out.emplace_back("password", std::string(meant));
        out.emplace_back("password", PercentDecode(meant));
      }
    }
    s.remove_prefix(at + 1);
  }
  size_t query = s.find('?');
  std::string_view params = query == std::string_view::npos ? "" : s.substr(query + 1);
  s = s.substr(0, query);
  size_t slash = s.find('/');
  if (slash != std::string_view::npos) {
    out.emplace_back("dbname", PercentDecode(s.substr(slash + 1)));
    s = s.substr(0, slash);
  }
  if (!s.empty()) out.emplace_back("host", std::string(s));  // host[:port][,host[:port]...]
  while (!params.empty()) {
    size_t amp = params.find('&');
    std::string_view param = params.substr(0, amp);
    size_t eq = param.find('=');
    std::string key = PercentDecode(param.substr(0, eq));
    std::string_view raw = eq == std::string_view::npos ? "" : param.substr(eq + 1);
    out.emplace_back(key, std::string(raw));
    out.emplace_back(key, PercentDecode(raw));
    params = amp == std::string_view::npos ? "" : params.substr(amp + 1);
  }
  return out;
}

// `text` with every occurrence of each non-empty secret replaced by
// "********", overlapping or adjacent occurrences by one mask. All secrets
// are looked for in `text` as given, not in what earlier ones left.
std::string Masked(std::string_view text, const std::vector<std::string>& secrets) {
  std::vector<bool> hidden(text.size(), false);
  for (const std::string& s : secrets) {
    if (s.empty()) continue;
    size_t hidden_to = 0;  // hidden[..hidden_to) is set for this secret
    for (size_t pos = text.find(s); pos != std::string_view::npos; pos = text.find(s, pos + 1)) {
      for (size_t i = std::max(pos, hidden_to); i < pos + s.size(); ++i) hidden[i] = true;
      hidden_to = pos + s.size();
    }
  }
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!hidden[i]) {
      out += text[i];
    } else if (i == 0 || !hidden[i - 1]) {
      out += "********";
    }
  }
  return out;
}

// Tabs and line breaks as blanks, runs of blanks as one.
std::string Blanked(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out += c;
  }
  return out;
}

}  // namespace

std::string Scrub(std::string text, const std::vector<std::string>& secrets) {
  // One line: libpq and the server end messages with newlines.
  std::string out = Blanked(Masked(text, secrets));
  // Blanking may have made a secret's blanked form out of other text ("a\tb"
  // became "a b"): mask those too.
  std::vector<std::string> blanked;
  for (const std::string& s : secrets) blanked.push_back(Blanked(s));
  out = Masked(out, blanked);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (!out.empty() && out.front() == ' ') out.erase(0, 1);
  return out;
}

Conninfo ParseConninfo(const std::string& text) {
  // libpq reads the string up to its first NUL.
  const std::string conninfo = text.substr(0, text.find('\0'));
  bool uri = conninfo.starts_with("postgresql://") || conninfo.starts_with("postgres://");
  KeyValues pairs = uri ? ParseUriForm(conninfo) : ParseKeyValueForm(conninfo);
  Conninfo info;
  std::string host, port, dbname, user;
  for (const auto& [key, value] : pairs) {
    if (key == "password") info.secrets.push_back(value);
    if (key == "host" || (key == "hostaddr" && host.empty())) host = value;
    if (key == "port") port = value;
    if (key == "dbname") dbname = value;
    if (key == "user") user = value;
  }
  // Whatever follows "password=" up to a blank or '&', whether or not the
  // rest parsed, so a malformed string cannot leak it either.
  for (size_t pos = conninfo.find("password"); pos != std::string::npos;
       pos = conninfo.find("password", pos + 1)) {
    size_t start = conninfo.find_first_not_of(" \t=", pos + 8);
    if (start == std::string::npos) break;
    if (conninfo[start] == '\'') ++start;
    size_t end = conninfo.find_first_of(" \t\n&'", start);
    info.secrets.push_back(conninfo.substr(start, end == std::string::npos ? end : end - start));
  }
  auto add = [&](const char* key, const std::string& value) {
    if (value.empty()) return;
    if (!info.where.empty()) info.where += ' ';
    info.where += std::string(key) + "=" + value;
  };
  add("host", host);
  add("port", port);
  add("dbname", dbname);
  add("user", user);
  if (info.where.empty()) info.where = "libpq defaults";
  info.where = Scrub(info.where, info.secrets);
  return info;
}

void AppendCopyText(std::string_view cell, std::string* out) {
  for (char c : cell) {
    switch (c) {
      case '\\':
        *out += "\\\\";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      default:
        *out += c;
    }
  }
}

Status ConnectionFailure(const std::string& what, const std::string& where,
                         const std::string& failure, const std::string& message,
                         const std::string& example_db) {
  for (const char* syntax :
       {"connection info string", "URI", "percent-encoded", "invalid connection option"}) {
    if (message.find(syntax) == std::string::npos) continue;
    return Status::InvalidArgument(
        what +
        ": libpq cannot parse the connection string (not shown: it may hold a password); "
        "hint: use key=value pairs such as 'host=db.example port=5432 dbname=" +
        example_db + " user=encore' or a URI such as postgresql://encore@db.example/" + example_db);
  }
  const std::string hint =
      message.find("password") != std::string::npos ||
              message.find("authentication") != std::string::npos
          ? "check the user and password in the connection string"
          : "is the server running there and accepting TCP/IP connections? check host, port "
            "and dbname in the connection string";
  return Status::IOError(what + " (" + where + "): " + failure + ": " + message +
                         "; hint: " + hint);
}

}  // namespace encore::pipeline
