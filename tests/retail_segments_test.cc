// [retail.segments] end to end: one model per segment, each member's payload
// computed by their segment's model (or the global one for a segment below
// min_members), the segments finding the generator's planted divisions, and
// bad member data or declarations failing with FILE:LINE.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "encore/catalog.h"
#include "encore/recommender.h"
#include "encore/store.h"
#include "pipeline_test_util.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::CommandResult;
using testing::ListDir;
using testing::ReadFile;
using testing::RunEncore;
using testing::TempDir;
using testing::WriteFile;

constexpr int64_t kAsOf = 1780272000;  // 2026-06-01T00:00:00Z

std::string Pipeline(const std::string& segments) {
  return R"(name = "segments"
workdir = "w"

[sources.fashion]
generate = { profile = "fashion", users = 1500, items = 800, rows = 60000, seed = 11 }
user = "member"
item = "product"
event = "event"
time = "timestamp"

[models.affinity]
kind = "ials"
params = { factors = 16, iterations = 6, reg = 0.05, alpha = 2.0, threads = 2 }

[retail]
source = "fashion"
model = "affinity"
as_of = "2026-06-01T00:00:00Z"

[retail.boost]
top = 0

[retail.diversity]
max_per_node = 0

)" + segments +
         R"(

[outputs.feeds]
kind = "retail"
path = "out/feeds"
store = "store"
)";
}

// The id of the first product of the "products" feed in a payload.
std::string FirstProduct(const std::string& payload) {
  const std::string tag = "\"products\":[{\"id\":\"";
  size_t at = payload.find(tag);
  if (at == std::string::npos) return "";
  at += tag.size();
  return payload.substr(at, payload.find('"', at) - at);
}

// The best-scoring saleable key of `user` under `model` (key names).
std::string TopKey(const TrainedModel& model, uint32_t user,
                   const std::set<std::string>& saleable) {
  std::vector<float> scores(model.items.size());
  model.model->ScoreItems(user, scores.data());
  float best = -std::numeric_limits<float>::infinity();
  std::string key;
  for (uint32_t i = 0; i < scores.size(); ++i) {
    if (!saleable.count(std::string(model.items.Name(i)))) continue;
    if (scores[i] > best) {
      best = scores[i];
      key = model.items.Name(i);
    }
  }
  return key;
}

class RetailSegmentsTest : public ::testing::Test {
 protected:
  CommandResult Run(const std::string& segments) {
    WriteFile(dir_.path() + "/p.toml", Pipeline(segments));
    return RunEncore("run " + dir_.path() + "/p.toml --workdir " + dir_.path() + "/w");
  }
  std::string RunDir() {
    std::vector<std::string> runs = ListDir(dir_.path() + "/w/runs");
    return runs.empty() ? "" : dir_.path() + "/w/runs/" + runs.back();
  }
  TempDir dir_;
};

