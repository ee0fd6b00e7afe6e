// LruShard: one shard of a byte-bounded LRU map from a key to a cached
// answer - a value, or "not found" - shared by the store's two caches (the
// snapshot payload cache, store/snapshot_cache.cc, and the live payload
// cache, store/live_cache.h), which split their keys over many shards so
// that threads rarely wait on one lock.
//
// "Not found" answers live in an LRU list of their own with a bound of their
// own (the owner's choice, at most the capacity): requests for ever new
// unknown ids (a crawler, a client bug, an attack) then recycle that share
// instead of pushing the cached payloads out.
//
// Thread-safety: none of its own; the owner holds `mu` around every call.
#ifndef ENCORE_STORE_LRU_SHARD_H_
#define ENCORE_STORE_LRU_SHARD_H_

#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace encore::store {

class LruShard {
 public:
  struct Entry {
    std::string key;
    std::string value;  // empty when !found
    bool found = false;
    uint64_t cost = 0;
  };

  // What an entry counts against the capacity: its key and value plus the
  // list and hash nodes and string headers around them, so that many tiny
  // (not-found) entries still respect the capacity.
  static uint64_t Cost(std::string_view key, std::string_view value, bool found) {
    return key.size() + (found ? value.size() : 0) + kEntryOverhead;
  }

  LruShard() = default;
  LruShard(const LruShard&) = delete;
  LruShard& operator=(const LruShard&) = delete;

  // The entry of `key`, made the most recently used; nullptr when absent.
  // The pointer is valid until the next change of this shard.
  const Entry* Find(std::string_view key);
  bool Contains(std::string_view key) const { return index_.count(key) != 0; }
  // Keeps the answer for `key` (absent) as the most recently used entry,
  // then drops the least recently used not-found entries while they hold
  // more than `negative_capacity` bytes, and the least recently used entries
  // (found ones first) while all hold more than `capacity` bytes.
  void Insert(std::string key, std::string_view value, bool found, uint64_t capacity,
              uint64_t negative_capacity);
  void Erase(std::string_view key);
  void Clear();

  size_t entries() const { return index_.size(); }
  uint64_t bytes() const { return bytes_; }            // found and not-found entries
  uint64_t negative_bytes() const { return negative_bytes_; }  // not-found entries only

  std::mutex mu;

 private:
  static constexpr uint64_t kEntryOverhead = 128;

  std::list<Entry>& ListOf(const Entry& e) { return e.found ? lru_ : negative_lru_; }
  void EvictLast(std::list<Entry>* list);

  std::list<Entry> lru_;           // found entries, most recently used first
  std::list<Entry> negative_lru_;  // not-found entries, most recently used first
  // Views into both lists.
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
  uint64_t bytes_ = 0;
  uint64_t negative_bytes_ = 0;
};

}  // namespace encore::store

#endif  // ENCORE_STORE_LRU_SHARD_H_
