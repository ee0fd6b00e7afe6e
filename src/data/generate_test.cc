#include "encore/generate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "test_util.h"

namespace encore {
namespace {

using testing::ReadFile;
using testing::TempDir;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    fields.push_back(line.substr(start, comma - start));
    if (comma == std::string::npos) return fields;
    start = comma + 1;
  }
}

// The data rows of a CSV file with a header, split into fields.
std::vector<std::vector<std::string>> Rows(const std::string& path, const std::string& header) {
  std::vector<std::string> lines = Lines(ReadFile(path));
  EXPECT_FALSE(lines.empty()) << path;
  if (lines.empty()) return {};
  EXPECT_EQ(lines[0], header) << path;
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 1; i < lines.size(); ++i) rows.push_back(Fields(lines[i]));
  return rows;
}

// "u0042" with prefix 'u' and 4 digits -> 42; 0 if malformed.
uint64_t IdNumber(const std::string& id, char prefix, size_t digits) {
  if (id.size() != digits + 1 || id[0] != prefix) return 0;
  uint64_t n = 0;
  for (size_t i = 1; i < id.size(); ++i) {
    if (id[i] < '0' || id[i] > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(id[i] - '0');
  }
  return n;
}

GenerateOptions Small(GenerateProfile profile, const std::string& dir) {
  GenerateOptions o;
  o.profile = profile;
  o.users = 800;
  o.items = 300;
  o.rows = 20000;
  o.clusters = 8;
  o.seed = 7;
  o.threads = 2;
  o.out_dir = dir;
  return o;
}

GenerateReport MustGenerate(const GenerateOptions& options) {
  Result<GenerateReport> report = Generate(options);
  EXPECT_TRUE(report.ok()) << report.status().ToString();
  return report.ok() ? report.value() : GenerateReport{};
}

// All files of a run concatenated, in order.
std::string Contents(const GenerateReport& report) {
  std::string all;
  for (const GeneratedFile& file : report.files)
    all += file.path.substr(file.path.rfind('/')) + ReadFile(file.path);
  return all;
}

class GenerateDeterminism : public ::testing::TestWithParam<GenerateProfile> {};

TEST_P(GenerateDeterminism, BytesDependOnOptionsNotThreads) {
  TempDir dir;
  GenerateOptions o = Small(GetParam(), dir.File("a"));
  o.rows = 140000;  // three blocks, so the threads really interleave
  o.users = 2000;   // room for 140000 unique ratings (at most half of the pairs)
  o.threads = 1;
  const std::string one = Contents(MustGenerate(o));
  o.out_dir = dir.File("b");
  o.threads = 3;
  const std::string three = Contents(MustGenerate(o));
  o.out_dir = dir.File("c");
  const std::string again = Contents(MustGenerate(o));
  o.out_dir = dir.File("d");
  o.seed = 8;
  const std::string reseeded = Contents(MustGenerate(o));
  ASSERT_GT(one.size(), 100000u);
  EXPECT_TRUE(one == three) << "thread count changed the output";
  EXPECT_TRUE(three == again) << "same options, different output";
  EXPECT_FALSE(one == reseeded) << "the seed had no effect";
}

INSTANTIATE_TEST_SUITE_P(AllProfiles, GenerateDeterminism,
                         ::testing::Values(GenerateProfile::kRatings, GenerateProfile::kPlays,
                                           GenerateProfile::kRetail, GenerateProfile::kBaskets),
                         [](const auto& info) {
                           return std::string(GenerateProfileName(info.param));
                         });

TEST(Generate, RatingsHaveValidIdsStarsAndTimes) {
  TempDir dir;
  const GenerateOptions o = Small(GenerateProfile::kRatings, dir.path());
  const GenerateReport report = MustGenerate(o);
  ASSERT_EQ(report.files.size(), 1u);
  EXPECT_EQ(report.files[0].path, dir.File("ratings.csv"));
  EXPECT_EQ(report.files[0].rows, o.rows);
  EXPECT_EQ(report.rows, o.rows);
  EXPECT_EQ(report.bytes, std::filesystem::file_size(dir.File("ratings.csv")));

  const auto rows = Rows(dir.File("ratings.csv"), "user,item,rating,timestamp");
  ASSERT_EQ(rows.size(), o.rows);
  std::map<int, int> stars;
  const int64_t start = 1672531200, end = start + 365LL * 86400 + 3600;
  int64_t first_quarter = 0, last_quarter = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    ASSERT_EQ(r.size(), 4u);
    const uint64_t user = IdNumber(r[0], 'u', 3), item = IdNumber(r[1], 'i', 3);
    ASSERT_TRUE(user >= 1 && user <= o.users) << r[0];
    ASSERT_TRUE(item >= 1 && item <= o.items) << r[1];
    ASSERT_EQ(r[2].size(), 1u);
    ++stars[r[2][0] - '0'];
    const int64_t time = std::stoll(r[3]);
    ASSERT_TRUE(time >= start && time < end) << time;
    if (i < rows.size() / 4) first_quarter += time;
    if (i >= rows.size() * 3 / 4) last_quarter += time;
  }
  for (const auto& [value, count] : stars) EXPECT_TRUE(value >= 1 && value <= 5) << value;
  EXPECT_EQ(stars.size(), 5u) << "every star value appears";
  EXPECT_GT(last_quarter - first_quarter,
            int64_t{200} * 86400 * static_cast<int64_t>(rows.size() / 4))
      << "timestamps increase through the file";
}

