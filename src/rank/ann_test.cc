// AnnIndex and the ranker's approximate path: recall against exact search,
// exclusions and rules after the index, fold-in and similar items, cold
// users, sidecar files (round trip, another model's index, corruption).

#include "encore/ann.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>

#include "encore/rank.h"
#include "encore/recommender.h"
#include "test_data.h"
#include "test_util.h"

namespace encore {
namespace {

std::unique_ptr<Recommender> FitModel(const std::string& kind, const Dataset& data) {
  ModelParams p;
  p.factors = 8;
  p.iterations = 6;
  p.threads = 1;
  p.biases = kind == "als";
  auto m = CreateRecommender(kind, p);
  EXPECT_TRUE(m.ok());
  EXPECT_TRUE((*m)->Fit(data).ok());
  return std::move(m).value();
}

Dataset BigData() {
  testing::TestDataOptions o;
  o.users = 300;
  o.items = 600;
  o.clusters = 6;
  o.per_user = 20;
  return testing::MakeTestDataset(o);
}

std::unique_ptr<AnnIndex> BuildIndex(const Recommender& m, uint32_t ef = 64) {
  AnnOptions o;
  o.threads = 1;
  o.ef = ef;
  auto index = AnnIndex::Build(m, o);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  return std::move(index).value();
}

double Recall(const std::vector<ScoredItem>& got, const std::vector<ScoredItem>& want) {
  std::set<uint32_t> w;
  for (const auto& s : want) w.insert(s.item);
  double hit = 0;
  for (const auto& s : got) hit += w.count(s.item);
  return want.empty() ? 1.0 : hit / static_cast<double>(want.size());
}

class AnnModels : public ::testing::TestWithParam<std::string> {};

// Approximate lists are exact lists minus what the index missed: every
// returned item carries its exact score, the list is in rank order, and
// recall against exact search is high at the default breadth.
TEST_P(AnnModels, ApproximateListsAreExactlyScoredAndRecallIsHigh) {
  const Dataset data = BigData();
  auto m = FitModel(GetParam(), data);
  auto index = BuildIndex(*m);
  Ranker approx(*m);
  approx.UseIndex(index.get());
  QueryOptions q;
  q.n = 10;
  QueryOptions qa = q;
  qa.approximate = true;
  std::vector<uint32_t> users;
  for (uint32_t u = 0; u < m->num_users(); ++u) users.push_back(u);
  std::vector<std::vector<ScoredItem>> exact, got;
  Ranker(*m).RankUsers(users, q, &exact);
  approx.RankUsers(users, qa, &got);
  std::vector<float> scores(m->num_items());
  double recall = 0;
  for (uint32_t u = 0; u < m->num_users(); ++u) {
    m->ScoreItems(u, scores.data());
    for (size_t k = 0; k < got[u].size(); ++k) {
      EXPECT_EQ(got[u][k].score, scores[got[u][k].item]) << "exact re-scoring";
      if (k > 0) {
        EXPECT_GE(got[u][k - 1].score, got[u][k].score);
      }
    }
    recall += Recall(got[u], exact[u]);
  }
  recall /= m->num_users();
  EXPECT_GT(recall, 0.95) << GetParam();
  // Without approximate, the index is not used: lists are the exact ones.
  std::vector<std::vector<ScoredItem>> again;
  approx.RankUsers(users, q, &again);
  EXPECT_EQ(again, exact);
}

INSTANTIATE_TEST_SUITE_P(FactorModels, AnnModels, ::testing::Values("ials", "als", "bpr"),
                         [](const auto& info) { return info.param; });

TEST(Ann, ExclusionsAndRulesApplyAfterTheIndex) {
  const Dataset data = BigData();
  auto m = FitModel("ials", data);
  auto index = BuildIndex(*m);
  std::vector<uint32_t> group(m->num_items());
  for (uint32_t i = 0; i < group.size(); ++i) group[i] = i % 3;
  Ranker r(*m);
  r.UseIndex(index.get());
  r.Add(std::make_shared<ExcludeItems>(std::vector<uint32_t>{1, 2, 3, 4, 5}));
  r.Add(std::make_shared<GroupCap>(group, 2));
  QueryOptions q;
  q.n = 6;
  q.approximate = true;
  q.deny = {6, 7, 8};
  for (uint32_t u = 0; u < 50; ++u) {
    const auto recs = r.RankUser(u, q);
    EXPECT_EQ(recs.size(), 6u) << "3 groups x 2, enough candidates after over-fetch";
    std::vector<int> per_group(3, 0);
    for (const auto& s : recs) {
      EXPECT_TRUE(s.item == 0 || s.item > 8) << "excluded or denied: " << s.item;
      EXPECT_FALSE(std::binary_search(m->seen().indices.begin() + m->seen().indptr[u],
                                      m->seen().indices.begin() + m->seen().indptr[u + 1], s.item))
          << "seen";
      ++per_group[group[s.item]];
    }
    for (int g : per_group) EXPECT_LE(g, 2);
  }
}

TEST(Ann, FoldInSimilarItemsAndColdUsers) {
  const Dataset data = BigData();
  auto m = FitModel("ials", data);
  auto index = BuildIndex(*m, 200);
  Ranker r(*m);
  r.UseIndex(index.get(), /*approximate_similar=*/true);
  QueryOptions q;
  q.n = 10;
  QueryOptions qa = q;
  qa.approximate = true;
  std::vector<ItemWeight> items = {{3, 1.0f}, {10, 2.0f}, {50, 1.0f}};
  auto exact = Ranker(*m).RankFoldIn(items, q);
  auto got = r.RankFoldIn(items, qa);
  ASSERT_TRUE(exact.ok() && got.ok());
  EXPECT_GE(Recall(*got, *exact), 0.9);
  std::vector<float> scores(m->num_items());
  ASSERT_TRUE(m->ScoreFoldIn(items, scores.data()).ok());
  for (const auto& s : *got) {
    EXPECT_EQ(s.score, scores[s.item]);
    for (const auto& iw : items) EXPECT_NE(s.item, iw.item);
  }
  std::vector<ItemWeight> bad = {{m->num_items() + 1, 1.0f}};
  EXPECT_FALSE(r.RankFoldIn(bad, qa).ok());

  // Similar items from the cosine graph.
  std::vector<ScoredItem> sim_exact, sim_got;
  ASSERT_TRUE(Ranker(*m).RankSimilar(5, 10, &sim_exact).ok());
  ASSERT_TRUE(r.RankSimilar(5, 10, &sim_got).ok());
  EXPECT_GE(Recall(sim_got, sim_exact), 0.9);
  for (const auto& s : sim_got) EXPECT_NE(s.item, 5u);

  // The empty user of MakeTestDataset is cold: it gets the exact (empty,
  // cold_start=drop) list, not a search from a zero vector.
  const uint32_t cold = m->num_users() - 1;
  EXPECT_EQ(r.RankUser(cold, qa), Ranker(*m).RankUser(cold, q));
}

TEST(Ann, ModelsWithoutEmbeddingsHaveNoIndex) {
  const Dataset data = testing::MakeTestDataset();
  auto m = CreateRecommender("cooccurrence", ModelParams());
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->Fit(data).ok());
  auto index = AnnIndex::Build(**m, AnnOptions());
  EXPECT_EQ(index.status().code(), StatusCode::kFailedPrecondition);
}

TEST(Ann, SidecarRoundTripAndRefusals) {
  testing::TempDir dir;
  const Dataset data = BigData();
  Dataset ids = BigData();  // id dictionaries are move-only
  TrainedModel trained{FitModel("ials", data), std::move(ids.users), std::move(ids.items)};
  const std::string path = dir.File("m.bin");
  ASSERT_TRUE(SaveModel(trained, path).ok());
  EXPECT_EQ(LoadAnnIndex(path).status().code(), StatusCode::kNotFound);
  auto index = BuildIndex(*trained.model);
  ASSERT_TRUE(SaveAnnIndex(*index, path).ok());
  std::ifstream probe(AnnSidecarPath(path) + ".tmp");
  EXPECT_FALSE(probe.good()) << "no temporary file left behind";
  auto loaded = LoadAnnIndex(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->num_items(), index->num_items());
  EXPECT_EQ((*loaded)->options().ef, index->options().ef);
  std::vector<float> q(trained.model->embedding_dim());
  for (uint32_t u = 0; u < 20; ++u) {
    ASSERT_TRUE(trained.model->UserEmbedding(u, q.data()));
    EXPECT_EQ((*loaded)->SearchInnerProduct(q.data(), 10, 0),
              index->SearchInnerProduct(q.data(), 10, 0));
  }
  for (uint32_t i = 0; i < 20; ++i) {
    EXPECT_EQ((*loaded)->SearchSimilar(i, 5, 0), index->SearchSimilar(i, 5, 0));
  }

  // A retrained model (another seed) does not accept the old index.
  ModelParams p = trained.model->params();
  p.seed = 7;
  auto other = CreateRecommender("ials", p);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Fit(data).ok());
  Dataset ids2 = BigData();
  TrainedModel retrained{std::move(other).value(), std::move(ids2.users), std::move(ids2.items)};
  ASSERT_TRUE(SaveModel(retrained, path).ok());
  auto stale = LoadAnnIndex(path);
  EXPECT_EQ(stale.status().code(), StatusCode::kCorruption);
  EXPECT_NE(stale.status().message().find("another model"), std::string::npos)
      << stale.status().message();

