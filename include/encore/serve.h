// The HTTP server: answers recommendation requests from the current snapshot
// of a Store (docs/SERVING.md lists the routes). Built on Boost.Beast/Asio:
// HTTP/1.1 keep-alive, bounded header and body sizes, read and idle timeouts,
// and a fixed pool of threads, each running an event loop of its own for the
// connections it was handed, so a slow client costs a socket, never a
// thread (docs/SERVING.md, "Threads").
//
// Snapshots switch atomically: every request takes a reference to the
// current snapshot once and answers entirely from it. The server checks the
// store's current version every `poll_ms` and on POST /v1/admin/reload; a
// new snapshot (and its model, for fold-in) is loaded off the request path
// before it replaces the old one.
//
// Thread-safety: Start, Stop and Wait are called from one controlling thread.
#ifndef ENCORE_SERVE_H_
#define ENCORE_SERVE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "encore/experiment.h"
#include "encore/status.h"
#include "encore/store.h"

namespace encore {

namespace serve {
class Extension;  // src/serve/router.h
}

struct ServeOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: pick a free port (see Server::port)
  int threads = 0;       // 0: one per core
  std::string api_key;   // admin bearer key; empty disables admin routes
  uint32_t max_header_bytes = 8 * 1024;
  uint32_t max_body_bytes = 1024 * 1024;
  uint32_t max_id_bytes = 512;         // after percent-decoding
  uint32_t max_limit = 1000;           // largest ?limit= / "limit"
  uint32_t read_timeout_ms = 10'000;   // a request must arrive whole within this
  uint32_t idle_timeout_ms = 60'000;   // keep-alive connections idle longer are closed
  uint32_t drain_timeout_ms = 10'000;  // Stop waits this long for in-flight requests
  uint32_t poll_ms = 1000;             // how often the store's current version is checked
  // Payloads cached in this process per snapshot (CacheSnapshot), in MiB:
  // -1 picks 256 for a Redis store (each uncached GET is a round trip) and
  // 0 (off) for LMDB (already memory-mapped); 0 turns it off.
  int64_t cache_mb = -1;
  // Read the stream consumer's live payloads (encore stream) before the
  // snapshot's. Each user GET then asks the live store first: with Redis,
  // a second round trip. Turn off when no consumer writes to this store.
  bool live_payloads = true;
  // Live payload lookups cached in this process, in MiB (found and not
  // found alike; Store::OpenLiveCached): -1 picks 64 for a Redis store,
  // whose server reports every change to this process (client tracking),
  // and nothing for LMDB (memory-mapped); 0 turns it off.
  int64_t live_cache_mb = -1;
  // Fold-in (POST /v1/recommendations) and explanations compute with the
  // model; they run on this many threads of their own, so a burst of them
  // queues there instead of holding up plain GETs on the serving threads.
  int compute_threads = 1;
  // Requests waiting for a compute thread; one more is answered 503 with
  // Retry-After (the client should back off), never queued without bound.
  uint32_t compute_queue = 256;
  std::string access_log;  // "" none, "-" stderr, else a file (JSON Lines)
  // POST /v1/events appends to this Redis stream (docs/STREAMING.md); empty:
  // the route answers 404. Needs api_key.
  std::string events_redis;              // redis://HOST:PORT/DB
  std::string events_stream = "events";  // the stream key
  std::vector<std::string> event_types;  // accepted event types; empty: any
  // An A/B experiment (docs/EXPERIMENTS.md): while it runs, each user's
  // answer comes from their variant's payloads and names the experiment,
  // the variant and a fresh recommendation_id. Null: none.
  std::shared_ptr<const Experiment> experiment;
  // A front end mounted under a path prefix (the web console under /ui,
  // src/console/console.h). Null: none.
  std::shared_ptr<const serve::Extension> extension;
};

class Server {
 public:
  // Opens nothing yet; the store must outlive the server.
  static Result<std::unique_ptr<Server>> Create(std::unique_ptr<Store> store,
                                                const ServeOptions& options);
  virtual ~Server() = default;
  // Binds, loads the current snapshot when there is one (readyz is false
  // until one loads) and starts the threads. Returns once listening.
  virtual Status Start() = 0;
  // The bound port (useful with port 0).
  virtual uint16_t port() const = 0;
  // The version of the snapshot being served; 0 while none is loaded.
  virtual uint64_t snapshot_version() const = 0;
  // Worker threads (ServeOptions::threads with 0 resolved to the core count).
  virtual int threads() const = 0;
  // Stops accepting, lets in-flight requests finish (up to drain_timeout_ms),
  // then closes every connection. Safe to call from a signal-handling thread.
  virtual void Stop() = 0;
  // Blocks until the server has stopped.
  virtual void Wait() = 0;
};

// Runs a server until SIGTERM or SIGINT, then drains and returns.
// `on_listening` (optional) runs once the server listens, e.g. to print
// where; signals are already being caught by then.
Status ServeUntilSignalled(std::unique_ptr<Store> store, const ServeOptions& options,
                           const std::function<void(const Server&)>& on_listening = {});

}  // namespace encore

#endif  // ENCORE_SERVE_H_
