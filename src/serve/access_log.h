// AccessLog: one JSON Lines record per answered request, to a file or
// stderr:
//   {"time":"2026-11-24T08:00:00.123Z","method":"GET","target":"/v1/...",
//    "status":200,"bytes":512,"duration_us":87,"snapshot":3}
// Headers are never logged (so neither is Authorization). Each record is
// one write(2) on a file opened with O_APPEND, so concurrent records never
// interleave and no lock is taken.
//
// Thread-safety: Write may be called from any number of threads.
#ifndef ENCORE_SERVE_ACCESS_LOG_H_
#define ENCORE_SERVE_ACCESS_LOG_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "encore/status.h"

namespace encore::serve {

class AccessLog {
 public:
  // "-" is stderr; anything else a file, created when missing and appended to.
  static Result<std::unique_ptr<AccessLog>> Open(const std::string& path);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  struct Record {
    std::string_view method;
    std::string_view target;
    int status = 0;
    uint64_t bytes = 0;  // body bytes sent
    std::chrono::nanoseconds duration{0};
    uint64_t snapshot = 0;  // 0: none
  };
  void Write(const Record& record);

 private:
  AccessLog(int fd, bool owned) : fd_(fd), owned_(owned) {}
  const int fd_;
  const bool owned_;
};

}  // namespace encore::serve

#endif  // ENCORE_SERVE_ACCESS_LOG_H_
