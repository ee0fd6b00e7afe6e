// CombineTrainTest: a training log and a separate test log as one dataset
// whose one-fold assignment holds out exactly the test pairs.

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "encore/evaluate.h"

namespace encore {
namespace {

using Pair = std::tuple<std::string, std::string, float>;

InteractionLog Log(const std::vector<Pair>& rows) {
  InteractionLog log;
  for (const auto& [u, i, v] : rows) {
    log.user.push_back(log.users.Intern(u));
    log.item.push_back(log.items.Intern(i));
    log.value.push_back(v);
  }
  return log;
}

std::set<Pair> Named(const CsrMatrix& m, const Dataset& d) {
  std::set<Pair> out;
  for (uint32_t u = 0; u < m.rows; ++u) {
    for (uint64_t k = m.indptr[u]; k < m.indptr[u + 1]; ++k) {
      out.emplace(std::string(d.users.Name(u)), std::string(d.items.Name(m.indices[k])),
                  m.values[k]);
    }
  }
  return out;
}

DatasetOptions Explicit() {
  DatasetOptions o;
  o.feedback = Feedback::kExplicit;
  o.threads = 1;
  return o;
}

TEST(CombineTrainTest, TrainingPartIsTheTrainingLogAndTestPartTheTestLog) {
  const std::vector<Pair> train = {{"a", "x", 5}, {"a", "y", 3}, {"b", "x", 4}};
  const std::vector<Pair> test = {{"b", "y", 2}, {"c", "x", 1}, {"a", "z", 4}};
  auto given = CombineTrainTest(Log(train), Log(test), Explicit());
  ASSERT_TRUE(given.ok()) << given.status().ToString();
  EXPECT_EQ(given->test_only_users, 1u);  // c
  EXPECT_EQ(given->test_only_items, 1u);  // z
  EXPECT_EQ(given->overlap_pairs, 0u);
  ASSERT_EQ(given->folds.folds, 1u);
  EXPECT_EQ(given->folds.Count(0), 3u);
  TrainTest tt = MakeTrainTest(given->data, given->folds, 0, 1);
  EXPECT_EQ(Named(tt.train.by_user, tt.train), std::set<Pair>(train.begin(), train.end()));
  EXPECT_EQ(Named(tt.test, tt.train), std::set<Pair>(test.begin(), test.end()));
}

TEST(CombineTrainTest, OverlapIsAnErrorOrDroppedFromOneSide) {
  const std::vector<Pair> train = {{"a", "x", 5}, {"a", "y", 3}, {"b", "x", 4}};
  const std::vector<Pair> test = {{"a", "x", 5}, {"b", "y", 2}};
  auto error = CombineTrainTest(Log(train), Log(test), Explicit());
  ASSERT_FALSE(error.ok());
  EXPECT_NE(error.status().message().find("user 'a', item 'x'"), std::string::npos)
      << error.status().message();
  EXPECT_NE(error.status().message().find("--test-overlap"), std::string::npos);

  auto from_test = CombineTrainTest(Log(train), Log(test), Explicit(), TestOverlap::kDropFromTest);
  ASSERT_TRUE(from_test.ok()) << from_test.status().ToString();
  EXPECT_EQ(from_test->overlap_pairs, 1u);
  TrainTest a = MakeTrainTest(from_test->data, from_test->folds, 0, 1);
  EXPECT_EQ(Named(a.train.by_user, a.train), std::set<Pair>(train.begin(), train.end()));
  EXPECT_EQ(Named(a.test, a.train), (std::set<Pair>{{"b", "y", 2}}));

  auto from_train =
      CombineTrainTest(Log(train), Log(test), Explicit(), TestOverlap::kDropFromTrain);
  ASSERT_TRUE(from_train.ok()) << from_train.status().ToString();
  TrainTest b = MakeTrainTest(from_train->data, from_train->folds, 0, 1);
  EXPECT_EQ(Named(b.train.by_user, b.train), (std::set<Pair>{{"a", "y", 3}, {"b", "x", 4}}));
  EXPECT_EQ(Named(b.test, b.train), std::set<Pair>(test.begin(), test.end()));

  EXPECT_TRUE(ParseTestOverlap("drop-from-train").ok());
  EXPECT_FALSE(ParseTestOverlap("drop").ok());
}

TEST(CombineTrainTest, EmptyLogsAndMismatchedTimesAreErrors) {
  EXPECT_FALSE(CombineTrainTest(Log({}), Log({{"a", "x", 1}}), Explicit()).ok());
  EXPECT_FALSE(CombineTrainTest(Log({{"a", "x", 1}}), Log({}), Explicit()).ok());
  InteractionLog timed = Log({{"a", "x", 1}});
  timed.has_times = true;
  timed.time.push_back(100);
  EXPECT_FALSE(CombineTrainTest(std::move(timed), Log({{"b", "x", 1}}), Explicit()).ok());
}

}  // namespace
}  // namespace encore
