// IdDictionary: interns external ids (arbitrary byte strings) to dense 32-bit indices.
//
// Index i is the i-th distinct id in insertion order, so the mapping is
// deterministic for a given input order. Name(i) returns the original bytes
// unchanged; ids that are 64-bit integers are simply their decimal text, so
// "007" and "7" stay distinct ids.
//
// Memory: the id bytes in one arena plus ~16 bytes of hash table per id.
// Thread-safety: const methods are safe concurrently; Intern is not.

#ifndef ENCORE_IDS_H_
#define ENCORE_IDS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace encore {

class IdDictionary {
 public:
  static constexpr uint32_t kMaxSize = 0xFFFFFFFEu;

  IdDictionary();
  ~IdDictionary();
  IdDictionary(IdDictionary&&) noexcept;
  IdDictionary& operator=(IdDictionary&&) noexcept;
  IdDictionary(const IdDictionary&) = delete;
  IdDictionary& operator=(const IdDictionary&) = delete;

  // Returns the index of `id`, adding it if new.
  // REQUIRES: size() < kMaxSize.
  uint32_t Intern(std::string_view id);
  // Batched interning hides memory latency: hash many ids, Prefetch their
  // slots, then InternHashed each (same result as Intern). A stale prefetch
  // (the table grew in between) is merely wasted.
  static uint64_t Hash(std::string_view id);
  void Prefetch(uint64_t hash) const;
  // REQUIRES: hash == Hash(id).
  uint32_t InternHashed(std::string_view id, uint64_t hash);

  // Returns the index of `id` if present.
  std::optional<uint32_t> Find(std::string_view id) const;
  // REQUIRES: index < size(). The view stays valid while the dictionary lives.
  std::string_view Name(uint32_t index) const;
  uint32_t size() const;
  // Bytes held: arena, offsets and hash table.
  size_t MemoryBytes() const;
  // A deep copy: the same ids at the same indices. The class is move-only so
  // that copies are deliberate (evaluation splits give each train Dataset its
  // own dictionaries); this is the deliberate way.
  IdDictionary Clone() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace encore

#endif  // ENCORE_IDS_H_
