// examples/ruelala_personalization.toml runs end to end: six feeds with
// _SUCCESS, a store whose GET returns a member's payload and the fallback.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "encore/store.h"
#include "serve_fixture.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::CommandResult;
using testing::ReadFile;
using testing::RunEncore;
using testing::TempDir;

TEST(RetailExample, RunsWritesSixFeedsAndPublishes) {
  TempDir dir;
  const std::string example =
      std::string(ENCORE_SOURCE_DIR) + "/examples/ruelala_personalization.toml";
  CommandResult r = RunEncore("run " + example + " --workdir " + dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string feeds = dir.path() + "/out/feeds";
  ASSERT_TRUE(std::filesystem::exists(feeds + "/_SUCCESS"));
  for (const char* f :
       {"products", "products_card", "brands", "brands_card", "categories", "categories_card"}) {
    const std::string text = ReadFile(feeds + "/" + std::string(f) + ".jsonl");
    EXPECT_NE(text.find(std::string("\"") + f + "\":["), std::string::npos) << f;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3000) << f;
  }
  auto store = Store::OpenExisting(dir.path() + "/store");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto version = (*store)->CurrentVersion();
  ASSERT_TRUE(version.ok());
  auto snap = (*store)->OpenSnapshot(*version);
  ASSERT_TRUE(snap.ok());
  std::string payload, fallback;
  ASSERT_TRUE((*snap)->Get(Table::kUser, "m0325", &payload).ok());
  EXPECT_NE(payload.find("\"feeds\":{\"products\":["), std::string::npos);
  EXPECT_NE(payload.find("\"categories_card\":["), std::string::npos);
  ASSERT_TRUE((*snap)->Get(Table::kMeta, "popular", &fallback).ok());
  EXPECT_NE(fallback.find("\"fallback\":\"popular\""), std::string::npos);
}

// GET through the server on the example's store: a member's whole payload,
// ?feeds=, the fallback for an unknown member, a bad feed name.
class RetailServeTest : public testing::ServeTest {};

TEST_F(RetailServeTest, AnswersPayloadFeedsAndFallback) {
  TempDir dir;
  const std::string example =
      std::string(ENCORE_SOURCE_DIR) + "/examples/ruelala_personalization.toml";
  CommandResult r = RunEncore("run " + example + " --workdir " + dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  requested_store_uri_ = dir.path() + "/store";
  StartServer(testing::FastServeOptions(), /*publish=*/false);
  testing::HttpReply all = Get("/v1/users/m0325/recommendations");
  ASSERT_EQ(all.status, 200) << all.body;
  for (const char* f :
       {"products", "products_card", "brands", "brands_card", "categories", "categories_card"}) {
    EXPECT_NE(all.body.find(std::string("\"") + f + "\":["), std::string::npos) << f;
  }
  testing::HttpReply some = Get("/v1/users/m0325/recommendations?feeds=brands_card");
  ASSERT_EQ(some.status, 200) << some.body;
  EXPECT_NE(some.body.find("\"feeds\":{\"brands_card\":["), std::string::npos) << some.body;
  EXPECT_EQ(some.body.find("\"products_card\":"), std::string::npos) << some.body;
  EXPECT_EQ(some.body.find("\"categories\":"), std::string::npos) << some.body;
  testing::HttpReply unknown = Get("/v1/users/nobody/recommendations");
  ASSERT_EQ(unknown.status, 200) << unknown.body;
  EXPECT_EQ(unknown.body.rfind("{\"user\":\"nobody\",", 0), 0u) << unknown.body;
  EXPECT_NE(unknown.body.find("\"fallback\":\"popular\""), std::string::npos);
  EXPECT_EQ(Get("/v1/users/m0325/recommendations?feeds=bogus").status, 400);
  EXPECT_EQ(Get("/v1/users/m0325/recommendations?limit=2").status, 400);
}

}  // namespace
}  // namespace encore
