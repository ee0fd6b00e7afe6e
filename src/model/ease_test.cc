// ease: the closed form, the memory check, cold items and users.

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>

#include "encore/rank.h"
#include "encore/recommender.h"
#include "test_data.h"

namespace encore {
namespace {

using testing::MakeTestDataset;
using testing::TestDataOptions;

std::unique_ptr<Recommender> FitEase(const Dataset& data, float l2, uint64_t limit_mb = 8192) {
  ModelParams p;
  p.l2 = l2;
  p.memory_limit_mb = limit_mb;
  p.threads = 1;
  auto m = CreateRecommender("ease", p);
  EXPECT_TRUE(m.ok());
  Status s = (*m)->Fit(data);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::move(m).value();
}

// B read back through the model: for a visitor holding only item i, the
// fold-in score of j is B_ij.
Eigen::MatrixXd WeightsOf(const Recommender& m, uint32_t items) {
  Eigen::MatrixXd b = Eigen::MatrixXd::Zero(items, items);
  std::vector<float> scores(m.num_items());
  for (uint32_t i = 0; i < items; ++i) {
    const ItemWeight held[1] = {{i, 1.0f}};
    EXPECT_TRUE(m.ScoreFoldIn(held, scores.data()).ok());
    for (uint32_t j = 0; j < items; ++j) b(i, j) = scores[j];
  }
  return b;
}

TEST(Ease, MatchesTheClosedForm) {
  TestDataOptions o;
  o.empty_items = 0;
  Dataset data = MakeTestDataset(o);
  const uint32_t n = data.by_user.cols;
  const float l2 = 7.5f;
  auto model = FitEase(data, l2);
  // Reference in double: G = X^T X (binary), P = (G + l2 I)^-1.
  Eigen::MatrixXd x = Eigen::MatrixXd::Zero(data.by_user.rows, n);
  for (uint32_t u = 0; u < data.by_user.rows; ++u) {
    for (uint64_t e = data.by_user.indptr[u]; e < data.by_user.indptr[u + 1]; ++e) {
      x(u, data.by_user.indices[e]) = 1.0;
    }
  }
  Eigen::MatrixXd g = x.transpose() * x;
  g.diagonal().array() += l2;
  const Eigen::MatrixXd p = g.inverse();
  Eigen::MatrixXd expected = Eigen::MatrixXd::Zero(n, n);
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t j = 0; j < n; ++j) expected(i, j) = i == j ? 0.0 : -p(i, j) / p(j, j);
  }
  const Eigen::MatrixXd b = WeightsOf(*model, n);
  EXPECT_LT((b - expected).cwiseAbs().maxCoeff(), 2e-5);  // float
  EXPECT_EQ(b.diagonal().cwiseAbs().maxCoeff(), 0.0) << "diag(B) = 0";
  // A user's score is the sum of the rows of the items held.
  std::vector<float> scores(n);
  model->ScoreItems(3, scores.data());
  for (uint32_t j = 0; j < n; ++j) {
    double s = 0;
    for (uint64_t e = data.by_user.indptr[3]; e < data.by_user.indptr[4]; ++e) {
      s += expected(data.by_user.indices[e], j);
    }
    EXPECT_NEAR(scores[j], s, 1e-4);
    EXPECT_EQ(model->Predict(3, j), scores[j]);
  }
}

TEST(Ease, RefusesCatalogsAboveTheMemoryLimit) {
  TestDataOptions o;
  o.items = 600;
  o.users = 300;
  Dataset data = MakeTestDataset(o);
  ModelParams p;
  p.memory_limit_mb = 1;
  auto m = CreateRecommender("ease", p);
  ASSERT_TRUE(m.ok());
  Status s = (*m)->Fit(data);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("items (with at least min_item_users=1 training users) need"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("memory_limit_mb=1"), std::string::npos) << s.message();
  // The same data fits under a limit that holds 2 x n^2 floats.
  auto ok = FitEase(data, 10.0f, 64);
  EXPECT_EQ(ok->num_items(), data.by_user.cols);
}

TEST(Ease, ColdItemsAreNeverRecommendedAndColdUsersFollowColdStart) {
  Dataset data = MakeTestDataset();  // one empty user and one empty item, last
  auto model = FitEase(data, 10.0f);
  const uint32_t cold_item = model->num_items() - 1, cold_user = model->num_users() - 1;
  std::vector<float> scores(model->num_items());
  model->ScoreItems(0, scores.data());
  EXPECT_TRUE(std::isinf(scores[cold_item]) && scores[cold_item] < 0);
  EXPECT_FALSE(model->CanPredict(0, cold_item));
  EXPECT_EQ(model->Predict(0, cold_item), 0.0f);
  QueryOptions q;
  q.n = 5;
  EXPECT_TRUE(Recommend(*model, cold_user, q).empty()) << "cold_start=drop";
  ModelParams p;
  p.cold_start = ColdStart::kPopular;
  auto popular = CreateRecommender("ease", p);
  ASSERT_TRUE((*popular)->Fit(data).ok());
  auto recs = Recommend(**popular, cold_user, q);
  ASSERT_EQ(recs.size(), 5u);
  EXPECT_EQ(recs[0].score, static_cast<float>(data.by_item.RowLength(recs[0].item)));
}

TEST(Ease, MinItemUsersLeavesRareItemsOut) {
  Dataset data = MakeTestDataset();
  ModelParams p;
  p.min_item_users = 8;
  auto m = CreateRecommender("ease", p);
  ASSERT_TRUE((*m)->Fit(data).ok());
  std::vector<float> scores((*m)->num_items());
  (*m)->ScoreItems(0, scores.data());
  uint32_t rare = 0;
  for (uint32_t i = 0; i < data.by_item.rows; ++i) {
    const bool left_out = data.by_item.RowLength(i) < 8;
    rare += left_out;
    EXPECT_EQ(std::isinf(scores[i]), left_out) << i;
  }
  EXPECT_GT(rare, 0u);
}

TEST(Ease, LargerPenaltyShrinksTheWeights) {
  Dataset data = MakeTestDataset();
  const uint32_t n = data.by_user.cols - 1;
  const double small = WeightsOf(*FitEase(data, 1.0f), n).norm();
  const double large = WeightsOf(*FitEase(data, 1000.0f), n).norm();
  EXPECT_LT(large, small / 10);
}

}  // namespace
}  // namespace encore
