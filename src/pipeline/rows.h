// RecommendationRows: a model's top-N lists as a RowSource, computed in
// blocks of users or items through the ranker (encore/rank.h) while the rows
// are consumed, so memory stays bounded by one block however many users.
// Each ForEach computes the lists again; an output reading the rows twice
// gets the same rows (models are deterministic).
//
//   users    user,item,score,rank
//   similar  item,similar_item,score,rank
//
// Scores print in shortest round-trip form by the one encoder
// (rank/encode.h), as `encore recommend` writes them; ranks are 1-based.
//
// Thread-safety: ForEach may be called from one thread at a time; it uses
// the model's own threads. The model must outlive the rows.
#ifndef ENCORE_PIPELINE_ROWS_H_
#define ENCORE_PIPELINE_ROWS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "encore/rank.h"
#include "pipeline/config.h"
#include "pipeline/output.h"

namespace encore::pipeline {

class RecommendationRows final : public RowSource {
 public:
  // `ids`: the users (similar: items) to list, as indices; nullopt = all.
  RecommendationRows(const TrainedModel& model, RecommendKind kind,
                     std::optional<std::vector<uint32_t>> ids, const QueryOptions& options);

  const std::vector<std::string>& columns() const override { return columns_; }
  Status ForEach(
      const std::function<Status(std::span<const std::string_view>)>& row) const override;

  // Ids per block (tests use small blocks to cover block boundaries).
  void set_block_size(size_t n) { block_ = n; }

 private:
  const TrainedModel& model_;
  RecommendKind kind_;
  std::optional<std::vector<uint32_t>> ids_;
  QueryOptions options_;
  std::vector<std::string> columns_;
  size_t block_ = 2048;
};

// Indices of `ids` in `dict`; unknown ids are counted in *unknown and the
// first few kept in *first_unknown.
std::vector<uint32_t> ResolveIds(const IdDictionary& dict, const std::vector<std::string>& ids,
                                 uint64_t* unknown, std::vector<std::string>* first_unknown);

}  // namespace encore::pipeline

#endif  // ENCORE_PIPELINE_ROWS_H_
