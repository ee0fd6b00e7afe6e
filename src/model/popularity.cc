// popularity: every user gets the most-interacted items (distinct users per
// item). The baseline every model must beat, and the cold-start fallback.

#include <algorithm>
#include <numeric>

#include "encore/explain.h"
#include "encore/model_io.h"
#include "model/models.h"

namespace encore::model {

namespace {

class Popularity final : public Recommender {
 public:
  explicit Popularity(const ModelParams& params) : Recommender(params) {}

  const char* kind() const override { return "popularity"; }

  Status Fit(const Dataset& data) override {
    if (data.nnz() == 0) return Status::InvalidArgument("popularity: the dataset is empty");
    RememberSeen(data);
    counts_.assign(data.items.size(), 0.0f);
    for (uint32_t i = 0; i < data.by_item.rows; ++i) {
      counts_[i] = static_cast<float>(data.by_item.RowLength(i));
    }
    BuildOrder();
    return Status::OK();
  }

  void ScoreItems(uint32_t, float* scores) const override {
    std::copy(counts_.begin(), counts_.end(), scores);
  }

  Status ScoreFoldIn(std::span<const ItemWeight> items, float* scores) const override {
    for (const ItemWeight& iw : items) {
      if (iw.item >= num_items()) return Status::InvalidArgument("unknown item index");
    }
    std::copy(counts_.begin(), counts_.end(), scores);
    return Status::OK();
  }

  // Every user's candidates are the global ranking.
  std::unique_ptr<RankedCursor> NewRankedCursor() const override {
    return std::make_unique<Cursor>(this);
  }

  // The score is the item's count; no history item contributes.
  Status ExplainScore(std::span<const ItemWeight> history, uint32_t item,
                      Explanation* out) const override {
    out->items.clear();
    for (const ItemWeight& iw : history) out->items.push_back({iw.item, iw.weight, 0.0, 0, 0});
    out->base = counts_[item];
    out->score = counts_[item];
    out->exact = true;
    out->method = "popularity: the score is the number of users who interacted with the item";
    return Status::OK();
  }

  void SaveState(ModelWriter* w) const override { w->PutArray(counts_); }

  Status LoadState(ModelReader* r) override {
    ENCORE_RETURN_IF_ERROR(r->GetArray(&counts_, "popularity counts", num_items()));
    BuildOrder();
    return Status::OK();
  }

 private:
  void BuildOrder() {
    order_.resize(counts_.size());
    std::iota(order_.begin(), order_.end(), 0u);
    std::stable_sort(order_.begin(), order_.end(),
                     [this](uint32_t a, uint32_t b) { return counts_[a] > counts_[b]; });
  }

  // Walks order_; the same for every user. Aligned to a cache line: one
  // cursor per thread, and next_ changes at every step.
  class alignas(64) Cursor final : public RankedCursor {
   public:
    explicit Cursor(const Popularity* m) : m_(m) {}
    void Reset(uint32_t) override { next_ = 0; }
    bool cheap() const override { return true; }
    bool Next(ScoredItem* out) override {
      if (next_ >= m_->order_.size()) return false;
      const uint32_t item = m_->order_[next_++];
      *out = {item, m_->counts_[item]};
      return true;
    }

   private:
    const Popularity* m_;
    size_t next_ = 0;
  };

  std::vector<float> counts_;    // distinct users per item
  std::vector<uint32_t> order_;  // items by count desc, index asc: the rank order
};

}  // namespace

std::unique_ptr<Recommender> NewPopularity(const ModelParams& params) {
  return std::make_unique<Popularity>(params);
}

}  // namespace encore::model
