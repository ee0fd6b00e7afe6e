// The parts of Recommender every model shares: the default scoring paths.
// The base knows no concrete model; the registry (registry.cc) does.

#include "encore/recommender.h"

#include <algorithm>
#include <vector>

namespace encore {

float Recommender::Predict(uint32_t user, uint32_t item) const {
  std::vector<float> scores(num_items());
  ScoreItems(user, scores.data());
  return scores[item];
}

void Recommender::ScoreBatch(std::span<const uint32_t> users, float* out) const {
  for (size_t r = 0; r < users.size(); ++r) ScoreItems(users[r], out + r * uint64_t{num_items()});
}

void Recommender::ScoreBatchSlice(std::span<const uint32_t> users, uint32_t begin, uint32_t end,
                                  float* out, size_t ld) const {
  std::vector<float> row(num_items());
  for (size_t r = 0; r < users.size(); ++r) {
    ScoreItems(users[r], row.data());
    std::copy(row.begin() + begin, row.begin() + end, out + r * ld);
  }
}

void Recommender::ScoreSubset(uint32_t user, std::span<const uint32_t>, float* scores) const {
  ScoreItems(user, scores);
}

Status Recommender::SimilarItems(uint32_t item, uint32_t n, std::vector<ScoredItem>* out) const {
  return Status::FailedPrecondition(std::string("model '") + kind() +
                                    "' has no notion of item similarity");
}

Status Recommender::ScoreFoldInSubset(std::span<const ItemWeight> items, std::span<const uint32_t>,
                                      float* scores) const {
  return ScoreFoldIn(items, scores);
}

Status Recommender::FitWarm(const Dataset&, const Recommender&, std::span<const int64_t>,
                            std::span<const int64_t>, uint32_t) {
  return Status::FailedPrecondition(
      std::string("model '") + kind() +
      "' has no warm-started refit (the live item refresh needs ials)");
}

void Recommender::ItemEmbedding(uint32_t, float*) const {}

bool Recommender::UserEmbedding(uint32_t, float*) const { return false; }

Result<bool> Recommender::FoldInEmbedding(std::span<const ItemWeight>, float*) const {
  return false;
}

Status Recommender::ExplainScore(std::span<const ItemWeight>, uint32_t, Explanation*) const {
  return Status::FailedPrecondition(std::string("model '") + kind() +
                                    "' cannot explain its scores (explanations exist for als, "
                                    "ials, bpr, svdpp, cooccurrence and popularity)");
}

void Recommender::RememberSeen(const Dataset& data) { seen_ = data.by_user; }

}  // namespace encore
