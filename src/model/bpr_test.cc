// bpr: the bias column, cluster recovery against popularity, the
// negative-sample check, the learning-rate schedule and divergence.

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "encore/rank.h"
#include "encore/recommender.h"
#include "model/factor_model.h"
#include "test_data.h"

namespace encore::model {
namespace {

std::unique_ptr<Recommender> FitBpr(const Dataset& data, const ModelParams& p) {
  auto m = CreateRecommender("bpr", p);
  EXPECT_TRUE(m.ok());
  Status s = (*m)->Fit(data);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::move(m).value();
}

const FactorModel& AsFactors(const std::unique_ptr<Recommender>& m) {
  return dynamic_cast<const FactorModel&>(*m);
}

ModelParams BprParams() {
  ModelParams p;
  p.factors = 9;
  p.iterations = 60;
  p.learning_rate = 0.05f;
  p.reg = 0.01f;
  p.threads = 1;
  return p;
}

// Held-out precision@10: one interaction in four of each user is hidden.
struct Split {
  Dataset train;
  std::vector<std::set<uint32_t>> test;
};

Split HoldOut(const Dataset& full) {
  Split s;
  const CsrMatrix& m = full.by_user;
  CsrMatrix& t = s.train.by_user;
  t.rows = m.rows;
  t.cols = m.cols;
  t.indptr.push_back(0);
  s.test.resize(m.rows);
  for (uint32_t u = 0; u < m.rows; ++u) s.train.users.Intern(full.users.Name(u));
  for (uint32_t i = 0; i < m.cols; ++i) s.train.items.Intern(full.items.Name(i));
  for (uint32_t u = 0; u < m.rows; ++u) {
    for (uint64_t e = m.indptr[u]; e < m.indptr[u + 1]; ++e) {
      if ((e - m.indptr[u]) % 4 == 3) {
        s.test[u].insert(m.indices[e]);
      } else {
        t.indices.push_back(m.indices[e]);
        t.values.push_back(m.values[e]);
      }
    }
    t.indptr.push_back(t.indices.size());
  }
  s.train.by_item = t.Transpose(1);
  return s;
}

double PrecisionAt10(const Recommender& m, const Split& s) {
  QueryOptions q;
  q.n = 10;
  double hits = 0, users = 0;
  for (uint32_t u = 0; u < m.num_users(); ++u) {
    if (s.test[u].empty()) continue;
    for (const auto& r : Recommend(m, u, q)) hits += s.test[u].count(r.item);
    users += 1;
  }
  return hits / (10 * users);
}

TEST(Bpr, ScoreIsADotProductWithTheItemBiasInTheLastColumn) {
  const Dataset data = testing::MakeTestDataset();
  auto m = FitBpr(data, BprParams());
  const FactorModel& f = AsFactors(m);
  const uint32_t k = f.factors();
  for (uint32_t u = 0; u < f.num_users(); ++u) {
    EXPECT_EQ(f.user_factors()[uint64_t{u} * k + k - 1], 1.0f) << "user " << u;
  }
  EXPECT_FALSE(f.has_biases());
  // Popular items get a larger bias than items nobody touched.
  const uint32_t empty_item = data.by_user.cols - 1;
  EXPECT_EQ(f.item_factors()[uint64_t{empty_item} * k + k - 1], 0.0f);
  float max_bias = -1e9f;
  for (uint32_t i = 0; i < f.num_items(); ++i) {
    max_bias = std::max(max_bias, f.item_factors()[uint64_t{i} * k + k - 1]);
  }
  EXPECT_GT(max_bias, 0.0f);
}

TEST(Bpr, RecoversClustersBetterThanPopularity) {
  testing::TestDataOptions t;
  t.users = 200;
  t.items = 100;
  t.clusters = 5;
  t.per_user = 16;
  const Split s = HoldOut(testing::MakeTestDataset(t));
  const double bpr = PrecisionAt10(*FitBpr(s.train, BprParams()), s);
  auto pop = CreateRecommender("popularity", BprParams());
  ASSERT_TRUE((*pop)->Fit(s.train).ok());
  const double popularity = PrecisionAt10(**pop, s);
  EXPECT_GT(bpr, 0.1);
  EXPECT_GT(bpr, 2 * popularity) << "bpr " << bpr << ", popularity " << popularity;
}

TEST(Bpr, OneThreadIsDeterministicAndTheSeedMatters) {
  const Dataset data = testing::MakeTestDataset();
  ModelParams p = BprParams();
  p.iterations = 5;
  auto a = FitBpr(data, p), b = FitBpr(data, p);
  EXPECT_EQ(AsFactors(a).user_factors(), AsFactors(b).user_factors());
  EXPECT_EQ(AsFactors(a).item_factors(), AsFactors(b).item_factors());
  p.seed = 43;
  auto c = FitBpr(data, p);
  EXPECT_NE(AsFactors(a).item_factors(), AsFactors(c).item_factors());
}

// verify_negative_samples skips a sampled negative the user holds, so the
// model never learns "u prefers i over j" for two of u's own items: it
// changes what is learned, and the training AUC (own items above others) is
// high and no worse than without the check.
TEST(Bpr, VerifyNegativeSamplesNeverUsesAHeldItemAsNegative) {
  testing::TestDataOptions t;
  t.users = 30;
  t.items = 20;
  const Dataset base = testing::MakeTestDataset(t);
  ModelParams p = BprParams();
  p.iterations = 30;
  p.verify_negative_samples = true;
  auto verified = FitBpr(base, p);
  p.verify_negative_samples = false;
  auto blind = FitBpr(base, p);
  EXPECT_NE(AsFactors(verified).user_factors(), AsFactors(blind).user_factors());
  auto auc = [&](const Recommender& m) {
    double right = 0, pairs = 0;
    std::vector<float> scores(m.num_items());
    for (uint32_t u = 0; u < m.num_users(); ++u) {
      if (m.seen().RowLength(u) == 0) continue;
      m.ScoreItems(u, scores.data());
      std::set<uint32_t> held(m.seen().indices.begin() + m.seen().indptr[u],
                              m.seen().indices.begin() + m.seen().indptr[u + 1]);
      for (uint32_t i : held) {
        for (uint32_t j = 0; j < m.num_items(); ++j) {
          if (held.count(j) || !std::isfinite(scores[j])) continue;
          right += scores[i] > scores[j];
          pairs += 1;
        }
      }
    }
    return right / pairs;
  };
  EXPECT_GT(auc(*verified), 0.6);
  EXPECT_GE(auc(*verified), auc(*blind) - 0.02);
}

TEST(Bpr, LearningRateScheduleAndDivergence) {
  const Dataset data = testing::MakeTestDataset();
  ModelParams p = BprParams();
  p.lr_decay = 0.0f;
  EXPECT_FALSE(CreateRecommender("bpr", p).ok()) << "lr_decay must be in (0, 1]";
  p.lr_decay = 1.5f;
  EXPECT_FALSE(CreateRecommender("bpr", p).ok());
  p.lr_decay = 0.5f;
  p.iterations = 5;
  auto decayed = FitBpr(data, p);
  p.lr_decay = 1.0f;
  auto constant = FitBpr(data, p);
  EXPECT_NE(AsFactors(decayed).item_factors(), AsFactors(constant).item_factors());
  // A step size far too large diverges: an error naming the fix, not a model.
  p.learning_rate = 1e30f;
  p.reg = 1e10f;
  auto m = CreateRecommender("bpr", p);
  ASSERT_TRUE(m.ok());
  Status s = (*m)->Fit(data);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("learning_rate"), std::string::npos) << s.message();
}

TEST(Bpr, FoldInOfAUsersItemsRanksLikeTheUser) {
  const Dataset data = testing::MakeTestDataset();
  auto m = FitBpr(data, BprParams());
  std::vector<ItemWeight> items;
  for (uint64_t e = data.by_user.indptr[0]; e < data.by_user.indptr[1]; ++e) {
    items.push_back({data.by_user.indices[e], 1.0f});
  }
  QueryOptions q;
  q.n = 5;
  auto visitor = RecommendFoldIn(*m, items, q);
  ASSERT_TRUE(visitor.ok());
  auto user = Recommend(*m, 0, q);
  std::set<uint32_t> a, b;
  for (const auto& r : *visitor) a.insert(r.item);
  for (const auto& r : user) b.insert(r.item);
  size_t common = 0;
  for (uint32_t i : a) common += b.count(i);
  EXPECT_GE(common, 2u) << "the visitor's list shares items with user 0's";
}

}  // namespace
}  // namespace encore::model
