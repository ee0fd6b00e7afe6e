// Publishing: turns a trained model into a serving snapshot - one JSON
// payload per user (top-N recommendations), one per item (similar items), a
// popular-items fallback, an info document and the model itself for
// real-time fold-in - and commits it atomically to a Store.
//
// Payload layouts (docs/SERVING.md is the reference; the server returns the
// stored bytes unchanged for a request without limit/offset/exclude):
//   user     {"user":"U","snapshot":V,"items":[{"item":"I","score":S},...]}
//   similar  {"item":"I","snapshot":V,"similar":[{"item":"J","score":S},...]}
//   popular  {"snapshot":V,"fallback":"popular","items":[{"item":"I","score":S},...]}
//   info     {"snapshot":V,"created":"2026-11-24T08:00:00Z","model":{"kind":K,
//             "params":{...}},"counts":{"users":U,"items":I,"interactions":N},
//             "payloads":{"users":U,"similar":I,"n":N,"similar_n":M,"popular":P,
//             "model_bytes":B}}
// Items are best first; scores are finite floats in their shortest round-trip
// form. Every user and item the model knows gets a payload (possibly with an
// empty list), except ids a store cannot hold as keys (empty or longer than
// 500 bytes), which are skipped and counted. "params" holds the parameters
// that apply to the model's kind, typed (numbers, booleans, strings).
// similar_n is 0 and there are no similar payloads when the model has no
// notion of item similarity (popularity). model_bytes is 0 without the model.
// Ids that are not valid UTF-8 appear in the JSON with U+FFFD per bad byte;
// the store keys are always the raw id bytes.
//
// Thread-safety: reentrant; the model is used through its const methods.
#ifndef ENCORE_PUBLISH_H_
#define ENCORE_PUBLISH_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "encore/progress.h"
#include "encore/rank.h"
#include "encore/recommender.h"
#include "encore/retail_feeds.h"
#include "encore/store.h"

