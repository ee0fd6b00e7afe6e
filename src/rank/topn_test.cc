#include "rank/topn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

namespace encore::rank {
namespace {

// Reference: sort every eligible item by the model order and take n.
std::vector<ScoredItem> Reference(const std::vector<float>& scores,
                                  const std::vector<uint32_t>& seen, const QueryOptions& q,
                                  const uint32_t* tie_rank) {
  std::vector<ScoredItem> all;
  for (uint32_t i = 0; i < scores.size(); ++i) {
    if (!std::isfinite(scores[i])) continue;
    if (q.exclude_seen && std::binary_search(seen.begin(), seen.end(), i)) continue;
    if (std::count(q.deny.begin(), q.deny.end(), i)) continue;
    if (!q.allow.empty() && !std::count(q.allow.begin(), q.allow.end(), i)) continue;
    all.push_back({i, scores[i]});
  }
  std::sort(all.begin(), all.end(), RankOrder{tie_rank});
  if (all.size() > q.n) all.resize(q.n);
  return all;
}

// Regression guard for the SSE2 block scan: ties, NaN, infinities, sizes
// that are not multiples of 16, custom tie ranks, filters.
TEST(SelectTopN, MatchesSortingEverything) {
  std::mt19937 rng(5);
  for (int round = 0; round < 300; ++round) {
    const uint32_t items = 1 + rng() % 700;
    std::vector<float> scores(items);
    for (auto& s : scores) s = static_cast<float>(rng() % 9);  // many ties
    if (round % 3 == 0) scores[rng() % items] = std::numeric_limits<float>::quiet_NaN();
    if (round % 5 == 0) scores[rng() % items] = -std::numeric_limits<float>::infinity();
    std::vector<uint32_t> seen;
    for (uint32_t i = 0; i < items; ++i) {
      if (rng() % 4 == 0) seen.push_back(i);
    }
    std::vector<uint32_t> ranks(items);
    std::iota(ranks.begin(), ranks.end(), 0u);
    std::shuffle(ranks.begin(), ranks.end(), rng);
    QueryOptions q;
    q.n = rng() % 25;
    q.exclude_seen = round % 2 == 0;
    if (round % 7 == 0) q.deny = {0, 3, items / 2};
    if (round % 11 == 0) q.allow = {1, 2, 5, items - 1};
    const uint32_t* ties[] = {nullptr, ranks.data()};
    for (const uint32_t* tie : ties) {
      auto got = SelectTopN(scores.data(), items, seen.data(), seen.data() + seen.size(), q, tie);
      EXPECT_EQ(got, Reference(scores, seen, q, tie)) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace encore::rank
