// Member features and segment assignment against a hand-worked fixture.

#include "encore/member_features.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace encore {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kAsOf = 100 * kDay;

// Divisions by name: kids = 1, men = 2, women = 3.
Catalog Fixture() {
  CatalogBuilder b{CatalogOptions{}};
  auto add = [&](std::string id, std::string division, double price) {
    ProductRow r;
    r.id = id;
    r.levels = {division, "d", "c", "s", "brand"};
    r.price = price;
    r.available_until = 1;
    r.quantity = 5;
    EXPECT_TRUE(b.Add(r).ok());
  };
  add("w10", "women", 10);
  add("w20", "women", 20);
  add("w30", "women", 30);
  add("w40", "women", 40);
  add("w50", "women", 50);
  add("w5", "women", 5);
  add("m100", "men", 100);
  add("m5", "men", 5);
  add("k37", "kids", 37);
  return std::move(b).Finish();
}

struct Event {
  const char* member;
  const char* product;
  const char* event;
  int64_t time;
};

InteractionLog Log(const std::vector<Event>& events) {
  InteractionLog log;
  log.has_events = log.has_times = true;
  for (const Event& e : events) {
    log.user.push_back(log.users.Intern(e.member));
    log.item.push_back(log.items.Intern(e.product));
    log.event.push_back(log.events.Intern(e.event));
    log.time.push_back(e.time);
    log.value.push_back(1);
  }
  return log;
}

InteractionLog FixtureLog() {
  const int64_t t = kAsOf - kDay;
  return Log({
      // a: women, purchases 10, 20, 30, 40 -> p90 = 30 + 0.7 * 10 = 37; one
      // view of men (3) does not move the primary division.
      {"a", "w10", "purchase", t},
      {"a", "w20", "purchase", t},
      {"a", "w30", "purchase", t - 2 * kDay},
      {"a", "w40", "purchase", t},
      {"a", "m100", "view", t},
      // b: men purchase 100 (40) beats five women views (15).
      {"b", "m100", "purchase", t},
      {"b", "w10", "view", t},
      {"b", "w20", "view", t},
      {"b", "w30", "view", t},
      {"b", "w40", "view", t},
      {"b", "w50", "view", t},
      // c: women, 50
      {"c", "w50", "purchase", t},
      // d: kids, 37 (ties with a's 37)
      {"d", "k37", "purchase", t - 5 * kDay},
      // e: views only -> default
      {"e", "w10", "view", t},
      // f: purchase at as_of (not before) -> default; a view before
      {"f", "w10", "purchase", kAsOf},
      {"f", "w10", "view", t},
      // g: men 40 vs women 40 -> men (name ascending); p90 of {5, 5} = 5
      {"g", "m5", "purchase", t},
      {"g", "w5", "purchase", t},
      // h: only an unknown product -> default
      {"h", "nope", "purchase", t},
  });
}

template <typename T>
T Get(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : T{};
}

MemberFeatureOptions Options() {
  MemberFeatureOptions o;
  o.as_of = kAsOf;
  return o;
}

