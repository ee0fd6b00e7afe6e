// The Redis store's live payload cache (Store::OpenLiveCached): every change
// reaches it through client tracking, whoever writes, and while its
// invalidation connection is down it answers from Redis, never from the
// cache. A real redis-server per test (tests/redis_server.h). Waits poll
// with a generous deadline; no sleep decides a result.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "encore/store.h"
#include "redis_server.h"

namespace encore {
namespace {

using testing::RedisServer;

// Polls `done` until it holds or 20 s passed.
bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

LiveCacheStats Stats(const LiveStore& live) {
  LiveCacheStats st;
  EXPECT_TRUE(live.GetCacheStats(&st));
  return st;
}

Status WritePayload(LiveStore* writer, uint64_t version, const std::string& user,
                    const std::string& value) {
  LiveStore::Entry e;
  e.kind = LiveStore::Entry::Kind::kPayload;
  e.version = version;
  e.key = user;
  e.value = value;
  return writer->Write({e});
}

// What GetPayload answers: the payload, or "<absent>".
std::string Read(const LiveStore& live, uint64_t version, const std::string& user) {
  std::string value;
  Status s = live.GetPayload(version, user, &value);
  if (s.code() == StatusCode::kNotFound) return "<absent>";
  EXPECT_TRUE(s.ok()) << s.ToString();
  return s.ok() ? value : "<error " + s.ToString() + ">";
}

class RedisLiveCache : public ::testing::Test {
 protected:
  void SetUp() override {
    Status started = redis_.Start();
    ASSERT_TRUE(started.ok()) << started.message()
                              << " (redis-server missing? run scripts/install-deps.sh)";
    auto store = Store::Open(redis_.Uri(0));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    auto cached = store_->OpenLiveCached(1 << 20);
    ASSERT_TRUE(cached.ok()) << cached.status().ToString();
    cached_ = std::move(*cached);
    auto writer = store_->OpenLive();
    ASSERT_TRUE(writer.ok());
    writer_ = std::move(*writer);
    ASSERT_TRUE(Eventually([&] { return Stats(*cached_).connected; }))
        << "the invalidation connection never came up";
  }

  RedisServer redis_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<LiveStore> cached_;
  std::unique_ptr<LiveStore> writer_;
};

TEST_F(RedisLiveCache, ANegativeCachedUserWhoGetsAPayloadIsServedIt) {
  EXPECT_EQ(Read(*cached_, 1, "u1"), "<absent>");
  EXPECT_EQ(Read(*cached_, 1, "u1"), "<absent>");
  LiveCacheStats st = Stats(*cached_);
  EXPECT_EQ(st.hits, 1u);  // the second answer came from the cache
  EXPECT_EQ(st.misses, 1u);

  ASSERT_TRUE(WritePayload(writer_.get(), 1, "u1", "{\"live\":1}").ok());
  EXPECT_TRUE(Eventually([&] { return Read(*cached_, 1, "u1") == "{\"live\":1}"; }));
  EXPECT_GE(Stats(*cached_).invalidations, 1u);
  // Cached again, and a rewrite replaces it.
  const uint64_t hits = Stats(*cached_).hits;
  EXPECT_EQ(Read(*cached_, 1, "u1"), "{\"live\":1}");
  EXPECT_GT(Stats(*cached_).hits, hits);
  ASSERT_TRUE(WritePayload(writer_.get(), 1, "u1", "{\"live\":2}").ok());
  EXPECT_TRUE(Eventually([&] { return Read(*cached_, 1, "u1") == "{\"live\":2}"; }));
}

TEST_F(RedisLiveCache, AnyWriterInvalidatesADeleteToo) {
  EXPECT_EQ(Read(*cached_, 7, "u2"), "<absent>");
  EXPECT_EQ(Read(*cached_, 7, "u2"), "<absent>");
  // Another tool, not encore's writer.
  ASSERT_TRUE(redis_.Command("SET encore:live:p:7:u2 by-another-tool").ok());
  EXPECT_TRUE(Eventually([&] { return Read(*cached_, 7, "u2") == "by-another-tool"; }));
  ASSERT_TRUE(writer_->DropPayloadsBefore(8).ok());  // UNLINK
  EXPECT_TRUE(Eventually([&] { return Read(*cached_, 7, "u2") == "<absent>"; }));
  // FLUSHALL (a nil invalidation): everything goes.
  ASSERT_TRUE(WritePayload(writer_.get(), 7, "u3", "x").ok());
  EXPECT_TRUE(Eventually([&] { return Read(*cached_, 7, "u3") == "x"; }));
  const uint64_t flushes = Stats(*cached_).flushes;
  ASSERT_TRUE(redis_.FlushAll().ok());
  EXPECT_TRUE(Eventually([&] { return Stats(*cached_).flushes > flushes; }));
  EXPECT_EQ(Read(*cached_, 7, "u3"), "<absent>");
}

TEST_F(RedisLiveCache, LosingTheInvalidationConnectionFallsBackToRedisNeverStale) {
  ASSERT_TRUE(WritePayload(writer_.get(), 1, "u1", "old").ok());
  EXPECT_TRUE(Eventually([&] { return Read(*cached_, 1, "u1") == "old"; }));
  EXPECT_EQ(Read(*cached_, 1, "u1"), "old");
  EXPECT_EQ(Read(*cached_, 1, "u9"), "<absent>");
  EXPECT_EQ(Read(*cached_, 1, "u9"), "<absent>");  // cached, found and not found
  ASSERT_GT(Stats(*cached_).entries, 0u);

  // Reconnecting is refused (CLIENT TRACKING forbidden) and the connection
  // killed:
  // the cache must go off and stay off.
  ASSERT_TRUE(redis_.Command("ACL SETUSER default -client|tracking").ok());
  ASSERT_TRUE(redis_.Command("CLIENT KILL TYPE pubsub").ok());
  ASSERT_TRUE(Eventually([&] { return !Stats(*cached_).connected; }));
  EXPECT_EQ(Stats(*cached_).entries, 0u);
  // Writes no message reports are seen at once, every time.
  ASSERT_TRUE(WritePayload(writer_.get(), 1, "u1", "new").ok());
  ASSERT_TRUE(WritePayload(writer_.get(), 1, "u9", "appeared").ok());
  const uint64_t bypassed = Stats(*cached_).bypassed;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Read(*cached_, 1, "u1"), "new");
    EXPECT_EQ(Read(*cached_, 1, "u9"), "appeared");
  }
  EXPECT_EQ(Stats(*cached_).bypassed, bypassed + 6);
  EXPECT_EQ(Stats(*cached_).entries, 0u);

