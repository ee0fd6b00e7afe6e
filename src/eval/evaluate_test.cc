// Evaluate end to end, cross-validation, grid parsing, enumeration and best
// selection, the bias baseline, and the printed forms.

#include "encore/evaluate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "eval/eval_test_data.h"
#include "test_data.h"

namespace encore {
namespace {

using testing::MakeDataset;
using testing::MakeTestDataset;
using testing::TestDataOptions;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<Metric> Metrics(const std::string& list) {
  auto m = ParseMetrics(list);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

TEST(EvalEndToEnd, PopularityOnClusteredData) {
  const Dataset data = MakeTestDataset();
  auto split = HoldoutSplit(data, SplitOptions{});
  ASSERT_TRUE(split.ok());
  TrainTest tt = MakeTrainTest(data, *split, 0);
  const auto metrics = Metrics("precision@5,recall@5,map@5,ndcg@5,hit@5,coverage@5");
  ModelParams params;
  params.threads = 1;
  auto r = Evaluate("popularity", params, tt.train, tt.test, metrics);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(r->users_evaluated, 0u);
  EXPECT_LE(r->users_evaluated, 60u);
  EXPECT_EQ(r->test_pairs, tt.test.nnz());
  for (size_t j = 0; j < metrics.size(); ++j) {
    EXPECT_GE(r->values[j], 0) << metrics[j].Name();
    EXPECT_LE(r->values[j], 1) << metrics[j].Name();
  }
  EXPECT_GT(r->Value(metrics[4]), 0);  // popular items hit somebody
  // Popularity recommends nearly the same 5 items to everyone: low coverage.
  EXPECT_LE(r->Value(metrics[5]), 15.0 / 41);
  // The thread count never changes a value.
  EvalOptions many;
  many.threads = 2;
  params.threads = 2;
  auto again = Evaluate("popularity", params, tt.train, tt.test, metrics, many);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->values, r->values);
  EXPECT_FALSE(Evaluate("nosuchmodel", params, tt.train, tt.test, metrics).ok());
}

TEST(EvalCrossValidate, FoldsMeanAndStd) {
  const Dataset data = MakeTestDataset();
  FoldOptions fo;
  fo.folds = 3;
  auto folds = KFoldSplit(data, fo);
  ASSERT_TRUE(folds.ok());
  const auto metrics = Metrics("precision@10,ndcg@10");
  auto cv = CrossValidate("popularity", ModelParams{}, data, *folds, metrics);
  ASSERT_TRUE(cv.ok()) << cv.status().ToString();
  ASSERT_EQ(cv->folds.size(), 3u);
  uint64_t test_pairs = 0;
  for (const EvalReport& f : cv->folds) test_pairs += f.test_pairs;
  EXPECT_EQ(test_pairs, data.nnz());  // every nonzero is tested exactly once
  for (size_t j = 0; j < metrics.size(); ++j) {
    double sum = 0;
    for (const EvalReport& f : cv->folds) sum += f.values[j];
    const double mean = sum / 3;
    double sq = 0;
    for (const EvalReport& f : cv->folds) sq += (f.values[j] - mean) * (f.values[j] - mean);
    EXPECT_NEAR(cv->mean[j], mean, 1e-12);
    EXPECT_NEAR(cv->stddev[j], std::sqrt(sq / 2), 1e-12);  // sample std, n - 1
  }
}

TEST(EvalCrossValidate, SummarizeSkipsNaNFolds) {
  CvReport cv;
  cv.metrics = Metrics("rmse");
  for (double v : {1.0, kNaN, 3.0}) {
    EvalReport r;
    r.metrics = cv.metrics;
    r.values = {v};
    cv.folds.push_back(r);
  }
  Summarize(&cv);
  EXPECT_DOUBLE_EQ(cv.mean[0], 2.0);
  EXPECT_DOUBLE_EQ(cv.stddev[0], std::sqrt(2.0));  // ((1-2)^2 + (3-2)^2) / (2 - 1)
  cv.folds.resize(1);
  Summarize(&cv);
  EXPECT_DOUBLE_EQ(cv.stddev[0], 0.0);
}

TEST(EvalCrossValidate, RejectsAMismatchedAssignment) {
  const Dataset data = MakeTestDataset();
  FoldAssignment wrong;
  wrong.folds = 2;
  wrong.fold.assign(3, 0);
  EXPECT_FALSE(CrossValidate("popularity", {}, data, wrong, Metrics("hit@5")).ok());
}

TEST(GridParse, AxesNamesAndValues) {
  auto g = ParseGrid(" factors = 10, 50 ,100; reg=0.01,0.1 ;cg-steps=2");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_EQ(g->size(), 3u);
  EXPECT_EQ((*g)[0].name, "factors");
  EXPECT_EQ((*g)[0].values, (std::vector<std::string>{"10", "50", "100"}));
  EXPECT_EQ((*g)[1].values, (std::vector<std::string>{"0.01", "0.1"}));
  EXPECT_EQ((*g)[2].name, "cg_steps");
  EXPECT_TRUE(ParseGrid("")->empty());
}

TEST(GridParse, ErrorsAreClear) {
  struct Case {
    const char* spec;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{{"rank=10", "unknown parameter 'rank'"},
                                         {"factors=ten", "'ten'"},
                                         {"factors=10;factors=20", "given twice"},
                                         {"factors=10,,20", "empty value"},
                                         {"factors", "has no '='"},
                                         {"factors=10;;reg=1", "empty entry"},
                                         {"solver=lu", "cg or cholesky"}}) {
    auto g = ParseGrid(c.spec);
    ASSERT_FALSE(g.ok()) << c.spec;
    EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(g.status().message().find(c.says), std::string::npos)
        << c.spec << ": " << g.status().message();
  }
}

TEST(GridEnumerate, OdometerOrderLastAxisFastest) {
  auto g = ParseGrid("factors=10,50;reg=0.01,0.05,0.1");
  ASSERT_TRUE(g.ok());
  const std::vector<GridSetting> points = EnumerateGrid(*g);
  const std::vector<GridSetting> expected = {
      {{"factors", "10"}, {"reg", "0.01"}}, {{"factors", "10"}, {"reg", "0.05"}},
      {{"factors", "10"}, {"reg", "0.1"}},  {{"factors", "50"}, {"reg", "0.01"}},
      {{"factors", "50"}, {"reg", "0.05"}}, {{"factors", "50"}, {"reg", "0.1"}}};
  EXPECT_EQ(points, expected);
  ASSERT_EQ(EnumerateGrid({}).size(), 1u);
  EXPECT_TRUE(EnumerateGrid({})[0].empty());
  auto p = ApplySetting(ModelParams{}, points[5]);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->factors, 50u);
  EXPECT_FLOAT_EQ(p->reg, 0.1f);
}

CvReport WithMean(const Metric& m, double mean) {
  CvReport r;
  r.metrics = {m};
  r.mean = {mean};
  r.stddev = {0};
  return r;
}

TEST(GridSelect, MinimiseErrorsMaximiseTheRest) {
  const Metric rmse{MetricKind::kRmse, 0}, ndcg{MetricKind::kNdcg, 10};
  std::vector<CvReport> r = {WithMean(rmse, 0.9), WithMean(rmse, 0.8), WithMean(rmse, 0.85)};
  EXPECT_EQ(SelectBest(r, rmse), 1u);
  r = {WithMean(ndcg, 0.2), WithMean(ndcg, 0.3), WithMean(ndcg, 0.3)};
  EXPECT_EQ(SelectBest(r, ndcg), 1u);  // ties: the first
  r = {WithMean(ndcg, kNaN), WithMean(ndcg, 0.1), WithMean(ndcg, kNaN)};
  EXPECT_EQ(SelectBest(r, ndcg), 1u);  // NaN loses
}

TEST(GridSearchTest, CrossValidatesEveryPointAndPicksTheBest) {
  const Dataset data = MakeTestDataset({.explicit_ratings = true});
  FoldOptions fo;
  fo.folds = 2;
  auto folds = KFoldSplit(data, fo);
  ASSERT_TRUE(folds.ok());
  auto grid = ParseGrid("factors=4,8;threads=1,2");
  ASSERT_TRUE(grid.ok());
  const Metric hit{MetricKind::kHitRate, 5};
  auto g =
      GridSearch("popularity", ModelParams{}, *grid, data, *folds, Metrics("precision@5"), hit, {});
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_EQ(g->points.size(), 4u);
  EXPECT_EQ(g->points[1].setting, (GridSetting{{"factors", "4"}, {"threads", "2"}}));
  EXPECT_EQ(g->points[2].params.factors, 8u);
  // select_by was added to the metrics; popularity ignores these parameters,
  // so every point ties and the first wins.
  for (const GridPoint& p : g->points) {
    ASSERT_EQ(p.result.metrics.size(), 2u);
    EXPECT_EQ(p.result.folds.size(), 2u);
    EXPECT_EQ(p.result.mean, g->points[0].result.mean);
  }
  EXPECT_EQ(g->best, 0u);
  EXPECT_EQ(g->select_by, hit);
}

TEST(GridSearchTest, InvalidPointsFailBeforeTraining) {
  const Dataset data = MakeTestDataset();
  auto folds = HoldoutSplit(data, SplitOptions{});
  auto grid = ParseGrid("factors=8,0");
  ASSERT_TRUE(grid.ok());  // 0 parses; ModelParams::Validate rejects it
  auto g = GridSearch("popularity", ModelParams{}, *grid, data, *folds, Metrics("hit@5"),
                      Metric{MetricKind::kHitRate, 5}, {});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("factors=0"), std::string::npos) << g.status().message();
}

