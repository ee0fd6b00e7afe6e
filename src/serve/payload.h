// Payload surgery for the server's slow paths: slicing a stored payload
// (limit/offset/exclude) and checking documents when a snapshot loads.
// The layouts are those of include/encore/publish.h; the fast path (no
// query parameters) never comes here and returns the stored bytes.
//
// Sliced output keeps the stored bytes of everything it keeps: top-level
// members and the members of each kept list element are copied as they
// were written (scores keep their digits), only the list is shortened.
//
// Thread-safety: reentrant (each thread has its own simdjson parser).
#ifndef ENCORE_SERVE_PAYLOAD_H_
#define ENCORE_SERVE_PAYLOAD_H_

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "encore/status.h"

namespace encore::serve {

struct SliceSpec {
  uint32_t offset = 0;  // list elements skipped (after exclusion)
  uint32_t limit = std::numeric_limits<uint32_t>::max();
  std::vector<std::string> exclude;  // elements whose "item" is one of these are dropped
  // Members written before / after the payload's own, as (key, raw JSON
  // value); payload members with the same key are dropped.
  std::vector<std::pair<std::string, std::string>> first;
  std::vector<std::pair<std::string, std::string>> last;
};

// Rewrites `payload` (a JSON object) with its array member `list_key`
// ("items" or "similar") sliced by `spec`, into *out. Corruption when the
// payload is not such an object or a list element has no string "item".
Status SlicePayload(std::string_view payload, std::string_view list_key, const SliceSpec& spec,
                    std::string* out);

// Rewrites a retail payload (encore/retail_feeds.h: {"user":..,"snapshot":..,
// "feeds":{"products":[..],..}}) keeping only the members of "feeds" named
// in `feeds`, in the payload's order; every other member keeps its stored
// bytes. Corruption when the payload is not such an object.
Status FilterFeeds(std::string_view payload, const std::vector<std::string>& feeds,
                   std::string* out);

// True when `text` is one valid JSON object.
bool IsJsonObject(std::string_view text);
// True when `text` is one valid JSON object that has a member named `key`.
bool JsonObjectHasKey(std::string_view text, std::string_view key);

// The body of POST /v1/recommendations.
struct FoldInRequest {
  std::vector<std::string> items;
  std::vector<std::string> exclude;
  uint32_t limit = 10;  // without "limit": 10, or max_limit when smaller
};
// Replaces *out with the request in `body`. ParseError when `body` is not
// JSON; InvalidArgument (with the field named) when it is JSON of the wrong
// shape: not an object, "items" missing or not an array of strings, "limit"
// not an integer in 1..max_limit, "exclude" not an array of strings, an id
// longer than max_id_bytes.
Status ParseFoldInRequest(std::string_view body, uint32_t max_limit, uint32_t max_id_bytes,
                          FoldInRequest* out);

}  // namespace encore::serve

#endif  // ENCORE_SERVE_PAYLOAD_H_