TEST_F(RetailSegmentsTest, EachMemberServedByTheirSegmentsModel) {
  CommandResult r = Run(R"([retail.segments]
by = ["division"]
min_members = 150
overrides = { "0" = { factors = 8 } }
)");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = RunDir();
  const std::string manifest = ReadFile(run + "/manifest.json");
  EXPECT_NE(manifest.find("\"segments\": {"), std::string::npos);
  EXPECT_NE(manifest.find("\"scored_by\": \"global\""), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("\"segment_model\": {"), std::string::npos);
  EXPECT_NE(manifest.find("\"segmented\": {"), std::string::npos);

  auto catalog = ReadCatalog(run + "/sources/fashion/catalog.csv", CatalogOptions{});
  ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
  auto keys = KeyIndex::Build(*catalog, {"subclass", "brand"});
  ASSERT_TRUE(keys.ok());
  // Keys with a product on sale in the day after as_of with quantity >= 3.
  std::set<std::string> saleable;
  for (uint32_t p = 0; p < catalog->size(); ++p) {
    if (catalog->available_from(p) < kAsOf + 86400 && catalog->available_until(p) > kAsOf &&
        catalog->quantity(p) >= 3) {
      saleable.insert(std::string(keys->keys().Name(keys->key_of(p))));
    }
  }
  auto global = LoadModel(run + "/models/affinity.model");
  ASSERT_TRUE(global.ok());
  auto store = Store::OpenExisting(dir_.path() + "/w/store");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto version = (*store)->CurrentVersion();
  ASSERT_TRUE(version.ok());
  auto snap = (*store)->OpenSnapshot(*version);
  ASSERT_TRUE(snap.ok());

  uint64_t checked = 0, differs = 0, segment_files = 0;
  for (const std::string& file : ListDir(run + "/models")) {
    if (!file.starts_with("affinity.segment-")) continue;
    ++segment_files;
    const std::string name = file.substr(17, file.size() - 17 - 6);  // between - and .model
    auto seg = LoadModel(run + "/models/" + file);
    ASSERT_TRUE(seg.ok()) << file;
    if (name == "0") {
      EXPECT_NE(ModelParamsToList(seg->model->params()),
                ModelParamsToList(global->model->params()));
    }
    for (uint32_t u = 0; u < seg->users.size(); ++u) {
      const std::string member(seg->users.Name(u));
      std::string payload;
      ASSERT_TRUE((*snap)->Get(Table::kUser, member, &payload).ok()) << member;
      ASSERT_NE(payload.find("\"segment\":\"" + name + "\",\"scored_by\":\"segment\""),
                std::string::npos)
          << member << ": " << payload.substr(0, 200);
      std::optional<uint32_t> product = catalog->products().Find(FirstProduct(payload));
      ASSERT_TRUE(product.has_value()) << member;
      const std::string served(keys->keys().Name(keys->key_of(*product)));
      EXPECT_EQ(served, TopKey(*seg, u, saleable)) << member << " in segment " << name;
      std::optional<uint32_t> gu = global->users.Find(member);
      ASSERT_TRUE(gu.has_value());
      if (TopKey(*global, *gu, saleable) != served) ++differs;
      ++checked;
    }
  }
  EXPECT_GE(segment_files, 2u);
  EXPECT_GT(checked, 500u);
  // The segment models are not the global model under another name: for a
  // good share of members their best key differs.
  EXPECT_GT(differs, checked / 20) << differs << " of " << checked;

  // A member of a segment on the global model says so.
  bool global_member = false;
  for (uint32_t u = 0; u < global->users.size() && !global_member; ++u) {
    std::string payload;
    ASSERT_TRUE((*snap)->Get(Table::kUser, global->users.Name(u), &payload).ok());
    global_member = payload.find("\"scored_by\":\"global\"") != std::string::npos;
  }
  EXPECT_TRUE(global_member);
}

// The generator plants a primary division per member (members.csv); the
// computed segments by division find it for nearly every buyer.
TEST_F(RetailSegmentsTest, SegmentsFindThePlantedDivision) {
  CommandResult r = Run(R"([retail.segments]
by = ["division"]
min_members = 100000
evaluate = false
)");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = RunDir();
  auto catalog = ReadCatalog(run + "/sources/fashion/catalog.csv", CatalogOptions{});
  ASSERT_TRUE(catalog.ok());
  std::vector<std::string> divisions;
  for (uint32_t v = 0; v < catalog->level_values(0).size(); ++v) {
    divisions.emplace_back(catalog->level_values(0).Name(v));
  }
  std::sort(divisions.begin(), divisions.end());  // segment "k" is divisions[k - 1]
  std::map<std::string, std::string> planted;
  std::istringstream in(ReadFile(run + "/sources/fashion/members.csv"));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const size_t a = line.find(','), b = line.find(',', a + 1);
    planted[line.substr(0, a)] = line.substr(a + 1, b - a - 1);
  }
  auto store = Store::OpenExisting(dir_.path() + "/w/store");
  ASSERT_TRUE(store.ok());
  auto version = (*store)->CurrentVersion();
  ASSERT_TRUE(version.ok());
  auto snap = (*store)->OpenSnapshot(*version);
  ASSERT_TRUE(snap.ok());
  uint64_t buyers = 0, agree = 0;
  for (const auto& [member, division] : planted) {
    std::string payload;
    if (!(*snap)->Get(Table::kUser, member, &payload).ok()) continue;
    const std::string tag = "\"segment\":\"";
    size_t at = payload.find(tag);
    ASSERT_NE(at, std::string::npos);
    at += tag.size();
    const std::string segment = payload.substr(at, payload.find('"', at) - at);
    if (segment == "0") continue;  // no purchase
    ++buyers;
    if (divisions[std::stoi(segment) - 1] == division) ++agree;
  }
  EXPECT_GT(buyers, 500u);
  EXPECT_GE(agree, buyers * 8 / 10) << agree << " of " << buyers;
}

