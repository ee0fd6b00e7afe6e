#include "io/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace encore::io {

namespace {

Status ErrnoStatus(const std::string& what, const std::string& path) {
  int e = errno;
  std::string msg = "cannot " + what + " '" + path + "': " + std::strerror(e);
  if (e == ENOENT) return Status::NotFound(msg + "; check the path");
  return Status::IOError(msg);
}

// Bytes [begin, end) of a regular file, read with pread on its own
// descriptor (a dup), so slices of one file can be read concurrently.
class RangeSource : public ByteSource {
 public:
  RangeSource(std::string path, int fd, uint64_t begin, uint64_t end)
      : ByteSource(std::move(path)), fd_(fd), begin_(begin), end_(end), pos_(begin) {
    ::posix_fadvise(fd_, static_cast<off_t>(begin), static_cast<off_t>(end - begin),
                    POSIX_FADV_SEQUENTIAL);
  }
  ~RangeSource() override { ::close(fd_); }

  Result<size_t> Read(char* dst, size_t n) override {
    n = static_cast<size_t>(std::min<uint64_t>(n, end_ - pos_));
    if (n == 0) return size_t{0};
    while (true) {
      ssize_t r = ::pread(fd_, dst, n, static_cast<off_t>(pos_));
      if (r >= 0) {
        pos_ += static_cast<uint64_t>(r);
        return static_cast<size_t>(r);
      }
      if (errno != EINTR) return ErrnoStatus("read", path_);
    }
  }
  uint64_t file_size() const override { return end_ - begin_; }
  uint64_t file_offset() const override { return pos_ - begin_; }
  bool compressed() const override { return false; }

 private:
  int fd_;
  uint64_t begin_, end_, pos_;
};

class PlainSource : public ByteSource {
 public:
  PlainSource(std::string path, int fd, uint64_t size, bool regular)
      : ByteSource(std::move(path)), fd_(fd), size_(size), regular_(regular) {}
  ~PlainSource() override { ::close(fd_); }

  Result<size_t> Read(char* dst, size_t n) override {
    while (true) {
      ssize_t r = ::read(fd_, dst, n);
      if (r >= 0) {
        offset_ += static_cast<uint64_t>(r);
        return static_cast<size_t>(r);
      }
      if (errno != EINTR) return ErrnoStatus("read", path_);
    }
  }
  uint64_t file_size() const override { return size_; }
  uint64_t file_offset() const override { return offset_; }
  bool compressed() const override { return false; }
  bool sliceable() const override { return regular_; }
  Result<std::unique_ptr<ByteSource>> Slice(uint64_t begin, uint64_t end) const override {
    int fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return ErrnoStatus("reopen", path_);
    return std::unique_ptr<ByteSource>(new RangeSource(path_, fd, begin, end));
  }

 private:
  int fd_;
  uint64_t size_;
  bool regular_;
  uint64_t offset_ = 0;
};

class GzipSource : public ByteSource {
 public:
  GzipSource(std::string path, gzFile gz, uint64_t size)
      : ByteSource(std::move(path)), gz_(gz), size_(size) {
    gzbuffer(gz_, 1 << 18);
  }
  ~GzipSource() override { gzclose(gz_); }

  Result<size_t> Read(char* dst, size_t n) override {
    if (n > (1u << 30)) n = 1u << 30;
    int r = gzread(gz_, dst, static_cast<unsigned>(n));
    if (r < 0) {
      int errnum = 0;
      const char* msg = gzerror(gz_, &errnum);
      return Status::IOError("cannot decompress '" + path_ + "': " + (msg ? msg : "zlib error") +
                             "; the gzip file is damaged or truncated");
    }
    if (r == 0) {
      // gzread returns 0 both at a clean end and at a truncated stream.
      int errnum = 0;
      const char* msg = gzerror(gz_, &errnum);
      if (errnum != Z_OK && errnum != Z_STREAM_END) {
        return Status::IOError("cannot decompress '" + path_ + "': " + (msg ? msg : "zlib error") +
                               "; the gzip file is damaged or truncated");
      }
    }
    return static_cast<size_t>(r);
  }
  uint64_t file_size() const override { return size_; }
  uint64_t file_offset() const override {
    z_off_t off = gzoffset(gz_);
    return off < 0 ? 0 : static_cast<uint64_t>(off);
  }
  bool compressed() const override { return true; }

 private:
  gzFile gz_;
  uint64_t size_;
};

class MemorySource : public ByteSource {
 public:
  MemorySource(std::string path, std::string data)
      : ByteSource(std::move(path)), data_(std::move(data)) {}
  Result<size_t> Read(char* dst, size_t n) override {
    n = std::min(n, data_.size() - offset_);
    std::memcpy(dst, data_.data() + offset_, n);
    offset_ += n;
    return n;
  }
  uint64_t file_size() const override { return data_.size(); }
  uint64_t file_offset() const override { return offset_; }
  bool compressed() const override { return false; }
  bool sliceable() const override { return true; }
  Result<std::unique_ptr<ByteSource>> Slice(uint64_t begin, uint64_t end) const override {
    return std::unique_ptr<ByteSource>(
        new MemorySource(path_, data_.substr(static_cast<size_t>(begin),
                                             static_cast<size_t>(end - begin))));
  }

 private:
  std::string data_;
  size_t offset_ = 0;
};

}  // namespace

Result<std::unique_ptr<ByteSource>> ByteSource::Slice(uint64_t, uint64_t) const {
  return Status::Internal("'" + path_ + "' cannot be read in slices");
}

std::unique_ptr<ByteSource> ByteSource::FromString(std::string path, std::string data) {
  return std::make_unique<MemorySource>(std::move(path), std::move(data));
}

Result<std::unique_ptr<ByteSource>> ByteSource::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Status s = ErrnoStatus("stat", path);
    ::close(fd);
    return s;
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("'" + path + "' is a directory; pass a file");
  }
  unsigned char magic[2] = {0, 0};
  ssize_t got = ::pread(fd, magic, 2, 0);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    gzFile gz = gzdopen(fd, "rb");
    if (gz == nullptr) {
      ::close(fd);
      return Status::IOError("cannot open gzip stream in '" + path + "'");
    }
    return std::unique_ptr<ByteSource>(new GzipSource(path, gz, size));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<ByteSource>(new PlainSource(path, fd, size, S_ISREG(st.st_mode)));
}

}  // namespace encore::io
