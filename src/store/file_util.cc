#include "store/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <system_error>

namespace encore::store {

namespace {

Status OsError(const std::string& what, const std::string& path, int err) {
  std::string hint;
  if (err == EACCES || err == EPERM || err == EROFS) {
    hint = "; check the permissions of '" + path + "' and its directory";
  } else if (err == ENOSPC || err == EDQUOT) {
    hint = "; free some disk space";
  }
  return Status::IOError("cannot " + what + " '" + path + "': " + ErrnoMessage(err) + hint);
}

// Writes everything or fails with errno set.
bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

Status WriteAndSync(const std::string& path, const std::string& contents, int extra_flags) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | extra_flags, 0644);
  if (fd < 0) return OsError("create", path, errno);
  if (!WriteAll(fd, contents) || ::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return OsError("write", path, err);
  }
  if (::close(fd) != 0) return OsError("write", path, errno);
  return Status::OK();
}

}  // namespace

std::string ErrnoMessage(int err) { return std::system_category().message(err); }

Result<std::string> ReadSmallFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("'" + path + "' does not exist");
    return OsError("open", path, errno);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return OsError("read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status WriteFileAtomically(const std::string& dir, const std::string& name,
                           const std::string& contents) {
  static std::atomic<uint64_t> counter{0};
  // Unique per process and call, so concurrent writers never share a temporary.
  const std::string tmp = dir + "/." + name + ".tmp-" + std::to_string(::getpid()) + "-" +
                          std::to_string(counter.fetch_add(1));
  ENCORE_RETURN_IF_ERROR(WriteAndSync(tmp, contents, O_EXCL));
  const std::string final_path = dir + "/" + name;
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return OsError("replace", final_path, err);
  }
  return SyncDir(dir);
}

int RemoveStaleTemporaries(const std::string& dir) {
  auto names = ListDir(dir);
  if (!names.ok()) return 0;
  int removed = 0;
  for (const std::string& name : *names) {
    const size_t tmp = name.find(".tmp-");
    if (name.empty() || name[0] != '.' || tmp == std::string::npos) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + tmp + 5, &end, 10);
    if (pid <= 0 || end == nullptr || *end != '-') continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) continue;  // alive
    if (::unlink((dir + "/" + name).c_str()) == 0) ++removed;
  }
  return removed;
}

Status WriteFileDurably(const std::string& path, const std::string& contents) {
  return WriteAndSync(path, contents, O_TRUNC);
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return OsError("open directory", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return OsError("sync directory", dir, err);
  return Status::OK();
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return Status::NotFound("directory '" + dir + "' does not exist");
    return OsError("list directory", dir, errno);
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return OsError("list directory", dir, err);
  return names;
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return OsError("remove", path, ec.value());
  return Status::OK();
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

Result<FileLock> FileLock::Acquire(const std::string& path) { return Lock(path, true); }
Result<FileLock> FileLock::TryAcquire(const std::string& path) { return Lock(path, false); }

Result<FileLock> FileLock::Lock(const std::string& path, bool wait) {
  FileLock lock;
  lock.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock.fd_ < 0) return OsError("open lock file", path, errno);
  for (;;) {
    if (::flock(lock.fd_, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0) return lock;
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK && !wait) return FileLock();
    return OsError("lock", path, errno);
  }
}

}  // namespace encore::store
