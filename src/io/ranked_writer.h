// RankedWriter: writes ranked lists (recommendations, similar items) as CSV
// with a header, or as JSON Lines when the file name ends in ".jsonl".
//
//   user,item,score,rank          (or item,similar_item,score,rank)
//   u1,i42,0.93,1
//
// Ids are written back exactly as read: CSV fields are quoted (RFC 4180)
// when they contain the separator, quotes or line breaks; JSON strings are
// escaped. Scores print in shortest round-trip form. The path is opened
// through OutputFile (io/output_file.h): a regular file is replaced
// atomically by Close(), so a failed or interrupted run never leaves a
// complete-looking output behind; FIFOs, devices and "-" (standard output)
// are written through; ".gz" names are gzip-compressed; names implying a
// format encore does not write (.parquet...) are refused.
//
// Thread-safety: one writer per thread.

#ifndef ENCORE_IO_RANKED_WRITER_H_
#define ENCORE_IO_RANKED_WRITER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "encore/status.h"
#include "io/output_file.h"

namespace encore::io {

class RankedWriter {
 public:
  // `key_name` and `item_name` name the first two columns ("user", "item").
  static Result<std::unique_ptr<RankedWriter>> Open(const std::string& path, std::string key_name,
                                                    std::string item_name);
  ~RankedWriter();

  // rank is 1-based.
  Status Write(std::string_view key, std::string_view item, float score, uint32_t rank);
  // Flushes, closes and renames into place.
  Status Close();
  uint64_t rows() const { return rows_; }

 private:
  RankedWriter(std::string path, std::unique_ptr<OutputFile> f, bool jsonl, std::string key,
               std::string item);
  Status Flush();

  std::string path_;
  std::unique_ptr<OutputFile> file_;
  bool jsonl_;
  std::string key_name_, item_name_;
  std::string buf_;
  uint64_t rows_ = 0;
  bool closed_ = false;
};

}  // namespace encore::io

#endif  // ENCORE_IO_RANKED_WRITER_H_
