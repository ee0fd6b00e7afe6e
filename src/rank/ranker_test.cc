// The ranker: every step kind, the documented order, ties, the non-finite
// rule, over-fetch with list rules, and the equality of its paths (cursor,
// subset, blocked dense, fold-in) with a plain reference that scores every
// item and sorts.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "encore/rank.h"
#include "fixed_scores_model.h"
#include "test_data.h"

namespace encore {
namespace {

using testing::FixedScoresModel;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// The definition of the ranker's result, written the slow way: every item,
// steps (b) to (f) in the documented order, a full sort, a greedy walk.
std::vector<ScoredItem> Reference(const Recommender& m, std::vector<float> scores,
                                  std::vector<uint32_t> seen, const QueryOptions& q,
                                  const std::vector<std::shared_ptr<const RankStep>>& steps,
                                  uint32_t user = RankContext::kNone) {
  std::sort(seen.begin(), seen.end());
  RankContext ctx;
  ctx.model = &m;
  ctx.user = user;
  ctx.seen = seen;
  std::vector<ScoredItem> all;
  for (uint32_t i = 0; i < m.num_items(); ++i) {
    if (q.exclude_seen && std::count(seen.begin(), seen.end(), i)) continue;
    if (!q.allow.empty() && !std::count(q.allow.begin(), q.allow.end(), i)) continue;
    if (std::count(q.deny.begin(), q.deny.end(), i)) continue;
    bool excluded = false;
    for (const auto& s : steps) {
      if (s->kind() == RankStep::Kind::kExclude) {
        excluded |= static_cast<const ExcludeStep&>(*s).Excludes(ctx, i);
      }
    }
    if (excluded) continue;
    float score = scores[i];
    for (const auto& s : steps) {
      if (s->kind() == RankStep::Kind::kAdjust) {
        score = static_cast<const AdjustStep&>(*s).Adjust(ctx, i, score);
      }
    }
    if (!std::isfinite(score)) continue;
    all.push_back({i, score});
  }
  std::sort(all.begin(), all.end(), [&m](const ScoredItem& a, const ScoredItem& b) {
    return a.score > b.score || (a.score == b.score && m.TieRank(a.item) < m.TieRank(b.item));
  });
  std::vector<ScoredItem> out;
  for (const ScoredItem& c : all) {
    if (out.size() == q.n) break;
    bool accepted = true;
    for (const auto& s : steps) {
      if (s->kind() == RankStep::Kind::kList) {
        accepted = accepted && static_cast<const ListStep&>(*s).Accepts(ctx, out, c);
      }
    }
    if (accepted) out.push_back(c);
  }
  return out;
}

std::vector<float> Row(const Recommender& m, uint32_t u) {
  std::vector<float> s(m.num_items());
  m.ScoreItems(u, s.data());
  return s;
}

std::vector<uint32_t> SeenOf(const Recommender& m, uint32_t u) {
  return {m.seen().indices.begin() + m.seen().indptr[u],
          m.seen().indices.begin() + m.seen().indptr[u + 1]};
}

std::vector<uint32_t> Iota(uint32_t n) {
  std::vector<uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  return v;
}

// One user, eight items, scores chosen to make each step visible.
FixedScoresModel SmallModel() {
  //             i0    i1    i2    i3    i4    i5    i6    i7
  return FixedScoresModel(1, 8, {5.0f, 4.0f, 4.0f, kNaN, 3.0f, kInf, 2.0f, -kInf}, {{6}});
}

std::vector<uint32_t> Items(const std::vector<ScoredItem>& list) {
  std::vector<uint32_t> out;
  for (const ScoredItem& s : list) out.push_back(s.item);
  return out;
}

TEST(Ranker, NonFiniteScoresAreDroppedAndTiesGoByIndex) {
  FixedScoresModel m = SmallModel();
  QueryOptions q;
  q.n = 8;
  // NaN (i3), +inf (i5) and -inf (i7) never appear; i6 is seen; i1 before i2.
  EXPECT_EQ(Items(Ranker(m).RankUser(0, q)), (std::vector<uint32_t>{0, 1, 2, 4}));
  q.exclude_seen = false;
  EXPECT_EQ(Items(Ranker(m).RankUser(0, q)), (std::vector<uint32_t>{0, 1, 2, 4, 6}));
}

TEST(Ranker, TiesFollowTheModelsTieRanks) {
  FixedScoresModel m = SmallModel();
  m.set_tie_ranks({0, 2, 1, 3, 4, 5, 6, 7});  // i2 ranks before i1
  QueryOptions q;
  q.n = 3;
  EXPECT_EQ(Items(Ranker(m).RankUser(0, q)), (std::vector<uint32_t>{0, 2, 1}));
}

TEST(Ranker, ExclusionsComeBeforeAdjustments) {
  FixedScoresModel m = SmallModel();
  Ranker r(m);
  // i4 is boosted to the top but excluded by a step: exclusion wins.
  r.Add(std::make_shared<ItemBoost>(std::vector<uint32_t>{4, 2}, 10.0f, 0.0f));
  r.Add(std::make_shared<ExcludeItems>(std::vector<uint32_t>{4}));
  QueryOptions q;
  q.n = 3;
  q.deny = {0};
  const auto got = r.RankUser(0, q);
  EXPECT_EQ(Items(got), (std::vector<uint32_t>{2, 1}));
  EXPECT_EQ(got[0].score, 40.0f);
}

TEST(Ranker, AdjustmentsApplyInOrderAndANonFiniteResultIsDropped) {
  FixedScoresModel m = SmallModel();
  Ranker r(m);
  r.Add(std::make_shared<ItemBoost>(std::vector<uint32_t>{4}, 1.0f, 10.0f));  // 3 -> 13
  r.Add(std::make_shared<ItemBoost>(std::vector<uint32_t>{4}, 2.0f, 0.0f));   // 13 -> 26
  r.Add(std::make_shared<ItemBoost>(std::vector<uint32_t>{1}, 1.0f, kInf));   // 4 -> inf: dropped
  QueryOptions q;
  q.n = 10;
  const auto got = r.RankUser(0, q);
  EXPECT_EQ(Items(got), (std::vector<uint32_t>{4, 0, 2}));
  EXPECT_EQ(got[0].score, 26.0f);
}

TEST(Ranker, GroupCapOverFetchesUntilNAreAccepted) {
  // 200 items; the best 150 are all in group 0, so with a cap of 1 per
  // group the first over-fetch (4n) cannot fill the list.
  const uint32_t items = 200;
  std::vector<float> scores(items);
  std::vector<uint32_t> group(items);
  for (uint32_t i = 0; i < items; ++i) {
    scores[i] = static_cast<float>(items - i);
    group[i] = i < 150 ? 0 : i;
  }
  FixedScoresModel m(1, items, scores, {});
  auto cap = std::make_shared<GroupCap>(group, 1);
  for (bool cursor : {false, true}) {
    m.set_cursor(cursor);
    Ranker r(m);
    r.Add(cap);
    QueryOptions q;
    q.n = 5;
    const auto got = r.RankUser(0, q);
    EXPECT_EQ(Items(got), (std::vector<uint32_t>{0, 150, 151, 152, 153})) << cursor;
    EXPECT_EQ(got, Reference(m, scores, {}, q, {cap}, 0));
  }
}

// GroupCap's counting tracker (dense group ids) and the list-based default
// (sparse ids) decide exactly as the stateless Accepts over the accepted
// list, on random candidate streams.
TEST(GroupCap, TrackerAgreesWithAcceptsOverTheAcceptedList) {
  std::mt19937 rng(7);
  FixedScoresModel m = SmallModel();
  RankContext ctx;
  ctx.model = &m;
  for (bool sparse : {false, true}) {
    for (int round = 0; round < 50; ++round) {
      const uint32_t items = 1 + rng() % 300, groups = 1 + rng() % 20;
      std::vector<uint32_t> group(items);
      for (uint32_t& g : group) {
        g = rng() % groups;
        if (sparse) g = g * 40'000'000u + 7;  // ids far apart: no count vector
      }
      const GroupCap cap(group, 1 + rng() % 3);
      std::unique_ptr<ListStep::Tracker> tracker = cap.NewTracker(ctx);
      std::vector<ScoredItem> accepted;
      for (int k = 0; k < 400; ++k) {
        const ScoredItem c{static_cast<uint32_t>(rng() % (items + 5)), 1.0f};  // some beyond
        const bool want = cap.Accepts(ctx, accepted, c);
        ASSERT_EQ(tracker->Accepts(c), want) << "sparse " << sparse << " round " << round;
        if (want) {
          accepted.push_back(c);
          tracker->Add(c);
        }
      }
    }
  }
}

TEST(Ranker, AnAllowListOfUnknownItemsAllowsNothing) {
  FixedScoresModel m = SmallModel();
  QueryOptions q;
  q.allow = {100};
  EXPECT_TRUE(Ranker(m).RankUser(0, q).empty());
  q.allow = {100, 1};
  EXPECT_EQ(Items(Ranker(m).RankUser(0, q)), (std::vector<uint32_t>{1}));
}

// Random scores with many ties and some non-finite values; every path of
// the ranker (cursor or dense, with each step kind) against the reference.
TEST(Ranker, EveryPathEqualsTheReferenceOnRandomScores) {
  std::mt19937 rng(11);
  for (int round = 0; round < 40; ++round) {
    const uint32_t users = 1 + rng() % 50, items = 1 + rng() % 300;
    std::vector<float> scores(uint64_t{users} * items);
    for (float& s : scores) {
      const uint32_t r = rng() % 40;
      s = r == 0 ? kNaN : r == 1 ? -kInf : static_cast<float>(rng() % 7);
    }
    std::vector<std::vector<uint32_t>> seen(users);
    for (auto& row : seen) {
      for (uint32_t i = 0; i < items; ++i) {
        if (rng() % 5 == 0) row.push_back(i);
      }
    }
    FixedScoresModel m(users, items, scores, seen);
    std::vector<uint32_t> ranks = Iota(items);
    std::shuffle(ranks.begin(), ranks.end(), rng);
    if (round % 2) m.set_tie_ranks(ranks);
    std::vector<uint32_t> some, group(items);
    for (uint32_t i = 0; i < items; ++i) {
      if (rng() % 6 == 0) some.push_back(i);
      group[i] = rng() % 4;
    }
    const std::vector<std::vector<std::shared_ptr<const RankStep>>> step_sets = {
        {},
        {std::make_shared<ExcludeItems>(some)},
        {std::make_shared<ItemBoost>(some, 0.5f, 3.0f)},
        {std::make_shared<GroupCap>(group, 2)},
        {std::make_shared<GroupCap>(group, 1), std::make_shared<ExcludeItems>(some),
         std::make_shared<ItemBoost>(some, 2.0f, -1.0f)},
    };
    QueryOptions q;
    q.n = rng() % 30;
    q.exclude_seen = round % 3 != 0;
    if (round % 4 == 0) q.deny = {0, items / 2};
    if (round % 5 == 0) q.allow = {1, 2, 5, items - 1, items + 7};
    for (bool cursor : {false, true}) {
      m.set_cursor(cursor);
      for (const auto& steps : step_sets) {
        Ranker r(m);
        for (const auto& s : steps) r.Add(s);
        std::vector<std::vector<ScoredItem>> batch;
        std::vector<uint32_t> all = Iota(users + 2);  // two unknown users
        r.RankUsers(all, q, &batch);
        for (uint32_t u = 0; u < users; ++u) {
          const auto want = Reference(m, Row(m, u), seen[u], q, steps, u);
          ASSERT_EQ(batch[u], want) << "round " << round << " user " << u;
          ASSERT_EQ(r.RankUser(u, q), want);
        }
        EXPECT_TRUE(batch[users].empty());
        EXPECT_TRUE(batch[users + 1].empty());
      }
    }
  }
}

// The cursors of the real models (popularity; cooccurrence with
// aggregate=max) against dense scoring: an identity boost forces the ranker
// onto the dense path, so both paths rank the same scores.
TEST(Ranker, ModelCursorsEqualTheDensePath) {
  for (uint64_t seed : {1, 2, 3}) {
    testing::TestDataOptions o;
    o.users = 150;
    o.items = 90;
    o.per_user = 12;
    o.seed = seed;
    const Dataset d = testing::MakeTestDataset(o);
    for (const char* kind : {"popularity", "cooccurrence"}) {
      ModelParams p;
      p.neighbors = seed == 2 ? 5 : 0;
      auto m = CreateRecommender(kind, p);
      ASSERT_TRUE(m.ok());
      ASSERT_TRUE((*m)->Fit(d).ok());
      ASSERT_NE((*m)->NewRankedCursor(), nullptr) << kind;
      std::vector<uint32_t> group((*m)->num_items());
      for (uint32_t i = 0; i < group.size(); ++i) group[i] = i % 3;
      for (bool cap : {false, true}) {
        Ranker cursor(**m), dense(**m);
        dense.Add(std::make_shared<ItemBoost>(std::vector<uint32_t>{0}, 1.0f, 0.0f));
        if (cap) {
          cursor.Add(std::make_shared<GroupCap>(group, 2));
          dense.Add(std::make_shared<GroupCap>(group, 2));
        }
        for (uint32_t n : {1u, 5u, 20u, 200u}) {
          QueryOptions q;
          q.n = n;
          q.exclude_seen = n != 20;
          if (n == 5) q.deny = {1, 2, 3};
          std::vector<std::vector<ScoredItem>> a, b;
          const auto users = Iota((*m)->num_users());
          cursor.RankUsers(users, q, &a);
          dense.RankUsers(users, q, &b);
          ASSERT_EQ(a, b) << kind << " n " << n << " cap " << cap;
          for (uint32_t u = 0; u < users.size(); u += 7) {
            ASSERT_EQ(
                a[u],
                Reference(
                    **m, Row(**m, u), SeenOf(**m, u), q,
                    cap ? std::vector<std::shared_ptr<const RankStep>>{std::make_shared<GroupCap>(
                              group, 2)}
                        : std::vector<std::shared_ptr<const RankStep>>{},
                    u));
          }
        }
      }
    }
  }
}

TEST(Ranker, FoldInExcludesTheVisitorsItemsAndAppliesTheSteps) {
  FixedScoresModel m(2, 8,
                     {1, 1, 1, 1, 1, 1, 1, 1,  //
                      5, 4, 4, kNaN, 3, kInf, 2, -kInf},
                     {});
  m.set_fold_in_row(1);
  Ranker r(m);
  r.Add(std::make_shared<ItemBoost>(std::vector<uint32_t>{6}, 1.0f, 10.0f));
  const std::vector<ItemWeight> visitor = {{2, 1.0f}, {0, 1.0f}, {2, 1.0f}};
  QueryOptions q;
  q.n = 3;
  auto got = r.RankFoldIn(visitor, q);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(Items(*got), (std::vector<uint32_t>{6, 1, 4}));
  EXPECT_EQ(*got, Reference(m, Row(m, 1), {0, 2}, q,
                            {std::make_shared<ItemBoost>(std::vector<uint32_t>{6}, 1.0f, 10.0f)}));
  q.exclude_seen = false;
  got = r.RankFoldIn(visitor, q);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(Items(*got), (std::vector<uint32_t>{6, 0, 1}));
  const std::vector<ItemWeight> unknown = {{8, 1.0f}};
  EXPECT_FALSE(r.RankFoldIn(unknown, q).ok());
}

// Seen items at scale: beyond seen_exact_max the exclusion is a Bloom
// filter. A seen item is never returned (no false negatives); unseen items
// are dropped only at about the filter's rate; at the size the list is exact.
TEST(Ranker, SeenItemsBeyondTheExactSizeUseABloomFilter) {
  constexpr uint32_t kItems = 4000, kSeen = 1000;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> score(0, 1);
  std::vector<float> scores(2 * kItems);
  for (float& s : scores) s = score(rng);
  std::vector<uint32_t> all = Iota(kItems);
  std::shuffle(all.begin(), all.end(), rng);
  std::vector<uint32_t> seen(all.begin(), all.begin() + kSeen);
  FixedScoresModel m(2, kItems, scores, {seen});
  m.set_fold_in_row(1);
  std::sort(seen.begin(), seen.end());
  Ranker r(m);
  QueryOptions q;
  q.n = kItems;
  const std::vector<ScoredItem> exact = r.RankUser(0, q);
  ASSERT_EQ(exact.size(), kItems - kSeen);
  std::vector<ItemWeight> visitor;
  for (uint32_t i : seen) visitor.push_back({i, 1.0f});
  auto exact_fold_in = r.RankFoldIn(visitor, q);
  ASSERT_TRUE(exact_fold_in.ok());

  // At the size: exact.
  q.seen_exact_max = kSeen;
  q.seen_fpr = 0.05;
  EXPECT_EQ(r.RankUser(0, q), exact);
  // Beyond it: the exact list minus a few false positives, in the same order.
  q.seen_exact_max = kSeen - 1;
  auto check = [&](const std::vector<ScoredItem>& got, const std::vector<ScoredItem>& want) {
    size_t k = 0;
    for (const ScoredItem& c : got) {
      EXPECT_FALSE(std::binary_search(seen.begin(), seen.end(), c.item)) << c.item << " was seen";
      while (k < want.size() && !(want[k] == c)) ++k;
      ASSERT_LT(k, want.size()) << "item " << c.item << " is not in the exact list, in order";
    }
    const double dropped = static_cast<double>(want.size() - got.size()) / want.size();
    EXPECT_GT(dropped, 0.0) << "the filter was not used";
    EXPECT_LT(dropped, 3 * q.seen_fpr);
  };
  check(r.RankUser(0, q), exact);
  auto fold_in = r.RankFoldIn(visitor, q);
  ASSERT_TRUE(fold_in.ok());
  check(*fold_in, *exact_fold_in);
}

TEST(Ranker, SimilarItemsGoThroughTheSteps) {
  // Similar items of item 0 are row 0 of the matrix (never item 0 itself).
  FixedScoresModel m(1, 10, {9, 8, 7, kNaN, 6, kInf, 5, 4, 3, 2}, {});
  std::vector<ScoredItem> got;
  ASSERT_TRUE(Ranker(m).RankSimilar(0, 3, &got).ok());
  EXPECT_EQ(Items(got), (std::vector<uint32_t>{1, 2, 4})) << "inf is dropped, n still met";
  Ranker r(m);
  r.Add(std::make_shared<ExcludeItems>(std::vector<uint32_t>{2}));
  r.Add(std::make_shared<ItemBoost>(std::vector<uint32_t>{9}, 1.0f, 100.0f));
  r.Add(std::make_shared<GroupCap>(std::vector<uint32_t>{0, 1, 1, 1, 1, 1, 1, 2, 2, 3}, 1));
  ASSERT_TRUE(r.RankSimilar(0, 3, &got).ok());
  EXPECT_EQ(Items(got), (std::vector<uint32_t>{9, 1, 7}));
  EXPECT_EQ(got[0].score, 102.0f);
  std::vector<std::vector<ScoredItem>> lists;
  ASSERT_TRUE(r.RankSimilarItems(std::vector<uint32_t>{0, 0}, 3, &lists).ok());
  EXPECT_EQ(lists[0], got);
  EXPECT_EQ(lists[1], got);
  EXPECT_FALSE(r.RankSimilarItems(std::vector<uint32_t>{0, 10}, 3, &lists).ok());
}

}  // namespace
}  // namespace encore
