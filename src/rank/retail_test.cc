// Retail steps against hand-worked examples (encore/retail.h).

#include "encore/retail.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "fixed_scores_model.h"

namespace encore {
namespace {

using testing::FixedScoresModel;

constexpr int64_t kDay = 86400;
constexpr int64_t kAsOf = 100 * kDay;

struct P {
  const char* id;
  const char* cls;
  const char* sub;
  const char* brand;
  int64_t from = kAsOf - kDay;
  int64_t until = kAsOf + kDay;
  int64_t quantity = 5;
};

Catalog Make(const std::vector<P>& ps) {
  CatalogOptions o;
  o.levels = {"class", "subclass", "brand"};
  o.counters = {};
  CatalogBuilder b(o);
  for (const P& p : ps) {
    ProductRow r;
    r.id = p.id;
    r.levels = {p.cls, p.sub, p.brand};
    r.available_from = p.from;
    r.available_until = p.until;
    r.quantity = p.quantity;
    EXPECT_TRUE(b.Add(r).ok()) << p.id;
  }
  return std::move(b).Finish();
}

// Keys (model items, in this order): s1|A, s1|B, s2|A, s3|A, s2|B.
std::vector<P> Products() {
  return {{"a", "c1", "s1", "A"},
          {"b", "c1", "s1", "B"},
          {"c", "c1", "s2", "A"},
          {"d", "c2", "s3", "A"},
          {"e", "c1", "s2", "B"}};
}

IdDictionary Dict(std::vector<const char*> names) {
  IdDictionary d;
  for (const char* n : names) d.Intern(n);
  return d;
}

struct Fixture {
  Catalog catalog = Make(Products());
  KeyIndex keys = KeyIndex::Build(catalog, {"subclass", "brand"}).value();
  IdDictionary items = Dict({"s1|A", "s1|B", "s2|A", "s3|A", "s2|B"});
  IdDictionary users = Dict({"m0", "m1", "m2"});
};

std::vector<uint32_t> Items(const std::vector<ScoredItem>& l) {
  std::vector<uint32_t> out;
  for (const ScoredItem& s : l) out.push_back(s.item);
  return out;
}

TEST(RetailStepsTest, DiversityCapKeepsAtMostNPerNodeEvenWithTies) {
  Fixture f;
  RetailRules r;
  r.as_of = kAsOf;
  r.max_per_node = 2;
  RetailSteps s =
      RetailSteps::Build(r, f.catalog, f.keys, f.items, f.users, nullptr, nullptr).value();
  // Four keys of class c1 tie at 1.0; SQL RANK() would give them all rank 1
  // and keep all four. encore keeps two: ties go by the model's tie rank
  // (item index here), so s1|A and s1|B.
  FixedScoresModel model(1, 5, {1, 1, 1, 0.5, 1}, {});
  Ranker ranker(model);
  s.AddTo(&ranker);
  QueryOptions q;
  q.n = 5;
  q.exclude_seen = false;
  EXPECT_EQ(Items(ranker.RankUser(0, q)), (std::vector<uint32_t>{0, 1, 3}));
}

TEST(RetailStepsTest, BoostWindowEdgesPurchasesAndTies) {
  Fixture f;
  InteractionLog log;
  log.has_events = log.has_times = true;
  auto ev = [&](const char* m, const char* p, const char* e, int64_t t) {
    log.user.push_back(log.users.Intern(m));
    log.item.push_back(log.items.Intern(p));
    log.event.push_back(log.events.Intern(e));
    log.time.push_back(t);
    log.value.push_back(1);
  };
  // m0: s2 viewed exactly at the window start (counts), s3 one second before
  // it (does not), s1 at as_of (does not: the window ends before as_of).
  ev("m0", "c", "view", kAsOf - 10 * kDay);
  ev("m0", "d", "view", kAsOf - 10 * kDay - 1);
  ev("m0", "a", "view", kAsOf);
  // m1: s1 viewed twice and purchased: no boost; s3 carted once: boosted.
  ev("m1", "a", "view", kAsOf - 5);
  ev("m1", "b", "view", kAsOf - 4);
  ev("m1", "a", "purchase", kAsOf - 3);
  ev("m1", "d", "cart", kAsOf - 2);
  // m2: s2 and s1 once each; with boost_top 1 the tie goes to the smaller
  // name, s1.
  ev("m2", "e", "view", kAsOf - 7);
  ev("m2", "a", "view", kAsOf - 6);
  RetailRules r;
  r.as_of = kAsOf;
  r.boost_top = 1;
  r.boost_value = 2;
  r.max_per_node = 0;
  RetailSteps s = RetailSteps::Build(r, f.catalog, f.keys, f.items, f.users, &log, nullptr).value();
  auto names = [&](uint32_t u) {
    std::vector<std::string> out;
    for (uint32_t n : s.boosted_nodes(u)) out.emplace_back(f.catalog.level_values(1).Name(n));
    return out;
  };
  EXPECT_EQ(names(0), (std::vector<std::string>{"s2"}));
  EXPECT_EQ(names(1), (std::vector<std::string>{"s3"}));
  EXPECT_EQ(names(2), (std::vector<std::string>{"s1"}));
  // m0's s2 keys (s2|A = 2, s2|B = 4) are doubled: 0.3 -> 0.6 and 0.2 -> 0.4.
  FixedScoresModel model(3, 5, {0.5, 0.45, 0.3, 0.1, 0.2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {});
  Ranker ranker(model);
  s.AddTo(&ranker);
  QueryOptions q;
  q.n = 5;
  q.exclude_seen = false;
  std::vector<ScoredItem> out = ranker.RankUser(0, q);
  EXPECT_EQ(Items(out), (std::vector<uint32_t>{2, 0, 1, 4, 3}));
  EXPECT_FLOAT_EQ(out[0].score, 0.6f);
  EXPECT_FLOAT_EQ(out[3].score, 0.4f);
  // Add instead of multiply.
  r.boost_multiply = false;
  r.boost_value = 0.05f;
  RetailSteps add =
      RetailSteps::Build(r, f.catalog, f.keys, f.items, f.users, &log, nullptr).value();
  RankContext ctx;
  ctx.model = &model;
  ctx.user = 0;
  EXPECT_FLOAT_EQ(add.boost->Adjust(ctx, 2, 0.3f), 0.35f);
  EXPECT_FLOAT_EQ(add.boost->Adjust(ctx, 0, 0.3f), 0.3f);
}

TEST(RetailStepsTest, AvailabilityWindowEdgesAndStock) {
  const int64_t end = kAsOf + kDay;  // default window: the next 24 hours
  std::vector<P> ps = {
      {"starts_at_end", "c", "s1", "A", end, end + kDay},             // not: starts at the end
      {"starts_before_end", "c", "s2", "A", end - 1, end + kDay},     // yes
      {"ends_at_as_of", "c", "s3", "A", kAsOf - kDay, kAsOf},         // not: ended
      {"ends_after_as_of", "c", "s4", "A", kAsOf - kDay, kAsOf + 1},  // yes
      {"two_left", "c", "s5", "A", kAsOf, end, 2},                    // not: below 3
      {"three_left", "c", "s6", "A", kAsOf, end, 3},                  // yes
  };
  Catalog c = Make(ps);
  KeyIndex k = KeyIndex::Build(c, {"subclass"}).value();
  IdDictionary items = Dict({"s1", "s2", "s3", "s4", "s5", "s6"});
  IdDictionary users = Dict({"m"});
  RetailRules r;
  r.as_of = kAsOf;
  r.boost_level = "class";
  r.diversity_level = "class";
  RetailSteps s = RetailSteps::Build(r, c, k, items, users, nullptr, nullptr).value();
  EXPECT_EQ(s.available_items(), (std::vector<uint32_t>{1, 3, 5}));
  RankContext ctx;
  EXPECT_TRUE(s.availability->Excludes(ctx, 0));
  EXPECT_FALSE(s.availability->Excludes(ctx, 1));
  // min_saleable 2 drops every key (each has one saleable product).
  r.min_saleable = 2;
  EXPECT_TRUE(RetailSteps::Build(r, c, k, items, users, nullptr, nullptr)
                  .value()
                  .available_items()
                  .empty());
}

TEST(RetailStepsTest, ExpansionOrdersByProductScoreAndCaps) {
  std::vector<P> ps = {{"x1", "c", "s1", "A"},
                       {"x2", "c", "s1", "A"},
                       {"x3", "c", "s1", "A"},
                       {"y1", "c", "s2", "A"}};
  Catalog c = Make(ps);
  KeyIndex k = KeyIndex::Build(c, {"subclass"}).value();
  IdDictionary items = Dict({"s1", "s2"});
  IdDictionary users = Dict({"m"});
  InteractionLog log;
  log.has_events = log.has_times = true;
  for (const char* p : {"x3", "x3", "x2"}) {  // x3 clicked most, then x2
    log.user.push_back(log.users.Intern("m"));
    log.item.push_back(log.items.Intern(p));
    log.event.push_back(log.events.Intern("view"));
    log.time.push_back(kAsOf - 10);
    log.value.push_back(1);
  }
  ProductScoreOptions so;
  so.as_of = kAsOf;
  ProductScores scores = ProductScores::Compute(c, k, &log, so).value();
  RetailRules r;
  r.as_of = kAsOf;
  r.boost_level = r.diversity_level = "class";
  r.products_per_key = 2;
  RetailSteps s = RetailSteps::Build(r, c, k, items, users, &log, &scores).value();
  std::vector<ScoredItem> ranked = {{1, 2.0f}, {0, 1.0f}};
  EXPECT_EQ(s.ExpandToProducts(ranked), (std::vector<uint32_t>{3, 2, 1}));
  r.max_products = 2;
  RetailSteps capped = RetailSteps::Build(r, c, k, items, users, &log, &scores).value();
  EXPECT_EQ(capped.ExpandToProducts(ranked), (std::vector<uint32_t>{3, 2}));
}

TEST(RetailStepsTest, LevelsMustBeCatalogLevelsDeterminedByTheKey) {
  Fixture f;
  RetailRules r;
  r.diversity_level = "colour";
  EXPECT_FALSE(RetailSteps::Build(r, f.catalog, f.keys, f.items, f.users, nullptr, nullptr).ok());
  KeyIndex by_brand = KeyIndex::Build(f.catalog, {"brand"}).value();
  r.diversity_level = "class";  // a brand spans classes: not determined by the key
  EXPECT_FALSE(RetailSteps::Build(r, f.catalog, by_brand, f.items, f.users, nullptr, nullptr).ok());
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

// Property: on random catalogs, scores and events, the ranker with the
// retail steps equals a plain reference: available keys, boosted scores,
// sorted (score desc, index asc), greedy cap per class.
TEST(RetailStepsTest, MatchesAPlainReferenceOnRandomData) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<P> ps;
    static const char* cls[] = {"c1", "c2", "c3"};
    static std::vector<std::string> ids, subs;
    ids.clear();
    subs.clear();
    for (int i = 0; i < 40; ++i) ids.push_back("p" + std::to_string(i));
    for (int i = 0; i < 8; ++i) subs.push_back("s" + std::to_string(i));
    for (int i = 0; i < 40; ++i) {
      const int sub = rng() % 8;
      P p{ids[i].c_str(), cls[sub % 3], subs[sub].c_str(), (rng() % 2) ? "A" : "B"};
      p.from = kAsOf + (static_cast<int64_t>(rng() % 5) - 3) * kDay;
      p.until = p.from + 3 * kDay;
      p.quantity = rng() % 6;
      ps.push_back(p);
    }
    Catalog c = Make(ps);
    KeyIndex k = KeyIndex::Build(c, {"subclass", "brand"}).value();
    IdDictionary items;
    for (uint32_t i = 0; i < k.num_keys(); ++i) items.Intern(k.keys().Name(i));
    IdDictionary users = Dict({"m"});
    InteractionLog log;
    log.has_events = log.has_times = true;
    for (int e = 0; e < 30; ++e) {
      log.user.push_back(log.users.Intern("m"));
      log.item.push_back(log.items.Intern(ids[rng() % 40]));
      log.event.push_back(log.events.Intern((rng() % 4) ? "view" : "purchase"));
      log.time.push_back(kAsOf - static_cast<int64_t>(rng() % (20 * kDay)));
      log.value.push_back(1);
    }
    RetailRules r;
    r.as_of = kAsOf;
    r.max_per_node = 1 + rng() % 3;
    RetailSteps s = RetailSteps::Build(r, c, k, items, users, &log, nullptr).value();
    std::vector<float> scores(k.num_keys());
    for (float& x : scores) x = static_cast<float>(rng() % 5);  // many ties
    FixedScoresModel model(1, k.num_keys(), scores, {});
    Ranker ranker(model);
    s.AddTo(&ranker);
    QueryOptions q;
    q.n = 1 + rng() % 10;
    q.exclude_seen = false;
    std::vector<ScoredItem> got = ranker.RankUser(0, q);

    // Reference.
    const uint32_t sub_level = 1, class_level = 0;
    std::map<uint32_t, std::pair<int64_t, bool>> per_node;  // subclass -> (count, bought)
    for (size_t i = 0; i < log.size(); ++i) {
      const int64_t t = log.time[i];
      if (t < kAsOf - 10 * kDay || t >= kAsOf) continue;
      const uint32_t p = *c.products().Find(log.items.Name(log.item[i]));
      auto& n = per_node[c.node(p, sub_level)];
      if (log.events.Name(log.event[i]) == "purchase")
        n.second = true;
      else
        ++n.first;
    }
    std::vector<std::pair<int64_t, std::string>> cand;
    for (auto& [node, v] : per_node) {
      if (!v.second && v.first > 0)
        cand.emplace_back(-v.first, std::string(c.level_values(sub_level).Name(node)));
    }
    std::sort(cand.begin(), cand.end());
    std::set<std::string> boosted;
    for (size_t i = 0; i < cand.size() && i < 3; ++i) boosted.insert(cand[i].second);
    std::vector<ScoredItem> ref;
    for (uint32_t key = 0; key < k.num_keys(); ++key) {
      int saleable = 0;
      for (uint32_t p : k.products(key)) {
        saleable += c.available_from(p) < kAsOf + kDay && c.available_until(p) > kAsOf &&
                    c.quantity(p) >= 3;
      }
      if (saleable == 0) continue;
      float sc = scores[key];
      if (boosted.count(std::string(c.node_name(k.products(key)[0], sub_level)))) sc *= 1.5f;
      ref.push_back({key, sc});
    }
    std::stable_sort(ref.begin(), ref.end(),
                     [](const ScoredItem& a, const ScoredItem& b) { return a.score > b.score; });
    std::vector<ScoredItem> want;
    std::map<uint32_t, uint32_t> taken;
    for (const ScoredItem& x : ref) {
      if (want.size() == q.n) break;
      uint32_t& t = taken[c.node(k.products(x.item)[0], class_level)];
      if (t >= r.max_per_node) continue;
      ++t;
      want.push_back(x);
    }
    ASSERT_EQ(Items(got), Items(want)) << "trial " << trial;
  }
}

}  // namespace
}  // namespace encore
