// The HTTP server end to end, in process: every route over a real socket
// (status, headers, body), slicing, fallbacks, fold-in against the model
// itself, readiness, metrics, keep-alive, admin auth, the access log, and
// snapshots published while clients hammer the server.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <mutex>
#include <thread>

#include "encore/explain.h"
#include "encore/rank.h"
#include "redis_server.h"
#include "serve_fixture.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::HttpConnection;
using testing::HttpFetch;
using testing::HttpReply;
using testing::ParseJson;
using testing::ServeTest;
using testing::SharedModel;

// The "item" ids of a payload's list member.
std::vector<std::string> ItemIds(const std::string& body, const char* list = "items") {
  simdjson::dom::parser parser;
  std::vector<std::string> ids;
  simdjson::dom::element doc = ParseJson(parser, body);
  simdjson::dom::array array;
  if (doc[list].get_array().get(array)) {
    ADD_FAILURE() << "no list '" << list << "' in " << body;
    return ids;
  }
  for (auto e : array) ids.emplace_back(std::string_view(e["item"].get_string().value()));
  return ids;
}

void ExpectJsonResponse(const HttpReply& r) {
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("content-length"), std::to_string(r.body.size()));
}

TEST_F(ServeTest, UserRecommendationsAreTheStoredBytes) {
  StartServer();
  const TrainedModel& model = SharedModel();
  HttpReply r = Get("/v1/users/u3/recommendations");
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectJsonResponse(r);
  EXPECT_EQ(r.Header("x-snapshot"), std::to_string(version_));
  EXPECT_EQ(r.body, testing::UserPayload(model, 3, version_, 10));
}

TEST_F(ServeTest, LimitOffsetAndExcludeSliceTheList) {
  StartServer();
  const std::string full = testing::UserPayload(SharedModel(), 5, version_, 10);
  const std::vector<std::string> all = ItemIds(full);
  ASSERT_EQ(all.size(), 10u);

  HttpReply r = Get("/v1/users/u5/recommendations?limit=3");
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectJsonResponse(r);
  EXPECT_EQ(ItemIds(r.body), std::vector<std::string>(all.begin(), all.begin() + 3));
  // Kept elements keep their stored bytes: the sliced text is a prefix cut.
  const size_t third = full.find("},{", full.find(all[2]));
  EXPECT_EQ(r.body, full.substr(0, third + 1) + "]}");

  r = Get("/v1/users/u5/recommendations?offset=2&limit=4");
  EXPECT_EQ(ItemIds(r.body), std::vector<std::string>(all.begin() + 2, all.begin() + 6));

  r = Get("/v1/users/u5/recommendations?exclude=" + all[0] + "," + all[2] + "&limit=2");
  EXPECT_EQ(ItemIds(r.body), (std::vector<std::string>{all[1], all[3]}));

  r = Get("/v1/users/u5/recommendations?offset=100");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(ItemIds(r.body).empty());
  simdjson::dom::parser parser;
  auto doc = ParseJson(parser, r.body);
  EXPECT_EQ(std::string_view(doc["user"].get_string().value()), "u5");
  EXPECT_EQ(uint64_t(doc["snapshot"].get_uint64().value()), version_);
}

TEST_F(ServeTest, IdsArePercentDecoded) {
  StartServer();
  HttpReply r = Get("/v1/users/a%20b%2F%C3%BC%25%2C+%3F/recommendations");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ItemIds(r.body), (std::vector<std::string>{"i1", "x,y"}));
  // An encoded comma stays inside one excluded id.
  r = Get("/v1/users/a%20b%2F%C3%BC%25%2C+%3F/recommendations?exclude=x%2Cy");
  EXPECT_EQ(ItemIds(r.body), (std::vector<std::string>{"i1"}));
}

TEST_F(ServeTest, UnknownUserIs404OrThePopularFallback) {
  StartServer();
  HttpReply r = Get("/v1/users/nobody/recommendations");
  EXPECT_EQ(r.status, 404);
  ExpectJsonResponse(r);
  simdjson::dom::parser parser;
  auto err = ParseJson(parser, r.body);
  EXPECT_EQ(int64_t(err["code"].get_int64().value()), 404);
  EXPECT_NE(std::string_view(err["error"].get_string().value()).find("nobody"),
            std::string_view::npos);

  r = Get("/v1/users/nobody/recommendations?fallback=popular");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("x-snapshot"), std::to_string(version_));
  auto doc = ParseJson(parser, r.body);
  EXPECT_EQ(std::string_view(doc["user"].get_string().value()), "nobody");
  EXPECT_EQ(std::string_view(doc["fallback"].get_string().value()), "popular");
  const std::vector<std::string> popular = ItemIds(r.body);
  EXPECT_EQ(popular.size(), 20u);

  r = Get("/v1/users/nobody/recommendations?fallback=popular&limit=2&exclude=" + popular[0]);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ItemIds(r.body), (std::vector<std::string>{popular[1], popular[2]}));
  auto sliced = ParseJson(parser, r.body);
  EXPECT_EQ(std::string_view(sliced["user"].get_string().value()), "nobody");

  // A known user ignores the fallback.
  r = Get("/v1/users/u1/recommendations?fallback=popular");
  EXPECT_EQ(r.body, testing::UserPayload(SharedModel(), 1, version_, 10));
  EXPECT_EQ(Get("/v1/users/nobody/recommendations?fallback=random").status, 400);
}

