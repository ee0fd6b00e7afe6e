// Router, SnapshotHolder and Metrics without sockets: routing and status
// codes, the fast path's bytes, snapshot switching and the exposition text.

#include "serve/router.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace encore::serve {
namespace {

// A fresh in-memory store (the names are process-wide; tests may repeat).
std::unique_ptr<Store> OpenStore(const std::string& name) {
  static int counter = 0;
  auto store = Store::Open("memory:router_test." + name + "." + std::to_string(counter++));
  EXPECT_TRUE(store.ok());
  return std::move(store).value();
}

uint64_t Publish(Store* store, const std::string& popular = "") {
  auto w = store->BeginSnapshot();
  EXPECT_TRUE(w.ok());
  const std::string v = std::to_string((*w)->info().version);
  EXPECT_TRUE(
      (*w)->Put(Table::kUser, "u1",
                "{\"user\":\"u1\",\"snapshot\":" + v +
                    ",\"items\":[{\"item\":\"a\",\"score\":2},{\"item\":\"b\",\"score\":1}]}")
          .ok());
  if (!popular.empty()) {
    EXPECT_TRUE((*w)->Put(Table::kMeta, "popular", popular).ok());
  }
  EXPECT_TRUE((*w)->Commit().ok());
  return (*w)->info().version;
}

class RouterTest : public ::testing::Test {
 protected:
  HttpResponse Call(std::string_view method, std::string_view target, const LoadedSnapshot* snap,
                    std::string_view body = "", std::string_view auth = "") {
    HttpRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.authorization = auth;
    r.content_type = "application/json";
    return router_.Handle(r, snap);
  }
  Metrics metrics_;
  int reloads_ = 0;
  Router router_{ServeOptions(), &metrics_,
                 [this]() -> Result<SnapshotHolder::RefreshResult> {
                   ++reloads_;
                   return SnapshotHolder::RefreshResult{1, 2, true};
                 },
                 "memory:x", 3};
};

TEST_F(RouterTest, RoutesMethodsAndReadiness) {
  EXPECT_EQ(Call("GET", "/healthz", nullptr).status, 200);
  EXPECT_EQ(Call("HEAD", "/healthz", nullptr).status, 200);
  EXPECT_EQ(Call("GET", "/readyz", nullptr).status, 503);
  EXPECT_EQ(Call("GET", "/metrics", nullptr).status, 200);
  EXPECT_EQ(Call("GET", "/v1/users/u1/recommendations", nullptr).status, 503);
  EXPECT_EQ(Call("GET", "/v1/items/i/similar", nullptr).status, 503);
  EXPECT_EQ(Call("GET", "/v1/info", nullptr).status, 503);
  EXPECT_EQ(Call("GET", "/nope", nullptr).status, 404);
  EXPECT_EQ(Call("GET", "/v1", nullptr).status, 404);
  EXPECT_EQ(Call("GET", "nope", nullptr).status, 400);
  HttpResponse r = Call("POST", "/healthz", nullptr);
  EXPECT_EQ(r.status, 405);
  EXPECT_STREQ(r.allow, "GET, HEAD");
  EXPECT_EQ(r.route, Route::kHealthz);
  EXPECT_EQ(r.body, "{\"error\":\"method POST is not allowed here; use GET, HEAD\",\"code\":405}");
  // Admin is disabled without a key, before any reload happens.
  EXPECT_EQ(Call("POST", "/v1/admin/reload", nullptr, "", "Bearer x").status, 403);
  EXPECT_EQ(reloads_, 0);
}

TEST_F(RouterTest, FastPathReturnsTheStoredBytes) {
  auto store = OpenStore("fast");
  const uint64_t v = Publish(store.get(), R"({"snapshot":1,"fallback":"popular","items":[]})");
  auto snap = store->OpenSnapshot(v);
  ASSERT_TRUE(snap.ok());
  auto loaded = LoadedSnapshot::Load(*snap);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  std::string stored;
  ASSERT_TRUE((*snap)->Get(Table::kUser, "u1", &stored).ok());
  HttpResponse r = Call("GET", "/v1/users/u1/recommendations", loaded->get());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, stored);
  EXPECT_EQ(r.snapshot, v);
  EXPECT_EQ(r.route, Route::kUserRecommendations);
  r = Call("GET", "/v1/users/ghost/recommendations?fallback=popular", loaded->get());
  EXPECT_EQ(r.body, R"({"user":"ghost","snapshot":1,"fallback":"popular","items":[]})");
  r = Call("GET", "/v1/users/%22q%22/recommendations?fallback=popular", loaded->get());
  EXPECT_EQ(r.body, R"({"user":"\"q\"","snapshot":1,"fallback":"popular","items":[]})");
  EXPECT_EQ(Call("POST", "/v1/recommendations", loaded->get(), "{}").status, 503);  // no model
}

