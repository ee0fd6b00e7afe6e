// Offline replay (encore/replay.h): a planted case where one model is known
// to be better, bad inputs, the JSON shape.

#include "encore/replay.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "encore/input.h"
#include "encore/recommender.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::TempDir;
using testing::WriteFile;

std::string Item(char group, int i) {
  return std::string(1, group) + (i < 10 ? "0" : "") + std::to_string(i);
}

// 200 users in two taste groups (even users: items a00..a19, odd: b00..b19).
// Before t = 1000 each user has 5 items of their group; in [1000, 2000) 3
// more of their group (never one of the 5). Plus: a user active only in the
// period (no history), a user whose period items are all in their history,
// and rows after the period.
std::string PlantedEvents() {
  std::string s = "user,item,timestamp\n";
  for (int u = 0; u < 200; ++u) {
    const char g = u % 2 == 0 ? 'a' : 'b';
    const std::string user = "u" + std::to_string(u);
    for (int j = 0; j < 5; ++j) {
      s += user + "," + Item(g, (u * 3 + j) % 20) + "," + std::to_string(100 + u + j) + "\n";
    }
    for (int j = 5; j < 8; ++j) {
      s += user + "," + Item(g, (u * 3 + j) % 20) + "," + std::to_string(1100 + u + j) + "\n";
    }
  }
  s += "newcomer,a01,1500\n";
  s += "repeater,a01,500\nrepeater,a01,1500\n";
  s += "u0,a07,2500\nu1,b07,2600\n";
  return s;
}

// The rows before t = 1000 as a dataset.
Dataset History(const TempDir& dir) {
  std::string all = PlantedEvents(), before = "user,item,timestamp\n";
  size_t pos = all.find('\n') + 1;
  while (pos < all.size()) {
    const size_t end = all.find('\n', pos);
    const std::string line = all.substr(pos, end - pos);
    if (std::stoll(line.substr(line.rfind(',') + 1)) < 1000) before += line + "\n";
    pos = end + 1;
  }
  WriteFile(dir.File("history.csv"), before);
  InputOptions o;
  o.files = {dir.File("history.csv")};
  ReadReport report;
  return std::move(LoadInput(o, &report)).value();
}

void Save(const std::string& kind, const Dataset& data, const std::string& path) {
  auto model = CreateRecommender(kind, ModelParams{});
  ASSERT_TRUE(model.ok()) << model.status().message();
  ASSERT_TRUE((*model)->Fit(data).ok());
  TrainedModel t{std::move(*model), data.users.Clone(), data.items.Clone()};
  ASSERT_TRUE(SaveModel(t, path).ok());
}

struct Planted {
  TempDir dir;
  ReplayOptions options;
  Planted() {
    WriteFile(dir.File("events.csv"), PlantedEvents());
    const Dataset history = History(dir);
    // The better model: co-occurrence learned from the history (it knows
    // the two groups). The worse: popularity of a decoy log in which only
    // group-b items are popular (everyone is recommended b items).
    Save("cooccurrence", history, dir.File("good.model"));
    std::string decoy = "user,item\n";
    for (int u = 0; u < 50; ++u) {
      for (int i = 0; i < 20; ++i) decoy += "d" + std::to_string(u) + "," + Item('b', i) + "\n";
    }
    decoy += "d0,a00\n";
    WriteFile(dir.File("decoy.csv"), decoy);
    InputOptions o;
    o.files = {dir.File("decoy.csv")};
    ReadReport report;
    Save("popularity", std::move(LoadInput(o, &report)).value(), dir.File("bad.model"));
    options.input.files = {dir.File("events.csv")};
    options.start = 1000;
    options.stop = 2000;
    options.models = {{"popular", dir.File("bad.model")}, {"cooc", dir.File("good.model")}};
    options.metrics = ParseMetrics("precision@5,recall@5,ndcg@5,hit@5").value();
    options.bootstrap = 500;
  }
};

