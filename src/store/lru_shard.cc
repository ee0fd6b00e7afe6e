// LruShard (store/lru_shard.h).

#include "store/lru_shard.h"

#include <utility>

namespace encore::store {

const LruShard::Entry* LruShard::Find(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &*it->second;
}

void LruShard::Insert(std::string key, std::string_view value, bool found, uint64_t capacity) {
  const uint64_t cost = Cost(key, value, found);
  lru_.push_front(Entry{std::move(key), found ? std::string(value) : std::string(), found, cost});
  index_.emplace(std::string_view(lru_.front().key), lru_.begin());
  bytes_ += cost;
  while (bytes_ > capacity && !lru_.empty()) {
    const Entry& last = lru_.back();
    bytes_ -= last.cost;
    index_.erase(std::string_view(last.key));
    lru_.pop_back();
  }
}

void LruShard::Erase(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  auto node = it->second;
  bytes_ -= node->cost;
  index_.erase(it);
  lru_.erase(node);
}

void LruShard::Clear() {
  index_.clear();
  lru_.clear();
  bytes_ = 0;
}

}  // namespace encore::store
