// Publish: the payloads a snapshot holds parse as JSON, say exactly what the
// model says, and carry the snapshot's version.

#include "encore/publish.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <map>

#include "encore/rank.h"
#include "test_data.h"
#include "util/time_format.h"

namespace encore {
namespace {

using testing::MakeTestDataset;
using testing::TestDataOptions;

TrainedModel Train(const std::string& kind, const TestDataOptions& options = {}) {
  Dataset data = MakeTestDataset(options);
  ModelParams p;
  p.factors = 8;
  p.iterations = 5;
  p.threads = 2;
  auto model = CreateRecommender(kind, p);
  ENCORE_CHECK(model.ok());
  Status s = (*model)->Fit(data);
  ENCORE_CHECK(s.ok());
  TrainedModel t;
  t.model = std::move(model).value();
  t.users = std::move(data.users);
  t.items = std::move(data.items);
  return t;
}

std::unique_ptr<Store> MemoryStore() {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  auto store = Store::Open(std::string("memory:publish-") + test->name());
  ENCORE_CHECK(store.ok());
  return std::move(store).value();
}

std::vector<uint32_t> Range(uint32_t n) {
  std::vector<uint32_t> v(n);
  for (uint32_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

std::string Get(Store* store, Table table, std::string_view key) {
  auto current = store->CurrentVersion();
  EXPECT_TRUE(current.ok());
  auto snap = store->OpenSnapshot(current.value());
  EXPECT_TRUE(snap.ok());
  std::string value;
  Status s = (*snap)->Get(table, key, &value);
  if (s.code() == StatusCode::kNotFound) return "<not found>";
  if (!s.ok()) return "<" + s.ToString() + ">";
  return value;
}

struct Payload {
  std::string id;
  uint64_t snapshot = 0;
  std::vector<std::pair<std::string, float>> list;
};

// Parses {"<id_key>":"...","snapshot":V,"<list_key>":[{"item":"I","score":S},...]}.
::testing::AssertionResult Parse(const std::string& json, const char* id_key, const char* list_key,
                                 Payload* out) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) {
    return ::testing::AssertionFailure() << "not JSON: " << json;
  }
  std::string_view id;
  if (id_key != nullptr) {
    if (root[id_key].get_string().get(id) != simdjson::SUCCESS) {
      return ::testing::AssertionFailure() << "no string " << id_key << " in " << json;
    }
    out->id = std::string(id);
  }
  if (root["snapshot"].get_uint64().get(out->snapshot) != simdjson::SUCCESS) {
    return ::testing::AssertionFailure() << "no snapshot in " << json;
  }
  simdjson::dom::array list;
  if (root[list_key].get_array().get(list) != simdjson::SUCCESS) {
    return ::testing::AssertionFailure() << "no array " << list_key << " in " << json;
  }
  for (simdjson::dom::element e : list) {
    std::string_view item;
    double score = 0;
    if (e["item"].get_string().get(item) != simdjson::SUCCESS ||
        e["score"].get_double().get(score) != simdjson::SUCCESS) {
      return ::testing::AssertionFailure() << "bad list entry in " << json;
    }
    out->list.emplace_back(std::string(item), static_cast<float>(score));
  }
  return ::testing::AssertionSuccess();
}

std::vector<std::pair<std::string, float>> Named(const TrainedModel& m,
                                                 const std::vector<ScoredItem>& list) {
  std::vector<std::pair<std::string, float>> out;
  for (const auto& s : list) out.emplace_back(std::string(m.items.Name(s.item)), s.score);
  return out;
}

TEST(Publish, UserPayloadsAreExactlyRecommendBatch) {
  TrainedModel model = Train("ials");
  auto store = MemoryStore();
  PublishOptions options;
  options.n = 7;
  auto report = Publish(model, options, store.get());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->snapshot.version, 1u);
  EXPECT_EQ(report->user_payloads, model.users.size());
  EXPECT_EQ(report->skipped_ids, 0u);
  EXPECT_GT(report->bytes, 0u);
  EXPECT_EQ(store->CurrentVersion().value(), 1u);

