// FixedScoresModel: a Recommender whose scores are given by the test, so
// ranker and output tests control every score (ties, NaN, infinities)
// exactly. Optional custom tie ranks and a ranked cursor built by sorting
// the dense scores (to test the cursor path against the dense one).

#ifndef ENCORE_TESTS_FIXED_SCORES_MODEL_H_
#define ENCORE_TESTS_FIXED_SCORES_MODEL_H_

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <vector>

#include "encore/recommender.h"

namespace encore::testing {

class FixedScoresModel final : public Recommender {
 public:
  // scores: users x items, row-major; seen: per user, that user's items.
  FixedScoresModel(uint32_t users, uint32_t items, std::vector<float> scores,
                   const std::vector<std::vector<uint32_t>>& seen)
      : Recommender(ModelParams()), scores_(std::move(scores)) {
    CsrMatrix m;
    m.rows = users;
    m.cols = items;
    m.indptr.push_back(0);
    for (uint32_t u = 0; u < users; ++u) {
      std::vector<uint32_t> row = u < seen.size() ? seen[u] : std::vector<uint32_t>();
      std::sort(row.begin(), row.end());
      for (uint32_t i : row) {
        m.indices.push_back(i);
        m.values.push_back(1.0f);
      }
      m.indptr.push_back(m.indices.size());
    }
    RestoreBase(ModelParams(), std::move(m));
  }

  void set_tie_ranks(std::vector<uint32_t> ranks) { ranks_ = std::move(ranks); }
  void set_cursor(bool on) { cursor_ = on; }
  // Fold-in scores: row `visitor_row` of the matrix.
  void set_fold_in_row(uint32_t row) { fold_in_row_ = row; }

  const char* kind() const override { return "fixed"; }
  Status Fit(const Dataset&) override { return Status::OK(); }
  const uint32_t* tie_ranks() const override { return ranks_.empty() ? nullptr : ranks_.data(); }
  void ScoreItems(uint32_t user, float* out) const override {
    std::copy_n(scores_.data() + uint64_t{user} * num_items(), num_items(), out);
  }
  Status ScoreFoldIn(std::span<const ItemWeight> items, float* out) const override {
    for (const ItemWeight& iw : items) {
      if (iw.item >= num_items()) return Status::InvalidArgument("unknown item index");
    }
    ScoreItems(fold_in_row_, out);
    return Status::OK();
  }
  // Similar items: row `item % users` of the matrix, best first, finite or
  // not (the ranker must drop non-finite ones), never the item itself.
  Status SimilarItems(uint32_t item, uint32_t n, std::vector<ScoredItem>* out) const override {
    if (item >= num_items()) return Status::InvalidArgument("unknown item");
    std::vector<ScoredItem> all;
    const float* row = scores_.data() + uint64_t{item % num_users()} * num_items();
    for (uint32_t i = 0; i < num_items(); ++i) {
      if (i != item && !std::isnan(row[i]) && row[i] != -INFINITY) all.push_back({i, row[i]});
    }
    std::stable_sort(all.begin(), all.end(), [this](const ScoredItem& a, const ScoredItem& b) {
      return a.score > b.score || (a.score == b.score && TieRank(a.item) < TieRank(b.item));
    });
    if (all.size() > n) all.resize(n);
    *out = all;
    return Status::OK();
  }
  std::unique_ptr<RankedCursor> NewRankedCursor() const override {
    if (!cursor_) return nullptr;
    return std::make_unique<SortedCursor>(this);
  }
  void SaveState(ModelWriter*) const override {}
  Status LoadState(ModelReader*) override { return Status::OK(); }

 private:
  class SortedCursor final : public RankedCursor {
   public:
    explicit SortedCursor(const FixedScoresModel* m) : m_(m) {}
    void Reset(uint32_t user) override {
      list_.clear();
      next_ = 0;
      std::vector<float> s(m_->num_items());
      m_->ScoreItems(user, s.data());
      for (uint32_t i = 0; i < s.size(); ++i) {
        if (std::isfinite(s[i])) list_.push_back({i, s[i]});
      }
      std::sort(list_.begin(), list_.end(), [this](const ScoredItem& a, const ScoredItem& b) {
        return a.score > b.score ||
               (a.score == b.score && m_->TieRank(a.item) < m_->TieRank(b.item));
      });
    }
    bool Next(ScoredItem* out) override {
      if (next_ >= list_.size()) return false;
      *out = list_[next_++];
      return true;
    }

   private:
    const FixedScoresModel* m_;
    std::vector<ScoredItem> list_;
    size_t next_ = 0;
  };

  std::vector<float> scores_;
  std::vector<uint32_t> ranks_;
  bool cursor_ = false;
  uint32_t fold_in_row_ = 0;
};

}  // namespace encore::testing

#endif  // ENCORE_TESTS_FIXED_SCORES_MODEL_H_
