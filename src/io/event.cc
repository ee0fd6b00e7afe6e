// Live event schema and validation (encore/event.h).

#include "encore/event.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "io/text.h"

namespace encore {

namespace {

bool Reject(EventRejection* r, std::string field, std::string label, std::string reason) {
  r->field = std::move(field);
  r->label = std::move(label);
  r->reason = std::move(reason);
  return false;
}

// An id-like field: present, not empty, not too long, no control characters.
bool CheckId(std::string_view name, std::string_view value, const EventSchema& schema,
             EventRejection* r) {
  if (value.empty()) return Reject(r, std::string(name), "empty", "empty");
  if (value.size() > schema.max_id_bytes) {
    return Reject(
        r, std::string(name), "too_long",
        std::to_string(value.size()) + " bytes, at most " + std::to_string(schema.max_id_bytes));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "control character 0x%02x at byte %zu", c, i);
      return Reject(r, std::string(name), "control_character", buf);
    }
  }
  return true;
}

bool ParseNumber(std::string_view name, std::string_view text, EventRejection* r, double* out) {
  float f = 0;
  if (!io::ParseFloat(text, &f)) {
    return Reject(r, std::string(name), "bad_number",
                  "not a finite number: " + io::QuoteForMessage(text));
  }
  // Parse again as double for the exact decimal value.
  double d = 0;
  std::string_view t = text;
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
  *out = ec == std::errc() && end == t.data() + t.size() ? d : f;
  return true;
}

// Builds an Event from looked-up fields; `get` returns nullptr when absent.
template <typename Get>
bool Build(const Get& get, const EventSchema& schema, Event* out, EventRejection* r) {
  *out = Event();
  struct Required {
    const char* name;
    std::string* dest;
  } required[] = {{"user", &out->user}, {"item", &out->item}, {"event", &out->type}};
  for (const Required& f : required) {
    const std::string* v = get(f.name);
    if (v == nullptr) return Reject(r, f.name, "missing", "missing");
    if (!CheckId(f.name, *v, schema, r)) return false;
    *f.dest = *v;
  }
  if (!schema.known_types.empty() && std::find(schema.known_types.begin(), schema.known_types.end(),
                                               out->type) == schema.known_types.end()) {
    std::string known;
    for (const auto& t : schema.known_types) known += (known.empty() ? "" : ", ") + t;
    return Reject(r, "event", "unknown_event_type",
                  "unknown event type " + io::QuoteForMessage(out->type) + "; known: " + known);
  }
  if (const std::string* v = get("id")) {
    if (!CheckId("id", *v, schema, r)) return false;
    out->id = *v;
  }
  if (const std::string* v = get("rec")) {
    if (!CheckId("rec", *v, schema, r)) return false;
    out->rec = *v;
  }
  if (const std::string* v = get("variant")) {
    if (!CheckId("variant", *v, schema, r)) return false;
    out->variant = *v;
  }
  if (const std::string* v = get("ts")) {
    int64_t t = 0;
    if (!io::ParseTimestamp(*v, TimeUnit::kAuto, &t)) {
      return Reject(r, "ts", "bad_time",
                    "not seconds since the epoch or ISO 8601: " + io::QuoteForMessage(*v));
    }
    out->time = t;
  }
  if (const std::string* v = get("quantity")) {
    double q = 0;
    if (!ParseNumber("quantity", *v, r, &q)) return false;
    if (!(q > 0)) return Reject(r, "quantity", "bad_number", "must be > 0");
    out->quantity = q;
  }
  if (const std::string* v = get("price")) {
    double p = 0;
    if (!ParseNumber("price", *v, r, &p)) return false;
    if (p < 0) return Reject(r, "price", "bad_number", "must be >= 0");
    out->price = p;
  }
  if (schema.obfuscator != nullptr) {
    for (const std::string& field : schema.obfuscate) {
      if (field == "user") out->user = schema.obfuscator->Hash(out->user);
      if (field == "item") out->item = schema.obfuscator->Hash(out->item);
    }
  }
  return true;
}

constexpr const char* kFields[] = {"user",     "item",  "event", "ts",     "id",
                                   "quantity", "price", "rec",   "variant"};
constexpr int kFieldCount = 9;

int FieldIndex(std::string_view name) {
  for (int i = 0; i < kFieldCount; ++i) {
    if (name == kFields[i]) return i;
  }
  return -1;
}

