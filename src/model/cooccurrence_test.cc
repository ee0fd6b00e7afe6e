// The cooccurrence model against hand-computed cases (every term of the
// formula, ties, users holding everything), then the fast paths against the
// plain definition on generated data.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "encore/model_io.h"
#include "encore/rank.h"
#include "encore/recommender.h"
#include "rank/topn.h"
#include "test_data.h"
#include "test_util.h"

namespace encore {
namespace model {
void SetCooccurrenceMemoryLimitForTesting(uint64_t bytes);  // cooccurrence.cc
}  // namespace model

namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kT = 1700000000;  // the latest time in the decay examples

struct Row {
  std::string user, item;
  int64_t time = 0;
  float value = 1;
};

Dataset MakeData(const std::vector<Row>& rows, bool with_times = false) {
  InteractionLog log;
  log.has_times = with_times;
  for (const Row& r : rows) {
    log.user.push_back(log.users.Intern(r.user));
    log.item.push_back(log.items.Intern(r.item));
    log.value.push_back(r.value);
    if (with_times) log.time.push_back(r.time);
  }
  DatasetOptions o;
  o.threads = 1;
  auto data = BuildDataset(std::move(log), o);
  ENCORE_CHECK(data.ok());
  return std::move(data).value();
}

// The hand example: 4 users, 5 items. Items are first seen in the order
// a, b, c, d9, d10 (their indices 0..4), but in byte order "d10" < "d9".
//
//         a  b  c  d9 d10
//   u1    x  x  x
//   u2    x  x
//   u3    x     x  x
//   u4       x     x  x
//
// count: a 3, b 3, c 2, d9 2, d10 1.   U = 4.
// cooc:  ab 2 (u1 u2), ac 2 (u1 u3), a-d9 1 (u3), b-c 1 (u1), b-d9 1 (u4),
//        b-d10 1 (u4), c-d9 1 (u3), d9-d10 1 (u4); a-d10 and c-d10 never.
// conditional score(x -> y) = cooc(x, y) / count(x):
//   a   -> b 2/3, c 2/3, d9 1/3
//   b   -> a 2/3, c 1/3, d9 1/3, d10 1/3
//   c   -> a 2/2, b 1/2, d9 1/2
//   d9  -> a 1/2, b 1/2, c 1/2, d10 1/2
//   d10 -> b 1/1, d9 1/1
std::vector<Row> HandRows() {
  return {{"u1", "a"}, {"u1", "b"},  {"u1", "c"}, {"u2", "a"},  {"u2", "b"},  {"u3", "a"},
          {"u3", "c"}, {"u3", "d9"}, {"u4", "b"}, {"u4", "d9"}, {"u4", "d10"}};
}

std::unique_ptr<Recommender> FitModel(const Dataset& data, ModelParams p = {}) {
  if (p.threads == 0) p.threads = 2;
  auto m = CreateRecommender("cooccurrence", p);
  ENCORE_CHECK(m.ok());
  Status s = (*m)->Fit(data);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::move(m).value();
}

uint32_t Item(const Dataset& d, const std::string& id) { return *d.items.Find(id); }
uint32_t User(const Dataset& d, const std::string& id) { return *d.users.Find(id); }

// score(a -> b) as stored, or nothing when the pair has no score.
std::optional<float> Score(const Recommender& m, const Dataset& d, const std::string& a,
                           const std::string& b) {
  std::vector<ScoredItem> row;
  EXPECT_TRUE(m.SimilarItems(Item(d, a), m.num_items(), &row).ok());
  for (const ScoredItem& s : row) {
    if (s.item == Item(d, b)) return s.score;
  }
  return std::nullopt;
}

using Named = std::vector<std::pair<std::string, float>>;

Named Names(const Dataset& d, const std::vector<ScoredItem>& recs) {
  Named out;
  for (const ScoredItem& r : recs) out.emplace_back(std::string(d.items.Name(r.item)), r.score);
  return out;
}

Named Recs(const Recommender& m, const Dataset& d, const std::string& user, uint32_t n = 20,
           bool exclude_seen = true) {
  QueryOptions q;
  q.n = n;
  q.exclude_seen = exclude_seen;
  return Names(d, Recommend(m, User(d, user), q));
}

Named Similar(const Recommender& m, const Dataset& d, const std::string& item, uint32_t n = 20) {
  std::vector<ScoredItem> out;
  EXPECT_TRUE(m.SimilarItems(Item(d, item), n, &out).ok());
  return Names(d, out);
}

float F(double x) { return static_cast<float>(x); }

struct Expected {
  const char* a;
  const char* b;
  double score;
};

void ExpectScores(const Recommender& m, const Dataset& d, const std::vector<Expected>& table) {
  for (const Expected& e : table) {
    auto s = Score(m, d, e.a, e.b);
    ASSERT_TRUE(s.has_value()) << e.a << " -> " << e.b;
    EXPECT_FLOAT_EQ(*s, F(e.score)) << e.a << " -> " << e.b;
  }
}

TEST(Cooccurrence, HandExampleConditionalScores) {
  Dataset d = MakeData(HandRows());
  auto m = FitModel(d);
  ExpectScores(*m, d,
               {{"a", "b", 2.0 / 3},
                {"a", "c", 2.0 / 3},
                {"a", "d9", 1.0 / 3},
                {"b", "a", 2.0 / 3},
                {"b", "c", 1.0 / 3},
                {"b", "d9", 1.0 / 3},
                {"b", "d10", 1.0 / 3},
                {"c", "a", 1.0},
                {"c", "b", 0.5},
                {"c", "d9", 0.5},
                {"d9", "a", 0.5},
                {"d9", "b", 0.5},
                {"d9", "c", 0.5},
                {"d9", "d10", 0.5},
                {"d10", "b", 1.0},
                {"d10", "d9", 1.0}});
  // Never held together: no score at all, in either direction.
  EXPECT_FALSE(Score(*m, d, "a", "d10"));
  EXPECT_FALSE(Score(*m, d, "d10", "a"));
  EXPECT_FALSE(Score(*m, d, "c", "d10"));
  EXPECT_FALSE(Score(*m, d, "d10", "c"));
  // Row lengths: nothing but the pairs above (and never the item itself).
  EXPECT_EQ(Similar(*m, d, "a").size(), 3u);
  EXPECT_EQ(Similar(*m, d, "b").size(), 4u);
  EXPECT_EQ(Similar(*m, d, "c").size(), 3u);
  EXPECT_EQ(Similar(*m, d, "d9").size(), 4u);
  EXPECT_EQ(Similar(*m, d, "d10").size(), 2u);
}

TEST(Cooccurrence, CandidateGetsTheMaximumOverHeldItems) {
  Dataset d = MakeData(HandRows());
  auto m = FitModel(d);
  // u1 holds a, b, c. d9: max(a->d9 1/3, b->d9 1/3, c->d9 1/2) = 1/2;
  // d10: only b->d10 = 1/3.
  EXPECT_EQ(Recs(*m, d, "u1"), (Named{{"d9", F(0.5)}, {"d10", F(1.0 / 3)}}));
  // u3 holds a, c, d9. b: max(2/3, 1/2, 1/2); d10: d9->d10 1/2.
  EXPECT_EQ(Recs(*m, d, "u3"), (Named{{"b", F(2.0 / 3)}, {"d10", F(0.5)}}));
  // u4 holds b, d9, d10. a: max(b->a 2/3, d9->a 1/2); c: max(b->c 1/3, d9->c 1/2).
  EXPECT_EQ(Recs(*m, d, "u4"), (Named{{"a", F(2.0 / 3)}, {"c", F(0.5)}}));
  // Predict is the same maximum; -infinity when nothing held co-occurs.
  EXPECT_FLOAT_EQ(m->Predict(User(d, "u1"), Item(d, "d9")), 0.5f);
  Dataset d2 = MakeData({{"u1", "a"}, {"u1", "b"}, {"u2", "c"}});
  auto m2 = FitModel(d2);
  EXPECT_EQ(m2->Predict(User(d2, "u2"), Item(d2, "a")), -INFINITY);
  EXPECT_TRUE(Recs(*m2, d2, "u2").empty());
}

TEST(Cooccurrence, SumAggregationAddsValueWeightedScores) {
  Dataset d = MakeData(HandRows());
  ModelParams p;
  p.aggregate = Aggregate::kSum;
  auto m = FitModel(d, p);
  // Every value is 1 here. u1 holds a, b, c. d9: a->d9 1/3 + b->d9 1/3 + c->d9 1/2 = 7/6;
  // d10: b->d10 1/3 only.
  // Sums of floats: compare names exactly and scores to float precision.
  auto expect = [&](const std::string& user, const Named& want) {
    Named got = Recs(*m, d, user);
    ASSERT_EQ(got.size(), want.size()) << user;
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(got[k].first, want[k].first) << user;
      EXPECT_NEAR(got[k].second, want[k].second, 1e-6) << user;
    }
  };
  expect("u1", {{"d9", F(7.0 / 6)}, {"d10", F(1.0 / 3)}});
  // u4 holds b, d9, d10. a: b->a 2/3 + d9->a 1/2 = 7/6; c: b->c 1/3 + d9->c 1/2 = 5/6.
  expect("u4", {{"a", F(7.0 / 6)}, {"c", F(5.0 / 6)}});
  // Batch equals single calls in this mode too.
  std::vector<uint32_t> users(d.users.size());
  for (uint32_t u = 0; u < users.size(); ++u) users[u] = u;
  QueryOptions q;
  q.n = 3;
  std::vector<std::vector<ScoredItem>> batch;
  RecommendBatch(*m, users, q, &batch);
  for (uint32_t u = 0; u < users.size(); ++u) EXPECT_EQ(batch[u], Recommend(*m, u, q));
}