namespace encore {

// An experiment variant published beside the snapshot's own payloads
// (docs/EXPERIMENTS.md): its user payloads go to the meta table under
// VariantUserKey(name, user), its popular fallback under
// VariantPopularKey(name), and meta "variants" lists the names (JSON array).
// The model is borrowed and must outlive the Publish call.
struct PublishVariant {
  std::string name;  // CheckVariantName (experiment.h); "default" is the snapshot's own
  const TrainedModel* model = nullptr;
};

// "variant/NAME/u/USER" and "variant/NAME/popular" (meta table keys).
std::string VariantUserKey(std::string_view variant, std::string_view user);
std::string VariantPopularKey(std::string_view variant);

struct PublishOptions {
  uint32_t n = 20;            // recommendations per user payload
  uint32_t similar_n = 20;    // similar items per item payload (0: none)
  uint32_t popular_n = 100;   // items in the popular fallback
  bool include_model = true;  // store the model for POST /v1/recommendations
  uint32_t keep = 5;          // snapshots kept after this one commits (Prune)
  bool exclude_seen = true;   // user payloads omit the user's training items
  // Catalogs of at least this many items, of a model with embeddings (als,
  // ials, bpr), get an approximate index (encore/ann.h; 0 = never): the
  // similar-item payloads are ranked through it, and with include_model it
  // is stored (meta "ann") so the server's fold-in route searches it instead
  // of scoring every item. The default is where an exact scan starts to
  // cost milliseconds per query (docs/BENCHMARKS.md).
  uint32_t ann_min_items = 50000;
  uint32_t ann_ef = 0;  // the stored index's query breadth (0 = AnnOptions' default)
  // Lambda (docs/STREAMING.md#lambda-the-high-water-mark): the position in
  // the event stream up to which the model's data holds every event, so the
  // speed layer folds in exactly the events after it over this snapshot.
  // "" (none), "id:MS-SEQ" (a Redis stream entry id: the events of entries
  // up to and including it) or "time:SECONDS" (events with a time <= it).
  // Stored as meta "high_water" and in the info document.
  std::string high_water;
  // Extra user-payload variants for A/B experiments (none by default).
  std::vector<PublishVariant> variants;
};

// A parsed high-water mark.
struct HighWater {
  enum class Kind : uint8_t { kNone, kId, kTime };
  Kind kind = Kind::kNone;
  uint64_t ms = 0, seq = 0;  // kId
  int64_t time = 0;          // kTime, unix seconds
  // Whether an event at stream entry `entry_id` ("MS-SEQ", "" when it has
  // none) with time `time` is covered by the mark (its effect is in the
  // snapshot's data). Events without the position the mark needs are not.
  bool Covers(std::string_view entry_id, std::optional<int64_t> time) const;
};
// Parses "", "id:MS-SEQ" or "time:SECONDS"; InvalidArgument otherwise.
Result<HighWater> ParseHighWater(std::string_view mark);

struct PublishReport {
  SnapshotInfo snapshot;
  uint64_t user_payloads = 0;
  uint64_t similar_payloads = 0;
  bool ann = false;          // an approximate index was built (ann_min_items)
  uint64_t bytes = 0;        // payload bytes written (keys + values)
  uint64_t skipped_ids = 0;  // users/items whose id cannot be a store key
  double seconds = 0;
  // Things worth telling the user that did not stop the publish (no item
  // similarity in this model; pruning old snapshots failed).
  std::vector<std::string> notes;
};

// Computes every payload and commits a new snapshot. On any error nothing
// becomes current and the partial snapshot is discarded.
Result<PublishReport> Publish(const TrainedModel& model, const PublishOptions& options,
                              Store* store, Progress* progress = nullptr);

// One user payload over snapshot `version` for a user described by the
// items they interacted with (the live speed layer, src/stream): the
// ranker's fold-in top-n (with exclude_seen the named items are not
// returned; the ranker's steps apply) encoded exactly as Publish encodes the
// user payloads. Unknown item indices are an error.
Status BuildFoldInUserPayload(const TrainedModel& model, const Ranker& ranker,
                              std::string_view user, uint64_t version,
                              std::span<const ItemWeight> items, const QueryOptions& options,
                              std::string* payload);

// ------------------------------------------------------------- retail
// (encore/retail_feeds.h, docs/PERSONALIZATION.md)

class RetailFeeds;
struct FeedRoute;

struct RetailPublishReport {
  SnapshotInfo snapshot;
  uint64_t payloads = 0;           // members (user payloads)
  uint64_t bytes = 0;              // payload bytes written (keys + values)
  uint64_t max_payload_bytes = 0;  // the largest member payload
  uint64_t skipped_ids = 0;        // members whose id cannot be a store key
  double seconds = 0;
};

// Receives one JSON Lines row (no newline) per member and feed, members in
// model order, feeds 0..kNumFeeds-1 for each.
using FeedRowSink = std::function<Status(int feed, std::string_view member, std::string_view row)>;

// Computes every member's feeds (in parallel, blocks of members), writes one
// payload per model user, the popular fallback (meta "popular", with
// "feeds") and an info document into a new snapshot of `store` and commits
// it; `rows` (may be empty) receives the feed rows of the same computation.
// On any error nothing becomes current. `keep` snapshots are kept.
// `routes` (member segments) is empty or has one entry per model user: that
// member's feeds come from routes[u] (its segment's model, or the global
// one), not from `feeds`, which still gives the fallback for unknown members.
// `product_explanations` (product id, JSON document) are stored in
// Table::kProduct for GET /v1/products/{id}/explain, and counted in the info
// document's payloads.product_explanations.
// REQUIRES: routes.empty() || routes.size() == model.users.size().
Result<RetailPublishReport> PublishRetail(
    const RetailFeeds& feeds, const TrainedModel& model, uint32_t keep, Store* store,
    const FeedRowSink& rows, Progress* progress = nullptr, std::span<const FeedRoute> routes = {},
    std::span<const std::pair<std::string, std::string>> product_explanations = {});

}  // namespace encore

#endif  // ENCORE_PUBLISH_H_