  // Back: the cache is used again, and still invalidated.
  const uint64_t connects = Stats(*cached_).connects;
  ASSERT_TRUE(redis_.Command("ACL SETUSER default +client|tracking").ok());
  ASSERT_TRUE(Eventually([&] { return Stats(*cached_).connects > connects; }));
  EXPECT_EQ(Read(*cached_, 1, "u1"), "new");
  const uint64_t hits = Stats(*cached_).hits;
  EXPECT_EQ(Read(*cached_, 1, "u1"), "new");
  EXPECT_EQ(Stats(*cached_).hits, hits + 1);
  ASSERT_TRUE(WritePayload(writer_.get(), 1, "u1", "newer").ok());
  EXPECT_TRUE(Eventually([&] { return Read(*cached_, 1, "u1") == "newer"; }));
}

TEST_F(RedisLiveCache, ARestartedServerIsNeverAnsweredFromTheOldCache) {
  ASSERT_TRUE(WritePayload(writer_.get(), 1, "u1", "before").ok());
  EXPECT_TRUE(Eventually([&] { return Read(*cached_, 1, "u1") == "before"; }));
  const uint16_t port = redis_.port();
  redis_.Kill();
  ASSERT_TRUE(Eventually([&] { return !Stats(*cached_).connected; }));
  ASSERT_TRUE(redis_.Start(port).ok());  // empty: no persistence
  EXPECT_TRUE(Eventually([&] {
    std::string value;
    return cached_->GetPayload(1, "u1", &value).code() == StatusCode::kNotFound;
  }));
  ASSERT_TRUE(Eventually([&] { return Stats(*cached_).connected; }));
  EXPECT_EQ(Read(*cached_, 1, "u1"), "<absent>");
}

TEST_F(RedisLiveCache, ANewerSnapshotDropsTheOlderOnesAnswers) {
  for (int u = 0; u < 5; ++u) EXPECT_EQ(Read(*cached_, 1, "u" + std::to_string(u)), "<absent>");
  EXPECT_EQ(Stats(*cached_).entries, 5u);
  EXPECT_EQ(Read(*cached_, 2, "u0"), "<absent>");
  EXPECT_EQ(Stats(*cached_).entries, 1u);  // version 1's five went at once
  EXPECT_EQ(Read(*cached_, 1, "u1"), "<absent>");  // a straggler still answered right
  EXPECT_EQ(Read(*cached_, 2, "u0"), "<absent>");
  EXPECT_EQ(Stats(*cached_).entries, 2u);  // no flush for an older version
}

TEST(RedisLiveCacheOff, ZeroBytesIsThePlainLiveStore) {
  RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  auto store = Store::Open(redis.Uri(0));
  ASSERT_TRUE(store.ok());
  auto live = (*store)->OpenLiveCached(0);
  ASSERT_TRUE(live.ok());
  LiveCacheStats st;
  EXPECT_FALSE((*live)->GetCacheStats(&st));
}

}  // namespace
}  // namespace encore
