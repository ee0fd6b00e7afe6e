#include "io/output_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

namespace encore::io {

namespace {

constexpr size_t kBufferBytes = 1 << 16;
constexpr int kMaxSymlinkHops = 40;

std::string ErrnoText(int err) { return std::system_category().message(err); }

bool EndsWith(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    char a = s[s.size() - suffix.size() + i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != suffix[i]) return false;
  }
  return true;
}

std::string DirName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "-", /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N → N; else -1.
int StandardStreamFd(const std::string& path) {
  if (path == "-" || path == "/dev/stdout") return STDOUT_FILENO;
  if (path == "/dev/stderr") return STDERR_FILENO;
  for (std::string_view prefix : {"/dev/fd/", "/proc/self/fd/"}) {
    if (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0) {
      const std::string digits = path.substr(prefix.size());
      if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 6) {
        return -1;
      }
      return std::atoi(digits.c_str());
    }
  }
  return -1;
}

struct Resolved {
  OutputPathKind kind = OutputPathKind::kNew;
  std::string target;  // file to open (FIFO, device) or to replace (regular, new)
  int fd = -1;         // kStandardStream
  int mode = -1;       // kRegular: permission bits to keep
};

Status Refuse(const std::string& what, const std::string& path, const std::string& target,
              const std::string& kind, const std::string& fix) {
  std::string where = "'" + path + "'";
  if (target != path) where += " (a symlink to '" + target + "')";
  return Status::InvalidArgument(what + " " + where + " is " + kind + "; " + fix);
}

Result<Resolved> Resolve(const std::string& path, const OutputFileOptions& options) {
  const std::string& what = options.what;
  if (path.empty()) return Status::InvalidArgument(what + " path is empty; name a file or '-'");
  if (EndsWith(path, ".gz") && !options.gzip_by_extension) {
    return Status::InvalidArgument(what + " '" + path + "' ends in .gz but a " + what +
                                   " is not written compressed; drop the .gz");
  }
  Resolved r;
  std::string p = path;
  for (int hop = 0; hop <= kMaxSymlinkHops; ++hop) {
    if (int fd = StandardStreamFd(p); fd >= 0) {
      if (::fcntl(fd, F_GETFL) < 0) {
        return Status::InvalidArgument(what + " '" + path + "': file descriptor " +
                                       std::to_string(fd) + " is not open");
      }
      r.kind = OutputPathKind::kStandardStream;
      r.fd = fd;
      r.target = p;
      return r;
    }
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      const int err = errno;
      if (err != ENOENT) {
        return Status::IOError("cannot inspect " + what + " '" + p + "': " + ErrnoText(err));
      }
      const std::string dir = DirName(p);
      struct stat dst {};
      if (::stat(dir.c_str(), &dst) != 0 || !S_ISDIR(dst.st_mode)) {
        return Status::InvalidArgument("cannot create " + what + " '" + path + "': directory '" +
                                       dir + "' does not exist; create it first");
      }
      r.kind = OutputPathKind::kNew;
      r.target = p;
      return r;
    }
    if (S_ISLNK(st.st_mode)) {
      std::vector<char> buf(static_cast<size_t>(st.st_size > 0 ? st.st_size : 255) + 1);
      const ssize_t n = ::readlink(p.c_str(), buf.data(), buf.size());
      if (n < 0) {
        return Status::IOError("cannot read symlink '" + p + "': " + ErrnoText(errno));
      }
      std::string link(buf.data(), static_cast<size_t>(n));
      p = (!link.empty() && link[0] == '/') ? link : DirName(p) + "/" + link;
      continue;
    }
    r.target = p;
    if (S_ISREG(st.st_mode)) {
      if (::access(p.c_str(), W_OK) != 0) {
        return Refuse(what, path, p, "a file this user may not write",
                      "change its permissions or choose another path");
      }
      r.kind = OutputPathKind::kRegular;
      r.mode = static_cast<int>(st.st_mode & 07777);
      return r;
    }
    if (S_ISFIFO(st.st_mode)) {
      r.kind = OutputPathKind::kFifo;
      return r;
    }
    if (S_ISCHR(st.st_mode)) {
      r.kind = OutputPathKind::kCharDevice;
      return r;
    }
    if (S_ISDIR(st.st_mode)) {
      return Refuse(what, path, p, "a directory",
                    "name a file inside it, e.g. '" + p + "/" +
                        (what == "model file" ? "model.bin" : "out.csv") + "'");
    }
    const char* kind = S_ISSOCK(st.st_mode)  ? "a socket"
                       : S_ISBLK(st.st_mode) ? "a block device"
                                             : "not a regular file";
    return Refuse(what, path, p, kind,
                  "encore writes only to regular files, FIFOs, character devices and '-'");
  }
  return Status::InvalidArgument(what + " '" + path + "': too many levels of symlinks");
}

