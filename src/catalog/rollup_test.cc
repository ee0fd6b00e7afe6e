// Roll-up sums and product-score arithmetic against hand-worked examples.

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "encore/catalog.h"
#include "encore/product_score.h"

namespace encore {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kAsOf = 100 * kDay;

// p1, p3: maxi|Acme; p2: maxi|Zeta; p4: tees|Acme.
Catalog Small() {
  CatalogBuilder b{CatalogOptions{}};
  auto add = [&](std::string id, std::string cls, std::string sub, std::string brand,
                 int64_t launch, double sold, double returns) {
    ProductRow r;
    r.id = id;
    r.levels = {"women", "apparel", cls, sub, brand};
    r.launch = launch;
    r.available_from = launch;
    r.available_until = launch + 3 * kDay;
    r.quantity = 5;
    r.counters = {sold, returns, 0};
    EXPECT_TRUE(b.Add(r).ok());
  };
  add("p1", "dresses", "maxi", "Acme", kAsOf - 10 * kDay, 3, 2);  // old, sold before
  add("p2", "dresses", "maxi", "Zeta", kAsOf - 2 * kDay, 0, 0);   // in its first 72 h
  add("p3", "dresses", "maxi", "Acme", kAsOf - 5 * kDay, 0, 0);
  add("p4", "tops", "tees", "Acme", kAsOf + kDay / 2, 0, 0);  // launches after as_of
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

std::map<std::pair<std::string, std::string>, float> Sums(const InteractionLog& log) {
  std::map<std::pair<std::string, std::string>, float> out;
  for (size_t r = 0; r < log.size(); ++r) {
    out[{std::string(log.users.Name(log.user[r])), std::string(log.items.Name(log.item[r]))}] +=
        log.value[r];
  }
  return out;
}

TEST(RollUpTest, SumsWeightedEventsPerMemberAndKey) {
  Catalog c = Small();
  KeyIndex k = KeyIndex::Build(c, {"subclass", "brand"}).value();
  // m1 on maxi|Acme: view p1 (3) + cart p3 (10) + purchase p1 (40) = 53;
  // m1 on maxi|Zeta: still_want_it p2 (30); m2 on tees|Acme: view p4 (3) + view p4 (3) = 6.
  // A return has no weight; p9 is not in the catalog: both counted, not summed.
  InteractionLog log = Log({{"m1", "p1", "view", 1},
                            {"m1", "p3", "cart", 5},
                            {"m1", "p1", "purchase", 3},
                            {"m1", "p2", "still_want_it", 2},
                            {"m2", "p4", "view", 7},
                            {"m2", "p4", "view", 8},
                            {"m2", "p1", "return", 9},
                            {"m2", "p9", "view", 9}});
  RollUpReport report;
  Result<InteractionLog> out = RollUpLog(log, c, k, DefaultRetailWeights(), &report);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  std::map<std::pair<std::string, std::string>, float> want = {
      {{"m1", "maxi|Acme"}, 53}, {{"m1", "maxi|Zeta"}, 30}, {{"m2", "tees|Acme"}, 6}};
  EXPECT_EQ(Sums(*out), want);
  EXPECT_EQ(out->size(), 3u);  // one row per (member, key)
  EXPECT_EQ(report.rows_in, 8u);
  EXPECT_EQ(report.rows_used, 6u);
  EXPECT_EQ(report.unknown.rows, 1u);
  ASSERT_EQ(report.unweighted.size(), 1u);
  EXPECT_EQ(report.unweighted[0], (std::pair<std::string, uint64_t>{"return", 1}));
  // The latest time of each pair is kept.
  for (size_t r = 0; r < out->size(); ++r) {
    if (out->items.Name(out->item[r]) == "maxi|Acme") {
      EXPECT_EQ(out->time[r], 5);
    }
  }
  EXPECT_NE(report.Describe().find("1 'return' event(s) have no weight"), std::string::npos);
}

TEST(RollUpTest, ProductKeyTrainsOnProducts) {
  Catalog c = Small();
  KeyIndex k = KeyIndex::Build(c, {}).value();
  InteractionLog log = Log({{"m1", "p1", "view", 1}, {"m1", "p3", "cart", 5}});
  Result<InteractionLog> out = RollUpLog(log, c, k, DefaultRetailWeights());
  ASSERT_TRUE(out.ok());
  std::map<std::pair<std::string, std::string>, float> want = {{{"m1", "p1"}, 3},
                                                               {{"m1", "p3"}, 10}};
  EXPECT_EQ(Sums(*out), want);
}

TEST(RollUpTest, WeightsNeedAnEventColumn) {
  Catalog c = Small();
  KeyIndex k = KeyIndex::Build(c, {"brand"}).value();
  InteractionLog log;
  log.user.push_back(log.users.Intern("m"));
  log.item.push_back(log.items.Intern("p1"));
  log.value.push_back(2);
  EXPECT_FALSE(RollUpLog(log, c, k, DefaultRetailWeights()).ok());
  Result<InteractionLog> plain = RollUpLog(log, c, k, {});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->value[0], 2);
}

// Property: the roll-up equals a plain reference sum on random data.
TEST(RollUpTest, MatchesAPlainReferenceOnRandomData) {
  Catalog c = Small();
  KeyIndex k = KeyIndex::Build(c, {"subclass", "brand"}).value();
  std::mt19937 rng(7);
  const char* members[] = {"a", "b", "c"};
  const char* products[] = {"p1", "p2", "p3", "p4", "px"};
  const char* events[] = {"view", "cart", "still_want_it", "purchase", "return"};
  std::vector<Event> ev;
  for (int i = 0; i < 500; ++i) {
    ev.push_back({members[rng() % 3], products[rng() % 5], events[rng() % 5],
                  static_cast<int64_t>(rng() % 1000)});
  }
  std::map<std::string, float> w = DefaultRetailWeights();
  std::map<std::pair<std::string, std::string>, float> want;
  for (const Event& e : ev) {
    auto p = c.products().Find(e.product);
    if (!p || !w.count(e.event)) continue;
    want[{e.member, std::string(k.keys().Name(k.key_of(*p)))}] += w[e.event];
  }
  Result<InteractionLog> out = RollUpLog(Log(ev), c, k, w);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(Sums(*out), want);
}

TEST(ProductScoreTest, HandWorkedArithmetic) {
  Catalog c = Small();
  KeyIndex k = KeyIndex::Build(c, {"subclass", "brand"}).value();
  // p1: 3 views and 1 purchase in the window; p2: 1 view in its first 72 h.
  InteractionLog log = Log({{"m1", "p1", "view", kAsOf - 9 * kDay},
                            {"m1", "p1", "view", kAsOf - 5 * kDay},
                            {"m2", "p1", "view", kAsOf - 1},
                            {"m2", "p1", "purchase", kAsOf - 2},
                            {"m2", "p1", "view", kAsOf},  // at as_of: not yet known
                            {"m3", "p2", "view", kAsOf - kDay}});
  ProductScoreOptions o;
  o.as_of = kAsOf;
  // Only a few features, to keep the arithmetic by hand.
  for (const ProductFeatureInfo& f : ProductFeatures()) o.weights[f.name] = 0;
  o.weights["clicks"] = 1.0;
  o.weights["conversion"] = 2.0;
  o.weights["first_72h"] = 0.5;
  o.weights["return_rate"] = -1.0;
  Result<ProductScores> s = ProductScores::Compute(c, k, &log, o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  // clicks raw: p1 log(4), p2 log(2); max log(4).
  // conversion raw: p1 1/(3+1) = 0.25, others 0; max 0.25.
  // first_72h: p2 (2 days old) and p4 (launches later) are 1.
  // return_rate raw: p1 2/(3+1) = 0.5; max 0.5.
  EXPECT_NEAR(s->score(0), 1.0 * 1 + 2.0 * 1 + 0 - 1.0 * 1, 1e-12);
  EXPECT_NEAR(s->score(1), std::log(2.0) / std::log(4.0) + 0.5, 1e-12);
  EXPECT_NEAR(s->score(2), 0.0, 1e-12);
  EXPECT_NEAR(s->score(3), 0.5, 1e-12);
  // Explain: contributions add up to the score.
  double total = 0;
  for (const ScoreTerm& t : s->Explain(1)) total += t.contribution;
  EXPECT_NEAR(total, s->score(1), 1e-12);
  EXPECT_NE(s->ExplainText(c, 1).find("clicks"), std::string::npos);
}

TEST(ProductScoreTest, UnknownFeatureIsAnError) {
  Catalog c = Small();
  KeyIndex k = KeyIndex::Build(c, {"brand"}).value();
  ProductScoreOptions o;
  o.weights["clickz"] = 1;
  Result<ProductScores> s = ProductScores::Compute(c, k, nullptr, o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("'clickz'"), std::string::npos);
}

}  // namespace
}  // namespace encore
