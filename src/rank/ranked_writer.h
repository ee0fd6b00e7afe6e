// RankedWriter: a file sink for ranked lists (recommendations, similar
// items): CSV with a header, or JSON Lines when the file name ends in
// ".jsonl". The rows are made by the one encoder (rank/encode.h):
//
//   user,item,score,rank          (or item,similar_item,score,rank)
//   u1,i42,0.93,1
//
// The file is written under "<path>.tmp" and renamed by Close(), so a failed
// or interrupted run never leaves a complete-looking output behind.
//
// Thread-safety: one writer per thread.

#ifndef ENCORE_RANK_RANKED_WRITER_H_
#define ENCORE_RANK_RANKED_WRITER_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "encore/status.h"
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
  // Flushes, closes and renames into place.
  Status Close();
  uint64_t rows() const { return rows_; }

 private:
  RankedWriter(std::string path, std::FILE* f, RowEncoder encoder);
  Status Flush();

  std::string path_;
  std::FILE* file_;
  RowEncoder encoder_;
  std::string buf_;
  uint64_t rows_ = 0;
  bool closed_ = false;
};

}  // namespace encore::rank

#endif  // ENCORE_RANK_RANKED_WRITER_H_