TEST(EvalBaseline, HandComputedBiases) {
  // Ratings: u0: i0=5, i1=3; u1: i0=4. mu = 4. One pass, reg_user = reg_item = 1:
  //   b_i0 = ((5-4) + (4-4)) / (1 + 2) = 1/3;  b_i1 = (3-4) / (1 + 1) = -1/2;
  //   b_u0 = ((5-4-1/3) + (3-4+1/2)) / (1 + 2) = 1/18;  b_u1 = (4-4-1/3) / (1 + 1) = -1/6.
  const Dataset data = MakeDataset(2, 3, {{0, 0, 5}, {0, 1, 3}, {1, 0, 4}});
  auto model = NewBiasBaseline(ModelParams{}, BaselineOptions{1, 1, 1});
  ASSERT_TRUE(model->Fit(data).ok());
  EXPECT_NEAR(model->Predict(0, 0), 4 + 1.0 / 18 + 1.0 / 3, 1e-6);
  EXPECT_NEAR(model->Predict(1, 1), 4 - 1.0 / 6 - 0.5, 1e-6);
  EXPECT_NEAR(model->Predict(1, 2), 4 - 1.0 / 6, 1e-6);  // item 2 unseen: bias 0
  EXPECT_TRUE(model->CanPredict(1, 2));
  std::vector<float> scores(3);
  model->ScoreItems(0, scores.data());
  EXPECT_FLOAT_EQ(scores[1], model->Predict(0, 1));
  EXPECT_STREQ(model->kind(), kBaselineKind);
}

