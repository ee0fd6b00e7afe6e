// LruShard: the byte bound holds, and "not found" answers are held to their
// own share, so a flood of unknown keys never pushes cached payloads out.

#include "store/lru_shard.h"

#include <gtest/gtest.h>

#include <string>

namespace encore::store {
namespace {

constexpr uint64_t kCapacity = 64 * 1024;
constexpr uint64_t kNegative = kCapacity / 8;

TEST(LruShard, KeepsTheMostRecentlyUsedWithinTheCapacity) {
  LruShard shard;
  const std::string value(1000, 'v');
  for (int i = 0; i < 200; ++i) shard.Insert("k" + std::to_string(i), value, true, kCapacity, kNegative);
  EXPECT_LE(shard.bytes(), kCapacity);
  EXPECT_EQ(shard.Find("k0"), nullptr);  // the oldest went first
  ASSERT_NE(shard.Find("k199"), nullptr);
  EXPECT_EQ(shard.Find("k199")->value, value);
  // A lookup makes an entry the most recently used: it outlives newer ones.
  const size_t kept = shard.entries();
  const std::string oldest = "k" + std::to_string(200 - kept);
  ASSERT_NE(shard.Find(oldest), nullptr);
  shard.Insert("new", value, true, kCapacity, kNegative);
  EXPECT_NE(shard.Find(oldest), nullptr);
  EXPECT_EQ(shard.Find("k" + std::to_string(200 - kept + 1)), nullptr);
}

TEST(LruShard, UnknownKeysNeverPushCachedPayloadsOut) {
  LruShard shard;
  const std::string value(500, 'v');
  // Payloads filling about half the capacity.
  int payloads = 0;
  while (shard.bytes() + LruShard::Cost("p0000", value, true) <= kCapacity / 2) {
    shard.Insert("p" + std::to_string(payloads++), value, true, kCapacity, kNegative);
  }
  ASSERT_GT(payloads, 10);
  // A flood of distinct unknown keys, 100 times what the cache holds.
  for (int i = 0; i < 50000; ++i) shard.Insert("nobody-" + std::to_string(i), "", false, kCapacity, kNegative);
  EXPECT_LE(shard.negative_bytes(), kNegative);
  EXPECT_LE(shard.bytes(), kCapacity);
  for (int i = 0; i < payloads; ++i) {
    const LruShard::Entry* e = shard.Find("p" + std::to_string(i));
    ASSERT_NE(e, nullptr) << "payload " << i << " was pushed out by unknown keys";
    EXPECT_TRUE(e->found);
  }
  // The most recent unknown keys are still answered from the cache.
  const LruShard::Entry* last = shard.Find("nobody-49999");
  ASSERT_NE(last, nullptr);
  EXPECT_FALSE(last->found);
  EXPECT_EQ(shard.Find("nobody-0"), nullptr);
}

TEST(LruShard, PayloadsMayTakeTheWholeCapacityAndPushUnknownKeysOut) {
  LruShard shard;
  for (int i = 0; i < 20; ++i) shard.Insert("nobody-" + std::to_string(i), "", false, kCapacity, kNegative);
  const uint64_t negative = shard.negative_bytes();
  ASSERT_GT(negative, 0u);
  const std::string value(1000, 'v');
  for (int i = 0; i < 1000; ++i) shard.Insert("p" + std::to_string(i), value, true, kCapacity, kNegative);
  EXPECT_LE(shard.bytes(), kCapacity);
  // Found entries evict found entries first; the unknown keys' share stays.
  EXPECT_EQ(shard.negative_bytes(), negative);
  EXPECT_NE(shard.Find("p999"), nullptr);
  EXPECT_NE(shard.Find("nobody-19"), nullptr);
}

TEST(LruShard, EraseAndClearKeepTheCountsRight) {
  LruShard shard;
  shard.Insert("a", "value", true, kCapacity, kNegative);
  shard.Insert("b", "", false, kCapacity, kNegative);
  EXPECT_EQ(shard.entries(), 2u);
  shard.Erase("b");
  EXPECT_EQ(shard.negative_bytes(), 0u);
  EXPECT_EQ(shard.bytes(), LruShard::Cost("a", "value", true));
  shard.Erase("missing");
  shard.Insert("c", "", false, kCapacity, kNegative);
  shard.Clear();
  EXPECT_EQ(shard.entries(), 0u);
  EXPECT_EQ(shard.bytes(), 0u);
  EXPECT_EQ(shard.negative_bytes(), 0u);
  EXPECT_EQ(shard.Find("a"), nullptr);
}

}  // namespace
}  // namespace encore::store