// Segments trained several at once (the model's threads split between
// them, within a memory budget) give exactly the models and payloads of
// training one after another: the six feeds and every stored payload are
// byte-identical, and the manifest records the declared parameters.
TEST_F(RetailSegmentsTest, ParallelTrainingEqualsSequential) {
  auto run = [&](const std::string& name, const std::string& knobs) {
    WriteFile(dir_.path() + "/" + name + ".toml", Pipeline("[retail.segments]\n"
                                                           "by = [\"division\"]\n"
                                                           "min_members = 150\n"
                                                           "evaluate = false\n" +
                                                           knobs));
    return RunEncore("run " + dir_.path() + "/" + name + ".toml --workdir " + dir_.path() + "/" +
                     name);
  };
  CommandResult one = run("one", "parallel = 1\n");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.err.find("at once"), std::string::npos) << one.err;
  CommandResult three = run("three", "parallel = 3\n");
  ASSERT_EQ(three.exit_code, 0) << three.err;
  EXPECT_NE(three.err.find("up to 3 at once"), std::string::npos) << three.err;
  // A budget too small for two: one at a time, still the same results.
  CommandResult tight = run("tight", "parallel = 3\nmemory_mb = 1\n");
  ASSERT_EQ(tight.exit_code, 0) << tight.err;
  int feeds = 0;
  for (const char* f :
       {"products", "products_card", "brands", "brands_card", "categories", "categories_card"}) {
    const std::string a = ReadFile(dir_.path() + "/one/out/feeds/" + f + ".jsonl");
    EXPECT_FALSE(a.empty()) << f;
    EXPECT_TRUE(a == ReadFile(dir_.path() + "/three/out/feeds/" + f + ".jsonl")) << f;
    EXPECT_TRUE(a == ReadFile(dir_.path() + "/tight/out/feeds/" + f + ".jsonl")) << f;
    ++feeds;
  }
  EXPECT_EQ(feeds, 6);
  // More than one segment model was trained (else the check is empty).
  std::vector<std::string> models = ListDir(dir_.path() + "/three/runs");
  ASSERT_FALSE(models.empty());
  std::vector<std::string> files =
      ListDir(dir_.path() + "/three/runs/" + models.back() + "/models");
  EXPECT_GE(std::count_if(files.begin(), files.end(),
                          [](const std::string& f) { return f.find(".segment-") != f.npos; }),
            3);
  // Every stored payload is the same (snapshot 1 in both stores).
  auto open = [&](const std::string& name) {
    auto store = Store::OpenExisting(dir_.path() + "/" + name + "/store");
    EXPECT_TRUE(store.ok());
    auto snap = (*store)->OpenSnapshot(1);
    EXPECT_TRUE(snap.ok());
    return std::move(snap).value();
  };
  auto a = open("one"), b = open("three");
  std::istringstream rows(ReadFile(dir_.path() + "/one/out/feeds/products_card.jsonl"));
  int compared = 0;
  for (std::string line; std::getline(rows, line);) {
    const size_t at = line.find("\"member\":\"") + 10;
    const std::string member = line.substr(at, line.find('"', at) - at);
    std::string pa, pb;
    ASSERT_TRUE(a->Get(Table::kUser, member, &pa).ok()) << member;
    ASSERT_TRUE(b->Get(Table::kUser, member, &pb).ok()) << member;
    ASSERT_EQ(pa, pb) << member;
    ++compared;
  }
  EXPECT_GT(compared, 1000);
  // The manifest records the declared threads, not the split.
  const std::string manifest =
      ReadFile(dir_.path() + "/three/runs/" + models.back() + "/manifest.json");
  EXPECT_EQ(manifest.find("\"threads\": \"1\""), std::string::npos) << manifest;
}

TEST_F(RetailSegmentsTest, BadMemberDataNamesFileAndLine) {
  WriteFile(dir_.path() + "/members.csv", "member,tenure\nm0001,3\nm0002,three\n");
  CommandResult r = Run(R"([retail.segments]
by = ["division", "tenure"]
members = "members.csv"
)");
  ASSERT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(dir_.path() + "/members.csv:3: tenure 'three' is not a number"),
            std::string::npos)
      << r.err;
  // The run is recorded as failed in the retail stage.
  EXPECT_NE(ReadFile(RunDir() + "/manifest.json").find("\"status\": \"failed\""),
            std::string::npos);
}

TEST_F(RetailSegmentsTest, BadDeclarationsAreCheckedWithLines) {
  CommandResult r = Run(R"([retail.segments]
by = ["division", "colour"]
holdout = 1.5
params_above = { factors = 8 }
)");
  ASSERT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("p.toml:27"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'colour' is neither a catalog level nor a member feature"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("holdout must be in (0, 1)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("need size_threshold"), std::string::npos) << r.err;

  r = Run(R"([retail.segments]
by = ["division"]
overrides = { "99" = { factors = 8 } }
evaluate = false
)");
  ASSERT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("names segment '99', which has no members"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace encore
