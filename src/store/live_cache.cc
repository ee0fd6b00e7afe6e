// LiveCache (store/live_cache.h).

#include "store/live_cache.h"

#include <functional>

namespace encore::store {
namespace {
// Bytes an entry costs beyond its key and value (list and hash nodes,
// string headers), so that many tiny (not-found) entries respect the capacity.
constexpr uint64_t kEntryOverhead = 128;
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
    std::lock_guard lock(shard.mu);
    auto it = shard.index.find(key);
    if (it != shard.index.end()) {
      shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
      const Entry& e = *it->second;
      *found = e.found;
      if (e.found) value->assign(e.value);
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
  const uint64_t cost = key.size() + (found ? value.size() : 0) + kEntryOverhead;
  if (cost > largest_ || cost > shard_capacity_) return;
  Shard& shard = shards_[ticket.shard];
  std::lock_guard lock(shard.mu);
  // Invalidated or flushed since the lookup (the answer may predate a
  // change), or switched off: keep nothing.
  if (shard.generation != ticket.generation || !enabled()) return;
  if (shard.index.count(key) != 0) return;  // another thread filled it meanwhile
  shard.lru.push_front(Entry{key, found ? std::string(value) : std::string(), found, cost});
  shard.index.emplace(std::string_view(shard.lru.front().key), shard.lru.begin());
  shard.bytes += cost;
  while (shard.bytes > shard_capacity_ && !shard.lru.empty()) {
    Entry& last = shard.lru.back();
    shard.bytes -= last.cost;
    shard.index.erase(std::string_view(last.key));
    shard.lru.pop_back();
  }
}

void LiveCache::Invalidate(std::string_view key) {
  size_t index = 0;
  Shard& shard = ShardOf(key, &index);
  std::lock_guard lock(shard.mu);
  ++shard.generation;
  invalidations_.fetch_add(1, std::memory_order_relaxed);
  auto it = shard.index.find(key);
  if (it == shard.index.end()) return;
  auto node = it->second;
  shard.bytes -= node->cost;
  shard.index.erase(it);
  shard.lru.erase(node);
}

void LiveCache::FlushShards() {
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    ++shard.generation;
    shard.index.clear();
    shard.lru.clear();
    shard.bytes = 0;
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
    std::lock_guard lock(shard.mu);
    st.entries += shard.index.size();
    st.bytes += shard.bytes;
  }
  return st;
}

}  // namespace encore::store
