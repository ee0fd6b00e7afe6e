#include "pipeline/staging.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <system_error>

#include "pipeline/fault.h"

namespace encore::pipeline {

namespace fs = std::filesystem;

namespace {

constexpr size_t kBufferBytes = 1 << 20;

std::atomic<bool> g_rename_exchange{true};

std::string ErrnoText(int err) { return std::strerror(err); }

// "<pid>-<16 hex digits>": unique among concurrent writers on this host.
std::string UniqueSuffix() {
  std::random_device rd;
  uint64_t r = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%ld-%016llx", static_cast<long>(::getpid()),
                static_cast<unsigned long long>(r));
  return buf;
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      return Status::IOError("cannot write " + path + ": " + ErrnoText(err) +
                             "; check free space and permissions of the output directory");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

Status FsyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return Status::IOError("cannot open " + path + " to fsync it: " + ErrnoText(err));
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some file systems cannot fsync directories; the data files are synced already.
  if (rc != 0 && !(directory && (err == EINVAL || err == EROFS))) {
    return Status::IOError("cannot fsync " + path + ": " + ErrnoText(err) +
                           "; check the disk and file system");
  }
  return Status::OK();
}

bool ProcessAlive(long pid) {
  if (pid <= 0) return false;
  if (pid == ::getpid()) return false;  // our own leftovers: no other writer of ours is live
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

void RemoveAllQuietly(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

}  // namespace

// ---------------------------------------------------------------------------
// StagedFile

StagedFile::StagedFile(int fd, std::string path, std::string name, EVP_MD_CTX* md)
    : fd_(fd), path_(std::move(path)), name_(std::move(name)), md_(md) {}

StagedFile::~StagedFile() {
  if (fd_ >= 0) ::close(fd_);
  EVP_MD_CTX_free(md_);
}

Result<std::unique_ptr<StagedFile>> StagedFile::Create(std::string path, std::string name) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    return Status::IOError("cannot create " + path + ": " + ErrnoText(err) +
                           "; check permissions and free space of the output directory");
  }
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ENCORE_CHECK(md != nullptr && EVP_DigestInit_ex(md, EVP_sha256(), nullptr) == 1);
  return std::unique_ptr<StagedFile>(new StagedFile(fd, std::move(path), std::move(name), md));
}

Status StagedFile::Append(std::string_view data) {
  ENCORE_CHECK(fd_ >= 0);
  buffer_.append(data);
  size_ += data.size();
  if (buffer_.size() >= kBufferBytes) return Flush();
  return Status::OK();
}

Status StagedFile::Flush() {
  ENCORE_CHECK(fd_ >= 0);
  if (buffer_.empty()) return Status::OK();
  ENCORE_CHECK(EVP_DigestUpdate(md_, buffer_.data(), buffer_.size()) == 1);
  ENCORE_RETURN_IF_ERROR(WriteAll(fd_, buffer_, path_));
  buffer_.clear();
  return Status::OK();
}

