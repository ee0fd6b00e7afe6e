// svdpp (src/model/svdpp.cc): fitting, determinism, fold-in, model files,
// divergence. The shared contract (recommender_contract_test.cc) covers the
// query paths.

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "encore/recommender.h"
#include "model/factor_model.h"

namespace encore::model {
namespace {

// Users in two taste groups: group g rates items of its own half 4-5 and the
// other half 1-2; each user rates about half the items. The last user and
// the last item have no ratings.
Dataset GroupRatings(uint32_t users, uint32_t items, uint64_t seed) {
  std::mt19937_64 rng(seed);
  InteractionLog log;
  for (uint32_t u = 0; u < users; ++u) log.users.Intern("u" + std::to_string(u));
  for (uint32_t i = 0; i < items; ++i) log.items.Intern("i" + std::to_string(i));
  for (uint32_t u = 0; u + 1 < users; ++u) {
    for (uint32_t i = 0; i + 1 < items; ++i) {
      if (rng() % 2) continue;
      const bool liked = (u % 2) == (i < items / 2 ? 0u : 1u);
      log.user.push_back(u);
      log.item.push_back(i);
      log.value.push_back(static_cast<float>(liked ? 4 + rng() % 2 : 1 + rng() % 2));
    }
  }
  DatasetOptions o;
  o.feedback = Feedback::kExplicit;
  o.threads = 1;
  auto data = BuildDataset(std::move(log), o);
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  return std::move(data).value();
}

ModelParams SmallParams() {
  ModelParams p;
  p.factors = 6;
  p.iterations = 30;
  p.reg = 0.02f;
  p.learning_rate = 0.01f;
  p.lr_decay = 0.97f;
  p.init_scale = 0.1f;
  p.threads = 1;
  return p;
}

std::unique_ptr<Recommender> FitSvdpp(const Dataset& data, const ModelParams& p) {
  auto m = CreateRecommender("svdpp", p);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  Status s = (*m)->Fit(data);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::move(m).value();
}

double TrainingRmse(const Recommender& m, const Dataset& data) {
  const CsrMatrix& r = data.by_user;
  double se = 0;
  for (uint32_t u = 0; u < r.rows; ++u) {
    for (uint64_t e = r.indptr[u]; e < r.indptr[u + 1]; ++e) {
      const double d = m.Predict(u, r.indices[e]) - r.values[e];
      se += d * d;
    }
  }
  return std::sqrt(se / static_cast<double>(r.nnz()));
}

TEST(Svdpp, LearnsTheTasteGroupsFarBetterThanTheMean) {
  const Dataset data = GroupRatings(40, 30, 3);
  double mean = 0;
  for (float v : data.by_user.values) mean += v;
  mean /= static_cast<double>(data.nnz());
  double se = 0;
  for (float v : data.by_user.values) se += (v - mean) * (v - mean);
  const double mean_rmse = std::sqrt(se / static_cast<double>(data.nnz()));
  auto m = FitSvdpp(data, SmallParams());
  const double rmse = TrainingRmse(*m, data);
  EXPECT_LT(rmse, 0.6 * mean_rmse) << "mean-only RMSE " << mean_rmse;
  // A liked, unrated item scores above a disliked one.
  EXPECT_GT(m->Predict(0, 1), m->Predict(0, 20));
  EXPECT_GT(m->Predict(1, 20), m->Predict(1, 1));
}

TEST(Svdpp, TheSameFitWhateverTheThreadCount) {
  const Dataset data = GroupRatings(40, 30, 5);
  ModelParams p = SmallParams();
  auto one = FitSvdpp(data, p);
  p.threads = 2;
  auto two = FitSvdpp(data, p);
  const auto& a = dynamic_cast<const FactorModel&>(*one);
  const auto& b = dynamic_cast<const FactorModel&>(*two);
  EXPECT_EQ(a.user_factors(), b.user_factors());
  EXPECT_EQ(a.item_factors(), b.item_factors());
  EXPECT_EQ(a.user_biases(), b.user_biases());
  EXPECT_EQ(a.item_biases(), b.item_biases());
  p.seed = 43;
  auto other = FitSvdpp(data, p);
  EXPECT_NE(dynamic_cast<const FactorModel&>(*other).user_factors(), a.user_factors());
}

TEST(Svdpp, ColdUserFollowsColdStart) {
  const Dataset data = GroupRatings(20, 16, 7);
  const uint32_t cold = 19;
  ASSERT_EQ(data.by_user.RowLength(cold), 0u);
  auto drop = FitSvdpp(data, SmallParams());
  const auto& fm = dynamic_cast<const FactorModel&>(*drop);
  EXPECT_FALSE(drop->CanPredict(cold, 0));
  EXPECT_FLOAT_EQ(drop->Predict(cold, 0), fm.global_mean());
  ModelParams p = SmallParams();
  p.cold_start = ColdStart::kPopular;
  auto popular = FitSvdpp(data, p);
  const auto& pm = dynamic_cast<const FactorModel&>(*popular);
  std::vector<float> scores(popular->num_items());
  popular->ScoreItems(cold, scores.data());
  EXPECT_FLOAT_EQ(scores[3], pm.global_mean() + pm.item_biases()[3]);
}

// Without training (0 epochs) y = 0, so a visitor's factor is 0 and every
// score is mu + b + b_i with the fold-in bias
// b = sum_h (r_h - mu - b_h) / (|H| (1 + reg_user_bias)), b_h = 0.
TEST(Svdpp, FoldInBiasIsTheDampedMeanResidual) {
  const Dataset data = GroupRatings(20, 16, 9);
  ModelParams p = SmallParams();
  p.iterations = 0;
  p.reg_user_bias = 0.5f;
  auto m = FitSvdpp(data, p);
  const float mu = dynamic_cast<const FactorModel&>(*m).global_mean();
  const std::vector<ItemWeight> visitor = {{0, 5.0f}, {1, 4.0f}, {2, 5.0f}};
  std::vector<float> scores(m->num_items());
  ASSERT_TRUE(m->ScoreFoldIn(visitor, scores.data()).ok());
  const double b = ((5.0 - mu) + (4.0 - mu) + (5.0 - mu)) / (3 * 1.5);
  EXPECT_NEAR(scores[5], mu + b, 1e-5);
}

TEST(Svdpp, FoldInUsesWhichItemsWereRated) {
  const Dataset data = GroupRatings(40, 30, 11);
  auto m = FitSvdpp(data, SmallParams());
  // The same ratings on items of the first or the second half: the implicit
  // term alone tells the groups apart.
  const std::vector<ItemWeight> first = {{0, 3.0f}, {2, 3.0f}, {4, 3.0f}};
  const std::vector<ItemWeight> second = {{16, 3.0f}, {18, 3.0f}, {20, 3.0f}};
  std::vector<float> a(m->num_items()), b(m->num_items());
  ASSERT_TRUE(m->ScoreFoldIn(first, a.data()).ok());
  ASSERT_TRUE(m->ScoreFoldIn(second, b.data()).ok());
  EXPECT_GT(a[6] - a[22], b[6] - b[22]);
}

TEST(Svdpp, ModelFileKeepsScoresAndFoldIn) {
  const Dataset data = GroupRatings(30, 20, 13);
  TrainedModel trained;
  trained.model = FitSvdpp(data, SmallParams());
  trained.users = data.users.Clone();
  trained.items = data.items.Clone();
  auto loaded = ParseModel(SerializeModel(trained), "memory");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_STREQ(loaded->model->kind(), "svdpp");
  const uint32_t n = trained.model->num_items();
  std::vector<float> a(n), b(n);
  for (uint32_t u = 0; u < trained.model->num_users(); ++u) {
    trained.model->ScoreItems(u, a.data());
    loaded->model->ScoreItems(u, b.data());
    EXPECT_EQ(a, b) << "user " << u;
  }
  const std::vector<ItemWeight> visitor = {{1, 4.0f}, {7, 2.0f}};
  ASSERT_TRUE(trained.model->ScoreFoldIn(visitor, a.data()).ok());
  ASSERT_TRUE(loaded->model->ScoreFoldIn(visitor, b.data()).ok());
  EXPECT_EQ(a, b);
}

TEST(Svdpp, DivergenceIsAnErrorNamingTheLearningRate) {
  const Dataset data = GroupRatings(30, 20, 17);
  ModelParams p = SmallParams();
  p.learning_rate = 50.0f;
  auto m = CreateRecommender("svdpp", p);
  ASSERT_TRUE(m.ok());
  Status s = (*m)->Fit(data);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("learning_rate"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace encore::model
