// popularity: every user gets the most-interacted items (distinct users per
// item). The baseline every model must beat, and the cold-start fallback.

#include <algorithm>
#include <numeric>

#include "encore/model_io.h"
#include "model/models.h"
#include "model/topn.h"

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

  // Walks the global ranking once per user instead of scoring every item.
  void RecommendBatch(std::span<const uint32_t> users, const QueryOptions& options,
                      std::vector<std::vector<ScoredItem>>* out) const override {
    out->assign(users.size(), {});
    std::vector<uint32_t> deny = options.deny, allow = options.allow;
    std::sort(deny.begin(), deny.end());
    std::sort(allow.begin(), allow.end());
    for (size_t k = 0; k < users.size(); ++k) {
      const uint32_t u = users[k];
      if (u >= num_users()) continue;
      const uint32_t* seen_begin = seen_.indices.data() + seen_.indptr[u];
      const uint32_t* seen_end = seen_.indices.data() + seen_.indptr[u + 1];
      auto& list = (*out)[k];
      for (uint32_t item : order_) {
        if (list.size() >= options.n) break;
        if (options.exclude_seen && std::binary_search(seen_begin, seen_end, item)) continue;
        if (std::binary_search(deny.begin(), deny.end(), item)) continue;
        if (!allow.empty() && !std::binary_search(allow.begin(), allow.end(), item)) continue;
        list.push_back({item, counts_[item]});
      }
    }
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

  std::vector<float> counts_;   // distinct users per item
  std::vector<uint32_t> order_;  // items by count desc, index asc
};

}  // namespace

std::unique_ptr<Recommender> NewPopularity(const ModelParams& params) {
  return std::make_unique<Popularity>(params);
}

}  // namespace encore::model
