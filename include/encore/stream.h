// Live events: the speed layer and the stream consumer (docs/STREAMING.md).
//
// The SpeedLayer applies batches of events (encore/event.h) to a serving
// store:
//   1. events whose id (the event's `id`, else the key its source gives,
//      e.g. the Redis stream entry id) was applied before are skipped;
//   2. the per (user, item) running totals - count per event type and the
//      weighted value sum(quantity x weight(type)), what the batch reader
//      and BuildDataset compute from the same records - are updated;
//   3. each touched user is folded in once (a burst of events costs one
//      rebuild): the user's items are the user's row in the snapshot's
//      model (unless include_snapshot_row is false) plus the live weighted
//      values of items the model knows; the
//      payload is ranked and encoded by BuildFoldInUserPayload (encore/
//      publish.h), the code Publish uses, with the ranker steps the caller
//      declares and seen-item exclusion (a bought item disappears);
//   4. totals, applied ids and payloads are written in ONE atomic, durable
//      LiveStore::Write. Only then may the source acknowledge the events.
// A crash anywhere loses nothing and counts nothing twice: before the write
// nothing happened, after it the ids are recorded and a redelivery is
// skipped.
//
// Payloads are keyed by the snapshot version they were built over (the
// server shows a live payload only over that snapshot). When the store's
// current snapshot changes, Refresh loads its model and rebuilds every live
// user over it from their totals (a Lambda switch: no event's effect is lost).
//
// Thread-safety: a SpeedLayer is used by one thread. RunConsumer owns its
// thread; Stop may be called from any thread or a signal handler's helper.
#ifndef ENCORE_STREAM_H_
#define ENCORE_STREAM_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "encore/event.h"
#include "encore/rank.h"
#include "encore/recommender.h"
#include "encore/status.h"
#include "encore/store.h"

