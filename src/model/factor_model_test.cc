// FactorModel: exact scoring on every path, similar items, cold start,
// initialisation and state checks, using a test model whose factors are set
// by hand.

#include "model/factor_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "encore/model_io.h"
#include "encore/rank.h"
#include "rank/topn.h"
#include "test_data.h"

namespace encore::model {
namespace {

// A factor model whose factors come from the seeded initialiser (or are set
// by the test); fold-in returns the factors of user 0.
class HandModel final : public FactorModel {
 public:
  explicit HandModel(const ModelParams& p) : FactorModel(p) {}
  const char* kind() const override { return "hand"; }
  Status Fit(const Dataset& data) override {
    RememberSeen(data);
    InitFactors(data.by_user.rows, data.by_user.cols, params_.biases, false);
    // Factors of the scale of a trained model.
    for (float& v : user_factors_) v *= 100;
    for (float& v : item_factors_) v *= 100;
    if (has_biases_) {
      global_mean_ = 3.5f;
      for (uint32_t u = 0; u < user_biases_.size(); ++u) user_biases_[u] = 0.01f * (u % 7) - 0.03f;
      for (uint32_t i = 0; i < item_biases_.size(); ++i) item_biases_[i] = 0.02f * (i % 5) - 0.04f;
    }
    default_prediction_ = 1.25f;
    for (uint32_t i = 0; i < cold_user_scores_.size(); ++i) cold_user_scores_[i] = 1.0f / (1 + i);
    FinishFit();
    return Status::OK();
  }
  // Zeroes the factors of `item` and rebuilds (to test zero-norm items).
  void ZeroItem(uint32_t item) {
    std::fill_n(item_factors_.begin() + uint64_t{item} * k_, k_, 0.0f);
    FinishFit();
  }
  // Gives `to` the factors (and bias) of `from`, so the two tie for every
  // user; call Rebuild afterwards.
  void CopyItem(uint32_t from, uint32_t to) {
    std::copy_n(item_factors_.begin() + uint64_t{from} * k_, k_,
                item_factors_.begin() + uint64_t{to} * k_);
    if (has_biases_) item_biases_[to] = item_biases_[from];
  }
  // Rebuilds the derived state (packed panels) with the kernels now enabled.
  void Rebuild() { FinishFit(); }

