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
// keeps 24 bits of the hash, the length (up to 255) and the first 8 bytes of
// the key in each 16-byte slot, so a lookup of an id of up to 8 bytes
// touches one cache line and no arena; a longer id compares its tail against
// the arena only when all of these already match. (32-byte slots with 16
// bytes inline were measured slower on 10M rows: the table of 821,562 users
// took 64 MB instead of 32 MB, and most lookups miss the cache either way.)
//
// Open addressing, linear probing, power-of-two capacity, load <= 0.7.
// Ids are never removed. The table comes zeroed from AllocateZeroed (fresh
// pages, on huge pages from 2 MiB up): a 10-million-row read probed the
// table at random, and on small pages nearly every probe missed the TLB,
// while growing it zeroed and faulted in each new table page by page.
struct IdDictionary::Rep {
  static constexpr size_t kBlock = size_t{1} << 20;
  static constexpr size_t kInline = 8;

  struct Slot {
    uint32_t index_plus_1;  // 0 = empty
    uint32_t check;         // Check(hash, length)
    uint64_t prefix;        // the first min(length, 8) bytes, zero-padded
  };
  static_assert(sizeof(Slot) == 16);

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

  // The hash's top 24 bits (the slot index uses the low bits) and the
  // length, capped at 255.
  static uint32_t Check(uint64_t h, size_t length) {
    return static_cast<uint32_t>(h >> 40) << 8 | static_cast<uint32_t>(std::min<size_t>(length, 255));
  }

  static uint64_t Prefix(std::string_view id) {
    uint64_t p = 0;
    std::memcpy(&p, id.data(), std::min(id.size(), kInline));
    return p;
  }

  bool Matches(const Slot& s, uint32_t check, uint64_t prefix, std::string_view id) const {
    if (s.check != check || s.prefix != prefix) return false;
    if (id.size() <= kInline) return true;  // the length is in `check`
    const std::string_view name = names[s.index_plus_1 - 1];
    return name.size() == id.size() &&
           std::memcmp(name.data() + kInline, id.data() + kInline, id.size() - kInline) == 0;
  }

  // The slot holding `id`, or the empty slot where it belongs.
  Slot* Probe(uint64_t h, std::string_view id) {
    const uint32_t check = Check(h, id.size());
    const uint64_t prefix = Prefix(id);
    size_t i = h & mask;
    while (true) {
      Slot& s = slots[i];
      if (s.index_plus_1 == 0 || Matches(s, check, prefix, id)) return &s;
      i = (i + 1) & mask;
    }
  }

  // The slots keep only 24 bits of the hash, so growing hashes every id
  // again, in index order: the arena is read front to back.
  void Grow() {
    FreeZeroed(slots, capacity * sizeof(Slot));
    capacity = capacity == 0 ? 64 : capacity * 2;
    slots = static_cast<Slot*>(AllocateZeroed(capacity * sizeof(Slot)));
    mask = capacity - 1;
    for (size_t k = 0; k < names.size(); ++k) {
      const uint64_t h = HashOf(names[k]);
      size_t i = h & mask;
      while (slots[i].index_plus_1 != 0) i = (i + 1) & mask;
      slots[i] = Slot{static_cast<uint32_t>(k + 1), Check(h, names[k].size()), Prefix(names[k])};
    }
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
  *s = Rep::Slot{idx + 1, Rep::Check(h, id.size()), Rep::Prefix(id)};
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
