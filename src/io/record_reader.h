// RecordReader: splits a ByteSource into records, streaming.
//
// Delimited mode follows RFC 4180: a field that starts with '"' is quoted and
// may contain the separator, newlines and doubled quotes (""); a quote inside
// an unquoted field is taken literally. Records end at LF or CRLF. A UTF-8
// byte order mark at the start of the file is skipped. Lines mode returns
// each physical line (for JSON Lines).
//
// A record whose quote never closes (at end of file, or within
// kMaxQuotedRecordBytes) is returned as its first physical line with
// error kUnterminatedQuote, and reading resumes on the next line, so one bad
// quote costs one row, not the rest of the file.
//
// Memory: one block buffer (grows only for records longer than a block).
// Thread-safety: one caller at a time. Views returned in a Record are valid
// until the next call to Next().

#ifndef ENCORE_IO_RECORD_READER_H_
#define ENCORE_IO_RECORD_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/byte_source.h"

namespace encore::io {

struct Field {
  std::string_view value;  // unquoted, unescaped contents
  uint32_t raw_begin = 0;  // byte range of the field in Record::raw, quotes included
  uint32_t raw_end = 0;
};

struct Record {
  enum class Error { kNone, kUnterminatedQuote, kTextAfterQuote };

  std::string_view raw;  // the record's bytes without its line terminator
  uint64_t line = 0;     // 1-based physical line where the record starts
  std::vector<Field> fields;  // delimited mode only
  Error error = Error::kNone;
};

class RecordReader {
 public:
  enum class Mode { kDelimited, kLines };
  static constexpr size_t kBlockBytes = size_t{1} << 20;
  static constexpr size_t kMaxQuotedRecordBytes = size_t{1} << 20;
  static constexpr size_t kMaxLineBytes = size_t{64} << 20;

  // `file_start`: the source begins at the start of its file, so a UTF-8
  // byte order mark there is skipped; false for a slice that begins later.
  RecordReader(std::unique_ptr<ByteSource> source, Mode mode, char separator,
               bool file_start = true);

  // Fills `record` with the next record; returns false at end of input.
  // Fails on I/O errors and on a physical line longer than kMaxLineBytes.
  Result<bool> Next(Record* record);

  // Decompressed bytes consumed so far.
  uint64_t bytes_consumed() const { return consumed_; }
  const ByteSource& source() const { return *source_; }
  // The physical line number the next record would start at (1-based).
  uint64_t next_line() const { return line_; }
  // Whether a record with a quote ended where it did only because the input
  // ended: with more bytes after them (a file read in slices) the same bytes
  // could have parsed differently, so the end was not a record boundary for
  // certain. Records without quotes end at their newline and never set it.
  bool quoted_record_hit_end() const { return quoted_hit_end_; }
  // Whether a quote was declared unterminated because kMaxQuotedRecordBytes
  // were buffered without its closing quote: how much was buffered depends
  // on where reading started, so a slice may parse such a record otherwise.
  bool quoted_record_too_long() const { return quoted_too_long_; }

 private:
  // Reads more input, keeping [begin_, end_). Returns false at end of input.
  Result<bool> Fill();
  // Splits a line known to contain no quote.
  void SplitSimple(const char* p, size_t n, Record* record);
  // Parses a quoted record starting at begin_. Returns the record length
  // (without terminator) and sets *terminator_len, or npos if more input is needed.
  size_t ParseQuoted(Record* record, size_t* terminator_len, bool* unterminated);
  // In ParseQuoted: true if more input may follow (ask for it), else notes
  // that the end of input decided the parse.
  bool NeedMore() {
    if (!eof_) return true;
    quoted_hit_end_ = true;
    return false;
  }

  std::unique_ptr<ByteSource> source_;
  Mode mode_;
  char sep_;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  bool started_ = false;
  uint64_t line_ = 1;
  uint64_t consumed_ = 0;
  bool quoted_hit_end_ = false;
  bool quoted_too_long_ = false;
  std::string scratch_;  // unescaped quoted fields of the current record
};

}  // namespace encore::io

#endif  // ENCORE_IO_RECORD_READER_H_