  QueryOptions q;
  q.n = 7;
  std::vector<std::vector<ScoredItem>> expected;
  RecommendBatch(*model.model, Range(model.users.size()), q, &expected);
  bool some_full = false;
  for (uint32_t u = 0; u < model.users.size(); ++u) {
    const std::string id(model.users.Name(u));
    const std::string json = Get(store.get(), Table::kUser, id);
    EXPECT_EQ(json.rfind("{\"user\":\"" + id + "\",\"snapshot\":1,\"items\":[", 0), 0u) << json;
    Payload p;
    ASSERT_TRUE(Parse(json, "user", "items", &p));
    EXPECT_EQ(p.id, id);
    EXPECT_EQ(p.snapshot, 1u);
    EXPECT_EQ(p.list, Named(model, expected[u])) << "user " << id;
    for (const ScoredItem& s : expected[u]) {  // shortest round-trip float text
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, s.score);
      const std::string entry = "{\"item\":\"" + std::string(model.items.Name(s.item)) +
                                "\",\"score\":" + std::string(buf, end) + "}";
      EXPECT_NE(json.find(entry), std::string::npos) << entry << " in " << json;
    }
    some_full = some_full || p.list.size() == 7;
  }
  EXPECT_TRUE(some_full);
  // The user with no interactions still has a payload, with whatever the model gives.
  EXPECT_NE(Get(store.get(), Table::kUser, "u60").find("\"user\":\"u60\""), std::string::npos);
}

TEST(Publish, IncludeSeenIsHonoured) {
  TrainedModel model = Train("cooccurrence");
  auto store = MemoryStore();
  PublishOptions options;
  options.n = 5;
  options.exclude_seen = false;
  ASSERT_TRUE(Publish(model, options, store.get()).ok());
  QueryOptions q;
  q.n = 5;
  q.exclude_seen = false;
  std::vector<std::vector<ScoredItem>> expected;
  RecommendBatch(*model.model, Range(model.users.size()), q, &expected);
  for (uint32_t u = 0; u < model.users.size(); u += 7) {
    Payload p;
    ASSERT_TRUE(Parse(Get(store.get(), Table::kUser, model.users.Name(u)), "user", "items", &p));
    EXPECT_EQ(p.list, Named(model, expected[u]));
  }
}

TEST(Publish, SimilarPayloadsAreExactlySimilarItems) {
  for (const char* kind : {"ials", "cooccurrence"}) {
    SCOPED_TRACE(kind);
    TrainedModel model = Train(kind);
    auto store = MemoryStore();
    PublishOptions options;
    options.similar_n = 4;
    auto report = Publish(model, options, store.get());
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    const uint64_t version = report->snapshot.version;
    EXPECT_EQ(report->similar_payloads, model.items.size());
    for (uint32_t i = 0; i < model.items.size(); ++i) {
      std::vector<ScoredItem> expected;
      ASSERT_TRUE(model.model->SimilarItems(i, 4, &expected).ok());
      Payload p;
      ASSERT_TRUE(
          Parse(Get(store.get(), Table::kSimilar, model.items.Name(i)), "item", "similar", &p));
      EXPECT_EQ(p.id, model.items.Name(i));
      EXPECT_EQ(p.snapshot, version);
      EXPECT_EQ(p.list, Named(model, expected));
    }
  }
}

TEST(Publish, PopularIsItemsByDistinctUsers) {
  TrainedModel model = Train("als", TestDataOptions{.explicit_ratings = true});
  auto store = MemoryStore();
  PublishOptions options;
  options.popular_n = 10;
  ASSERT_TRUE(Publish(model, options, store.get()).ok());
  const std::string json = Get(store.get(), Table::kMeta, "popular");
  EXPECT_EQ(json.rfind("{\"snapshot\":1,\"fallback\":\"popular\",\"items\":[", 0), 0u) << json;
  Payload p;
  ASSERT_TRUE(Parse(json, nullptr, "items", &p));
  EXPECT_EQ(p.snapshot, 1u);
  // Independently: distinct users per item, descending, ties by item index.
  const CsrMatrix& seen = model.model->seen();
  std::map<uint32_t, uint32_t> users_per_item;
  for (uint32_t u = 0; u < seen.rows; ++u) {
    for (uint64_t k = seen.indptr[u]; k < seen.indptr[u + 1]; ++k)
      ++users_per_item[seen.indices[k]];
  }
  std::vector<std::pair<uint32_t, uint32_t>> ranked(users_per_item.begin(), users_per_item.end());
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  ASSERT_EQ(p.list.size(), 10u);
  for (size_t r = 0; r < 10; ++r) {
    EXPECT_EQ(p.list[r].first, model.items.Name(ranked[r].first)) << r;
    EXPECT_EQ(p.list[r].second, static_cast<float>(ranked[r].second)) << r;
  }
}

