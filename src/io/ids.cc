#include "encore/ids.h"

#include <absl/hash/hash.h>

#include <cstring>
#include <vector>

#include "encore/status.h"
#include "util/huge_pages.h"

namespace encore {

// Interning is the hottest step of reading (half the time with a generic
// hash map, measured with perf on 10M rows: each lookup missed cache three
// times - control bytes, slot, and the key's bytes in the arena). This table
// keeps the full 64-bit hash, the length and up to 16 bytes of the key in
// each 32-byte slot, so a lookup of a short id touches one cache line; long
// ids compare against the arena only when hash and length already match.
//
// Open addressing, linear probing, power-of-two capacity, load <= 0.7.
// Ids are never removed. The table comes zeroed from AllocateZeroed (fresh
// pages, on huge pages from 2 MiB up): a 10-million-row read probed a 64 MB
// table at random, and on small pages nearly every probe missed the TLB,
// while growing it zeroed and faulted in each new table page by page.
struct IdDictionary::Rep {
  static constexpr size_t kBlock = size_t{1} << 20;
  static constexpr size_t kInline = 16;

  struct Slot {
    uint64_t hash;
    uint32_t index_plus_1;  // 0 = empty
    uint32_t length;
    char prefix[kInline];   // the first min(length, 16) bytes, zero-padded
  };
  static_assert(sizeof(Slot) == 32);

  std::vector<std::unique_ptr<char[]>> blocks;
  char* current = nullptr;
  size_t block_used = kBlock;
  size_t arena_bytes = 0;
  std::vector<std::string_view> names;
  Slot* slots = nullptr;  // `capacity` slots, zero or a power of two; all zero = empty
  size_t capacity = 0;
  size_t mask = 0;

  Rep() = default;
  Rep(const Rep&) = delete;
  Rep& operator=(const Rep&) = delete;
  ~Rep() { FreeZeroed(slots, capacity * sizeof(Slot)); }

  static uint64_t HashOf(std::string_view id) { return absl::Hash<std::string_view>{}(id); }

  static void FillPrefix(std::string_view id, char* prefix) {
    std::memset(prefix, 0, kInline);
    std::memcpy(prefix, id.data(), std::min(id.size(), kInline));
  }

  bool Matches(const Slot& s, uint64_t h, std::string_view id) const {
    if (s.hash != h || s.length != id.size()) return false;
    if (id.size() <= kInline) {
      char prefix[kInline];
      FillPrefix(id, prefix);
      return std::memcmp(prefix, s.prefix, kInline) == 0;
    }
    return std::memcmp(names[s.index_plus_1 - 1].data(), id.data(), id.size()) == 0;
  }

  // The slot holding `id`, or the empty slot where it belongs.
  Slot* Probe(uint64_t h, std::string_view id) {
    size_t i = h & mask;
    while (true) {
      Slot& s = slots[i];
      if (s.index_plus_1 == 0 || Matches(s, h, id)) return &s;
      i = (i + 1) & mask;
    }
  }

  void Grow() {
    Slot* old = slots;
    const size_t old_capacity = capacity;
    const size_t new_capacity = old_capacity == 0 ? 64 : old_capacity * 2;
    slots = static_cast<Slot*>(AllocateZeroed(new_capacity * sizeof(Slot)));
    capacity = new_capacity;
    mask = capacity - 1;
    for (size_t k = 0; k < old_capacity; ++k) {
      const Slot& s = old[k];
      if (s.index_plus_1 == 0) continue;
      size_t i = s.hash & mask;
      while (slots[i].index_plus_1 != 0) i = (i + 1) & mask;
      slots[i] = s;
    }
    FreeZeroed(old, old_capacity * sizeof(Slot));
  }

  std::string_view Store(std::string_view id) {
    if (id.size() > kBlock / 4) {  // large ids get a block of their own
      blocks.push_back(std::make_unique_for_overwrite<char[]>(id.size()));
      std::memcpy(blocks.back().get(), id.data(), id.size());
      arena_bytes += id.size();
      return std::string_view(blocks.back().get(), id.size());
    }
    if (block_used + id.size() > kBlock) {
      blocks.push_back(std::make_unique_for_overwrite<char[]>(kBlock));
      arena_bytes += kBlock;
      block_used = 0;
      current = blocks.back().get();
    }
    char* dst = current + block_used;
    if (!id.empty()) std::memcpy(dst, id.data(), id.size());
    block_used += id.size();
    return std::string_view(dst, id.size());
  }
};

IdDictionary::IdDictionary() : rep_(std::make_unique<Rep>()) {}
IdDictionary::~IdDictionary() = default;
IdDictionary::IdDictionary(IdDictionary&&) noexcept = default;
IdDictionary& IdDictionary::operator=(IdDictionary&&) noexcept = default;

uint64_t IdDictionary::Hash(std::string_view id) { return Rep::HashOf(id); }

void IdDictionary::Prefetch(uint64_t hash) const {
  if (rep_->capacity != 0) __builtin_prefetch(&rep_->slots[hash & rep_->mask]);
}

uint32_t IdDictionary::Intern(std::string_view id) { return InternHashed(id, Rep::HashOf(id)); }

uint32_t IdDictionary::InternHashed(std::string_view id, uint64_t h) {
  Rep& r = *rep_;
  // Keep the load at most 0.7: probes stay short with linear probing.
  if ((r.names.size() + 1) * 10 > r.capacity * 7) r.Grow();
  Rep::Slot* s = r.Probe(h, id);
  if (s->index_plus_1 != 0) return s->index_plus_1 - 1;
  ENCORE_CHECK(r.names.size() < kMaxSize);
  const uint32_t idx = static_cast<uint32_t>(r.names.size());
  r.names.push_back(r.Store(id));
  s->hash = h;
  s->index_plus_1 = idx + 1;
  s->length = static_cast<uint32_t>(id.size());
  ENCORE_CHECK(s->length == id.size());
  Rep::FillPrefix(id, s->prefix);
  return idx;
}

std::optional<uint32_t> IdDictionary::Find(std::string_view id) const {
  Rep& r = *rep_;
  if (r.capacity == 0) return std::nullopt;
  const Rep::Slot* s = r.Probe(Rep::HashOf(id), id);
  if (s->index_plus_1 == 0) return std::nullopt;
  return s->index_plus_1 - 1;
}

std::string_view IdDictionary::Name(uint32_t index) const {
  ENCORE_CHECK(index < rep_->names.size());
  return rep_->names[index];
}

uint32_t IdDictionary::size() const { return static_cast<uint32_t>(rep_->names.size()); }

size_t IdDictionary::MemoryBytes() const {
  return rep_->arena_bytes + rep_->names.capacity() * sizeof(std::string_view) +
         rep_->capacity * sizeof(Rep::Slot);
}

IdDictionary IdDictionary::Clone() const {
  IdDictionary copy;
  copy.rep_->names.reserve(rep_->names.size());
  for (std::string_view name : rep_->names) copy.Intern(name);
  return copy;
}

}  // namespace encore
