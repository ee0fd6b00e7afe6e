// Metrics: the server's counters, exposed in the Prometheus text format on
// GET /metrics.
//
//   encore_http_requests_total{route,code}          counter
//   encore_http_request_duration_seconds{route}      histogram (_bucket, _sum, _count)
//   encore_http_connections_active                   gauge
//   encore_http_connections_total                    counter
//   encore_snapshot_version, encore_snapshot_age_seconds, encore_snapshot_loaded
//   encore_snapshot_reloads_total{result="ok|error"} counter
//   encore_uptime_seconds                            gauge
//
// Routes and status codes are small fixed sets, so every series is a slot in
// a fixed array of relaxed atomics: recording a request takes no lock and
// allocates nothing. The request series are sharded: each server worker
// counts into its own shard (its own cache lines), and Render sums the
// shards. With one shared array, two workers answering the same route
// contended for the same counters on every request.
//
// Thread-safety: every method may be called from any number of threads.
#ifndef ENCORE_SERVE_METRICS_H_
#define ENCORE_SERVE_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "encore/store.h"

namespace encore::serve {

// The routes requests are counted under ("label" in the exposition).
enum class Route : uint8_t {
  kUserRecommendations,  // GET /v1/users/{id}/recommendations
  kSimilarItems,         // GET /v1/items/{id}/similar
  kFoldIn,               // POST /v1/recommendations
  kInfo,                 // GET /v1/info
  kHealthz,
  kReadyz,
  kMetrics,
  kAdminReload,     // POST /v1/admin/reload
  kExplain,         // GET /v1/users/{id}/explain
  kEvents,          // POST /v1/events
  kProductExplain,  // GET /v1/products/{id}/explain
  kConsole,         // /ui/... (the web console, src/console)
  kUnmatched,       // no route has this path
  kMalformed,       // not parsable as HTTP (400, 413, 414, 431 before routing)
  kCount
};

const char* RouteLabel(Route route);

class Metrics {
 public:
  // Upper bounds of the latency buckets, in seconds (+Inf is implicit).
  static constexpr std::array<double, 12> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.5,    2.5};

  // `shards`: how many writers count requests concurrently (>= 1).
  explicit Metrics(int shards = 1);

  // Counts one answered request and its latency in shard `shard` (taken
  // modulo the shard count). Any thread may use any shard; a thread that
  // has a shard of its own writes cache lines no other thread writes.
  void RecordRequest(Route route, int status, std::chrono::nanoseconds duration, int shard = 0);
  void ConnectionOpened();
  void ConnectionClosed();
  void RecordReload(bool ok);
  // The compute pool (fold-in, explanations): a request queued or started,
  // finished, or refused because the queue was full.
  void ComputeQueued();
  void ComputeStarted();
  void ComputeRejected();

  // The count of requests so far for (route, status) (tests).
  uint64_t requests(Route route, int status) const;

  // What the exposition reports about the snapshot being served.
  struct SnapshotState {
    bool loaded = false;
    uint64_t version = 0;
    int64_t created_unix = 0;
    // The snapshot's payload cache (ServeOptions::cache_mb), when it has one.
    bool cached = false;
    SnapshotCacheStats cache;
    // The live payload cache (ServeOptions::live_cache_mb), when there is one.
    bool live_cached = false;
    LiveCacheStats live_cache;
  };
  // The whole exposition (text/plain; version=0.0.4).
  std::string Render(const SnapshotState& snapshot) const;
  // The same counters as one JSON object, for the console's live page:
  //   {"uptime_seconds", "connections_active", "connections_total",
  //    "snapshot": {"loaded", "version", "age_seconds"},
  //    "reloads": {"ok", "error"}, "bucket_bounds": [seconds...],
  //    "routes": [{"route", "requests", "errors" (5xx), "client_errors" (4xx),
  //                "codes": {"200": n, ...}, "duration_seconds_sum",
  //                "buckets": [counts per bucket, not cumulative, +Inf last]}]}
  // Only routes that answered at least one request are listed.
  std::string RenderJson(const SnapshotState& snapshot) const;

 private:
  // The status codes the server answers with; anything else counts as "other".
  static constexpr std::array<int, 16> kCodes = {200, 400, 401, 403, 404, 405, 408, 413,
                                                 414, 415, 422, 431, 500, 503, 504, 0};
  static constexpr size_t kRoutes = static_cast<size_t>(Route::kCount);
  static constexpr size_t kBucketSlots = kBuckets.size() + 1;  // + Inf

  static size_t CodeIndex(int status);

  // One writer's request series, on cache lines of its own.
  struct alignas(64) Shard {
    std::array<std::atomic<uint64_t>, kRoutes * kCodes.size()> requests{};
    std::array<std::atomic<uint64_t>, kRoutes * kBucketSlots> buckets{};  // not cumulative
    std::array<std::atomic<uint64_t>, kRoutes> duration_ns{};
  };
  // Summed over the shards.
  uint64_t SumRequests(size_t index) const;
  uint64_t SumBuckets(size_t index) const;
  uint64_t SumDurationNs(size_t route) const;

  const std::chrono::steady_clock::time_point start_;
  const size_t shard_count_;
  const std::unique_ptr<Shard[]> shards_;
  std::atomic<int64_t> connections_active_{0};
  std::atomic<uint64_t> connections_total_{0};
  std::atomic<uint64_t> reloads_ok_{0};
  std::atomic<uint64_t> reloads_error_{0};
  std::atomic<int64_t> compute_waiting_{0};
  std::atomic<uint64_t> compute_rejected_{0};
};

}  // namespace encore::serve

#endif  // ENCORE_SERVE_METRICS_H_
