// TopN: keeps the n best (score, item) pairs seen, in O(log n) per push.
//
// Order: higher score first; equal scores by smaller item index. The same
// order everywhere (models, batch, evaluation) keeps results deterministic
// and lets batch and single-user calls agree exactly.
//
// Thread-safety: one instance per thread.

#ifndef ENCORE_MODEL_TOPN_H_
#define ENCORE_MODEL_TOPN_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "encore/recommender.h"

namespace encore::model {

// True when a ranks before b.
inline bool RanksBefore(const ScoredItem& a, const ScoredItem& b) {
  return a.score > b.score || (a.score == b.score && a.item < b.item);
}

class TopN {
 public:
  explicit TopN(uint32_t n) : n_(n) { heap_.reserve(n); }

  void Push(uint32_t item, float score) {
    if (n_ == 0) return;
    ScoredItem s{item, score};
    if (heap_.size() < n_) {
      heap_.push_back(s);
      std::push_heap(heap_.begin(), heap_.end(), RanksBefore);
      return;
    }
    // heap_.front() is the worst kept item.
    if (!RanksBefore(s, heap_.front())) return;
    std::pop_heap(heap_.begin(), heap_.end(), RanksBefore);
    heap_.back() = s;
    std::push_heap(heap_.begin(), heap_.end(), RanksBefore);
  }
  // Lowest score that still enters (only meaningful once full).
  bool full() const { return heap_.size() == n_; }
  float threshold() const { return heap_.front().score; }

  // The kept items, best first; the selector is empty afterwards.
  std::vector<ScoredItem> Take() {
    std::sort(heap_.begin(), heap_.end(), RanksBefore);
    std::vector<ScoredItem> out;
    out.swap(heap_);
    return out;
  }

 private:
  uint32_t n_;
  std::vector<ScoredItem> heap_;
};

// Applies QueryOptions to a dense score vector and selects the top n:
// seen items (when excluded), denied items and, with an allow list, every
// other item are skipped. `seen_row` is the user's sorted item indices.
std::vector<ScoredItem> SelectTopN(const float* scores, uint32_t num_items,
                                   const uint32_t* seen_begin, const uint32_t* seen_end,
                                   const QueryOptions& options);

}  // namespace encore::model

#endif  // ENCORE_MODEL_TOPN_H_