TEST_F(ServeTest, PopularFallbackMissingIs404) {
  testing::TestSnapshotOptions snap;
  snap.popular = false;
  StartServer(testing::FastServeOptions(), true, snap);
  HttpReply r = Get("/v1/users/nobody/recommendations?fallback=popular");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("no popular fallback"), std::string::npos) << r.body;
}

TEST_F(ServeTest, SimilarItems) {
  StartServer();
  const TrainedModel& model = SharedModel();
  HttpReply r = Get("/v1/items/i4/similar");
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectJsonResponse(r);
  std::vector<ScoredItem> similar;
  ASSERT_TRUE(model.model->SimilarItems(*model.items.Find("i4"), 10, &similar).ok());
  std::vector<std::string> want;
  for (const ScoredItem& s : similar) want.emplace_back(model.items.Name(s.item));
  EXPECT_EQ(ItemIds(r.body, "similar"), want);
  r = Get("/v1/items/i4/similar?limit=3");
  EXPECT_EQ(ItemIds(r.body, "similar"), std::vector<std::string>(want.begin(), want.begin() + 3));
  r = Get("/v1/items/nothing/similar");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("unknown item 'nothing'"), std::string::npos);
}

TEST_F(ServeTest, FoldInEqualsTheModelsOwnFoldIn) {
  StartServer();
  const TrainedModel& model = SharedModel();
  HttpReply r =
      Post("/v1/recommendations",
           R"({"items": ["i1", "i2", "nope", "i1", "i7"], "limit": 5, "exclude": ["i3"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectJsonResponse(r);
  EXPECT_EQ(r.Header("x-snapshot"), std::to_string(version_));

  std::vector<ItemWeight> items;
  for (const char* id : {"i1", "i2", "i7"}) items.push_back({*model.items.Find(id), 1.0f});
  QueryOptions q;
  q.n = 5;
  q.deny = {*model.items.Find("i3")};
  auto want = RecommendFoldIn(*model.model, items, q);
  ASSERT_TRUE(want.ok());
  ASSERT_EQ(want->size(), 5u);

  simdjson::dom::parser parser;
  auto doc = ParseJson(parser, r.body);
  EXPECT_EQ(uint64_t(doc["snapshot"].get_uint64().value()), version_);
  simdjson::dom::array got = doc["items"].get_array().value();
  ASSERT_EQ(got.size(), want->size());
  size_t k = 0;
  for (auto e : got) {
    EXPECT_EQ(std::string_view(e["item"].get_string().value()), model.items.Name((*want)[k].item));
    EXPECT_EQ(static_cast<float>(double(e["score"].get_double().value())), (*want)[k].score);
    ++k;
  }
  simdjson::dom::array unknown = doc["unknown_items"].get_array().value();
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(std::string_view(unknown.at(0).get_string().value()), "nope");
}

TEST_F(ServeTest, FoldInWithNothingKnownFallsBackToPopular) {
  StartServer();
  HttpReply r = Post("/v1/recommendations", R"({"items": ["x", "y"], "limit": 3})");
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  auto doc = ParseJson(parser, r.body);
  EXPECT_EQ(std::string_view(doc["fallback"].get_string().value()), "popular");
  EXPECT_EQ(ItemIds(r.body).size(), 3u);
  EXPECT_EQ(simdjson::dom::array(doc["unknown_items"].get_array().value()).size(), 2u);
  // An empty visitor is anonymous: the same fallback.
  EXPECT_EQ(Post("/v1/recommendations", R"({"items": []})").status, 200);
}

TEST_F(ServeTest, FoldInRejectsBadRequests) {
  StartServer();
  EXPECT_EQ(
      Post("/v1/recommendations", R"({"items": ["i1"]})", {"Content-Type: text/plain"}).status,
      415);
  EXPECT_EQ(Post("/v1/recommendations", R"({"items": ["i1"]})", {}).status, 415);
  EXPECT_EQ(Post("/v1/recommendations", R"({"items": ["i1"]})",
                 {"Content-Type: Application/JSON; charset=utf-8"})
                .status,
            200);
  EXPECT_EQ(Post("/v1/recommendations", R"({"items": ["i1")").status, 400);
  EXPECT_EQ(Post("/v1/recommendations", "").status, 400);
  EXPECT_EQ(Post("/v1/recommendations", R"(["i1"])").status, 422);
  EXPECT_EQ(Post("/v1/recommendations", R"({"limit": 3})").status, 422);
  EXPECT_EQ(Post("/v1/recommendations", R"({"items": "i1"})").status, 422);
  EXPECT_EQ(Post("/v1/recommendations", R"({"items": [1, 2]})").status, 422);
  EXPECT_EQ(Post("/v1/recommendations", R"({"items": ["i1"], "limit": "5"})").status, 422);
  EXPECT_EQ(Post("/v1/recommendations", R"({"items": ["i1"], "limit": 0})").status, 422);
  EXPECT_EQ(Post("/v1/recommendations", R"({"items": ["i1"], "limit": -3})").status, 422);
  EXPECT_EQ(Post("/v1/recommendations", R"({"items": ["i1"], "limit": 1e30})").status, 422);
  // Beyond 64 bits simdjson cannot read the number at all: a parse error.
  EXPECT_EQ(
      Post("/v1/recommendations", R"({"items": ["i1"], "limit": 99999999999999999999})").status,
      400);
  EXPECT_EQ(Post("/v1/recommendations", R"({"items": ["i1"], "exclude": "i2"})").status, 422);
  HttpReply r = Get("/v1/recommendations");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("allow"), "POST");
}

