// Splits and folds: sizes, disjointness, union = original, determinism,
// the min_train rule, time order, and the data-layer subset helpers.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "encore/evaluate.h"
#include "eval/eval_test_data.h"
#include "test_data.h"

namespace encore {
namespace {

using testing::MakeDataset;
using testing::MakeTestDataset;
using testing::Row;

using Entry = std::tuple<uint32_t, uint32_t, float>;  // user, item, value

std::vector<Entry> Entries(const CsrMatrix& m) {
  std::vector<Entry> out;
  for (uint32_t u = 0; u < m.rows; ++u) {
    for (uint64_t j = m.indptr[u]; j < m.indptr[u + 1]; ++j) {
      out.emplace_back(u, m.indices[j], m.values[j]);
    }
  }
  return out;
}

// train and test are disjoint, their union is the original, and the train
// Dataset is consistent (same dictionaries, by_item the transpose).
void ExpectPartition(const Dataset& data, const TrainTest& tt) {
  std::vector<Entry> all = Entries(data.by_user), train = Entries(tt.train.by_user),
                     test = Entries(tt.test);
  std::vector<Entry> both;
  std::set_intersection(train.begin(), train.end(), test.begin(), test.end(),
                        std::back_inserter(both));
  EXPECT_TRUE(both.empty());
  std::vector<Entry> merged;
  std::merge(train.begin(), train.end(), test.begin(), test.end(), std::back_inserter(merged));
  EXPECT_EQ(merged, all);
  ASSERT_EQ(tt.train.users.size(), data.users.size());
  ASSERT_EQ(tt.train.items.size(), data.items.size());
  for (uint32_t u = 0; u < data.users.size(); ++u) {
    EXPECT_EQ(tt.train.users.Name(u), data.users.Name(u));
  }
  for (uint32_t i = 0; i < data.items.size(); ++i) {
    EXPECT_EQ(tt.train.items.Find(data.items.Name(i)), i);
  }
  EXPECT_EQ(tt.test.rows, data.by_user.rows);
  EXPECT_EQ(tt.test.cols, data.by_user.cols);
  const CsrMatrix t = tt.train.by_user.Transpose(1);
  EXPECT_EQ(t.indptr, tt.train.by_item.indptr);
  EXPECT_EQ(t.indices, tt.train.by_item.indices);
  EXPECT_EQ(tt.train.summary.rows, tt.train.nnz());
}

// 20 users with 2..11 interactions each, at distinct-ish times.
Dataset TimedDataset() {
  std::vector<Row> rows;
  int64_t clock = 1000;
  for (uint32_t u = 0; u < 20; ++u) {
    for (uint32_t k = 0; k < 2 + u % 10; ++k) {
      clock += 7 + (u * 13 + k * 5) % 11;
      rows.push_back(
          {u, (u * 3 + k * 7) % 30, static_cast<float>(1 + k % 5), (clock * 7919) % 100000});
    }
  }
  return MakeDataset(20, 30, rows);
}

TEST(SplitRandom, HoldsOutExactlyTheFractionAndPartitions) {
  const Dataset data = MakeTestDataset();
  SplitOptions o;
  o.test_fraction = 0.25;
  auto a = HoldoutSplit(data, o);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->folds, 1u);
  EXPECT_EQ(a->Count(0), static_cast<uint64_t>(std::llround(0.25 * data.nnz())));
  EXPECT_EQ(a->Count(0) + a->Count(kTrainOnly), data.nnz());
  ExpectPartition(data, MakeTrainTest(data, *a, 0));
}

TEST(SplitRandom, SameSeedSameSplitOtherSeedOther) {
  const Dataset data = MakeTestDataset();
  SplitOptions o;
  auto a = HoldoutSplit(data, o);
  auto b = HoldoutSplit(data, o);
  o.seed = 43;
  auto c = HoldoutSplit(data, o);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->fold, b->fold);
  EXPECT_NE(a->fold, c->fold);
}

TEST(SplitRandom, OptionErrors) {
  const Dataset data = MakeTestDataset();
  for (double f : {0.0, 1.0, -0.5, 1.5, std::nan("")}) {
    SplitOptions o;
    o.test_fraction = f;
    EXPECT_EQ(HoldoutSplit(data, o).status().code(), StatusCode::kInvalidArgument) << f;
  }
  SplitOptions o;
  o.leave_k = 1;  // leave-k is per user
  EXPECT_FALSE(HoldoutSplit(data, o).ok());
  o = {};
  o.cutoff = 5;  // cutoff is for time splits
  EXPECT_FALSE(HoldoutSplit(data, o).ok());
  o = {};
  o.test_fraction = 1e-6;  // rounds to no test nonzero
  EXPECT_NE(HoldoutSplit(data, o).status().message().find("holds out nothing"), std::string::npos);
  EXPECT_FALSE(HoldoutSplit(MakeDataset(2, 2, {}), SplitOptions{}).ok());
}