TEST(Generate, PairsRarelyRepeat) {
  TempDir dir;
  const GenerateOptions o = Small(GenerateProfile::kRatings, dir.path());
  MustGenerate(o);
  std::set<std::pair<std::string, std::string>> pairs;
  const auto rows = Rows(dir.File("ratings.csv"), "user,item,rating,timestamp");
  for (const auto& r : rows) pairs.emplace(r[0], r[1]);
  EXPECT_LT(rows.size() - pairs.size(), rows.size() / 20) << "more than 5% repeated pairs";
}

// One rating per (user, item), as in real rating data: repeats would be
// summed by implicit reading or collapsed by explicit reading, either way not
// the rows written. Dense settings (users holding much of their cluster, and
// heavy users near the items / 4 cap) make collisions frequent.
TEST(Generate, RatingsAreUniquePerUserAndItemEvenWhenDense) {
  TempDir dir;
  GenerateOptions o = Small(GenerateProfile::kRatings, dir.File("a"));
  o.users = 200;
  o.items = 100;
  o.clusters = 5;
  o.rows = 200 * 100 / 2;  // the densest allowed: half of all pairs
  o.threads = 1;
  MustGenerate(o);
  const auto rows = Rows(dir.File("a/ratings.csv"), "user,item,rating,timestamp");
  ASSERT_EQ(rows.size(), o.rows);
  std::set<std::pair<std::string, std::string>> pairs;
  for (const auto& r : rows) pairs.emplace(r[0], r[1]);
  EXPECT_EQ(pairs.size(), rows.size()) << "a (user, item) pair repeats";
  o.out_dir = dir.File("b");
  o.threads = 3;
  MustGenerate(o);
  EXPECT_TRUE(ReadFile(dir.File("a/ratings.csv")) == ReadFile(dir.File("b/ratings.csv")))
      << "thread count changed the output";
  o.rows = o.rows + 1;
  EXPECT_FALSE(Generate(o).ok()) << "more than half of all pairs is refused";
}

TEST(Generate, PlaysAreCountsWithPowerLawPopularity) {
  TempDir dir;
  // Sparse, like real logs: when users hold a large part of the catalogue,
  // never taking an item twice flattens the head.
  GenerateOptions o = Small(GenerateProfile::kPlays, dir.path());
  o.items = 1000;
  o.users = 5000;
  o.rows = 50000;
  MustGenerate(o);
  const auto rows = Rows(dir.File("plays.csv"), "user,item,plays");
  ASSERT_EQ(rows.size(), o.rows);
  std::map<std::string, uint64_t> per_item, per_user;
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), 3u);
    ASSERT_GE(IdNumber(r[0], 'u', 4), 1u);
    ASSERT_GE(IdNumber(r[1], 'i', 4), 1u);
    ASSERT_GE(std::stoll(r[2]), 1);
    ++per_item[r[1]];
    ++per_user[r[0]];
  }
  auto top_share = [&](const std::map<std::string, uint64_t>& counts, size_t top) {
    std::vector<uint64_t> c;
    for (const auto& [id, n] : counts) c.push_back(n);
    std::sort(c.rbegin(), c.rend());
    uint64_t sum = 0;
    for (size_t i = 0; i < top && i < c.size(); ++i) sum += c[i];
    return static_cast<double>(sum) / static_cast<double>(rows.size());
  };
  EXPECT_GT(top_share(per_item, o.items / 100), 0.10) << "top 1% of items";
  EXPECT_GT(top_share(per_user, o.users / 100), 0.05) << "top 1% of users";
}

