#include "rank/topn.h"

#include <cmath>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace encore::rank {

void DenseTopN::Scan(const float* scores, uint32_t begin, uint32_t end) {
  if (n_ == 0) return;  // top_.threshold() needs a kept item
  TopN& top = top_;
  const Eligibility& e = *e_;
  // scores[j] is item begin + j's.
  auto consider = [&](uint32_t j) {
    const float s = scores[j];
    if (!std::isfinite(s)) return;
    if (top.full() && s < top.threshold()) return;  // cheap reject before the lookups
    if (e.Excluded(begin + j)) return;
    top.Push(begin + j, s);
  };
  const uint32_t count = end - begin;
  // The dense scan is the hot loop of batch recommendation (a third of
  // the time for factor models before this, measured with perf). Once n
  // items are kept, almost every score is below the threshold: skip them
  // 16 at a time with SSE2 (the x86-64 baseline) and look closely only at
  // blocks holding a candidate. A score equal to the threshold can still
  // win its tie only under model tie ranks; with ties by index it cannot,
  // since every kept item has a smaller index.
  uint32_t j = 0;
  while (j < count && !top.full()) consider(j++);
#ifdef __SSE2__
  while (j + 16 <= count) {
    const float t = top.threshold();
    const __m128 thr = _mm_set1_ps(t);
    const float* p = scores + j;
    // NaN compares false, so it never marks a block.
    __m128 a = _mm_cmpge_ps(_mm_loadu_ps(p), thr);
    __m128 b = _mm_cmpge_ps(_mm_loadu_ps(p + 4), thr);
    __m128 c = _mm_cmpge_ps(_mm_loadu_ps(p + 8), thr);
    __m128 d = _mm_cmpge_ps(_mm_loadu_ps(p + 12), thr);
    if (_mm_movemask_ps(_mm_or_ps(_mm_or_ps(a, b), _mm_or_ps(c, d))) != 0) {
      for (uint32_t q = 0; q < 16; ++q) consider(j + q);
    }
    j += 16;
  }
#endif
  for (; j < count; ++j) consider(j);
}

std::vector<ScoredItem> SelectTopN(const float* scores, uint32_t num_items, const Eligibility& e,
                                   uint32_t n, const uint32_t* tie_rank) {
  if (n == 0) return {};  // top.threshold() needs a kept item
  if (e.allow.empty()) {
    DenseTopN dense(e, n, tie_rank);
    dense.Scan(scores, 0, num_items);
    return dense.Take();
  }
  TopN top(n, tie_rank);
  for (uint32_t item : e.allow) {
    if (item >= num_items) continue;
    const float s = scores[item];
    if (!std::isfinite(s)) continue;
    if (top.full() && s < top.threshold()) continue;  // cheap reject before the lookups
    if (e.Excluded(item)) continue;
    top.Push(item, s);
  }
  return top.Take();
}

std::vector<ScoredItem> SelectTopN(const float* scores, uint32_t num_items,
                                   const uint32_t* seen_begin, const uint32_t* seen_end,
                                   const QueryOptions& options, const uint32_t* tie_rank) {
  std::vector<uint32_t> allow, deny = options.deny;
  for (uint32_t item : options.allow) {
    if (item < num_items) allow.push_back(item);
  }
  if (!options.allow.empty() && allow.empty()) return {};  // nothing allowed
  std::sort(allow.begin(), allow.end());
  allow.erase(std::unique(allow.begin(), allow.end()), allow.end());
  std::sort(deny.begin(), deny.end());
  Eligibility e;
  if (options.exclude_seen) e.seen = {seen_begin, seen_end};
  e.allow = allow;
  e.deny = deny;
  return SelectTopN(scores, num_items, e, options.n, tie_rank);
}

}  // namespace encore::rank
