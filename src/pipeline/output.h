// Pipeline outputs: where a table of rows (recommendations, similar items,
// metrics) ends up. Each writer is all-or-nothing from a reader's point of
// view:
//   - file outputs (CSV chunks, JSON Lines) are written into a staging
//     directory next to the destination, finished with a `_SUCCESS` marker
//     and then renamed over the destination directory, so a directory under
//     the final name always holds a complete output with its `_SUCCESS`;
//   - PostgreSQL outputs COPY into a staging table and swap it with the
//     destination table in one transaction.
// A writer killed at any point leaves at most staging leftovers, which the
// next write of the same output removes.
//
// Thread-safety: reentrant.
#ifndef ENCORE_PIPELINE_OUTPUT_H_
#define ENCORE_PIPELINE_OUTPUT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "encore/status.h"

namespace encore::pipeline {

// A table streamed row by row. Cells are already formatted as text.
class RowSource {
 public:
  virtual ~RowSource() = default;
  virtual const std::vector<std::string>& columns() const = 0;
  // Calls `row` for every row in order; stops at and returns the first error.
  virtual Status ForEach(const std::function<Status(std::span<const std::string_view>)>& row) const = 0;
};

// Adds columns computed from the others by templates such as
// "{user}-{row}": {NAME} is the cell of column NAME, {row} is the 1-based
// row number within the output. Unknown names are an error at construction.
// Details: {row} always means the row number (it shadows an input column
// named "row"); templates use input columns only, not other derived ones;
// "{{" and "}}" are literal braces. column_order lists the final columns
// (input or derived, each at most once); empty means input columns, then
// derived ones. The returned source refers to `base`, which must outlive it.
struct DerivedColumn {
  std::string name;
  std::string template_text;
};
Result<std::unique_ptr<RowSource>> WithDerivedColumns(const RowSource& base,
                                                      const std::vector<DerivedColumn>& derived,
                                                      const std::vector<std::string>& column_order);

struct OutputReport {
  std::vector<std::string> files;  // final paths (file outputs), in order
  uint64_t rows = 0;
  uint64_t bytes = 0;
  std::string location;            // directory, or "postgres:TABLE"
};

struct FileOutputOptions {
  std::string dir;            // destination directory (replaced as a whole)
  std::string prefix;         // file name prefix, e.g. "recommendations"
  std::string run_stamp;      // e.g. "20261124T081500Z", part of every file name
  uint64_t chunk_bytes = 0;   // CSV: at most this many bytes per file (0: one file)
  char delimiter = ',';       // CSV only
  bool header = true;         // CSV: header line at the top of every chunk
};

// CSV (RFC 4180 quoting), split into PREFIX-RUNSTAMP-00001.csv, -00002.csv,
// ... each at most chunk_bytes (a single row larger than that gets a file of
// its own). Lines end with LF. The destination directory is replaced only if
// it is absent, empty, or an earlier output (holds `_SUCCESS`); anything else
// is FailedPrecondition. See docs/OUTPUTS.md for `_SUCCESS` and the swap.
Result<OutputReport> WriteCsvOutput(const RowSource& rows, const FileOutputOptions& options);
// The checks the writers make before touching anything, for callers that
// want to report a mistake early (pipeline files are checked when loaded):
// CheckFileOutputName the prefix and run stamp (both file writers);
// CheckCsvOutputOptions those, the delimiter and chunk_bytes against the
// header of `columns`.
Status CheckFileOutputName(const FileOutputOptions& options);
Status CheckCsvOutputOptions(const std::vector<std::string>& columns,
                             const FileOutputOptions& options);

// JSON Lines: one object per row, keys = column names, in PREFIX-RUNSTAMP.jsonl.
// Columns named in `numeric` are written as numbers (JSON number syntax is
// checked; an empty cell becomes null); other cells as strings, with bytes
// that are not UTF-8 replaced by U+FFFD.
Result<OutputReport> WriteJsonLinesOutput(const RowSource& rows, const FileOutputOptions& options,
                                          const std::vector<std::string>& numeric = {});

struct PostgresOutputOptions {
  std::string conninfo;                       // libpq connection string or URI
  std::string table;                          // [schema.]table
  std::map<std::string, std::string> types;   // column -> SQL type (default text)
};
// COPY into TABLE__encore_staging, then in one transaction drop TABLE and
// rename the staging table to TABLE. Names are quoted (case-sensitive, any
// characters); TABLE's own name may have at most 47 bytes so the staging name
// fits PostgreSQL's 63. Empty cells are NULL in columns with a type other
// than text, '' in text columns; cells with NUL bytes are rejected. report.bytes
// counts cell bytes plus one separator per cell.
Result<OutputReport> WritePostgresOutput(const RowSource& rows, const PostgresOutputOptions& options);
// The checks WritePostgresOutput makes before connecting: the table name,
// the column names of `columns` and options.types (names and type syntax).
Status CheckPostgresOutputOptions(const std::vector<std::string>& columns,
                                  const PostgresOutputOptions& options);

}  // namespace encore::pipeline

#endif  // ENCORE_PIPELINE_OUTPUT_H_
