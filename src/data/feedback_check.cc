#include "data/feedback_check.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace encore {

ValueScale ScanValues(const InteractionLog& log) {
  ValueScale s;
  s.rows = log.size();
  s.has_events = log.has_events;
  bool first = true;
  for (size_t i = 0; i < log.value.size(); ++i) {
    const float v = log.value[i];
    if (first) {
      s.min = s.max = v;
      first = false;
    } else {
      s.min = std::min(s.min, v);
      s.max = std::max(s.max, v);
    }
    if (v != 1.0f) s.has_values = true;
    if (v != std::floor(v)) {
      s.all_integers = false;
      if (2 * v == std::floor(2 * v)) {
        s.any_half = true;
      } else {
        s.all_halves = false;
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
