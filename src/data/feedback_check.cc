#include "data/feedback_check.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace encore {

namespace {

// v == std::floor(v), without a libm call for ordinary magnitudes: floats
// of 2^23 and more are all whole (or infinite or NaN, left to floor).
inline bool IsWhole(float v) {
  if (std::fabs(v) < 8388608.0f) return static_cast<float>(static_cast<int32_t>(v)) == v;
  return v == std::floor(v);
}

}  // namespace

// One pass over the value column, chunk by chunk (it runs alone, between
// reading and building the matrices, so it is on the critical path).
ValueScale ScanValues(const InteractionLog& log) {
  ValueScale s;
  s.rows = log.size();
  s.has_events = log.has_events;
  if (log.value.empty()) return s;
  s.min = s.max = log.value[0];
  for (size_t c = 0; c < log.value.num_chunks(); ++c) {
    const float* values = log.value.chunk_data(c);
    const size_t n = log.value.chunk_size(c);
    for (size_t j = 0; j < n; ++j) {
      const float v = values[j];
      s.min = std::min(s.min, v);
      s.max = std::max(s.max, v);
      if (v != 1.0f) s.has_values = true;
      if (!IsWhole(v)) {
        s.all_integers = false;
        if (IsWhole(2 * v)) {
          s.any_half = true;
        } else {
          s.all_halves = false;
        }
      }
    }
  }
  return s;
}

std::string ExplicitLookingReason(const ValueScale& s, std::string_view value_column,
                                  uint64_t nonzeros) {
  if (s.has_events || s.rows == 0) return "";
  std::string name;
  for (char c : value_column)
    name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* rating : {"rating", "ratings", "stars", "star", "rating_value", "user_rating"}) {
    if (name == rating) return "its value column is named '" + std::string(value_column) + "'";
  }
  if (!s.has_values) return "";
  char range[64];
  std::snprintf(range, sizeof range, "%g-%g", s.min, s.max);
  if (s.all_halves && s.any_half && s.min >= 0.5f && s.max <= 5.0f) {
    return std::string("its values are on a bounded half-star scale (") + range + ")";
  }
  const bool stars = s.all_integers && s.min >= 1 && (s.max == 5 || s.max == 10);
  if (stars && nonzeros < s.rows) {
    return std::string("its values are integer stars (") + range + ") and " +
           std::to_string(s.rows - nonzeros) +
           " row(s) repeat a (user, item) pair, so summing takes them beyond the scale";
  }
  return "";
}

}  // namespace encore