TEST(Publish, InfoDocument) {
  TrainedModel model = Train("ials");
  auto store = MemoryStore();
  PublishOptions options;
  options.n = 9;
  options.similar_n = 3;
  auto report = Publish(model, options, store.get());
  ASSERT_TRUE(report.ok());
  const std::string json = Get(store.get(), Table::kMeta, "info");
  simdjson::dom::parser parser;
  simdjson::dom::element info;
  ASSERT_EQ(parser.parse(json).get(info), simdjson::SUCCESS) << json;
  EXPECT_EQ(json.rfind("{\"snapshot\":1,\"created\":\"", 0), 0u) << json;
  EXPECT_EQ(std::string_view(info["created"]), FormatUtcTime(report->snapshot.created_unix));
  EXPECT_EQ(std::string_view(info["model"]["kind"]), "ials");
  EXPECT_EQ(int64_t(info["model"]["params"]["factors"]), 8);
  EXPECT_NEAR(double(info["model"]["params"]["reg"]), 0.1, 1e-6);
  EXPECT_EQ(std::string_view(info["model"]["params"]["solver"]), "cg");
  EXPECT_TRUE(info["model"]["params"]["similarity"].error()) << "cooccurrence-only parameter";
  EXPECT_EQ(uint64_t(info["counts"]["users"]), model.users.size());
  EXPECT_EQ(uint64_t(info["counts"]["items"]), model.items.size());
  EXPECT_EQ(uint64_t(info["counts"]["interactions"]), model.model->seen().nnz());
  EXPECT_EQ(uint64_t(info["payloads"]["users"]), report->user_payloads);
  EXPECT_EQ(uint64_t(info["payloads"]["similar"]), report->similar_payloads);
  EXPECT_EQ(uint64_t(info["payloads"]["n"]), 9u);
  EXPECT_EQ(uint64_t(info["payloads"]["similar_n"]), 3u);
  std::vector<char> touched(model.items.size(), 0);
  for (uint32_t item : model.model->seen().indices) touched[item] = 1;
  EXPECT_EQ(uint64_t(info["payloads"]["popular"]),
            static_cast<uint64_t>(std::count(touched.begin(), touched.end(), 1)));
  EXPECT_GT(uint64_t(info["payloads"]["model_bytes"]), 0u);
}

TEST(Publish, ModelRoundTripsThroughTheSnapshot) {
  TrainedModel model = Train("ials");
  auto store = MemoryStore();
  ASSERT_TRUE(Publish(model, PublishOptions{}, store.get()).ok());
  const std::string bytes = Get(store.get(), Table::kMeta, "model");
  auto parsed = ParseModel(bytes, "snapshot model");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->users.size(), model.users.size());
  QueryOptions q;
  q.n = 10;
  std::vector<std::vector<ScoredItem>> a, b;
  RecommendBatch(*model.model, Range(model.users.size()), q, &a);
  RecommendBatch(*parsed->model, Range(model.users.size()), q, &b);
  EXPECT_EQ(a, b);

  PublishOptions no_model;
  no_model.include_model = false;
  auto report = Publish(model, no_model, store.get());
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->snapshot.version, 2u);
  EXPECT_EQ(Get(store.get(), Table::kMeta, "model").rfind("<not found>", 0), 0u);
  EXPECT_NE(Get(store.get(), Table::kMeta, "info").find("\"model_bytes\":0"), std::string::npos);
}

