// The recommender contract: every registered model passes every test here
// (in the manner of the `implicit` library's shared base test), through the
// ranker (encore/rank.h), the one query path. A new model is covered by
// adding it to the registry.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include "encore/rank.h"
#include "encore/recommender.h"
#include "rank/topn.h"
#include "test_data.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::MakeTestDataset;
using testing::TempDir;
using testing::TestDataOptions;

class RecommenderContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    TestDataOptions o;
    o.explicit_ratings = GetParam() == "als" || GetParam() == "svdpp";
    data_ = MakeTestDataset(o);
    model_ = Fit(data_, 2);
  }

  std::unique_ptr<Recommender> Fit(const Dataset& data, int threads) {
    ModelParams p;
    p.factors = 8;
    p.iterations = 8;
    p.reg = 0.05f;
    p.threads = threads;
    auto m = CreateRecommender(GetParam(), p);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    Status s = (*m)->Fit(data);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::move(m).value();
  }

  std::vector<uint32_t> AllUsers() const {
    std::vector<uint32_t> users(model_->num_users());
    for (uint32_t u = 0; u < users.size(); ++u) users[u] = u;
    return users;
  }

  std::vector<std::vector<ScoredItem>> Batch(const Recommender& m, const QueryOptions& q) const {
    std::vector<std::vector<ScoredItem>> out;
    auto users = AllUsers();
    RecommendBatch(m, users, q, &out);
    return out;
  }

  Dataset data_;
  std::unique_ptr<Recommender> model_;
};

// The model's own order: higher score, then smaller TieRank.
bool RanksBefore(const Recommender& m, const ScoredItem& a, const ScoredItem& b) {
  return a.score > b.score || (a.score == b.score && m.TieRank(a.item) < m.TieRank(b.item));
}

bool Seen(const CsrMatrix& m, uint32_t u, uint32_t item) {
  return std::binary_search(m.indices.begin() + m.indptr[u], m.indices.begin() + m.indptr[u + 1],
                            item);
}

TEST_P(RecommenderContract, KindMatchesRegistryName) { EXPECT_EQ(model_->kind(), GetParam()); }

TEST_P(RecommenderContract, RecommendsSortedFiniteUnseenItems) {
  QueryOptions q;
  q.n = 5;
  for (uint32_t u = 0; u < 10; ++u) {
    auto recs = Recommend(*model_, u, q);
    EXPECT_LE(recs.size(), 5u);
    std::set<uint32_t> distinct;
    for (size_t k = 0; k < recs.size(); ++k) {
      EXPECT_LT(recs[k].item, model_->num_items());
      EXPECT_TRUE(std::isfinite(recs[k].score));
      EXPECT_FALSE(Seen(data_.by_user, u, recs[k].item)) << "seen items are excluded by default";
      if (k > 0) {
        EXPECT_TRUE(RanksBefore(*model_, recs[k - 1], recs[k]));
      }
      distinct.insert(recs[k].item);
    }
    EXPECT_EQ(distinct.size(), recs.size());
  }
  EXPECT_EQ(Recommend(*model_, 0, q).size(), 5u) << "user 0 has plenty of candidates";
}

TEST_P(RecommenderContract, BatchEqualsSingleCalls) {
  QueryOptions q;
  q.n = 7;
  auto batch = Batch(*model_, q);
  for (uint32_t u = 0; u < model_->num_users(); ++u) {
    EXPECT_EQ(batch[u], Recommend(*model_, u, q)) << "user " << u;
  }
}