TEST(MemberFeaturesTest, HandWorkedValues) {
  Catalog catalog = Fixture();
  InteractionLog log = FixtureLog();
  auto f = MemberFeatures::Compute(log, catalog, Options());
  ASSERT_TRUE(f.ok()) << f.status().message();
  auto u = [&](const char* m) { return *log.users.Find(m); };
  const std::vector<double>& pct = *Get(f->Numeric("price_percentile"));
  EXPECT_DOUBLE_EQ(pct[u("a")], 37.0);
  EXPECT_DOUBLE_EQ(pct[u("b")], 100.0);
  EXPECT_DOUBLE_EQ(pct[u("g")], 5.0);
  EXPECT_TRUE(std::isnan(pct[u("e")]));
  EXPECT_TRUE(std::isnan(pct[u("f")]));
  const std::vector<double>& freq = *Get(f->Numeric("frequency"));
  EXPECT_EQ(freq[u("a")], 4);
  EXPECT_EQ(freq[u("f")], 0);
  EXPECT_EQ(freq[u("h")], 0);  // unknown product: not a purchase of anything
  EXPECT_DOUBLE_EQ((*Get(f->Numeric("monetary")))[u("a")], 100.0);
  EXPECT_DOUBLE_EQ((*Get(f->Numeric("recency")))[u("a")], 1.0);
  EXPECT_DOUBLE_EQ((*Get(f->Numeric("recency")))[u("d")], 6.0);
  const std::vector<uint32_t>& primary = *Get(f->Primary("division"));
  const IdDictionary& divisions = catalog.level_values(0);
  EXPECT_EQ(divisions.Name(primary[u("a")]), "women");
  EXPECT_EQ(divisions.Name(primary[u("b")]), "men");
  EXPECT_EQ(divisions.Name(primary[u("g")]), "men");
  EXPECT_EQ(primary[u("h")], MemberFeatures::kNoNode);

  // Another percentile: the median of a's {10, 20, 30, 40} = 25.
  MemberFeatureOptions o = Options();
  o.price_percentile = 50;
  auto f50 = MemberFeatures::Compute(log, catalog, o);
  ASSERT_TRUE(f50.ok());
  EXPECT_DOUBLE_EQ((*Get(f50->Numeric("price_percentile")))[u("a")], 25.0);
}

TEST(MemberFeaturesTest, SegmentsExactWithTiesAndDefault) {
  Catalog catalog = Fixture();
  InteractionLog log = FixtureLog();
  auto f = MemberFeatures::Compute(log, catalog, Options());
  ASSERT_TRUE(f.ok());
  auto seg = [&](const SegmentAssignment& s, const char* m) {
    return s.names[s.of_member[*log.users.Find(m)]];
  };
  // Sorted by p90: g 5, a 37, d 37, c 50, b 100 (n = 5).
  SegmentSpec spec;
  spec.buckets = 3;
  auto s = AssignSegments(*f, catalog, spec);
  ASSERT_TRUE(s.ok()) << s.status().message();
  // buckets: g r0 -> 1; a r1 -> floor(3/5)+1 = 1; d ties a (r1) -> 1
  // (without the tie rule r2 -> floor(6/5)+1 = 2); c r3 -> 2; b r4 -> 3.
  EXPECT_EQ(seg(*s, "g"), "21");
  EXPECT_EQ(seg(*s, "a"), "31");
  EXPECT_EQ(seg(*s, "d"), "11");
  EXPECT_EQ(seg(*s, "c"), "32");
  EXPECT_EQ(seg(*s, "b"), "23");
  for (const char* m : {"e", "f", "h"}) EXPECT_EQ(seg(*s, m), "0") << m;
  EXPECT_EQ(s->names, (std::vector<std::string>{"0", "11", "21", "23", "31", "32"}));
  EXPECT_EQ(s->sizes, (std::vector<uint64_t>{3, 1, 1, 1, 1, 1}));
  EXPECT_EQ(s->descriptions[s->Find("31")], "division=women, price_percentile bucket 1/3");
  ASSERT_EQ(s->bucket_floors.size(), 1u);
  EXPECT_EQ(s->bucket_floors[0], (std::vector<double>{5, 50, 100}));

  // Two buckets: g, a, d -> 1 (r 0, 1, 1: floor(2/5) = 0); c r3 -> 2; b -> 2.
  spec.buckets = 2;
  s = AssignSegments(*f, catalog, spec);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(seg(*s, "c"), "32");
  EXPECT_EQ(seg(*s, "b"), "22");
  EXPECT_EQ(seg(*s, "d"), "11");

  // Ten buckets: names joined with '-'.
  spec.buckets = 10;
  s = AssignSegments(*f, catalog, spec);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(seg(*s, "b"), "2-9");  // r4: floor(40/5) + 1
}

