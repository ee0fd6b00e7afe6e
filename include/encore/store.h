// Serving stores: numbered, immutable snapshots of key/value documents, one
// of which is "current". Publishing writes a whole new snapshot and then
// switches the current version in one atomic step, so a reader sees the old
// snapshot or the new one, never a mix; a publish that dies before Commit
// leaves the old snapshot current and its partial data is removed later.
//
// One abstract interface, several implementations (the faiss way):
//   LMDB   a directory: one LMDB environment per snapshot (the default);
//   Redis  redis://HOST:PORT/DB, shared by several servers;
//   memory for tests.
// Open() picks the implementation from the URI.
//
// Thread-safety: a Store is used by one thread at a time (publish, rollback,
// the server's reload loop). A Snapshot is immutable and its const methods
// may be called from any number of threads at once.
#ifndef ENCORE_STORE_H_
#define ENCORE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "encore/status.h"

namespace encore {

// The key spaces of a snapshot.
enum class Table : uint8_t {
  kUser = 'u',     // user id       -> user payload JSON (docs/SERVING.md)
  kSimilar = 's',  // item id       -> similar-items payload JSON
  kProduct = 'p',  // product id    -> the product score explanation JSON (retail
                   //                  stores; GET /v1/products/{id}/explain)
  kMeta = 'm',     // "info"        -> the /v1/info document (JSON)
                   // "popular"     -> the fallback payload for unknown users (JSON)
                   // "model"       -> the model file bytes, for fold-in
};

struct SnapshotInfo {
  uint64_t version = 0;      // 1, 2, 3, ... in publish order; never reused
  int64_t created_unix = 0;  // seconds since the epoch, set at BeginSnapshot
  bool current = false;      // filled by Store::List
};

// Writes one new snapshot. Destroying a writer without Commit discards it.
class SnapshotWriter {
 public:
  virtual ~SnapshotWriter() = default;
  // The version this snapshot will have (payloads embed it before Commit).
  virtual const SnapshotInfo& info() const = 0;
  // Adds or replaces a document. Keys are raw bytes (1..max_key_bytes).
  virtual Status Put(Table table, std::string_view key, std::string_view value) = 0;
  // Makes the written data durable and then switches the store's current
  // version to this snapshot, atomically. Writers are single use.
  virtual Status Commit() = 0;
};

// A read view of one committed snapshot.
class Snapshot {
 public:
  virtual ~Snapshot() = default;
  virtual const SnapshotInfo& info() const = 0;
  // Copies the document into *value. NotFound when the key is absent;
  // IOError when the backing store fails (Redis down).
  virtual Status Get(Table table, std::string_view key, std::string* value) const = 0;
};

// The counters of a live payload cache (Store::OpenLiveCached).
struct LiveCacheStats {
  uint64_t hits = 0;           // lookups answered from the cache (found or not)
  uint64_t misses = 0;         // lookups that went to the store while the cache was on
  uint64_t bypassed = 0;       // lookups that went to the store because the cache was off
                               // (its invalidation connection down or not yet up)
  uint64_t invalidations = 0;  // keys invalidated by a message from the store
  uint64_t flushes = 0;        // whole-cache flushes (connection lost or re-established,
                               // a newer snapshot looked up, FLUSHDB/FLUSHALL on the server)
  uint64_t connects = 0;       // times the invalidation connection was established
  uint64_t entries = 0;
  uint64_t bytes = 0;
  uint64_t capacity_bytes = 0;
  bool connected = false;  // the invalidation connection is up (the cache is in use)
};

// The live part of a store: documents that change between snapshots,
// written by the stream consumer (src/stream, docs/STREAMING.md) and read by
// the server on every user request before the snapshot.
//
//   payloads  (snapshot version, user id) -> user payload JSON. A payload
//             is built over one snapshot (its model and its lists), so it is
//             keyed by that version: the server asks for the version it
//             serves, and a payload built over an older snapshot is never
//             shown over a newer one (the consumer rebuilds it, Lambda).
//   state     key -> bytes, the consumer's own durable state (running
//             totals, event ids already applied, progress). Opaque here.
//
// Write applies a whole batch atomically and durably: after it returns OK
// the batch survives a crash of this process (LMDB: a synced transaction;
// Redis: MULTI/EXEC, as durable as the server's persistence settings), and
// a crash before leaves none of it. The stream consumer acknowledges events
// only after the Write holding their effects returned.
//
// Thread-safety: GetPayload and GetState may be called from any number of
// threads at once; Write and DropPayloadsBefore from one thread at a time.
class LiveStore {
 public:
  struct Entry {
    enum class Kind : uint8_t { kPayload, kState };
    Kind kind = Kind::kState;
    uint64_t version = 0;  // payloads only
    std::string key;       // user id (payloads, 1..500 bytes) or state key (1..500 bytes)
    std::string value;
    bool erase = false;  // delete the key instead of writing it
  };

