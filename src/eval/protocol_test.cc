// The evaluation protocol (RunEvaluation): one default, both modes.

#include <gtest/gtest.h>

#include <cmath>

#include "encore/evaluate.h"
#include "eval/eval_test_data.h"

namespace encore {
namespace {

using testing::MakeDataset;
using testing::Row;

// 40 users x 12 items in three taste clusters; every user has 6 items.
Dataset Clustered(Feedback feedback) {
  std::vector<Row> rows;
  for (uint32_t u = 0; u < 40; ++u) {
    for (uint32_t k = 0; k < 6; ++k) {
      const uint32_t item = k < 4 ? (u % 3) * 4 + k : (u + k * 5) % 12;
      rows.emplace_back(u, item, static_cast<float>(1 + (u + k) % 5), 1000 + u * 10 + k);
    }
  }
  return MakeDataset(40, 12, rows, feedback);
}

TEST(EvaluationProtocol, OneDefaultForEveryFrontEnd) {
  std::vector<std::string> implicit, explicit_;
  for (const Metric& m : DefaultMetrics(Feedback::kImplicit)) implicit.push_back(m.Name());
  for (const Metric& m : DefaultMetrics(Feedback::kExplicit)) explicit_.push_back(m.Name());
  EXPECT_EQ(implicit, (std::vector<std::string>{"precision@10", "recall@10", "map@10", "ndcg@10",
                                                "hit@10", "coverage@10"}));
  EXPECT_EQ(explicit_, (std::vector<std::string>{"rmse", "mae"}));
  EvaluationProtocol p;
  p.k = 5;
  EXPECT_EQ(ProtocolMetrics(p, Feedback::kImplicit).front().Name(), "precision@5");
  p.metrics = {Metric{MetricKind::kRmse, 0}};
  EXPECT_EQ(ProtocolMetrics(p, Feedback::kImplicit).size(), 1u);
}

TEST(EvaluationProtocol, ValidateNamesTheFlagAndTheKey) {
  EvaluationProtocol p;
  p.folds = 1;
  EXPECT_NE(ValidateProtocol(p).message().find("folds must be 0 (none) or in 2.."),
            std::string::npos);
  p.folds = 3;
  p.split.method = SplitMethod::kTime;
  EXPECT_NE(ValidateProtocol(p).message().find("--folds"), std::string::npos);
  p.test_on_holdout = true;  // folds run on the training part: fine
  EXPECT_TRUE(ValidateProtocol(p).ok());
  p.split.method = SplitMethod::kRandom;
  p.split.leave_k = 2;
  EXPECT_NE(ValidateProtocol(p).message().find("leave_k"), std::string::npos);
}

TEST(EvaluationProtocol, OverAllDataEqualsCrossValidateOnTheSameFolds) {
  const Dataset data = Clustered(Feedback::kImplicit);
  EvaluationProtocol p;
  p.folds = 3;
  p.split.method = SplitMethod::kUser;
  EvalOptions options;
  options.threads = 1;
  ModelParams params;
  params.threads = 1;
  Result<EvaluationRun> run =
      RunEvaluation("popularity", params, data, Feedback::kImplicit, p, options);
  ASSERT_TRUE(run.ok()) << run.status().message();
  FoldOptions fo;
  fo.folds = 3;
  fo.per_user = true;
  Result<FoldAssignment> folds = KFoldSplit(data, fo);
  ASSERT_TRUE(folds.ok());
  Result<CvReport> direct = CrossValidate("popularity", params, data, *folds,
                                          DefaultMetrics(Feedback::kImplicit), options);
  ASSERT_TRUE(direct.ok());
  ASSERT_EQ(run->summary.result.mean.size(), direct->mean.size());
  for (size_t j = 0; j < direct->mean.size(); ++j) {
    EXPECT_EQ(run->summary.result.mean[j], direct->mean[j]) << j;
  }
  EXPECT_NE(run->summary.protocol.find("3-fold cross-validation within each user"),
            std::string::npos)
      << run->summary.protocol;
  EXPECT_FALSE(run->fitted.has_value());
}

TEST(EvaluationProtocol, HoldoutTestChoosesOnTheTrainingPartAndKeepsTheFit) {
  const Dataset data = Clustered(Feedback::kExplicit);
  EvaluationProtocol p;
  p.test_on_holdout = true;
  Result<std::vector<GridAxis>> grid = ParseGrid("factors=2,4");
  ASSERT_TRUE(grid.ok());
  p.grid = *grid;
  p.baseline = true;
  ModelParams params;
  params.threads = 1;
  params.iterations = 3;
  Result<EvaluationRun> run = RunEvaluation("als", params, data, Feedback::kExplicit, p);
  ASSERT_TRUE(run.ok()) << run.status().message();
  ASSERT_TRUE(run->summary.grid.has_value());
  EXPECT_EQ(run->summary.grid->points.size(), 2u);
  EXPECT_EQ(run->chosen.factors, run->summary.grid->points[run->summary.grid->best].params.factors);
  ASSERT_EQ(run->summary.result.folds.size(), 1u);  // one test, on the holdout
  EXPECT_TRUE(std::isfinite(run->summary.result.mean[0]));
  EXPECT_GT(run->summary.result.folds[0].fit_seconds, 0);
  EXPECT_TRUE(run->summary.baseline.has_value());
  // 3 folds by default with a grid, in the description as in plans.
  EXPECT_NE(run->summary.protocol.find("3-fold cross-validation of the training part"),
            std::string::npos)
      << run->summary.protocol;
  ASSERT_TRUE(run->fitted.has_value());
  EXPECT_EQ(run->fitted->model->params().factors, run->chosen.factors);
  EXPECT_EQ(run->fitted->users.size(), data.users.size());
}

// Regression (issue 16): `encore evaluate --model ials --metrics rmse` printed
// an RMSE of 10.9 on plays with no word that it means nothing.
TEST(EvaluationProtocol, RatingMetricsOfAnImplicitModelCarryAWarning) {
  ModelParams params;
  params.threads = 1;
  EvalOptions options;
  options.threads = 1;
  std::vector<std::string> logged;
  options.log = [&](const std::string& line) { logged.push_back(line); };
  EvaluationProtocol p;
  p.metrics = {Metric{MetricKind::kRmse, 0}};
  Result<EvaluationRun> run = RunEvaluation("popularity", params, Clustered(Feedback::kImplicit),
                                            Feedback::kImplicit, p, options);
  ASSERT_TRUE(run.ok()) << run.status().message();
  ASSERT_EQ(run->summary.warnings.size(), 1u);
  EXPECT_NE(run->summary.warnings[0].find("rmse means little here"), std::string::npos);
  EXPECT_NE(FormatEvaluationTable(run->summary).find("warning: rmse means little"),
            std::string::npos);
  EXPECT_NE(FormatEvaluationJson(run->summary).find("\"warnings\""), std::string::npos);
  bool said = false;
  for (const std::string& line : logged) said |= line.rfind("warning: rmse", 0) == 0;
  EXPECT_TRUE(said);

  // Ratings read as ratings, or ranking metrics: no warning.
  EXPECT_EQ(RatingMetricWarning("als", Feedback::kExplicit, p.metrics), "");
  EXPECT_EQ(RatingMetricWarning("ials", Feedback::kImplicit, DefaultMetrics(Feedback::kImplicit)),
            "");
  EXPECT_NE(RatingMetricWarning("als", Feedback::kImplicit, p.metrics), "");
  EXPECT_NE(RatingMetricWarning("ials", Feedback::kExplicit, p.metrics), "");
}

TEST(EvaluationProtocol, UnknownModelFailsBeforeAnySplit) {
  Result<EvaluationRun> run = RunEvaluation("svd", ModelParams{}, Clustered(Feedback::kImplicit),
                                            Feedback::kImplicit, EvaluationProtocol{});
  EXPECT_EQ(run.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace encore
