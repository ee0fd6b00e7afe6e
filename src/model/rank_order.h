// RankOrder and TopN: the rank order of results and a selector that keeps the n best (score, item)
// pairs seen, in O(log n) per push.
//
// Order: higher score first; equal scores by smaller tie rank, which is the
// item index unless the model supplies its own ranks (Recommender::
// tie_ranks()). The same order everywhere (ranker, models' similar items,
// evaluation) keeps results deterministic and lets batch and single-user
// calls agree exactly. Filtering is the ranker's (src/rank/topn.h); this
// header is only the order, so models (similar items) can use it too.
//
// Thread-safety: one instance per thread.

#ifndef ENCORE_MODEL_RANK_ORDER_H_
#define ENCORE_MODEL_RANK_ORDER_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "encore/recommender.h"

namespace encore::model {

// Best first: higher score, then smaller tie rank. `tie_rank` is indexed by
// item; nullptr means the item index itself.
struct RankOrder {
  const uint32_t* tie_rank = nullptr;

  bool operator()(const ScoredItem& a, const ScoredItem& b) const {
    if (a.score != b.score) return a.score > b.score;
    return tie_rank != nullptr ? tie_rank[a.item] < tie_rank[b.item] : a.item < b.item;
  }
};

// True when a ranks before b in the default order (ties by item index).
inline bool RanksBefore(const ScoredItem& a, const ScoredItem& b) { return RankOrder{}(a, b); }

class TopN {
 public:
  explicit TopN(uint32_t n, const uint32_t* tie_rank = nullptr) : n_(n), order_{tie_rank} {
    heap_.reserve(n);
  }

  void Push(uint32_t item, float score) {
    if (n_ == 0) return;
    ScoredItem s{item, score};
    if (heap_.size() < n_) {
      heap_.push_back(s);
      std::push_heap(heap_.begin(), heap_.end(), order_);
      return;
    }
    // heap_.front() is the worst kept item.
    if (!order_(s, heap_.front())) return;
    std::pop_heap(heap_.begin(), heap_.end(), order_);
    heap_.back() = s;
    std::push_heap(heap_.begin(), heap_.end(), order_);
  }
  // Lowest score that still enters (only meaningful once full).
  bool full() const { return heap_.size() == n_; }
  float threshold() const { return heap_.front().score; }

  // The kept items, best first; the selector is empty afterwards.
  std::vector<ScoredItem> Take() {
    std::sort(heap_.begin(), heap_.end(), order_);
    std::vector<ScoredItem> out;
    out.swap(heap_);
    return out;
  }

 private:
  uint32_t n_;
  RankOrder order_;
  std::vector<ScoredItem> heap_;
};

}  // namespace encore::model

#endif  // ENCORE_MODEL_RANK_ORDER_H_
