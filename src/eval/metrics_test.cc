// Every metric against values computed by hand (the arithmetic is in the
// comments), metric-list parsing, and EvaluateFitted on a fake model.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "encore/evaluate.h"
#include "eval/eval_test_data.h"

namespace encore {
namespace {

using testing::MakeDataset;
using testing::Row;

// ------------------------------------------------------------ parsing

TEST(MetricParse, NamesKsAndDefaults) {
  auto m = ParseMetrics("rmse, MAE ,precision@10,recall,map@5,ndcg@20,hit,coverage", 7);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::vector<std::string> names;
  for (const Metric& x : *m) names.push_back(x.Name());
  // recall and hit take default_k = 7; coverage the largest other k (20).
  EXPECT_EQ(names, (std::vector<std::string>{"rmse", "mae", "precision@10", "recall@7", "map@5",
                                             "ndcg@20", "hit@7", "coverage@20"}));
  EXPECT_FALSE((*m)[0].HigherIsBetter());
  EXPECT_TRUE((*m)[2].HigherIsBetter());
}

TEST(MetricParse, CoverageAloneUsesDefaultKAndDuplicatesGo) {
  auto m = ParseMetrics("coverage,hitrate@3,hit_rate@3,hit@3", 12);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].Name(), "coverage@3");  // the largest other k
  EXPECT_EQ((*m)[1].Name(), "hit@3");
  auto alone = ParseMetrics("coverage", 12);
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ((*alone)[0].Name(), "coverage@12");
}

