// Explanations: for every model that has them, base + the contributions add
// up to the score, and the score is the one the model serves (fold-in for
// factor models, ScoreItems for co-occurrence and popularity).

#include "encore/explain.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "encore/rank.h"
#include "encore/recommender.h"
#include "test_data.h"

namespace encore {
namespace {

struct Case {
  std::string name;
  std::string kind;
  void (*tweak)(ModelParams*);
  bool explicit_ratings = false;
};

std::unique_ptr<Recommender> Fit(const Case& c, const Dataset& data) {
  ModelParams p;
  p.factors = 6;
  p.iterations = 8;
  p.reg = 0.05f;
  p.threads = 1;
  if (c.tweak) c.tweak(&p);
  auto m = CreateRecommender(c.kind, p);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  Status s = (*m)->Fit(data);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::move(m).value();
}

class ExplainSums : public ::testing::TestWithParam<Case> {};

// For the first users and their top items: sum == score, score == the score
// the model serves for the same history.
TEST_P(ExplainSums, ContributionsAddUpToTheServedScore) {
  const Case& c = GetParam();
  testing::TestDataOptions o;
  o.explicit_ratings = c.explicit_ratings;
  const Dataset data = testing::MakeTestDataset(o);
  auto m = Fit(c, data);
  QueryOptions q;
  q.n = 3;
  int checked = 0;
  for (uint32_t u = 0; u < 8; ++u) {
    const auto top = Recommend(*m, u, q);
    std::vector<ItemWeight> history;
    for (uint64_t e = data.by_user.indptr[u]; e < data.by_user.indptr[u + 1]; ++e) {
      history.push_back({data.by_user.indices[e], data.by_user.values[e]});
    }
    for (const ScoredItem& r : top) {
      auto e = ExplainItems(*m, history, r.item);
      ASSERT_TRUE(e.ok()) << e.status().ToString();
      double sum = e->base;
      for (const ItemContribution& ic : e->items) sum += ic.contribution;
      const double tol = 1e-4 * (1 + std::fabs(e->score));
      EXPECT_NEAR(sum, e->score, tol) << "user " << u << " item " << r.item;
      EXPECT_NEAR(e->score, e->model_score, 2e-3 * (1 + std::fabs(e->score)))
          << "the decomposed score is the fold-in score the model serves";
      EXPECT_EQ(e->item, r.item);
      EXPECT_FALSE(e->method.empty());
      // Largest |contribution| first.
      for (size_t k = 1; k < e->items.size(); ++k) {
        EXPECT_GE(std::fabs(e->items[k - 1].contribution), std::fabs(e->items[k].contribution));
      }
      auto eu = ExplainUser(*m, u, r.item);
      ASSERT_TRUE(eu.ok()) << eu.status().ToString();
      EXPECT_NEAR(eu->score, e->score, tol);
      EXPECT_EQ(static_cast<float>(eu->model_score), r.score)
          << "ExplainUser reports the served score";
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
}

INSTANTIATE_TEST_SUITE_P(Models, ExplainSums,
                         ::testing::Values(Case{"ials_cg", "ials", nullptr},
                                           Case{"ials_cholesky_revisited", "ials",
                                                [](ModelParams* p) {
                                                  p->solver = Solver::kCholesky;
                                                  p->unobserved_weight = 0.5f;
                                                  p->reg_exponent = 1.0f;
                                                  p->reg = 0.001f;
                                                }},
                                           Case{"als", "als", nullptr, true},
                                           Case{"als_biases", "als",
                                                [](ModelParams* p) { p->biases = true; }, true},
                                           Case{"bpr", "bpr",
                                                [](ModelParams* p) {
                                                  p->iterations = 30;
                                                  p->factors = 7;
                                                }},
                                           Case{"svdpp", "svdpp",
                                                [](ModelParams* p) {
                                                  p->learning_rate = 0.01f;
                                                  p->init_scale = 0.1f;
                                                },
                                                true},
                                           Case{"cooccurrence_max", "cooccurrence", nullptr},
                                           Case{"cooccurrence_sum", "cooccurrence",
                                                [](ModelParams* p) {
                                                  p->aggregate = Aggregate::kSum;
                                                  p->similarity = Similarity::kCosine;
                                                }},
                                           Case{"popularity", "popularity", nullptr}),
                         [](const auto& info) { return info.param.name; });

TEST(Explain, CooccurrenceListsCountsAndPopularityTheCount) {
  const Dataset data = testing::MakeTestDataset();
  auto cooc = Fit({"c", "cooccurrence", nullptr}, data);
  QueryOptions q;
  q.n = 1;
  const auto top = Recommend(*cooc, 0, q);
  ASSERT_EQ(top.size(), 1u);
  auto e = ExplainUser(*cooc, 0, top[0].item);
  ASSERT_TRUE(e.ok());
  int contributing = 0;
  for (const ItemContribution& c : e->items) {
    // conditional similarity: together = score * count(a), a whole number.
    EXPECT_GT(c.together, 0.5);
    EXPECT_NEAR(c.together, std::round(c.together), 1e-3);
    contributing += c.contribution != 0;
  }
  EXPECT_EQ(contributing, 1) << "aggregate=max: one item gives the score";

  auto pop = Fit({"p", "popularity", nullptr}, data);
  auto p = ExplainUser(*pop, 0, 3);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->base, static_cast<double>(data.by_item.RowLength(3)));
  EXPECT_EQ(p->score, p->base);
}

TEST(Explain, ErrorsAreStatuses) {
  const Dataset data = testing::MakeTestDataset();
  auto m = Fit({"i", "ials", nullptr}, data);
  EXPECT_EQ(ExplainUser(*m, m->num_users() + 1, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ExplainUser(*m, 0, m->num_items()).status().code(), StatusCode::kInvalidArgument);
  const uint32_t cold_user = m->num_users() - 1;  // MakeTestDataset's empty user
  EXPECT_EQ(ExplainUser(*m, cold_user, 0).status().code(), StatusCode::kFailedPrecondition);
  std::vector<ItemWeight> bad = {{m->num_items() + 2, 1.0f}};
  EXPECT_EQ(ExplainItems(*m, bad, 0).status().code(), StatusCode::kInvalidArgument);
  auto ease = CreateRecommender("ease", ModelParams());
  ASSERT_TRUE(ease.ok());
  ASSERT_TRUE((*ease)->Fit(data).ok());
  EXPECT_EQ(ExplainUser(**ease, 0, 0).status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace encore