TEST(Publish, ModelsWithoutSimilarityPublishNoSimilarPayloads) {
  TrainedModel model = Train("popularity");
  auto store = MemoryStore();
  auto report = Publish(model, PublishOptions{}, store.get());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->similar_payloads, 0u);
  ASSERT_EQ(report->notes.size(), 1u);
  EXPECT_NE(report->notes[0].find("no notion of item similarity"), std::string::npos);
  EXPECT_EQ(Get(store.get(), Table::kSimilar, "i0").rfind("<not found>", 0), 0u);
  EXPECT_NE(Get(store.get(), Table::kMeta, "info").find("\"similar\":0,\"n\":20,\"similar_n\":0"),
            std::string::npos);
  EXPECT_EQ(report->user_payloads, model.users.size());
}

// Ids are bytes: quotes, backslashes, control characters, invalid UTF-8 must
// still give valid JSON; ids too long for a key are skipped and counted.
TEST(Publish, ArbitraryIdBytesGiveValidJson) {
  TrainedModel model = Train("cooccurrence");
  const std::vector<std::string> odd = {
      "quote\"d",    "back\\slash",     std::string("nul\0byte", 8), "new\nline\ttab\x01\x1f\x7f",
      "caf\xc3\xa9", "bad\xff\xfeutf8", "\xe2\x80\xa8sep",           std::string(600, 'L'),
      "</script>"};
  IdDictionary users, items;
  for (uint32_t u = 0; u < model.users.size(); ++u) {
    users.Intern(u < odd.size() ? odd[u] : std::string(model.users.Name(u)));
  }
  for (uint32_t i = 0; i < model.items.size(); ++i) {
    items.Intern(i < odd.size() ? "item-" + odd[i] : std::string(model.items.Name(i)));
  }
  model.users = std::move(users);
  model.items = std::move(items);
  auto store = MemoryStore();
  auto report = Publish(model, PublishOptions{}, store.get());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->skipped_ids, 2u) << "the 600-byte user id and the 605-byte item id";
  EXPECT_EQ(report->user_payloads, model.users.size() - 1);
  EXPECT_EQ(report->similar_payloads, model.items.size() - 1);
  for (uint32_t u = 0; u < odd.size(); ++u) {
    if (odd[u].size() > 500) {
      EXPECT_EQ(Get(store.get(), Table::kUser, odd[u]).rfind("<not found>", 0), 0u);
      continue;
    }
    Payload p;
    ASSERT_TRUE(Parse(Get(store.get(), Table::kUser, odd[u]), "user", "items", &p)) << u;
    if (odd[u].find('\xff') == std::string::npos) {
      EXPECT_EQ(p.id, odd[u]) << "valid UTF-8 reads back exactly";
    } else {
      EXPECT_EQ(p.id, "bad\xef\xbf\xbd\xef\xbf\xbdutf8") << "U+FFFD per invalid byte";
    }
  }
  for (uint32_t i = 0; i < model.items.size(); ++i) {
    const std::string json = Get(store.get(), Table::kSimilar, model.items.Name(i));
    if (model.items.Name(i).size() > 500) continue;
    Payload p;
    ASSERT_TRUE(Parse(json, "item", "similar", &p)) << i;
  }
  Payload popular;
  ASSERT_TRUE(Parse(Get(store.get(), Table::kMeta, "popular"), nullptr, "items", &popular));
}

TEST(Publish, KeepsTheNewestSnapshots) {
  TrainedModel model = Train("popularity");
  auto store = MemoryStore();
  PublishOptions options;
  options.keep = 2;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Publish(model, options, store.get()).ok());
  auto list = store->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].version, 3u);
  EXPECT_EQ((*list)[1].version, 4u);
  EXPECT_TRUE((*list)[1].current);
  Payload p;
  ASSERT_TRUE(Parse(Get(store.get(), Table::kUser, "u0"), "user", "items", &p));
  EXPECT_EQ(p.snapshot, 4u);
}

