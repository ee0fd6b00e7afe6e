#include "pipeline/rows.h"

#include <omp.h>

#include <algorithm>
#include <charconv>

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
  const int threads =
      model_.model->params().threads > 0 ? model_.model->params().threads : omp_get_max_threads();
  std::vector<uint32_t> block;
  std::vector<std::vector<ScoredItem>> lists;
  char score[32];
  std::string rank;
  for (size_t start = 0; start < total; start += block_) {
    const size_t end = std::min(total, start + block_);
    block.clear();
    for (size_t k = start; k < end; ++k) {
      block.push_back(ids_ ? (*ids_)[k] : static_cast<uint32_t>(k));
    }
    if (similar) {
      lists.assign(block.size(), {});
      std::vector<Status> errors(block.size());
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
      for (size_t k = 0; k < block.size(); ++k) {
        errors[k] = model_.model->SimilarItems(block[k], options_.n, &lists[k]);
      }
      for (const Status& s : errors) ENCORE_RETURN_IF_ERROR(s);
    } else {
      model_.model->RecommendBatch(block, options_, &lists);
    }
    for (size_t k = 0; k < block.size(); ++k) {
      const std::string_view key = keys.Name(block[k]);
      for (size_t r = 0; r < lists[k].size(); ++r) {
        auto [p, ec] = std::to_chars(score, score + sizeof score, lists[k][r].score);
        rank = std::to_string(r + 1);
        const std::string_view cells[4] = {key, model_.items.Name(lists[k][r].item),
                                           std::string_view(score, p - score), rank};
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