TEST(Cooccurrence, TiesBreakByIdByteOrderNotIndex) {
  Dataset d = MakeData(HandRows());
  auto m = FitModel(d);
  ASSERT_LT(Item(d, "d9"), Item(d, "d10")) << "index order would put d9 first";
  EXPECT_LT(m->TieRank(Item(d, "d10")), m->TieRank(Item(d, "d9")));
  // u2 holds a, b. c: max(2/3, 1/3) = 2/3; d9: max(1/3, 1/3); d10: b->d10 1/3.
  // d9 and d10 tie at 1/3: "d10" < "d9" in byte order.
  EXPECT_EQ(Recs(*m, d, "u2"), (Named{{"c", F(2.0 / 3)}, {"d10", F(1.0 / 3)}, {"d9", F(1.0 / 3)}}));
  EXPECT_EQ(Recs(*m, d, "u2", 2), (Named{{"c", F(2.0 / 3)}, {"d10", F(1.0 / 3)}}));
  // d9's four neighbours all score 1/2: a, b, c, d10 in byte order.
  EXPECT_EQ(Similar(*m, d, "d9"), (Named{{"a", 0.5f}, {"b", 0.5f}, {"c", 0.5f}, {"d10", 0.5f}}));
}

TEST(Cooccurrence, HeldItemsAreExcludedUnlessAsked) {
  Dataset d = MakeData(HandRows());
  auto m = FitModel(d);
  // u2 holds a and b; each scores from the other: b->a 2/3, a->b 2/3.
  EXPECT_EQ(Recs(*m, d, "u2", 20, /*exclude_seen=*/false), (Named{{"a", F(2.0 / 3)},
                                                                  {"b", F(2.0 / 3)},
                                                                  {"c", F(2.0 / 3)},
                                                                  {"d10", F(1.0 / 3)},
                                                                  {"d9", F(1.0 / 3)}}));
}

