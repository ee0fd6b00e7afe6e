// ChunkedVector<T>: an append-only sequence stored in fixed-size chunks.
//
// Unlike std::vector it never reallocates-and-copies while growing, so peak
// memory while reading is the data kept plus at most one partly filled chunk,
// and a consumer can free chunks front to back (ReleaseChunk) as it goes.
// Chunks hold 2^19 elements (2 MiB of 32-bit values); every chunk after the
// first is asked to sit on transparent huge pages (src/io/chunked_vector.cc):
// a 10-million-row read fills ~120 MB of columns, which on 4 KiB pages cost
// ~30,000 page faults. The first chunk stays on small pages, so a short log
// occupies only the pages it writes.
// Thread-safety: concurrent const access is safe; mutation is not.

#ifndef ENCORE_CHUNKED_VECTOR_H_
#define ENCORE_CHUNKED_VECTOR_H_

#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace encore {

namespace chunked_vector_internal {
// Uninitialised memory for a chunk of `bytes` bytes; `huge`: advised as huge
// pages. Throws std::bad_alloc. FreeChunk takes the same `bytes` and `huge`.
void* AllocateChunk(size_t bytes, bool huge);
void FreeChunk(void* p, size_t bytes, bool huge);
}  // namespace chunked_vector_internal

template <typename T, size_t kChunkSize = (size_t{1} << 19)>
class ChunkedVector {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                "chunks are raw memory");

 public:
  static constexpr size_t kChunk = kChunkSize;

  ChunkedVector() = default;
  ~ChunkedVector() { clear(); }
  ChunkedVector(ChunkedVector&& o) noexcept
      : chunks_(std::move(o.chunks_)), size_(std::exchange(o.size_, 0)) {
    o.chunks_.clear();
  }
  ChunkedVector& operator=(ChunkedVector&& o) noexcept {
    if (this != &o) {
      clear();
      chunks_ = std::move(o.chunks_);
      o.chunks_.clear();
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ChunkedVector(const ChunkedVector&) = delete;
  ChunkedVector& operator=(const ChunkedVector&) = delete;

  void push_back(const T& v) {
    if (size_ % kChunk == 0) {
      const bool huge = !chunks_.empty();
      chunks_.push_back(
          static_cast<T*>(chunked_vector_internal::AllocateChunk(kChunk * sizeof(T), huge)));
    }
    chunks_.back()[size_ % kChunk] = v;
    ++size_;
  }
  // REQUIRES: i < size() and chunk of i not released.
  T& operator[](size_t i) { return chunks_[i / kChunk][i % kChunk]; }
  const T& operator[](size_t i) const { return chunks_[i / kChunk][i % kChunk]; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t num_chunks() const { return chunks_.size(); }
  // Elements [c*kChunk, min(size, (c+1)*kChunk)).
  const T* chunk_data(size_t c) const { return chunks_[c]; }
  size_t chunk_size(size_t c) const {
    return c + 1 < chunks_.size() ? kChunk : size_ - c * kChunk;
  }
  // Frees chunk c; its elements must not be accessed afterwards.
  void ReleaseChunk(size_t c) {
    chunked_vector_internal::FreeChunk(chunks_[c], kChunk * sizeof(T), c > 0);
    chunks_[c] = nullptr;
  }
  void clear() {
    for (size_t c = 0; c < chunks_.size(); ++c) {
      if (chunks_[c] != nullptr) ReleaseChunk(c);
    }
    chunks_.clear();
    size_ = 0;
  }
  size_t MemoryBytes() const {
    size_t n = 0;
    for (const T* c : chunks_) n += c != nullptr ? kChunk * sizeof(T) : 0;
    return n;
  }

 private:
  std::vector<T*> chunks_;  // owned; nullptr once released
  size_t size_ = 0;
};

}  // namespace encore

#endif  // ENCORE_CHUNKED_VECTOR_H_
