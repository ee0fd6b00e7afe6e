// The server against hostile and broken clients: oversized or malformed
// requests get the right error status and never crash or hang it; slow and
// idle clients never hold up others. Every test ends by checking that the
// server still answers /healthz.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "serve_fixture.h"

namespace encore {
namespace {

using testing::HttpConnection;
using testing::HttpReply;
using testing::ServeTest;

class ServeHostileTest : public ServeTest {
 protected:
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(Get("/healthz").status, 200) << "the server stopped answering";
    }
    ServeTest::TearDown();
  }
  // Sends raw bytes on a fresh connection and reads one response.
  HttpReply Raw(const std::string& bytes) {
    HttpConnection c(port());
    HttpReply r;
    if (!c.SendRaw(bytes) || !c.ReadReply(&r)) r.status = 0;
    return r;
  }
};

TEST_F(ServeHostileTest, OversizedHeadersAre431) {
  StartServer();
  HttpReply r =
      Raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n");
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("connection"), "close");
  std::string many = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 600; ++i) many += "X-H" + std::to_string(i) + ": 1234567890\r\n";
  EXPECT_EQ(Raw(many + "\r\n").status, 431);
  // Fields sent one write at a time count together too.
  {
    HttpConnection c(port());
    ASSERT_TRUE(c.SendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
    HttpReply reply;
    for (int i = 0; i < 600 && c.SendRaw("X-H" + std::to_string(i) + ": 1234567890\r\n"); ++i) {
    }
    c.SendRaw("\r\n");
    EXPECT_TRUE(c.ReadReply(&reply));
    EXPECT_EQ(reply.status, 431);
  }
  // Just under the limit is fine.
  EXPECT_EQ(Raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(7000, 'a') + "\r\n\r\n")
                .status,
            200);
}

