#include "model/topn.h"

#include <cmath>

namespace encore::model {

namespace {
bool Contains(const std::vector<uint32_t>& sorted, uint32_t item) {
  return std::binary_search(sorted.begin(), sorted.end(), item);
}
bool Contains(const uint32_t* begin, const uint32_t* end, uint32_t item) {
  return std::binary_search(begin, end, item);
}
}  // namespace

std::vector<ScoredItem> SelectTopN(const float* scores, uint32_t num_items,
                                   const uint32_t* seen_begin, const uint32_t* seen_end,
                                   const QueryOptions& options) {
  TopN top(options.n);
  // Deny lists are short; a sorted copy makes lookups O(log d).
  std::vector<uint32_t> deny = options.deny;
  std::sort(deny.begin(), deny.end());
  auto consider = [&](uint32_t item) {
    if (item >= num_items) return;
    const float s = scores[item];
    if (!std::isfinite(s)) return;
    if (top.full() && s < top.threshold()) return;  // cheap reject before the lookups
    if (options.exclude_seen && Contains(seen_begin, seen_end, item)) return;
    if (!deny.empty() && Contains(deny, item)) return;
    top.Push(item, s);
  };
  if (!options.allow.empty()) {
    std::vector<uint32_t> allow = options.allow;
    std::sort(allow.begin(), allow.end());
    allow.erase(std::unique(allow.begin(), allow.end()), allow.end());
    for (uint32_t item : allow) consider(item);
  } else {
    for (uint32_t item = 0; item < num_items; ++item) consider(item);
  }
  return top.Take();
}

}  // namespace encore::model
