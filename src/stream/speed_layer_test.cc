#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "encore/dataset.h"
#include "encore/publish.h"
#include "encore/reader.h"
#include "encore/stream.h"
#include "test_data.h"
#include "test_util.h"

namespace encore {
namespace {

const std::map<std::string, float> kWeights = {{"view", 1}, {"cart", 3}, {"purchase", 10}};

const TrainedModel& Model() {
  static const TrainedModel* model = [] {
    Dataset data = testing::MakeTestDataset();
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

std::string UniqueUri() {
  static int n = 0;
  return "memory:speed-layer-" +
         std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
         std::to_string(n++);
}

class SpeedLayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(UniqueUri());
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    PublishOptions po;
    po.n = 5;
    ASSERT_TRUE(Publish(Model(), po, store_.get()).ok());
  }

  std::unique_ptr<SpeedLayer> Open(SpeedLayerOptions o = {}) {
    if (o.weights.empty()) o.weights = kWeights;
    auto layer = SpeedLayer::Open(store_.get(), std::move(o));
    EXPECT_TRUE(layer.ok()) << layer.status().ToString();
    return layer.ok() ? std::move(layer).value() : nullptr;
  }

  static KeyedEvent Ev(std::string user, std::string item, std::string type, std::string id = "") {
    KeyedEvent e;
    e.event.user = std::move(user);
    e.event.item = std::move(item);
    e.event.type = std::move(type);
    e.event.id = id;
    if (!id.empty()) e.key = "id:" + id;
    return e;
  }

  // The items of the live payload of `user` ("" when there is none).
  std::string Payload(SpeedLayer& layer, const std::string& user) {
    std::string payload;
    Status s = layer.live()->GetPayload(layer.snapshot_version(), user, &payload);
    return s.ok() ? payload : "";
  }

  std::unique_ptr<Store> store_;
};

TEST_F(SpeedLayerTest, NewUserGetsAListAfterTheFirstEvent) {
  auto layer = Open();
  ASSERT_NE(layer, nullptr);
  EXPECT_EQ(Payload(*layer, "newbie"), "");
  auto r = layer->Apply({Ev("newbie", "i3", "view")});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->applied, 1u);
  EXPECT_EQ(r->users, 1u);
  const std::string p = Payload(*layer, "newbie");
  EXPECT_EQ(p.rfind("{\"user\":\"newbie\",\"snapshot\":1,\"items\":[{\"item\":", 0), 0u) << p;
  EXPECT_EQ(p.find("\"i3\""), std::string::npos) << "a seen item is excluded: " << p;
  // Exactly what the publish encoder makes of the ranker's fold-in.
  std::string expected;
  const ItemWeight w{*Model().items.Find("i3"), 1};
  QueryOptions q;
  q.n = 5;
  ASSERT_TRUE(
      BuildFoldInUserPayload(Model(), Ranker(*Model().model), "newbie", 1, {&w, 1}, q, &expected)
          .ok());
  EXPECT_EQ(p, expected);
}

// Expiry of applied event ids (issue 12): ids go once their retention
// passed; replays within the window stay idempotent; an event older than the
// window is rejected (too_old), so a replay after its id went counts nothing.
// The clock is the test's, not the machine's.
TEST_F(SpeedLayerTest, AppliedIdsExpireAfterTheRetentionAndTooOldEventsAreRejected) {
  const int64_t day = 86400;
  const int64_t t0 = 1'800'000'000;  // an hour boundary
  int64_t now = t0 + 60;
  SpeedLayerOptions o;
  o.dedup_retention_seconds = day;
  o.now = [&now] { return now; };
  auto layer = Open(o);
  ASSERT_NE(layer, nullptr);
  auto at = [](KeyedEvent e, int64_t t) {
    e.event.time = t;
    return e;
  };
  KeyedEvent a = at(Ev("u1", "i3", "view", "a"), t0 + 10);
  KeyedEvent b = at(Ev("u1", "i4", "cart", "b"), t0 + 3600 + 5);  // the next hour
  KeyedEvent c = Ev("u2", "i5", "view", "c");                     // no ts: its append time
  c.appended_ms = (t0 + 20) * 1000;
  auto r = layer->Apply({a, b, c});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->applied, 3u);
  std::string totals;
  ASSERT_TRUE(layer->DumpTotals(&totals).ok());