TEST(SplitUser, FractionPerUserWithMinTrain) {
  const Dataset data = TimedDataset();
  SplitOptions o;
  o.method = SplitMethod::kUser;
  o.test_fraction = 0.3;
  o.min_train = 3;
  auto a = HoldoutSplit(data, o);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  for (uint32_t u = 0; u < data.by_user.rows; ++u) {
    const uint64_t n = data.by_user.RowLength(u);
    uint64_t held = 0;
    for (uint64_t j = data.by_user.indptr[u]; j < data.by_user.indptr[u + 1]; ++j) {
      held += a->fold[j] == 0;
    }
    // round(0.3 n), unless fewer than 3 would stay in training.
    const uint64_t t = std::llround(0.3 * n);
    EXPECT_EQ(held, n - t >= 3 ? t : 0) << "user " << u << " with " << n;
  }
  ExpectPartition(data, MakeTrainTest(data, *a, 0));
}

TEST(SplitUser, LeaveKOutKeepsSmallUsersInTraining) {
  const Dataset data = TimedDataset();
  SplitOptions o;
  o.method = SplitMethod::kUser;
  o.leave_k = 2;
  o.min_train = 2;
  auto a = HoldoutSplit(data, o);
  ASSERT_TRUE(a.ok());
  TrainTest tt = MakeTrainTest(data, *a, 0);
  for (uint32_t u = 0; u < data.by_user.rows; ++u) {
    const uint64_t n = data.by_user.RowLength(u);
    EXPECT_EQ(tt.test.RowLength(u), n >= 4 ? 2u : 0u) << "user " << u << " with " << n;
  }
  ExpectPartition(data, tt);
  auto again = HoldoutSplit(data, o);
  EXPECT_EQ(again->fold, a->fold);
}

TEST(SplitUser, ThreadCountNeverChangesTheSplit) {
  // Enough users for the per-user work to run in parallel.
  const Dataset data = MakeTestDataset({.users = 9000, .per_user = 5});
  SplitOptions o;
  o.method = SplitMethod::kUser;
  o.threads = 1;
  auto one = HoldoutSplit(data, o);
  o.threads = 2;
  auto two = HoldoutSplit(data, o);
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_EQ(one->fold, two->fold);
  FoldOptions fo;
  fo.per_user = true;
  fo.folds = 3;
  fo.threads = 1;
  auto f1 = KFoldSplit(data, fo);
  fo.threads = 2;
  auto f2 = KFoldSplit(data, fo);
  ASSERT_TRUE(f1.ok() && f2.ok());
  EXPECT_EQ(f1->fold, f2->fold);
}

TEST(SplitTime, LeaveLastKPerUserHoldsTheLatest) {
  const Dataset data = TimedDataset();
  SplitOptions o;
  o.method = SplitMethod::kTime;
  o.leave_k = 1;
  o.min_train = 1;
  auto a = HoldoutSplit(data, o);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  TrainTest tt = MakeTrainTest(data, *a, 0);
  ExpectPartition(data, tt);
  for (uint32_t u = 0; u < data.by_user.rows; ++u) {
    ASSERT_EQ(tt.test.RowLength(u), 1u);  // every user has >= 2 interactions
    const int64_t held = tt.test.times[tt.test.indptr[u]];
    for (uint64_t j = tt.train.by_user.indptr[u]; j < tt.train.by_user.indptr[u + 1]; ++j) {
      EXPECT_LE(tt.train.by_user.times[j], held) << "user " << u;
    }
  }
}

TEST(SplitTime, GlobalQuantileAndCutoff) {
  const Dataset data = TimedDataset();
  SplitOptions o;
  o.method = SplitMethod::kTime;
  o.test_fraction = 0.2;
  auto a = HoldoutSplit(data, o);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  TrainTest tt = MakeTrainTest(data, *a, 0);
  ExpectPartition(data, tt);
  const int64_t latest_train =
      *std::max_element(tt.train.by_user.times.begin(), tt.train.by_user.times.end());
  const int64_t earliest_test = *std::min_element(tt.test.times.begin(), tt.test.times.end());
  EXPECT_LT(latest_train, earliest_test);
  // At least the fraction (ties at the cutoff all go to test).
  EXPECT_GE(tt.test.nnz(), static_cast<uint64_t>(std::llround(0.2 * data.nnz())));

  o.cutoff = earliest_test;  // the same split, by time
  auto b = HoldoutSplit(data, o);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->fold, a->fold);
  o.cutoff = int64_t{1} << 40;  // after everything
  EXPECT_NE(HoldoutSplit(data, o).status().message().find("holds out nothing"), std::string::npos);
}

