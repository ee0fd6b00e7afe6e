#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
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
