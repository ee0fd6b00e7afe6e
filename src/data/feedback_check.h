// Does a log read as implicit feedback look like explicit ratings? Implicit
// reading sums the values of a repeated (user, item), which turns stars into
// nonsense (three 5-star ratings become 15); explicit reading keeps one
// rating per pair. Callers warn with the fix when the feedback kind was a
// default, not the user's choice (docs/DATA_MODEL.md).
//
// Thread-safety: plain functions over values.

#ifndef ENCORE_DATA_FEEDBACK_CHECK_H_
#define ENCORE_DATA_FEEDBACK_CHECK_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "encore/interactions.h"

namespace encore {

// What a pass over the values found, before BuildDataset consumes the log.
struct ValueScale {
  uint64_t rows = 0;
  bool has_events = false;
  bool has_values = false;  // any value other than 1
  float min = 0, max = 0;
  bool all_integers = true;
  bool all_halves = true;  // every value a multiple of 0.5
  bool any_half = false;   // some value x.5
};

ValueScale ScanValues(const InteractionLog& log);

// Why the data looks explicit, or "" when it does not: a value column named
// like a rating ("rating", "stars"...), values on a bounded half-star scale
// (0.5-5 in steps of 0.5), or integer stars 1-5 (or 1-10) whose (user, item)
// pairs repeat (`nonzeros` < rows), so summing takes them beyond the scale.
// Event logs (an event column) never look explicit.
std::string ExplicitLookingReason(const ValueScale& scale, std::string_view value_column,
                                  uint64_t nonzeros);

}  // namespace encore

#endif  // ENCORE_DATA_FEEDBACK_CHECK_H_
