// Blocks and RowBalancer: the cuts, the margins each rank holds, and the
// boundaries moving towards the faster rank without leaving the margins.

#ifdef ENCORE_HAVE_MPI

#include "distributed/blocks.h"
#include "distributed/distributed.h"

#include <gtest/gtest.h>

#include <vector>

namespace encore::distributed {
namespace {

// A Zipf-like log: row i has about 1000 / (i + 1) nonzeros, at least 1.
std::vector<uint32_t> Zipf(uint32_t n) {
  std::vector<uint32_t> v(n);
  for (uint32_t i = 0; i < n; ++i) v[i] = std::max<uint32_t>(1, 1000 / (i + 1));
  return v;
}

// The balanced ranges partition [0, rows) in rank order, each inside the
// rows its rank holds.
void ExpectPartition(const Blocks& b, const RowBalancer& bal, uint64_t rows) {
  uint64_t prev = 0;
  for (int r = 0; r < b.ranks(); ++r) {
    const auto [a, e] = bal.Range(r);
    EXPECT_EQ(a, prev) << "rank " << r;
    EXPECT_LE(a, e) << "rank " << r;
    EXPECT_LE(b.held_begin(r), a) << "rank " << r;
    EXPECT_LE(e, b.held_end(r)) << "rank " << r;
    prev = e;
  }
  EXPECT_EQ(prev, rows);
}

TEST(Blocks, EqualCostBlocksWithoutMarginHoldOnlyTheirRows) {
  const std::vector<uint32_t> nz = Zipf(1000);
  const Blocks b = Blocks::ByCost(nz, 4, 3, 0.0);
  ASSERT_EQ(b.ranks(), 3);
  EXPECT_EQ(b.begin(0), 0u);
  EXPECT_EQ(b.end(2), 1000u);
  const uint64_t total = b.Cost(0, 1000);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(b.held_begin(r), b.begin(r));
    EXPECT_EQ(b.held_end(r), b.end(r));
    // Within one row's cost of a third (the heaviest row costs 1004).
    EXPECT_NEAR(static_cast<double>(b.Cost(b.begin(r), b.end(r))), total / 3.0, 1004.0);
  }
  // The heavy first rows make block 0 short in rows.
  EXPECT_LT(b.end(0) - b.begin(0), b.end(2) - b.begin(2));
  int holders[3];
  for (uint64_t i = 0; i < 1000; ++i) {
    ASSERT_EQ(b.HoldersOf(i, holders), 1);
    EXPECT_EQ(holders[0], b.OwnerOf(i));
  }
}

TEST(Blocks, MarginsAreHeldByBothNeighboursAndStayInsideTheirBlocks) {
  const std::vector<uint32_t> nz = Zipf(2000);
  const Blocks b = Blocks::ByCost(nz, 4, 4, 0.25);
  const uint64_t total = b.Cost(0, 2000);
  EXPECT_EQ(b.held_begin(0), 0u);
  EXPECT_EQ(b.held_end(3), 2000u);
  for (int r = 1; r < 4; ++r) {
    // Each boundary's window reaches about a quarter of a block each way.
    EXPECT_LT(b.held_begin(r), b.begin(r));
    EXPECT_GT(b.held_end(r - 1), b.begin(r));
    EXPECT_LE(b.Cost(b.held_begin(r), b.begin(r)), total / 16 + 1);
    EXPECT_LE(b.Cost(b.begin(r), b.held_end(r - 1)), total / 16 + 1);
    EXPECT_GE(b.held_begin(r), b.begin(r - 1));
    EXPECT_LE(b.held_end(r - 1), b.end(r));
  }
  int holders[3];
  for (uint64_t i = 0; i < 2000; ++i) {
    const int n = b.HoldersOf(i, holders);
    int expected = 0;
    for (int r = 0; r < 4; ++r) expected += b.held_begin(r) <= i && i < b.held_end(r) ? 1 : 0;
    ASSERT_EQ(n, expected) << "row " << i;
    ASSERT_GE(n, 1);
    for (int h = 0; h < n; ++h) {
      EXPECT_LE(b.held_begin(holders[h]), i);
      EXPECT_LT(i, b.held_end(holders[h]));
    }
  }
}

TEST(RowBalancer, MovesRowsToTheFasterRankWithinTheMargins) {
  const std::vector<uint32_t> nz = Zipf(3000);
  const Blocks b = Blocks::ByCost(nz, 4, 2, 0.5);
  RowBalancer bal(b);
  EXPECT_EQ(bal.Range(0).second, b.end(0));
  bal.Rebalance();  // nothing measured: unchanged
  EXPECT_EQ(bal.Range(0).second, b.end(0));
  // Rank 1 took 1.25x as long for the same cost: rank 0 should take
  // 1.25 / 2.25 = 5/9 of the cost.
  bal.Record({1.0, 1.25});
  bal.Rebalance();
  const uint64_t total = b.Cost(0, 3000);
  const auto [a0, a1] = bal.Range(0);
  EXPECT_EQ(a0, 0u);
  EXPECT_GT(a1, b.end(0));
  EXPECT_NEAR(static_cast<double>(b.Cost(0, a1)), total * 5.0 / 9.0, 1004.0);
  EXPECT_EQ(bal.Range(1).first, a1);
  EXPECT_EQ(bal.Range(1).second, 3000u);
  const std::vector<int> counts = bal.Counts(), displs = bal.Displacements();
  EXPECT_EQ(counts[0] + counts[1], 3000);
  EXPECT_EQ(displs[1], counts[0]);
  // A rank ten times slower: the boundary stops at the edge of the margin.
  for (int i = 0; i < 20; ++i) {
    bal.Record({0.1, 1.0});
    bal.Rebalance();
  }
  EXPECT_EQ(bal.Range(0).second, b.held_end(0));
  for (int i = 0; i < 20; ++i) {
    bal.Record({1.0, 0.1});
    bal.Rebalance();
  }
  EXPECT_EQ(bal.Range(0).second, b.held_begin(1));
}

TEST(RowBalancer, WithoutMarginsTheBlocksNeverMove) {
  const std::vector<uint32_t> nz = Zipf(500);
  const Blocks b = Blocks::ByCost(nz, 4, 3, 0.0);
  RowBalancer bal(b);
  bal.Record({1.0, 5.0, 0.2});
  bal.Rebalance();
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(bal.Range(r).first, b.begin(r));
    EXPECT_EQ(bal.Range(r).second, b.end(r));
  }
}

