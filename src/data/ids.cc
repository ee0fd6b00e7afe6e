#include "encore/ids.h"

#include <absl/container/flat_hash_map.h>

#include <cstring>
#include <vector>

#include "encore/status.h"

namespace encore {

// Id bytes live in 1 MiB arena blocks that never move, so the string_views
// used as hash keys stay valid as the dictionary grows.
struct IdDictionary::Rep {
  static constexpr size_t kBlock = size_t{1} << 20;
  std::vector<std::unique_ptr<char[]>> blocks;
  size_t block_used = kBlock;
  size_t arena_bytes = 0;
  std::vector<std::string_view> names;
  absl::flat_hash_map<std::string_view, uint32_t> index;

  std::string_view Store(std::string_view id) {
    if (id.size() > kBlock / 4) {  // large ids get their own block
      blocks.push_back(std::make_unique<char[]>(id.size()));
      std::memcpy(blocks.back().get(), id.data(), id.size());
      arena_bytes += id.size();
      auto view = std::string_view(blocks.back().get(), id.size());
      return view;
    }
    if (block_used + id.size() > kBlock) {
      blocks.push_back(std::make_unique<char[]>(kBlock));
      arena_bytes += kBlock;
      block_used = 0;
      current = blocks.back().get();
    }
    char* dst = current + block_used;
    if (!id.empty()) std::memcpy(dst, id.data(), id.size());
    block_used += id.size();
    return std::string_view(dst, id.size());
  }
  char* current = nullptr;
};

IdDictionary::IdDictionary() : rep_(std::make_unique<Rep>()) {}
IdDictionary::~IdDictionary() = default;
IdDictionary::IdDictionary(IdDictionary&&) noexcept = default;
IdDictionary& IdDictionary::operator=(IdDictionary&&) noexcept = default;

uint32_t IdDictionary::Intern(std::string_view id) {
  auto it = rep_->index.find(id);
  if (it != rep_->index.end()) return it->second;
  ENCORE_CHECK(rep_->names.size() < kMaxSize);
  std::string_view stored = rep_->Store(id);
  uint32_t idx = static_cast<uint32_t>(rep_->names.size());
  rep_->names.push_back(stored);
  rep_->index.emplace(stored, idx);
  return idx;
}

std::optional<uint32_t> IdDictionary::Find(std::string_view id) const {
  auto it = rep_->index.find(id);
  if (it == rep_->index.end()) return std::nullopt;
  return it->second;
}

std::string_view IdDictionary::Name(uint32_t index) const {
  ENCORE_CHECK(index < rep_->names.size());
  return rep_->names[index];
}

uint32_t IdDictionary::size() const { return static_cast<uint32_t>(rep_->names.size()); }

size_t IdDictionary::MemoryBytes() const {
  return rep_->arena_bytes + rep_->names.capacity() * sizeof(std::string_view) +
         rep_->index.capacity() * (sizeof(std::string_view) + sizeof(uint32_t) + 1);
}

}  // namespace encore
