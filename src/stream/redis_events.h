// RedisEventLog: a Redis stream of events (encore/event.h) read through a
// consumer group and appended to by the HTTP intake. Internal to encore.
//
// Reading: ReadBatch first re-reads this consumer's pending entries (those
// delivered before a crash and never acknowledged; XREADGROUP ... 0), then
// new ones (">"), blocking up to block_ms when there are none. Entries are
// acknowledged (XACK) only by Ack, which the consumer calls after their
// effects are durable.
//
// Thread-safety: one thread at a time.
#ifndef ENCORE_STREAM_REDIS_EVENTS_H_
#define ENCORE_STREAM_REDIS_EVENTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "encore/status.h"

namespace encore::stream {

struct StreamEntry {
  std::string id;  // "1733400000000-0"
  std::vector<std::pair<std::string, std::string>> fields;
  int64_t ms() const;  // the entry id's milliseconds (when Redis appended it)
};

class RedisEventLog {
 public:
  // Connects to redis://HOST:PORT/DB (the store URI syntax).
  static Result<std::unique_ptr<RedisEventLog>> Open(const std::string& uri, std::string stream);
  ~RedisEventLog();

  // Creates the consumer group at the start of the stream (and the stream)
  // when it does not exist yet.
  Status EnsureGroup(const std::string& group);
  // Up to `count` entries for `consumer` (see the header comment).
  Status ReadBatch(const std::string& group, const std::string& consumer, uint32_t count,
                   uint32_t block_ms, std::vector<StreamEntry>* out);
  Status Ack(const std::string& group, const std::vector<std::string>& ids);
  // Entries of the stream not yet delivered to the group (XINFO GROUPS
  // "lag"); -1 when Redis cannot tell.
  Result<int64_t> Lag(const std::string& group);
  // XADD of several entries in one round trip; their ids in *ids.
  Status Append(const std::vector<std::vector<std::pair<std::string, std::string>>>& entries,
                std::vector<std::string>* ids);
  // XLEN.
  Result<int64_t> Length();
  // Up to `count` entries with ids after `after` ("0": from the start), in
  // stream order (XRANGE; no consumer group, nothing acknowledged): what
  // `encore experiment report --redis` reads.
  Status Range(const std::string& after, uint32_t count, std::vector<StreamEntry>* out);

  // The next ReadBatch starts over with this consumer's pending entries
  // (after a batch failed and was not acknowledged).
  void RereadPending() { pending_done_ = false; }

  const std::string& stream() const { return stream_; }

 private:
  struct Impl;
  RedisEventLog(std::unique_ptr<Impl> impl, std::string stream);
  std::unique_ptr<Impl> impl_;
  std::string stream_;
  bool pending_done_ = false;
};

}  // namespace encore::stream

#endif  // ENCORE_STREAM_REDIS_EVENTS_H_
