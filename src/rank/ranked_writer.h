// RankedWriter: a file sink for ranked lists (recommendations, similar
// items): CSV with a header, or JSON Lines when the file name ends in
// ".jsonl". The rows are made by the one encoder (rank/encode.h):
//
//   user,item,score,rank          (or item,similar_item,score,rank)
//   u1,i42,0.93,1
//
// The path is opened through OutputFile (io/output_file.h): a regular file is
// replaced atomically by Close(), so a failed or interrupted run never leaves
// a complete-looking output behind; FIFOs, devices and "-" (standard output)
// are written through; ".gz" names are gzip-compressed; names implying a
// format encore does not write (.parquet...) are refused.
//
// Thread-safety: one writer per thread.

#ifndef ENCORE_RANK_RANKED_WRITER_H_
#define ENCORE_RANK_RANKED_WRITER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "encore/status.h"
#include "io/output_file.h"
#include "rank/encode.h"

namespace encore::rank {

class RankedWriter {
 public:
  // `key_name` and `item_name` name the first two columns ("user", "item").
  static Result<std::unique_ptr<RankedWriter>> Open(const std::string& path, std::string key_name,
                                                    std::string item_name);
  ~RankedWriter();

  // Writes one row per entry of `list` (ranks 1, 2, ...).
  Status Write(std::string_view key, std::span<const ScoredItem> list, const IdDictionary& items);
  // Flushes and commits the file (renamed into place when it is a regular file).
  Status Close();
  uint64_t rows() const { return rows_; }

 private:
  RankedWriter(std::string path, std::unique_ptr<io::OutputFile> f, RowEncoder encoder);
  Status Flush();

  std::string path_;
  std::unique_ptr<io::OutputFile> file_;
  RowEncoder encoder_;
  std::string buf_;
  uint64_t rows_ = 0;
  bool closed_ = false;
};

}  // namespace encore::rank

#endif  // ENCORE_RANK_RANKED_WRITER_H_
