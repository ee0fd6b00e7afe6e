#include "serve/payload.h"

#include <simdjson.h>

#include <algorithm>

#include "util/json_writer.h"

namespace encore::serve {

namespace ondemand = simdjson::ondemand;

namespace {

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// The raw text of a value (any type), consuming it.
simdjson::error_code RawValue(ondemand::value& v, std::string_view* raw) {
  ondemand::json_type type;
  if (auto e = v.type().get(type)) return e;
  switch (type) {
    case ondemand::json_type::object: {
      ondemand::object o;
      if (auto e = v.get_object().get(o)) return e;
      return o.raw_json().get(*raw);
    }
    case ondemand::json_type::array: {
      ondemand::array a;
      if (auto e = v.get_array().get(a)) return e;
      return a.raw_json().get(*raw);
    }
    default:
      *raw = TrimRight(v.raw_json_token());
      return simdjson::SUCCESS;
  }
}

void AppendMember(std::string_view key, std::string_view raw_value, bool* first, std::string* out) {
  if (!*first) out->push_back(',');
  *first = false;
  JsonWriter::AppendQuoted(key, out);
  out->push_back(':');
  out->append(raw_value);
}

bool Overridden(const SliceSpec& spec, std::string_view key) {
  for (const auto* list : {&spec.first, &spec.last}) {
    for (const auto& [k, v] : *list) {
      if (k == key) return true;
    }
  }
  return false;
}

// Parses one list element into *text (its members, stored bytes) and *item.
simdjson::error_code ReadElement(ondemand::value& element, std::string* text,
                                 std::string_view* item, bool* has_item) {
  ondemand::object obj;
  if (auto e = element.get_object().get(obj)) return e;
  text->assign("{");
  bool first = true;
  *has_item = false;
  for (auto field_result : obj) {
    ondemand::field field;
    if (auto e = std::move(field_result).get(field)) return e;
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    std::string key_copy(key);  // the next unescape may reuse the buffer
    ondemand::value v = field.value();
    std::string_view raw;
    if (key_copy == "item") {
      raw = TrimRight(v.raw_json_token());
      if (auto e = v.get_string().get(*item)) return e;
      *has_item = true;
    } else if (auto e = RawValue(v, &raw)) {
      return e;
    }
    AppendMember(key_copy, raw, &first, text);
  }
  text->push_back('}');
  return simdjson::SUCCESS;
}

Status Corrupt(std::string_view what, simdjson::error_code e) {
  return Status::Corruption(
      "stored payload is not valid (" + std::string(what) +
      (e != simdjson::SUCCESS ? std::string(": ") + simdjson::error_message(e) : std::string()) +
      "); publish the snapshot again");
}

ondemand::parser& ThreadParser() {
  thread_local ondemand::parser parser;
  return parser;
}

simdjson::dom::parser& ThreadDomParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

}  // namespace

Status SlicePayload(std::string_view payload, std::string_view list_key, const SliceSpec& spec,
                    std::string* out) {
  simdjson::padded_string padded(payload);
  ondemand::document doc;
  if (auto e = ThreadParser().iterate(padded).get(doc)) return Corrupt("not JSON", e);
  ondemand::object top;
  if (auto e = doc.get_object().get(top)) return Corrupt("not an object", e);

  std::vector<std::string_view> exclude(spec.exclude.begin(), spec.exclude.end());
  std::sort(exclude.begin(), exclude.end());

  out->clear();
  out->reserve(payload.size());
  out->push_back('{');
  bool first = true;
  for (const auto& [k, v] : spec.first) AppendMember(k, v, &first, out);
  bool saw_list = false;
  std::string element_text;
  for (auto field_result : top) {
    ondemand::field field;
    if (auto e = std::move(field_result).get(field)) return Corrupt("bad member", e);
    std::string_view key_view;
    if (auto e = field.unescaped_key().get(key_view)) return Corrupt("bad key", e);
    std::string key(key_view);
    ondemand::value v = field.value();
    if (key == list_key) {
      ondemand::array list;
      if (auto e = v.get_array().get(list)) return Corrupt(key + " is not an array", e);
      saw_list = true;
      if (!first) out->push_back(',');
      first = false;
      JsonWriter::AppendQuoted(key, out);
      out->append(":[");
      uint64_t skipped = 0, kept = 0;
      for (auto element_result : list) {
        ondemand::value element;
        if (auto e = std::move(element_result).get(element)) return Corrupt("bad element", e);
        std::string_view item;
        bool has_item = false;
        if (auto e = ReadElement(element, &element_text, &item, &has_item)) {
          return Corrupt("bad element", e);
        }
        if (!has_item) return Corrupt("an element has no \"item\"", simdjson::SUCCESS);
        if (std::binary_search(exclude.begin(), exclude.end(), item)) continue;
        if (skipped < spec.offset) {
          ++skipped;
          continue;
        }
        if (kept >= spec.limit) continue;  // read on: the document must stay valid
        if (kept++ > 0) out->push_back(',');
        out->append(element_text);
      }
      out->push_back(']');
    } else if (Overridden(spec, key)) {
      continue;  // ondemand skips the unread value
    } else {
      std::string_view raw;
      if (auto e = RawValue(v, &raw)) return Corrupt("bad value of " + key, e);
      AppendMember(key, raw, &first, out);
    }
  }
  if (!saw_list) return Corrupt("no \"" + std::string(list_key) + "\" list", simdjson::SUCCESS);
  for (const auto& [k, v] : spec.last) AppendMember(k, v, &first, out);
  out->push_back('}');
  return Status::OK();
}

bool IsJsonObject(std::string_view text) {
  simdjson::dom::element root;
  if (ThreadDomParser().parse(text.data(), text.size()).get(root)) return false;
  return root.is_object();
}

Status FilterFeeds(std::string_view payload, const std::vector<std::string>& feeds,
                   std::string* out) {
  simdjson::padded_string padded(payload);
  ondemand::document doc;
  if (auto e = ThreadParser().iterate(padded).get(doc)) return Corrupt("not JSON", e);
  ondemand::object top;
  if (auto e = doc.get_object().get(top)) return Corrupt("not an object", e);
  out->assign("{");
  bool first = true;
  bool has_feeds = false;
  for (auto field_result : top) {
    ondemand::field field;
    if (auto e = std::move(field_result).get(field)) return Corrupt("a member", e);
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return Corrupt("a key", e);
    std::string key_copy(key);
    ondemand::value v = field.value();
    if (key_copy != "feeds") {
      std::string_view raw;
      if (auto e = RawValue(v, &raw)) return Corrupt("a value", e);
      AppendMember(key_copy, raw, &first, out);
      continue;
    }
    has_feeds = true;
    ondemand::object inner;
    if (auto e = v.get_object().get(inner)) return Corrupt("feeds is not an object", e);
    std::string kept = "{";
    bool inner_first = true;
    for (auto f_result : inner) {
      ondemand::field f;
      if (auto e = std::move(f_result).get(f)) return Corrupt("a feed", e);
      std::string_view name;
      if (auto e = f.unescaped_key().get(name)) return Corrupt("a feed name", e);
      std::string name_copy(name);
      ondemand::value fv = f.value();
      std::string_view raw;
      if (auto e = RawValue(fv, &raw)) return Corrupt("a feed", e);
      if (std::find(feeds.begin(), feeds.end(), name_copy) == feeds.end()) continue;
      AppendMember(name_copy, raw, &inner_first, &kept);
    }
    kept.push_back('}');
    AppendMember("feeds", kept, &first, out);
  }
  if (!has_feeds) return Corrupt("no \"feeds\" member", simdjson::SUCCESS);
  out->push_back('}');
  return Status::OK();
}

bool JsonObjectHasKey(std::string_view text, std::string_view key) {
  simdjson::dom::element root;
  if (ThreadDomParser().parse(text.data(), text.size()).get(root)) return false;
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return false;
  for (auto [k, v] : obj) {
    if (k == key) return true;
  }
  return false;
}

namespace {

const char* TypeName(simdjson::dom::element_type type) {
  switch (type) {
    case simdjson::dom::element_type::ARRAY:
      return "an array";
    case simdjson::dom::element_type::OBJECT:
      return "an object";
    case simdjson::dom::element_type::STRING:
      return "a string";
    case simdjson::dom::element_type::BOOL:
      return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
    default:
      return "a number";
  }
}

Status ReadIdArray(simdjson::dom::element value, const char* field, uint32_t max_id_bytes,
                   std::vector<std::string>* out) {
  simdjson::dom::array array;
  if (value.get_array().get(array)) {
    return Status::InvalidArgument(std::string("\"") + field + "\" must be an array of item ids");
  }
  for (simdjson::dom::element e : array) {
    std::string_view id;
    if (e.get_string().get(id)) {
      return Status::InvalidArgument(std::string("\"") + field +
                                     "\" must hold strings (item ids), found " +
                                     TypeName(e.type()));
    }
    if (id.empty() || id.size() > max_id_bytes) {
      return Status::InvalidArgument(std::string("\"") + field + "\" holds an id of " +
                                     std::to_string(id.size()) + " bytes; ids have 1 to " +
                                     std::to_string(max_id_bytes) + " bytes");
    }
    out->emplace_back(id);
  }
  return Status::OK();
}

}  // namespace

Status ParseFoldInRequest(std::string_view body, uint32_t max_limit, uint32_t max_id_bytes,
                          FoldInRequest* out) {
  *out = FoldInRequest();
  out->limit = std::min(out->limit, max_limit);
  simdjson::dom::element root;
  if (auto e = ThreadDomParser().parse(body.data(), body.size()).get(root)) {
    return Status::ParseError(std::string("request body is not valid JSON: ") +
                              simdjson::error_message(e));
  }
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) {
    return Status::InvalidArgument(
        "request body must be a JSON object like {\"items\": [\"i1\", \"i2\"], \"limit\": 10}");
  }
  bool has_items = false;
  for (auto [key, value] : obj) {
    if (key == "items") {
      has_items = true;
      out->items.clear();
      ENCORE_RETURN_IF_ERROR(ReadIdArray(value, "items", max_id_bytes, &out->items));
    } else if (key == "exclude") {
      out->exclude.clear();
      ENCORE_RETURN_IF_ERROR(ReadIdArray(value, "exclude", max_id_bytes, &out->exclude));
    } else if (key == "limit") {
      int64_t limit = 0;
      uint64_t ulimit = 0;
      bool ok = false;
      if (!value.get_int64().get(limit)) {
        ok = limit >= 1 && static_cast<uint64_t>(limit) <= max_limit;
      } else if (!value.get_uint64().get(ulimit)) {
        ok = false;  // beyond int64: certainly too large
      }
      if (!ok) {
        return Status::InvalidArgument("\"limit\" must be an integer from 1 to " +
                                       std::to_string(max_limit));
      }
      out->limit = static_cast<uint32_t>(limit);
    }
  }
  if (!has_items) {
    return Status::InvalidArgument("request body has no \"items\" (an array of item ids)");
  }
  return Status::OK();
}

}  // namespace encore::serve