bool ProcessAlive(long pid) {
  if (pid <= 0) return true;  // unknown: keep the file
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

const char* OutputPathKindName(OutputPathKind kind) {
  switch (kind) {
    case OutputPathKind::kStandardStream:
      return "standard stream";
    case OutputPathKind::kNew:
      return "new file";
    case OutputPathKind::kRegular:
      return "regular file";
    case OutputPathKind::kFifo:
      return "FIFO";
    case OutputPathKind::kCharDevice:
      return "character device";
  }
  return "?";
}

Result<OutputPathKind> CheckOutputPath(const std::string& path, const OutputFileOptions& options) {
  ENCORE_ASSIGN_OR_RETURN(Resolved r, Resolve(path, options));
  return r.kind;
}

Result<TextFormat> TextFormatForPath(const std::string& path) {
  std::string name = BaseName(path);
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const bool gz = EndsWith(name, ".gz");
  if (gz) name.resize(name.size() - 3);
  if (EndsWith(name, ".jsonl") || EndsWith(name, ".ndjson")) return TextFormat::kJsonl;
  const size_t dot = name.find_last_of('.');
  const std::string ext = dot == std::string::npos || dot == 0 ? "" : name.substr(dot);
  if (ext.empty() || ext == ".csv" || ext == ".txt" || name == "-") return TextFormat::kCsv;
  static const char* const kOther[] = {
      ".parquet", ".pq",      ".xlsx",   ".xls", ".ods",  ".json", ".tsv", ".tab", ".avro", ".orc",
      ".arrow",   ".feather", ".zip",    ".bz2", ".xz",   ".zst",  ".lz4", ".7z",  ".tar",  ".tgz",
      ".gz",      ".db",      ".sqlite", ".h5",  ".hdf5", ".pkl",  ".npy", ".xml", ".html"};
  bool other = false;
  for (const char* e : kOther) other = other || ext == e;
  if (other || gz) {
    return Status::InvalidArgument(
        "output '" + path + "': encore does not write " + (gz ? ext + ".gz" : ext) +
        " files; use .csv or .jsonl (each optionally .gz-compressed), or '-' for standard output");
  }
  return TextFormat::kCsv;  // an unusual name (out.recs): CSV, as documented
}

struct OutputFile::Gzip {
  z_stream z{};
  bool open = false;
  ~Gzip() {
    if (open) deflateEnd(&z);
  }
};

int RemoveStaleTemporaries(const std::string& path) {
  const std::string dir = DirName(path);
  const std::string prefix = "." + BaseName(path) + ".tmp-";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  std::vector<std::string> stale;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (!ProcessAlive(pid)) stale.push_back(dir + "/" + name);
  }
  ::closedir(d);
  int removed = 0;
  for (const auto& s : stale) removed += ::unlink(s.c_str()) == 0 ? 1 : 0;
  return removed;
}