TEST(Cooccurrence, UserHoldingEverythingGetsNothing) {
  std::vector<Row> rows = HandRows();
  for (const char* item : {"a", "b", "c", "d9", "d10"}) rows.push_back({"u5", item});
  Dataset d = MakeData(rows);
  auto m = FitModel(d);
  EXPECT_TRUE(Recs(*m, d, "u5").empty());
  EXPECT_EQ(Recs(*m, d, "u5", 20, /*exclude_seen=*/false).size(), 5u);
  std::vector<ItemWeight> all;
  for (uint32_t i = 0; i < d.items.size(); ++i) all.push_back({i, 1});
  QueryOptions q;
  auto fold_in = RecommendFoldIn(*m, all, q);
  ASSERT_TRUE(fold_in.ok());
  EXPECT_TRUE(fold_in->empty());
}

TEST(Cooccurrence, UserWithOneItem) {
  std::vector<Row> rows = HandRows();
  rows.push_back({"u5", "d10"});
  Dataset d = MakeData(rows);
  auto m = FitModel(d);
  // Now count(d10) = 2; cooc(d10, b) = cooc(d10, d9) = 1 (u4): both 1/2, tie
  // broken by "b" < "d9".
  EXPECT_EQ(Recs(*m, d, "u5"), (Named{{"b", 0.5f}, {"d9", 0.5f}}));
}

TEST(Cooccurrence, DuplicateInteractionsCountOnce) {
  Dataset plain = MakeData(HandRows());
  std::vector<Row> rows = HandRows();
  rows.push_back({"u1", "a", 0, 7});
  rows.push_back({"u1", "a"});
  rows.push_back({"u4", "d10", 0, 3});
  Dataset dup = MakeData(rows);
  ASSERT_EQ(dup.nnz(), plain.nnz());
  auto a = FitModel(plain), b = FitModel(dup);
  for (const char* item : {"a", "b", "c", "d9", "d10"}) {
    EXPECT_EQ(Similar(*a, plain, item), Similar(*b, dup, item)) << item;
  }
}