namespace encore {

// An event and the key that makes it idempotent ("" : none; then a
// redelivery counts again). Sources fill the key: "id:" + the event's id
// when it has one, else their own position (a Redis stream entry id).
struct KeyedEvent {
  Event event;
  std::string key;
  int64_t appended_ms = 0;  // when the source received it (0: unknown), for latency
  // Its position in the source: the Redis stream entry id ("MS-SEQ"), ""
  // for other sources. Compared with a snapshot's high-water mark (Lambda).
  std::string position;
};

// The totals of one (user, item).
struct ItemTotals {
  std::string item;
  double value = 0;                        // sum of quantity x weight(type)
  std::map<std::string, uint64_t> counts;  // events by type
};

struct SpeedLayerOptions {
  // Weight per event type; empty: every event weighs 1. Events of a type
  // missing from a non-empty map are rejected by the schema (known types).
  std::map<std::string, float> weights;
  uint32_t n = 0;            // list length; 0: the snapshot's published n, else 20
  bool exclude_seen = true;  // a user's items are never recommended to them
  // Seen-item exclusion is exact for users with up to this many items and a
  // Bloom filter at seen_fpr beyond (QueryOptions::seen_exact_max).
  uint32_t seen_exact_max = 10'000;
  double seen_fpr = 0.001;
  // What a user's fold-in starts from. true (Lambda: the stream holds the
  // events after the batch's data): the user's row in the snapshot's model
  // plus the live totals. false (Kappa: the stream holds every event, so the
  // live totals are the whole history): the live totals alone.
  bool include_snapshot_row = true;
  // With include_snapshot_row (Lambda), each user's events are also kept
  // one by one (position, time, item, value) until a snapshot's high-water
  // mark (PublishOptions::high_water) covers them: over a snapshot with a
  // mark a user's fold-in is the snapshot row plus exactly the events after
  // the mark, so across a batch switch no event is lost or counted twice.
  // Over a snapshot without a mark it is the snapshot row plus all totals.
  // Applied event keys (idempotence) are kept this long past their event's
  // time - its `ts`, else its Redis append time, else when it was applied -
  // and then dropped (SpeedLayer::ExpireKeys; keys go by the hour, so up to
  // an hour late). An event whose time is older than that is rejected
  // (ApplyReport::too_old): after its key went, a replay could count it
  // again. 0: keys are kept for good and no event is too old (the library's
  // default; `encore stream` declares 7 days).
  int64_t dedup_retention_seconds = 0;
  // The clock for retention (unix seconds); null: the system clock. For tests.
  std::function<int64_t()> now;
  // Wait for the disk at every batch (LiveStore::SetSync). false: a batch
  // (and its XACK) survives a consumer crash but not a machine crash.
  bool sync = true;
  // Ranker steps for a model (merchandising rules a pipeline declares);
  // called once per loaded snapshot. Null: no steps.
  std::function<Result<std::vector<std::shared_ptr<const RankStep>>>(const TrainedModel&)> steps;
};

// The item-side refresh (Kappa, docs/STREAMING.md#item-side-refresh): the
// item factors re-fitted from the accumulated totals, warm-started from the
// current model, published as a new snapshot.
struct ItemRefreshOptions {
  uint32_t sweeps = 2;  // alternating sweeps (users, then items) from the current factors
  int threads = 1;      // training and publishing threads (0: all cores)
  // For tests: called on the refresh's thread after the totals are read and
  // the model is fitted, just before the new snapshot is published.
  std::function<void()> before_publish;
};

struct ItemRefreshReport {
  uint64_t base_version = 0;   // the snapshot the refresh started from
  uint64_t version = 0;        // the snapshot it published
  uint64_t users = 0;          // users of the new model
  uint64_t live_users = 0;     // of which rows came from the live totals
  uint64_t items = 0;          // items of the new model
  uint64_t new_items = 0;      // of which the base model did not know
  uint64_t interactions = 0;   // nonzeros fitted
  double read_seconds = 0;     // reading the live totals, building the data
  double fit_seconds = 0;      // the warm-started sweeps
  double publish_seconds = 0;  // computing and committing the new snapshot
  double seconds = 0;          // all of it
};

// A prepared item refresh: what it starts from (the loaded model, the live
// users, the store), taken on the speed layer's thread by
// SpeedLayer::PrepareItemRefresh. Run may then be called on any one other
// thread while the speed layer goes on applying events: it reads each live
// user's totals (LiveStore reads are thread-safe), builds the data - the live
// totals of the live users (Kappa: the stream holds their whole history) and
// the base model's rows of every other user - fits the base model's kind with
// FitWarm, and publishes it through its own connection to the store
// (Publish: atomic). Events applied while it runs are not lost: the speed
// layer rebases every live user on the new snapshot from their current
// totals (SpeedLayer::CheckSnapshot, RebaseSome).
class ItemRefresh {
 public:
  struct State;
  explicit ItemRefresh(std::unique_ptr<State> state);
  ~ItemRefresh();
  Result<ItemRefreshReport> Run() const;

 private:
  std::unique_ptr<State> state_;
};

struct ApplyReport {
  // Indices (in the batch given) of events rejected as older than the
  // retention of applied keys (SpeedLayerOptions::dedup_retention_seconds):
  // not counted, the caller reports them (reason "too_old").
  std::vector<size_t> too_old;
  uint64_t applied = 0;     // events counted
  uint64_t duplicates = 0;  // skipped: their key was applied before
  uint64_t users = 0;       // payloads rebuilt
  uint64_t unscored = 0;    // users left without a live payload (no item the model knows)
};

class SpeedLayer {
 public:
  // Opens the store's live documents and loads its current snapshot's model
  // (FailedPrecondition when the snapshot holds no model: publish with the
  // model included). NotFound when nothing was published yet.
  static Result<std::unique_ptr<SpeedLayer>> Open(Store* store, SpeedLayerOptions options);
  ~SpeedLayer();

  // Applies a batch (see the header comment). On error nothing of the batch
  // is applied and the caller must not acknowledge it.
  Result<ApplyReport> Apply(const std::vector<KeyedEvent>& events);

