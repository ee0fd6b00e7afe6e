// ChunkedVector<T>: an append-only sequence stored in fixed-size chunks.
//
// Unlike std::vector it never reallocates-and-copies while growing, so peak
// memory while reading is the data kept plus at most one partly filled chunk,
// and a consumer can free chunks front to back (ReleaseChunk) as it goes.
// Thread-safety: concurrent const access is safe; mutation is not.

#ifndef ENCORE_CHUNKED_VECTOR_H_
#define ENCORE_CHUNKED_VECTOR_H_

#include <cstddef>
#include <memory>
#include <vector>

namespace encore {

template <typename T, size_t kChunkSize = (size_t{1} << 16)>
class ChunkedVector {
 public:
  static constexpr size_t kChunk = kChunkSize;

  void push_back(const T& v) {
    if (size_ % kChunk == 0) chunks_.push_back(std::make_unique_for_overwrite<T[]>(kChunk));
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
  const T* chunk_data(size_t c) const { return chunks_[c].get(); }
  size_t chunk_size(size_t c) const {
    return c + 1 < chunks_.size() ? kChunk : size_ - c * kChunk;
  }
  // Frees chunk c; its elements must not be accessed afterwards.
  void ReleaseChunk(size_t c) { chunks_[c].reset(); }
  void clear() {
    chunks_.clear();
    size_ = 0;
  }
  size_t MemoryBytes() const {
    size_t n = 0;
    for (const auto& c : chunks_) n += c ? kChunk * sizeof(T) : 0;
    return n;
  }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t size_ = 0;
};

}  // namespace encore

#endif  // ENCORE_CHUNKED_VECTOR_H_
