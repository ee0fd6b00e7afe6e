// Router: turns one HTTP request into one response, without sockets. The
// Beast layer (server.cc) parses the request, pins the current snapshot and
// calls Handle; everything a route does lives here, so it is unit-testable.
//
// Routes (docs/SERVING.md, "HTTP API"):
//   GET  /v1/users/{id}/recommendations?limit=&offset=&exclude=&fallback=popular
//   GET  /v1/items/{id}/similar?limit=&offset=&exclude=
//   GET  /v1/products/{id}/explain    a retail product's score, term by term
//   POST /v1/recommendations          fold-in for a visitor described by items
//   GET  /v1/info, /healthz, /readyz, /metrics
//   POST /v1/admin/reload             Authorization: Bearer <key>
//   POST /v1/events                   Authorization: Bearer <key>; a JSON array of events
// HEAD is answered like GET on the GET routes (the server drops the body).
//
// POST /v1/admin/reload loads the new snapshot on the calling thread (the
// server calls Handle for it on a thread of its own, see MayBlock); every
// other route answers without blocking on anything but the store's Get.
//
// Thread-safety: Handle may be called from any number of threads at once.
#ifndef ENCORE_SERVE_ROUTER_H_
#define ENCORE_SERVE_ROUTER_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "encore/event.h"
#include "encore/serve.h"
#include "encore/store.h"
#include "serve/metrics.h"
#include "serve/payload.h"
#include "serve/snapshot_holder.h"
#include "serve/url.h"

namespace encore::serve {

// What the router needs of a request. The views point into the caller's
// request and stay valid for the call.
struct HttpRequest {
  std::string_view method;         // "GET", "POST", ...
  std::string_view target;         // "/v1/users/u1/recommendations?limit=5"
  std::string_view authorization;  // the Authorization header ("" when absent)
  std::string_view content_type;   // the Content-Type header ("" when absent)
  std::string_view body;
};

struct HttpResponse {
  int status = 200;
  std::string_view content_type = "application/json";  // a string literal
  std::string body;
  uint64_t snapshot = 0;          // sent as X-Snapshot when nonzero
  const char* allow = nullptr;    // the Allow header of a 405
  bool www_authenticate = false;  // a 401: WWW-Authenticate: Bearer realm="encore"
  uint32_t retry_after = 0;       // seconds; sent as Retry-After when nonzero (a 503)
  Route route = Route::kUnmatched;
};

// {"error": message, "code": status}.
HttpResponse ErrorResponse(int status, std::string_view message, Route route);

// What an extension may read of the server for one request.
struct ExtensionContext {
  const LoadedSnapshot* snapshot = nullptr;  // null: none loaded yet
  const Metrics* metrics = nullptr;
  const LiveStore* live = nullptr;  // the stream consumer's state; null: none
  bool admin_enabled = false;       // the server has an admin key
  bool authorized = false;          // the request carries that key
};

// A front end mounted under a path prefix of the server (the web console,
// src/console, under /ui). The router hands it every request whose path is
// the prefix or below it, with the request's key already checked; the
// extension decides what needs the key. Its answers are counted in /metrics
// under their `route` (use Route::kConsole).
//
// Thread-safety: Handle and MayBlock are called from any number of threads.
class Extension {
 public:
  virtual ~Extension() = default;
  // "/ui": the extension answers "/ui", "/ui/" and "/ui/...".
  virtual std::string_view prefix() const = 0;
  // True when answering `target` may block for long (a report over an
  // event stream); the server answers it off its I/O threads.
  virtual bool MayBlock(std::string_view target) const = 0;
  virtual HttpResponse Handle(const HttpRequest& request,
                              const ExtensionContext& context) const = 0;
};

class Router {
 public:
  // Loads the store's current snapshot now (POST /v1/admin/reload); the
  // server serialises it with its poller.
  using ReloadFn = std::function<Result<SnapshotHolder::RefreshResult>()>;

