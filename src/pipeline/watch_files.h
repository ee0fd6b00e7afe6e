// The file listing behind `encore watch` (src/pipeline/watch.cc): which files
// a pipeline's source patterns name now, with their sizes and times, so that
// the watcher can tell when a set of files has settled.

#ifndef ENCORE_PIPELINE_WATCH_FILES_H_
#define ENCORE_PIPELINE_WATCH_FILES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace encore::pipeline {

struct WatchedFile {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const WatchedFile&) const = default;
};
using WatchedFiles = std::map<std::string, WatchedFile>;

// The files the patterns name now; a pattern naming nothing adds nothing.
// With a ready marker (a file name such as "_SUCCESS"), only files whose
// directory held the marker before they were listed, and never the marker
// itself: a producer writes its marker after its last file, so a released
// directory is listed whole. `after_markers`, when set, runs after the
// markers were looked for and before the files are listed (tests use it to
// write files at the worst moment).
WatchedFiles ListWatchedFiles(const std::vector<std::string>& patterns,
                              const std::string& marker,
                              const std::function<void()>& after_markers = nullptr);

}  // namespace encore::pipeline

#endif  // ENCORE_PIPELINE_WATCH_FILES_H_
