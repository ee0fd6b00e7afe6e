// Fuzzes the server's JSON handling (serve/payload.h): slicing a stored
// payload (limit/offset/exclude, extra members) and parsing the body of
// POST /v1/recommendations, which comes from any client.
// Invariants:
//  - nothing crashes, whatever the bytes;
//  - for a payload that is valid JSON, SlicePayload succeeds exactly when
//    the payload has the documented shape, and its output is valid JSON equal
//    to a reference slicing done on simdjson's DOM (exclusion, then offset,
//    then limit; overridden members dropped; extra members first and last).
//    A payload that is not valid JSON may be sliced into text that is not
//    either: the fast path serves stored bytes unchecked, and the slow path
//    keeps them (ondemand does not validate what it copies);
//  - ParseFoldInRequest agrees with a DOM reference (ParseError exactly for
//    invalid JSON), its result respects max_limit and max_id_bytes, and the
//    request written back as JSON parses to the same request;
//  - IsJsonObject / JsonObjectHasKey agree with the DOM;
//  - JsonWriter::AppendFloat (the encoder's score text) prints a finite float as JSON that parses
//  back to it.
//
// The input's first 16 bytes choose the slicing and limits; the rest is the
// payload (and request body) as it is, or the material a well-formed payload
// is built from (so that most runs get past the JSON parser).

#include <fuzzer/FuzzedDataProvider.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "encore/status.h"
#include "serve/payload.h"
#include "util/json_writer.h"