// Whatever path the ranker takes for this model (a cursor, per-item subset
// scores for a short allow list, blocked batch scores), the lists equal the
// plain definition: ScoreItems for the user, then selection.
TEST_P(RecommenderContract, EveryRankerPathEqualsDenseScoring) {
  std::vector<QueryOptions> queries(5);
  queries[0].n = 7;
  queries[1].n = model_->num_items();
  queries[1].exclude_seen = false;
  queries[2].n = 4;
  queries[2].allow = {1, 2, 3, 5, 8, 13, 21, 34, 1000};
  queries[2].deny = {3};
  queries[3].n = 3;
  queries[3].allow = {2};  // 1 allowed of 41: the subset path where a model has one
  queries[4].n = 5;
  queries[4].deny = {0, 1, 2, 3, 4, 5};
  std::vector<float> scores(model_->num_items());
  const CsrMatrix& seen = model_->seen();
  for (const QueryOptions& q : queries) {
    auto batch = Batch(*model_, q);
    for (uint32_t u = 0; u < model_->num_users(); ++u) {
      model_->ScoreItems(u, scores.data());
      auto want =
          rank::SelectTopN(scores.data(), model_->num_items(), seen.indices.data() + seen.indptr[u],
                           seen.indices.data() + seen.indptr[u + 1], q, model_->tie_ranks());
      ASSERT_EQ(batch[u], want) << "user " << u << " n " << q.n;
    }
  }
  // ScoreBatch rows equal ScoreItems, bit for bit, with users in any order.
  std::vector<uint32_t> users = AllUsers();
  std::reverse(users.begin(), users.end());
  std::vector<float> rows(uint64_t{users.size()} * model_->num_items());
  model_->ScoreBatch(users, rows.data());
  for (size_t r = 0; r < users.size(); ++r) {
    model_->ScoreItems(users[r], scores.data());
    ASSERT_EQ(0, std::memcmp(scores.data(), rows.data() + r * scores.size(),
                             scores.size() * sizeof(float)))
        << "user " << users[r];
  }
}

TEST_P(RecommenderContract, TieRanksArePermutationOfItems) {
  std::vector<bool> taken(model_->num_items());
  for (uint32_t i = 0; i < model_->num_items(); ++i) {
    const uint32_t r = model_->TieRank(i);
    ASSERT_LT(r, model_->num_items());
    EXPECT_FALSE(taken[r]) << "rank " << r << " given twice";
    taken[r] = true;
  }
}

TEST_P(RecommenderContract, IncludeSeenMayReturnSeenItems) {
  QueryOptions q;
  q.n = model_->num_items();
  q.exclude_seen = false;
  auto recs = Recommend(*model_, 0, q);
  bool any_seen = false;
  for (const auto& r : recs) any_seen |= Seen(data_.by_user, 0, r.item);
  EXPECT_TRUE(any_seen);
}

TEST_P(RecommenderContract, AllowAndDenyListsAreHonoured) {
  QueryOptions q;
  q.n = 10;
  q.allow = {3, 5, 7, 11, 13, 17, 19, 23};
  q.deny = {5, 13};
  auto batch = Batch(*model_, q);
  for (uint32_t u = 0; u < batch.size(); ++u) {
    for (const auto& r : batch[u]) {
      EXPECT_TRUE(std::count(q.allow.begin(), q.allow.end(), r.item)) << r.item;
      EXPECT_NE(r.item, 5u);
      EXPECT_NE(r.item, 13u);
    }
    EXPECT_EQ(batch[u], Recommend(*model_, u, q));
  }
}

TEST_P(RecommenderContract, UsersAndItemsWithoutInteractionsAreHandled) {
  const uint32_t empty_user = model_->num_users() - 1;
  const uint32_t empty_item = model_->num_items() - 1;
  ASSERT_EQ(data_.by_user.RowLength(empty_user), 0u);
  ASSERT_EQ(data_.by_item.RowLength(empty_item), 0u);
  QueryOptions q;
  q.n = 5;
  auto recs = Recommend(*model_, empty_user, q);  // may be empty, must not crash
  for (const auto& r : recs) EXPECT_TRUE(std::isfinite(r.score));
  EXPECT_TRUE(Recommend(*model_, model_->num_users() + 5, q).empty()) << "unknown user index";
  std::vector<float> scores(model_->num_items());
  model_->ScoreItems(0, scores.data());
  EXPECT_FALSE(std::isnan(scores[empty_item]));
}