TEST_F(ServeTest, FoldInWithoutAModelIs503) {
  testing::TestSnapshotOptions snap;
  snap.model = false;
  StartServer(testing::FastServeOptions(), true, snap);
  HttpReply r = Post("/v1/recommendations", R"({"items": ["i1"]})");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("no model"), std::string::npos) << r.body;
}

// A JSON number as double, whether written as an integer or not.
double Num(simdjson::dom::element e) {
  if (e.is_double()) return e.get_double().value();
  if (e.is_int64()) return static_cast<double>(e.get_int64().value());
  return static_cast<double>(e.get_uint64().value());
}

// With the published approximate index (meta "ann"), fold-in takes its
// candidates from it: on this small catalog the default breadth finds the
// exact list, re-scored exactly, with exclusions applied.
TEST_F(ServeTest, FoldInUsesThePublishedApproximateIndex) {
  testing::TestSnapshotOptions snap;
  snap.ann = true;
  StartServer(testing::FastServeOptions(), true, snap);
  const TrainedModel& model = SharedModel();
  HttpReply r = Post("/v1/recommendations", R"({"items": ["i1", "i2", "i7"], "limit": 5,
                                                "exclude": ["i3"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<ItemWeight> items;
  for (const char* id : {"i1", "i2", "i7"}) items.push_back({*model.items.Find(id), 1.0f});
  QueryOptions q;
  q.n = 5;
  q.deny = {*model.items.Find("i3")};
  auto want = RecommendFoldIn(*model.model, items, q);
  ASSERT_TRUE(want.ok());
  std::vector<std::string> ids;
  for (const ScoredItem& s : *want) ids.emplace_back(model.items.Name(s.item));
  EXPECT_EQ(ItemIds(r.body), ids);
  for (const char* excluded : {"i1", "i2", "i7", "i3"}) {
    EXPECT_EQ(r.body.find(std::string("\"") + excluded + "\""), std::string::npos) << excluded;
  }
  HttpReply info = Get("/v1/info");
  EXPECT_NE(info.body.find("\"fold_in_approximate\":true"), std::string::npos) << info.body;
}

TEST_F(ServeTest, ExplainSplitsTheScoreIntoTheUsersItems) {
  StartServer();
  const TrainedModel& model = SharedModel();
  const uint32_t u = 0;
  const std::string user(model.users.Name(u));
  // Explain the user's top recommendation.
  QueryOptions q;
  q.n = 1;
  const std::vector<ScoredItem> top = Recommend(*model.model, u, q);
  ASSERT_EQ(top.size(), 1u);
  const std::string item(model.items.Name(top[0].item));
  HttpReply r = Get("/v1/users/" + user + "/explain?item=" + item);
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectJsonResponse(r);
  simdjson::dom::parser parser;
  auto doc = ParseJson(parser, r.body);
  EXPECT_EQ(std::string_view(doc["user"].get_string().value()), user);
  EXPECT_EQ(std::string_view(doc["model"].get_string().value()), "ials");
  const double score = Num(doc["score"]);
  double sum = Num(doc["base"]);
  size_t n = 0;
  simdjson::dom::array contributions = doc["contributions"].get_array().value();
  for (simdjson::dom::element c : contributions) {
    sum += Num(c["contribution"]);
    ++n;
  }
  EXPECT_EQ(n, model.model->seen().RowLength(u));
  EXPECT_NEAR(sum, score, 1e-4 * (1 + std::fabs(score)));
  auto lib = ExplainUser(*model.model, u, top[0].item);
  ASSERT_TRUE(lib.ok());
  EXPECT_NEAR(score, lib->score, 1e-5 * (1 + std::fabs(score)));
  // The served score (cg solver) is close to the exact fold-in it explains.
  EXPECT_NEAR(Num(doc["model_score"]), top[0].score, 1e-6);

  EXPECT_EQ(Get("/v1/users/nobody/explain?item=" + item).status, 404);
  EXPECT_EQ(Get("/v1/users/" + user + "/explain?item=nothing").status, 404);
  HttpReply missing = Get("/v1/users/" + user + "/explain");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("item"), std::string::npos) << missing.body;
  EXPECT_EQ(Post("/v1/users/" + user + "/explain?item=" + item, "{}").status, 405);
}

TEST_F(ServeTest, ExplainWithoutAModelIs503) {
  testing::TestSnapshotOptions snap;
  snap.model = false;
  StartServer(testing::FastServeOptions(), true, snap);
  HttpReply r = Get("/v1/users/u1/explain?item=i1");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("no model"), std::string::npos) << r.body;
}

TEST_F(ServeTest, InfoIsTheSnapshotDocumentPlusServerFields) {
  StartServer();
  HttpReply r = Get("/v1/info");
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectJsonResponse(r);
  simdjson::dom::parser parser;
  auto doc = ParseJson(parser, r.body);
  EXPECT_EQ(uint64_t(doc["snapshot"].get_uint64().value()), version_);
  EXPECT_EQ(std::string_view(doc["model"]["kind"].get_string().value()), "ials");
  EXPECT_EQ(uint64_t(doc["counts"]["users"].get_uint64().value()), SharedModel().users.size());
  EXPECT_EQ(std::string_view(doc["server"]["store"].get_string().value()), store_uri_);
  EXPECT_EQ(int64_t(doc["server"]["threads"].get_int64().value()), 2);
  EXPECT_TRUE(doc["server"]["fold_in"].get_bool().value());
  EXPECT_FALSE(doc["server"]["uptime_seconds"].get_int64().error());
}

