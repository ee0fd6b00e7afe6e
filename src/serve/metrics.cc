#include "serve/metrics.h"

#include <algorithm>
#include <charconv>
#include <ctime>

#include "util/json_writer.h"

namespace encore::serve {

namespace {

constexpr const char* kRouteLabels[] = {
    "/v1/users/{id}/recommendations",
    "/v1/items/{id}/similar",
    "/v1/recommendations",
    "/v1/info",
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/admin/reload",
    "/v1/users/{id}/explain",
    "/v1/events",
    "/v1/products/{id}/explain",
    "/ui",
    "unmatched",
    "malformed",
};
static_assert(std::size(kRouteLabels) == static_cast<size_t>(Route::kCount));

void AppendUint(uint64_t v, std::string* out) { out->append(std::to_string(v)); }

// Shortest fixed notation: 0.0001, not 1e-04.
void AppendDouble(double v, std::string* out) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  out->append(buf, ec == std::errc() ? end : buf);
}

// Exact seconds from nanoseconds: "0.00605", "12", "1.000000001".
void AppendNanosAsSeconds(uint64_t ns, std::string* out) {
  out->append(std::to_string(ns / 1'000'000'000));
  uint64_t frac = ns % 1'000'000'000;
  if (frac == 0) return;
  std::string digits = std::to_string(frac);
  digits.insert(0, 9 - digits.size(), '0');
  while (digits.back() == '0') digits.pop_back();
  out->push_back('.');
  out->append(digits);
}

void Help(const char* name, const char* type, const char* help, std::string* out) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

}  // namespace

const char* RouteLabel(Route route) { return kRouteLabels[static_cast<size_t>(route)]; }

Metrics::Metrics(int shards)
    : start_(std::chrono::steady_clock::now()),
      shard_count_(static_cast<size_t>(std::max(1, shards))),
      shards_(std::make_unique<Shard[]>(shard_count_)) {}

size_t Metrics::CodeIndex(int status) {
  for (size_t i = 0; i + 1 < kCodes.size(); ++i) {
    if (kCodes[i] == status) return i;
  }
  return kCodes.size() - 1;
}

void Metrics::RecordRequest(Route route, int status, std::chrono::nanoseconds duration, int shard) {
  Shard& s = shards_[static_cast<size_t>(std::max(0, shard)) % shard_count_];
  const size_t r = static_cast<size_t>(route);
  s.requests[r * kCodes.size() + CodeIndex(status)].fetch_add(1, std::memory_order_relaxed);
  const double seconds = std::chrono::duration<double>(duration).count();
  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  s.buckets[r * kBucketSlots + b].fetch_add(1, std::memory_order_relaxed);
  s.duration_ns[r].fetch_add(static_cast<uint64_t>(duration.count() > 0 ? duration.count() : 0),
                             std::memory_order_relaxed);
}

uint64_t Metrics::SumRequests(size_t index) const {
  uint64_t n = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    n += shards_[i].requests[index].load(std::memory_order_relaxed);
  }
  return n;
}

uint64_t Metrics::SumBuckets(size_t index) const {
  uint64_t n = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    n += shards_[i].buckets[index].load(std::memory_order_relaxed);
  }
  return n;
}

uint64_t Metrics::SumDurationNs(size_t route) const {
  uint64_t n = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    n += shards_[i].duration_ns[route].load(std::memory_order_relaxed);
  }
  return n;
}

