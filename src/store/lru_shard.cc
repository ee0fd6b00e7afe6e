// LruShard (store/lru_shard.h).

#include "store/lru_shard.h"

#include <utility>

namespace encore::store {

const LruShard::Entry* LruShard::Find(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  std::list<Entry>& list = ListOf(*it->second);
  list.splice(list.begin(), list, it->second);
  return &*it->second;
}

void LruShard::EvictLast(std::list<Entry>* list) {
  const Entry& last = list->back();
  bytes_ -= last.cost;
  if (!last.found) negative_bytes_ -= last.cost;
  index_.erase(std::string_view(last.key));
  list->pop_back();
}

void LruShard::Insert(std::string key, std::string_view value, bool found, uint64_t capacity,
                      uint64_t negative_capacity) {
  const uint64_t cost = Cost(key, value, found);
  std::list<Entry>& list = found ? lru_ : negative_lru_;
  list.push_front(Entry{std::move(key), found ? std::string(value) : std::string(), found, cost});
  index_.emplace(std::string_view(list.front().key), list.begin());
  bytes_ += cost;
  if (!found) negative_bytes_ += cost;
  // Not-found answers first recycle their own share, then the whole is
  // bounded: the least recently used found entries go, and only when there
  // are none left the not-found ones.
  while (negative_bytes_ > negative_capacity && !negative_lru_.empty()) {
    EvictLast(&negative_lru_);
  }
  while (bytes_ > capacity && !lru_.empty()) EvictLast(&lru_);
  while (bytes_ > capacity && !negative_lru_.empty()) EvictLast(&negative_lru_);
}

void LruShard::Erase(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  auto node = it->second;
  bytes_ -= node->cost;
  if (!node->found) negative_bytes_ -= node->cost;
  index_.erase(it);
  ListOf(*node).erase(node);
}

void LruShard::Clear() {
  index_.clear();
  lru_.clear();
  negative_lru_.clear();
  bytes_ = 0;
  negative_bytes_ = 0;
}

}  // namespace encore::store