  // `metrics` must outlive the router. `store_uri` and `threads` are
  // reported by /v1/info.
  Router(const ServeOptions& options, Metrics* metrics, ReloadFn reload, std::string store_uri,
         int threads);

  // Answers `request` from `snapshot` (nullptr: none loaded yet, so only
  // health, readiness and metrics answer 200).
  HttpResponse Handle(const HttpRequest& request, const LoadedSnapshot* snapshot) const;

  // Live payloads (the stream consumer's, encore/stream.h) looked up before
  // the snapshot's on GET /v1/users/{id}/recommendations, and the
  // consumer's metrics appended to /metrics. Null: none. Call before serving.
  void set_live(const LiveStore* live) { live_ = live; }

  // Appends validated events to the event stream (POST /v1/events); their
  // stream ids in *ids. Null: the route answers 404.
  using EventSink =
      std::function<Status(const std::vector<Event>& events, std::vector<std::string>* ids)>;
  void set_event_sink(EventSink sink, EventSchema schema) {
    event_sink_ = std::move(sink);
    event_schema_ = std::move(schema);
  }

  // True when answering `target` may block for long (the admin routes: a
  // reload loads a whole snapshot; an extension's slow pages). The server
  // answers such requests off its I/O threads; every other route only waits
  // for the store's Get.
  bool MayBlock(std::string_view target) const;
  // True when answering computes with the model (POST /v1/recommendations,
  // GET /v1/users/{id}/explain): the server runs these on its compute
  // threads (ServeOptions::compute_threads), so a burst of them does not
  // hold up the plain GETs.
  static bool Computes(std::string_view method, std::string_view target);

 private:
  HttpResponse UserRecommendations(std::string_view raw_id, const Target& target,
                                   const LoadedSnapshot* snapshot) const;
  HttpResponse ProductExplain(std::string_view raw_id, const LoadedSnapshot* snapshot) const;
  HttpResponse SimilarItems(std::string_view raw_id, const Target& target,
                            const LoadedSnapshot* snapshot) const;
  HttpResponse FoldIn(const HttpRequest& request, const LoadedSnapshot* snapshot) const;
  HttpResponse Explain(std::string_view raw_id, const Target& target,
                       const LoadedSnapshot* snapshot) const;
  HttpResponse Info(const LoadedSnapshot* snapshot) const;
  HttpResponse Readyz(const LoadedSnapshot* snapshot) const;
  HttpResponse MetricsPage(const LoadedSnapshot* snapshot) const;
  HttpResponse AdminReload(const HttpRequest& request) const;
  HttpResponse PostEvents(const HttpRequest& request) const;
  // Whether the request carries the admin key (no error answer).
  bool KeyMatches(const HttpRequest& request) const;
  // Whether `target`'s path is the extension's prefix or below it.
  bool ForExtension(std::string_view target) const;
  // Checks the bearer key; false with *error filled when it is not right.
  bool Authorized(const HttpRequest& request, Route route, HttpResponse* error) const;

  // Decodes and checks one id path segment; on failure fills *error.
  bool DecodeId(std::string_view raw, const char* what, Route route, std::string* id,
                HttpResponse* error) const;
  // Reads limit/offset/exclude into *spec; *sliced says whether any was given.
  bool ParseSlice(const Target& target, Route route, SliceSpec* spec, bool* sliced,
                  HttpResponse* error) const;

  const ServeOptions options_;
  Metrics* const metrics_;
  const ReloadFn reload_;
  const std::string store_uri_;
  const int threads_;
  const std::chrono::steady_clock::time_point start_;
  bool admin_enabled_ = false;
  std::array<unsigned char, 32> key_digest_{};  // SHA-256 of the admin key
  const LiveStore* live_ = nullptr;
  EventSink event_sink_;
  EventSchema event_schema_;
};

}  // namespace encore::serve

#endif  // ENCORE_SERVE_ROUTER_H_
