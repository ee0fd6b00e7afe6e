// Events: the one schema of a live interaction, shared by every intake - a
// Redis stream entry (`encore stream --redis`), a JSON object posted to
// `POST /v1/events`, a line of a JSON Lines file or stdin (`encore stream
// --events`) - and named like the batch readers' well-known columns, so the
// same records read as a batch file give the same totals.
//
//   field     required  value
//   user      yes       the user id (1..256 bytes, no control characters)
//   item      yes       the item id (same rules)
//   event     yes       the event type; with known types, one of them
//   ts        no        seconds since the epoch (a number; |t| >= 1e11 is
//                       milliseconds) or ISO 8601 ("2026-12-05T13:00:00Z")
//   id        no        the event id (1..max_id_bytes bytes, no control
//                       characters): an event whose id was applied before is
//                       not counted again (at-least-once in, exactly-once totals)
//   quantity  no        a finite number > 0 (default 1); the event's value,
//                       like the batch value column
//   price     no        a finite number >= 0 (kept for the record; the
//                       revenue of a purchase in experiment reports)
//   rec       no        the recommendation id a served answer carried (A/B
//                       experiments join exposures and outcomes by it)
//   variant   no        the experiment variant that answer named
//
// Other fields are ignored. A value may be a JSON string or number (Redis
// fields are always strings). A rejected event names its index in the
// batch, the field and the reason (EventRejection); obfuscation (encore/
// obfuscate.h) replaces the named fields (user, item) by their keyed hash
// exactly as the batch reader does, before anything is stored or logged.
//
// Thread-safety: pure functions; options are read-only.
#ifndef ENCORE_EVENT_H_
#define ENCORE_EVENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "encore/obfuscate.h"
#include "encore/status.h"

namespace encore {

struct Event {
  std::string user;
  std::string item;
  std::string type;
  std::optional<int64_t> time;  // unix seconds
  std::string id;               // empty: none
  double quantity = 1;
  std::optional<double> price;
  std::string rec;      // recommendation id; empty: none
  std::string variant;  // experiment variant; empty: none
  bool operator==(const Event&) const = default;
};

struct EventRejection {
  size_t index = 0;   // position in the batch (0-based)
  std::string field;  // "user", "item", ... or "" for the whole event
  std::string reason;
  // "event 3: field 'user': missing"
  std::string ToString() const;
  // A short stable label for metrics: "missing", "unknown_event_type",
  // "control_character", "too_long", "bad_number", "bad_time", "not_an_object".
  std::string label;
};

struct EventSchema {
  // Accepted event types; empty accepts every type.
  std::vector<std::string> known_types;
  // Fields replaced by obfuscator->Hash ("user", "item").
  std::vector<std::string> obfuscate;
  const Obfuscator* obfuscator = nullptr;
  // Longest user, item, event type and id (the store's key limit).
  size_t max_id_bytes = 256;
  // Most events in one JSON array (POST /v1/events).
  size_t max_events = 10'000;
};

// One event from (field, value) text pairs (a Redis stream entry). On
// failure fills *rejection (index left 0) and returns false.
bool EventFromFields(const std::vector<std::pair<std::string, std::string>>& fields,
                     const EventSchema& schema, Event* out, EventRejection* rejection);

// Parses one JSON object (a line of an events file).
bool EventFromJson(std::string_view json, const EventSchema& schema, Event* out,
                   EventRejection* rejection);

// A JSON array of event objects (POST /v1/events). Good events go to
// *events with their index in *indices; bad ones to *rejections. The whole
// body fails (InvalidArgument) only when it is not a JSON array, is not
// valid JSON, or holds more than schema.max_events elements.
Status EventsFromJsonArray(std::string_view json, const EventSchema& schema,
                           std::vector<Event>* events, std::vector<size_t>* indices,
                           std::vector<EventRejection>* rejections);

// The event as (field, value) text pairs with the schema's names: what the
// HTTP intake appends to the Redis stream (EventFromFields reads it back).
std::vector<std::pair<std::string, std::string>> EventFields(const Event& event);

}  // namespace encore

#endif  // ENCORE_EVENT_H_