TEST(Replay, FindsThePlantedBetterModel) {
  Planted p;
  std::vector<std::string> progress;
  p.options.log = [&](const std::string& line) { progress.push_back(line); };
  auto r = ReplayModels(p.options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rows_before, 200u * 5 + 1);
  EXPECT_EQ(r->rows_in_period, 200u * 3 + 2);
  EXPECT_EQ(r->rows_after, 2u);
  EXPECT_EQ(r->users_active, 202u);
  EXPECT_EQ(r->users_without_history, 1u);    // newcomer
  EXPECT_EQ(r->users_without_new_items, 1u);  // repeater
  EXPECT_EQ(r->users_evaluated, 200u);
  ASSERT_EQ(r->models.size(), 2u);
  EXPECT_EQ(r->models[0].kind, "popularity");
  EXPECT_EQ(r->models[1].kind, "cooccurrence");
  // The decoy model never knew group-a items but a00: the a users' history
  // is mostly unknown to it.
  EXPECT_GT(r->models[0].unknown_history_items, 0u);
  ASSERT_EQ(r->differences.size(), 4u);
  for (const ReplayDifference& d : r->differences) {
    EXPECT_EQ(d.model, "cooc");
    EXPECT_EQ(d.baseline, "popular");
    EXPECT_GT(d.low, 0) << d.metric.Name();  // significantly better on every metric
    EXPECT_LE(d.low, d.mean);
    EXPECT_GE(d.high, d.mean);
    EXPECT_GT(d.stderr_, 0);
  }
  // The better model gets at least half of the a users' period items that
  // co-occur in others' histories; the decoy gets none of theirs.
  EXPECT_GT(r->models[1].values[3], 0.5);  // hit@5
  EXPECT_GT(r->models[1].values[3], r->models[0].values[3]);
  EXPECT_EQ(progress.size(), 4u);  // read, users, two models
  // Deterministic: the same seed gives the same intervals.
  auto again = ReplayModels(p.options);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->differences[0].low, r->differences[0].low);
  const std::string text = ReplayReportText(*r);
  EXPECT_NE(text.find("cooc ndcg@5: +"), std::string::npos) << text;
  EXPECT_NE(text.find("better"), std::string::npos);
}

TEST(Replay, TheJsonHasItsDocumentedShape) {
  Planted p;
  auto r = ReplayModels(p.options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  simdjson::dom::parser parser;
  const std::string json = ReplayReportJson(*r);
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(int64_t(doc["period"]["start"]), 1000);
  EXPECT_EQ(int64_t(doc["period"]["stop"]), 2000);
  EXPECT_EQ(uint64_t(doc["rows"]["read"]), r->rows);
  EXPECT_EQ(uint64_t(doc["users"]["evaluated"]), 200u);
  EXPECT_EQ(doc["metrics"].get_array().size(), 4u);
  simdjson::dom::array models = doc["models"];
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(std::string_view(models.at(1)["name"]), "cooc");
  EXPECT_EQ(std::string_view(models.at(1)["kind"]), "cooccurrence");
  EXPECT_DOUBLE_EQ(double(models.at(1)["metrics"]["ndcg@5"]), r->models[1].values[2]);
  simdjson::dom::array diffs = doc["differences"];
  ASSERT_EQ(diffs.size(), 4u);
  for (auto d : diffs) {
    for (const char* key : {"model", "baseline", "metric", "mean", "stderr", "low", "high"}) {
      EXPECT_FALSE(d[key].error()) << key;
    }
  }
  EXPECT_EQ(uint64_t(doc["bootstrap"]["replications"]), 500u);
}

TEST(Replay, BadInputsAreClearErrors) {
  Planted p;
  auto error = [](const ReplayOptions& o) {
    auto r = ReplayModels(o);
    return r.ok() ? std::string("(ok)") : r.status().message();
  };
  ReplayOptions o = p.options;
  o.models.resize(1);
  EXPECT_NE(error(o).find("two or more models"), std::string::npos);
  o = p.options;
  o.stop = o.start;
  EXPECT_NE(error(o).find("--to must be after --from"), std::string::npos);
  o = p.options;
  o.metrics = ParseMetrics("rmse").value();
  EXPECT_NE(error(o).find("rmse is not one"), std::string::npos);
  o = p.options;
  o.models[1].path = p.dir.File("missing.model");
  EXPECT_NE(error(o).find("--model cooc=" + p.dir.File("missing.model")), std::string::npos)
      << error(o);
  // A bad row names the file and line.
  WriteFile(p.dir.File("bad.csv"), "user,item,timestamp\nu1,a01,100\nu1,a02,yesterday\n");
  o = p.options;
  o.input.files = {p.dir.File("bad.csv")};
  EXPECT_NE(error(o).find("bad.csv:3"), std::string::npos) << error(o);
  // No time column: no period.
  WriteFile(p.dir.File("untimed.csv"), "user,item\nu1,a01\n");
  o.input.files = {p.dir.File("untimed.csv")};
  EXPECT_NE(error(o).find("no time column"), std::string::npos) << error(o);
  // A period nobody can be judged on.
  o = p.options;
  o.start = 5000;
  o.stop = 6000;
  auto r = ReplayModels(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("no user active in the period"), std::string::npos);
}

}  // namespace
}  // namespace encore