TEST(LoadedSnapshot, RejectsCorruptMetaDocuments) {
  auto store = OpenStore("corrupt");
  auto w = store->BeginSnapshot();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Put(Table::kMeta, "model", "not a model").ok());
  ASSERT_TRUE((*w)->Commit().ok());
  auto snap = store->OpenSnapshot((*w)->info().version);
  ASSERT_TRUE(snap.ok());
  EXPECT_FALSE(LoadedSnapshot::Load(*snap).ok());
  Publish(store.get(), "[not an object]");
  SnapshotHolder holder;
  EXPECT_FALSE(holder.Refresh(store.get()).ok());
  EXPECT_EQ(holder.Current(), nullptr);
}

TEST(SnapshotHolder, RefreshSwitchesAndEveryThreadSeesTheSwitch) {
  auto store = OpenStore("holder");
  SnapshotHolder holder;
  bool attempted = true;
  auto none = holder.Refresh(store.get(), &attempted);
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(attempted);
  const uint64_t v1 = Publish(store.get());
  auto r = holder.Refresh(store.get(), &attempted);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(attempted);
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->current, v1);
  ASSERT_NE(holder.Current(), nullptr);
  EXPECT_EQ(holder.Current()->info.version, v1);
  r = holder.Refresh(store.get(), &attempted);
  EXPECT_FALSE(r->changed);
  EXPECT_FALSE(attempted);

  const uint64_t v2 = Publish(store.get());
  uint64_t seen_by_thread = 0;
  std::thread([&] { seen_by_thread = holder.Current()->info.version; }).join();
  EXPECT_EQ(seen_by_thread, v1);
  ASSERT_TRUE(holder.Refresh(store.get()).ok());
  EXPECT_EQ(holder.Current()->info.version, v2);
  std::thread([&] { seen_by_thread = holder.Current()->info.version; }).join();
  EXPECT_EQ(seen_by_thread, v2);
  // A second holder does not confuse the thread's cache.
  SnapshotHolder other;
  EXPECT_EQ(other.Current(), nullptr);
  EXPECT_EQ(holder.Current()->info.version, v2);
}