TEST_F(ServeHostileTest, OverLongTargetIs414) {
  StartServer();
  HttpReply r = Raw("GET /v1/users/" + std::string(10000, 'u') +
                    "/recommendations HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 414);
  EXPECT_NE(r.body.find("\"code\":414"), std::string::npos) << r.body;
}

TEST_F(ServeHostileTest, OversizedIdsAre414) {
  ServeOptions o = testing::FastServeOptions();
  o.max_id_bytes = 64;
  StartServer(o);
  EXPECT_EQ(Get("/v1/users/" + std::string(65, 'u') + "/recommendations").status, 414);
  EXPECT_EQ(Get("/v1/users/" + std::string(64, 'u') + "/recommendations").status, 404);
  // Decoded length counts: 30 x %41 is 30 bytes, fine; 65 x %41 is not.
  std::string encoded;
  for (int i = 0; i < 65; ++i) encoded += "%41";
  EXPECT_EQ(Get("/v1/items/" + encoded + "/similar").status, 414);
  EXPECT_EQ(Get("/v1/users/u1/recommendations?exclude=" + std::string(65, 'x')).status, 414);
}

TEST_F(ServeHostileTest, InvalidPercentEncodingIs400) {
  StartServer();
  for (const char* target :
       {"/v1/users/%zz/recommendations", "/v1/users/%4/recommendations",
        "/v1/users/u%/recommendations", "/v1/items/%G1/similar",
        "/v1/users/u1/recommendations?exclude=%zz", "/v1/users/u1/recommendations?limit=%3"}) {
    HttpReply r = Get(target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_NE(r.body.find("percent-encoding"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Get("/v1/users//recommendations").status, 400);
}

TEST_F(ServeHostileTest, BadMethodsAndTargets) {
  StartServer();
  HttpReply r = testing::HttpFetch(port(), "DELETE", "/v1/users/u1/recommendations");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("allow"), "GET, HEAD");
  EXPECT_EQ(testing::HttpFetch(port(), "BREW", "/healthz").status, 405);
  EXPECT_EQ(testing::HttpFetch(port(), "PUT", "/v1/admin/reload").status, 405);
  EXPECT_EQ(testing::HttpFetch(port(), "BREW", "/nowhere").status, 404);
  EXPECT_EQ(Raw("G@T /healthz HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(Raw("GET /healthz HTTP/9.9\r\n\r\n").status, 400);
  EXPECT_EQ(Raw("GET\r\n\r\n").status, 400);
  EXPECT_EQ(Raw("GET http://example.com/healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 400);
  EXPECT_EQ(Raw("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").status, 400);
  EXPECT_EQ(Raw("GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n").status, 400);
  EXPECT_EQ(Raw(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) +
                std::string(64, '\0') + "\r\n\r\n")
                .status,
            400);
  EXPECT_EQ(Get("/healthz/").status, 404);
  EXPECT_EQ(Get("/v1/users/u1").status, 404);
}

TEST_F(ServeHostileTest, BodiesTooLargeOrTruncated) {
  ServeOptions o = testing::FastServeOptions();
  o.max_body_bytes = 1000;
  StartServer(o);
  // Announced too large: refused before the body is read.
  HttpReply r =
      Raw("POST /v1/recommendations HTTP/1.1\r\nHost: x\r\nContent-Type: "
          "application/json\r\nContent-Length: 5000\r\n\r\n" +
          std::string(5000, ' '));
  EXPECT_EQ(r.status, 413);
  // Chunked beyond the limit.
  std::string chunked =
      "POST /v1/recommendations HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) chunked += "1f4\r\n" + std::string(500, ' ') + "\r\n";
  EXPECT_EQ(Raw(chunked + "0\r\n\r\n").status, 413);
  // Content-Length larger than what is sent, then the client closes.
  {
    HttpConnection c(port());
    ASSERT_TRUE(
        c.SendRaw("POST /v1/recommendations HTTP/1.1\r\nHost: x\r\nContent-Type: "
                  "application/json\r\nContent-Length: 100\r\n\r\n{\"items\":"));
    c.ShutdownWrite();
    EXPECT_TRUE(c.WaitClosed(5000));
  }
  // ... or just stops sending: the read timeout closes it.
  {
    HttpConnection c(port());
    ASSERT_TRUE(
        c.SendRaw("POST /v1/recommendations HTTP/1.1\r\nHost: x\r\nContent-Type: "
                  "application/json\r\nContent-Length: 100\r\n\r\n{\"items\":"));
    EXPECT_TRUE(c.WaitClosed(5000));
  }
  EXPECT_EQ(
      Raw("POST /v1/recommendations HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n").status,
      400);
}

TEST_F(ServeHostileTest, InvalidJsonAndWrongTypes) {
  StartServer();
  for (const char* body : {"{", "nul", "{\"items\": [\"i1\",]}", "\xff\xfe", "[[[[[[[[[["}) {
    EXPECT_EQ(Post("/v1/recommendations", body).status, 400) << body;
  }
  for (const char* body : {"{\"items\": {\"a\": 1}}", "{\"items\": [null]}", "{\"items\": true}",
                           "{\"items\": [\"i1\"], \"limit\": 2.5}", "\"text\"", "42"}) {
    EXPECT_EQ(Post("/v1/recommendations", body).status, 422) << body;
  }
  // Deeply nested JSON is refused, not recursed into.
  EXPECT_EQ(Post("/v1/recommendations", std::string(100000, '[')).status, 400);
}

TEST_F(ServeHostileTest, HugeNegativeAndGarbageLimits) {
  StartServer();
  for (const char* q : {"limit=1001", "limit=99999999999999999999999", "limit=-1", "limit=0",
                        "limit=abc", "limit=", "limit=1e3", "limit=+5", "limit=%205", "offset=-1",
                        "offset=x", "offset=99999999999"}) {
    HttpReply r = Get(std::string("/v1/users/u1/recommendations?") + q);
    EXPECT_EQ(r.status, 400) << q << ": " << r.body;
  }
  EXPECT_EQ(Get("/v1/users/u1/recommendations?limit=1000").status, 200);
  EXPECT_EQ(Get("/v1/items/i1/similar?limit=5000").status, 400);
}

TEST_F(ServeHostileTest, SlowClientsDoNotBlockOthers) {
  StartServer();  // 2 threads, 300 ms read timeout
  // Connect and send nothing; send a request one byte at a time; stop halfway.
  std::vector<std::unique_ptr<HttpConnection>> silent;
  for (int i = 0; i < 4; ++i) silent.push_back(std::make_unique<HttpConnection>(port()));
  HttpConnection partial(port());
  ASSERT_TRUE(partial.SendRaw("GET /v1/users/u1/recomm"));
  std::thread trickle([this] {
    HttpConnection c(port());
    const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    for (char ch : req) {
      if (!c.SendRaw(std::string(1, ch))) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(40));
    }
  });
  // Meanwhile, other clients are answered.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(Get("/v1/users/u" + std::to_string(i) + "/recommendations").status, 200);
  }
  trickle.join();
  // The slow ones are cut off by the read timeout.
  EXPECT_TRUE(partial.WaitClosed(5000));
  for (auto& c : silent) EXPECT_TRUE(c->WaitClosed(5000));
}

TEST_F(ServeHostileTest, ManyIdleConnections) {
  ServeOptions o = testing::FastServeOptions();
  o.idle_timeout_ms = 60'000;
  StartServer(o);
  std::vector<std::unique_ptr<HttpConnection>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<HttpConnection>(port()));
    ASSERT_TRUE(idle.back()->connected());
  }
  // Half of them made a request and now idle between keep-alive requests.
  for (int i = 0; i < 200; i += 2) {
    ASSERT_EQ(idle[i]->Request("GET", "/healthz").status, 200);
  }
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Get("/v1/users/u1/recommendations").status, 200);
  HttpReply m = Get("/metrics");
  EXPECT_NE(m.body.find("encore_http_connections_active "), std::string::npos);
}

TEST_F(ServeHostileTest, WrongOrMissingAdminKeys) {
  ServeOptions o = testing::FastServeOptions();
  o.api_key = "0123456789abcdef";
  StartServer(o);
  EXPECT_EQ(Post("/v1/admin/reload", "", {}).status, 401);
  EXPECT_EQ(Post("/v1/admin/reload", "", {"Authorization: "}).status, 401);
  EXPECT_EQ(Post("/v1/admin/reload", "", {"Authorization: Bearer"}).status, 401);
  EXPECT_EQ(Post("/v1/admin/reload", "", {"Authorization: Token 0123456789abcdef"}).status, 401);
  for (size_t len : {0, 1, 15, 17, 64, 4000}) {
    std::string key = std::string(len, 'f');
    EXPECT_EQ(Post("/v1/admin/reload", "", {"Authorization: Bearer x" + key}).status, 403) << len;
  }
  EXPECT_EQ(Post("/v1/admin/reload", "", {"Authorization: Bearer 0123456789abcdeF"}).status, 403);
  EXPECT_EQ(Post("/v1/admin/reload", "", {"Authorization: Bearer 0123456789abcdef"}).status, 200);
}

TEST_F(ServeHostileTest, ExpectContinueIsHonoured) {
  StartServer();
  HttpConnection c(port());
  const std::string body = R"({"items": ["i1"], "limit": 2})";
  ASSERT_TRUE(
      c.SendRaw("POST /v1/recommendations HTTP/1.1\r\nHost: x\r\nContent-Type: "
                "application/json\r\nExpect: 100-continue\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n"));
  HttpReply interim;
  ASSERT_TRUE(c.ReadReply(&interim));
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(c.SendRaw(body));
  HttpReply r;
  ASSERT_TRUE(c.ReadReply(&r));
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
}  // namespace encore
