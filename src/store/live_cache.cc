// LiveCache (store/live_cache.h).

#include "store/live_cache.h"

#include <functional>
#include <mutex>

namespace encore::store {

namespace {
// "No live payload" is the usual answer for a known user (most users have
// none), so those answers may take half the cache; the other half stays
// for live payloads whatever ids are asked for.
constexpr uint64_t kNegativeShare = 2;
}  // namespace

LiveCache::LiveCache(uint64_t capacity_bytes)
    : capacity_(capacity_bytes),
      shard_capacity_(capacity_bytes / kShards),
      largest_(capacity_bytes / 64) {}

LiveCache::Shard& LiveCache::ShardOf(std::string_view key, size_t* index) {
  *index = std::hash<std::string_view>()(key) % kShards;
  return shards_[*index];
}

bool LiveCache::Lookup(const std::string& key, bool* found, std::string* value, Ticket* ticket) {
  ticket->valid = false;
  if (!enabled()) {
    bypassed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  Shard& shard = ShardOf(key, &ticket->shard);
  {
    std::lock_guard lock(shard.cache.mu);
    if (const LruShard::Entry* e = shard.cache.Find(key)) {
      *found = e->found;
      if (e->found) value->assign(e->value);
      hits_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    ticket->generation = shard.generation;
    ticket->valid = true;
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void LiveCache::Fill(const std::string& key, bool found, std::string_view value,
                     const Ticket& ticket) {
  if (!ticket.valid) return;
  const uint64_t cost = LruShard::Cost(key, value, found);
  if (cost > largest_ || cost > shard_capacity_) return;
  Shard& shard = shards_[ticket.shard];
  std::lock_guard lock(shard.cache.mu);
  // Invalidated or flushed since the lookup (the answer may predate a
  // change), or switched off: keep nothing.
  if (shard.generation != ticket.generation || !enabled()) return;
  if (shard.cache.Contains(key)) return;  // another thread filled it meanwhile
  shard.cache.Insert(key, value, found, shard_capacity_, shard_capacity_ / kNegativeShare);
}

void LiveCache::Invalidate(std::string_view key) {
  size_t index = 0;
  Shard& shard = ShardOf(key, &index);
  std::lock_guard lock(shard.cache.mu);
  ++shard.generation;
  invalidations_.fetch_add(1, std::memory_order_relaxed);
  shard.cache.Erase(key);
}

void LiveCache::FlushShards() {
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.cache.mu);
    ++shard.generation;
    shard.cache.Clear();
  }
}

void LiveCache::Flush() {
  FlushShards();
  flushes_.fetch_add(1, std::memory_order_relaxed);
}

void LiveCache::Enable() {
  Flush();
  enabled_.store(true, std::memory_order_release);
}

void LiveCache::Disable() {
  // Off first, so no lookup starting now reads what the flush is removing.
  enabled_.store(false, std::memory_order_release);
  Flush();
}

LiveCacheStats LiveCache::Stats() const {
  LiveCacheStats st;
  st.hits = hits_.load(std::memory_order_relaxed);
  st.misses = misses_.load(std::memory_order_relaxed);
  st.bypassed = bypassed_.load(std::memory_order_relaxed);
  st.invalidations = invalidations_.load(std::memory_order_relaxed);
  st.flushes = flushes_.load(std::memory_order_relaxed);
  st.capacity_bytes = capacity_;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.cache.mu);
    st.entries += shard.cache.entries();
    st.bytes += shard.cache.bytes();
  }
  return st;
}

}  // namespace encore::store