TEST_F(ServeTest, InfoWithoutAnInfoDocumentHasTheServerFields) {
  testing::TestSnapshotOptions bare;
  bare.info = false;
  StartServer(testing::FastServeOptions(), true, bare);
  HttpReply r = Get("/v1/info");
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  auto doc = ParseJson(parser, r.body);
  EXPECT_EQ(uint64_t(doc["server"]["snapshot"].get_uint64().value()), version_);
}

TEST_F(ServeTest, HealthAndReadinessBeforeAndAfterASnapshot) {
  StartServer(testing::FastServeOptions(), /*publish=*/false);
  EXPECT_EQ(Get("/healthz").status, 200);
  HttpReply r = Get("/readyz");
  EXPECT_EQ(r.status, 503);
  ExpectJsonResponse(r);
  EXPECT_EQ(Get("/v1/users/u1/recommendations").status, 503);
  EXPECT_EQ(Get("/v1/info").status, 503);
  EXPECT_EQ(Post("/v1/recommendations", R"({"items": ["i1"]})").status, 503);
  EXPECT_EQ(server_->snapshot_version(), 0u);

  const uint64_t v = testing::WriteTestSnapshot(store_.get());
  // The poller (every 50 ms) picks it up; the loop is only a hang guard.
  for (int i = 0; i < 400 && Get("/readyz").status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  r = Get("/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("x-snapshot"), std::to_string(v));
  EXPECT_EQ(Get("/v1/users/u1/recommendations").status, 200);
  EXPECT_EQ(server_->snapshot_version(), v);
}

TEST_F(ServeTest, MetricsCountRequestsByRouteAndCode) {
  StartServer();
  for (int i = 0; i < 3; ++i) Get("/v1/users/u1/recommendations");
  Get("/v1/users/nobody/recommendations");
  Get("/no/such/route");
  HttpReply r = Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = r.body;
  EXPECT_NE(
      m.find(
          "encore_http_requests_total{route=\"/v1/users/{id}/recommendations\",code=\"200\"} 3\n"),
      std::string::npos)
      << m;
  EXPECT_NE(
      m.find(
          "encore_http_requests_total{route=\"/v1/users/{id}/recommendations\",code=\"404\"} 1\n"),
      std::string::npos);
  EXPECT_NE(m.find("encore_http_requests_total{route=\"unmatched\",code=\"404\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.find("encore_http_request_duration_seconds_bucket{route=\"/v1/users/{id}/"
                   "recommendations\",le=\"+Inf\"} 4\n"),
            std::string::npos);
  EXPECT_NE(m.find("encore_http_request_duration_seconds_count{route=\"/v1/users/{id}/"
                   "recommendations\"} 4\n"),
            std::string::npos);
  EXPECT_NE(m.find("encore_snapshot_version " + std::to_string(version_) + "\n"),
            std::string::npos);
  EXPECT_NE(m.find("encore_snapshot_age_seconds "), std::string::npos);
  EXPECT_NE(m.find("encore_snapshot_reloads_total{result=\"ok\"} 1\n"), std::string::npos);
  // The counter moves.
  Get("/v1/users/u1/recommendations");
  EXPECT_NE(Get("/metrics")
                .body.find("encore_http_requests_total{route=\"/v1/users/{id}/"
                           "recommendations\",code=\"200\"} 4\n"),
            std::string::npos);
}

TEST_F(ServeTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  HttpConnection c(port());
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 20; ++i) {
    HttpReply r = c.Request("GET", "/v1/users/u" + std::to_string(i) + "/recommendations");
    ASSERT_EQ(r.status, 200) << "request " << i;
    EXPECT_EQ(r.body, testing::UserPayload(SharedModel(), i, version_, 10));
    EXPECT_NE(r.Header("connection"), "close");
  }
  // Pipelined: two requests in one write, two answers in order.
  ASSERT_TRUE(
      c.SendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/users/u2/recommendations "
                "HTTP/1.1\r\nHost: x\r\n\r\n"));
  HttpReply a, b;
  ASSERT_TRUE(c.ReadReply(&a));
  ASSERT_TRUE(c.ReadReply(&b));
  EXPECT_EQ(a.body, "{\"status\":\"ok\"}");
  EXPECT_EQ(b.body, testing::UserPayload(SharedModel(), 2, version_, 10));
  // Connection: close is honoured.
  HttpReply last = c.Request("GET", "/healthz", "", {"Connection: close"});
  EXPECT_EQ(last.status, 200);
  EXPECT_EQ(last.Header("connection"), "close");
  EXPECT_TRUE(c.WaitClosed(5000));
}

TEST_F(ServeTest, HeadAnswersLikeGetWithoutABody) {
  StartServer();
  HttpConnection c(port());
  ASSERT_TRUE(c.SendRaw("HEAD /v1/users/u1/recommendations HTTP/1.1\r\nHost: x\r\n\r\n"));
  HttpReply head;
  ASSERT_TRUE(c.ReadReply(&head, /*head_only=*/true));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-length"),
            std::to_string(testing::UserPayload(SharedModel(), 1, version_, 10).size()));
  EXPECT_EQ(head.Header("x-snapshot"), std::to_string(version_));
  // No body bytes followed: the next answer on the connection is intact.
  HttpReply next = c.Request("GET", "/healthz");
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.body, "{\"status\":\"ok\"}");
}