// The catalog's department is the taste cluster, and the world is the same
// for every profile with the same seed, users, items and clusters.
TEST(Generate, UsersFavourTheirHomeClusterAndLikeIt) {
  TempDir dir;
  // Clusters of about 125 items, about 15 rows per user: users rarely need
  // to leave their home cluster (heavy users do, see docs/GENERATE.md).
  GenerateOptions o = Small(GenerateProfile::kRetail, dir.File("retail"));
  o.users = 2000;
  o.items = 1000;
  o.rows = 1000;
  MustGenerate(o);
  std::map<std::string, std::string> department;
  for (const auto& r :
       Rows(dir.File("retail/catalog.csv"),
            "item,division,department,class,subclass,brand,launch_date,inventory")) {
    department[r[0]] = r[2];
  }
  ASSERT_EQ(department.size(), o.items);

  o.profile = GenerateProfile::kRatings;
  o.out_dir = dir.File("ratings");
  o.rows = 30000;
  MustGenerate(o);
  const auto rows = Rows(dir.File("ratings/ratings.csv"), "user,item,rating,timestamp");
  std::map<std::string, std::map<std::string, int>> by_user;
  for (const auto& r : rows) ++by_user[r[0]][department.at(r[1])];
  std::map<std::string, std::string> home;
  uint64_t in_home = 0, counted = 0;
  for (const auto& [user, departments] : by_user) {
    int total = 0, best = 0;
    for (const auto& [d, n] : departments) {
      total += n;
      if (n > best) best = n, home[user] = d;
    }
    if (total >= 10) in_home += best, counted += total;
  }
  ASSERT_GT(counted, 10000u);
  // With items shuffled between rows the top department holds about 0.25.
  EXPECT_GT(static_cast<double>(in_home) / counted, 0.5);

  double home_sum = 0, away_sum = 0;
  int home_n = 0, away_n = 0;
  for (const auto& r : rows) {
    const int stars = r[2][0] - '0';
    if (department.at(r[1]) == home.at(r[0])) {
      home_sum += stars, ++home_n;
    } else {
      away_sum += stars, ++away_n;
    }
  }
  EXPECT_GT(home_sum / home_n - away_sum / away_n, 0.4) << "planted factors favour home items";
}

TEST(Generate, RetailFollowsTheFunnel) {
  TempDir dir;
  const GenerateOptions o = Small(GenerateProfile::kRetail, dir.path());
  const GenerateReport report = MustGenerate(o);
  ASSERT_EQ(report.files.size(), 2u);
  EXPECT_EQ(report.files[0].path, dir.File("catalog.csv"));
  EXPECT_EQ(report.files[1].path, dir.File("events.csv"));
  EXPECT_EQ(report.rows, o.items + o.rows);

  const auto rows = Rows(dir.File("events.csv"), "user,email,item,event,timestamp,price");
  ASSERT_EQ(rows.size(), o.rows);
  std::map<std::string, int> events;
  std::map<std::string, std::string> price;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    ASSERT_EQ(r.size(), 6u);
    ASSERT_GE(IdNumber(r[0], 'u', 3), 1u);
    ASSERT_GE(IdNumber(r[2], 'i', 3), 1u);
    EXPECT_EQ(r[1].rfind(r[0] + "@example.", 0), 0u) << r[1];
    ++events[r[3]];
    auto [it, fresh] = price.emplace(r[2], r[5]);
    ASSERT_EQ(it->second, r[5]) << "price of " << r[2] << " changed";
    ASSERT_NE(r[5].find('.'), std::string::npos);
    // A cart continues a view of the same user and item; a purchase a cart.
    if (r[3] == "cart" || r[3] == "purchase") {
      ASSERT_GT(i, 0u);
      const auto& before = rows[i - 1];
      EXPECT_EQ(before[3], r[3] == "cart" ? "view" : "cart");
      EXPECT_EQ(before[0], r[0]);
      EXPECT_EQ(before[2], r[2]);
      EXPECT_GE(std::stoll(r[4]), std::stoll(before[4]));
    }
  }
  EXPECT_EQ(events.size(), 4u);
  EXPECT_GT(events["purchase"], 0);
  EXPECT_LE(events["purchase"], events["cart"]);
  EXPECT_LE(events["cart"], events["view"]);
  EXPECT_GT(events["wishlist"], 0);
}

