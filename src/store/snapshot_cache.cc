// CacheSnapshot (encore/store.h): a sharded LRU cache in front of a
// snapshot's Get.

#include <array>
#include <atomic>
#include <mutex>
#include <string>

#include "encore/store.h"
#include "store/lru_shard.h"

namespace encore {
namespace {

using store::LruShard;

constexpr size_t kShards = 16;
// "Not found" here means an unknown user or item: at most 1/8 of the cache,
// so a flood of made-up ids cannot push the payloads out.
constexpr uint64_t kNegativeShare = 8;

class CachedSnapshot final : public Snapshot {
 public:
  CachedSnapshot(std::shared_ptr<const Snapshot> base, uint64_t capacity_bytes)
      : base_(std::move(base)),
        capacity_(capacity_bytes),
        shard_capacity_(capacity_bytes / kShards),
        largest_(capacity_bytes / 64) {}

  const SnapshotInfo& info() const override { return base_->info(); }

  Status Get(Table table, std::string_view key, std::string* value) const override {
    std::string k;
    k.reserve(key.size() + 1);
    k.push_back(static_cast<char>(table));
    k.append(key);
    LruShard& shard = shards_[std::hash<std::string>()(k) % kShards];
    {
      std::lock_guard lock(shard.mu);
      if (const LruShard::Entry* e = shard.Find(k)) {
        hits_.fetch_add(1, std::memory_order_relaxed);
        if (!e->found) return Status::NotFound("not in snapshot");
        value->assign(e->value);
        return Status::OK();
      }
    }
    misses_.fetch_add(1, std::memory_order_relaxed);
    Status s = base_->Get(table, key, value);
    const bool found = s.ok();
    if (!found && s.code() != StatusCode::kNotFound) return s;  // errors are not kept
    const uint64_t cost = LruShard::Cost(k, *value, found);
    if (cost > largest_ || cost > shard_capacity_) return s;
    std::lock_guard lock(shard.mu);
    if (shard.Contains(k)) return s;  // another thread filled it meanwhile
    shard.Insert(std::move(k), *value, found, shard_capacity_, shard_capacity_ / kNegativeShare);
    return s;
  }

  SnapshotCacheStats Stats() const {
    SnapshotCacheStats st;
    st.hits = hits_.load(std::memory_order_relaxed);
    st.misses = misses_.load(std::memory_order_relaxed);
    st.capacity_bytes = capacity_;
    for (LruShard& shard : shards_) {
      std::lock_guard lock(shard.mu);
      st.entries += shard.entries();
      st.bytes += shard.bytes();
    }
    return st;
  }

 private:
  const std::shared_ptr<const Snapshot> base_;
  const uint64_t capacity_;
  const uint64_t shard_capacity_;
  const uint64_t largest_;
  mutable std::array<LruShard, kShards> shards_;
  mutable std::atomic<uint64_t> hits_{0};
  mutable std::atomic<uint64_t> misses_{0};
};

}  // namespace

std::shared_ptr<const Snapshot> CacheSnapshot(std::shared_ptr<const Snapshot> snapshot,
                                              uint64_t capacity_bytes) {
  if (capacity_bytes == 0) return snapshot;
  return std::make_shared<const CachedSnapshot>(std::move(snapshot), capacity_bytes);
}

bool GetSnapshotCacheStats(const Snapshot& snapshot, SnapshotCacheStats* stats) {
  const auto* cached = dynamic_cast<const CachedSnapshot*>(&snapshot);
  if (cached == nullptr) return false;
  *stats = cached->Stats();
  return true;
}

}  // namespace encore