namespace {

using encore::JsonWriter;
using encore::Status;
using encore::StatusCode;
using encore::serve::FoldInRequest;
using encore::serve::SliceSpec;
namespace dom = simdjson::dom;

dom::parser& Parser() {
  static dom::parser parser;
  return parser;
}

// `text` re-serialised by simdjson (minified, strings escaped its way), or
// "" when it is not valid JSON. Comparing these compares documents.
std::string Canonical(std::string_view text) {
  dom::element root;
  if (Parser().parse(text.data(), text.size()).get(root)) return "";
  return simdjson::minify(root);
}

std::string Quote(std::string_view s) {
  std::string out;
  JsonWriter::AppendQuoted(s, &out);
  return out;
}

// Ids, keys and strings: short, from a small alphabet (so that exclusion and
// override lists hit), sometimes with bytes that need escaping.
std::string SmallString(FuzzedDataProvider& in) {
  static const char* const kWords[] = {"item", "items", "similar",  "user", "score", "a",
                                       "b",    "c",     "fallback", "",     "\"",    "\xc3\xa9"};
  if (in.ConsumeBool()) return kWords[in.ConsumeIntegralInRange<size_t>(0, std::size(kWords) - 1)];
  return in.ConsumeRandomLengthString(6);
}

void WriteValue(FuzzedDataProvider& in, JsonWriter* w, int depth) {
  switch (in.ConsumeIntegralInRange<int>(0, depth > 2 ? 3 : 5)) {
    case 0:
      w->String(SmallString(in));
      break;
    case 1:
      w->Double(in.ConsumeFloatingPoint<double>());
      break;
    case 2:
      w->Int(in.ConsumeIntegral<int64_t>());
      break;
    case 3:
      w->Null();
      break;
    case 4: {
      w->BeginArray();
      for (int n = in.ConsumeIntegralInRange<int>(0, 3); n > 0; --n) WriteValue(in, w, depth + 1);
      w->EndArray();
      break;
    }
    default: {
      w->BeginObject();
      for (int n = in.ConsumeIntegralInRange<int>(0, 3); n > 0; --n) {
        w->Key(SmallString(in));
        WriteValue(in, w, depth + 1);
      }
      w->EndObject();
    }
  }
}

// A payload in the layout of publish.h, with the odd defect (a missing
// "item", a non-string one, a non-object element, a list that is no array).
std::string BuildPayload(FuzzedDataProvider& in, std::string_view list_key) {
  JsonWriter w;
  w.BeginObject();
  for (int members = in.ConsumeIntegralInRange<int>(1, 5); members > 0; --members) {
    if (!in.ConsumeBool()) {
      w.Key(SmallString(in));
      WriteValue(in, &w, 0);
      continue;
    }
    w.Key(list_key);
    if (in.ConsumeIntegralInRange<int>(0, 15) == 0) {
      WriteValue(in, &w, 0);
      continue;
    }
    w.BeginArray();
    for (int n = in.ConsumeIntegralInRange<int>(0, 8); n > 0; --n) {
      const int defect = in.ConsumeIntegralInRange<int>(0, 30);
      if (defect == 0) {
        WriteValue(in, &w, 1);
        continue;
      }
      w.BeginObject();
      if (defect != 1) {
        w.Key("item");
        if (defect == 2) {
          WriteValue(in, &w, 1);
        } else {
          w.String(SmallString(in));
        }
      }
      w.Key("score");
      w.Double(in.ConsumeFloatingPoint<float>());
      if (in.ConsumeBool()) {
        w.Key(SmallString(in));
        WriteValue(in, &w, 1);
      }
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  ENCORE_CHECK(w.complete());
  return w.str();
}

// The reference slicing, on the DOM. False when the payload has the wrong
// shape; else *expected is the output as JSON text.
bool ReferenceSlice(dom::element root, std::string_view list_key, const SliceSpec& spec,
                    std::string* expected) {
  dom::object top;
  if (root.get_object().get(top)) return false;
  auto overridden = [&](std::string_view key) {
    for (const auto* list : {&spec.first, &spec.last}) {
      for (const auto& [k, v] : *list) {
        if (k == key) return true;
      }
    }
    return false;
  };
  std::vector<std::string> members;
  for (const auto& [k, v] : spec.first) members.push_back(Quote(k) + ":" + v);
  bool saw_list = false;
  for (auto [key, value] : top) {
    if (key == list_key) {
      saw_list = true;
      dom::array list;
      if (value.get_array().get(list)) return false;
      std::string kept_text = "[";
      uint64_t skipped = 0, kept = 0;
      for (dom::element e : list) {
        dom::object obj;
        if (e.get_object().get(obj)) return false;
        bool has_item = false;
        std::string_view item;
        for (auto [ek, ev] : obj) {
          if (ek != "item") continue;
          if (ev.get_string().get(item)) return false;
          has_item = true;
        }
        if (!has_item) return false;
        if (std::find(spec.exclude.begin(), spec.exclude.end(), item) != spec.exclude.end()) {
          continue;
        }
        if (skipped < spec.offset) {
          ++skipped;
          continue;
        }
        if (kept >= spec.limit) continue;
        if (kept++ > 0) kept_text += ',';
        kept_text += simdjson::minify(e);
      }
      members.push_back(Quote(key) + ":" + kept_text + "]");
    } else if (!overridden(key)) {
      members.push_back(Quote(key) + ":" + simdjson::minify(value));
    }
  }
  if (!saw_list) return false;
  for (const auto& [k, v] : spec.last) members.push_back(Quote(k) + ":" + v);
  *expected = "{";
  for (size_t i = 0; i < members.size(); ++i) *expected += (i > 0 ? "," : "") + members[i];
  *expected += "}";
  return true;
}

void CheckSlice(std::string_view payload, std::string_view list_key, const SliceSpec& spec) {
  std::string out = "stale";
  Status st = encore::serve::SlicePayload(payload, list_key, spec, &out);
  if (!st.ok()) ENCORE_CHECK(st.code() == StatusCode::kCorruption);

  dom::element root;
  if (Parser().parse(payload.data(), payload.size()).get(root)) return;  // not JSON: no crash
  std::string expected;
  const bool shape_ok = ReferenceSlice(root, list_key, spec, &expected);
  ENCORE_CHECK(st.ok() == shape_ok);
  if (!st.ok()) return;
  const std::string got = Canonical(out);
  ENCORE_CHECK(!got.empty());  // valid JSON
  ENCORE_CHECK(got == Canonical(expected));
  ENCORE_CHECK(encore::serve::IsJsonObject(out));
}

// The reference request parser, on the DOM.
Status ReferenceFoldIn(std::string_view body, uint32_t max_limit, uint32_t max_id_bytes,
                       FoldInRequest* out) {
  dom::element root;
  if (Parser().parse(body.data(), body.size()).get(root)) return Status::ParseError("json");
  dom::object obj;
  if (root.get_object().get(obj)) return Status::InvalidArgument("not an object");
  bool has_items = false;
  auto ids = [&](dom::element v, std::vector<std::string>* list) {
    list->clear();
    dom::array a;
    if (v.get_array().get(a)) return false;
    for (dom::element e : a) {
      std::string_view id;
      if (e.get_string().get(id) || id.empty() || id.size() > max_id_bytes) return false;
      list->emplace_back(id);
    }
    return true;
  };
  for (auto [key, value] : obj) {
    if (key == "items") {
      has_items = true;
      if (!ids(value, &out->items)) return Status::InvalidArgument("items");
    } else if (key == "exclude") {
      if (!ids(value, &out->exclude)) return Status::InvalidArgument("exclude");
    } else if (key == "limit") {
      int64_t limit = 0;
      if (value.get_int64().get(limit) || limit < 1 || limit > max_limit) {
        return Status::InvalidArgument("limit");
      }
      out->limit = static_cast<uint32_t>(limit);
    }
  }
  if (!has_items) return Status::InvalidArgument("no items");
  return Status::OK();
}

void CheckFoldIn(std::string_view body, uint32_t max_limit, uint32_t max_id_bytes) {
  FoldInRequest got;
  Status st = encore::serve::ParseFoldInRequest(body, max_limit, max_id_bytes, &got);
  FoldInRequest want;
  want.limit = std::min<uint32_t>(want.limit, max_limit);
  Status ref = ReferenceFoldIn(body, max_limit, max_id_bytes, &want);
  ENCORE_CHECK(st.code() == ref.code());
  if (!st.ok()) {
    ENCORE_CHECK(!st.message().empty());
    return;
  }
  ENCORE_CHECK(got.items == want.items);
  ENCORE_CHECK(got.exclude == want.exclude);
  ENCORE_CHECK(got.limit == want.limit);
  ENCORE_CHECK(got.limit >= 1 && got.limit <= max_limit);
  for (const auto* list : {&got.items, &got.exclude}) {
    for (const std::string& id : *list) ENCORE_CHECK(!id.empty() && id.size() <= max_id_bytes);
  }
  // Written back as JSON, the request parses to itself.
  JsonWriter w;
  w.BeginObject();
  w.Key("limit");
  w.Uint(got.limit);
  for (const auto& [key, list] : {std::pair{"items", &got.items}, {"exclude", &got.exclude}}) {
    w.Key(key);
    w.BeginArray();
    for (const std::string& id : *list) w.String(id);
    w.EndArray();
  }
  w.EndObject();
  FoldInRequest again;
  ENCORE_CHECK(encore::serve::ParseFoldInRequest(w.str(), max_limit, max_id_bytes, &again).ok());
  ENCORE_CHECK(again.items == got.items && again.exclude == got.exclude &&
               again.limit == got.limit);
}

void CheckJsonChecks(std::string_view text) {
  dom::element root;
  const bool valid = !Parser().parse(text.data(), text.size()).get(root);
  const bool object = valid && root.is_object();
  ENCORE_CHECK(encore::serve::IsJsonObject(text) == object);
  bool has_user = false;
  if (object) {
    for (auto [k, v] : dom::object(root)) has_user = has_user || k == "user";
  }
  ENCORE_CHECK(encore::serve::JsonObjectHasKey(text, "user") == has_user);
}

void CheckScore(float f) {
  if (!std::isfinite(f)) return;  // top-N lists drop non-finite scores
  std::string s = "[";
  ENCORE_CHECK(encore::JsonWriter::AppendFloat(f, &s));
  s += "]";
  dom::element root;
  ENCORE_CHECK(!Parser().parse(s).get(root));
  ENCORE_CHECK(std::strtof(s.c_str() + 1, nullptr) == f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first kHeader bytes choose the slicing and limits; the rest is the
  // payload (and request body) as it is, or the material to build one from.
  constexpr size_t kHeader = 16;
  const size_t header = std::min(size, kHeader);
  FuzzedDataProvider ctl(data, header);
  const std::string_view list_key = ctl.ConsumeBool() ? "items" : "similar";
  const bool build = ctl.ConsumeBool();
  SliceSpec spec;
  spec.offset = ctl.ConsumeIntegralInRange<uint32_t>(0, 4);
  spec.limit = ctl.ConsumeBool() ? UINT32_MAX : ctl.ConsumeIntegralInRange<uint32_t>(0, 6);
  const uint32_t max_limit = ctl.ConsumeIntegralInRange<uint32_t>(1, 20);
  const uint32_t max_id_bytes = ctl.ConsumeIntegralInRange<uint32_t>(1, 8);
  for (int n = ctl.ConsumeIntegralInRange<int>(0, 3); n > 0; --n) {
    spec.exclude.push_back(SmallString(ctl));
  }
  for (int n = ctl.ConsumeIntegralInRange<int>(0, 2); n > 0; --n) {
    spec.first.emplace_back(SmallString(ctl), Quote(SmallString(ctl)));
  }
  for (int n = ctl.ConsumeIntegralInRange<int>(0, 2); n > 0; --n) {
    spec.last.emplace_back(SmallString(ctl), "[" + Quote(SmallString(ctl)) + "]");
  }
  CheckScore(ctl.ConsumeFloatingPoint<float>());

  std::string payload(reinterpret_cast<const char*>(data) + header, size - header);
  if (build) {
    FuzzedDataProvider in(data + header, size - header);
    payload = BuildPayload(in, list_key);
  }
  CheckSlice(payload, list_key, spec);
  CheckJsonChecks(payload);
  CheckFoldIn(payload, max_limit, max_id_bytes);
  return 0;
}