Status StagedFile::Close() {
  ENCORE_RETURN_IF_ERROR(Flush());
  if (::fsync(fd_) != 0) {
    int err = errno;
    return Status::IOError("cannot fsync " + path_ + ": " + ErrnoText(err) +
                           "; check the disk and file system");
  }
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) {
    int err = errno;
    return Status::IOError("cannot close " + path_ + ": " + ErrnoText(err));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ENCORE_CHECK(EVP_DigestFinal_ex(md_, digest, &len) == 1);
  static const char kHex[] = "0123456789abcdef";
  sha256_.clear();
  for (unsigned int i = 0; i < len; ++i) {
    sha256_ += kHex[digest[i] >> 4];
    sha256_ += kHex[digest[i] & 15];
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------
// StagingDir

void SetRenameExchangeForTesting(bool enabled) { g_rename_exchange.store(enabled); }

bool IsStagingLeftover(std::string_view entry, std::string_view base, long* pid) {
  if (entry.size() <= base.size() || entry.substr(0, base.size()) != base) return false;
  std::string_view rest = entry.substr(base.size());
  if (rest.starts_with(".staging-")) {
    rest.remove_prefix(9);
  } else if (rest.starts_with(".old-")) {
    rest.remove_prefix(5);
  } else {
    return false;
  }
  size_t dash = rest.find('-');
  if (dash == 0 || dash == std::string_view::npos || dash > 18 || dash + 1 == rest.size()) {
    return false;
  }
  long value = 0;
  for (char c : rest.substr(0, dash)) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  for (char c : rest.substr(dash + 1)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  *pid = value;
  return true;
}

StagingDir::StagingDir(std::string dest, std::string parent, std::string staging)
    : dest_(std::move(dest)), parent_(std::move(parent)), staging_(std::move(staging)) {}

StagingDir::~StagingDir() {
  files_.clear();  // close descriptors before removing
  if (!committed_) RemoveAllQuietly(staging_);
}

Status StagingDir::CheckReplaceable(const std::string& dir) {
  std::string dest = dir;
  while (dest.size() > 1 && dest.back() == '/') dest.pop_back();
  std::error_code ec;
  if (fs::is_symlink(fs::symlink_status(dest, ec))) {
    fs::path target = fs::canonical(dest, ec);
    if (ec) return Status::OK();  // Begin says what is wrong with the link
    dest = target.string();
  }
  fs::file_status st = fs::symlink_status(dest, ec);
  if (!ec && fs::exists(st)) {
    if (!fs::is_directory(st)) {
      return Status::FailedPrecondition("output " + dest +
                                        " exists and is not a directory; move it away or choose "
                                        "another output directory");
    }
    bool empty = fs::is_empty(dest, ec);
    if (!ec && !empty && !fs::exists(dest + "/" + kSuccessFile, ec)) {
      return Status::FailedPrecondition(
          "output directory " + dest + " exists but has no " + kSuccessFile +
          " marker, so it is not a complete encore output; encore replaces only its own outputs: "
          "remove it or choose another output directory");
    }
  }
  return Status::OK();
}

Result<std::unique_ptr<StagingDir>> StagingDir::Begin(const std::string& dir) {
  std::string dest = dir;
  while (dest.size() > 1 && dest.back() == '/') dest.pop_back();
  {
    // A symlink is followed: the output replaces its target's contents and
    // the link itself stays (the output-path rule of docs/OUTPUTS.md).
    std::error_code link_ec;
    if (fs::is_symlink(fs::symlink_status(dest, link_ec))) {
      fs::path target = fs::canonical(dest, link_ec);
      if (link_ec) {
        return Status::FailedPrecondition("output directory " + dest +
                                          " is a symbolic link to nothing that exists (" +
                                          link_ec.message() +
                                          "); create its target or point the output elsewhere");
      }
      dest = target.string();
    }
  }
  fs::path dest_path(dest);
  std::string base = dest_path.filename().string();
  if (dest.empty() || base.empty() || base == "." || base == ".." || dest == "/") {
    return Status::InvalidArgument("output directory '" + dir +
                                   "' cannot be replaced as a whole; name a directory such as "
                                   "out/recommendations");
  }
  std::string parent = dest_path.has_parent_path() ? dest_path.parent_path().string() : ".";

  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) {
    return Status::IOError("cannot create the parent directory " + parent + " of output " + dest +
                           ": " + ec.message() + "; check permissions or choose another directory");
  }

  // The destination must be something encore wrote (or nothing, or empty).
  ENCORE_RETURN_IF_ERROR(CheckReplaceable(dest));

  // Leftovers of killed writers of this destination.
  for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    long pid = 0;
    if (IsStagingLeftover(name, base, &pid) && !ProcessAlive(pid)) {
      RemoveAllQuietly(it->path().string());
    }
  }
  if (ec) {
    return Status::IOError("cannot list " + parent + " (the parent of output " + dest +
                           "): " + ec.message() + "; check its permissions");
  }

  std::string staging = dest + ".staging-" + UniqueSuffix();
  if (::mkdir(staging.c_str(), 0755) != 0) {
    int err = errno;
    return Status::IOError("cannot create staging directory " + staging + ": " + ErrnoText(err) +
                           "; check permissions of " + parent);
  }
  return std::unique_ptr<StagingDir>(new StagingDir(dest, parent, staging));
}

Result<StagedFile*> StagingDir::AddFile(const std::string& name) {
  ENCORE_CHECK(!committed_);
  ENCORE_ASSIGN_OR_RETURN(auto file, StagedFile::Create(staging_ + "/" + name, name));
  files_.push_back(std::move(file));
  return files_.back().get();
}

Status StagingDir::Commit(std::string_view success_json, const char* before_success_fault,
                          const char* before_swap_fault) {
  ENCORE_CHECK(!committed_);
  if (before_success_fault != nullptr) MaybeFault(before_success_fault);
  {
    ENCORE_ASSIGN_OR_RETURN(auto marker,
                            StagedFile::Create(staging_ + "/" + kSuccessFile, kSuccessFile));
    ENCORE_RETURN_IF_ERROR(marker->Append(success_json));
    ENCORE_RETURN_IF_ERROR(marker->Close());
  }
  ENCORE_RETURN_IF_ERROR(FsyncPath(staging_, /*directory=*/true));
  if (before_swap_fault != nullptr) MaybeFault(before_swap_fault);

  std::error_code ec;
  bool replace = fs::exists(fs::symlink_status(dest_, ec));
  if (!replace) {
    if (::rename(staging_.c_str(), dest_.c_str()) != 0) {
      int err = errno;
      return Status::IOError("cannot rename " + staging_ + " to " + dest_ + ": " + ErrnoText(err) +
                             "; check permissions of " + parent_);
    }
    committed_ = true;
    return FsyncPath(parent_, /*directory=*/true);
  }

  // Atomic exchange where the kernel and file system support it: the
  // destination never disappears, and the old output ends up under the
  // staging name, removed below (or by the next writer if we die first).
  if (g_rename_exchange.load()) {
    if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, dest_.c_str(), RENAME_EXCHANGE) == 0) {
      committed_ = true;
      Status synced = FsyncPath(parent_, /*directory=*/true);
      RemoveAllQuietly(staging_);
      return synced;
    }
    if (int err = errno; err != EINVAL && err != ENOSYS && err != ENOTSUP) {
      return Status::IOError("cannot swap " + staging_ + " with " + dest_ + ": " + ErrnoText(err) +
                             "; check permissions of " + parent_);
    }
  }
  // Fallback: move the old output aside, move the new one in, drop the old one.
  std::string old = dest_ + ".old-" + UniqueSuffix();
  if (::rename(dest_.c_str(), old.c_str()) != 0) {
    int err = errno;
    return Status::IOError("cannot rename " + dest_ + " to " + old + ": " + ErrnoText(err) +
                           "; check permissions of " + parent_);
  }
  if (::rename(staging_.c_str(), dest_.c_str()) != 0) {
    int err = errno;
    ::rename(old.c_str(), dest_.c_str());  // put the previous output back
    return Status::IOError("cannot rename " + staging_ + " to " + dest_ + ": " + ErrnoText(err) +
                           "; check permissions of " + parent_);
  }
  committed_ = true;
  Status synced = FsyncPath(parent_, /*directory=*/true);
  RemoveAllQuietly(old);
  return synced;
}

}  // namespace encore::pipeline