void Metrics::ConnectionOpened() {
  connections_active_.fetch_add(1, std::memory_order_relaxed);
  connections_total_.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::ConnectionClosed() { connections_active_.fetch_sub(1, std::memory_order_relaxed); }

void Metrics::RecordReload(bool ok) {
  (ok ? reloads_ok_ : reloads_error_).fetch_add(1, std::memory_order_relaxed);
}

uint64_t Metrics::requests(Route route, int status) const {
  return SumRequests(static_cast<size_t>(route) * kCodes.size() + CodeIndex(status));
}

void Metrics::ComputeQueued() { compute_waiting_.fetch_add(1, std::memory_order_relaxed); }
void Metrics::ComputeStarted() { compute_waiting_.fetch_sub(1, std::memory_order_relaxed); }
void Metrics::ComputeRejected() { compute_rejected_.fetch_add(1, std::memory_order_relaxed); }

std::string Metrics::Render(const SnapshotState& snapshot) const {
  std::string out;
  out.reserve(8192);
  Help("encore_http_requests_total", "counter", "HTTP requests answered, by route and status code.",
       &out);
  for (size_t r = 0; r < kRoutes; ++r) {
    for (size_t c = 0; c < kCodes.size(); ++c) {
      const uint64_t n = SumRequests(r * kCodes.size() + c);
      if (n == 0) continue;
      out.append("encore_http_requests_total{route=\"").append(kRouteLabels[r]);
      out.append("\",code=\"");
      if (kCodes[c] == 0) {
        out.append("other");
      } else {
        AppendUint(kCodes[c], &out);
      }
      out.append("\"} ");
      AppendUint(n, &out);
      out.push_back('\n');
    }
  }

  Help("encore_http_request_duration_seconds", "histogram",
       "Time from a request's arrival (whole) to its response being ready, by route.", &out);
  for (size_t r = 0; r < kRoutes; ++r) {
    uint64_t counts[kBucketSlots];
    uint64_t total = 0;
    for (size_t b = 0; b < kBucketSlots; ++b) {
      counts[b] = SumBuckets(r * kBucketSlots + b);
      total += counts[b];
    }
    if (total == 0) continue;
    uint64_t cumulative = 0;
    for (size_t b = 0; b < kBucketSlots; ++b) {
      cumulative += counts[b];
      out.append("encore_http_request_duration_seconds_bucket{route=\"").append(kRouteLabels[r]);
      out.append("\",le=\"");
      if (b < kBuckets.size()) {
        AppendDouble(kBuckets[b], &out);
      } else {
        out.append("+Inf");
      }
      out.append("\"} ");
      AppendUint(cumulative, &out);
      out.push_back('\n');
    }
    out.append("encore_http_request_duration_seconds_sum{route=\"").append(kRouteLabels[r]);
    out.append("\"} ");
    AppendNanosAsSeconds(SumDurationNs(r), &out);
    out.append("\nencore_http_request_duration_seconds_count{route=\"").append(kRouteLabels[r]);
    out.append("\"} ");
    AppendUint(cumulative, &out);
    out.push_back('\n');
  }

  Help("encore_http_connections_active", "gauge", "Open client connections.", &out);
  out.append("encore_http_connections_active ");
  AppendUint(static_cast<uint64_t>(
                 std::max<int64_t>(0, connections_active_.load(std::memory_order_relaxed))),
             &out);
  out.push_back('\n');
  Help("encore_http_connections_total", "counter", "Client connections accepted.", &out);
  out.append("encore_http_connections_total ");
  AppendUint(connections_total_.load(std::memory_order_relaxed), &out);
  out.push_back('\n');

  Help("encore_snapshot_loaded", "gauge", "1 once a snapshot is loaded (readyz), else 0.", &out);
  out.append("encore_snapshot_loaded ").append(snapshot.loaded ? "1" : "0").append("\n");
  Help("encore_snapshot_version", "gauge", "Version of the snapshot being served (0: none).", &out);
  out.append("encore_snapshot_version ");
  AppendUint(snapshot.loaded ? snapshot.version : 0, &out);
  out.push_back('\n');
  Help("encore_snapshot_age_seconds", "gauge",
       "Seconds since the served snapshot was created (0: none).", &out);
  out.append("encore_snapshot_age_seconds ");
  const int64_t age =
      snapshot.loaded ? static_cast<int64_t>(std::time(nullptr)) - snapshot.created_unix : 0;
  AppendUint(static_cast<uint64_t>(std::max<int64_t>(0, age)), &out);
  out.push_back('\n');
  Help("encore_snapshot_reloads_total", "counter",
       "Attempts to load a new snapshot (start-up, poller, admin reload), by result.", &out);
  out.append("encore_snapshot_reloads_total{result=\"ok\"} ");
  AppendUint(reloads_ok_.load(std::memory_order_relaxed), &out);
  out.append("\nencore_snapshot_reloads_total{result=\"error\"} ");
  AppendUint(reloads_error_.load(std::memory_order_relaxed), &out);
  out.push_back('\n');

  if (snapshot.cached) {
    Help("encore_payload_cache_requests_total", "counter",
         "Lookups in the served snapshot's payload cache, by result (since it was loaded).", &out);
    out.append("encore_payload_cache_requests_total{result=\"hit\"} ");
    AppendUint(snapshot.cache.hits, &out);
    out.append("\nencore_payload_cache_requests_total{result=\"miss\"} ");
    AppendUint(snapshot.cache.misses, &out);
    out.push_back('\n');
    Help("encore_payload_cache_bytes", "gauge", "Bytes held by the payload cache.", &out);
    out.append("encore_payload_cache_bytes ");
    AppendUint(snapshot.cache.bytes, &out);
    out.push_back('\n');
    Help("encore_payload_cache_entries", "gauge", "Documents held by the payload cache.", &out);
    out.append("encore_payload_cache_entries ");
    AppendUint(snapshot.cache.entries, &out);
    out.push_back('\n');
  }
  if (snapshot.live_cached) {
    const LiveCacheStats& lc = snapshot.live_cache;
    Help("encore_live_cache_requests_total", "counter",
         "Live payload lookups, by result: hit (answered from the cache, found or not), miss "
         "(asked Redis, cache on), bypass (asked Redis because the cache was off: its "
         "invalidation connection was down or not yet up).",
         &out);
    out.append("encore_live_cache_requests_total{result=\"hit\"} ");
    AppendUint(lc.hits, &out);
    out.append("\nencore_live_cache_requests_total{result=\"miss\"} ");
    AppendUint(lc.misses, &out);
    out.append("\nencore_live_cache_requests_total{result=\"bypass\"} ");
    AppendUint(lc.bypassed, &out);
    out.push_back('\n');
    Help("encore_live_cache_invalidations_total", "counter",
         "Live payload keys invalidated by a message from Redis (client tracking).", &out);
    out.append("encore_live_cache_invalidations_total ");
    AppendUint(lc.invalidations, &out);
    out.push_back('\n');
    Help("encore_live_cache_flushes_total", "counter",
         "Whole flushes of the live payload cache (invalidation connection lost or re-established, "
         "a newer snapshot served, FLUSHDB/FLUSHALL).",
         &out);
    out.append("encore_live_cache_flushes_total ");
    AppendUint(lc.flushes, &out);
    out.push_back('\n');
    Help("encore_live_cache_connected", "gauge",
         "1 while the invalidation connection to Redis is up and the live cache in use, else 0.",
         &out);
    out.append(lc.connected ? "encore_live_cache_connected 1\n" : "encore_live_cache_connected 0\n");
    Help("encore_live_cache_connects_total", "counter",
         "Times the invalidation connection was established.", &out);
    out.append("encore_live_cache_connects_total ");
    AppendUint(lc.connects, &out);
    out.push_back('\n');
    Help("encore_live_cache_bytes", "gauge", "Bytes held by the live payload cache.", &out);
    out.append("encore_live_cache_bytes ");
    AppendUint(lc.bytes, &out);
    out.push_back('\n');
    Help("encore_live_cache_entries", "gauge",
         "Answers (found or not) held by the live payload cache.", &out);
    out.append("encore_live_cache_entries ");
    AppendUint(lc.entries, &out);
    out.push_back('\n');
  }
  Help("encore_compute_queue_depth", "gauge",
       "Fold-in and explanation requests waiting for a compute thread.", &out);
  out.append("encore_compute_queue_depth ");
  AppendUint(
      static_cast<uint64_t>(std::max<int64_t>(0, compute_waiting_.load(std::memory_order_relaxed))),
      &out);
  out.push_back('\n');
  Help("encore_compute_rejected_total", "counter",
       "Fold-in and explanation requests answered 503 because the compute queue was full.", &out);
  out.append("encore_compute_rejected_total ");
  AppendUint(compute_rejected_.load(std::memory_order_relaxed), &out);
  out.push_back('\n');

  Help("encore_uptime_seconds", "gauge", "Seconds since the server started.", &out);
  out.append("encore_uptime_seconds ");
  AppendDouble(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(),
               &out);
  out.push_back('\n');
  return out;
}

std::string Metrics::RenderJson(const SnapshotState& snapshot) const {
  JsonWriter w;
  w.BeginObject();
  w.Key("uptime_seconds");
  w.Double(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  w.Key("connections_active");
  w.Int(std::max<int64_t>(0, connections_active_.load(std::memory_order_relaxed)));
  w.Key("connections_total");
  w.Uint(connections_total_.load(std::memory_order_relaxed));
  w.Key("snapshot");
  w.BeginObject();
  w.Key("loaded");
  w.Bool(snapshot.loaded);
  w.Key("version");
  w.Uint(snapshot.loaded ? snapshot.version : 0);
  w.Key("age_seconds");
  w.Int(snapshot.loaded
            ? std::max<int64_t>(0, static_cast<int64_t>(std::time(nullptr)) - snapshot.created_unix)
            : 0);
  w.EndObject();
  w.Key("reloads");
  w.BeginObject();
  w.Key("ok");
  w.Uint(reloads_ok_.load(std::memory_order_relaxed));
  w.Key("error");
  w.Uint(reloads_error_.load(std::memory_order_relaxed));
  w.EndObject();
  w.Key("bucket_bounds");
  w.BeginArray();
  for (double b : kBuckets) w.Double(b);
  w.EndArray();
  w.Key("routes");
  w.BeginArray();
  for (size_t r = 0; r < kRoutes; ++r) {
    uint64_t total = 0, errors = 0, client_errors = 0;
    for (size_t c = 0; c < kCodes.size(); ++c) {
      const uint64_t n = SumRequests(r * kCodes.size() + c);
      total += n;
      if (kCodes[c] >= 500 || kCodes[c] == 0) errors += n;
      if (kCodes[c] >= 400 && kCodes[c] < 500) client_errors += n;
    }
    if (total == 0) continue;
    w.BeginObject();
    w.Key("route");
    w.String(kRouteLabels[r]);
    w.Key("requests");
    w.Uint(total);
    w.Key("errors");
    w.Uint(errors);
    w.Key("client_errors");
    w.Uint(client_errors);
    w.Key("codes");
    w.BeginObject();
    for (size_t c = 0; c < kCodes.size(); ++c) {
      const uint64_t n = SumRequests(r * kCodes.size() + c);
      if (n == 0) continue;
      w.Key(kCodes[c] == 0 ? std::string("other") : std::to_string(kCodes[c]));
      w.Uint(n);
    }
    w.EndObject();
    w.Key("duration_seconds_sum");
    w.Double(static_cast<double>(SumDurationNs(r)) / 1e9);
    w.Key("buckets");
    w.BeginArray();
    for (size_t b = 0; b < kBucketSlots; ++b) w.Uint(SumBuckets(r * kBucketSlots + b));
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.str();
}

}  // namespace encore::serve
