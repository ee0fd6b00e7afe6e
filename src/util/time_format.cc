#include "util/time_format.h"

#include <chrono>
#include <cstdio>

namespace encore {

std::string FormatUtcTime(int64_t unix_seconds) {
  constexpr int64_t kYear1 = -62135596800;      // 0001-01-01T00:00:00Z
  constexpr int64_t kYear10000 = 253402300800;  // 10000-01-01T00:00:00Z
  if (unix_seconds < kYear1 || unix_seconds >= kYear10000) {
    return "@" + std::to_string(unix_seconds);
  }
  using std::chrono::days;
  using std::chrono::seconds;
  const std::chrono::sys_seconds tp{seconds{unix_seconds}};
  const auto day = std::chrono::floor<days>(tp);
  const std::chrono::year_month_day ymd{day};
  const int64_t secs = (tp - day).count();
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60));
  return buf;
}

}  // namespace encore
