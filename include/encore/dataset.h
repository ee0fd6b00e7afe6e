// Dataset: the interaction matrix in both orientations, with its id dictionaries.
//
// BuildDataset turns an InteractionLog into one value per (user, item):
//  - implicit feedback: sum over rows of value x weight(event type), then an
//    optional transform (log1p, binary);
//  - explicit feedback: one rating per (user, item), the latest by timestamp
//    (ties and missing times: the later row wins) or the mean.
// It builds the CSR (users x items) and CSC (items x users, stored as the CSR
// of the transpose) in parallel with OpenMP. Row order within a CSR row is by
// ascending column index. Memory: 8 bytes per nonzero per orientation
// (uint32 index + float32 value), +8 per nonzero with kept times, plus
// 8 bytes per row for indptr; see docs/DATA_MODEL.md.
//
// Thread-safety: a built Dataset is immutable and safe to share.

#ifndef ENCORE_DATASET_H_
#define ENCORE_DATASET_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "encore/ids.h"
#include "encore/interactions.h"
#include "encore/status.h"

namespace encore {

// Compressed sparse rows. Row r holds indices[indptr[r] .. indptr[r+1]).
struct CsrMatrix {
  uint32_t rows = 0;
  uint32_t cols = 0;
  std::vector<uint64_t> indptr;   // rows + 1 entries
  std::vector<uint32_t> indices;  // column of each nonzero, ascending within a row
  std::vector<float> values;      // value of each nonzero
  std::vector<int64_t> times;     // latest unix time per nonzero, or empty

  uint64_t nnz() const { return indices.size(); }
  uint64_t RowLength(uint32_t r) const { return indptr[r + 1] - indptr[r]; }
  size_t MemoryBytes() const;
  // The transpose (CSC of this matrix as a CSR), built in parallel.
  CsrMatrix Transpose(int threads = 0) const;
};

enum class Feedback { kImplicit, kExplicit };
enum class ExplicitDuplicates { kLatest, kMean };
enum class ValueTransform { kNone, kLog1p, kBinary };

struct DatasetOptions {
  Feedback feedback = Feedback::kImplicit;
  // Explicit only: which rating to keep when a (user, item) pair repeats.
  ExplicitDuplicates duplicates = ExplicitDuplicates::kLatest;
  // Implicit only: weight per event type name. Empty: every row weighs 1.
  // Event types missing from a non-empty map are an error (the reader
  // rejects such rows first when given the same names).
  std::map<std::string, float> weights;
  // Applied to the aggregated value.
  ValueTransform transform = ValueTransform::kNone;
  // Keep the latest time per nonzero (needed by time-based splits).
  bool keep_times = true;
  // OpenMP threads; 0 = all cores.
  int threads = 0;
};

// What BuildDataset saw in the log, for profiles and manifests.
struct LogSummary {
  uint64_t rows = 0;
  std::vector<std::pair<std::string, uint64_t>> event_counts;  // by event name
  std::optional<int64_t> time_min;
  std::optional<int64_t> time_max;
};

struct Dataset {
  IdDictionary users;
  IdDictionary items;
  CsrMatrix by_user;  // users x items
  CsrMatrix by_item;  // items x users (CSC of by_user)
  LogSummary summary;

  uint64_t nnz() const { return by_user.nnz(); }
  // Dictionaries + both matrices.
  size_t MemoryBytes() const;
};

// Parses "view=3,cart=10" into weights. Errors name the bad piece.
Result<std::map<std::string, float>> ParseWeights(const std::string& spec);
Result<ValueTransform> ParseValueTransform(const std::string& name);

// Consumes `log` (its storage is freed as it is used).
Result<Dataset> BuildDataset(InteractionLog log, const DatasetOptions& options);

}  // namespace encore

#endif  // ENCORE_DATASET_H_
