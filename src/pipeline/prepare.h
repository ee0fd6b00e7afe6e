// Preparation steps of a pipeline, between reading and modelling:
//
//   CombineLogs     several sources' logs -> one, keeping only the events
//                   within the window and the sampled users (dictionaries
//                   hold only what is kept)
//   BuildDataset    (encore/dataset.h) weights, transform, aggregation
//   FilterMinCounts drop users with too few items, then items with too few
//                   users (one pass each), and compact the indices
//
// Each step is deterministic: sampling keeps a user by a seeded hash of its
// id, so the same users are kept whatever the input order.
//
// Thread-safety: reentrant.
#ifndef ENCORE_PIPELINE_PREPARE_H_
#define ENCORE_PIPELINE_PREPARE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "encore/dataset.h"
#include "encore/interactions.h"
#include "encore/status.h"
#include "pipeline/config.h"

namespace encore::pipeline {

struct LogFilter {
  std::optional<WindowSpec> window;       // keep events within it of the newest
  std::optional<double> sample_fraction;  // keep this fraction of users
  uint64_t sample_seed = 42;
};

struct CombineReport {
  uint64_t rows_in = 0;
  uint64_t rows_after_window = 0;
  uint64_t rows_after_sample = 0;
  std::optional<int64_t> window_start;  // unix seconds, when a window applied
  uint64_t users = 0, items = 0;        // in the combined log
};

// Combines `logs` (named `names`, for messages) into one log. With one log
// and no filter the log is returned unchanged. The event column is kept
// when every log has one, the time column likewise; a window needs times
// (FailedPrecondition otherwise). Attribute columns are dropped. No logs,
// or a name count that differs from the log count, is InvalidArgument.
Result<InteractionLog> CombineLogs(std::vector<InteractionLog> logs,
                                   const std::vector<std::string>& names, const LogFilter& filter,
                                   CombineReport* report);

// The first second still inside the window ending at `newest`: `newest`
// minus N days or weeks, or N calendar months (the day clamped to the end
// of a shorter month, e.g. May 31 - 3 months = Feb 28/29).
int64_t WindowStart(int64_t newest, const WindowSpec& window);

// Whether sampling keeps user `id`: a seeded 64-bit hash of the id, scaled
// to [0, 1), is below `fraction`.
bool SampleKeepsUser(std::string_view id, double fraction, uint64_t seed);

struct MinCountReport {
  uint64_t users_after_user_filter = 0, items_after_user_filter = 0, nnz_after_user_filter = 0;
  uint64_t users = 0, items = 0, nnz = 0;  // after both filters
};

// Drops users with fewer than min_user nonzeros, then items with fewer than
// min_item nonzeros among the kept users, and renumbers what is left (ids in
// their original order). A filter of 0 does nothing.
Dataset FilterMinCounts(Dataset data, uint32_t min_user, uint32_t min_item, MinCountReport* report);

// The dataset restricted to the users and items whose flag is set, with new
// dictionaries (kept ids in their old order) and both matrices rebuilt.
// REQUIRES: keep_user.size() == users, keep_item.size() == items.
Dataset CompactDataset(const Dataset& data, const std::vector<uint8_t>& keep_user,
                       const std::vector<uint8_t>& keep_item);

}  // namespace encore::pipeline

#endif  // ENCORE_PIPELINE_PREPARE_H_