TEST_P(RecommenderContract, SaveLoadGivesIdenticalOutput) {
  TempDir dir;
  TrainedModel trained{std::move(model_), std::move(data_.users), std::move(data_.items)};
  ASSERT_TRUE(SaveModel(trained, dir.File("m.bin")).ok());
  auto loaded = LoadModel(dir.File("m.bin"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->model->kind(), GetParam());
  EXPECT_EQ(loaded->users.Name(3), trained.users.Name(3));
  EXPECT_EQ(loaded->items.size(), trained.items.size());
  model_ = std::move(trained.model);
  QueryOptions q;
  q.n = 6;
  EXPECT_EQ(Batch(*loaded->model, q), Batch(*model_, q));
  for (uint32_t u = 0; u < 5; ++u) {
    EXPECT_EQ(loaded->model->Predict(u, 2), model_->Predict(u, 2));
  }
  for (uint32_t i = 0; i < model_->num_items(); ++i) {
    EXPECT_EQ(loaded->model->TieRank(i), model_->TieRank(i)) << "item " << i;
  }
  std::vector<ScoredItem> a, b;
  Status sa = model_->SimilarItems(1, 5, &a), sb = loaded->model->SimilarItems(1, 5, &b);
  EXPECT_EQ(sa.code(), sb.code());
  EXPECT_EQ(a, b);
}

TEST_P(RecommenderContract, CorruptedOrTruncatedFilesAreErrors) {
  TempDir dir;
  TrainedModel trained{std::move(model_), std::move(data_.users), std::move(data_.items)};
  ASSERT_TRUE(SaveModel(trained, dir.File("m.bin")).ok());
  std::string bytes = testing::ReadFile(dir.File("m.bin"));
  for (size_t cut : {size_t{0}, size_t{5}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    testing::WriteFile(dir.File("cut.bin"), bytes.substr(0, cut));
    auto r = LoadModel(dir.File("cut.bin"));
    EXPECT_FALSE(r.ok()) << "truncated at " << cut;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  }
  for (size_t at : {size_t{9}, bytes.size() / 3, bytes.size() - 2}) {
    std::string flipped = bytes;
    flipped[at] ^= 0x40;
    testing::WriteFile(dir.File("flip.bin"), flipped);
    auto r = LoadModel(dir.File("flip.bin"));
    EXPECT_FALSE(r.ok()) << "flipped byte " << at;
  }
  EXPECT_EQ(LoadModel(dir.File("absent.bin")).status().code(), StatusCode::kNotFound);
}

// Models trained by lock-free parallel SGD (Hogwild): deterministic for a
// seed with one thread only, by design (documented in their source and in
// docs/MODELS.md).
bool IsHogwild(const std::string& kind) { return kind == "bpr"; }

TEST_P(RecommenderContract, DeterministicForSeedAndThreads) {
  QueryOptions q;
  q.n = 5;
  if (!IsHogwild(GetParam())) {
    auto again = Fit(data_, 2);
    EXPECT_EQ(Batch(*again, q), Batch(*model_, q));
  }
  auto one = Fit(data_, 1);
  auto one_again = Fit(data_, 1);
  EXPECT_EQ(Batch(*one, q), Batch(*one_again, q));
}

TEST_P(RecommenderContract, FoldInRecommendsForAVisitor) {
  // A visitor who holds user 0's items gets recommendations without them.
  std::vector<ItemWeight> items;
  for (uint64_t k = data_.by_user.indptr[0]; k < data_.by_user.indptr[1]; ++k) {
    items.push_back({data_.by_user.indices[k], data_.by_user.values[k]});
  }
  QueryOptions q;
  q.n = 5;
  auto recs = RecommendFoldIn(*model_, items, q);
  ASSERT_TRUE(recs.ok()) << recs.status().ToString();
  for (const auto& r : *recs) {
    for (const auto& iw : items) EXPECT_NE(r.item, iw.item);
  }
  std::vector<ItemWeight> bad = {{model_->num_items() + 3, 1.0f}};
  EXPECT_FALSE(RecommendFoldIn(*model_, bad, q).ok());
}

TEST_P(RecommenderContract, SimilarItemsExcludeTheItemItself) {
  std::vector<ScoredItem> sims;
  Status s = model_->SimilarItems(0, 5, &sims);
  if (s.code() == StatusCode::kFailedPrecondition) GTEST_SKIP() << s.message();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_LE(sims.size(), 5u);
  for (size_t k = 0; k < sims.size(); ++k) {
    EXPECT_NE(sims[k].item, 0u);
    if (k > 0) {
      EXPECT_TRUE(RanksBefore(*model_, sims[k - 1], sims[k]));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllModels, RecommenderContract,
                         ::testing::ValuesIn(RecommenderKinds()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace encore
