#include "serve_fixture.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>

#include "encore/ann.h"
#include "encore/rank.h"
#include "test_data.h"

namespace encore::testing {

namespace {

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string ItemsJson(const TrainedModel& model, const std::vector<ScoredItem>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ",";
    out += "{\"item\":" + Quote(model.items.Name(items[i].item)) +
           ",\"score\":" + ScoreText(items[i].score) + "}";
  }
  return out + "]";
}

}  // namespace

const TrainedModel& SharedModel() {
  static const TrainedModel* model = [] {
    Dataset data = MakeTestDataset();
    ModelParams p;
    p.factors = 8;
    p.iterations = 6;
    p.threads = 1;
    auto m = CreateRecommender("ials", p);
    ENCORE_CHECK(m.ok());
    ENCORE_CHECK((*m)->Fit(data).ok());
    return new TrainedModel{std::move(m).value(), std::move(data.users), std::move(data.items)};
  }();
  return *model;
}

std::string ScoreText(float score) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), score);
  return std::string(buf, end);
}

std::string UserPayload(const TrainedModel& model, uint32_t u, uint64_t version, uint32_t n) {
  QueryOptions q;
  q.n = n;
  return "{\"user\":" + Quote(model.users.Name(u)) + ",\"snapshot\":" + std::to_string(version) +
         ",\"items\":" + ItemsJson(model, Recommend(*model.model, u, q)) + "}";
}

std::string VersionedUserPayload(uint32_t u, uint64_t version) {
  std::string out = "{\"user\":\"u" + std::to_string(u) +
                    "\",\"snapshot\":" + std::to_string(version) + ",\"items\":[";
  for (uint32_t k = 0; k < 5; ++k) {
    if (k > 0) out += ",";
    out += "{\"item\":\"v" + std::to_string(version) + "-" + std::to_string(u) + "-" +
           std::to_string(k) + "\",\"score\":" + std::to_string(5 - k) + "}";
  }
  return out + "]}";
}

uint64_t WriteTestSnapshot(Store* store, const TestSnapshotOptions& o) {
  auto writer = store->BeginSnapshot();
  ENCORE_CHECK(writer.ok());
  const uint64_t v = (*writer)->info().version;
  auto put = [&](Table t, std::string_view key, const std::string& value) {
    Status s = (*writer)->Put(t, key, value);
    ENCORE_CHECK(s.ok());
  };
  if (o.versioned_items) {
    for (uint32_t u = 0; u < o.users; ++u) {
      put(Table::kUser, "u" + std::to_string(u), VersionedUserPayload(u, v));
    }
    put(Table::kMeta, "popular",
        "{\"snapshot\":" + std::to_string(v) +
            ",\"fallback\":\"popular\",\"items\":[{\"item\":\"v" + std::to_string(v) +
            "-popular\",\"score\":1}]}");
    ENCORE_CHECK((*writer)->Commit().ok());
    return v;
  }
  const TrainedModel& model = SharedModel();
  for (uint32_t u = 0; u < model.users.size(); ++u) {
    put(Table::kUser, model.users.Name(u), UserPayload(model, u, v, o.n));
  }
  // An id that needs percent-encoding in a URL.
  put(Table::kUser, "a b/\xc3\xbc%,+?",
      "{\"user\":\"a b/\xc3\xbc%,+?\",\"snapshot\":" + std::to_string(v) +
          ",\"items\":[{\"item\":\"i1\",\"score\":2},{\"item\":\"x,y\",\"score\":1}]}");
  for (uint32_t i = 0; i < model.items.size(); ++i) {
    std::vector<ScoredItem> similar;
    if (!model.model->SimilarItems(i, o.n, &similar).ok()) continue;
    put(Table::kSimilar, model.items.Name(i),
        "{\"item\":" + Quote(model.items.Name(i)) + ",\"snapshot\":" + std::to_string(v) +
            ",\"similar\":" + ItemsJson(model, similar) + "}");
  }
  if (o.popular) {
    // Items by training count, best first.
    const CsrMatrix& seen = model.model->seen();
    std::vector<ScoredItem> counts(model.items.size());
    for (uint32_t i = 0; i < counts.size(); ++i) counts[i].item = i;
    for (uint32_t idx : seen.indices) counts[idx].score += 1;
    std::stable_sort(counts.begin(), counts.end(),
                     [](const ScoredItem& a, const ScoredItem& b) { return a.score > b.score; });
    counts.resize(20);
    put(Table::kMeta, "popular",
        "{\"snapshot\":" + std::to_string(v) +
            ",\"fallback\":\"popular\",\"items\":" + ItemsJson(model, counts) + "}");
  }
  if (o.info) {
    put(Table::kMeta, "info",
        "{\"snapshot\":" + std::to_string(v) +
            ",\"created\":\"2026-11-24T08:00:00Z\",\"model\":{\"kind\":\"ials\",\"params\":"
            "{\"factors\":8}},\"counts\":{\"users\":" +
            std::to_string(model.users.size()) +
            ",\"items\":" + std::to_string(model.items.size()) +
            ",\"interactions\":" + std::to_string(model.model->seen().nnz()) + "}}");
  }
  if (o.model) {
    const std::string bytes = SerializeModel(model);
    put(Table::kMeta, "model", bytes);
    if (o.ann) {
      AnnOptions ann;
      ann.threads = 1;
      auto index = AnnIndex::Build(*model.model, ann);
      ENCORE_CHECK(index.ok());
      uint32_t crc = 0;
      std::memcpy(&crc, bytes.data() + bytes.size() - 4, 4);
      put(Table::kMeta, "ann", (*index)->Serialize(crc));
    }
  }
  ENCORE_CHECK((*writer)->Commit().ok());
  return v;
}

std::string UniqueStoreUri() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string("memory:") + (info ? info->test_suite_name() : "x") + "." +
         (info ? info->name() : "x") + "." + std::to_string(counter++);
}

ServeOptions FastServeOptions() {
  ServeOptions o;
  o.port = 0;
  o.threads = 2;
  o.read_timeout_ms = 300;
  o.idle_timeout_ms = 2000;
  o.drain_timeout_ms = 2000;
  o.poll_ms = 50;
  return o;
}

void ServeTest::StartServer(const ServeOptions& options, bool publish,
                            const TestSnapshotOptions& snapshot) {
  store_uri_ = requested_store_uri_.empty() ? UniqueStoreUri() : requested_store_uri_;
  auto store = Store::Open(store_uri_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  store_ = std::move(store).value();
  if (publish) version_ = WriteTestSnapshot(store_.get(), snapshot);
  auto serving_store = Store::Open(store_uri_);
  ASSERT_TRUE(serving_store.ok());
  auto server = Server::Create(std::move(serving_store).value(), options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  server_ = std::move(server).value();
  Status s = server_->Start();
  ASSERT_TRUE(s.ok()) << s.ToString();
}

void ServeTest::TearDown() {
  if (server_) {
    server_->Stop();
    server_->Wait();
    server_.reset();
  }
}

simdjson::dom::element ParseJson(simdjson::dom::parser& parser, const std::string& text) {
  simdjson::dom::element e;
  auto error = parser.parse(text).get(e);
  EXPECT_EQ(error, simdjson::SUCCESS) << "not JSON: " << text;
  return e;
}

}  // namespace encore::testing