  // Checks the store's current snapshot; when it changed, loads its model
  // and rebuilds every live user's payload over it. *changed says whether it did.
  // Equivalent to CheckSnapshot followed by RebaseSome until it is done.
  Status Refresh(bool* changed);
  // The same in steps, so that intake goes on during a rebase: CheckSnapshot
  // loads a new current snapshot (events applied from then on are folded in
  // over it) and starts a rebase of every live user; each RebaseSome
  // rebuilds up to `max_users` of them and returns true once all are (then
  // the payloads of older snapshots are dropped). Until a user is rebased the
  // server answers them from the new snapshot's own payload.
  Status CheckSnapshot(bool* changed);
  Result<bool> RebaseSome(size_t max_users);
  bool rebasing() const;

  // Prepares an item refresh of the loaded snapshot (see ItemRefresh).
  // FailedPrecondition when the model has no warm-started refit (ials has)
  // or include_snapshot_row is set: the refreshed model's rows hold the live
  // totals, so a fold-in of the snapshot row plus the totals would count
  // them twice (item refresh is for Kappa, --history live).
  Result<std::unique_ptr<ItemRefresh>> PrepareItemRefresh(const ItemRefreshOptions& options) const;

  // Drops the applied event keys whose retention passed, up to `max_pages`
  // pages (one page: the keys of one applied batch within one hour) per
  // call, in one atomic write; returns how many keys were dropped. Call it
  // between batches; 0 when the retention is 0.
  Result<uint64_t> ExpireKeys(size_t max_pages);

  // The running totals of `user` (items in first-seen order).
  Result<std::vector<ItemTotals>> Totals(const std::string& user) const;
  // Every user with totals, in first-seen order.
  Result<std::vector<std::string>> Users() const;
  // Every total, one line per (user, item, event type): "user,item,type,count"
  // followed, per (user, item), by "user,item,*,value" (value in %.17g);
  // users and items in first-seen order, types sorted. For tests and audits.
  Status DumpTotals(std::string* csv) const;

  uint64_t snapshot_version() const;
  LiveStore* live() const;