TEST(Cooccurrence, MinCooccurrenceDropsRarePairs) {
  Dataset d = MakeData(HandRows());
  ModelParams p;
  p.min_cooccurrence = 2;  // only a-b and a-c are held together by 2 users
  auto m = FitModel(d, p);
  EXPECT_EQ(Similar(*m, d, "a"), (Named{{"b", F(2.0 / 3)}, {"c", F(2.0 / 3)}}));
  EXPECT_EQ(Similar(*m, d, "b"), (Named{{"a", F(2.0 / 3)}}));
  EXPECT_EQ(Similar(*m, d, "c"), (Named{{"a", 1.0f}}));
  EXPECT_TRUE(Similar(*m, d, "d9").empty());
  EXPECT_TRUE(Similar(*m, d, "d10").empty());
  EXPECT_EQ(Recs(*m, d, "u4"), (Named{{"a", F(2.0 / 3)}}));
  // The denominator is still the full count: c -> a = 2 / 2, not 2 / 1.
  p.min_cooccurrence = 3;
  auto none = FitModel(d, p);
  EXPECT_TRUE(Recs(*none, d, "u2").empty());
}

TEST(Cooccurrence, JaccardOnHandExample) {
  Dataset d = MakeData(HandRows());
  ModelParams p;
  p.similarity = Similarity::kJaccard;
  auto m = FitModel(d, p);
  // cooc / (count(x) + count(y) - cooc); symmetric.
  std::vector<Expected> t = {{"a", "b", 2.0 / (3 + 3 - 2)},  {"a", "c", 2.0 / (3 + 2 - 2)},
                             {"a", "d9", 1.0 / (3 + 2 - 1)}, {"b", "c", 1.0 / (3 + 2 - 1)},
                             {"b", "d9", 1.0 / (3 + 2 - 1)}, {"b", "d10", 1.0 / (3 + 1 - 1)},
                             {"c", "d9", 1.0 / (2 + 2 - 1)}, {"d9", "d10", 1.0 / (2 + 1 - 1)}};
  ExpectScores(*m, d, t);
  for (auto& e : t) std::swap(e.a, e.b);
  ExpectScores(*m, d, t);
}

TEST(Cooccurrence, LiftOnHandExample) {
  std::vector<Row> rows = HandRows();
  Dataset d = MakeData(rows);
  ModelParams p;
  p.similarity = Similarity::kLift;
  auto m = FitModel(d, p);
  // cooc * U / (count(x) * count(y)), U = 4.
  std::vector<Expected> t = {{"a", "b", 2.0 * 4 / (3 * 3)},  {"a", "c", 2.0 * 4 / (3 * 2)},
                             {"a", "d9", 1.0 * 4 / (3 * 2)}, {"b", "c", 1.0 * 4 / (3 * 2)},
                             {"b", "d9", 1.0 * 4 / (3 * 2)}, {"b", "d10", 1.0 * 4 / (3 * 1)},
                             {"c", "d9", 1.0 * 4 / (2 * 2)}, {"d9", "d10", 1.0 * 4 / (2 * 1)}};
  ExpectScores(*m, d, t);
  for (auto& e : t) std::swap(e.a, e.b);
  ExpectScores(*m, d, t);
}

TEST(Cooccurrence, LiftCountsOnlyUsersHoldingSomething) {
  // A user without interactions (kept in the dictionary, e.g. by a split)
  // must not change U. Build the dataset, then append an empty user row.
  Dataset d = MakeData(HandRows());
  d.users.Intern("u_empty");
  d.by_user.rows += 1;
  d.by_user.indptr.push_back(d.by_user.indptr.back());
  d.by_item.cols += 1;
  ModelParams p;
  p.similarity = Similarity::kLift;
  auto m = FitModel(d, p);
  ExpectScores(*m, d, {{"a", "b", 8.0 / 9}, {"d9", "d10", 2.0}});
}

TEST(Cooccurrence, CosineOnHandExample) {
  Dataset d = MakeData(HandRows());
  ModelParams p;
  p.similarity = Similarity::kCosine;
  auto m = FitModel(d, p);
  // cooc / sqrt(count(x) * count(y)).
  std::vector<Expected> t = {{"a", "b", 2 / std::sqrt(9.0)},  {"a", "c", 2 / std::sqrt(6.0)},
                             {"a", "d9", 1 / std::sqrt(6.0)}, {"b", "c", 1 / std::sqrt(6.0)},
                             {"b", "d9", 1 / std::sqrt(6.0)}, {"b", "d10", 1 / std::sqrt(3.0)},
                             {"c", "d9", 1 / std::sqrt(4.0)}, {"d9", "d10", 1 / std::sqrt(2.0)}};
  ExpectScores(*m, d, t);
  for (auto& e : t) std::swap(e.a, e.b);
  ExpectScores(*m, d, t);
}