TEST_F(ServeTest, AdminReloadNeedsTheBearerKey) {
  ServeOptions o = testing::FastServeOptions();
  o.api_key = "s3cret-key";
  o.poll_ms = 60'000;  // only the admin route reloads here
  StartServer(o);
  HttpReply r = Post("/v1/admin/reload", "", {});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Header("www-authenticate"), "Bearer realm=\"encore\"");
  EXPECT_EQ(Post("/v1/admin/reload", "", {"Authorization: Basic czNjcmV0LWtleQ=="}).status, 401);
  EXPECT_EQ(Post("/v1/admin/reload", "", {"Authorization: Bearer"}).status, 401);
  for (const char* wrong : {"s3cret-kez", "s3cret-key-longer", "s", "S3CRET-KEY", "s3cret-ke y"}) {
    EXPECT_EQ(Post("/v1/admin/reload", "", {std::string("Authorization: Bearer ") + wrong}).status,
              403)
        << wrong;
  }
  EXPECT_EQ(Get("/v1/admin/reload", {"Authorization: Bearer s3cret-key"}).status, 405);
  EXPECT_EQ(Post("/v1/admin/reload", "", {"Authorization: Bearer s3cret-key  "}).status, 200);

  const uint64_t v2 = testing::WriteTestSnapshot(store_.get());
  EXPECT_EQ(Get("/readyz").Header("x-snapshot"), std::to_string(version_));
  r = Post("/v1/admin/reload", "", {"Authorization: bearer s3cret-key"});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"snapshot\":" + std::to_string(v2) +
                        ",\"previous\":" + std::to_string(version_) + ",\"changed\":true}");
  EXPECT_EQ(Get("/readyz").Header("x-snapshot"), std::to_string(v2));
  r = Post("/v1/admin/reload", "", {"Authorization: Bearer s3cret-key"});
  EXPECT_EQ(r.body, "{\"snapshot\":" + std::to_string(v2) + ",\"previous\":" + std::to_string(v2) +
                        ",\"changed\":false}");
  // Rollback is a switch too.
  ASSERT_TRUE(store_->SetCurrent(version_).ok());
  r = Post("/v1/admin/reload", "", {"Authorization: Bearer s3cret-key"});
  EXPECT_EQ(Get("/readyz").Header("x-snapshot"), std::to_string(version_));
}

TEST_F(ServeTest, AdminRoutesAreRefusedWithoutAConfiguredKey) {
  StartServer();
  HttpReply r = Post("/v1/admin/reload", "", {"Authorization: Bearer anything"});
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("--api-key-file"), std::string::npos) << r.body;
}

TEST_F(ServeTest, AccessLogHasOneJsonLinePerRequestAndNoSecrets) {
  testing::TempDir dir;
  ServeOptions o = testing::FastServeOptions();
  o.access_log = dir.File("access.jsonl");
  o.api_key = "top-secret-key";
  StartServer(o);
  Get("/v1/users/u1/recommendations?limit=2");
  Post("/v1/admin/reload", "", {"Authorization: Bearer top-secret-key"});
  server_->Stop();
  server_->Wait();
  const std::string log = testing::ReadFile(o.access_log);
  EXPECT_EQ(log.find("top-secret-key"), std::string::npos) << log;
  std::vector<std::string> lines;
  for (size_t pos = 0, nl; (nl = log.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    lines.push_back(log.substr(pos, nl - pos));
  }
  ASSERT_EQ(lines.size(), 2u) << log;
  simdjson::dom::parser parser;
  auto first = ParseJson(parser, lines[0]);
  EXPECT_EQ(std::string_view(first["method"].get_string().value()), "GET");
  EXPECT_EQ(std::string_view(first["target"].get_string().value()),
            "/v1/users/u1/recommendations?limit=2");
  EXPECT_EQ(int64_t(first["status"].get_int64().value()), 200);
  EXPECT_GT(int64_t(first["bytes"].get_int64().value()), 0);
  EXPECT_GE(int64_t(first["duration_us"].get_int64().value()), 0);
  EXPECT_EQ(uint64_t(first["snapshot"].get_uint64().value()), version_);
  EXPECT_EQ(std::string_view(first["time"].get_string().value()).size(), 24u);
}

// Clients hammer user requests while new snapshots are committed and
// reloaded: every answer is whole and from exactly one snapshot.
class PublishWhileServing : public ServeTest {
 protected:
  void Run(int64_t cache_mb = -1);
};

TEST_F(PublishWhileServing, MemoryStore) { Run(); }

// The payload cache (on by default for Redis, below) never answers from an
// older snapshot.
TEST_F(PublishWhileServing, MemoryStoreWithPayloadCache) { Run(1); }

TEST_F(PublishWhileServing, LmdbStore) {
  testing::TempDir dir;
  requested_store_uri_ = dir.File("store");
  Run();
}

TEST_F(PublishWhileServing, RedisStore) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.Start().ok()) << "redis-server missing? run scripts/install-deps.sh";
  requested_store_uri_ = redis.Uri(1);
  Run();
}

