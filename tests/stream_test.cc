// End-to-end tests of live events with a real redis-server: POST /v1/events
// on `encore serve`, the `encore stream` consumer, and the served lists;
// idempotent replays; kill -9 of the consumer while events flow.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "encore/dataset.h"
#include "encore/obfuscate.h"
#include "encore/publish.h"
#include "encore/rank.h"
#include "encore/reader.h"
#include "encore/serve.h"
#include "http_test_client.h"
#include "redis_server.h"
#include "serve_fixture.h"
#include "stream/redis_events.h"
#include "test_util.h"

namespace encore::testing {
namespace {

constexpr char kWeights[] = "view=1,cart=3,purchase=10";

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok()) << "redis-server missing? run scripts/install-deps.sh";
    store_uri_ = dir_.File("store");
    auto store = Store::Open(store_uri_);
    ASSERT_TRUE(store.ok());
    PublishOptions po;
    po.n = 5;
    auto published = Publish(SharedModel(), po, store->get());
    ASSERT_TRUE(published.ok()) << published.status().ToString();
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  void StartServer() {
    ServeOptions o = FastServeOptions();
    o.api_key = "sekrit-key";
    o.events_redis = redis_.Uri();
    o.events_stream = "events";
    o.event_types = {"view", "cart", "purchase"};
    o.max_body_bytes = 64 * 1024;
    auto store = Store::OpenExisting(store_uri_);
    ASSERT_TRUE(store.ok());
    auto server = Server::Create(std::move(store).value(), o);
    ASSERT_TRUE(server.ok());
    server_ = std::move(server).value();
    ASSERT_TRUE(server_->Start().ok());
  }

  HttpReply Post(const std::string& body, const std::string& key = "sekrit-key") {
    return HttpFetch(server_->port(), "POST", "/v1/events", body,
                     {"Content-Type: application/json", "Authorization: Bearer " + key});
  }
  HttpReply Get(const std::string& target) { return HttpFetch(server_->port(), "GET", target); }

  // Runs the consumer until the stream has been idle for a moment.
  CommandResult Consume(const std::string& group = "g", const std::string& extra = "") {
    return RunEncore("stream --store " + store_uri_ + " --redis " + redis_.Uri() +
                     " --stream events --group " + group + " --weights " + kWeights +
                     " --idle-exit-ms 400 " + extra);
  }

