// ModelWriter / ModelReader: the little-endian binary encoding used inside
// model files (docs/MODEL_FORMAT.md). Models write their state with a
// ModelWriter in SaveState and read it back, checked, in LoadState.
//
// Every read is bounds-checked: a truncated or corrupted buffer yields a
// Corruption status naming the source and the field, never undefined
// behaviour. Arrays are a u64 element count followed by the raw elements.
//
// Thread-safety: one instance per thread.

#ifndef ENCORE_MODEL_IO_H_
#define ENCORE_MODEL_IO_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "encore/status.h"

namespace encore {

class ModelWriter {
 public:
  // Bytes collect in buffer().
  ModelWriter() = default;
  // Bytes go to `sink` in pieces as they are put (large arrays straight
  // from the caller's memory, small fields gathered up to 1 MB first);
  // Flush() hands over what is still gathered (the destructor does not).
  explicit ModelWriter(std::function<void(std::string_view)> sink) : sink_(std::move(sink)) {}
  // Keeps no bytes: size() is what they would take.
  static ModelWriter Counter() {
    ModelWriter w;
    w.counting_ = true;
    return w;
  }
  ModelWriter(ModelWriter&&) = default;
  ModelWriter& operator=(ModelWriter&&) = default;
  ModelWriter(const ModelWriter&) = delete;
  ModelWriter& operator=(const ModelWriter&) = delete;

  template <typename T>
  void Put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    Append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void PutString(std::string_view s) {
    Put<uint64_t>(s.size());
    Append(s.data(), s.size());
  }
  template <typename T>
  void PutArray(const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    Put<uint64_t>(v.size());
    Append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  // Bytes put so far.
  uint64_t size() const { return size_; }
  // Without a sink: every byte put (take them with std::move; put bytes
  // through Put*, not by appending here). With one: the bytes not yet
  // handed over.
  std::string& buffer() { return buf_; }
  void Flush() {
    if (sink_ && !buf_.empty()) {
      sink_(buf_);
      buf_.clear();
    }
  }

 private:
  static constexpr size_t kGather = size_t{1} << 20;

  void Append(const char* p, size_t n) {
    size_ += n;
    if (counting_) return;
    if (!sink_) {
      buf_.append(p, n);
      return;
    }
    if (buf_.size() + n <= kGather) {
      buf_.append(p, n);
      return;
    }
    Flush();
    if (n < kGather) {
      buf_.append(p, n);
    } else {
      sink_(std::string_view(p, n));
    }
  }

  std::function<void(std::string_view)> sink_;
  std::string buf_;
  uint64_t size_ = 0;
  bool counting_ = false;
};

class ModelReader {
 public:
  ModelReader(std::string_view data, std::string source)
      : data_(data), source_(std::move(source)) {}

  template <typename T>
  Status Get(T* v, const char* what) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (data_.size() - pos_ < sizeof(T)) return Truncated(what);
    std::memcpy(v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::OK();
  }
  Status GetString(std::string* s, const char* what) {
    uint64_t n = 0;
    ENCORE_RETURN_IF_ERROR(Get(&n, what));
    if (n > data_.size() - pos_) return Truncated(what);
    s->assign(data_.data() + pos_, n);
    pos_ += n;
    return Status::OK();
  }
  // Reads an array; `expected` (when not ~0) is the element count it must have.
  template <typename T>
  Status GetArray(std::vector<T>* v, const char* what, uint64_t expected = ~uint64_t{0}) {
    static_assert(std::is_trivially_copyable_v<T>);
    uint64_t n = 0;
    ENCORE_RETURN_IF_ERROR(Get(&n, what));
    if (expected != ~uint64_t{0} && n != expected) {
      return Status::Corruption(source_ + ": " + what + " has " + std::to_string(n) +
                                " elements, expected " + std::to_string(expected));
    }
    if (n > (data_.size() - pos_) / sizeof(T)) return Truncated(what);
    v->resize(n);
    if (n > 0) std::memcpy(v->data(), data_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return Status::OK();
  }
  // A Corruption status for a value that decoded but makes no sense.
  Status Invalid(const std::string& what) const {
    return Status::Corruption(source_ + ": invalid " + what + " at byte " + std::to_string(pos_));
  }
  bool at_end() const { return pos_ == data_.size(); }
  const std::string& source() const { return source_; }

 private:
  Status Truncated(const char* what) const {
    return Status::Corruption(source_ + ": truncated while reading " + what + " at byte " +
                              std::to_string(pos_));
  }
  std::string_view data_;
  size_t pos_ = 0;
  std::string source_;
};

}  // namespace encore

#endif  // ENCORE_MODEL_IO_H_
