// Small POSIX file helpers for the directory-backed stores: atomic small-file
// replacement, directory fsync, advisory locks. Errors name the path and the
// operating system's reason.
//
// Thread-safety: the functions are reentrant; a FileLock is a plain value
// owned by one thread at a time.
#ifndef ENCORE_STORE_FILE_UTIL_H_
#define ENCORE_STORE_FILE_UTIL_H_

#include <string>
#include <vector>

#include "encore/status.h"

namespace encore::store {

// "No such file or directory" for errno values (thread-safe, unlike strerror).
std::string ErrnoMessage(int err);

// Reads a whole small file. NotFound when it does not exist.
Result<std::string> ReadSmallFile(const std::string& path);

// Replaces dir/name with `contents` atomically: writes a temporary file in
// `dir`, fsyncs it, renames it over dir/name and fsyncs `dir`. A crash leaves
// either the old file or the new one.
Status WriteFileAtomically(const std::string& dir, const std::string& name,
                           const std::string& contents);

// Writes `contents` to a new file and fsyncs it (no rename).
Status WriteFileDurably(const std::string& path, const std::string& contents);

// Removes the temporaries WriteFileAtomically leaves in `dir` when its process
// dies before the rename (".NAME.tmp-PID-N" whose PID is gone); a live
// writer's are kept. Returns how many were removed.
int RemoveStaleTemporaries(const std::string& dir);

// fsync of a directory, so renames and creations inside it are durable.
Status SyncDir(const std::string& dir);

// Names of the entries of `dir` (without "." and ".."), unsorted.
Result<std::vector<std::string>> ListDir(const std::string& dir);

// Removes `path` and everything below it; absent is fine.
Status RemoveTree(const std::string& path);

// An exclusive flock(2) on a file (created when absent), released when the
// FileLock is destroyed or its process dies - so a killed publisher never
// leaves a stale lock behind.
class FileLock {
 public:
  FileLock() = default;
  ~FileLock();
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Blocks until the lock is ours.
  static Result<FileLock> Acquire(const std::string& path);
  // Returns a FileLock that !held() when another open file holds the lock.
  static Result<FileLock> TryAcquire(const std::string& path);

  bool held() const { return fd_ >= 0; }

 private:
  static Result<FileLock> Lock(const std::string& path, bool wait);
  int fd_ = -1;
};

}  // namespace encore::store

#endif  // ENCORE_STORE_FILE_UTIL_H_