 private:
  struct Impl;
  explicit SpeedLayer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Counters of a consumer run (also written to the live store as Prometheus
// text under the state key "metrics", which `encore serve` appends to its
// /metrics page).
struct ConsumerStats {
  uint64_t received = 0;    // entries read from the source
  uint64_t applied = 0;     // events counted
  uint64_t duplicates = 0;  // skipped: applied before
  uint64_t batches = 0;
  uint64_t rebuilt = 0;                      // user payloads written
  uint64_t source_errors = 0;                // failures retried (Redis or the store unreachable)
  std::map<std::string, uint64_t> rejected;  // by reason label (EventRejection::label)
  int64_t lag = -1;                          // entries not yet delivered to the group (-1: unknown)
  double events_per_second = 0;              // over the last few seconds
  // Event-to-served latency (append to the durable payload write), in ms:
  // counts per upper bound kLatencyBoundsMs, plus the overflow.
  static constexpr double kLatencyBoundsMs[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000};
  std::vector<uint64_t> latency_buckets = std::vector<uint64_t>(12, 0);
  double latency_sum_ms = 0;
  uint64_t latency_count = 0;

  uint64_t keys_expired = 0;         // applied event ids dropped (retention passed)
  uint64_t dead_lettered = 0;        // rejected entries written to the dead-letter stream
  uint64_t item_refreshes = 0;       // item refreshes published
  uint64_t item_refresh_errors = 0;  // item refreshes that failed (logged; intake went on)
  double item_refresh_seconds = 0;   // the last one's duration
  uint64_t snapshot_version = 0;     // the snapshot the speed layer folds in over

  std::string Prometheus() const;
};

struct ConsumerOptions {
  // The source: a Redis stream through a consumer group ...
  std::string redis_uri;  // redis://HOST:PORT/DB
  std::string stream_key;
  std::string group = "encore";
  std::string consumer = "encore-stream";
  // Rejected entries of the Redis stream are appended (XADD) to this stream
  // of the same Redis before they are acknowledged: their fields as read,
  // then reason (the label), field, detail, source_stream and source_id.
  // Empty: none (they are only counted and reported to on_reject).
  std::string dead_letter_stream;
  // ... or a JSON Lines file of event objects ("-": stdin). Events without
  // an id are not idempotent (a replay of the file counts them again).
  std::string events_path;

  EventSchema schema;          // known types default to the weights' names
  uint32_t batch = 512;        // most entries applied in one batch
  uint32_t window_ms = 20;     // wait this long for a batch to fill
  uint32_t refresh_ms = 1000;  // how often to check for a new snapshot
  // Return once the source has nothing new for this long (0: run until
  // stopped; a file source always ends at its end).
  uint32_t idle_exit_ms = 0;
  // Set (from a signal handler's thread) to stop: the batch in flight is
  // finished and acknowledged, then RunConsumer returns OK.
  const std::atomic<bool>* stop = nullptr;
  // Item-side refresh (Kappa): started in the background once this many
  // events were applied since the last one began, or this many seconds
  // passed with at least one event applied (0: not by that measure; both
  // 0: never). Needs an ials model and include_snapshot_row false.
  uint64_t item_refresh_events = 0;
  uint32_t item_refresh_seconds = 0;
  ItemRefreshOptions item_refresh;
  std::function<void(const ItemRefreshReport&)> on_item_refresh;
  // Called after every batch (progress, logging).
  std::function<void(const ConsumerStats&)> on_batch;
  // Retried failures (Redis down, the group gone) are reported here.
  std::function<void(const Status&)> on_error;
  // Rejected events are reported here (obfuscated fields already hashed).
  std::function<void(const EventRejection&, const std::string& source_id)> on_reject;
};

// "7d", "12h", "30m", "90s", "2w" (an integer and a unit) into seconds;
// "0" or "none": 0 (kept for good). InvalidArgument naming the text otherwise.
Result<int64_t> ParseRetention(std::string_view text);

// Consumes events into `store` until the source ends, idles out or `stop`
// is set. With Redis, an unreachable server, a lost consumer group or a
// failed store write is retried with a growing delay (up to 5 s) and counted
// (source_errors); nothing is acknowledged before it is durable. Memory is bounded by one batch:
// nothing more is read until the batch in hand is durable (backpressure: a slow store slows
// reading, and the unread events wait in Redis).
Status RunConsumer(Store* store, const SpeedLayerOptions& speed, const ConsumerOptions& options,
                   ConsumerStats* stats);

// Everything `encore stream` runs with, from its flags or a pipeline file's
// [stream] section (pipeline::StreamJobFor; flags override the section's
// values). Both front ends call RunStreamJob: there is one workflow.
inline constexpr int64_t kDefaultDedupRetentionSeconds = 7 * 86400;

struct StreamJob {
  // `encore stream` and [stream] keep applied ids 7 days by default.
  StreamJob() { speed.dedup_retention_seconds = kDefaultDedupRetentionSeconds; }
  std::string store;  // the serving store: a directory (LMDB) or redis://HOST:PORT/DB
  ConsumerOptions consumer;
  SpeedLayerOptions speed;  // weights: the batch job's ([prepare] weights of its pipeline)
  // Event fields replaced by their keyed hash ("user", "item"), as the batch
  // reader's obfuscated columns, with the key from obfuscation_key_file, else
  // the environment variable obfuscation_key_env (empty: $ENCORE_OBFUSCATION_KEY).
  // The dead-letter stream of rejected Redis entries: "" (the default:
  // "<stream>:dead"), "none", or a key (ConsumerOptions::dead_letter_stream).
  std::string dead_letter;
  std::vector<std::string> obfuscate;
  std::string obfuscation_key_file;
  std::string obfuscation_key_env;
};

// Checks `job` (an event source, the obfuscated fields, the key), opens its
// store and runs the consumer (RunConsumer) until the source ends, idles out
// or job.consumer.stop is set. `stats` is filled even on failure.
// REQUIRES: stats != nullptr.
Status RunStreamJob(const StreamJob& job, ConsumerStats* stats);

}  // namespace encore

#endif  // ENCORE_STREAM_H_