TEST(Generate, CatalogHierarchyIsConsistent) {
  TempDir dir;
  const GenerateOptions o = Small(GenerateProfile::kRetail, dir.path());
  MustGenerate(o);
  const auto rows = Rows(dir.File("catalog.csv"),
                         "item,division,department,class,subclass,brand,launch_date,inventory");
  ASSERT_EQ(rows.size(), o.items);
  std::map<std::string, std::string> parent;  // child -> parent, for every level
  std::set<std::string> departments;
  int zero_inventory = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    ASSERT_EQ(r.size(), 8u);
    EXPECT_EQ(IdNumber(r[0], 'i', 3), i + 1) << "one row per item, in order";
    for (int level = 2; level <= 4; ++level) {
      auto [it, fresh] = parent.emplace(r[level], r[level - 1]);
      EXPECT_EQ(it->second, r[level - 1]) << r[level] << " has two parents";
    }
    departments.insert(r[2]);
    EXPECT_FALSE(r[5].empty());
    const std::string& date = r[6];
    ASSERT_EQ(date.size(), 10u) << date;
    EXPECT_TRUE(date[4] == '-' && date[7] == '-') << date;
    EXPECT_TRUE(date >= "2017-01-01" && date < "2023-01-01") << date;
    const std::string& month = date.substr(5, 2);
    EXPECT_TRUE(month >= "01" && month <= "12") << date;
    ASSERT_FALSE(r[7].empty());
    EXPECT_EQ(r[7].find_first_not_of("0123456789"), std::string::npos) << r[7];
    if (r[7] == "0") ++zero_inventory;
  }
  EXPECT_EQ(departments.size(), o.clusters);
  EXPECT_GT(zero_inventory, 0);
  EXPECT_LT(zero_inventory, static_cast<int>(o.items / 4));
}

TEST(Generate, BasketsHoldDistinctItems) {
  TempDir dir;
  const GenerateOptions o = Small(GenerateProfile::kBaskets, dir.path());
  MustGenerate(o);
  const std::vector<std::string> lines = Lines(ReadFile(dir.File("baskets.csv")));
  ASSERT_EQ(lines.size(), o.rows) << "no header, one basket per line";
  std::map<size_t, int> sizes;
  for (const std::string& line : lines) {
    const std::vector<std::string> items = Fields(line);
    ++sizes[items.size()];
    std::set<std::string> distinct(items.begin(), items.end());
    ASSERT_EQ(distinct.size(), items.size()) << line;
    for (const std::string& item : items) {
      const uint64_t n = IdNumber(item, 'i', 3);
      ASSERT_TRUE(n >= 1 && n <= o.items) << item;
    }
  }
  EXPECT_GE(sizes.begin()->first, 1u);
  EXPECT_LE(sizes.rbegin()->first, 30u);
  EXPECT_GT(sizes[1], sizes[2]);
  EXPECT_GT(sizes[2], sizes[10]);
  EXPECT_GT(sizes.rbegin()->first, 15u) << "a long tail of big baskets";
}

TEST(Generate, TinyCatalogueStillGivesDistinctBasketItems) {
  TempDir dir;
  GenerateOptions o = Small(GenerateProfile::kBaskets, dir.path());
  o.items = 3;
  o.clusters = 3;
  o.rows = 2000;
  MustGenerate(o);
  for (const std::string& line : Lines(ReadFile(dir.File("baskets.csv")))) {
    const std::vector<std::string> items = Fields(line);
    ASSERT_LE(items.size(), 3u);
    ASSERT_EQ(std::set<std::string>(items.begin(), items.end()).size(), items.size()) << line;
  }
}

