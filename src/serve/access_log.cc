#include "serve/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/json_writer.h"
#include "util/time_format.h"

namespace encore::serve {

Result<std::unique_ptr<AccessLog>> AccessLog::Open(const std::string& path) {
  if (path == "-") return std::unique_ptr<AccessLog>(new AccessLog(STDERR_FILENO, false));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Status::IOError("cannot open access log '" + path + "': " + std::strerror(errno) +
                           "; pass a writable file or '-' for stderr");
  }
  return std::unique_ptr<AccessLog>(new AccessLog(fd, true));
}

AccessLog::~AccessLog() {
  if (owned_) ::close(fd_);
}

void AccessLog::Write(const Record& record) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  std::string time = FormatUtcTime(ms / 1000);  // ...SSZ
  if (!time.empty() && time.back() == 'Z') {
    char frac[8];
    std::snprintf(frac, sizeof(frac), ".%03dZ", static_cast<int>(ms % 1000));
    time.pop_back();
    time += frac;
  }
  JsonWriter w;
  w.BeginObject();
  w.Key("time");
  w.String(time);
  w.Key("method");
  w.String(record.method);
  w.Key("target");
  w.String(record.target);
  w.Key("status");
  w.Int(record.status);
  w.Key("bytes");
  w.Uint(record.bytes);
  w.Key("duration_us");
  w.Int(std::chrono::duration_cast<std::chrono::microseconds>(record.duration).count());
  w.Key("snapshot");
  w.Uint(record.snapshot);
  w.EndObject();
  std::string line = w.str();
  line.push_back('\n');
  // A short write (disk full) loses the record; serving goes on.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace encore::serve