// Clients hammer user requests while snapshots are committed and reloaded
// (by the poller and by admin reloads): zero errors, and every response is
// exactly the payload of the snapshot it names.
void PublishWhileServing::Run(int64_t cache_mb) {
  ServeOptions o = testing::FastServeOptions();
  o.cache_mb = cache_mb;
  o.api_key = "k";
  o.poll_ms = 5;  // the poller switches too, concurrently with admin reloads
  testing::TestSnapshotOptions snap;
  snap.versioned_items = true;
  snap.users = 8;
  StartServer(o, true, snap);

  std::atomic<bool> done{false};
  std::atomic<int> errors{0}, answered{0};
  std::vector<std::string> first_error(3);
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&, t] {
      HttpConnection c(port());
      uint32_t u = t;
      while (!done.load()) {
        u = (u + 1) % 8;
        const bool fallback = u == 0;
        HttpReply r =
            fallback ? c.Request("GET", "/v1/users/ghost/recommendations?fallback=popular")
                     : c.Request("GET", "/v1/users/u" + std::to_string(u) + "/recommendations");
        uint64_t v = 0;
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        bool ok = r.status == 200 && !parser.parse(r.body).get(doc) &&
                  !doc["snapshot"].get_uint64().get(v) &&
                  r.Header("x-snapshot") == std::to_string(v);
        if (ok && !fallback) ok = r.body == testing::VersionedUserPayload(u, v);
        if (ok && fallback) {
          ok = r.body.find("\"v" + std::to_string(v) + "-popular\"") != std::string::npos &&
               r.body.rfind("{\"user\":\"ghost\",", 0) == 0;
        }
        if (!ok) {
          if (errors.fetch_add(1) == 0) first_error[t] = std::to_string(r.status) + " " + r.body;
          c.Close();
          return;
        }
        answered.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 12; ++i) {
    testing::WriteTestSnapshot(store_.get(), snap);
    if (i % 2 == 0) {
      HttpReply r = HttpFetch(port(), "POST", "/v1/admin/reload", "", {"Authorization: Bearer k"});
      EXPECT_EQ(r.status, 200) << r.body;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
  }
  done = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(errors.load(), 0) << first_error[0] << first_error[1] << first_error[2];
  EXPECT_GT(answered.load(), 0);
  TearDown();  // stop the server before the store (a temp dir, a Redis server) goes away
}

// A metric of the exposition, e.g. Metric(page, "encore_x{a=\"b\"}"); -1 when absent.
int64_t Metric(const std::string& page, const std::string& series) {
  const size_t at = page.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::strtoll(page.c_str() + at + series.size() + 2, nullptr, 10);
}

TEST_F(ServeTest, PayloadCacheAnswersRepeatsAndStartsEmptyForANewSnapshot) {
  ServeOptions o = testing::FastServeOptions();
  o.cache_mb = 1;
  o.api_key = "k";
  o.poll_ms = 60'000;  // switches only on the admin reload below
  testing::TestSnapshotOptions snap;
  snap.versioned_items = true;
  snap.users = 4;
  StartServer(o, true, snap);
  for (int i = 0; i < 3; ++i) {
    HttpReply r = Get("/v1/users/u1/recommendations");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, testing::VersionedUserPayload(1, version_));
  }
  EXPECT_EQ(Get("/v1/users/ghost/recommendations").status, 404);
  EXPECT_EQ(Get("/v1/users/ghost/recommendations").status, 404);  // a cached NotFound
  std::string page = Get("/metrics").body;
  EXPECT_EQ(Metric(page, "encore_payload_cache_requests_total{result=\"hit\"}"), 3) << page;
  EXPECT_GT(Metric(page, "encore_payload_cache_entries"), 0) << page;

  const uint64_t v2 = testing::WriteTestSnapshot(store_.get(), snap);
  ASSERT_EQ(Post("/v1/admin/reload", "", {"Authorization: Bearer k"}).status, 200);
  HttpReply r = Get("/v1/users/u1/recommendations");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, testing::VersionedUserPayload(1, v2));  // never the cached v1 payload
  page = Get("/metrics").body;
  EXPECT_EQ(Metric(page, "encore_payload_cache_requests_total{result=\"hit\"}"), 0) << page;
}

TEST_F(ServeTest, LivePayloadsAreReadFirstUnlessTurnedOff) {
  for (bool live_on : {true, false}) {
    SCOPED_TRACE(live_on ? "live payloads on" : "live payloads off");
    ServeOptions o = testing::FastServeOptions();
    o.live_payloads = live_on;
    testing::TestSnapshotOptions snap;
    snap.versioned_items = true;
    snap.users = 4;
    StartServer(o, true, snap);
    auto live = store_->OpenLive();
    ASSERT_TRUE(live.ok()) << live.status().ToString();
    LiveStore::Entry e;
    e.kind = LiveStore::Entry::Kind::kPayload;
    e.version = version_;
    e.key = "u2";
    e.value = "{\"user\":\"u2\",\"live\":true}";
    ASSERT_TRUE((*live)->Write({e}).ok());
    HttpReply r = Get("/v1/users/u2/recommendations");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, live_on ? e.value : testing::VersionedUserPayload(2, version_));
    TearDown();
  }
}

