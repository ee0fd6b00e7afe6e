// Formatting of unix times for humans and JSON.

#ifndef ENCORE_UTIL_TIME_FORMAT_H_
#define ENCORE_UTIL_TIME_FORMAT_H_

#include <cstdint>
#include <string>

namespace encore {

// "YYYY-MM-DDTHH:MM:SSZ" (ISO-8601, UTC) for years 1..9999, else "@<seconds>".
std::string FormatUtcTime(int64_t unix_seconds);

}  // namespace encore

#endif  // ENCORE_UTIL_TIME_FORMAT_H_