// Reads the known fields of one JSON object into text values.
bool FromObject(simdjson::dom::object obj, const EventSchema& schema, Event* out,
                EventRejection* r) {
  std::optional<std::string> values[kFieldCount];
  for (auto [key, value] : obj) {
    const int k = FieldIndex(key);
    if (k < 0) continue;
    switch (value.type()) {
      case simdjson::dom::element_type::STRING:
        values[k] = std::string(std::string_view(value));
        break;
      case simdjson::dom::element_type::INT64:
        values[k] = std::to_string(int64_t(value));
        break;
      case simdjson::dom::element_type::UINT64:
        values[k] = std::to_string(uint64_t(value));
        break;
      case simdjson::dom::element_type::DOUBLE: {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", double(value));
        values[k] = buf;
        break;
      }
      case simdjson::dom::element_type::NULL_VALUE:
        break;  // null: absent
      default:
        return Reject(r, std::string(key), "bad_type", "must be a string or a number");
    }
  }
  auto get = [&](const char* name) -> const std::string* {
    const auto& v = values[FieldIndex(name)];
    return v ? &*v : nullptr;
  };
  return Build(get, schema, out, r);
}

}  // namespace

std::string EventRejection::ToString() const {
  std::string s = "event " + std::to_string(index) + ": ";
  if (!field.empty()) s += "field '" + field + "': ";
  return s + reason;
}

bool EventFromFields(const std::vector<std::pair<std::string, std::string>>& fields,
                     const EventSchema& schema, Event* out, EventRejection* rejection) {
  auto get = [&](const char* name) -> const std::string* {
    // The last occurrence wins, as in a JSON object.
    for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
      if (it->first == name) return &it->second;
    }
    return nullptr;
  };
  return Build(get, schema, out, rejection);
}

bool EventFromJson(std::string_view json, const EventSchema& schema, Event* out,
                   EventRejection* rejection) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto error = parser.parse(json.data(), json.size()).get(doc);
  if (error)
    return Reject(rejection, "", "bad_json",
                  std::string("not valid JSON: ") + simdjson::error_message(error));
  simdjson::dom::object obj;
  if (doc.get(obj)) return Reject(rejection, "", "not_an_object", "not a JSON object");
  return FromObject(obj, schema, out, rejection);
}

Status EventsFromJsonArray(std::string_view json, const EventSchema& schema,
                           std::vector<Event>* events, std::vector<size_t>* indices,
                           std::vector<EventRejection>* rejections) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto error = parser.parse(json.data(), json.size()).get(doc);
  if (error) {
    return Status::InvalidArgument(std::string("the body is not valid JSON: ") +
                                   simdjson::error_message(error) +
                                   "; send a JSON array of event objects");
  }
  simdjson::dom::array array;
  if (doc.get(array)) {
    return Status::InvalidArgument(
        "the body is not a JSON array; send [{\"user\":..,\"item\":..,\"event\":..}, ...]");
  }
  if (array.size() > schema.max_events) {
    return Status::InvalidArgument("the body holds " + std::to_string(array.size()) +
                                   " events, at most " + std::to_string(schema.max_events) +
                                   " are accepted at once; split it");
  }
  size_t index = 0;
  for (simdjson::dom::element element : array) {
    Event event;
    EventRejection rejection;
    simdjson::dom::object obj;
    bool ok = false;
    if (element.get(obj)) {
      Reject(&rejection, "", "not_an_object", "not a JSON object");
    } else {
      ok = FromObject(obj, schema, &event, &rejection);
    }
    if (ok) {
      events->push_back(std::move(event));
      indices->push_back(index);
    } else {
      rejection.index = index;
      rejections->push_back(std::move(rejection));
    }
    ++index;
  }
  return Status::OK();
}

std::vector<std::pair<std::string, std::string>> EventFields(const Event& event) {
  std::vector<std::pair<std::string, std::string>> f = {
      {"user", event.user}, {"item", event.item}, {"event", event.type}};
  if (event.time) f.emplace_back("ts", std::to_string(*event.time));
  if (!event.id.empty()) f.emplace_back("id", event.id);
  if (event.quantity != 1) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", event.quantity);
    f.emplace_back("quantity", buf);
  }
  if (event.price) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", *event.price);
    f.emplace_back("price", buf);
  }
  if (!event.rec.empty()) f.emplace_back("rec", event.rec);
  if (!event.variant.empty()) f.emplace_back("variant", event.variant);
  return f;
}

}  // namespace encore