// Polls `done` until it holds or 20 s passed (no sleep decides a result).
bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// The default Redis server caches live lookups (found or not) and still
// serves a live write once Redis reports it, and a new snapshot's payload
// over a live one built on the old snapshot.
TEST_F(ServeTest, RedisLiveCacheServesLiveWritesAndNewSnapshots) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.Start().ok()) << "redis-server missing? run scripts/install-deps.sh";
  requested_store_uri_ = redis.Uri(0);
  ServeOptions o = testing::FastServeOptions();
  o.api_key = "k";
  o.poll_ms = 60'000;  // switches only on the admin reload below
  testing::TestSnapshotOptions snap;
  snap.versioned_items = true;
  snap.users = 4;
  StartServer(o, true, snap);
  ASSERT_TRUE(Eventually(
      [&] { return Metric(Get("/metrics").body, "encore_live_cache_connected") == 1; }));
  for (int i = 0; i < 3; ++i) {
    HttpReply r = Get("/v1/users/u2/recommendations");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, testing::VersionedUserPayload(2, version_));
  }
  std::string page = Get("/metrics").body;
  EXPECT_GE(Metric(page, "encore_live_cache_requests_total{result=\"hit\"}"), 2) << page;
  EXPECT_GE(Metric(page, "encore_live_cache_entries"), 1) << page;
  EXPECT_EQ(Metric(page, "encore_live_cache_connects_total"), 1) << page;

  // The stream consumer writes a live payload of u2 (negative-cached so far).
  auto live = store_->OpenLive();
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  LiveStore::Entry e;
  e.kind = LiveStore::Entry::Kind::kPayload;
  e.version = version_;
  e.key = "u2";
  e.value = "{\"user\":\"u2\",\"live\":1}";
  ASSERT_TRUE((*live)->Write({e}).ok());
  EXPECT_TRUE(Eventually([&] { return Get("/v1/users/u2/recommendations").body == e.value; }));
  EXPECT_GE(Metric(Get("/metrics").body, "encore_live_cache_invalidations_total"), 1);

  // A new snapshot: the live payload built over the old one is never shown.
  const uint64_t v2 = testing::WriteTestSnapshot(store_.get(), snap);
  ASSERT_EQ(Post("/v1/admin/reload", "", {"Authorization: Bearer k"}).status, 200);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(Get("/v1/users/u2/recommendations").body, testing::VersionedUserPayload(2, v2));
  }
  // The consumer rebuilds it over the new snapshot.
  e.version = v2;
  e.value = "{\"user\":\"u2\",\"live\":2}";
  ASSERT_TRUE((*live)->Write({e}).ok());
  EXPECT_TRUE(Eventually([&] { return Get("/v1/users/u2/recommendations").body == e.value; }));
  TearDown();  // the server goes before the Redis server
}

TEST_F(ServeTest, LiveCacheMustNotBeNegative) {
  ServeOptions o = testing::FastServeOptions();
  o.live_cache_mb = -2;
  auto store = Store::Open(testing::UniqueStoreUri());
  ASSERT_TRUE(store.ok());
  auto server = Server::Create(std::move(*store), o);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("--live-cache-mb"), std::string::npos);
}

TEST_F(ServeTest, NoPayloadCacheOnAnLmdbStoreByDefault) {
  testing::TempDir dir;
  requested_store_uri_ = dir.File("store");
  StartServer();
  EXPECT_EQ(Get("/v1/users/u1/recommendations").status, 200);
  EXPECT_EQ(Get("/metrics").body.find("encore_payload_cache"), std::string::npos);
  EXPECT_EQ(Get("/metrics").body.find("encore_live_cache"), std::string::npos);
  TearDown();
}

TEST_F(ServeTest, FoldInAndExplainRunOnTheComputeThreads) {
  ServeOptions o = testing::FastServeOptions();
  o.compute_threads = 1;
  o.compute_queue = 4;
  StartServer(o);
  HttpReply r = Post("/v1/recommendations", "{\"items\": [\"i1\", \"i2\"], \"limit\": 3}");
  EXPECT_EQ(r.status, 200) << r.body;
  const std::string page = Get("/metrics").body;
  EXPECT_EQ(Metric(page, "encore_compute_queue_depth"), 0) << page;
  EXPECT_EQ(Metric(page, "encore_compute_rejected_total"), 0) << page;
  EXPECT_EQ(Metric(page, "encore_http_requests_total{route=\"/v1/recommendations\",code=\"200\"}"),
            1)
      << page;
}

TEST_F(ServeTest, ComputeSettingsMustBePositive) {
  ServeOptions o = testing::FastServeOptions();
  o.compute_threads = 0;
  auto store = Store::Open(testing::UniqueStoreUri());
  ASSERT_TRUE(store.ok());
  auto server = Server::Create(std::move(*store), o);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("--compute-threads"), std::string::npos);
}

TEST_F(ServeTest, ResponsesCarryADateHeader) {
  StartServer();
  const std::time_t before = std::time(nullptr);
  HttpReply r = Get("/healthz");
  const std::time_t after = std::time(nullptr);
  ASSERT_EQ(r.status, 200);
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  const std::string date = r.Header("date");
  ASSERT_EQ(date.size(), 29u) << date;
  std::tm tm{};
  const char* end = strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  ASSERT_NE(end, nullptr) << date;
  EXPECT_EQ(*end, '\0') << date;
  const std::time_t sent = timegm(&tm);
  EXPECT_GE(sent, before - 1) << date;
  EXPECT_LE(sent, after + 1) << date;
  // Errors carry it too.
  EXPECT_EQ(Get("/nope").Header("date").size(), 29u);
}

