// PostgreSQL output: COPY into TABLE__encore_staging, then swap it with TABLE
// in one transaction (see docs/OUTPUTS.md).
//
// libpqxx throws; every exception is caught here and becomes a Status whose
// message names the table and the server (never the password) and carries a
// hint in the style of libpq's HINT lines.

#include <cctype>
#include <exception>
#include <pqxx/pqxx>
#include <pqxx/tablewriter>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/fault.h"
#include "pipeline/output.h"

namespace encore::pipeline {

namespace {

constexpr size_t kMaxIdentifierBytes = 63;  // PostgreSQL's NAMEDATALEN - 1
constexpr std::string_view kStagingSuffix = "__encore_staging";

// What the connection string says, minus secrets. Parsed here (libpq's
// grammar, leniently) rather than with PQconninfoParse so that the library
// needs libpqxx only; libpq stays the judge of what is valid.
struct Conninfo {
  std::string where;                 // "host=... port=... dbname=... user=..."
  std::vector<std::string> secrets;  // texts never to show in a message
};

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
      if (c == '\\' && i + 1 < s.size()) c = s[++i];
      value += c;
    }
    if (quoted && i < s.size()) ++i;
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

// postgres[ql]://[user[:password]@][netloc][/dbname][?key=value&...]
KeyValues ParseUriForm(std::string_view s) {
  KeyValues out;
  s.remove_prefix(s.find("://") + 3);
  size_t query = s.find('?');
  std::string_view params = query == std::string_view::npos ? "" : s.substr(query + 1);
  s = s.substr(0, query);
  size_t slash = s.find('/');
  if (slash != std::string_view::npos) {
    out.emplace_back("dbname", PercentDecode(s.substr(slash + 1)));
    s = s.substr(0, slash);
  }
  if (size_t at = s.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = s.substr(0, at);
    size_t colon = userinfo.find(':');
    out.emplace_back("user", PercentDecode(userinfo.substr(0, colon)));
    if (colon != std::string_view::npos) {
      out.emplace_back("password", std::string(userinfo.substr(colon + 1)));
      out.emplace_back("password", PercentDecode(userinfo.substr(colon + 1)));
    }
    s = s.substr(at + 1);
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

std::string Scrub(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& s : secrets) {
    if (s.empty()) continue;
    for (size_t pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos + 8)) {
      text.replace(pos, s.size(), "********");
    }
  }
  // One line: libpq and the server end messages with newlines.
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  std::string out;
  for (char c : text) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

Conninfo ParseConninfo(const std::string& conninfo) {
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

Status ValidateIdentifier(const char* what, const std::string& name, size_t max_bytes,
                          const std::string& table) {
  if (name.empty() || name.size() > max_bytes || name.find('\0') != std::string::npos) {
    return Status::InvalidArgument("PostgreSQL output " + table + ": " + what + " '" + name +
                                   "' must be 1 to " + std::to_string(max_bytes) +
                                   " bytes without NUL; shorten or rename it");
  }
  return Status::OK();
}

// Type names are spliced into CREATE TABLE, so only the characters of plain
// type names are allowed: `integer`, `double precision`, `numeric(10,2)`,
// `timestamp with time zone`, `text[]`, `myschema.mytype`.
bool IsPlainTypeName(const std::string& type) {
  if (type.empty() || type.size() > 128) return false;
  if (!std::isalpha(static_cast<unsigned char>(type[0])) && type[0] != '_') return false;
  for (char c : type) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("_ (),[].").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Appends `cell` in COPY's text format: backslash, tab, LF and CR escaped;
// every other byte (UTF-8 included) as is. Only ASCII bytes are escaped, so
// this is safe for UTF-8, the client encoding set below.
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

bool IsTextType(const std::string& type) {
  std::string lower;
  for (char c : type) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "text";
}

// A libpq-style hint for an SQLSTATE.
std::string HintFor(const std::string& sqlstate, const std::string& table) {
  if (sqlstate == "42501") {
    return "grant the user CREATE on the schema, and make it the owner of " + table +
           " so it may replace the table";
  }
  if (sqlstate == "3F000") return "create the schema first (CREATE SCHEMA ...) or fix its name";
  if (sqlstate == "42704") return "a column type is unknown; check the output's column types";
  if (sqlstate == "42601") return "a column type is not valid SQL; check the output's column types";
  if (sqlstate == "2BP01") {
    return "other objects (views, foreign keys) depend on " + table +
           "; drop them or point them elsewhere, since encore replaces the table as a whole";
  }
  if (sqlstate == "42809")
    return table + " exists but is not a table (a view?); choose another name";
  if (sqlstate.rfind("22", 0) == 0) {
    return "a cell does not fit its column type or the database encoding; check the column types "
           "and the data";
  }
  if (sqlstate.rfind("28", 0) == 0) return "check the user and password in the connection string";
  if (sqlstate.rfind("3D", 0) == 0) return "the database does not exist; create it or fix dbname";
  if (sqlstate.rfind("53", 0) == 0) return "the server is out of resources (disk, memory)";
  if (sqlstate.rfind("40", 0) == 0)
    return "a concurrent transaction interfered; run the output again";
  return "see the PostgreSQL server log for details";
}

// Turns the exception being handled into a Status. Call from a catch block.
Status CurrentExceptionToStatus(const std::string& table, const Conninfo& conn) {
  const std::string where = "PostgreSQL output " + table + " (" + conn.where + ")";
  try {
    throw;
  } catch (const pqxx::sql_error& e) {
    return Status::IOError(where + ": " + Scrub(e.what(), conn.secrets) + " [SQLSTATE " +
                           e.sqlstate() + "]; hint: " + HintFor(e.sqlstate(), table));
  } catch (const pqxx::broken_connection& e) {
    std::string message = Scrub(e.what(), conn.secrets);
    for (const char* syntax :
         {"connection info string", "URI", "percent-encoded", "invalid connection option"}) {
      if (message.find(syntax) == std::string::npos) continue;
      // libpq quotes the offending piece, which may be part of a password.
      return Status::InvalidArgument(
          "PostgreSQL output " + table +
          ": libpq cannot parse the connection string (not shown: it may hold a password); "
          "hint: use key=value pairs such as 'host=db.example port=5432 dbname=recs "
          "user=encore' or a URI such as postgresql://encore@db.example/recs");
    }
    std::string hint =
        message.find("password") != std::string::npos ||
                message.find("authentication") != std::string::npos
            ? "check the user and password in the connection string"
            : "is the server running there and accepting TCP/IP connections? check host, port "
              "and dbname in the connection string";
    return Status::IOError(where + ": lost or could not open the connection: " + message +
                           "; hint: " + hint);
  } catch (const pqxx::in_doubt_error& e) {
    return Status::IOError(where +
                           ": the connection broke while committing, so the outcome is "
                           "unknown: " +
                           Scrub(e.what(), conn.secrets) +
                           "; hint: run the output again, it replaces the table as a whole");
  } catch (const std::exception& e) {
    return Status::IOError(where + ": " + Scrub(e.what(), conn.secrets) +
                           "; hint: see the PostgreSQL server log for details");
  } catch (...) {
    return Status::Internal(where + ": unknown exception");
  }
}

}  // namespace

Status CheckPostgresOutputOptions(const std::vector<std::string>& columns,
                                  const PostgresOutputOptions& options) {
  // Names: [schema.]table, columns, types.
  const std::string& table = options.table;
  std::string schema, name = table;
  if (size_t dot = table.find('.'); dot != std::string::npos) {
    schema = table.substr(0, dot);
    name = table.substr(dot + 1);
    if (name.find('.') != std::string::npos) {
      return Status::InvalidArgument("PostgreSQL output table '" + table +
                                     "' has more than one '.'; write [schema.]table");
    }
    ENCORE_RETURN_IF_ERROR(ValidateIdentifier("schema", schema, kMaxIdentifierBytes, table));
  }
  ENCORE_RETURN_IF_ERROR(
      ValidateIdentifier("table name", name, kMaxIdentifierBytes - kStagingSuffix.size(), table));

  if (columns.empty()) {
    return Status::InvalidArgument("PostgreSQL output " + table +
                                   ": the output has no columns; select at least one");
  }
  std::set<std::string> seen;
  for (const auto& c : columns) {
    ENCORE_RETURN_IF_ERROR(ValidateIdentifier("column", c, kMaxIdentifierBytes, table));
    if (!seen.insert(c).second) {
      return Status::InvalidArgument("PostgreSQL output " + table + ": column '" + c +
                                     "' appears twice; rename or drop one of them");
    }
  }
  for (const auto& [column, type] : options.types) {
    if (!seen.count(column)) {
      return Status::InvalidArgument("PostgreSQL output " + table + ": a type is given for '" +
                                     column + "', which is not an output column; fix the name");
    }
    if (!IsPlainTypeName(type)) {
      return Status::InvalidArgument("PostgreSQL output " + table + ": type '" + type +
                                     "' of column '" + column +
                                     "' is not a plain SQL type name such as integer, "
                                     "double precision, numeric(10,2) or text");
    }
  }
  return Status::OK();
}

Result<OutputReport> WritePostgresOutput(const RowSource& rows,
                                         const PostgresOutputOptions& options) {
  const std::vector<std::string>& columns = rows.columns();
  ENCORE_RETURN_IF_ERROR(CheckPostgresOutputOptions(columns, options));  // before connecting
  const std::string& table = options.table;
  std::string schema, name = table;
  if (size_t dot = table.find('.'); dot != std::string::npos) {
    schema = table.substr(0, dot);
    name = table.substr(dot + 1);
  }
  std::vector<bool> empty_is_null(columns.size(), false);
  std::vector<std::string> types(columns.size(), "text");
  for (size_t i = 0; i < columns.size(); ++i) {
    if (auto it = options.types.find(columns[i]); it != options.types.end()) {
      types[i] = it->second;
      empty_is_null[i] = !IsTextType(it->second);
    }
  }

  const Conninfo conninfo = ParseConninfo(options.conninfo);
  OutputReport report;
  report.location = "postgres:" + table;
  try {
    pqxx::connection conn(options.conninfo);
    conn.set_client_encoding("UTF8");
    const std::string qualifier = schema.empty() ? "" : conn.quote_name(schema) + ".";
    const std::string quoted_table = qualifier + conn.quote_name(name);
    const std::string staging_name = name + std::string(kStagingSuffix);
    const std::string quoted_staging = qualifier + conn.quote_name(staging_name);
    std::vector<std::string> quoted_columns;
    std::string column_defs;
    for (size_t i = 0; i < columns.size(); ++i) {
      quoted_columns.push_back(conn.quote_name(columns[i]));
      if (i > 0) column_defs += ", ";
      column_defs += quoted_columns.back() + " " + types[i];
    }

    // 1. Staging table, filled by COPY, in one transaction: a writer killed
    //    here leaves nothing behind.
    {
      pqxx::work tx(conn, "encore-output-copy");
      tx.exec0("DROP TABLE IF EXISTS " + quoted_staging);
      tx.exec0("CREATE TABLE " + quoted_staging + " (" + column_defs + ")");
      // tablewriter (deprecated in 6.x) because 6.4's stream_to accepts only
      // tuples, not rows whose width is known at run time; the line is
      // escaped here, so tablewriter's own multibyte caveat does not apply.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      pqxx::tablewriter stream(tx, quoted_staging, quoted_columns.begin(), quoted_columns.end());
#pragma GCC diagnostic pop
      std::string line;
      Status st = rows.ForEach([&](std::span<const std::string_view> cells) -> Status {
        const uint64_t row = report.rows + 1;
        if (cells.size() != columns.size()) {
          return Status::Internal("row " + std::to_string(row) + " of the output has " +
                                  std::to_string(cells.size()) + " cells but there are " +
                                  std::to_string(columns.size()) +
                                  " columns; this is a bug in the row source");
        }
        line.clear();
        for (size_t i = 0; i < cells.size(); ++i) {
          if (cells[i].find('\0') != std::string_view::npos) {
            return Status::InvalidArgument("PostgreSQL output " + table + ": row " +
                                           std::to_string(row) + ", column '" + columns[i] +
                                           "' contains a NUL byte, which PostgreSQL text cannot "
                                           "store; clean the data");
          }
          if (i > 0) line += '\t';
          if (cells[i].empty() && empty_is_null[i]) {
            line += "\\N";
          } else {
            AppendCopyText(cells[i], &line);
          }
          report.bytes += cells[i].size() + 1;
        }
        try {
          stream.write_raw_line(line);
        } catch (...) {
          return CurrentExceptionToStatus(table, conninfo);
        }
        ++report.rows;
        if (report.rows == 1) MaybeFault("postgres-mid-copy");
        return Status::OK();
      });
      if (!st.ok()) return st;  // the transaction rolls back on destruction
      stream.complete();
      tx.commit();
    }
    MaybeFault("postgres-before-swap");

    // 2. The swap: readers see the old table or the new one, never neither.
    {
      pqxx::work tx(conn, "encore-output-swap");
      tx.exec0("DROP TABLE IF EXISTS " + quoted_table);
      tx.exec0("ALTER TABLE " + quoted_staging + " RENAME TO " + conn.quote_name(name));
      tx.commit();
    }
  } catch (...) {
    return CurrentExceptionToStatus(table, conninfo);
  }
  return report;
}

}  // namespace encore::pipeline
