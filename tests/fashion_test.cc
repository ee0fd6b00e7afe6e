// The fashion generator plants what docs/PERSONALIZATION.md says, and the
// catalog reader, roll-up and retail steps find it.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "encore/catalog.h"
#include "encore/generate.h"
#include "encore/retail.h"
#include "test_util.h"

namespace encore {
namespace {

std::vector<std::vector<std::string>> Csv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string x;
    while (std::getline(ss, x, ',')) f.push_back(x);
    rows.push_back(f);
  }
  return rows;
}

TEST(FashionProfile, PlantsDivisionsAndRecentIntent) {
  testing::TempDir dir;
  GenerateOptions o;
  o.profile = GenerateProfile::kFashion;
  o.users = 500;
  o.items = 1500;
  o.rows = 60000;
  o.out_dir = dir.path();
  Result<GenerateReport> rep = Generate(o);
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  ASSERT_EQ(rep->files.size(), 3u);

  CatalogReport cr;
  Result<Catalog> catalog = ReadCatalog(dir.File("catalog.csv"), CatalogOptions{}, &cr);
  ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
  EXPECT_EQ(catalog->size(), 1500u);
  EXPECT_EQ(cr.rows_rejected, 0u);
  // Women's-heavy mix.
  std::map<std::string, int> divisions;
  for (uint32_t p = 0; p < catalog->size(); ++p) ++divisions[std::string(catalog->node_name(p, 0))];
  for (const auto& [d, n] : divisions) EXPECT_LE(n, divisions["women"]) << d;

  // Events: build a log; every event names a catalog product.
  InteractionLog log;
  log.has_events = log.has_times = true;
  for (const auto& r : Csv(dir.File("events.csv"))) {
    ASSERT_EQ(r.size(), 4u);
    log.user.push_back(log.users.Intern(r[0]));
    log.item.push_back(log.items.Intern(r[1]));
    log.event.push_back(log.events.Intern(r[2]));
    log.time.push_back(std::stoll(r[3]));
    log.value.push_back(1);
  }
  EXPECT_EQ(FindUnknownProducts(log, *catalog).rows, 0u);
  const int64_t as_of = 1780272000;  // 2026-06-01T00:00Z
  for (size_t i = 0; i < log.size(); ++i) ASSERT_LT(log.time[i], as_of);

  // Primary division: the division with the most weighted activity.
  std::map<std::string, std::vector<std::string>> truth;  // member -> division, level, intent
  for (const auto& r : Csv(dir.File("members.csv"))) truth[r[0]] = {r[1], r[2], r[3]};
  std::map<uint32_t, std::map<std::string, int>> per_member;
  for (size_t i = 0; i < log.size(); ++i) {
    const uint32_t p = *catalog->products().Find(log.items.Name(log.item[i]));
    ++per_member[log.user[i]][std::string(catalog->node_name(p, 0))];
  }
  int checked = 0, right = 0;
  for (const auto& [u, counts] : per_member) {
    int total = 0;
    std::string best;
    for (const auto& [d, n] : counts) {
      total += n;
      if (best.empty() || n > counts.at(best)) best = d;
    }
    if (total < 20) continue;
    ++checked;
    right += best == truth[std::string(log.users.Name(u))][0];
  }
  ASSERT_GT(checked, 50);
  EXPECT_GT(right, checked * 8 / 10) << right << " of " << checked;

  // Recent intent: the boost finds each active member's planted intent subclass.
  KeyIndex keys = KeyIndex::Build(*catalog, {"subclass", "brand"}).value();
  Result<InteractionLog> rolled = RollUpLog(log, *catalog, keys, DefaultRetailWeights());
  ASSERT_TRUE(rolled.ok());
  RetailRules rules;
  rules.as_of = as_of;
  Result<RetailSteps> steps =
      RetailSteps::Build(rules, *catalog, keys, rolled->items, rolled->users, &log, nullptr);
  ASSERT_TRUE(steps.ok()) << steps.status().ToString();
  const uint32_t sub = *catalog->FindLevel("subclass");
  int with_boost = 0, found = 0;
  for (uint32_t u = 0; u < rolled->users.size(); ++u) {
    if (per_member[u].size() == 0) continue;
    std::span<const uint32_t> nodes = steps->boosted_nodes(u);
    if (nodes.empty()) continue;
    ++with_boost;
    const std::string& intent = truth[std::string(rolled->users.Name(u))][2];
    for (uint32_t n : nodes) found += catalog->level_values(sub).Name(n) == intent;
  }
  ASSERT_GT(with_boost, 100);
  EXPECT_GT(found, with_boost * 6 / 10) << found << " of " << with_boost;
  // Some keys are available tomorrow, most are not (72-hour sales).
  EXPECT_GT(steps->available_items().size(), 0u);
  EXPECT_LT(steps->available_items().size(), rolled->items.size() / 2);
}

TEST(FashionProfile, CliWritesThreeNamedFilesDeterministically) {
  testing::TempDir dir;
  const std::string flags = " --users 50 --items 200 --rows 3000 --seed 7 --out ";
  testing::CommandResult r =
      testing::RunEncore("generate --profile fashion" + flags + dir.File("a"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"catalog.csv", "members.csv", "events.csv"}) {
    EXPECT_NE(r.out.find(dir.File(std::string("a/") + name)), std::string::npos) << r.out;
  }
  r = testing::RunEncore("generate --profile fashion --quiet" + flags + dir.File("b"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"catalog.csv", "members.csv", "events.csv"}) {
    EXPECT_EQ(testing::ReadFile(dir.File(std::string("a/") + name)),
              testing::ReadFile(dir.File(std::string("b/") + name)))
        << name;
  }
  // A catalog too small to have anything before as-of is a clear error, not a hang.
  r = testing::RunEncore("generate --profile fashion --items 1 --users 2 --rows 5 --seed 3 --out " +
                         dir.File("tiny"));
  EXPECT_TRUE(r.exit_code == 0 || r.err.find("use more --items") != std::string::npos) << r.err;
}

}  // namespace
}  // namespace encore