  // Within the window: nothing expires, a replay is a duplicate.
  now = t0 + day - 1;
  auto expired = layer->ExpireKeys(100);
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 0u);
  r = layer->Apply({a, b, c});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->duplicates, 3u);
  EXPECT_TRUE(r->too_old.empty());

  // Past the window of hour t0 (but not of t0 + 1 h): a's and c's ids go, b's stays.
  now = t0 + 3600 + day;
  expired = layer->ExpireKeys(100);
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 2u);
  std::string v;
  EXPECT_EQ(layer->live()->GetState("eid:a", &v).code(), StatusCode::kNotFound);
  EXPECT_EQ(layer->live()->GetState("eid:c", &v).code(), StatusCode::kNotFound);
  EXPECT_TRUE(layer->live()->GetState("eid:b", &v).ok());
  // Their replays are too old: rejected, not counted again.
  r = layer->Apply({a, b, c});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->too_old, (std::vector<size_t>{0, 2}));
  EXPECT_EQ(r->duplicates, 1u);
  EXPECT_EQ(r->applied, 0u);
  std::string after;
  ASSERT_TRUE(layer->DumpTotals(&after).ok());
  EXPECT_EQ(after, totals);

  // A reopened layer (a restarted consumer) goes on from the stored cursor.
  now = t0 + 2 * 3600 + day;
  auto reopened = Open(o);
  ASSERT_NE(reopened, nullptr);
  expired = reopened->ExpireKeys(100);
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 1u);
  EXPECT_EQ(reopened->live()->GetState("eid:b", &v).code(), StatusCode::kNotFound);
  // Nothing of the index is left behind.
  for (const std::string key : {"k@500000", "k@500000#0", "k@500001", "k@500001#0"}) {
    EXPECT_EQ(reopened->live()->GetState(key, &v).code(), StatusCode::kNotFound) << key;
  }
  // A fresh event is applied as ever.
  r = reopened->Apply({at(Ev("u1", "i6", "view", "d"), now - 5)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->applied, 1u);
}

// The sweep drops a bounded number of pages per call (one page: one batch's
// keys of one hour) and finishes over several calls.
TEST_F(SpeedLayerTest, IdExpiryProceedsAFewPagesAtATime) {
  const int64_t t0 = 1'800'000'000;
  int64_t now = t0;
  SpeedLayerOptions o;
  o.dedup_retention_seconds = 3600;
  o.now = [&now] { return now; };
  auto layer = Open(o);
  ASSERT_NE(layer, nullptr);
  for (int batch = 0; batch < 5; ++batch) {
    std::vector<KeyedEvent> events;
    for (int k = 0; k < 3; ++k) {
      KeyedEvent e = Ev("u" + std::to_string(k), "i3", "view",
                        "b" + std::to_string(batch) + "-" + std::to_string(k));
      e.event.time = t0 + batch;
      events.push_back(e);
    }
    ASSERT_TRUE(layer->Apply(events).ok());
  }
  now = t0 + 2 * 3600;
  uint64_t total = 0;
  for (int call = 0; call < 5; ++call) {
    auto expired = layer->ExpireKeys(2);
    ASSERT_TRUE(expired.ok());
    EXPECT_LE(*expired, 6u);
    total += *expired;
  }
  EXPECT_EQ(total, 15u);
  auto none = layer->ExpireKeys(2);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
}

TEST(ParseRetention, UnitsNoneAndErrors) {
  EXPECT_EQ(ParseRetention("7d").value(), 7 * 86400);
  EXPECT_EQ(ParseRetention("36h").value(), 36 * 3600);
  EXPECT_EQ(ParseRetention("90s").value(), 90);
  EXPECT_EQ(ParseRetention("2w").value(), 14 * 86400);
  EXPECT_EQ(ParseRetention("none").value(), 0);
  EXPECT_EQ(ParseRetention("0").value(), 0);
  for (const char* bad : {"", "7", "d", "-1d", "7 d", "7days", "1.5h", "99999999999999d"}) {
    auto r = ParseRetention(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("is not a duration"), std::string::npos);
  }
}

TEST_F(SpeedLayerTest, PurchasedItemDisappears) {
  auto layer = Open();
  ASSERT_NE(layer, nullptr);
  const uint32_t u = 3;
  const std::string user(Model().users.Name(u));
  QueryOptions q;
  q.n = 5;
  std::vector<ScoredItem> before = Ranker(*Model().model).RankUser(u, q);
  ASSERT_FALSE(before.empty());
  const std::string top(Model().items.Name(before[0].item));
  ASSERT_TRUE(layer->Apply({Ev(user, top, "purchase", "p1")}).ok());
  const std::string p = Payload(*layer, user);
  ASSERT_FALSE(p.empty());
  EXPECT_EQ(p.find("\"" + top + "\""), std::string::npos) << p;
  // The published (snapshot) payload still has it: the live one wins in serving.
  auto snap = store_->OpenSnapshot(1);
  ASSERT_TRUE(snap.ok());
  std::string published;
  ASSERT_TRUE((*snap)->Get(Table::kUser, user, &published).ok());
  EXPECT_NE(published.find("\"" + top + "\""), std::string::npos);
}

// Kappa: the live totals are the whole history, so the snapshot's row is
// not added (it would count the same events twice).
TEST_F(SpeedLayerTest, LiveOnlyHistoryIgnoresTheSnapshotRow) {
  SpeedLayerOptions o;
  o.include_snapshot_row = false;
  auto layer = Open(o);
  ASSERT_NE(layer, nullptr);
  ASSERT_TRUE(layer->Apply({Ev("u3", "i3", "view")}).ok());
  std::string expected;
  const ItemWeight w{*Model().items.Find("i3"), 1};
  QueryOptions q;
  q.n = 5;
  ASSERT_TRUE(
      BuildFoldInUserPayload(Model(), Ranker(*Model().model), "u3", 1, {&w, 1}, q, &expected).ok());
  EXPECT_EQ(Payload(*layer, "u3"), expected);
  // With the snapshot row (the default) the user's training items are excluded too.
  auto lambda = Open();
  ASSERT_TRUE(lambda->Apply({Ev("u3", "i3", "view")}).ok());
  EXPECT_NE(Payload(*lambda, "u3"), expected);
}