TEST(MemberFeaturesTest, BadSpecsAreClearErrors) {
  Catalog catalog = Fixture();
  InteractionLog log = FixtureLog();
  auto f = MemberFeatures::Compute(log, catalog, Options());
  ASSERT_TRUE(f.ok());
  SegmentSpec spec;
  spec.by = {"colour"};
  auto s = AssignSegments(*f, catalog, spec);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("'colour' is neither a catalog level"), std::string::npos)
      << s.status().message();
  spec.by = {"division"};
  spec.default_segment = "2";  // men's segment is "2"
  s = AssignSegments(*f, catalog, spec);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("default segment name '2'"), std::string::npos);
  MemberFeatureOptions o = Options();
  o.primary_levels = {"colour"};
  EXPECT_FALSE(MemberFeatures::Compute(log, catalog, o).ok());
  o = Options();
  o.price_percentile = 101;
  EXPECT_FALSE(MemberFeatures::Compute(log, catalog, o).ok());
}

class MemberFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    const std::string path =
        (std::filesystem::temp_directory_path() /
         ("encore_members_" + std::to_string(::getpid()) + "_" + std::to_string(++n_) + ".csv"))
            .string();
    std::ofstream(path) << text;
    paths_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const auto& p : paths_) std::filesystem::remove(p);
  }
  std::vector<std::string> paths_;
  int n_ = 0;
};

TEST_F(MemberFileTest, ColumnsJoinAndBucket) {
  Catalog catalog = Fixture();
  InteractionLog log = FixtureLog();
  auto f = MemberFeatures::Compute(log, catalog, Options());
  ASSERT_TRUE(f.ok());
  uint64_t unknown = 0;
  Status st = f->ReadMemberColumns(Write("member,tenure\na,1\nb,9\nzz,4\nc,5\n"), "member",
                                   log.users, &unknown);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(unknown, 1u);
  const std::vector<double>& tenure = *Get(f->Numeric("tenure"));
  EXPECT_EQ(tenure[*log.users.Find("b")], 9);
  EXPECT_TRUE(std::isnan(tenure[*log.users.Find("d")]));
  SegmentSpec spec;
  spec.by = {"tenure"};
  spec.buckets = 2;
  auto s = AssignSegments(*f, catalog, spec);
  ASSERT_TRUE(s.ok());
  // a 1, c 5, b 9 (d, g: no tenure -> default): r0 -> 1, r1 -> 1, r2 -> 2.
  EXPECT_EQ(s->names[s->of_member[*log.users.Find("a")]], "1");
  EXPECT_EQ(s->names[s->of_member[*log.users.Find("b")]], "2");
  EXPECT_EQ(s->names[s->of_member[*log.users.Find("d")]], "0");
}

TEST_F(MemberFileTest, BadRowsNameFileAndLine) {
  Catalog catalog = Fixture();
  InteractionLog log = FixtureLog();
  auto f = MemberFeatures::Compute(log, catalog, Options());
  ASSERT_TRUE(f.ok());
  std::string path = Write("member,tenure\na,1\nb,nine\n");
  Status st = f->ReadMemberColumns(path, "member", log.users);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), path + ":3: tenure 'nine' is not a number") << st.message();

  path = Write("member,age\na,1\n\nc,2\na,3\n");
  st = f->ReadMemberColumns(path, "member", log.users);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), path + ":5: member 'a' is listed twice (first on line 2)");

  path = Write("id,age2\na,1\n");
  st = f->ReadMemberColumns(path, "member", log.users);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(path + ":1: no member column 'member'"), std::string::npos);

  path = Write("member,frequency\na,1\n");
  st = f->ReadMemberColumns(path, "member", log.users);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("already a member feature"), std::string::npos);

  path = Write("member,age3\na,1,2\n");
  st = f->ReadMemberColumns(path, "member", log.users);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(path + ":2: 3 fields"), std::string::npos);
}

}  // namespace
}  // namespace encore