TEST(SplitTime, NeedsTimes) {
  SplitOptions o;
  o.method = SplitMethod::kTime;
  auto a = HoldoutSplit(MakeTestDataset(), o);
  EXPECT_EQ(a.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(a.status().message().find("time"), std::string::npos);
}

TEST(SplitMethodNames, RoundTrip) {
  for (auto m : {SplitMethod::kRandom, SplitMethod::kUser, SplitMethod::kTime}) {
    EXPECT_EQ(ParseSplitMethod(SplitMethodName(m)).value(), m);
  }
  EXPECT_FALSE(ParseSplitMethod("stratified").ok());
}

TEST(SplitKFold, NonzeroFoldsPartitionEvenly) {
  const Dataset data = MakeTestDataset();
  FoldOptions o;
  o.folds = 4;
  auto a = KFoldSplit(data, o);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->Count(kTrainOnly), 0u);
  uint64_t total = 0;
  for (uint8_t f = 0; f < 4; ++f) {
    const uint64_t n = a->Count(f);
    EXPECT_LE(n, (data.nnz() + 3) / 4);
    EXPECT_GE(n, data.nnz() / 4);
    total += n;
    ExpectPartition(data, MakeTrainTest(data, *a, f));
  }
  EXPECT_EQ(total, data.nnz());
  EXPECT_EQ(KFoldSplit(data, o)->fold, a->fold);
  o.seed = 1;
  EXPECT_NE(KFoldSplit(data, o)->fold, a->fold);
}

TEST(SplitKFold, PerUserFoldsRespectMinTrain) {
  const Dataset data = TimedDataset();
  FoldOptions o;
  o.folds = 3;
  o.per_user = true;
  o.min_train = 2;
  auto a = KFoldSplit(data, o);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  for (uint32_t u = 0; u < data.by_user.rows; ++u) {
    const uint64_t n = data.by_user.RowLength(u);
    std::map<uint8_t, uint64_t> per_fold;
    for (uint64_t j = data.by_user.indptr[u]; j < data.by_user.indptr[u + 1]; ++j) {
      ++per_fold[a->fold[j]];
    }
    const uint64_t largest = (n + 2) / 3;
    if (n < largest + 2) {  // would keep fewer than 2 in training in some fold
      EXPECT_EQ(per_fold[kTrainOnly], n) << "user " << u;
      continue;
    }
    EXPECT_EQ(per_fold.count(kTrainOnly), 0u);
    for (uint8_t f = 0; f < 3; ++f) {
      EXPECT_GE(per_fold[f], n / 3) << "user " << u;
      EXPECT_LE(per_fold[f], largest) << "user " << u;
      EXPECT_GE(n - per_fold[f], 2u);
    }
  }
  for (uint8_t f = 0; f < 3; ++f) ExpectPartition(data, MakeTrainTest(data, *a, f));
}

TEST(SplitKFold, Errors) {
  const Dataset data = MakeTestDataset();
  FoldOptions o;
  o.folds = 1;
  EXPECT_FALSE(KFoldSplit(data, o).ok());
  o.folds = kMaxFolds + 1;
  EXPECT_FALSE(KFoldSplit(data, o).ok());
  o.folds = 3;
  EXPECT_FALSE(KFoldSplit(MakeDataset(2, 2, {{0, 0}, {1, 1}}), o).ok());
}

TEST(SplitSubset, SelectNonzerosKeepsValuesAndTimes) {
  const Dataset data = MakeDataset(2, 3, {{0, 0, 1, 10}, {0, 2, 2, 20}, {1, 1, 3, 30}});
  const std::vector<uint8_t> keep = {0, 1, 1};
  const CsrMatrix m = SelectNonzeros(data.by_user, keep);
  EXPECT_EQ(m.indptr, (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ(m.indices, (std::vector<uint32_t>{2, 1}));
  EXPECT_EQ(m.values, (std::vector<float>{2, 3}));
  EXPECT_EQ(m.times, (std::vector<int64_t>{20, 30}));
  const Dataset sub = DatasetFromMatrix(data, m, 1);
  EXPECT_EQ(sub.summary.time_min, 20);
  EXPECT_EQ(sub.summary.time_max, 30);
  EXPECT_EQ(sub.by_item.indptr, (std::vector<uint64_t>{0, 0, 1, 2}));
  const IdDictionary copy = data.users.Clone();
  EXPECT_EQ(copy.size(), 2u);
  EXPECT_EQ(copy.Find("u1"), 1u);
}

}  // namespace
}  // namespace encore