TEST(Generate, CreatesTheDirectoryAndLeavesNoTemporaries) {
  TempDir dir;
  GenerateOptions o = Small(GenerateProfile::kRetail, dir.File("a/b/c"));
  o.rows = 500;
  MustGenerate(o);
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.File("a/b/c"))) {
    names.insert(entry.path().filename().string());
  }
  EXPECT_EQ(names, (std::set<std::string>{"catalog.csv", "events.csv"}));
}

TEST(Generate, RejectsBadOptions) {
  auto message = [](void (*change)(GenerateOptions&)) {
    GenerateOptions o;
    change(o);
    Status st = o.Validate();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    return st.message();
  };
  EXPECT_NE(message([](GenerateOptions& o) { o.users = 0; }).find("--users"), std::string::npos);
  EXPECT_NE(message([](GenerateOptions& o) { o.items = 0; }).find("--items"), std::string::npos);
  EXPECT_NE(message([](GenerateOptions& o) { o.rows = 0; }).find("--rows"), std::string::npos);
  EXPECT_NE(message([](GenerateOptions& o) { o.clusters = 0; }).find("--clusters"),
            std::string::npos);
  EXPECT_NE(message([](GenerateOptions& o) { o.clusters = 2001; }).find("--clusters"),
            std::string::npos);
  EXPECT_NE(message([](GenerateOptions& o) { o.threads = -1; }).find("--threads"),
            std::string::npos);
  EXPECT_NE(message([](GenerateOptions& o) {
              o.users = GenerateOptions::kMaxEntities + 1;
            }).find("--users"),
            std::string::npos);
  EXPECT_TRUE(GenerateOptions().Validate().ok());

  GenerateOptions o;
  o.rows = 0;
  EXPECT_EQ(Generate(o).status().code(), StatusCode::kInvalidArgument);

  Result<GenerateProfile> bad = ParseGenerateProfile("movies");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("movies"), std::string::npos);
  for (auto p : {GenerateProfile::kRatings, GenerateProfile::kPlays, GenerateProfile::kRetail,
                 GenerateProfile::kBaskets}) {
    Result<GenerateProfile> parsed = ParseGenerateProfile(GenerateProfileName(p));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed.value(), p);
  }
}

TEST(Generate, ReportsIOErrorsWithThePath) {
  TempDir dir;
  testing::WriteFile(dir.File("file"), "not a directory");
  GenerateOptions o = Small(GenerateProfile::kPlays, dir.File("file/sub"));
  Result<GenerateReport> report = Generate(o);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kIOError);
  EXPECT_NE(report.status().message().find(dir.File("file/sub")), std::string::npos)
      << report.status().message();
}

TEST(GenerateCli, WritesFilesAndSummaries) {
  TempDir dir;
  testing::CommandResult r = testing::RunEncore(
      "generate --profile plays --users 100 --items 50 --rows 1000 --out " + dir.File("out"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(dir.File("out/plays.csv")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1000 rows"), std::string::npos) << r.out;
  EXPECT_EQ(Lines(ReadFile(dir.File("out/plays.csv"))).size(), 1001u);

  r = testing::RunEncore("generate --profile baskets --rows 100 --quiet --out " +
                         dir.File("quiet"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST(GenerateCli, BadFlagsExitTwoAndFailuresOne) {
  TempDir dir;
  testing::CommandResult r = testing::RunEncore("generate --profile movies --out " + dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("movies"), std::string::npos) << r.err;
  r = testing::RunEncore("generate --users 0 --out " + dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--users"), std::string::npos) << r.err;
  r = testing::RunEncore("generate --users -5 --out " + dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = testing::RunEncore("generate --rows 10");
  EXPECT_EQ(r.exit_code, 2) << "--out is required";

  testing::WriteFile(dir.File("file"), "x");
  r = testing::RunEncore("generate --rows 10 --out " + dir.File("file/sub"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(dir.File("file/sub")), std::string::npos) << r.err;
}

}  // namespace
}  // namespace encore