  virtual ~LiveStore() = default;
  // NotFound when there is no payload for (version, user).
  virtual Status GetPayload(uint64_t version, std::string_view user, std::string* value) const = 0;
  // NotFound when the key is absent.
  virtual Status GetState(std::string_view key, std::string* value) const = 0;
  // Writes every entry, atomically and durably (see above).
  virtual Status Write(const std::vector<Entry>& batch) = 0;
  // Deletes the payloads built over snapshots older than `version`.
  virtual Status DropPayloadsBefore(uint64_t version) = 0;
  // With sync false, Write no longer waits for the disk (LMDB: no fsync at
  // commit): a batch survives a crash of the process but not of the
  // machine. Stores without such a knob ignore it. Default: true.
  virtual Status SetSync(bool sync) {
    (void)sync;
    return Status::OK();
  }
  // The counters of a LiveStore opened with a cache (Store::OpenLiveCached);
  // false for any other.
  virtual bool GetCacheStats(LiveCacheStats* stats) const {
    (void)stats;
    return false;
  }
};


// A cache of a snapshot's documents in this process, for stores whose Get is
// a network round trip (Redis). Answers (NotFound ones too) are kept up to
// `capacity_bytes` of keys and values, least recently used evicted first,
// in shards so that serving threads rarely wait for each other; a document
// larger than 1/64 of the capacity is never kept. A snapshot never changes
// once committed, so a cached answer is always the snapshot's answer, and a
// publish needs no invalidation: the new snapshot is opened, and cached, on
// its own. Thread-safe like any Snapshot.
struct SnapshotCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t entries = 0;
  uint64_t bytes = 0;
  uint64_t capacity_bytes = 0;
};
std::shared_ptr<const Snapshot> CacheSnapshot(std::shared_ptr<const Snapshot> snapshot,
                                              uint64_t capacity_bytes);
// The counters of a snapshot made by CacheSnapshot; false for any other.
bool GetSnapshotCacheStats(const Snapshot& snapshot, SnapshotCacheStats* stats);

class Store {
 public:
  virtual ~Store() = default;
  // Opens (creating when needed) the store named by `uri`:
  //   redis://HOST:PORT/DB  a Redis server (DB defaults to 0; keys "encore:*");
  //                         its connections set SIGPIPE to ignored when it has
  //                         the default action (a closed connection is then an
  //                         IOError, not the death of the process)
  //   memory:NAME           a process-wide in-memory store (tests)
  //   anything else         a directory holding an LMDB store
  static Result<std::unique_ptr<Store>> Open(const std::string& uri);
  // Like Open, but a directory that does not exist is NotFound rather than a
  // new empty store (for readers: serve, rollback), so a typo is an error.
  static Result<std::unique_ptr<Store>> OpenExisting(const std::string& uri);
  // Whether Open(uri) would accept the destination, without creating or
  // changing anything: OK for redis/memory URIs, a directory that does not
  // exist, an empty one, or an encore store; FailedPrecondition (naming the
  // directory and how to fix it) for a non-empty directory that is not an
  // encore store or a file. Lets a job refuse before hours of work.
  static Status CheckDestination(const std::string& uri);

  // The URI it was opened with (for messages and /v1/info).
  virtual const std::string& uri() const = 0;
  // Starts a snapshot with the next version number.
  virtual Result<std::unique_ptr<SnapshotWriter>> BeginSnapshot() = 0;
  // Committed snapshots still kept, oldest first.
  virtual Result<std::vector<SnapshotInfo>> List() = 0;
  // The current version; NotFound when nothing was published yet.
  virtual Result<uint64_t> CurrentVersion() = 0;
  // Opens a committed snapshot for reading. NotFound when it is not kept.
  virtual Result<std::shared_ptr<const Snapshot>> OpenSnapshot(uint64_t version) = 0;
  // Makes a kept snapshot current (rollback). Atomic like Commit.
  virtual Status SetCurrent(uint64_t version) = 0;
  // The live documents of this store (see LiveStore), created when absent.
  // The store may be closed before the LiveStore.
  virtual Result<std::unique_ptr<LiveStore>> OpenLive() = 0;
  // Like OpenLive, for a reader that looks payloads up on every request (the
  // server). A store whose lookups are network round trips (Redis) answers
  // GetPayload from a cache in this process of up to `cache_bytes` (found
  // and not-found answers alike), kept correct by the server itself: Redis
  // server-assisted client-side caching (CLIENT TRACKING ... BCAST) tells
  // this process about every change to a live payload key, whoever wrote it,
  // and the cached answer is dropped when the message arrives. While that
  // invalidation connection is down or not yet established, the cache is
  // flushed and every lookup goes to the store (see docs/SERVING.md). Other
  // stores (LMDB: memory-mapped; memory) and cache_bytes 0: OpenLive().
  virtual Result<std::unique_ptr<LiveStore>> OpenLiveCached(uint64_t cache_bytes) {
    (void)cache_bytes;
    return OpenLive();
  }
  // Deletes all but the newest `keep` committed snapshots (the current one
  // is always kept), and the leftovers of publishes that never committed.
  virtual Status Prune(uint32_t keep) = 0;
};

}  // namespace encore

#endif  // ENCORE_STORE_H_
