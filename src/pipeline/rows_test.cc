// RecommendationRows: the streamed rows are exactly the model's lists, block
// boundaries or not.

#include "pipeline/rows.h"

#include <gtest/gtest.h>

#include <charconv>

#include "test_data.h"

namespace encore::pipeline {
namespace {

TrainedModel Fit(const std::string& kind) {
  Dataset data = testing::MakeTestDataset();
  auto model = CreateRecommender(kind, ModelParams());
  EXPECT_TRUE(model.ok());
  EXPECT_TRUE((*model)->Fit(data).ok());
  return TrainedModel{std::move(model).value(), data.users.Clone(), data.items.Clone()};
}

std::vector<std::vector<std::string>> Collect(const RowSource& rows) {
  std::vector<std::vector<std::string>> out;
  Status s = rows.ForEach([&](std::span<const std::string_view> cells) {
    out.emplace_back(cells.begin(), cells.end());
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.message();
  return out;
}

std::string Score(float v) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

TEST(PipelineRows, UserListsEqualRecommendAcrossBlocks) {
  TrainedModel model = Fit("ials");
  QueryOptions q;
  q.n = 4;
  RecommendationRows rows(model, RecommendKind::kUsers, std::nullopt, q);
  rows.set_block_size(7);  // 61 users: several blocks and a partial one
  EXPECT_EQ(rows.columns(), (std::vector<std::string>{"user", "item", "score", "rank"}));
  auto got = Collect(rows);
  std::vector<std::vector<std::string>> want;
  for (uint32_t u = 0; u < model.users.size(); ++u) {
    auto list = Recommend(*model.model, u, q);
    for (size_t r = 0; r < list.size(); ++r) {
      want.push_back({std::string(model.users.Name(u)), std::string(model.items.Name(list[r].item)),
                      Score(list[r].score), std::to_string(r + 1)});
    }
  }
  EXPECT_GT(want.size(), 100u);
  EXPECT_EQ(got, want);
  EXPECT_EQ(Collect(rows), got) << "a second pass gives the same rows";
}

TEST(PipelineRows, ChosenIdsAndSimilarItems) {
  TrainedModel model = Fit("cooccurrence");
  QueryOptions q;
  q.n = 3;
  RecommendationRows some(model, RecommendKind::kUsers, std::vector<uint32_t>{5, 2}, q);
  auto rows = Collect(some);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.front()[0], model.users.Name(5));
  EXPECT_EQ(rows.back()[0], model.users.Name(2));
  RecommendationRows none(model, RecommendKind::kUsers, std::vector<uint32_t>{}, q);
  EXPECT_TRUE(Collect(none).empty()) << "an empty id list means no ids, not all";

  RecommendationRows similar(model, RecommendKind::kSimilar, std::nullopt, q);
  EXPECT_EQ(similar.columns()[1], "similar_item");
  auto sim = Collect(similar);
  std::vector<ScoredItem> first;
  ASSERT_TRUE(model.model->SimilarItems(0, 3, &first).ok());
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(sim[0][0], model.items.Name(0));
  EXPECT_EQ(sim[0][1], model.items.Name(first[0].item));
  EXPECT_EQ(sim[0][3], "1");
}

TEST(PipelineRows, ModelsWithoutSimilarityFail) {
  TrainedModel model = Fit("popularity");
  RecommendationRows similar(model, RecommendKind::kSimilar, std::nullopt, QueryOptions());
  Status s = similar.ForEach([](std::span<const std::string_view>) { return Status::OK(); });
  EXPECT_FALSE(s.ok());
}

TEST(PipelineRows, ResolveIdsCountsUnknown) {
  TrainedModel model = Fit("popularity");
  uint64_t unknown = 0;
  std::vector<std::string> first;
  auto ids =
      ResolveIds(model.users, {std::string(model.users.Name(3)), "nobody"}, &unknown, &first);
  EXPECT_EQ(ids, std::vector<uint32_t>{3});
  EXPECT_EQ(unknown, 1u);
  EXPECT_EQ(first, std::vector<std::string>{"nobody"});
}

}  // namespace
}  // namespace encore::pipeline
