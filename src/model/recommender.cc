// The parts of Recommender every model shares: top-N selection with filters,
// the dense default batch path, fold-in recommendations and the registry.

#include "encore/recommender.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "model/models.h"
#include "model/topn.h"

namespace encore {

float Recommender::Predict(uint32_t user, uint32_t item) const {
  std::vector<float> scores(num_items());
  ScoreItems(user, scores.data());
  return scores[item];
}

void Recommender::RecommendBatch(std::span<const uint32_t> users, const QueryOptions& options,
                                 std::vector<std::vector<ScoredItem>>* out) const {
  out->assign(users.size(), {});
  const int threads = params_.threads > 0 ? params_.threads : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> scores(num_items());
#pragma omp for schedule(dynamic, 16)
    for (size_t k = 0; k < users.size(); ++k) {
      const uint32_t u = users[k];
      if (u >= num_users()) continue;
      ScoreItems(u, scores.data());
      const uint32_t* row = seen_.indices.data();
      (*out)[k] = model::SelectTopN(scores.data(), num_items(), row + seen_.indptr[u],
                                    row + seen_.indptr[u + 1], options, tie_ranks());
    }
  }
}

std::vector<ScoredItem> Recommender::Recommend(uint32_t user, const QueryOptions& options) const {
  std::vector<std::vector<ScoredItem>> out;
  const uint32_t users[1] = {user};
  RecommendBatch(users, options, &out);
  return std::move(out[0]);
}

Result<std::vector<ScoredItem>> Recommender::RecommendFoldIn(std::span<const ItemWeight> items,
                                                             const QueryOptions& options) const {
  std::vector<float> scores(num_items());
  ENCORE_RETURN_IF_ERROR(ScoreFoldIn(items, scores.data()));
  std::vector<uint32_t> seen;
  for (const ItemWeight& iw : items) seen.push_back(iw.item);
  std::sort(seen.begin(), seen.end());
  return model::SelectTopN(scores.data(), num_items(), seen.data(), seen.data() + seen.size(),
                           options, tie_ranks());
}

Status Recommender::SimilarItems(uint32_t item, uint32_t n, std::vector<ScoredItem>* out) const {
  return Status::FailedPrecondition(std::string("model '") + kind() +
                                    "' has no notion of item similarity");
}

void Recommender::RememberSeen(const Dataset& data) { seen_ = data.by_user; }

namespace {

struct Registration {
  const char* name;
  std::unique_ptr<Recommender> (*create)(const ModelParams&);
};

// Sorted by name.
const Registration kModels[] = {
    {"als", model::NewAls},
    {"cooccurrence", model::NewCooccurrence},
    {"ease", model::NewEase},
    {"ials", model::NewIals},
    {"popularity", model::NewPopularity},
};

}  // namespace

Result<std::unique_ptr<Recommender>> CreateRecommender(const std::string& kind,
                                                       const ModelParams& params) {
  ENCORE_RETURN_IF_ERROR(params.Validate());
  for (const auto& r : kModels) {
    if (kind == r.name) return r.create(params);
  }
  std::string known;
  for (const auto& r : kModels) known += std::string(known.empty() ? "" : ", ") + r.name;
  return Status::InvalidArgument("unknown model '" + kind + "'; known models: " + known);
}

std::vector<std::string> RecommenderKinds() {
  std::vector<std::string> out;
  for (const auto& r : kModels) out.emplace_back(r.name);
  return out;
}

}  // namespace encore