TEST(Cooccurrence, NeighborsKeepsTheBestPerItem) {
  Dataset d = MakeData(HandRows());
  ModelParams p;
  p.neighbors = 1;
  auto m = FitModel(d, p);
  // Ties for the one place go to the smaller id in byte order.
  EXPECT_EQ(Similar(*m, d, "a"), (Named{{"b", F(2.0 / 3)}}));  // b, c tie
  EXPECT_EQ(Similar(*m, d, "b"), (Named{{"a", F(2.0 / 3)}}));
  EXPECT_EQ(Similar(*m, d, "c"), (Named{{"a", 1.0f}}));
  EXPECT_EQ(Similar(*m, d, "d9"), (Named{{"a", 0.5f}}));   // four-way tie
  EXPECT_EQ(Similar(*m, d, "d10"), (Named{{"b", 1.0f}}));  // b, d9 tie
  // u2 (a, b): a keeps only b and b only a, both held: nothing left.
  EXPECT_TRUE(Recs(*m, d, "u2").empty());
  EXPECT_EQ(Recs(*m, d, "u3"), (Named{{"b", F(2.0 / 3)}}));
  EXPECT_EQ(Recs(*m, d, "u4"), (Named{{"a", F(2.0 / 3)}}));
}

// Decay example, half-life 1 day, T the latest time:
//   u1: a at T (w 1), b at T - 1 day (w 1/2)
//   u2: a at T - 2 days (w 1/4), c at T (w 1)
// count(a) = 1 + 1/4 = 5/4, count(b) = 1/2, count(c) = 1
// cooc(a, b) = 1 * 1/2 = 1/2 (u1), cooc(a, c) = 1/4 * 1 = 1/4 (u2)
// conditional: a->b (1/2)/(5/4) = 2/5, a->c (1/4)/(5/4) = 1/5,
//              b->a (1/2)/(1/2) = 1,   c->a (1/4)/1 = 1/4.
std::vector<Row> DecayRows() {
  return {{"u1", "a", kT},
          {"u1", "b", kT - 3 * kDay},  // an older duplicate of (u1, b)
          {"u1", "b", kT - kDay},
          {"u2", "a", kT - 2 * kDay},
          {"u2", "c", kT}};
}

TEST(Cooccurrence, TimeDecayWeightsByHalfLife) {
  Dataset d = MakeData(DecayRows(), /*with_times=*/true);
  ModelParams p;
  p.half_life_days = 1;
  auto m = FitModel(d, p);
  ExpectScores(*m, d,
               {{"a", "b", 2.0 / 5}, {"a", "c", 1.0 / 5}, {"b", "a", 1.0}, {"c", "a", 0.25}});
  EXPECT_FALSE(Score(*m, d, "b", "c"));
  // Lift with U = 2: cooc * 2 / (count * count).
  p.similarity = Similarity::kLift;
  auto lift = FitModel(d, p);
  ExpectScores(*lift, d, {{"a", "b", 0.5 * 2 / (1.25 * 0.5)}, {"a", "c", 0.25 * 2 / (1.25 * 1)}});
  // min_cooccurrence counts users, not weights: a-c (weight 1/4, 1 user) stays at 1...
  p.similarity = Similarity::kConditional;
  p.min_cooccurrence = 1;
  EXPECT_TRUE(Score(*FitModel(d, p), d, "a", "c"));
  // ... and goes at 2, like every pair here.
  p.min_cooccurrence = 2;
  EXPECT_TRUE(Similar(*FitModel(d, p), d, "a").empty());
  // Without decay the times are ignored: a->b = 1/2.
  auto plain = FitModel(d);
  ExpectScores(*plain, d, {{"a", "b", 0.5}, {"a", "c", 0.5}});
}

TEST(Cooccurrence, DecayWithoutTimesFails) {
  Dataset d = MakeData(HandRows());
  ModelParams p;
  p.half_life_days = 7;
  auto m = CreateRecommender("cooccurrence", p);
  ASSERT_TRUE(m.ok());
  Status s = (*m)->Fit(d);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("half_life_days"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("times"), std::string::npos) << s.message();
}

TEST(Cooccurrence, EmptyDataFails) {
  Dataset d = MakeData({});
  auto m = CreateRecommender("cooccurrence", ModelParams{});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->Fit(d).code(), StatusCode::kInvalidArgument);
}

TEST(Cooccurrence, FailsRatherThanExhaustMemory) {
  Dataset d = MakeData(HandRows());                      // 16 pairs in all
  model::SetCooccurrenceMemoryLimitForTesting(10 * 16);  // room for 10 pairs
  auto m = CreateRecommender("cooccurrence", ModelParams{});
  ASSERT_TRUE(m.ok());
  Status s = (*m)->Fit(d);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("neighbors"), std::string::npos) << s.message();
  EXPECT_EQ((*m)->num_items(), 0u) << "left unfitted";
  ModelParams p;
  p.neighbors = 2;  // at most 10 pairs
  auto pruned = CreateRecommender("cooccurrence", p);
  ASSERT_TRUE(pruned.ok());
  EXPECT_TRUE((*pruned)->Fit(d).ok());
  model::SetCooccurrenceMemoryLimitForTesting(0);
}