Result<std::unique_ptr<OutputFile>> OutputFile::Open(const std::string& path,
                                                     const OutputFileOptions& options) {
  ENCORE_ASSIGN_OR_RETURN(Resolved r, Resolve(path, options));
  std::unique_ptr<OutputFile> f(new OutputFile());
  f->path_ = path;
  f->target_ = r.target;
  f->kind_ = r.kind;
  f->what_ = options.what;
  f->mode_ = r.mode;
  switch (r.kind) {
    case OutputPathKind::kStandardStream:
      f->fd_ = r.fd;
      f->close_fd_ = false;
      break;
    case OutputPathKind::kFifo:
    case OutputPathKind::kCharDevice:
      // No O_TRUNC, no O_CREAT: write through as a shell redirect would.
      f->fd_ = ::open(r.target.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
      if (f->fd_ < 0) {
        return Status::IOError("cannot open " + options.what + " '" + path + "' (" +
                               OutputPathKindName(r.kind) + "): " + ErrnoText(errno));
      }
      break;
    case OutputPathKind::kNew:
    case OutputPathKind::kRegular: {
      RemoveStaleTemporaries(r.target);
      static std::atomic<uint64_t> counter{0};
      f->temp_ = DirName(r.target) + "/." + BaseName(r.target) + ".tmp-" +
                 std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
      f->fd_ = ::open(f->temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (f->fd_ < 0) {
        const int err = errno;
        std::string hint = err == EACCES || err == EROFS || err == EPERM
                               ? "; check that directory '" + DirName(r.target) + "' is writable"
                               : "";
        return Status::IOError("cannot create a temporary file for " + options.what + " '" + path +
                               "' in '" + DirName(r.target) + "': " + ErrnoText(err) + hint);
      }
      if (r.mode >= 0) (void)::fchmod(f->fd_, static_cast<mode_t>(r.mode));
      break;
    }
  }
  if (EndsWith(path, ".gz") && options.gzip_by_extension) {
    f->gzip_ = std::make_unique<Gzip>();
    if (deflateInit2(&f->gzip_->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
      return f->Abort(Status::Internal("cannot start gzip compression for '" + path + "'"));
    }
    f->gzip_->open = true;
  }
  return f;
}

OutputFile::~OutputFile() {
  if (!done_) (void)Abort(Status::OK());
}

Status OutputFile::Abort(Status status) {
  done_ = true;
  if (fd_ >= 0 && close_fd_) ::close(fd_);
  fd_ = -1;
  if (!temp_.empty()) ::unlink(temp_.c_str());
  return status;
}

Status OutputFile::WriteRaw(const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd_, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      std::string hint = err == ENOSPC || err == EDQUOT ? "; free some disk space" : "";
      return Status::IOError("cannot write " + what_ + " '" + path_ + "': " + ErrnoText(err) +
                             hint);
    }
    data += n;
    size -= static_cast<size_t>(n);
    bytes_written_ += static_cast<uint64_t>(n);
  }
  return Status::OK();
}

Status OutputFile::Write(std::string_view data) {
  if (done_) return Status::Internal("write to " + what_ + " '" + path_ + "' after Commit()");
  if (gzip_ == nullptr) {
    // Small writes (a rejected line at a time) are gathered into buf_.
    if (buf_.size() + data.size() < kBufferBytes) {
      buf_.append(data);
      return Status::OK();
    }
    Status s = FlushBuffer();
    if (s.ok()) s = WriteRaw(data.data(), data.size());
    return s.ok() ? s : Abort(s);
  }
  z_stream& z = gzip_->z;
  char out[kBufferBytes];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  do {
    z.next_out = reinterpret_cast<Bytef*>(out);
    z.avail_out = sizeof out;
    deflate(&z, Z_NO_FLUSH);
    Status s = WriteRaw(out, sizeof out - z.avail_out);
    if (!s.ok()) return Abort(s);
  } while (z.avail_in > 0 || z.avail_out == 0);
  return Status::OK();
}

Status OutputFile::FlushBuffer() {
  Status s = WriteRaw(buf_.data(), buf_.size());
  buf_.clear();
  return s;
}

Status OutputFile::Commit() {
  if (done_) return Status::Internal("Commit() of " + what_ + " '" + path_ + "' twice");
  if (Status s = FlushBuffer(); !s.ok()) return Abort(s);
  if (gzip_ != nullptr) {
    z_stream& z = gzip_->z;
    char out[kBufferBytes];
    z.avail_in = 0;
    int rc;
    do {
      z.next_out = reinterpret_cast<Bytef*>(out);
      z.avail_out = sizeof out;
      rc = deflate(&z, Z_FINISH);
      Status s = WriteRaw(out, sizeof out - z.avail_out);
      if (!s.ok()) return Abort(s);
    } while (rc == Z_OK);
  }
  if (temp_.empty()) {
    done_ = true;
    if (close_fd_ && ::close(fd_) != 0) {
      return Status::IOError("cannot finish " + what_ + " '" + path_ + "': " + ErrnoText(errno));
    }
    fd_ = -1;
    return Status::OK();
  }
  if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
    const int err = errno;
    fd_ = -1;
    return Abort(Status::IOError("cannot finish " + what_ + " '" + path_ + "': " + ErrnoText(err)));
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), target_.c_str()) != 0) {
    const int err = errno;
    return Abort(Status::IOError("cannot rename the temporary file into " + what_ + " '" + path_ +
                                 "': " + ErrnoText(err)));
  }
  temp_.clear();
  done_ = true;
  return Status::OK();
}

Status WriteOutputFile(const std::string& path, std::string_view contents,
                       const OutputFileOptions& options) {
  ENCORE_ASSIGN_OR_RETURN(auto f, OutputFile::Open(path, options));
  ENCORE_RETURN_IF_ERROR(f->Write(contents));
  return f->Commit();
}

}  // namespace encore::io