 protected:
  void SolveFoldIn(std::span<const ItemWeight>, float* x, float* bias) const override {
    std::copy_n(user_factors_.begin(), k_, x);
    if (has_biases_) *bias = user_biases_[0];
  }
};

std::unique_ptr<HandModel> MakeModel(uint32_t factors, bool biases, ColdStart cold,
                                     const Dataset& data, int threads = 2) {
  ModelParams p;
  p.factors = factors;
  p.biases = biases;
  p.cold_start = cold;
  p.threads = threads;
  auto m = std::make_unique<HandModel>(p);
  EXPECT_TRUE(m->Fit(data).ok());
  return m;
}

Dataset Data() {
  testing::TestDataOptions o;
  o.users = 75;  // with the empty user: 76 = 2 blocks of 32 + 12 (4-user tiles and a tail)
  o.items = 45;  // 46 items: 5 full panels of 8 and a partial one
  o.empty_items = 1;
  o.explicit_ratings = true;
  return testing::MakeTestDataset(o);
}

std::vector<uint32_t> AllUsers(const Recommender& m) {
  std::vector<uint32_t> users(m.num_users());
  for (uint32_t u = 0; u < users.size(); ++u) users[u] = u;
  return users;
}

// The scoring kernels a test can force: the default choice (AVX-512 where
// the CPU has it), AVX2 + FMA (AVX-512 disabled) and the portable SSE2 one.
enum class Kernel { kDefault, kAvx2, kSse2 };

void UseKernel(Kernel k) {
  DisableWideKernelsForTesting(k == Kernel::kSse2);
  DisableAvx512KernelsForTesting(k == Kernel::kAvx2);
}

// Every path computes identical bits, whatever the factor count (odd counts
// exercise the tails), biases, block position and thread count.
class FactorModelKernels : public ::testing::TestWithParam<Kernel> {
 protected:
  void SetUp() override { UseKernel(GetParam()); }
  void TearDown() override { UseKernel(Kernel::kDefault); }
};

TEST_P(FactorModelKernels, AllScoringPathsAgreeBitForBit) {
  const Dataset data = Data();
  for (uint32_t factors : {1u, 5u, 16u, 19u}) {
    for (bool biases : {false, true}) {
      auto m = MakeModel(factors, biases, ColdStart::kPopular, data);
      auto one_thread = MakeModel(factors, biases, ColdStart::kPopular, data, 1);
      QueryOptions all;
      all.n = m->num_items();
      all.exclude_seen = false;
      std::vector<std::vector<ScoredItem>> batch, batch1;
      RecommendBatch(*m, AllUsers(*m), all, &batch);
      RecommendBatch(*one_thread, AllUsers(*m), all, &batch1);
      EXPECT_EQ(batch, batch1);
      std::vector<float> scores(m->num_items());
      for (uint32_t u = 0; u < m->num_users(); ++u) {
        m->ScoreItems(u, scores.data());
        ASSERT_EQ(batch[u].size(), m->num_items());
        for (const ScoredItem& s : batch[u]) {
          // EXPECT_EQ on floats is exact.
          EXPECT_EQ(s.score, scores[s.item]) << factors << " " << u << " " << s.item;
          EXPECT_EQ(s.score, m->Predict(u, s.item));
        }
      }
      // A short allow list takes the per-item path; it must agree too.
      QueryOptions allow = all;
      allow.allow = {1, 2, 44, 3};
      std::vector<std::vector<ScoredItem>> allowed;
      RecommendBatch(*m, AllUsers(*m), allow, &allowed);
      for (uint32_t u = 0; u < m->num_users(); ++u) {
        for (const ScoredItem& s : allowed[u]) {
          m->ScoreItems(u, scores.data());
          EXPECT_EQ(s.score, scores[s.item]);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(WideAndPortable, FactorModelKernels,
                         ::testing::Values(Kernel::kDefault, Kernel::kAvx2, Kernel::kSse2),
                         [](const auto& info) {
                           switch (info.param) {
                             case Kernel::kAvx2:
                               return "Avx2";
                             case Kernel::kSse2:
                               return "Sse2";
                             default:
                               return "Default";
                           }
                         });

// The AVX-512 kernel does the AVX2 kernel's fused multiply-adds in the same
// order, so its scores are the same bits and the top-N the same lists, ties
// included (items with copied factors tie for every user). Factor counts
// cover the tails; 1000 + 45 items give full 32-item tiles and partial panels.
TEST(FactorModel, Avx512KernelGivesTheAvx2ScoresAndTopNWithTies) {
  if (!Avx512KernelsSupported() || !WideKernelsEnabled()) {
    GTEST_SKIP() << "this CPU (or build) has no AVX-512F/VL: the AVX-512 kernel is not used here";
  }
  testing::TestDataOptions o;
  o.users = 150;
  o.items = 1000;
  o.per_user = 20;
  o.explicit_ratings = true;
  const Dataset data = testing::MakeTestDataset(o);
  for (uint32_t factors : {1u, 7u, 16u, 33u, 64u}) {
    for (bool biases : {false, true}) {
      UseKernel(Kernel::kDefault);
      auto m = MakeModel(factors, biases, ColdStart::kDrop, data);
      // Ties: runs of equal items, inside a panel and across panels.
      for (uint32_t i = 0; i + 3 < m->num_items(); i += 37) {
        m->CopyItem(i, i + 1);
        m->CopyItem(i, i + 3);
        m->CopyItem(i, (i * 7 + 16) % m->num_items());
      }
      m->Rebuild();
      ASSERT_TRUE(Avx512KernelsEnabled());
      const std::vector<uint32_t> users = AllUsers(*m);
      std::vector<float> wide(uint64_t{users.size()} * m->num_items());
      std::vector<float> narrow(wide.size());
      m->ScoreBatch(users, wide.data());
      QueryOptions q;
      q.n = 10;
      std::vector<std::vector<ScoredItem>> top_wide, top_narrow;
      RecommendBatch(*m, users, q, &top_wide);
      DisableAvx512KernelsForTesting(true);
      m->Rebuild();
      ASSERT_FALSE(Avx512KernelsEnabled());
      m->ScoreBatch(users, narrow.data());
      RecommendBatch(*m, users, q, &top_narrow);
      UseKernel(Kernel::kDefault);
      ASSERT_EQ(std::memcmp(wide.data(), narrow.data(), wide.size() * sizeof(float)), 0)
          << factors << " factors, biases " << biases;
      EXPECT_EQ(top_wide, top_narrow) << factors << " factors, biases " << biases;
      // Ties really occur in the lists.
      size_t ties = 0;
      for (const auto& list : top_wide) {
        for (size_t j = 1; j < list.size(); ++j) ties += list[j].score == list[j - 1].score;
      }
      EXPECT_GT(ties, 0u) << factors << " factors, biases " << biases;
    }
  }
}

// The ranker selects from 128-user x 1024-item slices (ScoreBatchSlice) for
// plain queries; the lists must be exactly those of SelectTopN over the full
// ScoreItems row, on every kernel, with ties, cold users and items, seen
// items and a deny list, over several slices and a partial last one.
TEST_P(FactorModelKernels, SlicedTopNEqualsFullRowSelection) {
  testing::TestDataOptions o;
  o.users = 300;   // 301 users: 3 blocks of 128 users, the last partial
  o.items = 2100;  // 2101 items: 3 slices of 1024, the last partial
  o.per_user = 30;
  o.explicit_ratings = true;
  const Dataset data = testing::MakeTestDataset(o);
  for (bool biases : {false, true}) {
    for (ColdStart cold : {ColdStart::kDrop, ColdStart::kPopular}) {
      auto m = MakeModel(19, biases, cold, data);
      for (uint32_t i = 0; i + 1100 < m->num_items(); i += 29) {
        m->CopyItem(i, i + 1);
        m->CopyItem(i, i + 1100);  // a tie across slices
      }
      m->Rebuild();
      ASSERT_EQ(m->slice_shape().items % 32, 0u);
      // Reversed: the cold user comes first in its block, ahead of warm ones.
      std::vector<uint32_t> users = AllUsers(*m);
      std::reverse(users.begin(), users.end());
      ASSERT_TRUE(m->seen().RowLength(users[0]) == 0) << "the first user must be cold";
      for (bool exclude_seen : {true, false}) {
        QueryOptions q;
        q.n = 10;
        q.exclude_seen = exclude_seen;
        q.deny = {3, 1030, 2000};
        std::vector<std::vector<ScoredItem>> lists;
        RecommendBatch(*m, users, q, &lists);
        std::vector<float> scores(m->num_items());
        size_t ties = 0;
        for (uint32_t u : users) {
          m->ScoreItems(u, scores.data());
          const CsrMatrix& seen = m->seen();
          const uint32_t* sb = seen.indices.data() + seen.indptr[u];
          const uint32_t* se = seen.indices.data() + seen.indptr[u + 1];
          const auto want =
              rank::SelectTopN(scores.data(), m->num_items(), sb, se, q, m->tie_ranks());
          ASSERT_EQ(lists[users.size() - 1 - u], want) << "user " << u << " biases " << biases;
          for (size_t j = 1; j < want.size(); ++j) ties += want[j].score == want[j - 1].score;
        }
        EXPECT_GT(ties, 0u);
      }
    }
  }
}

TEST(FactorModel, ScoresAreDotProductsPlusBiases) {
  const Dataset data = Data();
  auto m = MakeModel(6, true, ColdStart::kDrop, data);
  const uint32_t k = m->factors();
  std::vector<float> scores(m->num_items());
  m->ScoreItems(4, scores.data());
  for (uint32_t i = 0; i + 1 < m->num_items(); ++i) {
    double dot = 0;
    for (uint32_t p = 0; p < k; ++p) {
      dot += double{m->user_factors()[4 * k + p]} * m->item_factors()[uint64_t{i} * k + p];
    }
    const double expected = dot + m->global_mean() + m->user_biases()[4] + m->item_biases()[i];
    EXPECT_NEAR(scores[i], expected, 1e-4);
  }
}

TEST(FactorModel, SimilarItemsAreCosinesAndZeroNormGivesZero) {
  const Dataset data = Data();
  auto m = MakeModel(4, false, ColdStart::kDrop, data);
  const uint32_t k = m->factors();
  auto cosine = [&](uint32_t a, uint32_t b) {
    double ab = 0, aa = 0, bb = 0;
    for (uint32_t p = 0; p < k; ++p) {
      const double x = m->item_factors()[a * k + p], y = m->item_factors()[b * k + p];
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    return ab / std::sqrt(aa * bb);
  };
  std::vector<ScoredItem> sims;
  ASSERT_TRUE(m->SimilarItems(3, 100, &sims).ok());
  ASSERT_EQ(sims.size(), m->num_items() - 1);
  // The hand model's factors are all random, so every cosine is defined.
  for (const ScoredItem& s : sims) {
    EXPECT_NE(s.item, 3u);
    EXPECT_NEAR(s.score, cosine(3, s.item), 1e-5);
  }
  m->ZeroItem(7);
  ASSERT_TRUE(m->SimilarItems(3, 100, &sims).ok());
  for (const ScoredItem& s : sims) {
    if (s.item == 7) {
      EXPECT_EQ(s.score, 0.0f);
    }
  }
  ASSERT_TRUE(m->SimilarItems(7, 5, &sims).ok());
  ASSERT_EQ(sims.size(), 5u);
  for (const ScoredItem& s : sims) EXPECT_EQ(s.score, 0.0f);
  EXPECT_EQ(sims[0].item, 0u) << "ties broken by index";
  EXPECT_FALSE(m->SimilarItems(m->num_items(), 5, &sims).ok());
}

TEST(FactorModel, ColdStartDrop) {
  const Dataset data = Data();
  auto m = MakeModel(4, true, ColdStart::kDrop, data);
  const uint32_t cold_user = m->num_users() - 1, cold_item = m->num_items() - 1;
  std::vector<float> scores(m->num_items());
  m->ScoreItems(cold_user, scores.data());
  for (float s : scores) EXPECT_EQ(s, -std::numeric_limits<float>::infinity());
  QueryOptions q;
  EXPECT_TRUE(Recommend(*m, cold_user, q).empty());
  m->ScoreItems(0, scores.data());
  EXPECT_EQ(scores[cold_item], -std::numeric_limits<float>::infinity());
  q.n = m->num_items();
  for (const ScoredItem& s : Recommend(*m, 0, q)) EXPECT_NE(s.item, cold_item);
  EXPECT_FALSE(m->CanPredict(cold_user, 0));
  EXPECT_FALSE(m->CanPredict(0, cold_item));
  EXPECT_TRUE(m->CanPredict(0, 0));
  EXPECT_FALSE(m->CanPredict(m->num_users(), 0));
  EXPECT_EQ(m->Predict(cold_user, 0), 1.25f) << "the default prediction, never NaN";
  EXPECT_EQ(m->Predict(0, cold_item), 1.25f);
}

TEST(FactorModel, ColdStartPopular) {
  const Dataset data = Data();
  auto m = MakeModel(4, true, ColdStart::kPopular, data);
  const uint32_t cold_user = m->num_users() - 1, cold_item = m->num_items() - 1;
  QueryOptions q;
  q.n = 3;
  auto recs = Recommend(*m, cold_user, q);
  ASSERT_EQ(recs.size(), 3u);
  for (uint32_t r = 0; r < 3; ++r) {
    EXPECT_EQ(recs[r].item, r) << "cold_user_scores rank item 0 first";
    EXPECT_EQ(recs[r].score, 1.0f / (1 + r));
  }
  EXPECT_TRUE(m->CanPredict(cold_user, 0));
  EXPECT_TRUE(m->CanPredict(0, cold_item));
  EXPECT_EQ(m->Predict(cold_user, 2), 1.0f / 3);
  // A cold item for a warm user: the user's baseline mu + b_u.
  EXPECT_FLOAT_EQ(m->Predict(0, cold_item), m->global_mean() + m->user_biases()[0]);
  std::vector<float> scores(m->num_items());
  m->ScoreItems(0, scores.data());
  EXPECT_EQ(scores[cold_item], m->Predict(0, cold_item));
}

TEST(FactorModel, FoldInScoresWithTheSolvedFactors) {
  const Dataset data = Data();
  auto m = MakeModel(5, true, ColdStart::kDrop, data);
  std::vector<ItemWeight> items = {{1, 4.0f}, {2, 5.0f}};
  std::vector<float> fold(m->num_items()), user0(m->num_items());
  ASSERT_TRUE(m->ScoreFoldIn(items, fold.data()).ok());
  m->ScoreItems(0, user0.data());
  EXPECT_EQ(fold, user0) << "the hand model folds in as user 0";
  // No items: a cold visitor.
  ASSERT_TRUE(m->ScoreFoldIn({}, fold.data()).ok());
  EXPECT_EQ(fold[0], -std::numeric_limits<float>::infinity());
  std::vector<ItemWeight> bad = {{1, std::numeric_limits<float>::quiet_NaN()}};
  EXPECT_FALSE(m->ScoreFoldIn(bad, fold.data()).ok());
}

TEST(FactorModel, InitialisationIsSeededAndScaled) {
  const Dataset data = Data();
  ModelParams p;
  p.factors = 8;
  p.init_scale = 0.5f;
  HandModel a(p), b(p);
  ASSERT_TRUE(a.Fit(data).ok());
  ASSERT_TRUE(b.Fit(data).ok());
  EXPECT_EQ(a.user_factors(), b.user_factors());
  EXPECT_EQ(a.item_factors(), b.item_factors());
  p.seed = 43;
  HandModel c(p);
  ASSERT_TRUE(c.Fit(data).ok());
  EXPECT_NE(a.item_factors(), c.item_factors());
  // N(0, 0.5^2) scaled by 100 in the hand model: sample std near 50.
  double sum = 0, sq = 0;
  for (float v : a.user_factors()) {
    sum += v;
    sq += double{v} * v;
  }
  const double n = static_cast<double>(a.user_factors().size());
  const double mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
  EXPECT_NEAR(mean, 0, 10);
  EXPECT_NEAR(sd, 50, 7);
}

TEST(FactorModel, LoadStateChecksDimensions) {
  const Dataset data = Data();
  auto m = MakeModel(4, false, ColdStart::kDrop, data);
  ModelWriter w;
  m->SaveState(&w);
  {
    ModelParams p = m->params();
    HandModel copy(p);
    copy.RestoreBase(p, m->seen());
    ModelReader r(w.buffer(), "state");
    ASSERT_TRUE(copy.LoadState(&r).ok());
    EXPECT_EQ(copy.item_factors(), m->item_factors());
  }
  {
    ModelParams p = m->params();
    p.factors = 5;
    HandModel other(p);
    other.RestoreBase(p, m->seen());
    ModelReader r(w.buffer(), "state");
    Status s = other.LoadState(&r);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  }
  {
    // A user factor turned into NaN is rejected.
    std::string bytes = w.buffer();
    const size_t first_factor = 4 + 1 + 4 + 4 + 8;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(&bytes[first_factor], &nan, sizeof nan);
    ModelParams p = m->params();
    HandModel bad(p);
    bad.RestoreBase(p, m->seen());
    ModelReader r(bytes, "state");
    EXPECT_EQ(bad.LoadState(&r).code(), StatusCode::kCorruption);
  }
}

TEST(FillNormalRange, EverySubRangeEqualsTheWholeFill) {
  // Odd sizes and odd offsets split a Box-Muller pair between two ranges;
  // a distributed fit draws the initial factors this way, a share per rank.
  for (const size_t size : {size_t{1}, size_t{7}, size_t{8}, size_t{33}}) {
    for (const bool absolute : {false, true}) {
      std::vector<float> whole(size, 0.0f);
      FillNormalRange(SplitMix64(42), 0.1f, absolute, size, 0, size, whole.data());
      for (size_t begin = 0; begin <= size; ++begin) {
        for (size_t end = begin; end <= size; ++end) {
          std::vector<float> part(size, -7.0f);
          FillNormalRange(SplitMix64(42), 0.1f, absolute, size, begin, end, part.data());
          for (size_t i = 0; i < size; ++i) {
            const float expected = i >= begin && i < end ? whole[i] : -7.0f;
            ASSERT_EQ(part[i], expected) << "size " << size << " [" << begin << ", " << end
                                         << ") element " << i;
          }
        }
      }
      // A pair of draws per two elements, the last pair whole.
      EXPECT_EQ(NormalDraws(size), size % 2 == 0 ? size : size + 1);
      SplitMix64 a(42), b(42);
      a.Skip(NormalDraws(size));
      for (uint64_t i = 0; i < NormalDraws(size); ++i) b.Next();
      EXPECT_EQ(a.Next(), b.Next());
      if (absolute) {
        for (float x : whole) EXPECT_GE(x, 0.0f);
      }
    }
  }
}

}  // namespace
}  // namespace encore::model