TEST(EvalBaseline, BeatsPopularityOnRatingsAndIsCreatableByKind) {
  const Dataset data = MakeTestDataset({.users = 200, .explicit_ratings = true});
  auto split = HoldoutSplit(data, SplitOptions{});
  ASSERT_TRUE(split.ok());
  const auto metrics = Metrics("rmse,mae");
  auto cv_base = CrossValidate(kBaselineKind, ModelParams{}, data, *split, metrics);
  auto cv_pop = CrossValidate("popularity", ModelParams{}, data, *split, metrics);
  ASSERT_TRUE(cv_base.ok() && cv_pop.ok());
  EXPECT_LT(cv_base->mean[0], 1.5);  // ratings are 1..5
  EXPECT_LT(cv_base->mean[0], cv_pop->mean[0]);
  EXPECT_EQ(cv_base->folds[0].dropped_pairs, 0u);
  auto unknown = CreateEvalModel("nosuch", ModelParams{});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("baseline"), std::string::npos);
}

TEST(EvalFormat, JsonAndTableCarryEveryMetric) {
  const Dataset data = MakeTestDataset({.explicit_ratings = true});
  FoldOptions fo;
  fo.folds = 2;
  auto folds = KFoldSplit(data, fo);
  ASSERT_TRUE(folds.ok());
  const auto metrics = Metrics("rmse,ndcg@5");
  EvaluationSummary s;
  s.model = "popularity";
  s.protocol = "2-fold";
  auto grid = ParseGrid("factors=4,8");
  auto g = GridSearch("popularity", ModelParams{}, *grid, data, *folds, metrics, metrics[0], {});
  ASSERT_TRUE(g.ok());
  s.result = g->points[g->best].result;
  s.grid = *g;
  auto base = CrossValidate(kBaselineKind, ModelParams{}, data, *folds, metrics);
  ASSERT_TRUE(base.ok());
  s.baseline = *base;
  const std::string json = FormatEvaluationJson(s);
  for (const char* key :
       {"\"model\": \"popularity\"", "\"rmse\":", "\"ndcg@5\":", "\"std\":", "\"folds\": [",
        "\"grid\": [", "\"best\":", "\"select_by\": \"rmse\"", "\"params\": {", "\"factors\": 4",
        "\"baseline\": {", "\"dropped_pairs\":", "\"users_evaluated\":"}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
  }
  const std::string table = FormatEvaluationTable(s);
  for (const char* text : {"rmse", "ndcg@5", "fold 2", "best: factors=4", "baseline mean"}) {
    EXPECT_NE(table.find(text), std::string::npos) << text << " in " << table;
  }
}

}  // namespace
}  // namespace encore
