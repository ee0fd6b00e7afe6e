// ByteSource: a sequential stream of bytes from a file, plain or gzip.
//
// One interface, two implementations: Open() sniffs the gzip magic bytes
// (1f 8b), so compressed files are read transparently whatever their name.
// Concatenated gzip members are read through.
//
// Thread-safety: one reader at a time. Slices of one source are independent
// sources (their own file descriptor and offset) and may be read on
// different threads at once.

#ifndef ENCORE_IO_BYTE_SOURCE_H_
#define ENCORE_IO_BYTE_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "encore/status.h"

namespace encore::io {

class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // Opens `path`. NotFound / IOError name the path.
  static Result<std::unique_ptr<ByteSource>> Open(const std::string& path);
  // Serves `data` (uncompressed) under the name `path`: for tests and fuzzing.
  static std::unique_ptr<ByteSource> FromString(std::string path, std::string data);

  // Reads up to `n` bytes into `dst`; returns 0 at end of stream.
  virtual Result<size_t> Read(char* dst, size_t n) = 0;
  // Size of the file on disk (compressed size for gzip).
  virtual uint64_t file_size() const = 0;
  // Bytes of the file on disk consumed so far (for progress and ETA).
  virtual uint64_t file_offset() const = 0;
  virtual bool compressed() const = 0;

  // Whether Slice() works: an uncompressed regular file or an in-memory
  // buffer, which can be read from any offset. Gzip, pipes, FIFOs and
  // standard input are read front to back only.
  virtual bool sliceable() const { return false; }
  // A new source over bytes [begin, end) of the same file, under the same
  // name; file_size() is end - begin and file_offset() counts from begin.
  // REQUIRES: sliceable() and begin <= end <= file_size().
  virtual Result<std::unique_ptr<ByteSource>> Slice(uint64_t begin, uint64_t end) const;
  const std::string& path() const { return path_; }

 protected:
  explicit ByteSource(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace encore::io

#endif  // ENCORE_IO_BYTE_SOURCE_H_
