// BloomFilter: no false negatives ever; the measured false-positive rate on
// random keys is the formula's (a fixed seed, a bound of several standard
// deviations around the target).

#include "util/bloom_filter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <unordered_set>

namespace encore::util {
namespace {

// Adds `n` random keys to a filter sized for n at `target`; returns the
// share of `queries` other random keys it reports present.
double MeasuredFpr(uint64_t n, double target, uint64_t queries, uint64_t seed,
                   BloomFilter* out = nullptr) {
  std::mt19937_64 rng(seed);
  BloomFilter f(n, target);
  std::unordered_set<uint64_t> added;
  while (added.size() < n) {
    const uint64_t k = rng();
    if (added.insert(k).second) f.Add(k);
  }
  for (uint64_t k : added) EXPECT_TRUE(f.MayContain(k)) << "false negative for " << k;
  uint64_t positives = 0, asked = 0;
  while (asked < queries) {
    const uint64_t k = rng();
    if (added.count(k) != 0) continue;
    ++asked;
    positives += f.MayContain(k);
  }
  if (out != nullptr) *out = f;
  return static_cast<double>(positives) / static_cast<double>(queries);
}

TEST(BloomFilter, NoFalseNegativesAndTheTargetRate) {
  for (double target : {0.1, 0.01, 0.001}) {
    const uint64_t queries = static_cast<uint64_t>(2000 / target);  // ~2000 expected positives
    BloomFilter f(1, 0.5);
    const double measured = MeasuredFpr(20'000, target, queries, 7, &f);
    // The formula at n = expected is the target up to the rounding of m and k.
    EXPECT_NEAR(f.FalsePositiveRate(), target, 0.15 * target);
    // Binomial: sd = sqrt(p (1 - p) / q), about 2.2% of p here; allow 15%.
    EXPECT_NEAR(measured, f.FalsePositiveRate(), 0.15 * target)
        << "target " << target << " measured " << measured;
    // About 1.44 log2(1/p) bits a key.
    EXPECT_NEAR(static_cast<double>(f.bits()) / 20'000, 1.44 * std::log2(1 / target), 0.1);
  }
}

TEST(BloomFilter, SmallItemIndicesAndOverfilling) {
  // Consecutive small keys (item indices) behave like random ones.
  BloomFilter f(1000, 0.01);
  for (uint64_t i = 0; i < 1000; ++i) f.Add(i * 2);
  uint64_t positives = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    EXPECT_TRUE(f.MayContain(i * 2));
    positives += f.MayContain(i * 2 + 1);
  }
  for (uint64_t i = 2000; i < 200'000; ++i) positives += f.MayContain(i);
  EXPECT_LT(static_cast<double>(positives) / 199'000, 0.02);
  // Past its size the rate grows as the formula says, and still no false negative.
  for (uint64_t i = 0; i < 1000; ++i) f.Add(1'000'000 + i);
  EXPECT_GT(f.FalsePositiveRate(), 0.1);
  for (uint64_t i = 0; i < 1000; ++i) EXPECT_TRUE(f.MayContain(1'000'000 + i));
}

}  // namespace
}  // namespace encore::util
