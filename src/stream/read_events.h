// Reading a logged period of events back (the experiment report, the
// console's experiment page): from a JSON Lines file or a whole Redis stream.
//
// Thread-safety: reentrant functions.
#ifndef ENCORE_STREAM_READ_EVENTS_H_
#define ENCORE_STREAM_READ_EVENTS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "encore/event.h"
#include "encore/status.h"

namespace encore::stream {

// Reads a JSON Lines file of events (encore/event.h; "-": standard input).
// Lines that are not events are counted in *rejected by their reason label;
// *lines counts the non-blank lines.
Status ReadEventsFile(const std::string& path, std::vector<Event>* events,
                      std::map<std::string, uint64_t>* rejected, uint64_t* lines);

// Reads every entry of a Redis stream (XRANGE, oldest first) at
// redis://HOST:PORT/DB; entries that are not events are counted in
// *rejected, *read counts every entry.
Status ReadRedisEvents(const std::string& uri, const std::string& key, std::vector<Event>* events,
                       std::map<std::string, uint64_t>* rejected, uint64_t* read);

}  // namespace encore::stream

#endif  // ENCORE_STREAM_READ_EVENTS_H_
