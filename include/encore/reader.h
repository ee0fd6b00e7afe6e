// Readers: turn interaction files into an InteractionLog without losing a row.
//
// Formats: delimited text (any one-byte separator, optional header, RFC 4180
// quoting with separators, doubled quotes and newlines inside quotes, LF or
// CRLF, UTF-8 BOM), JSON Lines, and presets for well-known data sets. Files
// ending in .gz are decompressed on the fly (zlib). Files are streamed in
// blocks: memory grows with the rows kept, not with the file size.
//
// Every record is either accepted or rejected with file, line and reason;
// rejections are counted in the ReadReport, optionally written verbatim to a
// rejects file (obfuscated columns masked), and past max_bad_rows the read
// fails with a one-line error naming the first offending line.
//
// Thread-safety: ReadInteractions is reentrant; options are read-only.

#ifndef ENCORE_READER_H_
#define ENCORE_READER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "encore/interactions.h"
#include "encore/obfuscate.h"
#include "encore/progress.h"
#include "encore/status.h"

namespace encore {

enum class InputFormat {
  kCsv,        // comma-separated, header by default
  kTsv,        // tab-separated, header by default
  kJsonl,      // one JSON object per line; columns are keys
  kMovieLens,  // u.data: user item rating timestamp, tab-separated, no header
  kMlLatest,   // ratings.csv: userId,movieId,rating,timestamp with header
  kLastfm,     // hetrec user_artists.dat: userID artistID weight, tab, header
  kBaskets,    // one basket per line, items comma-separated; a basket is a user
  kMatrix,     // a dense user x item matrix: line n is user n, column m is item m
};

Result<InputFormat> ParseInputFormat(const std::string& name);
const char* InputFormatName(InputFormat f);

// A column chosen by header name or by 1-based position.
struct ColumnRef {
  std::string name;  // used when not empty
  int index = 0;     // 1-based; 0 = not set

  bool is_set() const { return !name.empty() || index > 0; }
  // "3" -> index 3; anything else -> name.
  static ColumnRef Parse(const std::string& text);
  std::string ToString() const;
};

// The role a header name takes when no column is chosen for it: "user",
// "item", "value", "event" or "time" (case-insensitive match against the
// well-known names: user, user_id, customer, ...), or "" for none.
std::string DefaultColumnRole(const std::string& header_name);

enum class TimeUnit { kAuto, kSeconds, kMilliseconds };

// Option names shared by the CLI flags and pipeline files
// (src/io/option_names.cc). Errors say what is accepted.
// "tab" (or a tab, or "\t"), "comma", "space", "semicolon", "pipe", or any one byte.
Result<char> ParseSeparator(const std::string& text);
// "auto", "s" or "ms".
Result<TimeUnit> ParseTimeUnit(const std::string& text);

struct ReadOptions {
  InputFormat format = InputFormat::kCsv;
  // Field separator; default from the format (',' or '\t').
  std::optional<char> separator;
  // Whether the first line is a header; default from the format.
  std::optional<bool> header;

  // Column choices; defaults come from the preset, or for csv/tsv/jsonl
  // from well-known header names (user, user_id, userId, item, ...).
  ColumnRef user_col, item_col, value_col, event_col, time_col;

  // Other named columns to keep as attributes. Empty with keep_all_attributes
  // keeps every other named column.
  std::vector<std::string> attribute_cols;
  bool keep_all_attributes = true;

  // Numeric timestamps: seconds, milliseconds, or auto (|t| >= 1e11 -> ms).
  TimeUnit time_unit = TimeUnit::kAuto;

  // Event types accepted; empty accepts all. Rows with another type are
  // rejected ("unknown event type").
  std::vector<std::string> known_events;

  // Column names whose values are replaced by obfuscator->Hash at import.
  // REQUIRES: obfuscator set when not empty.
  std::vector<std::string> obfuscate_cols;
  const Obfuscator* obfuscator = nullptr;

  // kMatrix: a cell equal to this value is missing (no interaction).
  float missing_value = 0.0f;

  // Rejected rows tolerated before the read fails.
  uint64_t max_bad_rows = 0;
  // How the "too many bad rows" error tells the user to raise the limit
  // (the CLI's flags by default; a pipeline names its own key).
  std::string max_bad_rows_hint =
      "--max-bad-rows; raise it to skip bad rows, and --rejects FILE to collect them";
  // When not empty, each rejected record is written there verbatim
  // (obfuscated columns masked).
  std::string rejects_path;
  // Most distinct users (items, event types, values of an attribute) a log
  // may hold; more is InvalidArgument. Capped at IdDictionary::kMaxSize, the
  // most 32-bit indices can number; lower it to test the limit.
  uint64_t max_distinct_ids = IdDictionary::kMaxSize;

  // Threads that parse one file (0 = all cores, as --threads). An
  // uncompressed delimited file (csv, tsv, presets; not baskets, not JSON
  // Lines, not gzip or a pipe) of at least 2 * min_chunk_bytes is cut at
  // line boundaries into one slice per thread; the slices are parsed and
  // interned at once and merged in file order. The result is the sequential
  // read's exactly: the same id numbering, rows, counts, rejections with
  // their file:line, rejects file and errors. When a slice boundary may lie
  // inside a quoted field (a quote near it), or any slice fails, the file is
  // read again sequentially, which decides.
  int threads = 0;
  uint64_t min_chunk_bytes = uint64_t{8} << 20;
};

// Reads `paths` in order into one log. `report` is filled even on failure.
// REQUIRES: report != nullptr.
Result<InteractionLog> ReadInteractions(const std::vector<std::string>& paths,
                                        const ReadOptions& options, ReadReport* report,
                                        Progress* progress = nullptr);

}  // namespace encore

#endif  // ENCORE_READER_H_