TEST(Publish, BadOptionsFailBeforeAnythingIsWritten) {
  TrainedModel model = Train("popularity");
  auto store = MemoryStore();
  PublishOptions options;
  options.n = 0;
  EXPECT_EQ(Publish(model, options, store.get()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->CurrentVersion().status().code(), StatusCode::kNotFound);
  TrainedModel empty;
  EXPECT_EQ(Publish(empty, PublishOptions{}, store.get()).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(HighWaterMark, ParsesIdAndTime) {
  auto none = ParseHighWater("");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->kind, HighWater::Kind::kNone);
  auto id = ParseHighWater("id:1733400000000-7");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->kind, HighWater::Kind::kId);
  EXPECT_EQ(id->ms, 1733400000000u);
  EXPECT_EQ(id->seq, 7u);
  auto max = ParseHighWater("id:18446744073709551615-18446744073709551615");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->ms, UINT64_MAX);
  auto t = ParseHighWater("time:1733400000");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->kind, HighWater::Kind::kTime);
  EXPECT_EQ(t->time, 1733400000);
  auto zero = ParseHighWater("time:0");
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->time, 0);
}

TEST(HighWaterMark, RejectsMalformedMarksWithAClearError) {
  for (const char* bad : {"id:",
                          "id:1",
                          "id:1-",
                          "id:-1",
                          "id:-",
                          "id:1-2-3",
                          "id:a-0",
                          "id:1-b",
                          "id: 1-0",
                          "id:+1-0",
                          "id:18446744073709551616-0",
                          "ID:1-0",
                          " id:1-0",
                          "id:1-0 ",
                          "1-0",
                          "time:",
                          "time:1.5",
                          "time:12x",
                          "time:abc",
                          "time:2026-12-05T13:00:00Z",
                          "time: 5",
                          "1733400000",
                          "foo",
                          "id",
                          "time"}) {
    auto r = ParseHighWater(bad);
    ASSERT_FALSE(r.ok()) << "'" << bad << "' parsed";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    const std::string& m = r.status().message();
    EXPECT_NE(m.find("'" + std::string(bad) + "'"), std::string::npos) << m;
    EXPECT_NE(m.find("id:MS-SEQ"), std::string::npos) << m;
    EXPECT_NE(m.find("time:SECONDS"), std::string::npos) << m;
  }
}

TEST(HighWaterMark, CoversUpToAndIncludingTheMark) {
  auto id = ParseHighWater("id:1000-5");
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(id->Covers("999-99", std::nullopt));
  EXPECT_TRUE(id->Covers("1000-0", std::nullopt));
  EXPECT_TRUE(id->Covers("1000-5", std::nullopt));  // exactly at the mark
  EXPECT_FALSE(id->Covers("1000-6", std::nullopt));
  EXPECT_FALSE(id->Covers("1001-0", std::nullopt));
  EXPECT_FALSE(id->Covers("", 1)) << "no entry id: after the mark, whatever its time";
  EXPECT_FALSE(id->Covers("garbage", std::nullopt));
  // Numbers, not strings: "999" < "1000" although "999" > "1000" as text.
  EXPECT_TRUE(id->Covers("999-0", std::nullopt));
  auto big = ParseHighWater("id:999-0");
  ASSERT_TRUE(big.ok());
  EXPECT_FALSE(big->Covers("1000-0", std::nullopt));

  auto t = ParseHighWater("time:100");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->Covers("", 99));
  EXPECT_TRUE(t->Covers("", 100));  // exactly at the mark
  EXPECT_FALSE(t->Covers("", 101));
  EXPECT_FALSE(t->Covers("1-0", std::nullopt)) << "no time: after the mark";

  HighWater none;
  EXPECT_FALSE(none.Covers("0-0", 0));
}

TEST(HighWaterMark, PublishRecordsTheMarkAndRejectsABadOne) {
  TrainedModel model = Train("popularity");
  auto store = MemoryStore();
  PublishOptions options;
  options.high_water = "id:12-3";
  ASSERT_TRUE(Publish(model, options, store.get()).ok());
  EXPECT_EQ(Get(store.get(), Table::kMeta, "high_water"), "id:12-3");
  EXPECT_NE(Get(store.get(), Table::kMeta, "info").find("\"high_water\":\"id:12-3\""),
            std::string::npos);
  options.high_water = "id:12";
  auto bad = Publish(model, options, store.get());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto v = store->CurrentVersion();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 1u) << "nothing published";
}

}  // namespace
}  // namespace encore
