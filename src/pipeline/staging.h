// Staging directories: how the file outputs (CSV, JSON Lines) replace a
// destination directory all at once.
//
//   ENCORE_ASSIGN_OR_RETURN(auto staging, StagingDir::Begin("out/recs"));
//   ENCORE_ASSIGN_OR_RETURN(StagedFile* f, staging->AddFile("recs-1.csv"));
//   ENCORE_RETURN_IF_ERROR(f->Append("a,b\n"));
//   ENCORE_RETURN_IF_ERROR(f->Close());
//   ENCORE_RETURN_IF_ERROR(staging->Commit(success_json, "csv-before-swap"));
//
// Begin() creates the destination's parent directories, removes leftovers of
// earlier writers of the same destination that were killed (siblings named
// `<dir>.staging-<pid>-<hex>` or `<dir>.old-<pid>-<hex>` whose process is
// gone), and creates a fresh `<dir>.staging-<pid>-<hex>` beside it. Commit()
// writes `_SUCCESS`, fsyncs, and swaps the staging directory in (see
// docs/OUTPUTS.md). A StagingDir destroyed without a successful Commit()
// removes its staging directory.
//
// Thread-safety: none; one writer per object. Two writers of the same
// destination at the same time are not supported.
#ifndef ENCORE_PIPELINE_STAGING_H_
#define ENCORE_PIPELINE_STAGING_H_

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "encore/status.h"

namespace encore::pipeline {

// One file being written: buffered, with a running size and SHA-256.
// Thread-safety: none.
class StagedFile {
 public:
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;
  ~StagedFile();

  static Result<std::unique_ptr<StagedFile>> Create(std::string path, std::string name);

  Status Append(std::string_view data);
  // Writes buffered bytes to the file (no fsync).
  Status Flush();
  // Flushes, fsyncs and closes. REQUIRES: not closed yet.
  Status Close();

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  // Bytes appended so far, buffered ones included.
  uint64_t size() const { return size_; }
  // Lowercase hex SHA-256 of the contents. REQUIRES: Close() succeeded.
  const std::string& sha256() const { return sha256_; }

 private:
  StagedFile(int fd, std::string path, std::string name, EVP_MD_CTX* md);

  int fd_;
  std::string path_;
  std::string name_;
  EVP_MD_CTX* md_;
  std::string buffer_;
  uint64_t size_ = 0;
  std::string sha256_;
};

class StagingDir {
 public:
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
  ~StagingDir();

  // Prepares a staging directory for destination `dir` (see the file comment).
  // Fails if `dir` exists but is not a directory holding `_SUCCESS` (or empty):
  // encore never replaces something it did not write.
  static Result<std::unique_ptr<StagingDir>> Begin(const std::string& dir);
  // Begin's refusal, without creating anything: FailedPrecondition when
  // `dir` (a symlink's target) exists and is a file or a non-empty directory
  // without _SUCCESS. For checks before a run does any work.
  static Status CheckReplaceable(const std::string& dir);

  // A new file `name` inside the staging directory, owned by this object.
  Result<StagedFile*> AddFile(const std::string& name);
  // Files added so far, in order.
  const std::vector<std::unique_ptr<StagedFile>>& files() const { return files_; }

  // Writes `success_json` as `_SUCCESS`, fsyncs it and the directory, then
  // swaps the staging directory in as the destination. The fault points are
  // passed to MaybeFault() just before writing `_SUCCESS` and just before the
  // swap (nullptr: none). REQUIRES: every file closed.
  Status Commit(std::string_view success_json, const char* before_success_fault,
                const char* before_swap_fault);

  // The destination as given (trailing slashes removed).
  const std::string& destination() const { return dest_; }
  const std::string& staging_path() const { return staging_; }

 private:
  StagingDir(std::string dest, std::string parent, std::string staging);

  std::string dest_;
  std::string parent_;
  std::string staging_;
  std::vector<std::unique_ptr<StagedFile>> files_;
  bool committed_ = false;
};

// True if `entry` (a file name) is a leftover of a writer of the destination
// whose base name is `base`: `base.staging-<digits>-<hex>` or
// `base.old-<digits>-<hex>`. Sets *pid to the digits.
bool IsStagingLeftover(std::string_view entry, std::string_view base, long* pid);

// Tests only: with false, Commit() replaces an existing destination with the
// two-rename fallback used where renameat2(RENAME_EXCHANGE) is unsupported.
void SetRenameExchangeForTesting(bool enabled);

// Name of the completion marker in every file output directory.
inline constexpr const char* kSuccessFile = "_SUCCESS";

}  // namespace encore::pipeline

#endif  // ENCORE_PIPELINE_STAGING_H_
