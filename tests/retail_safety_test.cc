// The retail output's safety: its store directory is checked against other
// outputs and against what is already there, the store is committed before
// the feeds are swapped in, and bad catalogs fail with FILE:LINE or are
// counted.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

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

class RetailSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CommandResult g = RunEncore(
        "generate --profile fashion --users 300 --items 300 --rows 10000 "
        "--seed 3 --out " +
        dir_.path() + "/data");
    ASSERT_EQ(g.exit_code, 0) << g.err;
  }
  // A pipeline over the generated files; `catalog` relative to data/.
  CommandResult Run(const std::string& outputs, const std::string& catalog = "catalog.csv",
                    const std::string& env = "") {
    WriteFile(dir_.path() + "/p.toml", R"(name = "safety"
workdir = "w"

[sources.ev]
path = "data/events.csv"
user = "member"
item = "product"
event = "event"
time = "timestamp"

[models.affinity]
kind = "ials"
params = { factors = 8, iterations = 3, threads = 2 }

[retail]
source = "ev"
model = "affinity"
as_of = "2026-06-01T00:00:00Z"

[retail.catalog]
path = "data/)" + catalog + R"("

)" + outputs);
    return RunEncore("run " + dir_.path() + "/p.toml --workdir " + dir_.path() + "/w", env);
  }
  static std::string Feeds(const std::string& store = "store") {
    return "[outputs.feeds]\nkind = \"retail\"\npath = \"out/feeds\"\nstore = \"" + store + "\"\n";
  }
  // The snapshot named by the feeds' _SUCCESS (0 when there is none).
  uint64_t FeedsSnapshot() {
    const std::string text = ReadFile(dir_.path() + "/w/out/feeds/_SUCCESS");
    const std::string tag = "\"snapshot\": ";
    size_t at = text.find(tag);
    return at == std::string::npos ? 0 : std::stoull(text.substr(at + tag.size()));
  }
  uint64_t StoreVersion() {
    auto store = Store::OpenExisting(dir_.path() + "/w/store");
    if (!store.ok()) return 0;
    auto v = (*store)->CurrentVersion();
    return v.ok() ? *v : 0;
  }
  bool StoreHas(uint64_t version) {
    auto store = Store::OpenExisting(dir_.path() + "/w/store");
    return store.ok() && (*store)->OpenSnapshot(version).ok();
  }
  std::string Path(const std::string& rel) const { return dir_.path() + "/" + rel; }
  // Rewrites data/catalog.csv into data/NAME with `edit` applied to its lines.
  std::string EditCatalog(const std::string& name,
                          const std::function<void(std::vector<std::string>*)>& edit) {
    std::vector<std::string> lines;
    std::istringstream in(ReadFile(Path("data/catalog.csv")));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    edit(&lines);
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    WriteFile(Path("data/" + name), out);
    return Path("data/" + name);
  }
  TempDir dir_;
};

TEST_F(RetailSafetyTest, StoreIsCommittedBeforeTheFeedsAreSwappedIn) {
  CommandResult r = Run(Feeds());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(FeedsSnapshot(), 1u);
  ASSERT_EQ(StoreVersion(), 1u);
  // Killed between the store's commit and the swap: the store is newer, the
  // feeds still the old ones, whose snapshot the store still has.
  r = Run(Feeds(), "catalog.csv", "ENCORE_FAULT=retail-before-swap");
  ASSERT_NE(r.exit_code, 0);
  EXPECT_EQ(StoreVersion(), 2u);
  EXPECT_EQ(FeedsSnapshot(), 1u);
  EXPECT_TRUE(StoreHas(1));
  // Killed while payloads are written, before the store's commit: neither moves.
  r = Run(Feeds(), "catalog.csv", "ENCORE_FAULT=mid-output");
  ASSERT_NE(r.exit_code, 0);
  EXPECT_EQ(StoreVersion(), 2u);
  EXPECT_EQ(FeedsSnapshot(), 1u);
  // The next run succeeds; the feeds name the store's current snapshot.
  r = Run(Feeds());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(FeedsSnapshot(), StoreVersion());
  EXPECT_TRUE(StoreHas(FeedsSnapshot()));
  for (const std::string& name : ListDir(Path("w/out"))) EXPECT_EQ(name, "feeds");
}