  std::string DumpTotals() {
    CommandResult r =
        RunEncore("stream --store " + store_uri_ + " --dump-totals - --weights " + kWeights);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  RedisServer redis_;
  TempDir dir_;
  std::string store_uri_;
  std::unique_ptr<Server> server_;
};

// Items of a served list, in order.
std::vector<std::string> Items(const std::string& payload) {
  std::vector<std::string> items;
  size_t pos = 0;
  while ((pos = payload.find("{\"item\":\"", pos)) != std::string::npos) {
    pos += 9;
    items.push_back(payload.substr(pos, payload.find('"', pos) - pos));
  }
  return items;
}

// ISO 8601 UTC time `hours` before now (event times within the consumer's
// default id retention of 7 days, whatever the date the test runs).
std::string IsoHoursAgo(int hours) {
  const time_t t = ::time(nullptr) - hours * 3600;
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

TEST_F(StreamTest, EventsToServedListsEndToEnd) {
  StartServer();
  // A known user's list, and its top item.
  HttpReply before = Get("/v1/users/u3/recommendations");
  ASSERT_EQ(before.status, 200) << before.body;
  const std::vector<std::string> before_items = Items(before.body);
  ASSERT_FALSE(before_items.empty());
  const std::string top = before_items[0];
  EXPECT_EQ(Get("/v1/users/newbie/recommendations").status, 404);

  // Good and malformed events in one batch: the good ones are kept.
  const std::string huge(100'000, 'x');
  HttpReply posted = Post(
      "[{\"user\":\"u3\",\"item\":\"" + top +
      "\",\"event\":\"purchase\",\"id\":\"p1\"},"
      "{\"user\":\"newbie\",\"item\":\"i5\",\"event\":\"view\",\"ts\":\"" +
      IsoHoursAgo(1) +
      "\"},"
      "{\"user\":\"newbie\",\"event\":\"view\"},"
      "{\"user\":\"nb\",\"item\":\"i5\",\"event\":\"teleport\"},"
      "{\"user\":\"bad\\u0007id\",\"item\":\"i5\",\"event\":\"view\"},"
      "{\"user\":\"nb\",\"item\":\"i5\",\"event\":\"view\",\"id\":\"" +
      std::string(300, 'z') +
      "\"},"
      "\"not an object\","
      "{\"user\":\"newbie\",\"item\":\"i6\",\"event\":\"cart\",\"quantity\":2,\"price\":3.5}]");
  ASSERT_EQ(posted.status, 202) << posted.body;
  EXPECT_NE(posted.body.find("\"accepted\":3"), std::string::npos) << posted.body;
  for (const char* expected :
       {"{\"index\":2,\"field\":\"item\",\"reason\":\"missing\"}",
        "\"index\":3,\"field\":\"event\"",
        "\"index\":4,\"field\":\"user\",\"reason\":\"control character 0x07 at byte 3\"}",
        "\"index\":5,\"field\":\"id\",\"reason\":\"300 bytes, at most 256\"}",
        "\"index\":6,\"field\":\"\",\"reason\":\"not a JSON object\"}"}) {
    EXPECT_NE(posted.body.find(expected), std::string::npos) << expected << "\n" << posted.body;
  }
  // Whole-body failures: bad JSON, a huge body, no key, a wrong key.
  EXPECT_EQ(Post("[{\"user\":").status, 400);
  EXPECT_EQ(Post("{\"user\":\"u\"}").status, 400);
  EXPECT_EQ(Post("[{\"user\":\"" + huge + "\"}]").status, 413);
  EXPECT_EQ(Post("[]", "wrong").status, 403);
  EXPECT_EQ(HttpFetch(server_->port(), "POST", "/v1/events", "[]").status, 401);
  EXPECT_EQ(Post("[{\"user\":\"nb\",\"item\":\"i5\",\"event\":\"teleport\"}]").status, 400);

  // Nothing changes until the consumer runs: events are not applied on the serving thread.
  EXPECT_EQ(Get("/v1/users/u3/recommendations").body, before.body);
  CommandResult consumed = Consume();
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  EXPECT_NE(consumed.err.find("3 received, 3 applied"), std::string::npos) << consumed.err;

  // The running server shows the live lists without a restart.
  HttpReply after = Get("/v1/users/u3/recommendations");
  ASSERT_EQ(after.status, 200);
  const std::vector<std::string> after_items = Items(after.body);
  EXPECT_FALSE(after_items.empty());
  EXPECT_EQ(std::find(after_items.begin(), after_items.end(), top), after_items.end())
      << "the purchased item is still recommended: " << after.body;
  HttpReply fresh = Get("/v1/users/newbie/recommendations");
  ASSERT_EQ(fresh.status, 200) << fresh.body;
  const std::vector<std::string> fresh_items = Items(fresh.body);
  EXPECT_EQ(fresh_items.size(), 5u);
  for (const char* seen : {"i5", "i6"}) {
    EXPECT_EQ(std::find(fresh_items.begin(), fresh_items.end(), seen), fresh_items.end());
  }
  // Slicing works on live payloads as on published ones.
  HttpReply sliced = Get("/v1/users/newbie/recommendations?limit=2");
  EXPECT_EQ(Items(sliced.body).size(), 2u);
  // The consumer's metrics are on the server's /metrics page.
  HttpReply metrics = Get("/metrics");
  EXPECT_NE(metrics.body.find("encore_stream_events_applied_total 3"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("encore_stream_event_to_served_seconds_count 3"), std::string::npos);
  EXPECT_NE(metrics.body.find("encore_stream_consumer_lag 0"), std::string::npos);

  // Replay: a new consumer group reads the whole stream again; nothing changes.
  const std::string totals = DumpTotals();
  EXPECT_NE(totals.find("newbie,i6,cart,1\nnewbie,i6,*,6\n"), std::string::npos) << totals;
  CommandResult replay = Consume("replay");
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_NE(replay.err.find("0 applied, 3 duplicates"), std::string::npos) << replay.err;
  EXPECT_EQ(DumpTotals(), totals);
  EXPECT_EQ(Get("/v1/users/newbie/recommendations").body, fresh.body);
}

// Lambda end to end: events through Redis carry their entry ids; a batch
// snapshot published with --high-water-mark at e3's id while the consumer is
// stopped; the next consumer run serves exactly the new snapshot plus the
// events after the mark (user "lam" is not in the batch model, so that is
// the fold-in of e4..e6 alone, then e4..e7).
TEST_F(StreamTest, LambdaSwitchServesExactlyTheEventsAfterTheMark) {
  StartServer();
  auto log = stream::RedisEventLog::Open(redis_.Uri(), "events");
  ASSERT_TRUE(log.ok());
  using Entry = std::vector<std::pair<std::string, std::string>>;
  auto entry = [](const std::string& item, const std::string& type) {
    return Entry{{"user", "lam"}, {"item", item}, {"event", type}};
  };
  const std::vector<Entry> events = {entry("i1", "view"), entry("i2", "purchase"),
                                     entry("i1", "cart"), entry("i3", "view"),
                                     entry("i4", "cart"), entry("i1", "purchase")};
  std::vector<std::string> ids;
  ASSERT_TRUE((*log)->Append(events, &ids).ok());
  ASSERT_EQ(ids.size(), 6u);
  const std::map<std::string, float> w = {{"view", 1}, {"cart", 3}, {"purchase", 10}};
  const TrainedModel& model = SharedModel();
  ASSERT_FALSE(model.users.Find("lam").has_value());
  // The list the batch encoder makes of the fold-in of events[from, to).
  auto expected = [&](uint64_t version, size_t from, const std::vector<Entry>& evs) {
    std::map<uint32_t, float> sum;
    for (size_t k = from; k < evs.size(); ++k) {
      auto i = model.items.Find(evs[k][1].second);
      EXPECT_TRUE(i.has_value());
      if (i) sum[*i] += w.at(evs[k][2].second);
    }
    std::vector<ItemWeight> items;
    for (const auto& [i, v] : sum) items.push_back({i, v});
    QueryOptions q;
    q.n = 5;
    std::string out;
    EXPECT_TRUE(
        BuildFoldInUserPayload(model, Ranker(*model.model), "lam", version, items, q, &out).ok());
    return Items(out);
  };
  CommandResult consumed = Consume();
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  HttpReply before = Get("/v1/users/lam/recommendations");
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_EQ(Items(before.body), expected(1, 0, events));

  // The batch run: its data holds e1..e3 (the mark), published while no consumer runs.
  {
    auto store = Store::OpenExisting(store_uri_);
    ASSERT_TRUE(store.ok());
    PublishOptions po;
    po.n = 5;
    po.high_water = "id:" + ids[2];
    auto published = Publish(model, po, store->get());
    ASSERT_TRUE(published.ok()) << published.status().ToString();
    ASSERT_EQ(published->snapshot.version, 2u);
  }
  consumed = Consume();
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  HttpReply after = Get("/v1/users/lam/recommendations");
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_NE(after.body.find("\"snapshot\":2"), std::string::npos) << after.body;
  const std::vector<std::string> after_items = Items(after.body);
  EXPECT_EQ(after_items, expected(2, 3, events));
  EXPECT_NE(after_items, expected(2, 0, events)) << "the check cannot tell e1..e3 twice";

  // A later event adds to e4..e6, and the covered ones do not come back.
  std::vector<Entry> more = events;
  more.push_back(entry("i5", "cart"));
  ASSERT_TRUE((*log)->Append({more.back()}, &ids).ok());
  consumed = Consume();
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  HttpReply last = Get("/v1/users/lam/recommendations");
  ASSERT_EQ(last.status, 200) << last.body;
  EXPECT_EQ(Items(last.body), expected(2, 3, more));
}

TEST_F(StreamTest, MalformedStreamEntriesAreRejectedAndAcknowledged) {
  auto log = stream::RedisEventLog::Open(redis_.Uri(), "events");
  ASSERT_TRUE(log.ok());
  std::vector<std::string> ids;
  ASSERT_TRUE((*log)
                  ->Append({{{"user", "a"}, {"item", "i1"}, {"event", "view"}},
                            {{"user", "a"}, {"event", "view"}},
                            {{"user", "a"}, {"item", "i2"}, {"event", "refund"}},
                            {{"user", "a\x1b"}, {"item", "i2"}, {"event", "view"}},
                            {{"user", "a"}, {"item", "i3"}, {"event", "cart"}, {"ts", "soon"}},
                            {{"user", "a"}, {"item", "i4"}, {"event", "cart"}}},
                           &ids)
                  .ok());
  CommandResult r = Consume();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("6 received, 2 applied, 0 duplicates, 4 rejected"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("field 'event': unknown event type 'refund'"), std::string::npos) << r.err;
  StartServer();
  EXPECT_NE(Get("/metrics").body.find("encore_stream_events_dead_lettered_total 4"),
            std::string::npos);
  // Rejected entries are acknowledged too: a restart does not see them again.
  CommandResult again = Consume();
  EXPECT_NE(again.err.find("0 received"), std::string::npos) << again.err;
  EXPECT_EQ(DumpTotals(), "a,i1,view,1\na,i1,*,1\na,i4,cart,1\na,i4,*,3\n");

  // ... after being written to the dead-letter stream (default events:dead),
  // each with its fields as sent, the reason and where it came from.
  auto dead = stream::RedisEventLog::Open(redis_.Uri(), "events:dead");
  ASSERT_TRUE(dead.ok());
  std::vector<stream::StreamEntry> letters;
  ASSERT_TRUE((*dead)->Range("0", 100, &letters).ok());
  ASSERT_EQ(letters.size(), 4u);
  using Fields = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(letters[0].fields, (Fields{{"user", "a"},
                                       {"event", "view"},
                                       {"reason", "missing"},
                                       {"field", "item"},
                                       {"detail", "missing"},
                                       {"source_stream", "events"},
                                       {"source_id", ids[1]}}));
  EXPECT_EQ(letters[1].fields[2], (std::pair<std::string, std::string>{"event", "refund"}));
  EXPECT_EQ(letters[1].fields[3].second, "unknown_event_type");
  EXPECT_EQ(letters[2].fields[0], (std::pair<std::string, std::string>{"user", "a\x1b"}));
  EXPECT_EQ(letters[2].fields.back().second, ids[3]);
  EXPECT_EQ(letters[3].fields[3], (std::pair<std::string, std::string>{"ts", "soon"}));
  EXPECT_EQ(letters[3].fields[4].second, "bad_time");
}

// --dead-letter KEY and none; the event stream itself is refused.
TEST_F(StreamTest, DeadLetterStreamCanBeNamedOrTurnedOff) {
  auto log = stream::RedisEventLog::Open(redis_.Uri(), "events");
  ASSERT_TRUE(log.ok());
  std::vector<std::string> ids;
  ASSERT_TRUE((*log)->Append({{{"user", "a"}, {"event", "view"}}}, &ids).ok());
  CommandResult same = Consume("g", "--dead-letter events");
  EXPECT_NE(same.exit_code, 0);
  EXPECT_NE(same.err.find("is the event stream itself"), std::string::npos) << same.err;
  CommandResult off = Consume("g", "--dead-letter none");
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_NE(off.err.find("1 rejected"), std::string::npos) << off.err;
  ASSERT_TRUE((*log)->Append({{{"user", "b"}, {"event", "view"}}}, &ids).ok());
  CommandResult named = Consume("g", "--dead-letter rejects");
  ASSERT_EQ(named.exit_code, 0) << named.err;
  for (const auto& [key, expected] : {std::pair{"events:dead", 0}, {"rejects", 1}}) {
    auto dead = stream::RedisEventLog::Open(redis_.Uri(), key);
    ASSERT_TRUE(dead.ok());
    EXPECT_EQ((*dead)->Length().value(), expected) << key;
  }
}

// An event older than the retention of applied ids is rejected (too_old),
// named with its entry id and field, counted by reason on /metrics; the
// others in the same batch are applied.
TEST_F(StreamTest, EventsOlderThanTheIdRetentionAreRejectedAsTooOld) {
  auto log = stream::RedisEventLog::Open(redis_.Uri(), "events");
  ASSERT_TRUE(log.ok());
  std::vector<std::string> ids;
  ASSERT_TRUE((*log)
                  ->Append({{{"user", "a"},
                             {"item", "i1"},
                             {"event", "view"},
                             {"id", "x1"},
                             {"ts", "2020-01-01T00:00:00Z"}},
                            {{"user", "a"},
                             {"item", "i2"},
                             {"event", "view"},
                             {"id", "x2"},
                             {"ts", IsoHoursAgo(2)}},
                            {{"user", "a"}, {"item", "i3"}, {"event", "cart"}}},
                           &ids)
                  .ok());
  CommandResult r = Consume("g", "--dedup-retention 1d");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("3 received, 2 applied, 0 duplicates, 1 rejected"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("rejected " + ids[0] +
                       ": field 'ts': event time 2020-01-01T00:00:00Z, older than the retention "
                       "of applied ids (86400 s)"),
            std::string::npos)
      << r.err;
  StartServer();
  HttpReply metrics = Get("/metrics");
  EXPECT_NE(metrics.body.find("encore_stream_events_rejected_total{reason=\"too_old\"} 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_EQ(DumpTotals(), "a,i2,view,1\na,i2,*,1\na,i3,cart,1\na,i3,*,3\n");
  auto dead = stream::RedisEventLog::Open(redis_.Uri(), "events:dead");
  ASSERT_TRUE(dead.ok());
  std::vector<stream::StreamEntry> letters;
  ASSERT_TRUE((*dead)->Range("0", 10, &letters).ok());
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].fields[5], (std::pair<std::string, std::string>{"reason", "too_old"}));
  EXPECT_EQ(letters[0].fields.back().second, ids[0]);
  // A bad retention is a clear error.
  CommandResult bad = Consume("g", "--dedup-retention 7days");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--dedup-retention: retention '7days' is not a duration"),
            std::string::npos)
      << bad.err;
}

// The file source, with the weights of the pipeline that trained the model.
TEST_F(StreamTest, EventsFileWithThePipelinesWeights) {
  const std::string events = dir_.File("events.jsonl");
  WriteFile(events,
            "{\"user\":\"u1\",\"item\":\"i2\",\"event\":\"purchase\",\"id\":\"o1\"}\n"
            "{\"user\":\"u1\",\"item\":\"i2\",\"event\":\"teleport\"}\n"
            "\n"
            "{\"user\":\"u1\",\"item\":\"i3\",\"event\":\"view\",\"quantity\":2}\n");
  const std::string pipeline = std::string(ENCORE_SOURCE_DIR) + "/examples/bigdatariver_batch.toml";
  CommandResult r =
      RunEncore("stream --store " + store_uri_ + " --events " + events + " --pipeline " + pipeline);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("3 received, 2 applied"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rejected line 2: field 'event': unknown event type 'teleport'; known: "
                       "cart, purchase, view, wishlist"),
            std::string::npos)
      << r.err;
  CommandResult dump = RunEncore("stream --store " + store_uri_ + " --dump-totals -");
  EXPECT_EQ(dump.out, "u1,i2,purchase,1\nu1,i2,*,3\nu1,i3,view,1\nu1,i3,*,2\n");
  // A flag overrides the pipeline: with --weights view=1 only views are accepted.
  CommandResult both = RunEncore("stream --store " + store_uri_ + " --events " + events +
                                 " --pipeline " + pipeline + " --weights view=1");
  ASSERT_EQ(both.exit_code, 0) << both.err;
  EXPECT_NE(both.err.find("3 received, 1 applied"), std::string::npos) << both.err;
  EXPECT_NE(both.err.find("rejected line 1: field 'event': unknown event type 'purchase'; known: "
                          "view"),
            std::string::npos)
      << both.err;
}

// A pipeline with obfuscated user ids and a [stream] section: `encore run`
// publishes the batch model under the hashed ids, `encore stream --pipeline`
// hashes the live events' raw ids with the same key, so a batch user's live
// list is their snapshot row plus their new events, under the same id.
TEST_F(StreamTest, PipelineStreamSectionObfuscatesLiveIdsAsTheBatch) {
  const std::string key = "a-test-obfuscation-key-0123456789";
  WriteFile(dir_.File("key.txt"), key + "\n");
  std::string csv = "user,item,event\n";
  for (int u = 0; u < 40; ++u) {
    for (int k = 0; k < 6; ++k) {
      csv += "shopper" + std::to_string(u) + ",item" + std::to_string((u * 7 + k * 3) % 30) +
             (k == 5 ? ",purchase\n" : ",view\n");
    }
  }
  WriteFile(dir_.File("events.csv"), csv);
  const std::string pipeline = dir_.File("live.toml");
  WriteFile(pipeline,
            "name = \"live\"\n"
            "[sources.events]\npath = \"events.csv\"\nobfuscate = [\"user\"]\n"
            "obfuscation_key_file = \"key.txt\"\n"
            "[prepare]\nweights = { view = 1, purchase = 5 }\n"
            "[models.m]\nkind = \"ials\"\nparams = { factors = 4, iterations = 5 }\n"
            "[outputs.serving]\nkind = \"publish\"\nmodel = \"m\"\nstore = \"live-store\"\n"
            "n = 5\n"
            "[stream]\nstore = \"live-store\"\nredis = \"" +
                redis_.Uri() + "\"\nstream = \"shop\"\ngroup = \"g\"\nbatch = 64\n");
  CommandResult dry = RunEncore("run " + pipeline + " --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("live events ([stream]; run by `encore stream --pipeline"),
            std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find(redis_.Uri() + " stream shop, group g, consumer encore-stream -> store " +
                         dir_.File("live-store")),
            std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("batch 64, window 20 ms"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("weights purchase=5, view=1 (from [prepare])"), std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("obfuscate user (key from file " + dir_.File("key.txt")),
            std::string::npos)
      << dry.out;
  CommandResult run = RunEncore("run " + pipeline);
  ASSERT_EQ(run.exit_code, 0) << run.err;

  const std::string shopper = Obfuscator(key).Hash("shopper3");
  const std::string newcomer = Obfuscator(key).Hash("newcomer");
  ServeOptions o = FastServeOptions();
  auto store = Store::OpenExisting(dir_.File("live-store"));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto server = Server::Create(std::move(store).value(), o);
  ASSERT_TRUE(server.ok());
  server_ = std::move(server).value();
  ASSERT_TRUE(server_->Start().ok());
  EXPECT_EQ(Get("/v1/users/shopper3/recommendations").status, 404) << "raw ids are not stored";
  HttpReply before = Get("/v1/users/" + shopper + "/recommendations");
  ASSERT_EQ(before.status, 200) << before.body;
  const std::vector<std::string> before_items = Items(before.body);
  ASSERT_FALSE(before_items.empty());
  const std::string top = before_items[0];

  // Live events carry the raw ids, as the batch input did.
  auto log = stream::RedisEventLog::Open(redis_.Uri(), "shop");
  ASSERT_TRUE(log.ok());
  using Entry = std::vector<std::pair<std::string, std::string>>;
  std::vector<std::string> ids;
  ASSERT_TRUE(
      (*log)
          ->Append({Entry{{"user", "shopper3"}, {"item", top}, {"event", "purchase"}, {"id", "o1"}},
                    Entry{{"user", "newcomer"}, {"item", "item4"}, {"event", "view"}}},
                   &ids)
          .ok());
  CommandResult consumed = RunEncore("stream --pipeline " + pipeline + " --idle-exit-ms 400");
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  EXPECT_NE(consumed.err.find("2 received, 2 applied"), std::string::npos) << consumed.err;
  CommandResult dump = RunEncore("stream --pipeline " + pipeline + " --dump-totals -");
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_NE(dump.out.find(shopper + "," + top + ",purchase,1\n" + shopper + "," + top + ",*,5\n"),
            std::string::npos)
      << dump.out;
  EXPECT_NE(dump.out.find(newcomer + ",item4,view,1\n"), std::string::npos) << dump.out;
  EXPECT_EQ(dump.out.find("shopper3"), std::string::npos) << dump.out;
  EXPECT_EQ(dump.out.find("newcomer"), std::string::npos) << dump.out;

  // The batch user's list is live now (snapshot row + purchase): the bought
  // item is gone, and so are the batch items (exclusion joins both).
  HttpReply after = Get("/v1/users/" + shopper + "/recommendations");
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_NE(after.body, before.body);
  const std::vector<std::string> after_items = Items(after.body);
  EXPECT_EQ(std::find(after_items.begin(), after_items.end(), top), after_items.end())
      << after.body;
  for (int k = 0; k < 6; ++k) {
    const std::string seen = "item" + std::to_string((3 * 7 + k * 3) % 30);
    EXPECT_EQ(std::find(after_items.begin(), after_items.end(), seen), after_items.end())
        << seen << " (a batch item) is recommended: " << after.body;
  }
  EXPECT_EQ(Get("/v1/users/" + newcomer + "/recommendations").status, 200);
  EXPECT_EQ(Get("/v1/users/newcomer/recommendations").status, 404);

  // A flag overrides the section: another (empty) stream, nothing applied.
  CommandResult other =
      RunEncore("stream --pipeline " + pipeline + " --stream nothing --idle-exit-ms 200");
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_NE(other.err.find("0 received, 0 applied"), std::string::npos) << other.err;
}

// Lambda through the pipeline (issue 12): `encore run` records the mark
// itself (the max event time of its prepared data) in the manifest and the
// snapshot; the consumer (--history snapshot+live) then folds in each user's
// snapshot row plus exactly the streamed events after the mark. Every user's
// served list equals the list of a batch recount of every event (batch file
// and stream): nothing lost, nothing counted twice.
TEST_F(StreamTest, PipelineRecordsTheHighWaterMarkAndTheStreamReplaysOnlyEventsAfterIt) {
  // All events in time order: 20 shoppers, 8 events each, interleaved, one a second.
  struct Ev {
    std::string user, item, type;
    int64_t ts;
  };
  const int64_t t0 = 1'700'000'000;
  std::vector<Ev> all;
  for (int k = 0; k < 8; ++k) {
    for (int u = 0; u < 20; ++u) {
      const char* type = k == 7 ? "purchase" : (k % 3 == 1 ? "cart" : "view");
      all.push_back({"s" + std::to_string(u), "item" + std::to_string((u * 7 + k * 5) % 30), type,
                     t0 + static_cast<int64_t>(all.size())});
    }
  }
  const size_t n1 = 60, n2 = 110;  // batch 1 holds all[0, n1), batch 2 all[0, n2)
  auto write_batch = [&](size_t n) {
    std::string csv = "user,item,event,ts\n";
    for (size_t j = 0; j < n; ++j) {
      csv += all[j].user + "," + all[j].item + "," + all[j].type + "," + std::to_string(all[j].ts) +
             "\n";
    }
    WriteFile(dir_.File("events.csv"), csv);
  };
  const std::string pipeline = dir_.File("lambda.toml");
  WriteFile(pipeline,
            "name = \"lambda\"\n"
            "[sources.events]\npath = \"events.csv\"\n"
            "[prepare]\nweights = { view = 1, cart = 3, purchase = 10 }\n"
            "[models.m]\nkind = \"ials\"\nparams = { factors = 4, iterations = 5 }\n"
            "[outputs.serving]\nkind = \"publish\"\nmodel = \"m\"\nstore = \"lambda-store\"\n"
            "n = 5\n");
  const std::string store = dir_.File("lambda-store");
  auto latest_manifest = [&] {
    std::vector<std::string> runs;
    for (const auto& e : std::filesystem::directory_iterator(dir_.File("runs"))) {
      runs.push_back(e.path().string());
    }
    std::sort(runs.begin(), runs.end());
    return runs.back() + "/manifest.json";
  };
  auto meta = [&](const std::string& uri, const char* key) {
    auto st = Store::OpenExisting(uri);
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    auto snap = (*st)->OpenSnapshot((*st)->CurrentVersion().value());
    std::string v;
    EXPECT_TRUE(snap.ok() && (*snap)->Get(Table::kMeta, key, &v).ok()) << key;
    return v;
  };
  const std::string mark1 = "time:" + std::to_string(all[n1 - 1].ts);
  const std::string mark2 = "time:" + std::to_string(all[n2 - 1].ts);

  // Batch 1, then the stream: every event after batch 1's data (the
  // warehouse and the stream both receive them).
  write_batch(n1);
  CommandResult run = RunEncore("run " + pipeline);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(meta(store, "high_water"), mark1);
  const std::string manifest1 = ReadFile(latest_manifest());
  EXPECT_NE(manifest1.find("\"high_water_mark\""), std::string::npos) << manifest1;
  EXPECT_NE(manifest1.find("\"" + mark1 + "\""), std::string::npos) << manifest1;
  auto log = stream::RedisEventLog::Open(redis_.Uri(), "events");
  ASSERT_TRUE(log.ok());
  using Entry = std::vector<std::pair<std::string, std::string>>;
  auto append = [&](size_t from, size_t to) {
    std::vector<Entry> entries;
    for (size_t j = from; j < to; ++j) {
      entries.push_back({{"user", all[j].user},
                         {"item", all[j].item},
                         {"event", all[j].type},
                         {"ts", std::to_string(all[j].ts)}});
    }
    std::vector<std::string> ids;
    ASSERT_TRUE((*log)->Append(entries, &ids).ok());
  };
  auto consume = [&] {
    CommandResult r = RunEncore("stream --store " + store + " --redis " + redis_.Uri() +
                                " --stream events --group g --weights " + kWeights +
                                " --history snapshot+live --idle-exit-ms 400"
                                " --dedup-retention none");  // events of 2023
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r;
  };
  append(n1, 140);
  consume();

  // Batch 2 catches up to all[n2 - 1] while no consumer runs; its publish
  // records the new mark. Then more events arrive, including a new shopper.
  write_batch(n2);
  run = RunEncore("run " + pipeline);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE((run.out + run.err).find("high-water mark " + mark2), std::string::npos) << run.err;
  EXPECT_EQ(meta(store, "high_water"), mark2);
  all.push_back({"newcomer", "item3", "view", all.back().ts + 1});
  all.push_back({"s4", "item9", "purchase", all.back().ts + 1});
  append(140, all.size());
  CommandResult second = consume();
  EXPECT_NE(second.err.find("22 received, 22 applied"), std::string::npos) << second.err;

  // The batch recount of every event against what is served.
  auto model = ParseModel(meta(store, "model"), "snapshot model");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const std::map<std::string, float> w = {{"view", 1}, {"cart", 3}, {"purchase", 10}};
  auto expected = [&](const std::string& user, bool twice) {
    std::map<uint32_t, float> sum;
    for (size_t j = 0; j < all.size(); ++j) {
      if (all[j].user != user) continue;
      const float times = twice && j >= n1 && j < n2 ? 2.0f : 1.0f;
      if (auto i = model->items.Find(all[j].item)) sum[*i] += times * w.at(all[j].type);
    }
    std::vector<ItemWeight> items;
    for (const auto& [i, v] : sum) items.push_back({i, v});
    QueryOptions q;
    q.n = 5;
    std::string out;
    EXPECT_TRUE(
        BuildFoldInUserPayload(*model, Ranker(*model->model), user, 2, items, q, &out).ok());
    return out;
  };
  auto st = Store::OpenExisting(store);
  ASSERT_TRUE(st.ok());
  // The stored live payloads, scores included, are exactly those of the recount.
  auto live = (*st)->OpenLive();
  ASSERT_TRUE(live.ok());
  ServeOptions o = FastServeOptions();
  auto server = Server::Create(std::move(st).value(), o);
  ASSERT_TRUE(server.ok());
  server_ = std::move(server).value();
  ASSERT_TRUE(server_->Start().ok());
  int differs_if_doubled = 0;
  std::set<std::string> users = {"newcomer"};
  for (const Ev& e : all) users.insert(e.user);
  for (const std::string& user : users) {
    HttpReply got = Get("/v1/users/" + user + "/recommendations");
    ASSERT_EQ(got.status, 200) << user << ": " << got.body;
    EXPECT_NE(got.body.find("\"snapshot\":2"), std::string::npos) << user << ": " << got.body;
    EXPECT_EQ(Items(got.body), Items(expected(user, false))) << user << ": " << got.body;
    std::string payload;
    ASSERT_TRUE((*live)->GetPayload(2, user, &payload).ok()) << user;
    EXPECT_EQ(payload, expected(user, false)) << user;
    if (payload != expected(user, true)) ++differs_if_doubled;
  }
  EXPECT_GT(differs_if_doubled, 0) << "the check cannot tell the covered events counted twice";

  // `encore publish --high-water-mark manifest:PATH` takes the run's mark.
  const std::string manifest = latest_manifest();
  const std::string model_file =
      manifest.substr(0, manifest.size() - std::string("manifest.json").size()) + "models/m.model";
  CommandResult published =
      RunEncore("publish --model-file " + model_file + " --store " + dir_.File("by-hand") +
                " --high-water-mark manifest:" + manifest + " --quiet");
  ASSERT_EQ(published.exit_code, 0) << published.err;
  EXPECT_EQ(meta(dir_.File("by-hand"), "high_water"), mark2);
}

// The mark's settings and their errors: "none", an explicit mark, a bad
// value (FILE:LINE), a run without a time column, a missing manifest.
TEST(PipelineHighWaterMark, SettingsAndClearErrors) {
  TempDir dir;
  WriteFile(dir.File("events.csv"), "user,item\nu1,i1\nu1,i2\nu2,i1\nu2,i3\nu3,i2\n");
  auto pipeline = [&](const std::string& mark) {
    const std::string path = dir.File("p.toml");
    WriteFile(path,
              "name = \"p\"\n[sources.events]\npath = \"events.csv\"\n"
              "[models.m]\nkind = \"popularity\"\n"
              "[outputs.serving]\nkind = \"publish\"\nmodel = \"m\"\nstore = \"store\"\n" +
                  (mark.empty() ? std::string() : "high_water_mark = \"" + mark + "\"\n"));
    return path;
  };
  CommandResult bad = RunEncore("run " + pipeline("yesterday") + " --dry-run");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("p.toml:10:"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("high_water_mark 'yesterday': expected \"auto\""), std::string::npos)
      << bad.err;
  // No time column: auto records none, and says why.
  CommandResult run = RunEncore("run " + pipeline(""));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE((run.out + run.err).find("no high-water mark (the prepared data has no time column)"),
            std::string::npos)
      << run.err;
  std::string manifest;
  for (const auto& e : std::filesystem::directory_iterator(dir.File("runs"))) {
    manifest = e.path().string() + "/manifest.json";
  }
  CommandResult none = RunEncore("publish --model-file " + dir.File("nothing.model") + " --store " +
                                 dir.File("s2") + " --high-water-mark manifest:" + manifest);
  EXPECT_NE(none.exit_code, 0);
  const std::string model_file =
      manifest.substr(0, manifest.size() - std::string("manifest.json").size()) + "models/m.model";
  none = RunEncore("publish --model-file " + model_file + " --store " + dir.File("s2") +
                   " --high-water-mark manifest:" + manifest);
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("records no high-water mark: the prepared data has no time column"),
            std::string::npos)
      << none.err;
  none = RunEncore("publish --model-file " + model_file + " --store " + dir.File("s2") +
                   " --high-water-mark manifest:" + dir.File("missing.json"));
  EXPECT_NE(none.err.find("cannot read the manifest"), std::string::npos) << none.err;
  // With a time column, a model fitted on a training part gets no mark: the
  // held-out events are in no model.
  {
    std::string csv = "user,item,ts\n";
    for (int u = 0; u < 30; ++u) {
      for (int k = 0; k < 6; ++k) {
        csv += "u" + std::to_string(u) + ",i" + std::to_string((u * 3 + k * 7) % 20) + "," +
               std::to_string(1700000000 + u * 10 + k) + "\n";
      }
    }
    WriteFile(dir.File("events.csv"), csv);
    const std::string path = dir.File("p.toml");
    WriteFile(path,
              "name = \"p\"\n[sources.events]\npath = \"events.csv\"\n"
              "[models.m]\nkind = \"popularity\"\n"
              "[models.m.evaluate]\nsplit = \"user\"\ntest_fraction = 0.2\nrefit = false\n"
              "[outputs.serving]\nkind = \"publish\"\nmodel = \"m\"\nstore = \"store\"\n");
    CommandResult part = RunEncore("run " + path);
    ASSERT_EQ(part.exit_code, 0) << part.err;
    EXPECT_NE((part.out + part.err)
                  .find("no high-water mark (model 'm' was trained on training part, which does "
                        "not hold every event up to the data's newest time)"),
              std::string::npos)
        << part.err;
    WriteFile(dir.File("events.csv"), "user,item\nu1,i1\nu1,i2\nu2,i1\nu2,i3\nu3,i2\n");
  }
  // An explicit mark is written as given, even without a time column.
  run = RunEncore("run " + pipeline("id:1700000000000-3"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE((run.out + run.err).find("high-water mark id:1700000000000-3"), std::string::npos)
      << run.err;
}

// Polls the live totals until `needle` shows up (at most ~20 s).
bool WaitForTotals(const std::string& store, const std::string& needle) {
  for (int i = 0; i < 400; ++i) {
    CommandResult r = RunEncore("stream --store " + store + " --dump-totals -");
    if (r.out.find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

pid_t SpawnConsumer(const std::string& store, const std::string& redis, const char* sync);

// Redis restarts (without persistence: the stream and the group are gone)
// while the consumer runs: it retries, recreates the group and goes on.
TEST_F(StreamTest, ConsumerSurvivesARedisRestart) {
  const uint16_t port = redis_.port();
  auto append = [&](const std::string& user) {
    auto log = stream::RedisEventLog::Open(redis_.Uri(), "events");
    ASSERT_TRUE(log.ok());
    std::vector<std::string> ids;
    ASSERT_TRUE((*log)->Append({{{"user", user}, {"item", "i1"}, {"event", "cart"}}}, &ids).ok());
  };
  append("before");
  const pid_t consumer = SpawnConsumer(store_uri_, redis_.Uri(), "disk");
  ASSERT_TRUE(WaitForTotals(store_uri_, "before,i1,cart,1\n"));
  redis_.Kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(redis_.Start(port).ok());
  append("after");
  EXPECT_TRUE(WaitForTotals(store_uri_, "after,i1,cart,1\n"));
  ::kill(consumer, SIGTERM);
  int status = 0;
  ::waitpid(consumer, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(DumpTotals(), "before,i1,cart,1\nbefore,i1,*,3\nafter,i1,cart,1\nafter,i1,*,3\n");
}

// --- Crash test ------------------------------------------------------------

// True once process `pid` has a handler for `sig` (the SigCgt mask of
// /proc/PID/status), polling for up to a minute; false if it never does.
bool WaitUntilCatches(pid_t pid, int sig) {
  const uint64_t bit = uint64_t{1} << (sig - 1);
  for (int attempt = 0; attempt < 6000; ++attempt) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("SigCgt:", 0) == 0 && (std::stoull(line.substr(7), nullptr, 16) & bit)) {
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

pid_t SpawnConsumer(const std::string& store, const std::string& redis, const char* sync) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl(ENCORE_BINARY, ENCORE_BINARY, "stream", "--store", store.c_str(), "--redis",
            redis.c_str(), "--stream", "events", "--group", "g", "--weights", kWeights, "--batch",
            "64", "--window-ms", "5", "--quiet", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

struct Expected {
  std::map<std::string, uint64_t> counts;  // "user,item,type"
  std::map<std::string, double> values;    // "user,item"
};

void ParseDump(const std::string& dump, Expected* out) {
  std::istringstream in(dump);
  std::string line;
  while (std::getline(in, line)) {
    const size_t c3 = line.rfind(',');
    const size_t c2 = line.rfind(',', c3 - 1);
    const std::string pair = line.substr(0, c2);
    const std::string type = line.substr(c2 + 1, c3 - c2 - 1);
    const std::string v = line.substr(c3 + 1);
    if (type == "*") {
      out->values[pair] = std::stod(v);
    } else {
      out->counts[pair + "," + type] = std::stoull(v);
    }
  }
}

// kill -9 the consumer at random points while events flow, several times
// per seed; after a final drain the totals equal a batch recount of exactly
// the events sent (the batch reader and BuildDataset on the same records).
TEST_F(StreamTest, KillNineWhileEventsFlowLosesAndDoublesNothing) {
  // Seed 4 runs the consumer with --sync process (no fsync): a kill -9 of
  // the process must not lose anything either.
  for (uint32_t seed : {1u, 2u, 3u, 4u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const char* sync = seed == 4 ? "process" : "disk";
    ASSERT_TRUE(redis_.FlushAll().ok());
    TempDir dir;
    const std::string store = dir.File("store");
    {
      auto s = Store::Open(store);
      ASSERT_TRUE(s.ok());
      PublishOptions po;
      po.n = 5;
      po.similar_n = 0;
      ASSERT_TRUE(Publish(SharedModel(), po, s->get()).ok());
    }
    auto log = stream::RedisEventLog::Open(redis_.Uri(), "events");
    ASSERT_TRUE(log.ok());
    std::mt19937 rng(seed);
    const char* types[] = {"view", "view", "cart", "purchase"};
    std::string csv = "user,item,event,quantity\n";
    pid_t consumer = SpawnConsumer(store, redis_.Uri(), sync);
    int kills = 0;
    for (int chunk = 0; chunk < 30; ++chunk) {
      std::vector<std::vector<std::pair<std::string, std::string>>> entries;
      for (int k = 0; k < 100; ++k) {
        const std::string user = "u" + std::to_string(rng() % 70);
        const std::string item = "i" + std::to_string(rng() % 45);
        const std::string type = types[rng() % 4];
        const int quantity = 1 + rng() % 3;
        std::vector<std::pair<std::string, std::string>> f = {
            {"user", user},
            {"item", item},
            {"event", type},
            {"quantity", std::to_string(quantity)}};
        const bool with_id = rng() % 3 != 0;
        if (with_id)
          f.emplace_back("id", "s" + std::to_string(seed) + "-" + std::to_string(chunk) + "-" +
                                   std::to_string(k));
        csv += user + "," + item + "," + type + "," + std::to_string(quantity) + "\n";
        entries.push_back(f);
        // A producer retry: the same event (same id) appended twice.
        if (with_id && rng() % 10 == 0) entries.push_back(f);
      }
      std::vector<std::string> ids;
      ASSERT_TRUE((*log)->Append(entries, &ids).ok());
      if (rng() % 4 == 0) {
        // Let it work a random moment, then kill it without warning.
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
        ::kill(consumer, SIGKILL);
        ::waitpid(consumer, nullptr, 0);
        ++kills;
        consumer = SpawnConsumer(store, redis_.Uri(), sync);
      }
    }
    EXPECT_GE(kills, 3);
    // Graceful end: SIGTERM finishes the batch in flight and exits 0. Wait
    // until the consumer has installed its handler: a SIGTERM before that
    // (a slow start, as under ASan) kills it by default, which is not the
    // behaviour under test.
    ASSERT_TRUE(WaitUntilCatches(consumer, SIGTERM));
    ::kill(consumer, SIGTERM);
    int status = 0;
    ::waitpid(consumer, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    // Drain what is left.
    CommandResult drain =
        RunEncore("stream --store " + store + " --redis " + redis_.Uri() +
                  " --stream events --group g --weights " + kWeights + " --idle-exit-ms 500");
    ASSERT_EQ(drain.exit_code, 0) << drain.err;
    CommandResult dump =
        RunEncore("stream --store " + store + " --dump-totals - --weights " + kWeights);
    ASSERT_EQ(dump.exit_code, 0) << dump.err;
    Expected live;
    ParseDump(dump.out, &live);

    // The batch recount.
    const std::string path = dir.File("events.csv");
    WriteFile(path, csv);
    ReadOptions ro;
    ro.value_col = ColumnRef::Parse("quantity");
    ReadReport report;
    auto read = ReadInteractions({path}, ro, &report);
    ASSERT_TRUE(read.ok());
    InteractionLog interactions = std::move(read).value();
    Expected batch;
    // Counts by type from the rows themselves.
    {
      std::istringstream in(csv);
      std::string line;
      std::getline(in, line);
      while (std::getline(in, line)) {
        ++batch.counts[line.substr(0, line.rfind(','))];
      }
    }
    DatasetOptions dopt;
    dopt.weights = {{"view", 1}, {"cart", 3}, {"purchase", 10}};
    dopt.threads = 1;
    auto data = BuildDataset(std::move(interactions), dopt);
    ASSERT_TRUE(data.ok());
    for (uint32_t u = 0; u < data->users.size(); ++u) {
      for (uint64_t k = data->by_user.indptr[u]; k < data->by_user.indptr[u + 1]; ++k) {
        batch.values[std::string(data->users.Name(u)) + "," +
                     std::string(data->items.Name(data->by_user.indices[k]))] =
            data->by_user.values[k];
      }
    }
    EXPECT_EQ(live.counts, batch.counts);
    ASSERT_EQ(live.values.size(), batch.values.size());
    for (const auto& [pair, value] : batch.values) {
      ASSERT_EQ(live.values.count(pair), 1u) << pair;
      EXPECT_NEAR(live.values[pair], value, 1e-4 * std::max(1.0, value)) << pair;
    }
  }
}

}  // namespace
}  // namespace encore::testing