TEST(Cooccurrence, SimilarItems) {
  Dataset d = MakeData(HandRows());
  auto m = FitModel(d);
  EXPECT_EQ(Similar(*m, d, "b"),
            (Named{{"a", F(2.0 / 3)}, {"c", F(1.0 / 3)}, {"d10", F(1.0 / 3)}, {"d9", F(1.0 / 3)}}));
  EXPECT_EQ(Similar(*m, d, "b", 2), (Named{{"a", F(2.0 / 3)}, {"c", F(1.0 / 3)}}));
  EXPECT_TRUE(Similar(*m, d, "b", 0).empty());
  std::vector<ScoredItem> out;
  EXPECT_EQ(m->SimilarItems(99, 3, &out).code(), StatusCode::kInvalidArgument);
}

TEST(Cooccurrence, FoldInEqualsUserWithSameItems) {
  Dataset d = testing::MakeTestDataset();
  auto m = FitModel(d);
  QueryOptions q;
  q.n = 8;
  for (uint32_t u = 0; u < d.by_user.rows; ++u) {
    std::vector<ItemWeight> items;
    for (uint64_t k = d.by_user.indptr[u]; k < d.by_user.indptr[u + 1]; ++k) {
      // Weights play no part: held is held.
      items.push_back({d.by_user.indices[k], k % 2 ? 0.0f : 5.0f});
    }
    auto fold_in = RecommendFoldIn(*m, items, q);
    ASSERT_TRUE(fold_in.ok());
    EXPECT_EQ(*fold_in, Recommend(*m, u, q)) << "user " << u;
  }
}

// Random data with times: heavy and light users, popular and rare items.
Dataset RandomData(uint32_t users, uint32_t items, uint32_t rows, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
  auto next = [&s]() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  };
  std::vector<Row> out;
  for (uint32_t r = 0; r < rows; ++r) {
    const uint64_t x = next();
    uint32_t u = static_cast<uint32_t>(x % users);
    if (x % 7 == 0) u = u % 3;  // a few heavy users
    uint32_t i = static_cast<uint32_t>(next() % items);
    if (next() % 3 == 0) i = i % 10;  // a few popular items
    out.push_back({"u" + std::to_string(u), "i" + std::to_string(i),
                   kT - static_cast<int64_t>(next() % (60 * kDay))});
  }
  return MakeData(out, /*with_times=*/true);
}

// Every row against a direct count over item sets, on a large sparse
// catalogue (rows found through the touched list) and a small dense one
// (rows found by scanning the dense accumulator).
TEST(Cooccurrence, MatchesBruteForceDefinition) {
  for (auto [items, rows] : {std::pair{3000u, 700u}, std::pair{40u, 1500u}}) {
    Dataset d = RandomData(120, items, rows, items);
    const uint32_t n = d.items.size();
    std::vector<std::vector<uint32_t>> holders(n);  // users of each item
    for (uint32_t u = 0; u < d.by_user.rows; ++u) {
      for (uint64_t k = d.by_user.indptr[u]; k < d.by_user.indptr[u + 1]; ++k) {
        holders[d.by_user.indices[k]].push_back(u);
      }
    }
    const double users = d.by_user.rows;  // every generated user holds something
    for (Similarity sim :
         {Similarity::kConditional, Similarity::kJaccard, Similarity::kLift, Similarity::kCosine}) {
      for (uint32_t min_cooc : {1u, 2u}) {
        ModelParams p;
        p.similarity = sim;
        p.min_cooccurrence = min_cooc;
        auto m = FitModel(d, p);
        for (uint32_t a = 0; a < n; ++a) {
          std::vector<ScoredItem> expected;
          for (uint32_t b = 0; b < n; ++b) {
            if (b == a) continue;
            std::vector<uint32_t> both;
            std::set_intersection(holders[a].begin(), holders[a].end(), holders[b].begin(),
                                  holders[b].end(), std::back_inserter(both));
            if (both.empty() || both.size() < min_cooc) continue;
            const double c = both.size(), ca = holders[a].size(), cb = holders[b].size();
            double s = 0;
            switch (sim) {
              case Similarity::kConditional:
                s = c / ca;
                break;
              case Similarity::kJaccard:
                s = c / (ca + cb - c);
                break;
              case Similarity::kLift:
                s = c * users / (ca * cb);
                break;
              case Similarity::kCosine:
                s = c / std::sqrt(ca * cb);
                break;
            }
            expected.push_back({b, static_cast<float>(s)});
          }
          std::sort(expected.begin(), expected.end(),
                    [&](const ScoredItem& x, const ScoredItem& y) {
                      if (x.score != y.score) return x.score > y.score;
                      return d.items.Name(x.item) < d.items.Name(y.item);
                    });
          std::vector<ScoredItem> got;
          ASSERT_TRUE(m->SimilarItems(a, n, &got).ok());
          ASSERT_EQ(got, expected) << "item " << a << " of " << n;
        }
      }
    }
  }
}

