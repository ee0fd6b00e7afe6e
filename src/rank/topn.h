// SelectTopN: steps (b), (d) and (e) of the ranker (encore/rank.h) over a
// dense score vector: eligibility, the non-finite drop and top-N in rank
// order (model/rank_order.h). Internal to src/rank.
//
// Thread-safety: reentrant.

#ifndef ENCORE_RANK_TOPN_H_
#define ENCORE_RANK_TOPN_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "encore/rank.h"
#include "model/rank_order.h"
#include "util/bloom_filter.h"

namespace encore::rank {

using model::RankOrder;
using model::TopN;

// Which items a query may return: step (b) of the ranker (encore/rank.h).
struct Eligibility {
  std::span<const uint32_t> seen;   // sorted; excluded (empty: nothing seen to exclude)
  // Instead of `seen` beyond QueryOptions::seen_exact_max: a Bloom filter of
  // the seen items (never lets one through; drops an unseen item with
  // probability about QueryOptions::seen_fpr).
  std::shared_ptr<const util::BloomFilter> seen_filter;
  // Optional, with the exact list: the same seen items marked with
  // `seen_epoch` in an array indexed by item, an O(1) test for paths that
  // test many candidates per user (the ranker's cursors).
  const uint32_t* seen_mark = nullptr;
  uint32_t seen_epoch = 0;
  std::span<const uint32_t> allow;  // sorted, unique; empty: every item
  std::span<const uint32_t> deny;   // sorted
  std::span<const ExcludeStep* const> steps;
  const RankContext* ctx = nullptr;  // for the steps

  // Everything but the allow list.
  bool Excluded(uint32_t item) const {
    if (seen_filter != nullptr) {
      if (seen_filter->MayContain(item)) return true;
    } else if (seen_mark != nullptr) {
      if (seen_mark[item] == seen_epoch) return true;
    } else if (!seen.empty() && std::binary_search(seen.begin(), seen.end(), item)) {
      return true;
    }
    if (!deny.empty() && std::binary_search(deny.begin(), deny.end(), item)) return true;
    for (const ExcludeStep* s : steps) {
      if (s->Excludes(*ctx, item)) return true;
    }
    return false;
  }
  bool Allowed(uint32_t item) const {
    return allow.empty() || std::binary_search(allow.begin(), allow.end(), item);
  }
};

// SelectTopN's dense scan (no allow list) fed a slice of the score vector at
// a time: Scan(scores, begin, end) considers items [begin, end), whose
// scores start at scores[0]. Slices in increasing item order covering
// [0, num_items) give exactly SelectTopN's list (the list is a function of
// the scores alone: rank order is total). `e` must outlive the selector.
class DenseTopN {
 public:
  DenseTopN(const Eligibility& e, uint32_t n, const uint32_t* tie_rank = nullptr)
      : e_(&e), top_(n, tie_rank), n_(n) {}
  void Scan(const float* scores, uint32_t begin, uint32_t end);
  // The kept items, best first; the selector is empty afterwards.
  std::vector<ScoredItem> Take() { return top_.Take(); }

 private:
  const Eligibility* e_;
  TopN top_;
  uint32_t n_;
};

// Selects the top n eligible items with finite scores from a dense score
// vector: steps (b), (d) and (e) of the ranker. With an allow list only the
// allowed items (< num_items) are read; otherwise every score is.
std::vector<ScoredItem> SelectTopN(const float* scores, uint32_t num_items, const Eligibility& e,
                                   uint32_t n, const uint32_t* tie_rank = nullptr);

// The same for one user and a QueryOptions (allow, deny and seen taken
// from it; no steps): the plain reference the ranker's other paths are
// tested against.
std::vector<ScoredItem> SelectTopN(const float* scores, uint32_t num_items,
                                   const uint32_t* seen_begin, const uint32_t* seen_end,
                                   const QueryOptions& options, const uint32_t* tie_rank = nullptr);

}  // namespace encore::rank

#endif  // ENCORE_RANK_TOPN_H_
