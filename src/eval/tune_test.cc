#include "encore/tune.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "test_data.h"

namespace encore {
namespace {

using testing::MakeTestDataset;
using testing::TestDataOptions;

std::string Value(const GridSetting& s, const std::string& name) {
  for (const auto& [n, v] : s) {
    if (n == name) return v;
  }
  return "";
}

TEST(SearchSpace, ParsesChoicesAndRanges) {
  auto s = ParseSearchSpace("factors=16,32; reg = 0.01..1:log ;alpha=0..2;cold-start=drop");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 4u);
  EXPECT_EQ((*s)[0].choices, (std::vector<std::string>{"16", "32"}));
  EXPECT_TRUE((*s)[0].integer);
  EXPECT_TRUE((*s)[1].IsRange());
  EXPECT_TRUE((*s)[1].log_scale);
  EXPECT_DOUBLE_EQ((*s)[1].lo, 0.01);
  EXPECT_FALSE((*s)[2].log_scale);
  EXPECT_EQ((*s)[3].name, "cold_start");
  auto again = ParseSearchSpace(FormatSearchSpace(*s));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(FormatSearchSpace(*again), FormatSearchSpace(*s));
  EXPECT_TRUE(ParseSearchSpace("")->empty());
}

TEST(SearchSpace, RejectsBadAxes) {
  for (const char* bad : {"nosuch=1,2", "factors=a,b", "reg=1..0.1", "reg=0..1:log",
                          "solver=cg..cholesky", "reg=0.1;reg=0.2", "factors", "factors=1,,2"}) {
    EXPECT_FALSE(ParseSearchSpace(bad).ok()) << bad;
  }
}

TEST(SearchSpace, DefaultSpacesParseAndAreDocumented) {
  std::ifstream in(std::string(ENCORE_SOURCE_DIR) + "/docs/TUNING.md");
  std::stringstream doc;
  doc << in.rdbuf();
  for (const std::string& kind : RecommenderKinds()) {
    for (Feedback fb : {Feedback::kImplicit, Feedback::kExplicit}) {
      const std::string spec = DefaultSearchSpace(kind, fb);
      auto s = ParseSearchSpace(spec);
      ASSERT_TRUE(s.ok()) << kind << ": " << s.status().ToString();
      if (!spec.empty()) {
        EXPECT_NE(doc.str().find("`" + spec + "`"), std::string::npos)
            << kind << "'s default space is not in docs/TUNING.md: " << spec;
      }
    }
  }
}

// A fake metric with a planted optimum at factors = 32, reg = 0.316 (rmse:
// lower is better). The data is never looked at.
TuneOptions PlantedOptions(SearchMethod method, const std::string& space) {
  TuneOptions o;
  o.kind = "als";
  o.base.threads = 1;
  o.method = method;
  o.space = ParseSearchSpace(space).value();
  o.select_by = Metric{MetricKind::kRmse, 0};
  o.score_override = [](const ModelParams& p, const Dataset&, const CsrMatrix&) -> Result<double> {
    const double dr = std::log10(p.reg) - std::log10(0.316);
    const double df = (static_cast<double>(p.factors) - 32.0) / 32.0;
    return 1.0 + dr * dr + df * df;
  };
  return o;
}

TEST(Tune, GridFindsThePlantedBest) {
  Dataset data = MakeTestDataset();
  TuneOptions o = PlantedOptions(SearchMethod::kGrid, "factors=8,16,32,64;reg=0.01..10:log");
  o.grid_points = 7;  // 0.01, 0.0316, 0.1, 0.316, 1, 3.16, 10
  auto r = Tune(data, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->trials.size(), 28u);
  const Trial& best = r->trials[r->best];
  EXPECT_EQ(Value(best.setting, "factors"), "32");
  EXPECT_EQ(Value(best.setting, "reg"), "0.316");
  EXPECT_EQ(r->best_params.factors, 32u);
  EXPECT_NEAR(r->best_params.reg, 0.316, 1e-6);
  EXPECT_NE(FormatTuneTable(*r).find("chosen: factors=32 reg=0.316"), std::string::npos);
}

TEST(Tune, RandomSearchGetsCloseToThePlantedBest) {
  Dataset data = MakeTestDataset();
  TuneOptions o = PlantedOptions(SearchMethod::kRandom, "factors=8,16,32,64;reg=0.01..10:log");
  o.trials = 40;
  auto r = Tune(data, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->trials.size(), 40u);
  std::set<GridSetting> distinct;
  for (const Trial& t : r->trials) distinct.insert(t.setting);
  EXPECT_EQ(distinct.size(), 40u) << "candidates are drawn once";
  EXPECT_EQ(r->best_params.factors, 32u);
  EXPECT_GT(r->best_params.reg, 0.15);
  EXPECT_LT(r->best_params.reg, 0.65);
  // Seeded: the same run again gives the same trials.
  auto again = Tune(data, o);
  ASSERT_TRUE(again.ok());
  for (size_t j = 0; j < r->trials.size(); ++j) {
    EXPECT_EQ(again->trials[j].setting, r->trials[j].setting);
  }
}

TEST(Tune, HalvingKeepsTheBestAndSpendsLessOnTheRest) {
  Dataset data = MakeTestDataset();
  TuneOptions o = PlantedOptions(SearchMethod::kHalving, "factors=8,16,32,64;reg=0.01..10:log");
  o.trials = 27;
  o.base.iterations = 9;
  auto r = Tune(data, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // 27 -> 9 -> 3 -> 1 candidates; als is iterative: rungs of 1, 1, 3, 9 iterations.
  std::vector<int> per_rung(4, 0);
  for (const Trial& t : r->trials) {
    ASSERT_LT(t.rung, 4u);
    ++per_rung[t.rung];
    EXPECT_EQ(t.params.iterations, t.rung == 3 ? 9u : t.rung == 2 ? 3u : 1u);
  }
  EXPECT_EQ(per_rung, (std::vector<int>{27, 9, 3, 1}));
  // The metric does not depend on the budget, so the best of all 27
  // candidates must survive every rung.
  double best_rung0 = 1e9;
  GridSetting best_setting;
  for (const Trial& t : r->trials) {
    if (t.rung == 0 && t.Score(o.select_by) < best_rung0) {
      best_rung0 = t.Score(o.select_by);
      best_setting = t.setting;
    }
  }
  EXPECT_EQ(r->trials[r->best].rung, 3u);
  EXPECT_EQ(r->trials[r->best].setting, best_setting);
  EXPECT_EQ(r->best_params.iterations, 9u) << "the chosen parameters carry the full budget";
}

TEST(Tune, HalvingOverFoldsForModelsWithoutIterations) {
  Dataset data = MakeTestDataset();
  TuneOptions o =
      PlantedOptions(SearchMethod::kHalving, "similarity=conditional,jaccard,lift,cosine");
  o.kind = "cooccurrence";
  o.trials = 4;
  o.eta = 2;
  o.folds = 4;
  o.score_override = [](const ModelParams& p, const Dataset&, const CsrMatrix&) -> Result<double> {
    return p.similarity == Similarity::kLift ? 0.5 : 1.0;
  };
  auto r = Tune(data, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->trials.size(), 4u + 2u + 1u);
  EXPECT_EQ(r->trials[0].folds_used, 1u);
  EXPECT_EQ(r->trials[4].folds_used, 2u);
  EXPECT_EQ(r->trials[6].folds_used, 4u);
  EXPECT_EQ(r->best_params.similarity, Similarity::kLift);
}

TEST(Tune, RealModelFindsThePlantedRegularisation) {
  // Low-rank ratings with noise: reg 1e-4 overfits (8 factors, few ratings
  // per user), reg 100 (ALS-WR, scaled by count) shrinks every prediction to
  // about 0; reg 0.1 is clearly best.
  TestDataOptions d;
  d.explicit_ratings = true;
  d.users = 120;
  d.per_user = 12;
  Dataset data = MakeTestDataset(d);
  TuneOptions o;
  o.kind = "als";
  o.base.threads = 1;
  o.base.factors = 8;
  o.method = SearchMethod::kGrid;
  o.space = ParseSearchSpace("reg=0.0001,0.1,100").value();
  o.select_by = Metric{MetricKind::kRmse, 0};
  o.metrics = {o.select_by, Metric{MetricKind::kMae, 0}};
  auto r = Tune(data, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->trials.size(), 3u);
  EXPECT_EQ(Value(r->trials[r->best].setting, "reg"), "0.1");
  EXPECT_LT(r->trials[1].Score(o.select_by), r->trials[0].Score(o.select_by));
  EXPECT_LT(r->trials[1].Score(o.select_by), r->trials[2].Score(o.select_by));
  EXPECT_EQ(r->trials[0].result.folds.size(), 3u);
  const std::string json = FormatTuneJson(*r);
  EXPECT_NE(json.find("\"trials\""), std::string::npos);
  EXPECT_NE(json.find("\"mae\""), std::string::npos);
}

TEST(Tune, TimeBudgetStopsAfterOneTrial) {
  Dataset data = MakeTestDataset();
  TuneOptions o = PlantedOptions(SearchMethod::kRandom, "reg=0.01..10:log");
  o.trials = 50;
  o.time_budget_seconds = 1e-9;
  auto r = Tune(data, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->trials.size(), 1u);
  EXPECT_TRUE(r->stopped_by_time);
}

TEST(Tune, RejectsBadOptions) {
  Dataset data = MakeTestDataset();
  TuneOptions o = PlantedOptions(SearchMethod::kRandom, "alpha=0.1..1");  // als does not read alpha
  EXPECT_FALSE(Tune(data, o).ok());
  o = PlantedOptions(SearchMethod::kRandom, "reg=0.1");
  o.folds = 1;
  EXPECT_FALSE(Tune(data, o).ok());
  o = PlantedOptions(SearchMethod::kRandom, "factors=0,8");  // factors=0 fails validation
  o.trials = 10;
  EXPECT_FALSE(Tune(data, o).ok());
}

// Nested evaluation: the tuner must only ever see the outer training part.
TEST(NestedEvaluate, TuningNeverTouchesTheOuterTestPart) {
  TestDataOptions d;
  d.users = 80;
  d.per_user = 10;
  Dataset data = MakeTestDataset(d);
  SplitOptions so;
  so.method = SplitMethod::kUser;
  so.test_fraction = 0.25;
  auto outer = HoldoutSplit(data, so);
  ASSERT_TRUE(outer.ok());
  // The marked rows: every (user, item) of the outer test part.
  std::set<std::pair<uint32_t, uint32_t>> test_pairs;
  for (uint32_t u = 0; u < data.by_user.rows; ++u) {
    for (uint64_t e = data.by_user.indptr[u]; e < data.by_user.indptr[u + 1]; ++e) {
      if (outer->fold[e] == 0) test_pairs.insert({u, data.by_user.indices[e]});
    }
  }
  ASSERT_GT(test_pairs.size(), 50u);
  const uint64_t outer_train_nnz = data.nnz() - test_pairs.size();

  TuneOptions o;
  o.kind = "cooccurrence";
  o.base.threads = 1;
  o.method = SearchMethod::kGrid;
  o.space = ParseSearchSpace("similarity=conditional,cosine;aggregate=max,sum").value();
  o.per_user = true;
  o.select_by = Metric{MetricKind::kNdcg, 5};
  uint64_t folds_seen = 0, pairs_checked = 0, touched = 0;
  o.on_fold = [&](const Dataset& train, const CsrMatrix& validation) {
    ++folds_seen;
    EXPECT_EQ(train.nnz() + validation.nnz(), outer_train_nnz)
        << "inner folds partition the outer training part";
    for (const CsrMatrix* m : {&train.by_user, &validation}) {
      for (uint32_t u = 0; u < m->rows; ++u) {
        for (uint64_t e = m->indptr[u]; e < m->indptr[u + 1]; ++e) {
          ++pairs_checked;
          touched += test_pairs.count({u, m->indices[e]});
        }
      }
    }
  };
  const std::vector<Metric> metrics = {Metric{MetricKind::kPrecision, 5},
                                       Metric{MetricKind::kNdcg, 5}};
  auto r = NestedEvaluate(data, *outer, o, metrics);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(folds_seen, 3u);
  EXPECT_EQ(pairs_checked, 3 * outer_train_nnz);
  EXPECT_EQ(touched, 0u) << "a held-out pair reached the tuner";
  ASSERT_EQ(r->tuning.size(), 1u);
  EXPECT_EQ(r->tuning[0].trials.size(), 4u);

  // The outer score is the chosen parameters fitted on the outer training
  // part and scored on the outer test part.
  TrainTest tt = MakeTrainTest(data, *outer, 0);
  auto direct = Evaluate("cooccurrence", r->tuning[0].best_params, tt.train, tt.test, metrics);
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(r->outer.mean, std::vector<double>({direct->values[0], direct->values[1]}));
  EXPECT_NE(FormatNestedChoices(*r).find("outer fold 1: tuned"), std::string::npos);
}

TEST(NestedEvaluate, OneTuningPerOuterFold) {
  Dataset data = MakeTestDataset();
  FoldOptions fo;
  fo.folds = 3;
  auto outer = KFoldSplit(data, fo);
  ASSERT_TRUE(outer.ok());
  TuneOptions o = PlantedOptions(SearchMethod::kGrid, "reg=0.1,0.316");
  o.kind = "ials";
  o.base.factors = 4;
  o.base.iterations = 2;
  uint64_t fits = 0;
  o.on_fold = [&](const Dataset&, const CsrMatrix&) { ++fits; };
  auto r = NestedEvaluate(data, *outer, o, {Metric{MetricKind::kPrecision, 5}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tuning.size(), 3u);
  EXPECT_EQ(r->outer.folds.size(), 3u);
  EXPECT_EQ(fits, 9u);  // 3 inner folds inside each of 3 outer folds
  for (const TuneReport& t : r->tuning) EXPECT_NEAR(t.best_params.reg, 0.316, 1e-6);
}

}  // namespace
}  // namespace encore