  // Damaged bytes are refused, never a crash.
  ASSERT_TRUE(SaveModel(trained, path).ok());
  std::string bytes = testing::ReadFile(AnnSidecarPath(path));
  ASSERT_GT(bytes.size(), 100u);
  for (size_t at : {size_t{3}, size_t{40}, bytes.size() / 2, bytes.size() - 2}) {
    std::string bad = bytes;
    bad[at] ^= 0x5a;
    testing::WriteFile(AnnSidecarPath(path), bad);
    EXPECT_EQ(LoadAnnIndex(path).status().code(), StatusCode::kCorruption) << at;
  }
  testing::WriteFile(AnnSidecarPath(path), bytes.substr(0, bytes.size() / 3));
  EXPECT_EQ(LoadAnnIndex(path).status().code(), StatusCode::kCorruption);
}

TEST(Ann, PerQueryBreadth) {
  // Random vectors: a small ef finds fewer of the true top-10 than a large one.
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0, 1);
  const uint32_t n = 4000, dim = 16;
  std::vector<float> items(uint64_t{n} * dim);
  for (float& x : items) x = normal(rng);
  AnnOptions o;
  o.threads = 1;
  o.m = 4;
  o.ef_construction = 16;
  auto index = AnnIndex::BuildFromVectors(items, dim, 0, o);
  ASSERT_TRUE(index.ok());
  EXPECT_FALSE((*index)->has_similarity());
  double small = 0, large = 0;
  for (int t = 0; t < 50; ++t) {
    std::vector<float> q(dim);
    for (float& x : q) x = normal(rng);
    std::vector<ScoredItem> exact;
    for (uint32_t i = 0; i < n; ++i) {
      float s = 0;
      for (uint32_t p = 0; p < dim; ++p) s += q[p] * items[uint64_t{i} * dim + p];
      exact.push_back({i, s});
    }
    std::partial_sort(exact.begin(), exact.begin() + 10, exact.end(),
                      [](const ScoredItem& a, const ScoredItem& b) { return a.score > b.score; });
    exact.resize(10);
    small += Recall((*index)->SearchInnerProduct(q.data(), 10, 10), exact);
    large += Recall((*index)->SearchInnerProduct(q.data(), 10, 400), exact);
  }
  EXPECT_LT(small, large);
  EXPECT_GT(large / 50, 0.9);
}

}  // namespace
}  // namespace encore
