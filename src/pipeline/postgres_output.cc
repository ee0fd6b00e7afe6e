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
#include "pipeline/postgres_text.h"

namespace encore::pipeline {

namespace {

constexpr size_t kMaxIdentifierBytes = 63;  // PostgreSQL's NAMEDATALEN - 1
constexpr std::string_view kStagingSuffix = "__encore_staging";

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
    return ConnectionFailure("PostgreSQL output " + table, conn.where,
                             "lost or could not open the connection", Scrub(e.what(), conn.secrets),
                             "recs");
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