// The read timeout bounds a request, the idle timeout the wait for the next
// one: a keep-alive connection that waits longer than the read timeout
// between requests stays open.
TEST_F(ServeTest, IdleKeepAliveOutlastsTheReadTimeout) {
  ServeOptions o = testing::FastServeOptions();
  o.read_timeout_ms = 200;
  o.idle_timeout_ms = 20'000;
  StartServer(o);
  HttpConnection c(port());
  ASSERT_EQ(c.Request("GET", "/healthz").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ASSERT_EQ(c.Request("GET", "/healthz").status, 200);
  // A request that stops halfway is cut off by the read timeout and counted
  // as a 408.
  ASSERT_TRUE(c.SendRaw("GET /healthz HTTP/1.1\r\nHos"));
  EXPECT_TRUE(c.WaitClosed(5000));
  EXPECT_NE(
      Get("/metrics").body.find("encore_http_requests_total{route=\"malformed\",code=\"408\"} 1\n"),
      std::string::npos);
}

TEST_F(ServeTest, IdleKeepAliveConnectionsAreClosed) {
  ServeOptions o = testing::FastServeOptions();
  o.read_timeout_ms = 5'000;
  o.idle_timeout_ms = 200;
  StartServer(o);
  HttpConnection c(port());
  ASSERT_EQ(c.Request("GET", "/healthz").status, 200);
  EXPECT_TRUE(c.WaitClosed(5000));
  // Idle closes are not requests: nothing counted as 408.
  EXPECT_EQ(Get("/metrics").body.find("code=\"408\""), std::string::npos);
}

// A Store whose OpenSnapshot waits until the test lets it go, so a reload
// can be held in progress.
class GatedStore : public Store {
 public:
  explicit GatedStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}
  const std::string& uri() const override { return inner_->uri(); }
  Result<std::unique_ptr<SnapshotWriter>> BeginSnapshot() override {
    return inner_->BeginSnapshot();
  }
  Result<std::vector<SnapshotInfo>> List() override { return inner_->List(); }
  Result<uint64_t> CurrentVersion() override { return inner_->CurrentVersion(); }
  Result<std::shared_ptr<const Snapshot>> OpenSnapshot(uint64_t version) override {
    std::unique_lock lock(mu_);
    if (gated_) {
      entered_ = true;
      cv_.notify_all();
      // The deadline is only a hang guard.
      cv_.wait_for(lock, std::chrono::seconds(20), [this] { return !gated_; });
    }
    return inner_->OpenSnapshot(version);
  }
  Status SetCurrent(uint64_t version) override { return inner_->SetCurrent(version); }
  Status Prune(uint32_t keep) override { return inner_->Prune(keep); }
  Result<std::unique_ptr<LiveStore>> OpenLive() override { return inner_->OpenLive(); }

  void Close() {
    std::lock_guard lock(mu_);
    gated_ = true;
  }
  void Open() {
    std::lock_guard lock(mu_);
    gated_ = false;
    cv_.notify_all();
  }
  bool WaitEntered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [this] { return entered_; });
  }

 private:
  std::unique_ptr<Store> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool gated_ = false;
  bool entered_ = false;
};

// Regression: with one io_context per thread, a reload answered on the
// worker's own thread would stall every connection of that worker.
TEST(ServeAdmin, ReloadInProgressDoesNotStallServing) {
  const std::string uri = testing::UniqueStoreUri();
  auto publisher = Store::Open(uri);
  ASSERT_TRUE(publisher.ok());
  const uint64_t v1 = testing::WriteTestSnapshot(publisher->get());
  auto inner = Store::Open(uri);
  ASSERT_TRUE(inner.ok());
  auto gated = std::make_unique<GatedStore>(std::move(inner).value());
  GatedStore* gate = gated.get();
  ServeOptions o = testing::FastServeOptions();
  o.threads = 1;  // one worker: a stall would stall everything
  o.api_key = "k";
  o.poll_ms = 60'000;
  auto server = Server::Create(std::move(gated), o);
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE((*server)->Start().ok());
  const uint16_t port = (*server)->port();

  const uint64_t v2 = testing::WriteTestSnapshot(publisher->get());
  gate->Close();
  HttpReply reload;
  std::thread admin([&] {
    reload = HttpFetch(port, "POST", "/v1/admin/reload", "", {"Authorization: Bearer k"});
  });
  ASSERT_TRUE(gate->WaitEntered());
  // The reload is stuck in the store; the worker still answers.
  HttpReply r = HttpFetch(port, "GET", "/v1/users/u1/recommendations");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("x-snapshot"), std::to_string(v1));
  EXPECT_EQ(HttpFetch(port, "GET", "/healthz").status, 200);
  gate->Open();
  admin.join();
  EXPECT_EQ(reload.status, 200) << reload.body;
  EXPECT_EQ(HttpFetch(port, "GET", "/readyz").Header("x-snapshot"), std::to_string(v2));
  (*server)->Stop();
  (*server)->Wait();
}

}  // namespace
}  // namespace encore
