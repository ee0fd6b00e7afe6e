// CacheSnapshot: answers equal the snapshot's, NotFound is cached, errors are
// not, the capacity holds, and a new snapshot is never answered from an old
// snapshot's cache.

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "encore/store.h"

namespace encore {
namespace {

// A snapshot over a map that counts its Gets and can be told to fail.
class CountingSnapshot final : public Snapshot {
 public:
  explicit CountingSnapshot(std::map<std::string, std::string> docs, uint64_t version = 1)
      : docs_(std::move(docs)) {
    info_.version = version;
  }
  const SnapshotInfo& info() const override { return info_; }
  Status Get(Table table, std::string_view key, std::string* value) const override {
    gets.fetch_add(1);
    if (failing.load()) return Status::IOError("redis down");
    auto it = docs_.find(std::string(1, static_cast<char>(table)) + std::string(key));
    if (it == docs_.end()) return Status::NotFound("no such key");
    *value = it->second;
    return Status::OK();
  }
  mutable std::atomic<int> gets{0};
  std::atomic<bool> failing{false};

 private:
  std::map<std::string, std::string> docs_;
  SnapshotInfo info_;
};

TEST(SnapshotCache, AnswersLikeTheSnapshotAndReadsItOnce) {
  auto base = std::make_shared<CountingSnapshot>(
      std::map<std::string, std::string>{{"uu1", "[1]"}, {"uu2", "[2]"}, {"mpopular", "[p]"}});
  auto cached = CacheSnapshot(base, 1 << 20);
  std::string v;
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(cached->Get(Table::kUser, "u1", &v).ok());
    EXPECT_EQ(v, "[1]");
    ASSERT_TRUE(cached->Get(Table::kUser, "u2", &v).ok());
    EXPECT_EQ(v, "[2]");
    // The same key in another table is another document.
    EXPECT_EQ(cached->Get(Table::kSimilar, "u1", &v).code(), StatusCode::kNotFound);
    EXPECT_EQ(cached->Get(Table::kUser, "nobody", &v).code(), StatusCode::kNotFound);
  }
  EXPECT_EQ(base->gets.load(), 4);  // each key once; NotFound answers are cached too
  SnapshotCacheStats st;
  ASSERT_TRUE(GetSnapshotCacheStats(*cached, &st));
  EXPECT_EQ(st.misses, 4u);
  EXPECT_EQ(st.hits, 8u);
  EXPECT_EQ(st.entries, 4u);
  EXPECT_EQ(cached->info().version, 1u);
  EXPECT_FALSE(GetSnapshotCacheStats(*base, &st));  // not a cache
}

TEST(SnapshotCache, ErrorsAreNotCached) {
  auto base = std::make_shared<CountingSnapshot>(std::map<std::string, std::string>{{"uu1", "x"}});
  auto cached = CacheSnapshot(base, 1 << 20);
  std::string v;
  base->failing = true;
  EXPECT_EQ(cached->Get(Table::kUser, "u1", &v).code(), StatusCode::kIOError);
  base->failing = false;
  ASSERT_TRUE(cached->Get(Table::kUser, "u1", &v).ok());  // asked again, not a cached error
  EXPECT_EQ(v, "x");
  EXPECT_EQ(base->gets.load(), 2);
}

TEST(SnapshotCache, ZeroCapacityIsNoCache) {
  auto base = std::make_shared<CountingSnapshot>(std::map<std::string, std::string>{});
  EXPECT_EQ(CacheSnapshot(base, 0).get(), base.get());
}

TEST(SnapshotCache, StaysWithinItsCapacityAndSkipsLargeDocuments) {
  std::map<std::string, std::string> docs;
  for (int i = 0; i < 2000; ++i) docs["uu" + std::to_string(i)] = std::string(100, 'a' + i % 26);
  docs["mmodel"] = std::string(64 * 1024, 'm');  // > 1/64 of the capacity
  auto base = std::make_shared<CountingSnapshot>(docs);
  const uint64_t capacity = 64 * 1024;
  auto cached = CacheSnapshot(base, capacity);
  std::string v;
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(cached->Get(Table::kUser, "u" + std::to_string(i), &v).ok());
    ASSERT_EQ(v, docs["uu" + std::to_string(i)]);
  }
  SnapshotCacheStats st;
  ASSERT_TRUE(GetSnapshotCacheStats(*cached, &st));
  EXPECT_LE(st.bytes, capacity);
  EXPECT_GT(st.entries, 0u);
  EXPECT_LT(st.entries, 2000u);  // evicted
  // Every answer is still right after evictions.
  for (int i = 0; i < 2000; i += 7) {
    ASSERT_TRUE(cached->Get(Table::kUser, "u" + std::to_string(i), &v).ok());
    ASSERT_EQ(v, docs["uu" + std::to_string(i)]);
  }
  const int before = base->gets.load();
  ASSERT_TRUE(cached->Get(Table::kMeta, "model", &v).ok());
  ASSERT_TRUE(cached->Get(Table::kMeta, "model", &v).ok());
  EXPECT_EQ(base->gets.load(), before + 2);  // too large to keep
  EXPECT_EQ(v.size(), 64u * 1024);
}

// Regression (issue 16 item 9, the Redis soak): requests for ever new unknown
// users were kept as "not found" answers that pushed the payloads out and
// grew the cache's memory for as long as the snapshot was served.
TEST(SnapshotCache, AFloodOfUnknownUsersLeavesThePayloadsCached) {
  std::map<std::string, std::string> docs;
  for (int i = 0; i < 100; ++i) docs["uu" + std::to_string(i)] = std::string(200, 'p');
  auto base = std::make_shared<CountingSnapshot>(docs);
  auto cached = CacheSnapshot(base, 1 << 20);
  std::string v;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(cached->Get(Table::kUser, "u" + std::to_string(i), &v).ok());
  for (int i = 0; i < 100000; ++i) {
    ASSERT_EQ(cached->Get(Table::kUser, "nobody-" + std::to_string(i), &v).code(),
              StatusCode::kNotFound);
  }
  SnapshotCacheStats st;
  ASSERT_TRUE(GetSnapshotCacheStats(*cached, &st));
  EXPECT_LE(st.bytes, (1u << 20) / 8 + 100 * 400);  // unknown ids hold at most 1/8
  const int before = base->gets.load();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(cached->Get(Table::kUser, "u" + std::to_string(i), &v).ok());
  EXPECT_EQ(base->gets.load(), before);  // every payload still answered from the cache
}

TEST(SnapshotCache, ManyThreadsGetTheRightAnswers) {
  std::map<std::string, std::string> docs;
  for (int i = 0; i < 500; ++i) docs["uu" + std::to_string(i)] = "payload-" + std::to_string(i);
  auto base = std::make_shared<CountingSnapshot>(docs);
  auto cached = CacheSnapshot(base, 16 * 1024);  // small: evictions race with hits
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::string v;
      for (int k = 0; k < 20000; ++k) {
        const int i = (k * 7919 + t * 31) % 500;
        if (!cached->Get(Table::kUser, "u" + std::to_string(i), &v).ok() ||
            v != "payload-" + std::to_string(i)) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace encore