TEST(Metrics, ExpositionCountsAndHistogram) {
  Metrics m;
  m.RecordRequest(Route::kHealthz, 200, std::chrono::microseconds(50));
  m.RecordRequest(Route::kHealthz, 200, std::chrono::milliseconds(3));
  m.RecordRequest(Route::kHealthz, 418, std::chrono::milliseconds(3));
  m.RecordReload(true);
  EXPECT_EQ(m.requests(Route::kHealthz, 200), 2u);
  Metrics::SnapshotState s;
  s.loaded = true;
  s.version = 7;
  s.created_unix = 0;
  const std::string text = m.Render(s);
  for (const char* line :
       {"encore_http_requests_total{route=\"/healthz\",code=\"200\"} 2\n",
        "encore_http_requests_total{route=\"/healthz\",code=\"other\"} 1\n",
        "encore_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.0001\"} 1\n",
        "encore_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.0025\"} 1\n",
        "encore_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.005\"} 3\n",
        "encore_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 3\n",
        "encore_http_request_duration_seconds_sum{route=\"/healthz\"} 0.00605\n",
        "encore_http_request_duration_seconds_count{route=\"/healthz\"} 3\n",
        "# TYPE encore_http_request_duration_seconds histogram\n", "encore_snapshot_version 7\n",
        "encore_snapshot_loaded 1\n", "encore_snapshot_reloads_total{result=\"ok\"} 1\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " in\n" << text;
  }
  EXPECT_EQ(text.find("route=\"/readyz\""), std::string::npos) << "unused series are omitted";
}

TEST(Metrics, ShardsAreSummedInTheExposition) {
  Metrics m(3);
  m.RecordRequest(Route::kHealthz, 200, std::chrono::microseconds(50), 0);
  m.RecordRequest(Route::kHealthz, 200, std::chrono::milliseconds(3), 1);
  m.RecordRequest(Route::kHealthz, 404, std::chrono::milliseconds(3), 2);
  m.RecordRequest(Route::kHealthz, 200, std::chrono::microseconds(50), 5);  // 5 % 3 == 2
  EXPECT_EQ(m.requests(Route::kHealthz, 200), 3u);
  EXPECT_EQ(m.requests(Route::kHealthz, 404), 1u);
  const std::string text = m.Render(Metrics::SnapshotState());
  for (const char* line :
       {"encore_http_requests_total{route=\"/healthz\",code=\"200\"} 3\n",
        "encore_http_requests_total{route=\"/healthz\",code=\"404\"} 1\n",
        "encore_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.0001\"} 2\n",
        "encore_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 4\n",
        "encore_http_request_duration_seconds_sum{route=\"/healthz\"} 0.0061\n",
        "encore_http_request_duration_seconds_count{route=\"/healthz\"} 4\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " in\n" << text;
  }
}

TEST(Metrics, ConcurrentWritersLoseNoCount) {
  Metrics m(2);
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {  // more writers than shards: shards are shared safely
    writers.emplace_back([&m, t] {
      for (int i = 0; i < 10'000; ++i) {
        m.RecordRequest(Route::kUserRecommendations, 200, std::chrono::microseconds(1), t);
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(m.requests(Route::kUserRecommendations, 200), 40'000u);
}

TEST(Router, MayBlockIsTheAdminRoutesOnly) {
  Metrics m;
  Router router(ServeOptions(), &m, nullptr, "memory:x", 1);
  EXPECT_TRUE(router.MayBlock("/v1/admin/reload"));
  EXPECT_TRUE(router.MayBlock("/v1/admin/reload?x=1"));
  EXPECT_TRUE(router.MayBlock("/v1/admin/"));
  EXPECT_FALSE(router.MayBlock("/v1/users/u1/recommendations"));
  EXPECT_FALSE(router.MayBlock("/v1/users/u1/recommendations?q=/v1/admin/"));
  EXPECT_FALSE(router.MayBlock("/v1/admin"));
  EXPECT_FALSE(router.MayBlock("/healthz"));
  EXPECT_FALSE(router.MayBlock(""));
}

// Answers with what it was told, so the test sees the context.
class EchoExtension : public Extension {
 public:
  std::string_view prefix() const override { return "/ui"; }
  bool MayBlock(std::string_view target) const override {
    return target.find("/slow") != std::string_view::npos;
  }
  HttpResponse Handle(const HttpRequest& request, const ExtensionContext& c) const override {
    HttpResponse r;
    r.route = Route::kConsole;
    r.body = std::string(request.target) + (c.authorized ? " key" : " nokey") +
             (c.admin_enabled ? " admin" : "") + (c.metrics != nullptr ? " metrics" : "");
    return r;
  }
};

TEST(Router, ExtensionGetsItsPrefixWithTheKeyChecked) {
  ServeOptions o;
  o.api_key = "secret";
  o.extension = std::make_shared<EchoExtension>();
  Metrics m;
  Router router(o, &m, nullptr, "memory:x", 1);
  auto call = [&](std::string_view target, std::string_view auth = "") {
    HttpRequest r;
    r.method = "GET";
    r.target = target;
    r.authorization = auth;
    return router.Handle(r, nullptr);
  };
  EXPECT_EQ(call("/ui").body, "/ui nokey admin metrics");
  EXPECT_EQ(call("/ui/").body, "/ui/ nokey admin metrics");
  EXPECT_EQ(call("/ui/api/x?y=1", "Bearer secret").body, "/ui/api/x?y=1 key admin metrics");
  EXPECT_EQ(call("/ui/api/x", "Bearer wrong").body, "/ui/api/x nokey admin metrics");
  EXPECT_EQ(call("/ui/api/x", "Basic secret").body, "/ui/api/x nokey admin metrics");
  // Not its prefix: the router's own routes.
  EXPECT_EQ(call("/uix").status, 404);
  EXPECT_EQ(call("/healthz").status, 200);
  EXPECT_TRUE(router.MayBlock("/ui/api/slow"));
  EXPECT_FALSE(router.MayBlock("/ui/api/fast"));
  EXPECT_FALSE(router.MayBlock("/uislow"));
}

}  // namespace
}  // namespace encore::serve
