#include "pipeline/rows.h"

#include <algorithm>

#include "encore/rank.h"
#include "rank/encode.h"

namespace encore::pipeline {

RecommendationRows::RecommendationRows(const TrainedModel& model, RecommendKind kind,
                                       std::optional<std::vector<uint32_t>> ids,
                                       const QueryOptions& options)
    : model_(model), kind_(kind), ids_(std::move(ids)), options_(options) {
  columns_ = kind == RecommendKind::kSimilar
                 ? std::vector<std::string>{"item", "similar_item", "score", "rank"}
                 : std::vector<std::string>{"user", "item", "score", "rank"};
}

Status RecommendationRows::ForEach(
    const std::function<Status(std::span<const std::string_view>)>& row) const {
  const bool similar = kind_ == RecommendKind::kSimilar;
  const IdDictionary& keys = similar ? model_.items : model_.users;
  const size_t total = ids_ ? ids_->size() : keys.size();
  const Ranker ranker(*model_.model);
  std::vector<uint32_t> block;
  std::vector<std::vector<ScoredItem>> lists;
  std::string score;
  std::string rank;
  for (size_t start = 0; start < total; start += block_) {
    const size_t end = std::min(total, start + block_);
    block.clear();
    for (size_t k = start; k < end; ++k) {
      block.push_back(ids_ ? (*ids_)[k] : static_cast<uint32_t>(k));
    }
    if (similar) {
      ENCORE_RETURN_IF_ERROR(ranker.RankSimilarItems(block, options_.n, &lists));
    } else {
      ranker.RankUsers(block, options_, &lists);
    }
    for (size_t k = 0; k < block.size(); ++k) {
      const std::string_view key = keys.Name(block[k]);
      for (size_t r = 0; r < lists[k].size(); ++r) {
        score.clear();
        ENCORE_RETURN_IF_ERROR(rank::AppendScore(lists[k][r].score, &score));
        rank = std::to_string(r + 1);
        const std::string_view cells[4] = {key, model_.items.Name(lists[k][r].item), score, rank};
        ENCORE_RETURN_IF_ERROR(row(cells));
      }
    }
  }
  return Status::OK();
}

std::vector<uint32_t> ResolveIds(const IdDictionary& dict, const std::vector<std::string>& ids,
                                 uint64_t* unknown, std::vector<std::string>* first_unknown) {
  std::vector<uint32_t> out;
  for (const auto& id : ids) {
    if (auto idx = dict.Find(id)) {
      out.push_back(*idx);
    } else {
      ++*unknown;
      if (first_unknown->size() < 10) first_unknown->push_back(id);
    }
  }
  return out;
}

}  // namespace encore::pipeline
