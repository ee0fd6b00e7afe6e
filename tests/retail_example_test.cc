// examples/ruelala_personalization.toml runs end to end: six feeds with
// _SUCCESS, a store whose GET returns a member's payload and the fallback.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "encore/store.h"
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

}  // namespace
}  // namespace encore