// Decayed counts against a direct sum: count(a) = sum of w(u, a), cooc(a, b)
// = sum over users holding both of w(u, a) * w(u, b).
TEST(Cooccurrence, DecayMatchesBruteForceDefinition) {
  for (uint32_t items : {2000u, 30u}) {
    Dataset d = RandomData(80, items, 1200, items + 1);
    const double half_life = 3;
    const int64_t t_max = *std::max_element(d.by_user.times.begin(), d.by_user.times.end());
    const uint32_t n = d.items.size();
    std::vector<std::vector<double>> w(d.by_user.rows, std::vector<double>(n, 0.0));
    std::vector<double> count(n, 0.0);
    for (uint32_t u = 0; u < d.by_user.rows; ++u) {
      for (uint64_t k = d.by_user.indptr[u]; k < d.by_user.indptr[u + 1]; ++k) {
        const double x = std::pow(0.5, (t_max - d.by_user.times[k]) / (half_life * kDay));
        w[u][d.by_user.indices[k]] = x;
        count[d.by_user.indices[k]] += x;
      }
    }
    ModelParams p;
    p.half_life_days = half_life;
    p.similarity = Similarity::kJaccard;
    auto m = FitModel(d, p);
    for (uint32_t a = 0; a < n; ++a) {
      std::vector<ScoredItem> got;
      ASSERT_TRUE(m->SimilarItems(a, n, &got).ok());
      std::vector<double> got_score(n, 0.0);
      for (const ScoredItem& s : got) got_score[s.item] = s.score;
      for (uint32_t b = 0; b < n; ++b) {
        if (b == a) continue;
        double cooc = 0;
        for (uint32_t u = 0; u < d.by_user.rows; ++u) cooc += w[u][a] * w[u][b];
        const double expected = cooc > 0 ? cooc / (count[a] + count[b] - cooc) : 0;
        EXPECT_NEAR(got_score[b], expected, 1e-6 * expected) << a << " -> " << b;
      }
    }
  }
}

// The merge in RecommendBatch against the definition: dense max scores, then
// selection with the model's tie order.
TEST(Cooccurrence, BatchEqualsDenseSelection) {
  Dataset d = RandomData(150, 90, 2500, 3);
  for (uint32_t neighbors : {0u, 4u}) {
    for (double half_life : {0.0, 10.0}) {
      ModelParams p;
      p.neighbors = neighbors;
      p.half_life_days = half_life;
      auto m = FitModel(d, p);
      std::vector<QueryOptions> queries(4);
      queries[0].n = 3;
      queries[1].n = 200;
      queries[1].exclude_seen = false;
      queries[2].n = 5;
      queries[2].allow = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 500};
      queries[2].deny = {3, 21, 700};
      queries[3].n = 0;
      std::vector<uint32_t> users;
      for (uint32_t u = 0; u < m->num_users() + 2; ++u) users.push_back(u);
      std::vector<float> scores(m->num_items());
      for (const QueryOptions& q : queries) {
        std::vector<std::vector<ScoredItem>> batch;
        RecommendBatch(*m, users, q, &batch);
        ASSERT_EQ(batch.size(), users.size());
        for (uint32_t u = 0; u < m->num_users(); ++u) {
          m->ScoreItems(u, scores.data());
          const uint32_t* row = m->seen().indices.data();
          auto dense = rank::SelectTopN(scores.data(), m->num_items(), row + m->seen().indptr[u],
                                        row + m->seen().indptr[u + 1], q, m->tie_ranks());
          ASSERT_EQ(batch[u], dense) << "user " << u << " n " << q.n;
          ASSERT_EQ(batch[u], Recommend(*m, u, q)) << "user " << u;
        }
        EXPECT_TRUE(batch[m->num_users()].empty());
      }
    }
  }
}

