// LiveCache (store/live_cache.h): hits, negative answers, invalidation, the
// lookup/invalidation race, switching off and on, capacity.

#include "store/live_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace encore::store {
namespace {

// Looks `key` up and, on a miss, fills in what the "store" answers.
struct Answer {
  bool from_cache = false;
  bool found = false;
  std::string value;
};
Answer Read(LiveCache* cache, const std::string& key, bool store_found,
            const std::string& store_value) {
  Answer a;
  LiveCache::Ticket ticket;
  a.from_cache = cache->Lookup(key, &a.found, &a.value, &ticket);
  if (!a.from_cache) {
    a.found = store_found;
    a.value = store_found ? store_value : "";
    cache->Fill(key, store_found, store_value, ticket);
  }
  return a;
}

TEST(LiveCache, OffUntilEnabledThenKeepsFoundAndNotFoundAnswers) {
  LiveCache cache(1 << 20);
  EXPECT_FALSE(Read(&cache, "k", true, "v1").from_cache);
  EXPECT_FALSE(Read(&cache, "k", true, "v1").from_cache);  // off: nothing kept
  EXPECT_EQ(cache.Stats().bypassed, 2u);
  cache.Enable();
  EXPECT_FALSE(Read(&cache, "k", true, "v1").from_cache);
  Answer a = Read(&cache, "k", true, "ignored");
  EXPECT_TRUE(a.from_cache);
  EXPECT_TRUE(a.found);
  EXPECT_EQ(a.value, "v1");
  EXPECT_FALSE(Read(&cache, "absent", false, "").from_cache);
  a = Read(&cache, "absent", true, "now there");
  EXPECT_TRUE(a.from_cache);  // a cached NotFound
  EXPECT_FALSE(a.found);
  LiveCacheStats st = cache.Stats();
  EXPECT_EQ(st.hits, 2u);
  EXPECT_EQ(st.misses, 2u);
  EXPECT_EQ(st.entries, 2u);
}

TEST(LiveCache, InvalidationDropsTheAnswer) {
  LiveCache cache(1 << 20);
  cache.Enable();
  Read(&cache, "absent", false, "");
  Read(&cache, "k", true, "v1");
  cache.Invalidate("absent");
  cache.Invalidate("k");
  Answer a = Read(&cache, "absent", true, "written");
  EXPECT_FALSE(a.from_cache);
  EXPECT_EQ(Read(&cache, "absent", true, "ignored").value, "written");
  EXPECT_EQ(Read(&cache, "k", true, "v2").value, "v2");
  EXPECT_EQ(cache.Stats().invalidations, 2u);
}

TEST(LiveCache, AnAnswerOvertakenByAnInvalidationIsNotKept) {
  LiveCache cache(1 << 20);
  cache.Enable();
  bool found = false;
  std::string value;
  LiveCache::Ticket ticket;
  ASSERT_FALSE(cache.Lookup("k", &found, &value, &ticket));
  // The store answered "absent", then a writer wrote k and its
  // invalidation arrived before the answer is filled in.
  cache.Invalidate("k");
  cache.Fill("k", false, "", ticket);
  EXPECT_FALSE(Read(&cache, "k", true, "written").from_cache);
  EXPECT_EQ(Read(&cache, "k", true, "ignored").value, "written");
}

TEST(LiveCache, SwitchingOffFlushesAndVoidsLookupsInFlight) {
  LiveCache cache(1 << 20);
  cache.Enable();
  Read(&cache, "k", true, "old");
  bool found = false;
  std::string value;
  LiveCache::Ticket ticket;
  ASSERT_FALSE(cache.Lookup("other", &found, &value, &ticket));
  cache.Disable();
  cache.Fill("other", true, "old", ticket);
  EXPECT_EQ(cache.Stats().entries, 0u);
  Answer a = Read(&cache, "k", true, "new");
  EXPECT_FALSE(a.from_cache);
  cache.Enable();
  EXPECT_FALSE(Read(&cache, "k", true, "newer").from_cache);  // started empty
  EXPECT_EQ(Read(&cache, "k", true, "ignored").value, "newer");
  EXPECT_EQ(cache.Stats().flushes, 3u);  // Enable, Disable, Enable
}

TEST(LiveCache, StaysWithinItsCapacity) {
  const uint64_t capacity = 64 * 1024;
  LiveCache cache(capacity);
  cache.Enable();
  const std::string value(500, 'x');
  for (int i = 0; i < 2000; ++i) Read(&cache, "user-" + std::to_string(i), true, value);
  LiveCacheStats st = cache.Stats();
  EXPECT_LE(st.bytes, capacity);
  EXPECT_GT(st.entries, 0u);
  EXPECT_LT(st.entries, 2000u);
  // Too large for the cache (over 1/64 of it): answered, never kept.
  Read(&cache, "big", true, std::string(capacity / 32, 'y'));
  EXPECT_FALSE(Read(&cache, "big", true, "").from_cache);
}

}  // namespace
}  // namespace encore::store
