// Pipeline in process: publishing to a memory store, preparation steps in
// the manifest, the plan of a pruned pipeline.

#include "encore/pipeline.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>

#include "encore/store.h"
#include "pipeline_test_util.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::EventsCsv;
using testing::JsonString;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

PipelineOptions Quiet() {
  PipelineOptions o;
  o.progress = Progress::Mode::kQuiet;
  return o;
}

TEST(PipelineRun, PublishesToAStore) {
  TempDir dir;
  WriteFile(dir.File("e.csv"), EventsCsv(20, 12, 5, 4));
  WriteFile(dir.File("p.toml"), R"(name = "serving"
[sources.e]
path = "e.csv"
[models.co]
kind = "cooccurrence"
[outputs.serving]
kind = "publish"
model = "co"
store = "memory:pipeline_run_test"
n = 3
similar_n = 2
)");
  auto pipeline = Pipeline::Load(dir.File("p.toml"), Quiet());
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  auto result = (*pipeline)->Run();
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ(result->outputs.size(), 1u);
  EXPECT_EQ(result->outputs[0].kind, "publish");
  EXPECT_EQ(result->outputs[0].rows, 20u) << "one payload per user";
  auto store = Store::Open("memory:pipeline_run_test");
  ASSERT_TRUE(store.ok());
  auto version = (*store)->CurrentVersion();
  ASSERT_TRUE(version.ok()) << version.status().message();
  auto snapshot = (*store)->OpenSnapshot(*version);
  ASSERT_TRUE(snapshot.ok());
  std::string payload;
  ASSERT_TRUE((*snapshot)->Get(Table::kUser, "u0", &payload).ok());
  EXPECT_NE(payload.find("\"user\":\"u0\""), std::string::npos) << payload;
}

TEST(PipelineRun, PreparationStepsAreCountedInTheManifest) {
  TempDir dir;
  // 40 users with 4 recent events, and 10 old events 300 days earlier.
  std::string csv = "user,item,event,ts\n";
  for (int u = 0; u < 40; ++u) {
    for (int k = 0; k < 4; ++k) {
      csv += "u" + std::to_string(u) + ",i" + std::to_string((u + k) % 15) + ",click," +
             std::to_string(1700000000 + u * 60 + k) + "\n";
    }
  }
  for (int k = 0; k < 10; ++k) {
    csv +=
        "old" + std::to_string(k) + ",i1,click," + std::to_string(1700000000 - 300 * 86400) + "\n";
  }
  csv += "u0,lonely,click,1700000000\n";  // an item with one user: dropped by min_item
  WriteFile(dir.File("e.csv"), csv);
  WriteFile(dir.File("p.toml"), R"(name = "prep"
[sources.e]
path = "e.csv"
[prepare]
window = "9 months"
sample = { fraction = 0.5, seed = 3 }
min_user_interactions = 4
min_item_interactions = 2
[models.pop]
kind = "popularity"
[recommend.top]
model = "pop"
n = 2
[outputs.csv]
kind = "csv"
from = "top"
path = "out"
)");
  auto pipeline = Pipeline::Load(dir.File("p.toml"), Quiet());
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  auto result = (*pipeline)->Run();
  ASSERT_TRUE(result.ok()) << result.status().message();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(ReadFile(result->run_dir + "/manifest.json")).get(doc), simdjson::SUCCESS);
  simdjson::dom::array steps;
  ASSERT_EQ(doc["counts"]["prepare"].get(steps), simdjson::SUCCESS);
  std::vector<std::string> names;
  for (auto s : steps) names.push_back(JsonString(s["step"]));
  EXPECT_EQ(names, (std::vector<std::string>{"read", "window", "sample", "dataset",
                                             "min_user_interactions", "min_item_interactions"}));
  uint64_t read = 0, window = 0, sample = 0, users = 0, final_users = 0;
  ASSERT_EQ(steps.at(0)["rows"].get(read), simdjson::SUCCESS);
  ASSERT_EQ(steps.at(1)["rows"].get(window), simdjson::SUCCESS);
  ASSERT_EQ(steps.at(2)["rows"].get(sample), simdjson::SUCCESS);
  ASSERT_EQ(steps.at(2)["users"].get(users), simdjson::SUCCESS);
  EXPECT_EQ(read, 40u * 4 + 10 + 1);
  EXPECT_EQ(window, 40u * 4 + 1) << "the old events fall outside 9 months";
  EXPECT_LT(sample, window);
  EXPECT_GT(users, 5u);
  EXPECT_LT(users, 35u);
  EXPECT_EQ(JsonString(steps.at(1)["since"]).substr(0, 4), "2023");
  ASSERT_EQ(doc["counts"]["users"].get(final_users), simdjson::SUCCESS);
  EXPECT_LE(final_users, users);
}

TEST(PipelineRun, PlanOfAPrunedPipelineNamesOnlyWhatItNeeds) {
  TempDir dir;
  WriteFile(dir.File("e.csv"), EventsCsv(5, 8, 3, 1));
  WriteFile(dir.File("p.toml"), R"(name = "two"
[sources.e]
path = "e.csv"
[models.a]
kind = "popularity"
[models.b]
kind = "cooccurrence"
[outputs.pa]
kind = "publish"
model = "a"
store = "store-a"
[outputs.pb]
kind = "publish"
model = "b"
store = "redis://localhost:6379/2"
)");
  PipelineOptions options = Quiet();
  options.only = "pb";
  options.workdir = dir.File("w");
  auto pipeline = Pipeline::Load(dir.File("p.toml"), options);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  const std::string plan = (*pipeline)->FormatPlan();
  EXPECT_EQ(plan.find("model a"), std::string::npos) << plan;
  EXPECT_NE(plan.find("4. output pb <- model b"), std::string::npos) << plan;
  EXPECT_NE(plan.find("store redis://localhost:6379/2"), std::string::npos) << plan;
  EXPECT_EQ((*pipeline)->workdir(), dir.File("w"));
  EXPECT_FALSE(std::filesystem::exists(dir.File("w")));
}

// Regression: with obfuscated emails, a file that lacks its header line had
// its first data line (raw emails) quoted as "the header" in the error, and
// so in the manifest's error and on stderr.
TEST(PipelineRunRegression, ObfuscatedSourceWithoutHeaderDoesNotLeakEmails) {
  TempDir dir;
  WriteFile(dir.File("key"), "a-test-obfuscation-key-0123456789");
  WriteFile(dir.File("p.csv"),
            "alice@example.com,Album 1,1\nbob@example.com,Album 2,1\n");  // no header
  WriteFile(dir.File("p.toml"), R"(name = "pono"
[sources.purchases]
path = "p.csv"
user = "email"
item = "album"
value = "quantity"
obfuscate = ["email"]
obfuscation_key_file = "key"
[models.co]
kind = "cooccurrence"
[recommend.top]
model = "co"
[outputs.csv]
kind = "csv"
from = "top"
path = "out"
)");
  auto pipeline = Pipeline::Load(dir.File("p.toml"), Quiet());
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
  auto result = (*pipeline)->Run();
  ASSERT_FALSE(result.ok());
  const std::string& error = result.status().message();
  EXPECT_EQ(error.find("@example.com"), std::string::npos) << error;
  EXPECT_NE(error.find("no column named 'email'"), std::string::npos) << error;
  EXPECT_NE(error.find("header"), std::string::npos)
      << "the hint names the likely cause: " << error;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.File("runs"))) {
    if (!e.is_regular_file()) continue;
    EXPECT_EQ(ReadFile(e.path().string()).find("@example.com"), std::string::npos) << e.path();
  }
}

}  // namespace
}  // namespace encore