TEST(RowBalancer, ThreeRanksKeepContiguousOrderedRanges) {
  const std::vector<uint32_t> nz = Zipf(3000);
  const Blocks b = Blocks::ByCost(nz, 4, 3, 1.0);
  RowBalancer bal(b);
  // An unmeasured rank (0 s) counts at the mean speed.
  bal.Record({2.0, 0.0, 0.5});
  bal.Rebalance();
  ExpectPartition(b, bal, 3000);
  // The slow rank 0 gave rows away, the fast rank 2 took some.
  EXPECT_LT(bal.Range(0).second, b.end(0));
  EXPECT_LT(bal.Range(2).first, b.begin(2));
}

// Every row is owned by exactly one rank and held by its owner; the balanced
// ranges always partition the rows and stay inside the held windows.
void ExpectConsistent(const std::vector<uint32_t>& nz, int ranks, double margin) {
  SCOPED_TRACE(testing::Message() << nz.size() << " rows, " << ranks << " ranks, margin "
                                  << margin);
  const Blocks b = Blocks::ByCost(nz, 4, ranks, margin);
  const uint64_t n = nz.size();
  ASSERT_EQ(b.ranks(), ranks);
  EXPECT_EQ(b.begin(0), 0u);
  EXPECT_EQ(b.end(ranks - 1), n);
  for (int r = 0; r < ranks; ++r) {
    EXPECT_LE(b.begin(r), b.end(r));
    if (r > 0) EXPECT_EQ(b.begin(r), b.end(r - 1));
    EXPECT_LE(b.held_begin(r), b.begin(r));
    EXPECT_GE(b.held_end(r), b.end(r));
  }
  int holders[3];
  for (uint64_t i = 0; i < n; ++i) {
    const int owner = b.OwnerOf(i);
    ASSERT_GE(owner, 0);
    ASSERT_LT(owner, ranks);
    EXPECT_LE(b.begin(owner), i);
    EXPECT_LT(i, b.end(owner));
    const int h = b.HoldersOf(i, holders);
    bool owner_holds = false;
    for (int k = 0; k < h; ++k) owner_holds |= holders[k] == owner;
    EXPECT_TRUE(owner_holds) << "row " << i;
  }
  RowBalancer bal(b);
  // Each rank slow in turn, then all equal: the ranges stay a partition
  // inside the held windows.
  for (int slow = 0; slow <= ranks; ++slow) {
    std::vector<double> seconds(ranks, 1.0);
    if (slow < ranks) seconds[slow] = 10.0;
    bal.Record(seconds);
    bal.Rebalance();
    ExpectPartition(b, bal, n);
  }
}

TEST(Blocks, EdgeShapesKeepEveryRowOwnedOnceAndHeld) {
  for (const double margin : {0.0, 0.3, 1.0}) {
    ExpectConsistent({}, 3, margin);                    // no rows
    ExpectConsistent({5, 1, 2}, 5, margin);             // more ranks than rows
    ExpectConsistent({1, 100000, 1, 1}, 4, margin);     // a heavy row: empty blocks
    ExpectConsistent({0, 0, 0, 0, 0, 0}, 3, margin);    // rows without nonzeros
    ExpectConsistent(Zipf(50), 1, margin);              // one rank
    ExpectConsistent(Zipf(500), 7, margin);
  }
}

TEST(MemoryModel, RanksNeededIsTheFewestThatFit) {
  const uint64_t U = 200000, I = 50000, nnz = 5400000;
  for (const uint32_t k : {32u, 64u}) {
    const uint64_t one = EstimateRankBytes(U, I, nnz, k, 1, false);
    // Rank 0's seen matrix (8 B a nonzero) does not shrink with N.
    EXPECT_GE(EstimateRankBytes(U, I, nnz, k, 64, false), (U + I) * 4 * k + nnz * 8);
    for (const double share : {0.9, 0.7, 0.6}) {
      const uint64_t budget = static_cast<uint64_t>(share * static_cast<double>(one));
      const int n = RanksNeeded(U, I, nnz, k, false, budget, 1);
      ASSERT_GT(n, 1) << k << " " << share;
      EXPECT_LE(EstimateRankBytes(U, I, nnz, k, n, false), budget);
      for (int fewer = 1; fewer < n; ++fewer) {
        EXPECT_GT(EstimateRankBytes(U, I, nnz, k, fewer, false), budget) << fewer;
      }
      EXPECT_EQ(RanksNeeded(U, I, nnz, k, false, budget, n + 1), n + 1);
    }
    // Below what no rank count shrinks: none.
    EXPECT_EQ(RanksNeeded(U, I, nnz, k, false, (U + I) * 4 * k, 1), 0);
  }
}

}  // namespace
}  // namespace encore::distributed

#endif  // ENCORE_HAVE_MPI
