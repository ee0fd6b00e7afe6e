// File outputs: CSV chunks and JSON Lines, written through a StagingDir so a
// reader only ever sees a complete output (see docs/OUTPUTS.md).

#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/fault.h"
#include "pipeline/output.h"
#include "pipeline/staging.h"
#include "rank/encode.h"
#include "util/json_writer.h"

namespace encore::pipeline {

namespace {

// Version of the `_SUCCESS` document (docs/OUTPUTS.md).
constexpr int kSuccessVersion = 1;

Status ValidateNamePart(const char* what, const std::string& value, bool required) {
  if (required && value.empty()) {
    return Status::InvalidArgument(std::string("output ") + what +
                                   " is empty; set it (it starts every file name)");
  }
  if (value.find_first_of(std::string_view("/\0", 2)) != std::string::npos) {
    return Status::InvalidArgument(std::string("output ") + what + " '" + value +
                                   "' contains '/' or a NUL byte; use a plain file name part");
  }
  return Status::OK();
}

// PREFIX-RUNSTAMP (or PREFIX when there is no run stamp).
std::string BaseName(const FileOutputOptions& options) {
  return options.run_stamp.empty() ? options.prefix : options.prefix + "-" + options.run_stamp;
}

Status CheckWidth(size_t cells, size_t columns, uint64_t row) {
  if (cells == columns) return Status::OK();
  return Status::Internal("row " + std::to_string(row) + " of the output has " +
                          std::to_string(cells) + " cells but there are " +
                          std::to_string(columns) + " columns; this is a bug in the row source");
}

template <typename Cells>
void AppendCsvLine(const Cells& cells, char delimiter, std::string* out) {
  bool first = true;
  for (std::string_view cell : cells) {
    if (!first) out->push_back(delimiter);
    first = false;
    rank::AppendCsvField(cell, out, delimiter);
  }
  out->push_back('\n');
}

// The RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

// Common members of `_SUCCESS`; the caller adds format-specific ones and
// closes the object.
void BeginSuccess(const char* format, const RowSource& rows, const FileOutputOptions& options,
                  const StagingDir& staging, uint64_t row_count, JsonWriter* w) {
  uint64_t bytes = 0;
  for (const auto& f : staging.files()) bytes += f->size();
  w->BeginObject();
  w->Key("format");
  w->String(format);
  w->Key("version");
  w->Int(kSuccessVersion);
  w->Key("run_stamp");
  w->String(options.run_stamp);
  w->Key("rows");
  w->Uint(row_count);
  w->Key("bytes");
  w->Uint(bytes);
  w->Key("columns");
  w->BeginArray();
  for (const auto& c : rows.columns()) w->String(c);
  w->EndArray();
  w->Key("files");
  w->BeginArray();
  for (const auto& f : staging.files()) {
    w->BeginObject();
    w->Key("name");
    w->String(f->name());
    w->Key("bytes");
    w->Uint(f->size());
    w->Key("sha256");
    w->String(f->sha256());
    w->EndObject();
  }
  w->EndArray();
}

OutputReport MakeReport(const StagingDir& staging, uint64_t row_count) {
  OutputReport report;
  report.rows = row_count;
  report.location = staging.destination();
  for (const auto& f : staging.files()) {
    report.files.push_back(staging.destination() + "/" + f->name());
    report.bytes += f->size();
  }
  return report;
}

}  // namespace

Status CheckFileOutputName(const FileOutputOptions& options) {
  ENCORE_RETURN_IF_ERROR(ValidateNamePart("prefix", options.prefix, /*required=*/true));
  return ValidateNamePart("run stamp", options.run_stamp, /*required=*/false);
}

Status CheckCsvOutputOptions(const std::vector<std::string>& columns,
                             const FileOutputOptions& options) {
  ENCORE_RETURN_IF_ERROR(CheckFileOutputName(options));
  const char delimiter = options.delimiter;
  if (delimiter == '"' || delimiter == '\r' || delimiter == '\n' || delimiter == '\0') {
    return Status::InvalidArgument("CSV output " + options.dir +
                                   ": the delimiter cannot be a double quote, CR, LF or NUL; "
                                   "use ',', ';', '|' or a tab");
  }
  std::string header;
  if (options.header) AppendCsvLine(columns, delimiter, &header);
  if (options.chunk_bytes > 0 && header.size() >= options.chunk_bytes) {
    return Status::InvalidArgument(
        "CSV output " + options.dir + ": chunk_bytes " + std::to_string(options.chunk_bytes) +
        " leaves no room for rows after the " + std::to_string(header.size()) +
        "-byte header; raise chunk_bytes (or 0 for a single file)");
  }
  return Status::OK();
}

Result<OutputReport> WriteCsvOutput(const RowSource& rows, const FileOutputOptions& options) {
  const std::vector<std::string>& columns = rows.columns();
  ENCORE_RETURN_IF_ERROR(CheckCsvOutputOptions(columns, options));
  const char delimiter = options.delimiter;
  std::string header;
  if (options.header) AppendCsvLine(columns, delimiter, &header);

  ENCORE_ASSIGN_OR_RETURN(auto staging, StagingDir::Begin(options.dir));
  const std::string base = BaseName(options);
  StagedFile* file = nullptr;
  uint64_t rows_in_file = 0;
  auto open_next = [&]() -> Status {
    if (file != nullptr) ENCORE_RETURN_IF_ERROR(file->Close());
    char suffix[32];
    std::snprintf(suffix, sizeof(suffix), "-%05zu.csv", staging->files().size() + 1);
    ENCORE_ASSIGN_OR_RETURN(file, staging->AddFile(base + suffix));
    rows_in_file = 0;
    return file->Append(header);
  };
  ENCORE_RETURN_IF_ERROR(open_next());

  uint64_t row_count = 0;
  std::string line;
  Status st = rows.ForEach([&](std::span<const std::string_view> cells) -> Status {
    ENCORE_RETURN_IF_ERROR(CheckWidth(cells.size(), columns.size(), row_count + 1));
    line.clear();
    AppendCsvLine(cells, delimiter, &line);
    if (options.chunk_bytes > 0 && rows_in_file > 0 &&
        file->size() + line.size() > options.chunk_bytes) {
      ENCORE_RETURN_IF_ERROR(open_next());
    }
    ENCORE_RETURN_IF_ERROR(file->Append(line));
    ++rows_in_file;
    ++row_count;
    if (row_count == 1) {
      // A partly written data file on disk when the fault fires.
      ENCORE_RETURN_IF_ERROR(file->Flush());
      MaybeFault("csv-mid-chunk");
    }
    return Status::OK();
  });
  ENCORE_RETURN_IF_ERROR(st);
  ENCORE_RETURN_IF_ERROR(file->Close());

  JsonWriter w(2);
  BeginSuccess("csv", rows, options, *staging, row_count, &w);
  w.Key("delimiter");
  w.String(std::string_view(&delimiter, 1));
  w.Key("header");
  w.Bool(options.header);
  w.EndObject();
  std::string success = w.str() + "\n";
  ENCORE_RETURN_IF_ERROR(staging->Commit(success, "csv-before-success", "csv-before-swap"));
  return MakeReport(*staging, row_count);
}

Result<OutputReport> WriteJsonLinesOutput(const RowSource& rows, const FileOutputOptions& options,
                                          const std::vector<std::string>& numeric) {
  ENCORE_RETURN_IF_ERROR(CheckFileOutputName(options));
  const std::vector<std::string>& columns = rows.columns();
  std::set<std::string_view> seen;
  for (const auto& c : columns) {
    if (!seen.insert(c).second) {
      return Status::InvalidArgument("JSON Lines output " + options.dir + ": column '" + c +
                                     "' appears twice, and JSON object keys must be unique; "
                                     "rename or drop one of them");
    }
  }
  std::vector<bool> is_numeric(columns.size(), false);
  for (const auto& name : numeric) {
    bool found = false;
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i] == name) is_numeric[i] = found = true;
    }
    if (!found) {
      return Status::InvalidArgument("JSON Lines output " + options.dir + ": numeric column '" +
                                     name +
                                     "' is not one of the output's columns; check its "
                                     "spelling or drop it from the numeric list");
    }
  }
  // `"key":` for every column, escaped once.
  std::vector<std::string> keys;
  for (size_t i = 0; i < columns.size(); ++i) {
    keys.push_back((i == 0 ? "{" : ",") + JsonWriter::Quote(columns[i]) + ":");
  }

  ENCORE_ASSIGN_OR_RETURN(auto staging, StagingDir::Begin(options.dir));
  ENCORE_ASSIGN_OR_RETURN(StagedFile * file, staging->AddFile(BaseName(options) + ".jsonl"));
  uint64_t row_count = 0;
  std::string line;
  Status st = rows.ForEach([&](std::span<const std::string_view> cells) -> Status {
    ENCORE_RETURN_IF_ERROR(CheckWidth(cells.size(), columns.size(), row_count + 1));
    line.clear();
    for (size_t i = 0; i < cells.size(); ++i) {
      line += keys[i];
      if (!is_numeric[i]) {
        JsonWriter::AppendQuoted(cells[i], &line);
      } else if (cells[i].empty()) {
        line += "null";
      } else if (IsJsonNumber(cells[i])) {
        line += cells[i];
      } else {
        return Status::InvalidArgument(
            "JSON Lines output " + options.dir + ": row " + std::to_string(row_count + 1) +
            ", numeric column '" + columns[i] + "' holds " + JsonWriter::Quote(cells[i]) +
            ", which is not a JSON number; fix the data or drop the column from the numeric list");
      }
    }
    if (cells.empty()) line += '{';
    line += "}\n";
    ++row_count;
    return file->Append(line);
  });
  ENCORE_RETURN_IF_ERROR(st);
  ENCORE_RETURN_IF_ERROR(file->Close());

  JsonWriter w(2);
  BeginSuccess("jsonl", rows, options, *staging, row_count, &w);
  w.Key("numeric");
  w.BeginArray();
  for (size_t i = 0; i < columns.size(); ++i) {
    if (is_numeric[i]) w.String(columns[i]);
  }
  w.EndArray();
  w.EndObject();
  std::string success = w.str() + "\n";
  ENCORE_RETURN_IF_ERROR(staging->Commit(success, nullptr, "jsonl-before-swap"));
  return MakeReport(*staging, row_count);
}

}  // namespace encore::pipeline
