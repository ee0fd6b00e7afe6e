// Train-and-save and recommend-to-outputs (encore/workflow.h).

#include "encore/workflow.h"

#include <gtest/gtest.h>

#include "encore/input.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

Dataset Small(const TempDir& dir) {
  WriteFile(dir.File("r.csv"), "user,item\nann,a\nann,b\nbob,b\nbob,c\ncid,a\ncid,c\ncid,d\n");
  InputOptions o;
  o.files = {dir.File("r.csv")};
  ReadReport report;
  return std::move(LoadInput(o, &report)).value();
}

TEST(Workflow, TrainAndSaveWritesAFileThatLoadsBack) {
  TempDir dir;
  const Dataset data = Small(dir);
  TrainReport report;
  Result<TrainedModel> model =
      TrainAndSave("popularity", ModelParams{}, data, dir.File("m.model"), &report);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(report.file, dir.File("m.model"));
  EXPECT_GT(report.file_bytes, 0u);
  Result<TrainedModel> loaded = LoadModel(dir.File("m.model"));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->users.size(), 3u);
  // The dataset keeps its dictionaries (the model holds copies).
  EXPECT_EQ(data.users.size(), 3u);
  EXPECT_EQ(TrainAndSave("svd", ModelParams{}, data, "", nullptr).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(Workflow, RecommendRequestDefaultsAndLists) {
  TempDir dir;
  const Dataset data = Small(dir);
  Result<TrainedModel> model = TrainAndSave("popularity", ModelParams{}, data, "");
  ASSERT_TRUE(model.ok());
  RecommendRequest request;
  Result<ResolvedRequest> r = ResolveRecommendRequest(*model, request);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->query.n, DefaultListLength(ModelParams{}, "popularity"));
  EXPECT_TRUE(r->query.exclude_seen);
  EXPECT_FALSE(r->ids.has_value());
  WriteFile(dir.File("users.txt"), "ann\nnobody\n");
  WriteFile(dir.File("allow.txt"), "zzz\n");
  request.ids_file = dir.File("users.txt");
  r = ResolveRecommendRequest(*model, request);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ids->size(), 1u);
  EXPECT_EQ(r->unknown, 1u);
  EXPECT_EQ(r->first_unknown, (std::vector<std::string>{"nobody"}));
  request.allow_file = dir.File("allow.txt");
  EXPECT_NE(ResolveRecommendRequest(*model, request).status().message().find("names no item"),
            std::string::npos);
  // Popularity has no item similarity: a similar-items request fails early.
  RecommendRequest similar;
  similar.kind = RecommendKind::kSimilar;
  EXPECT_FALSE(ResolveRecommendRequest(*model, similar).ok());
  RecommendRequest top1;
  top1.n = 1;
  Result<BatchReport> written = RecommendToFile(*model, top1, dir.File("recs.csv"));
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_EQ(written->rows, 3u);
  EXPECT_EQ(ReadFile(dir.File("recs.csv")).substr(0, 21), "user,item,score,rank\n");
}

TEST(Workflow, PublishUsesTheModelsListLengthWhenNIsZero) {
  TempDir dir;
  const Dataset data = Small(dir);
  ModelParams params;
  params.n = 2;
  Result<TrainedModel> model = TrainAndSave("popularity", params, data, "");
  ASSERT_TRUE(model.ok());
  PublishOptions options;
  options.n = 0;
  Result<PublishReport> published = PublishToStore(*model, options, "memory:workflow_test");
  ASSERT_TRUE(published.ok()) << published.status().message();
  EXPECT_EQ(published->user_payloads, 3u);
  Result<std::unique_ptr<Store>> store = Store::Open("memory:workflow_test");
  ASSERT_TRUE(store.ok());
}

}  // namespace
}  // namespace encore
