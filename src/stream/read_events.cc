#include "stream/read_events.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

#include "stream/redis_events.h"

namespace encore::stream {

Status ReadEventsFile(const std::string& path, std::vector<Event>* events,
                      std::map<std::string, uint64_t>* rejected, uint64_t* lines) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) {
      return Status::NotFound("cannot read events file '" + path + "': " + std::strerror(errno));
    }
    in = &file;
  }
  EventSchema schema;
  std::string line;
  while (std::getline(*in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++*lines;
    Event e;
    EventRejection r;
    if (EventFromJson(line, schema, &e, &r)) {
      events->push_back(std::move(e));
    } else {
      ++(*rejected)[r.label.empty() ? "bad_event" : r.label];
    }
  }
  return Status::OK();
}

Status ReadRedisEvents(const std::string& uri, const std::string& key, std::vector<Event>* events,
                       std::map<std::string, uint64_t>* rejected, uint64_t* read) {
  ENCORE_ASSIGN_OR_RETURN(auto log, RedisEventLog::Open(uri, key));
  EventSchema schema;
  std::string after = "0";
  std::vector<StreamEntry> batch;
  for (;;) {
    ENCORE_RETURN_IF_ERROR(log->Range(after, 10000, &batch));
    if (batch.empty()) return Status::OK();
    for (const auto& entry : batch) {
      ++*read;
      Event e;
      EventRejection r;
      if (EventFromFields(entry.fields, schema, &e, &r)) {
        events->push_back(std::move(e));
      } else {
        ++(*rejected)[r.label.empty() ? "bad_event" : r.label];
      }
    }
    after = batch.back().id;
  }
}

}  // namespace encore::stream