TEST_F(SpeedLayerTest, ReplayChangesNothing) {
  auto layer = Open();
  ASSERT_NE(layer, nullptr);
  std::vector<KeyedEvent> batch = {Ev("u1", "i2", "view", "a"), Ev("u1", "i4", "cart", "b"),
                                   Ev("x", "i5", "purchase", "c")};
  auto first = layer->Apply(batch);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->applied, 3u);
  std::string totals_before, totals_after;
  ASSERT_TRUE(layer->DumpTotals(&totals_before).ok());
  const std::string payload_before = Payload(*layer, "u1");
  auto again = layer->Apply(batch);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->applied, 0u);
  EXPECT_EQ(again->duplicates, 3u);
  ASSERT_TRUE(layer->DumpTotals(&totals_after).ok());
  EXPECT_EQ(totals_after, totals_before);
  EXPECT_EQ(Payload(*layer, "u1"), payload_before);
  // Duplicates inside one batch count once; a reopened layer remembers.
  auto reopened = Open();
  auto dup = reopened->Apply(
      {Ev("u1", "i9", "view", "d"), Ev("u1", "i9", "view", "d"), Ev("u1", "i2", "view", "a")});
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup->applied, 1u);
  EXPECT_EQ(dup->duplicates, 2u);
}

TEST_F(SpeedLayerTest, BurstOfOneUserCostsOneRebuild) {
  auto layer = Open();
  ASSERT_NE(layer, nullptr);
  auto r = layer->Apply({Ev("u1", "i1", "view"), Ev("u1", "i2", "view"), Ev("u1", "i3", "cart"),
                         Ev("u2", "i1", "view")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->applied, 4u);
  EXPECT_EQ(r->users, 2u);
}

TEST_F(SpeedLayerTest, UnknownItemsOnlyLeaveNoPayload) {
  auto layer = Open();
  ASSERT_NE(layer, nullptr);
  auto r = layer->Apply({Ev("fresh", "brand-new-item", "view")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->unscored, 1u);
  EXPECT_EQ(Payload(*layer, "fresh"), "");
  auto totals = layer->Totals("fresh");
  ASSERT_TRUE(totals.ok());
  ASSERT_EQ(totals->size(), 1u);
  EXPECT_EQ((*totals)[0].item, "brand-new-item");
}

TEST_F(SpeedLayerTest, DeclaredRankerStepsApply) {
  SpeedLayerOptions o;
  std::string banned;
  o.steps =
      [&banned](const TrainedModel& m) -> Result<std::vector<std::shared_ptr<const RankStep>>> {
    // Ban whatever the plain fold-in ranks first for "newbie".
    QueryOptions q;
    q.n = 1;
    const ItemWeight w{*m.items.Find("i3"), 1};
    auto top = Ranker(*m.model).RankFoldIn({&w, 1}, q);
    if (!top.ok()) return top.status();
    banned = std::string(m.items.Name((*top)[0].item));
    return std::vector<std::shared_ptr<const RankStep>>{
        std::make_shared<ExcludeItems>(std::vector<uint32_t>{(*top)[0].item})};
  };
  auto layer = Open(o);
  ASSERT_NE(layer, nullptr);
  ASSERT_FALSE(banned.empty());
  ASSERT_TRUE(layer->Apply({Ev("newbie", "i3", "view")}).ok());
  const std::string p = Payload(*layer, "newbie");
  ASSERT_FALSE(p.empty());
  EXPECT_EQ(p.find("\"" + banned + "\""), std::string::npos) << p;
}

TEST_F(SpeedLayerTest, NewSnapshotRebuildsLiveUsers) {
  auto layer = Open();
  ASSERT_NE(layer, nullptr);
  ASSERT_TRUE(layer->Apply({Ev("newbie", "i3", "view"), Ev("u1", "i2", "purchase")}).ok());
  bool changed = true;
  ASSERT_TRUE(layer->Refresh(&changed).ok());
  EXPECT_FALSE(changed);
  PublishOptions po;
  po.n = 5;
  ASSERT_TRUE(Publish(Model(), po, store_.get()).ok());
  ASSERT_TRUE(layer->Refresh(&changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_EQ(layer->snapshot_version(), 2u);
  std::string p;
  ASSERT_TRUE(layer->live()->GetPayload(2, "newbie", &p).ok());
  EXPECT_NE(p.find("\"snapshot\":2"), std::string::npos);
  ASSERT_TRUE(layer->live()->GetPayload(2, "u1", &p).ok());
  EXPECT_EQ(layer->live()->GetPayload(1, "newbie", &p).code(), StatusCode::kNotFound);
}

TEST_F(SpeedLayerTest, NoModelInTheSnapshotIsAClearError) {
  auto store = Store::Open(UniqueUri());
  ASSERT_TRUE(store.ok());
  PublishOptions po;
  po.include_model = false;
  ASSERT_TRUE(Publish(Model(), po, store->get()).ok());
  SpeedLayerOptions o;
  auto layer = SpeedLayer::Open(store->get(), o);
  ASSERT_FALSE(layer.ok());
  EXPECT_EQ(layer.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(layer.status().message().find("publish with the model"), std::string::npos);
}

// The live totals equal what the batch reader and BuildDataset compute from
// the same records, with redeliveries and random batch boundaries.
TEST_F(SpeedLayerTest, TotalsEqualABatchRecount) {
  auto layer = Open();
  ASSERT_NE(layer, nullptr);
  std::mt19937 rng(42);
  const char* types[] = {"view", "view", "cart", "purchase"};
  std::vector<KeyedEvent> sent;
  std::string csv = "user,item,event,quantity\n";
  for (int k = 0; k < 2000; ++k) {
    KeyedEvent e = Ev("u" + std::to_string(rng() % 90), "i" + std::to_string(rng() % 50),
                      types[rng() % 4], "ev" + std::to_string(k));
    e.event.quantity = 1 + rng() % 3;
    csv += e.event.user + "," + e.event.item + "," + e.event.type + "," +
           std::to_string(static_cast<int>(e.event.quantity)) + "\n";
    sent.push_back(std::move(e));
  }
  size_t pos = 0;
  while (pos < sent.size()) {
    const size_t len = 1 + rng() % 64;
    std::vector<KeyedEvent> batch(sent.begin() + pos,
                                  sent.begin() + std::min(sent.size(), pos + len));
    // Redeliver a few earlier events.
    for (int d = 0; d < 3 && pos > 0; ++d) batch.push_back(sent[rng() % pos]);
    ASSERT_TRUE(layer->Apply(batch).ok());
    pos += len;
  }
  testing::TempDir dir;
  const std::string path = dir.File("events.csv");
  testing::WriteFile(path, csv);
  ReadOptions ro;
  ro.value_col = ColumnRef::Parse("quantity");
  ReadReport report;
  auto log = ReadInteractions({path}, ro, &report);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  DatasetOptions dopt;
  dopt.weights = kWeights;
  dopt.threads = 1;
  auto data = BuildDataset(std::move(log).value(), dopt);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  uint64_t pairs = 0;
  for (uint32_t u = 0; u < data->users.size(); ++u) {
    auto totals = layer->Totals(std::string(data->users.Name(u)));
    ASSERT_TRUE(totals.ok());
    std::map<std::string, double> live;
    for (const auto& t : *totals) live[t.item] = t.value;
    const CsrMatrix& m = data->by_user;
    ASSERT_EQ(live.size(), m.RowLength(u));
    for (uint64_t k = m.indptr[u]; k < m.indptr[u + 1]; ++k) {
      const std::string item(data->items.Name(m.indices[k]));
      ASSERT_EQ(live.count(item), 1u) << item;
      EXPECT_NEAR(live[item], m.values[k], 1e-4 * std::max(1.0, std::fabs(live[item])));
      ++pairs;
    }
  }
  EXPECT_GT(pairs, 1000u);
  auto users = layer->Users();
  ASSERT_TRUE(users.ok());
  EXPECT_EQ(users->size(), data->users.size());
}

// --- Lambda: the batch switch (issue 12 item 5) -----------------------------

// A model trained on the test data plus `extra` (user,item,event,quantity
// CSV lines, weighted by kWeights) through the batch reader and
// BuildDataset: the batch run whose data holds those events.
TrainedModel TrainBatch(const std::vector<KeyedEvent>& extra) {
  const Dataset base = testing::MakeTestDataset();
  std::string csv = "user,item,event,quantity\n";
  char buf[64];
  for (uint32_t u = 0; u < base.users.size(); ++u) {
    for (uint64_t k = base.by_user.indptr[u]; k < base.by_user.indptr[u + 1]; ++k) {
      std::snprintf(buf, sizeof buf, "%.9g", base.by_user.values[k]);
      csv += std::string(base.users.Name(u)) + "," +
             std::string(base.items.Name(base.by_user.indices[k])) + ",view," + buf + "\n";
    }
  }
  for (const KeyedEvent& e : extra) {
    std::snprintf(buf, sizeof buf, "%.9g", e.event.quantity);
    csv += e.event.user + "," + e.event.item + "," + e.event.type + "," + buf + "\n";
  }
  testing::TempDir dir;
  const std::string path = dir.File("batch.csv");
  testing::WriteFile(path, csv);
  ReadOptions ro;
  ro.value_col = ColumnRef::Parse("quantity");
  ReadReport report;
  auto log = ReadInteractions({path}, ro, &report);
  ENCORE_CHECK(log.ok());
  DatasetOptions dopt;
  dopt.weights = kWeights;
  dopt.threads = 1;
  auto data = BuildDataset(std::move(log).value(), dopt);
  ENCORE_CHECK(data.ok());
  ModelParams p;
  p.factors = 8;
  p.iterations = 6;
  p.threads = 1;
  auto m = CreateRecommender("ials", p);
  ENCORE_CHECK(m.ok());
  ENCORE_CHECK((*m)->Fit(*data).ok());
  return TrainedModel{std::move(m).value(), std::move(data->users), std::move(data->items)};
}

// The fold-in weights of `user` over `model`: the model's row of the user
// (when `with_row`) plus quantity x weight of `events`, summed per item the
// way the speed layer sums them (events in double, added to the float row).
std::vector<ItemWeight> FoldInWeights(const TrainedModel& model, const std::string& user,
                                      bool with_row, const std::vector<KeyedEvent>& events) {
  std::map<uint32_t, float> w;
  if (auto u = with_row ? model.users.Find(user) : std::nullopt) {
    const CsrMatrix& seen = model.model->seen();
    for (uint64_t k = seen.indptr[*u]; k < seen.indptr[*u + 1]; ++k) {
      w[seen.indices[k]] += seen.values[k];
    }
  }
  std::map<uint32_t, double> after;
  for (const KeyedEvent& e : events) {
    if (auto i = model.items.Find(e.event.item)) {
      after[*i] += e.event.quantity * kWeights.at(e.event.type);
    }
  }
  for (const auto& [i, v] : after) w[i] += static_cast<float>(v);
  std::vector<ItemWeight> out;
  for (const auto& [i, v] : w) out.push_back({i, v});
  return out;
}

// The payload the batch encoder makes of `weights` over snapshot `version`.
std::string ExpectedPayload(const TrainedModel& model, const std::string& user, uint64_t version,
                            const std::vector<ItemWeight>& weights) {
  QueryOptions q;
  q.n = 5;
  std::string out;
  Status s = BuildFoldInUserPayload(model, Ranker(*model.model), user, version, weights, q, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

class LambdaSwitchTest : public SpeedLayerTest {
 protected:
  // e1..e6 of one existing user and one user new to the first snapshot, at
  // Redis entry ids 1000-0, 1000-1, 1001-0 (e1..e3) and 1001-1, 1002-0,
  // 1010-0 (e4..e6), times 100..105, with repeated items so that per-item
  // sums matter.
  std::vector<KeyedEvent> Events(const std::string& user) const {
    const char* ids[] = {"1000-0", "1000-1", "1001-0", "1001-1", "1002-0", "1010-0"};
    const char* items[] = {"i1", "i2", "i1", "i2", "i7", "i1"};
    const char* types[] = {"view", "purchase", "cart", "view", "cart", "purchase"};
    std::vector<KeyedEvent> out;
    for (int k = 0; k < 6; ++k) {
      KeyedEvent e = Ev(user, items[k], types[k], user + "-e" + std::to_string(k + 1));
      e.position = ids[k];
      e.event.time = 100 + k;
      e.event.quantity = 1 + k % 2;
      out.push_back(std::move(e));
    }
    return out;
  }
};

// Events e1..e6 applied live; a batch run whose data holds e1..e3 publishes
// with high-water mark id:<e3>. After the switch each user's list is exactly
// the new snapshot's row (with e1..e3) plus e4..e6: nothing lost, nothing
// counted twice; the same after more events and after a restart.
TEST_F(LambdaSwitchTest, IdMarkKeepsExactlyTheEventsAfterIt) {
  const std::string old_user(Model().users.Name(3)), new_user = "lambda-new";
  ASSERT_TRUE(Model().users.Find(old_user).has_value());
  ASSERT_FALSE(Model().users.Find(new_user).has_value());
  const std::vector<KeyedEvent> a = Events(old_user), b = Events(new_user);
  SpeedLayerOptions o;
  o.n = 5;
  auto layer = Open(o);
  ASSERT_NE(layer, nullptr);
  // Interleaved, in two deliveries.
  ASSERT_TRUE(layer->Apply({a[0], b[0], a[1], b[1], a[2], b[2]}).ok());
  ASSERT_TRUE(layer->Apply({a[3], b[3], a[4], b[4], a[5], b[5]}).ok());
  // Before the switch (snapshot 1, no mark): snapshot 1's row plus e1..e6.
  for (const auto* ev : {&a, &b}) {
    const std::string& user = (*ev)[0].event.user;
    EXPECT_EQ(Payload(*layer, user),
              ExpectedPayload(Model(), user, 1, FoldInWeights(Model(), user, true, *ev)))
        << user;
  }

  std::vector<KeyedEvent> first(a.begin(), a.begin() + 3), later(a.begin() + 3, a.end());
  first.insert(first.end(), b.begin(), b.begin() + 3);
  later.insert(later.end(), b.begin() + 3, b.end());
  const TrainedModel batch = TrainBatch(first);
  // The batch row of each user holds e1..e3 (per item: value x weight).
  for (const std::string& user : {old_user, new_user}) {
    const auto u = batch.users.Find(user);
    ASSERT_TRUE(u.has_value()) << user;
    const std::vector<KeyedEvent> three(user == old_user ? a.begin() : b.begin(),
                                        (user == old_user ? a.begin() : b.begin()) + 3);
    std::map<uint32_t, float> expect;
    for (const ItemWeight& w : FoldInWeights(Model(), user, true, three)) {
      expect[*batch.items.Find(std::string(Model().items.Name(w.item)))] = w.weight;
    }
    std::map<uint32_t, float> row;
    const CsrMatrix& seen = batch.model->seen();
    for (uint64_t k = seen.indptr[*u]; k < seen.indptr[*u + 1]; ++k) {
      row[seen.indices[k]] = seen.values[k];
    }
    EXPECT_EQ(row, expect) << user;
  }
  PublishOptions po;
  po.n = 5;
  po.high_water = "id:" + a[2].position;
  ASSERT_EQ(a[2].position, b[2].position);
  auto published = Publish(batch, po, store_.get());
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  ASSERT_EQ(published->snapshot.version, 2u);
  bool changed = false;
  ASSERT_TRUE(layer->Refresh(&changed).ok());
  ASSERT_TRUE(changed);

  auto check = [&](SpeedLayer& l, const std::vector<KeyedEvent>& after_a,
                   const std::vector<KeyedEvent>& after_b, const std::string& when) {
    for (const auto& [user, ev] : {std::pair{old_user, &after_a}, std::pair{new_user, &after_b}}) {
      const std::string got = Payload(l, user);
      const std::string want =
          ExpectedPayload(batch, user, 2, FoldInWeights(batch, user, true, *ev));
      EXPECT_EQ(got, want) << when << ", " << user;
      // The check can fail: e1..e3 counted twice, or e4..e6 lost, gives another list.
      std::vector<KeyedEvent> all = (user == old_user) ? a : b;
      EXPECT_NE(got, ExpectedPayload(batch, user, 2, FoldInWeights(batch, user, true, all)));
      EXPECT_NE(got, ExpectedPayload(batch, user, 2, FoldInWeights(batch, user, true, {})));
    }
  };
  std::vector<KeyedEvent> later_a(later.begin(), later.begin() + 3);
  std::vector<KeyedEvent> later_b(later.begin() + 3, later.end());
  check(*layer, later_a, later_b, "after the switch");
  // The live totals are untouched by the switch (every event, once).
  auto totals = layer->Totals(old_user);
  ASSERT_TRUE(totals.ok());
  double sum = 0;
  for (const auto& t : *totals) sum += t.value;
  double expect_sum = 0;
  for (const auto& e : a) expect_sum += e.event.quantity * kWeights.at(e.event.type);
  EXPECT_DOUBLE_EQ(sum, expect_sum);

  // A redelivery of a covered event is a duplicate, a new event is added.
  KeyedEvent e7 = Ev(old_user, "i2", "cart", "a-e7");
  e7.position = "1011-0";
  e7.event.time = 110;
  auto r = layer->Apply({a[1], e7});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->duplicates, 1u);
  EXPECT_EQ(r->applied, 1u);
  later_a.push_back(e7);
  check(*layer, later_a, later_b, "after e7");

  // A restart keeps exactly that (the pruned per-user logs are durable).
  layer.reset();
  layer = Open(o);
  ASSERT_NE(layer, nullptr);
  KeyedEvent e8 = Ev(new_user, "i3", "view", "b-e8");
  e8.position = "1012-0";
  ASSERT_TRUE(layer->Apply({e8}).ok());
  later_b.push_back(e8);
  check(*layer, later_a, later_b, "after a restart");
}

// time:SECONDS: an event exactly at the mark is covered, one a second later
// is not, and an event without a time counts as after the mark.
TEST_F(LambdaSwitchTest, TimeMarkCoversEventsAtTheMark) {
  const std::string user = "lambda-time";
  SpeedLayerOptions o;
  o.n = 5;
  auto layer = Open(o);
  ASSERT_NE(layer, nullptr);
  std::vector<KeyedEvent> ev = Events(user);  // times 100..105
  ev[5].event.time.reset();                   // e6 has no time
  ASSERT_TRUE(layer->Apply(ev).ok());
  // The batch holds e1..e3 (times 100..102); the mark is e3's time.
  const TrainedModel batch = TrainBatch({ev.begin(), ev.begin() + 3});
  PublishOptions po;
  po.n = 5;
  po.high_water = "time:102";
  ASSERT_TRUE(Publish(batch, po, store_.get()).ok());
  bool changed = false;
  ASSERT_TRUE(layer->Refresh(&changed).ok());
  ASSERT_TRUE(changed);
  const std::vector<KeyedEvent> after(ev.begin() + 3, ev.end());
  const std::string got = Payload(*layer, user);
  EXPECT_EQ(got, ExpectedPayload(batch, user, 2, FoldInWeights(batch, user, true, after)));
  EXPECT_NE(got, ExpectedPayload(batch, user, 2,
                                 FoldInWeights(batch, user, true, {ev.begin() + 2, ev.end()})));
  EXPECT_NE(got, ExpectedPayload(batch, user, 2,
                                 FoldInWeights(batch, user, true, {ev.begin() + 3, ev.end() - 1})));
}

// Over a snapshot with an id mark, events without an entry id (file or HTTP
// sources) count as after it, even when the batch's data holds them.
TEST_F(LambdaSwitchTest, EventsWithoutPositionCountAsAfterAnIdMark) {
  const std::string user = "lambda-nopos";
  SpeedLayerOptions o;
  o.n = 5;
  auto layer = Open(o);
  ASSERT_NE(layer, nullptr);
  std::vector<KeyedEvent> ev = Events(user);
  ev[0].position.clear();
  ASSERT_TRUE(layer->Apply(ev).ok());
  const TrainedModel batch = TrainBatch({ev.begin(), ev.begin() + 3});
  PublishOptions po;
  po.n = 5;
  po.high_water = "id:1001-0";
  ASSERT_TRUE(Publish(batch, po, store_.get()).ok());
  bool changed = false;
  ASSERT_TRUE(layer->Refresh(&changed).ok());
  std::vector<KeyedEvent> after = {ev[0]};
  after.insert(after.end(), ev.begin() + 3, ev.end());
  EXPECT_EQ(Payload(*layer, user),
            ExpectedPayload(batch, user, 2, FoldInWeights(batch, user, true, after)));
}

// Regression: a batch snapshot published while no consumer runs. The
// consumer opened afterwards rebases the live users over it (before, it did
// not: their payloads stayed over the old version, which is not served, so
// e4..e6 were lost from the served list until the user's next event).
TEST_F(LambdaSwitchTest, SwitchWhileNoConsumerRunsIsRebasedOnOpen) {
  const std::string user = "lambda-offline";
  SpeedLayerOptions o;
  o.n = 5;
  std::vector<KeyedEvent> ev = Events(user);
  {
    auto layer = Open(o);
    ASSERT_NE(layer, nullptr);
    ASSERT_TRUE(layer->Apply(ev).ok());
  }
  const TrainedModel batch = TrainBatch({ev.begin(), ev.begin() + 3});
  PublishOptions po;
  po.n = 5;
  po.high_water = "id:" + ev[2].position;
  ASSERT_TRUE(Publish(batch, po, store_.get()).ok());
  auto layer = Open(o);
  ASSERT_NE(layer, nullptr);
  EXPECT_EQ(layer->snapshot_version(), 2u);
  EXPECT_TRUE(layer->rebasing());
  bool changed = true;
  ASSERT_TRUE(layer->Refresh(&changed).ok());
  EXPECT_FALSE(changed);
  EXPECT_FALSE(layer->rebasing());
  EXPECT_EQ(Payload(*layer, user),
            ExpectedPayload(batch, user, 2,
                            FoldInWeights(batch, user, true, {ev.begin() + 3, ev.end()})));
  std::string old;
  EXPECT_EQ(layer->live()->GetPayload(1, user, &old).code(), StatusCode::kNotFound);
  // Rebased once: the next open over the same snapshot has nothing to do.
  layer.reset();
  layer = Open(o);
  ASSERT_NE(layer, nullptr);
  EXPECT_FALSE(layer->rebasing());
}

// Kappa item refresh: an item the model never saw is not recommendable
// until the refresh re-fits the item side from the live totals; intake goes
// on while the refresh runs, and an event applied meanwhile is in the
// rebased list.
TEST_F(SpeedLayerTest, ItemRefreshMakesANewItemRecommendable) {
  SpeedLayerOptions o;
  o.include_snapshot_row = false;  // Kappa
  auto layer = Open(o);
  ASSERT_NE(layer, nullptr);
  std::vector<KeyedEvent> events;
  for (int f = 0; f < 30; ++f) {
    const std::string fan = "fan" + std::to_string(f);
    events.push_back(Ev(fan, "i1", "view", fan + "a"));
    events.push_back(Ev(fan, "i2", "view", fan + "b"));
    events.push_back(Ev(fan, "NEW", "purchase", fan + "c"));
  }
  events.push_back(Ev("target", "i1", "view", "t1"));
  events.push_back(Ev("target", "i2", "view", "t2"));
  ASSERT_TRUE(layer->Apply(events).ok());
  EXPECT_FALSE(Model().items.Find("NEW").has_value());
  const std::string before = Payload(*layer, "target");
  ASSERT_FALSE(before.empty());
  EXPECT_EQ(before.find("\"NEW\""), std::string::npos) << before;

  // The refresh blocks just before publishing until the main thread has
  // applied one more batch: intake does not wait for the refresh.
  std::mutex mu;
  std::condition_variable cv;
  bool fitted = false, go = false;
  ItemRefreshOptions ro;
  ro.sweeps = 3;
  ro.before_publish = [&] {
    std::unique_lock lock(mu);
    fitted = true;
    cv.notify_all();
    cv.wait(lock, [&] { return go; });
  };
  auto job = layer->PrepareItemRefresh(ro);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  Result<ItemRefreshReport> report = Status::Internal("not run");
  std::thread refresher([&] { report = (*job)->Run(); });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return fitted; });
  }
  // The target buys i3 while the refresh is in flight.
  auto applied = layer->Apply({Ev("target", "i3", "purchase", "t3")});
  EXPECT_TRUE(applied.ok());
  EXPECT_EQ(layer->snapshot_version(), 1u);
  EXPECT_EQ(Payload(*layer, "target").find("\"i3\""), std::string::npos);
  {
    std::lock_guard lock(mu);
    go = true;
  }
  cv.notify_all();
  refresher.join();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->base_version, 1u);
  EXPECT_EQ(report->version, 2u);
  EXPECT_EQ(report->new_items, 1u);
  EXPECT_EQ(report->live_users, 31u);
  EXPECT_EQ(report->users, Model().users.size() + 31);

  bool changed = false;
  ASSERT_TRUE(layer->CheckSnapshot(&changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_TRUE(layer->rebasing());
  // One user at a time: intake could run between the slices.
  int slices = 0;
  for (;;) {
    auto done = layer->RebaseSome(1);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    ++slices;
    if (*done) break;
  }
  EXPECT_EQ(slices, 31);
  EXPECT_FALSE(layer->rebasing());
  EXPECT_EQ(layer->snapshot_version(), 2u);
  const std::string after = Payload(*layer, "target");
  EXPECT_NE(after.find("\"NEW\""), std::string::npos) << after;
  EXPECT_EQ(after.find("\"i3\""), std::string::npos) << "bought during the refresh: " << after;
  EXPECT_EQ(after.rfind("{\"user\":\"target\",\"snapshot\":2,", 0), 0u) << after;
  // The old snapshot's live payloads are gone.
  std::string old;
  EXPECT_EQ(layer->live()->GetPayload(1, "target", &old).code(), StatusCode::kNotFound);
  // The new snapshot's model knows the item; its data was read before the
  // purchase during the refresh (two items), which the rebase folded in.
  auto snap = store_->OpenSnapshot(2);
  ASSERT_TRUE(snap.ok());
  std::string bytes;
  ASSERT_TRUE((*snap)->Get(Table::kMeta, "model", &bytes).ok());
  auto model = ParseModel(bytes, "test");
  ASSERT_TRUE(model.ok());
  EXPECT_TRUE(model->items.Find("NEW").has_value());
  auto t = model->users.Find("target");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(model->model->seen().RowLength(*t), 2u);
}

TEST_F(SpeedLayerTest, ItemRefreshNeedsKappa) {
  auto layer = Open();  // snapshot+live
  ASSERT_NE(layer, nullptr);
  auto job = layer->PrepareItemRefresh({});
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(job.status().message().find("--history live"), std::string::npos);
}

// The consumer starts the refresh by event count in the background and,
// at the end of its source, waits for it and rebases the live users.
TEST_F(SpeedLayerTest, ConsumerRefreshesItemsByEventCount) {
  testing::TempDir dir;
  const std::string path = dir.File("events.jsonl");
  std::string lines;
  for (int f = 0; f < 30; ++f) {
    const std::string fan = "fan" + std::to_string(f);
    lines += R"({"user":")" + fan + R"(","item":"i1","event":"view","id":")" + fan + "a\"}\n";
    lines += R"({"user":")" + fan + R"(","item":"i2","event":"view","id":")" + fan + "b\"}\n";
    lines += R"({"user":")" + fan + R"(","item":"NEW","event":"purchase","id":")" + fan + "c\"}\n";
  }
  lines += R"({"user":"target","item":"i1","event":"view","id":"t1"})"
           "\n";
  lines += R"({"user":"target","item":"i2","event":"view","id":"t2"})"
           "\n";
  testing::WriteFile(path, lines);
  SpeedLayerOptions speed;
  speed.weights = kWeights;
  speed.include_snapshot_row = false;
  ConsumerOptions co;
  co.events_path = path;
  co.batch = 16;
  co.item_refresh_events = 40;
  co.item_refresh.sweeps = 3;
  std::vector<ItemRefreshReport> reports;
  co.on_item_refresh = [&](const ItemRefreshReport& r) { reports.push_back(r); };
  ConsumerStats stats;
  Status s = RunConsumer(store_.get(), speed, co, &stats);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(stats.applied, 92u);
  ASSERT_GE(reports.size(), 1u);
  EXPECT_EQ(stats.item_refreshes, reports.size());
  EXPECT_EQ(stats.item_refresh_errors, 0u);
  auto current = store_->CurrentVersion();
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(*current, reports.back().version);
  EXPECT_EQ(stats.snapshot_version, *current);
  EXPECT_NE(stats.Prometheus().find("encore_stream_item_refreshes_total " +
                                    std::to_string(reports.size())),
            std::string::npos);
  // Every live user was rebased on the last snapshot.
  auto layer = Open(speed);
  ASSERT_NE(layer, nullptr);
  EXPECT_EQ(layer->snapshot_version(), *current);
  std::string payload;
  ASSERT_TRUE(layer->live()->GetPayload(*current, "fan0", &payload).ok());
}

}  // namespace
}  // namespace encore