TEST_F(RetailSafetyTest, RefusesAStoreDirectoryThatIsNotOurs) {
  std::filesystem::create_directories(Path("w/store"));
  WriteFile(Path("w/store/notes.txt"), "mine\n");
  CommandResult r = Run(Feeds());
  ASSERT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("output 'feeds': '" + Path("w/store") + "' is not an encore store"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("holds 'notes.txt'"), std::string::npos) << r.err;
  // Refused before anything ran: no run directory, the file untouched.
  EXPECT_FALSE(std::filesystem::exists(Path("w/runs")));
  EXPECT_EQ(ReadFile(Path("w/store/notes.txt")), "mine\n");
  EXPECT_EQ(ListDir(Path("w/store")), std::vector<std::string>{"notes.txt"});
}

TEST_F(RetailSafetyTest, RefusesAFeedsDirectoryThatIsNotOurs) {
  std::filesystem::create_directories(Path("w/out/feeds"));
  WriteFile(Path("w/out/feeds/keep.txt"), "x");
  CommandResult r = Run(Feeds());
  ASSERT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("has no _SUCCESS marker"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(Path("w/runs")));
  EXPECT_FALSE(std::filesystem::exists(Path("w/store")));
}

TEST_F(RetailSafetyTest, StoreDirectoryConflictsWithOtherOutputs) {
  // The store in the feeds directory, which is replaced as a whole.
  CommandResult r = Run(Feeds("out/feeds/store"));
  ASSERT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("p.toml:23:1: [outputs.feeds] publishes to store directory " +
                       Path("w/out/feeds/store") + ", inside the directory of its feeds"),
            std::string::npos)
      << r.err;
  // The same directory as another output's files.
  r = Run(Feeds("out/recs") + R"(
[recommend.top]
model = "affinity"

[outputs.recs]
kind = "csv"
from = "top"
path = "out/recs"
)");
  ASSERT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("[outputs.recs] writes directory " + Path("w/out/recs") +
                       ", the same directory as [outputs.feeds]"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(Path("w/runs")));
}

TEST_F(RetailSafetyTest, MalformedCatalogRowNamesFileAndLine) {
  const std::string path = EditCatalog("bad_price.csv", [](std::vector<std::string>* lines) {
    std::string& l = (*lines)[4];  // line 5
    // product,division,department,class,subclass,brand,price,...: field 7
    size_t at = 0;
    for (int i = 0; i < 6; ++i) at = l.find(',', at) + 1;
    l.replace(at, l.find(',', at) - at, "12.5O");
  });
  CommandResult r = Run(Feeds(), "bad_price.csv");
  ASSERT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(path + ":5: price '12.5O' is not a number"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(Path("w/out/feeds")));
}

TEST_F(RetailSafetyTest, DuplicateProductIdNamesBothLines) {
  const std::string path = EditCatalog("dup.csv", [](std::vector<std::string>* lines) {
    lines->push_back((*lines)[2]);  // line 3 again, at the end
  });
  const std::string text = ReadFile(path);
  const size_t last = std::count(text.begin(), text.end(), '\n');
  CommandResult r = Run(Feeds(), "dup.csv");
  ASSERT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(path + ":" + std::to_string(last) + ": duplicate product id"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("(first on line 3)"), std::string::npos) << r.err;
}

TEST_F(RetailSafetyTest, EventsOnUnknownProductsAreCounted) {
  // Drop two products that have events: their events are counted, not lost silently.
  std::string dropped;
  int count = 0;
  EditCatalog("fewer.csv", [&](std::vector<std::string>* lines) {
    std::string events = ReadFile(Path("data/events.csv"));
    for (size_t i = 1; i < lines->size() && count < 2;) {
      const std::string id = (*lines)[i].substr(0, (*lines)[i].find(','));
      if (events.find("," + id + ",") != std::string::npos) {
        dropped += id + " ";
        ++count;
        lines->erase(lines->begin() + i);
      } else {
        ++i;
      }
    }
  });
  std::istringstream ev(ReadFile(Path("data/events.csv")));
  uint64_t expected = 0;
  for (std::string line; std::getline(ev, line);) {
    const size_t a = line.find(',');
    const std::string product = line.substr(a + 1, line.find(',', a + 1) - a - 1);
    if (dropped.find(product + " ") != std::string::npos) ++expected;
  }
  ASSERT_GT(expected, 0u);
  CommandResult r = Run(Feeds(), "fewer.csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string counted =
      std::to_string(expected) + " event(s) on 2 product(s) not in the catalog";
  EXPECT_NE(r.err.find(counted), std::string::npos) << r.err;
  std::vector<std::string> runs = ListDir(Path("w/runs"));
  ASSERT_FALSE(runs.empty());
  EXPECT_NE(ReadFile(Path("w/runs/" + runs.back() + "/manifest.json")).find(counted),
            std::string::npos);
}

}  // namespace
}  // namespace encore
