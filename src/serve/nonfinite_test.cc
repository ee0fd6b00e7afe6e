// Regression: a non-finite score is treated the same way by publishing (the
// stored payloads) and by the HTTP fold-in route. Before the one query path,
// publish failed the whole snapshot and the fold-in route wrote the score
// as text that is not JSON ("inf", or 0 when formatting failed). Now the
// ranker drops such items on both paths, and both answer the same list.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "encore/publish.h"
#include "fixed_scores_model.h"
#include "serve/router.h"

namespace encore::serve {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(NonFiniteScores, PublishAndFoldInAnswerTheSameList) {
  // Two users with the same scores; u1 (like the visitor below) holds i4.
  const std::vector<float> row = {kNaN, kInf, 3.0f, -kInf, 1.0f, 2.0f};
  std::vector<float> scores = row;
  scores.insert(scores.end(), row.begin(), row.end());
  auto model = std::make_shared<TrainedModel>();
  model->model = std::make_unique<testing::FixedScoresModel>(
      2, 6, scores, std::vector<std::vector<uint32_t>>{{}, {4}});
  for (const char* u : {"u0", "u1"}) model->users.Intern(u);
  for (const char* i : {"i0", "i1", "i2", "i3", "i4", "i5"}) model->items.Intern(i);

  auto store = Store::Open("memory:nonfinite_test");
  ASSERT_TRUE(store.ok());
  PublishOptions po;
  po.n = 4;
  po.include_model = false;
  auto published = Publish(*model, po, store->get());
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  auto snap = (*store)->OpenSnapshot(published->snapshot.version);
  ASSERT_TRUE(snap.ok());
  std::string u0, u1;
  ASSERT_TRUE((*snap)->Get(Table::kUser, "u0", &u0).ok());
  ASSERT_TRUE((*snap)->Get(Table::kUser, "u1", &u1).ok());
  const std::string v = std::to_string(published->snapshot.version);
  EXPECT_EQ(u0, "{\"user\":\"u0\",\"snapshot\":" + v +
                    ",\"items\":[{\"item\":\"i2\",\"score\":3},{\"item\":\"i5\",\"score\":2},"
                    "{\"item\":\"i4\",\"score\":1}]}");
  const std::string list = "[{\"item\":\"i2\",\"score\":3},{\"item\":\"i5\",\"score\":2}]";
  EXPECT_EQ(u1, "{\"user\":\"u1\",\"snapshot\":" + v + ",\"items\":" + list + "}");

  // The fold-in route, for a visitor holding i4: the list of u1.
  auto loaded = std::make_shared<LoadedSnapshot>();
  loaded->info.version = 9;
  loaded->info_doc = "{}";
  loaded->model = model;
  Metrics metrics;
  Router router(
      ServeOptions(), &metrics,
      [] { return Result<SnapshotHolder::RefreshResult>(SnapshotHolder::RefreshResult{}); },
      "memory:x", 1);
  HttpRequest r;
  r.method = "POST";
  r.target = "/v1/recommendations";
  r.content_type = "application/json";
  r.body = R"({"items":["i4"],"limit":4})";
  HttpResponse resp = router.Handle(r, loaded.get());
  ASSERT_EQ(resp.status, 200) << resp.body;
  EXPECT_EQ(resp.body, "{\"snapshot\":9,\"items\":" + list + ",\"unknown_items\":[]}");
}

}  // namespace
}  // namespace encore::serve