TEST(Cooccurrence, SameResultsWithOneOrTwoThreads) {
  Dataset d = RandomData(200, 120, 3000, 5);
  for (Similarity sim : {Similarity::kConditional, Similarity::kJaccard}) {
    ModelParams p;
    p.similarity = sim;
    p.half_life_days = 5;
    p.neighbors = 10;
    p.threads = 1;
    auto one = FitModel(d, p);
    p.threads = 2;
    auto two = FitModel(d, p);
    std::vector<ScoredItem> a, b;
    for (uint32_t i = 0; i < d.items.size(); ++i) {
      ASSERT_TRUE(one->SimilarItems(i, 1000, &a).ok());
      ASSERT_TRUE(two->SimilarItems(i, 1000, &b).ok());
      EXPECT_EQ(a, b) << "item " << i;
    }
    std::vector<uint32_t> users;
    for (uint32_t u = 0; u < d.users.size(); ++u) users.push_back(u);
    QueryOptions q;
    std::vector<std::vector<ScoredItem>> ra, rb;
    RecommendBatch(*one, users, q, &ra);
    RecommendBatch(*two, users, q, &rb);
    EXPECT_EQ(ra, rb);
  }
}

TEST(Cooccurrence, SaveLoadKeepsScoresAndTieOrder) {
  Dataset d = MakeData(HandRows());
  ModelParams p;
  p.similarity = Similarity::kCosine;
  p.neighbors = 3;
  auto m = FitModel(d, p);
  testing::TempDir dir;
  Named before = Recs(*m, d, "u2");
  TrainedModel trained{std::move(m), std::move(d.users), std::move(d.items)};
  ASSERT_TRUE(SaveModel(trained, dir.File("m.bin")).ok());
  auto loaded = LoadModel(dir.File("m.bin"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->model->params().similarity, Similarity::kCosine);
  EXPECT_EQ(loaded->model->params().neighbors, 3u);
  std::vector<ScoredItem> a, b;
  for (uint32_t i = 0; i < loaded->items.size(); ++i) {
    EXPECT_EQ(loaded->model->TieRank(i), trained.model->TieRank(i));
    ASSERT_TRUE(loaded->model->SimilarItems(i, 10, &a).ok());
    ASSERT_TRUE(trained.model->SimilarItems(i, 10, &b).ok());
    EXPECT_EQ(a, b);
  }
  QueryOptions q;
  std::vector<ScoredItem> recs = Recommend(*loaded->model, *loaded->users.Find("u2"), q);
  ASSERT_EQ(recs.size(), before.size());
  for (size_t k = 0; k < recs.size(); ++k) {
    EXPECT_EQ(loaded->items.Name(recs[k].item), before[k].first);
    EXPECT_EQ(recs[k].score, before[k].second);
  }
}

// Model state that decodes but makes no sense is Corruption, never a crash.
TEST(Cooccurrence, LoadStateChecksTheSimilarity) {
  auto load = [](std::vector<uint64_t> indptr, std::vector<uint32_t> indices,
                 std::vector<float> values, std::vector<uint32_t> ranks = {0, 1, 2}) {
    auto m = CreateRecommender("cooccurrence", ModelParams{});
    ENCORE_CHECK(m.ok());
    CsrMatrix seen;
    seen.rows = 1;
    seen.cols = 3;
    seen.indptr = {0, 0};
    (*m)->RestoreBase(ModelParams{}, seen);
    ModelWriter w;
    w.PutArray(std::vector<float>{1, 1, 1});
    w.PutArray(ranks);
    w.PutArray(indptr);
    w.PutArray(indices);
    w.PutArray(values);
    ModelReader r(w.buffer(), "test");
    return (*m)->LoadState(&r).code();
  };
  EXPECT_EQ(load({0, 1, 2, 2}, {1, 0}, {0.5f, 0.5f}), StatusCode::kOk);
  EXPECT_EQ(load({0, 2, 1, 2}, {1, 2}, {0.5f, 0.5f}), StatusCode::kCorruption);   // not monotone
  EXPECT_EQ(load({0, 9, 9, 2}, {1, 2}, {0.5f, 0.5f}), StatusCode::kCorruption);   // past the end
  EXPECT_EQ(load({0, 1, 2, 2}, {0, 0}, {0.5f, 0.5f}), StatusCode::kCorruption);   // a -> a
  EXPECT_EQ(load({0, 1, 2, 2}, {1, 7}, {0.5f, 0.5f}), StatusCode::kCorruption);   // no item 7
  EXPECT_EQ(load({0, 2, 2, 2}, {1, 2}, {0.25f, 0.5f}), StatusCode::kCorruption);  // not best first
  EXPECT_EQ(load({0, 2, 2, 2}, {2, 1}, {0.5f, 0.5f}), StatusCode::kCorruption);   // tie order
  EXPECT_EQ(load({0, 1, 2, 2}, {1, 0}, {NAN, 0.5f}), StatusCode::kCorruption);
  EXPECT_EQ(load({0, 1, 2, 2}, {1, 0}, {0.5f, 0.5f}, {0, 0, 2}), StatusCode::kCorruption);
}

}  // namespace
}  // namespace encore