TEST(MetricParse, ErrorsNameTheBadPiece) {
  for (const char* bad : {"rmse,,mae", "accuracy", "rmse@5", "precision@0", "ndcg@x", "", "map@"}) {
    auto m = ParseMetrics(bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_NE(ParseMetrics("accuracy").status().message().find("'accuracy'"), std::string::npos);
}

// ---------------------------------------------------- ranking, per user

// recommended = [5, 1, 7, 3], relevant = {1, 3, 9}: hits at ranks 2 and 4.
const std::vector<uint32_t> kRec = {5, 1, 7, 3};
const std::vector<uint32_t> kRel = {1, 3, 9};

TEST(MetricRanking, PrecisionDividesByK) {
  EXPECT_DOUBLE_EQ(PrecisionAtK(kRec, kRel, 4), 2.0 / 4);
  EXPECT_DOUBLE_EQ(PrecisionAtK(kRec, kRel, 2), 1.0 / 2);
  EXPECT_DOUBLE_EQ(PrecisionAtK(kRec, kRel, 1), 0.0);
  // A list shorter than k still divides by k (Spark's precisionAt): 2 / 10.
  EXPECT_DOUBLE_EQ(PrecisionAtK(kRec, kRel, 10), 0.2);
}

TEST(MetricRanking, RecallDividesByRelevant) {
  EXPECT_DOUBLE_EQ(RecallAtK(kRec, kRel, 4), 2.0 / 3);
  EXPECT_DOUBLE_EQ(RecallAtK(kRec, kRel, 3), 1.0 / 3);
}

TEST(MetricRanking, AveragePrecisionDividesByMinOfKAndRelevant) {
  // k=4: (P@2 + P@4) / min(4, 3) = (1/2 + 2/4) / 3 = 1/3.
  EXPECT_DOUBLE_EQ(AveragePrecisionAtK(kRec, kRel, 4), 1.0 / 3);
  // k=2: P@2 / min(2, 3) = (1/2) / 2 = 1/4.
  EXPECT_DOUBLE_EQ(AveragePrecisionAtK(kRec, kRel, 2), 0.25);
  // A perfect list scores 1: [1, 3] with relevant {1, 3}: (1 + 1) / 2.
  EXPECT_DOUBLE_EQ(AveragePrecisionAtK(std::vector<uint32_t>{1, 3}, std::vector<uint32_t>{1, 3}, 5),
                   1.0);
}

TEST(MetricRanking, NdcgUsesLog2DiscountAndIdealOverMinKRelevant) {
  // DCG@4 = 1/log2(3) + 1/log2(5); IDCG@4 = 1/log2(2) + 1/log2(3) + 1/log2(4).
  const double dcg = 1 / std::log2(3.0) + 1 / std::log2(5.0);
  const double idcg = 1 + 1 / std::log2(3.0) + 0.5;
  EXPECT_NEAR(NdcgAtK(kRec, kRel, 4), dcg / idcg, 1e-12);
  EXPECT_NEAR(NdcgAtK(kRec, kRel, 4), 0.498190, 1e-6);
  // k=2: DCG = 1/log2(3); IDCG = 1 + 1/log2(3).
  EXPECT_NEAR(NdcgAtK(kRec, kRel, 2), (1 / std::log2(3.0)) / (1 + 1 / std::log2(3.0)), 1e-12);
  // One relevant item at rank 1 of a short list: 1.
  EXPECT_DOUBLE_EQ(NdcgAtK(std::vector<uint32_t>{4}, std::vector<uint32_t>{4}, 10), 1.0);
}

TEST(MetricRanking, HitIsOneWhenAnyRelevantInTopK) {
  EXPECT_DOUBLE_EQ(HitAtK(kRec, kRel, 1), 0.0);
  EXPECT_DOUBLE_EQ(HitAtK(kRec, kRel, 2), 1.0);
  EXPECT_DOUBLE_EQ(HitAtK(std::vector<uint32_t>{}, kRel, 10), 0.0);
}

// ------------------------------------------------- EvaluateFitted

// Ranks items by index (item 0 best), predicts user + item, and cannot
// predict (user 1, item 2).
class FakeModel final : public Recommender {
 public:
  FakeModel() : Recommender(ModelParams{}) {}
  const char* kind() const override { return "fake"; }
  Status Fit(const Dataset& data) override {
    RememberSeen(data);
    return Status::OK();
  }
  void ScoreItems(uint32_t, float* scores) const override {
    for (uint32_t i = 0; i < num_items(); ++i) scores[i] = -static_cast<float>(i);
  }
  Status ScoreFoldIn(std::span<const ItemWeight>, float* scores) const override {
    ScoreItems(0, scores);
    return Status::OK();
  }
  float Predict(uint32_t user, uint32_t item) const override {
    return static_cast<float>(user + item);
  }
  bool CanPredict(uint32_t user, uint32_t item) const override { return !(user == 1 && item == 2); }
  void SaveState(ModelWriter*) const override {}
  Status LoadState(ModelReader*) override { return Status::OK(); }
};

TEST(MetricEval, RmseAndMaeDropPairsTheModelCannotPredict) {
  Dataset train = MakeDataset(2, 3, {{0, 1, 3}, {1, 0, 2}});
  FakeModel model;
  ASSERT_TRUE(model.Fit(train).ok());
  // Test pairs (user, item, value) and the prediction user + item:
  //   (0,0,1) -> 0, error -1;  (0,2,1) -> 2, error +1;  (1,1,4) -> 2, error -2;
  //   (1,2,3) cannot be predicted: dropped.
  // RMSE = sqrt((1 + 1 + 4) / 3) = sqrt(2); MAE = (1 + 1 + 2) / 3 = 4/3.
  Dataset test = MakeDataset(2, 3, {{0, 0, 1}, {0, 2, 1}, {1, 1, 4}, {1, 2, 3}});
  auto metrics = ParseMetrics("rmse,mae");
  ASSERT_TRUE(metrics.ok());
  auto r = EvaluateFitted(model, test.by_user, *metrics);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(r->values[0], std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(r->values[1], 4.0 / 3, 1e-12);
  EXPECT_EQ(r->test_pairs, 4u);
  EXPECT_EQ(r->predicted_pairs, 3u);
  EXPECT_EQ(r->dropped_pairs, 1u);
  EXPECT_EQ(r->users_evaluated, 0u);  // no ranking metric asked for
}

class MetricEvalRanking : public ::testing::Test {
 protected:
  // 3 users, 5 items. Train: u0 {0}, u1 {1}, u2 {0, 1}. The fake ranks by
  // item index, skipping training items: u0 gets [1, 2, 3, 4], u1 [0, 2, 3, 4].
  // Test: u0 {1 (value 5), 3 (value 2)}, u1 {4 (value 4)}, u2 nothing.
  void SetUp() override {
    train_ = MakeDataset(3, 5, {{0, 0}, {1, 1}, {2, 0}, {2, 1}});
    test_ = MakeDataset(3, 5, {{0, 1, 5}, {0, 3, 2}, {1, 4, 4}});
    ASSERT_TRUE(model_.Fit(train_).ok());
  }
  Dataset train_, test_;
  FakeModel model_;
};

TEST_F(MetricEvalRanking, AveragesOverUsersWithARelevantItem) {
  auto metrics = ParseMetrics("precision@2,recall@2,map@2,ndcg@2,hit@2,coverage@2");
  ASSERT_TRUE(metrics.ok());
  auto r = EvaluateFitted(model_, test_.by_user, *metrics);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // u0, top 2 = [1, 2], relevant {1, 3}: P = 1/2, R = 1/2, AP = (1/1) / 2 = 1/2,
  //   NDCG = 1 / (1 + 1/log2 3), hit 1.
  // u1, top 2 = [0, 2], relevant {4}: all 0. u2 has no test item: not counted.
  EXPECT_EQ(r->users_evaluated, 2u);
  EXPECT_DOUBLE_EQ(r->values[0], 0.25);
  EXPECT_DOUBLE_EQ(r->values[1], 0.25);
  EXPECT_DOUBLE_EQ(r->values[2], 0.25);
  EXPECT_NEAR(r->values[3], 0.5 / (1 + 1 / std::log2(3.0)), 1e-12);
  EXPECT_DOUBLE_EQ(r->values[4], 0.5);
  // Coverage: items {1, 2} and {0, 2} recommended: 3 distinct of 5 items.
  EXPECT_DOUBLE_EQ(r->values[5], 0.6);
  EXPECT_DOUBLE_EQ(r->Value(Metric{MetricKind::kCoverage, 2}), 0.6);
  EXPECT_TRUE(std::isnan(r->Value(Metric{MetricKind::kCoverage, 3})));
}

TEST_F(MetricEvalRanking, RelevanceThresholdKeepsHighValuesOnly) {
  auto metrics = ParseMetrics("precision@2,recall@2,map@2,ndcg@2,hit@2");
  ASSERT_TRUE(metrics.ok());
  EvalOptions o;
  o.relevance_threshold = 4;
  auto r = EvaluateFitted(model_, test_.by_user, *metrics, o);
  ASSERT_TRUE(r.ok());
  // u0 relevant {1} (item 3 has value 2 < 4): P = 1/2, R = 1, AP = 1/min(2,1) = 1,
  //   NDCG = 1, hit 1. u1 relevant {4}: all 0.
  EXPECT_EQ(r->users_evaluated, 2u);
  EXPECT_DOUBLE_EQ(r->values[0], 0.25);
  EXPECT_DOUBLE_EQ(r->values[1], 0.5);
  EXPECT_DOUBLE_EQ(r->values[2], 0.5);
  EXPECT_DOUBLE_EQ(r->values[3], 0.5);
  EXPECT_DOUBLE_EQ(r->values[4], 0.5);
  // A threshold nobody reaches: no user, NaN values.
  o.relevance_threshold = 10;
  auto none = EvaluateFitted(model_, test_.by_user, *metrics, o);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->users_evaluated, 0u);
  EXPECT_TRUE(std::isnan(none->values[0]));
}

TEST_F(MetricEvalRanking, ShapeMismatchAndNoMetricsAreErrors) {
  Dataset other = MakeDataset(4, 5, {{3, 1}});
  auto metrics = ParseMetrics("precision@2");
  EXPECT_EQ(EvaluateFitted(model_, other.by_user, *metrics).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(EvaluateFitted(model_, test_.by_user, {}).ok());
}

}  // namespace
}  // namespace encore
