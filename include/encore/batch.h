// Batch outputs: top-N recommendations for many users, similar items for
// many items, ranked by the one query path (encore/rank.h) and streamed to a
// CSV or JSON Lines file (the layout: rank/encode.h) in blocks, so memory
// stays bounded whatever the count.
//
// Ids in the request that the model does not know are not an error: they
// are counted and the first few reported, and the rest of the batch runs.
//
// Thread-safety: reentrant; the model is used through its const methods.

#ifndef ENCORE_BATCH_H_
#define ENCORE_BATCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "encore/progress.h"
#include "encore/rank.h"

namespace encore {

struct BatchReport {
  uint64_t requested = 0;      // ids asked for (all users / items when no list)
  uint64_t answered = 0;       // ids with at least one result
  uint64_t empty = 0;          // known ids that got no result (e.g. nothing left to recommend)
  uint64_t unknown = 0;        // ids absent from the model
  std::vector<std::string> first_unknown;  // up to 10
  uint64_t rows = 0;           // lines written (header excluded)
};

// Writes user,item,score,rank for `user_ids` (every user when empty).
Result<BatchReport> WriteRecommendations(const TrainedModel& model,
                                         const std::vector<std::string>& user_ids,
                                         const QueryOptions& options, const std::string& out_path,
                                         Progress* progress = nullptr);

// Writes item,similar_item,score,rank for `item_ids` (every item when empty).
Result<BatchReport> WriteSimilarItems(const TrainedModel& model,
                                      const std::vector<std::string>& item_ids, uint32_t n,
                                      const std::string& out_path, Progress* progress = nullptr);

// Reads one id per line (a trailing '\r' is dropped, blank lines skipped).
Result<std::vector<std::string>> ReadIdList(const std::string& path);

}  // namespace encore

#endif  // ENCORE_BATCH_H_
