// OutputFile: the one way encore writes a file the user named (--out,
// --rejects, model files, generated data). It never destroys what is not its
// own, whatever the path turns out to be:
//
//   regular file or new path  written to a temporary file in the same
//                             directory (".NAME.tmp-PID-N"), renamed over
//                             the target by Commit(): a reader sees the old
//                             file or the new one, never half of one; the
//                             old file's permission bits are kept;
//   FIFO, character device    written through (no temporary, no rename, no
//                             truncation), so `--out /dev/null` and a named
//                             pipe behave as with a shell redirect;
//   "-", /dev/stdout,         standard output (or that descriptor), written
//   /dev/stderr, /dev/fd/N    through;
//   symlink                   followed; the rule applies to its target and
//                             the link itself is never replaced;
//   directory, socket, block  refused before anything is written, with the
//   device, other             path and its kind in the message.
//
// A name ending in ".gz" is written gzip-compressed when the options allow
// it. A temporary left behind by a crashed writer (its process gone) is
// removed the next time that path is opened for writing. Dropping an
// OutputFile without Commit() removes its temporary and leaves the target
// as it was.
//
// Thread-safety: one OutputFile per thread.

#ifndef ENCORE_IO_OUTPUT_FILE_H_
#define ENCORE_IO_OUTPUT_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "encore/status.h"

namespace encore::io {

struct OutputFileOptions {
  // "NAME.gz" is written gzip-compressed. When false, a ".gz" name is refused.
  bool gzip_by_extension = true;
  // What the file is, for messages ("model file", "rejects file"...).
  std::string what = "output";
};

// How an output path will be written. Classification only: nothing opened.
enum class OutputPathKind {
  kStandardStream,  // "-", /dev/stdout, /dev/stderr, /dev/fd/N
  kNew,             // does not exist yet (a dangling symlink's target included)
  kRegular,
  kFifo,
  kCharDevice,
};

const char* OutputPathKindName(OutputPathKind kind);

// Classifies `path` by the rule above; refuses kinds that cannot be written
// and paths whose directory does not exist, with a message naming the path.
// Call it before long work so a bad --out fails at once.
Result<OutputPathKind> CheckOutputPath(const std::string& path,
                                       const OutputFileOptions& options = {});

// The text formats of tabular outputs (recommendations, similar items).
enum class TextFormat { kCsv, kJsonl };

// The format an output file name asks for: ".jsonl"/".ndjson" (optionally
// ".gz") → JSON Lines; ".csv", ".txt", no extension, "-" (optionally ".gz")
// → CSV. Names that imply a format encore does not write (.parquet, .xlsx,
// .json, .tsv, .zip, .bz2, ".gz" of another format...) are refused with the
// list of what is supported, never written as plain CSV.
Result<TextFormat> TextFormatForPath(const std::string& path);

class OutputFile {
 public:
  static Result<std::unique_ptr<OutputFile>> Open(const std::string& path,
                                                  const OutputFileOptions& options = {});
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // REQUIRES: Commit() not called yet.
  Status Write(std::string_view data);
  // Flushes (and for regular files syncs and renames into place). After an
  // error the target is left as it was.
  Status Commit();

  const std::string& path() const { return path_; }
  OutputPathKind kind() const { return kind_; }
  bool gzip() const { return gzip_ != nullptr; }
  // Bytes handed to the file after compression.
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  struct Gzip;
  OutputFile() = default;
  Status WriteRaw(const char* data, size_t size);
  Status FlushBuffer();
  Status Abort(Status status);

  std::string path_;    // as given
  std::string target_;  // where the data lands (regular/new: the resolved target)
  std::string temp_;    // regular/new only
  std::string what_;
  OutputPathKind kind_ = OutputPathKind::kNew;
  int fd_ = -1;
  bool close_fd_ = true;
  bool done_ = false;
  int mode_ = -1;  // permission bits to give the temporary, -1: default
  uint64_t bytes_written_ = 0;
  std::string buf_;  // uncompressed small writes not yet handed to fd_
  std::unique_ptr<Gzip> gzip_;
};

// Writes `contents` to `path` through an OutputFile.
Status WriteOutputFile(const std::string& path, std::string_view contents,
                       const OutputFileOptions& options = {});

// Removes "DIR/.NAME.tmp-PID-N" temporaries of `path` whose process is gone
// (left by a crash). Returns how many were removed. Open() calls it.
int RemoveStaleTemporaries(const std::string& path);

}  // namespace encore::io

#endif  // ENCORE_IO_OUTPUT_FILE_H_
