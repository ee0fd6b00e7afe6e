// Dataset: the interaction matrix in both orientations, with its id dictionaries.
//
// BuildDataset turns an InteractionLog into one value per (user, item):
//  - implicit feedback: sum over rows of value x weight(event type), then an
//    optional transform (log1p, binary);
//  - explicit feedback: one rating per (user, item), the latest by timestamp
//    (ties and missing times: the later row wins) or the mean. Neither
//    weights nor the transform apply: a rating stays a rating.
// It builds the CSR (users x items) and CSC (items x users, stored as the CSR
// of the transpose) in parallel with OpenMP; the result never depends on the
// thread count. Within a CSR row, column indices ascend, and so do the user
// indices of each CSC row. Every user and item of the dictionaries has a row,
// possibly empty. Memory: 8 bytes per nonzero per orientation (uint32 index +
// float32 value), +8 per nonzero with kept times, plus 8 bytes per row for
// indptr; see docs/DATA_MODEL.md.
//
// Thread-safety: a built Dataset is immutable and safe to share.

#ifndef ENCORE_DATASET_H_
#define ENCORE_DATASET_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
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
  // A row whose event type is missing from a non-empty map is an error (the
  // reader rejects such rows first when given the same names); without an
  // event column the map is not used.
  std::map<std::string, float> weights;
  // Implicit only: applied to each aggregated value. kBinary maps x > 0 to 1
  // and keeps entries with x <= 0 as explicit zeros (never drops them).
  // kLog1p fails when a value is <= -1 (its log1p is not finite).
  ValueTransform transform = ValueTransform::kNone;
  // Keep the latest time per nonzero (needed by time-based splits). Has no
  // effect when the log has no time column.
  bool keep_times = true;
  // OpenMP threads; 0 = all cores.
  int threads = 0;
};

// What BuildDataset saw in the log, for profiles and manifests.
struct LogSummary {
  uint64_t rows = 0;
  // Rows per event type, one entry per event-dictionary name in dictionary
  // order (a name may count 0 rows); empty without an event column.
  std::vector<std::pair<std::string, uint64_t>> event_counts;
  // Over all rows; unset without a time column.
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

// Parses "view=3,cart=10" into weights. Spaces around names and numbers are
// ignored; weights must be finite and >= 0; a name may appear once. An empty
// spec gives no weights. Errors (InvalidArgument) name the bad piece.
Result<std::map<std::string, float>> ParseWeights(const std::string& spec);
// "none", "log1p" or "binary".
Result<ValueTransform> ParseValueTransform(const std::string& name);
// "implicit" or "explicit" (src/io/option_names.cc).
Result<Feedback> ParseFeedback(const std::string& name);
// "latest" or "mean" (src/io/option_names.cc).
Result<ExplicitDuplicates> ParseExplicitDuplicates(const std::string& name);

// Consumes `log`: its columns are freed chunk by chunk as they are used, and
// its user and item dictionaries move into the Dataset unchanged.
// Fails with InvalidArgument when a value is NaN or infinite, an aggregated
// value is not finite (float overflow, log1p of a value <= -1), weights are
// given and an event type used by a row has none, or the log is inconsistent
// (column lengths differ, an index is outside its dictionary).
Result<Dataset> BuildDataset(InteractionLog log, const DatasetOptions& options);

// Subsets, for evaluation splits (src/data/subset.cc).
//
// The nonzeros of `m` whose entry in `keep` (one per nonzero, CSR order) is
// not 0, in a matrix of the same shape; values and times are kept.
// REQUIRES: keep.size() == m.nnz().
CsrMatrix SelectNonzeros(const CsrMatrix& m, std::span<const uint8_t> keep);

// A Dataset over the same users and items as `like`, whose users x items
// matrix is `by_user`: the dictionaries are cloned, so every index means
// the same in both (a model fitted on the result answers for `like`'s ids),
// by_item is the transpose, and the summary counts one row per nonzero with
// the time range of `by_user.times` and no event counts.
// REQUIRES: by_user.rows == like.users.size(), by_user.cols == like.items.size().
Dataset DatasetFromMatrix(const Dataset& like, CsrMatrix by_user, int threads = 0);

}  // namespace encore

#endif  // ENCORE_DATASET_H_
