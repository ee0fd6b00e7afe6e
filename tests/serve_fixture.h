// Shared set-up of the HTTP server tests: a small trained model, snapshots
// written the way `encore publish` lays them out (include/encore/publish.h),
// and a server on a free loopback port with short timeouts.

#ifndef ENCORE_TESTS_SERVE_FIXTURE_H_
#define ENCORE_TESTS_SERVE_FIXTURE_H_

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "encore/recommender.h"
#include "encore/serve.h"
#include "encore/store.h"
#include "http_test_client.h"

namespace encore::testing {

// What a test snapshot holds.
struct TestSnapshotOptions {
  uint32_t n = 10;      // items per user payload
  bool model = true;    // meta "model"
  bool popular = true;  // meta "popular"
  bool info = true;     // meta "info"
  bool ann = false;     // meta "ann": the model's approximate index (needs model)
  // When set, payloads are synthetic and encode the version: user u's items
  // are "v<V>-<u>-<k>" (no model needed). For publish-while-serving.
  bool versioned_items = false;
  uint32_t users = 0;  // versioned_items: how many users ("u0"...)
};

// The trained model every test shares (ials on MakeTestDataset, fixed seed).
const TrainedModel& SharedModel();

// `score` as the server prints it (shortest float round trip).
std::string ScoreText(float score);

// The user payload a test snapshot stores for user index `u`.
std::string UserPayload(const TrainedModel& model, uint32_t u, uint64_t version, uint32_t n);
// The synthetic payload of user `u` under versioned_items.
std::string VersionedUserPayload(uint32_t u, uint64_t version);

// Writes and commits one snapshot; returns its version.
uint64_t WriteTestSnapshot(Store* store, const TestSnapshotOptions& options = {});

// A unique "memory:..." store URI for the running test.
std::string UniqueStoreUri();

// Options with short timeouts, port 0 and two threads.
ServeOptions FastServeOptions();

class ServeTest : public ::testing::Test {
 protected:
  void TearDown() override;
  // Opens a fresh store (publishing a snapshot unless told not to) and
  // starts a server on it.
  void StartServer(const ServeOptions& options = FastServeOptions(), bool publish = true,
                   const TestSnapshotOptions& snapshot = {});
  uint16_t port() const { return server_->port(); }
  HttpReply Get(const std::string& target, const std::vector<std::string>& headers = {}) {
    return HttpFetch(port(), "GET", target, "", headers);
  }
  HttpReply Post(const std::string& target, const std::string& body,
                 const std::vector<std::string>& headers = {"Content-Type: application/json"}) {
    return HttpFetch(port(), "POST", target, body, headers);
  }

  std::string requested_store_uri_;  // set before StartServer; default a fresh memory: store
  std::string store_uri_;
  std::unique_ptr<Store> store_;  // the publisher's handle
  std::unique_ptr<Server> server_;
  uint64_t version_ = 0;  // the snapshot StartServer published
};

// Parses `text` as JSON into `doc` (the parser must outlive the element);
// fails the test when it is not JSON.
simdjson::dom::element ParseJson(simdjson::dom::parser& parser, const std::string& text);

}  // namespace encore::testing

#endif  // ENCORE_TESTS_SERVE_FIXTURE_H_
