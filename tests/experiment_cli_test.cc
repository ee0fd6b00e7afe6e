// End-to-end A/B experiment: two variants published into one snapshot
// (encore publish --variant), a server running the experiment, simulated
// traffic with a planted click-through lift posted as events through
// POST /v1/events (a real redis-server), and `encore experiment report`
// recovering the lift within its interval; a planted sample-ratio mismatch
// is flagged, and events of unknown variants or without an exposure are
// counted rejections.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <random>
#include <string>
#include <vector>

#include "encore/experiment.h"
#include "encore/recommender.h"
#include "encore/serve.h"
#include "encore/store.h"
#include "http_test_client.h"
#include "redis_server.h"
#include "serve_fixture.h"
#include "test_util.h"

namespace encore::testing {
namespace {

constexpr char kDeclaration[] = R"(name = "reco-test"
salt = "e2e"
control = "control"

[[variant]]
name = "control"
share = 50

[[variant]]
name = "treatment"
share = 50
payload = "treatment"

[forced]
"qa-forced" = "treatment"
)";

std::string JsonString(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v) != simdjson::SUCCESS) return "";
  return std::string(v);
}

double At(simdjson::dom::element e, std::initializer_list<const char*> path) {
  for (const char* k : path) e = e[k];
  return double(e);
}

class ExperimentCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok()) << "redis-server missing? run scripts/install-deps.sh";
    ASSERT_TRUE(SaveModel(SharedModel(), dir_.File("a.model")).ok());
    ASSERT_TRUE(SaveModel(SharedModel(), dir_.File("b.model")).ok());
    WriteFile(dir_.File("exp.toml"), kDeclaration);
    store_uri_ = dir_.File("store");
    CommandResult pub =
        RunEncore("publish -q --store " + store_uri_ + " --model-file " + dir_.File("a.model") +
                  " --n 5 --variant treatment=" + dir_.File("b.model"));
    ASSERT_EQ(pub.exit_code, 0) << pub.err;
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  void StartServer() {
    ServeOptions o = FastServeOptions();
    o.api_key = "k";
    o.events_redis = redis_.Uri();
    auto experiment = LoadExperiment(dir_.File("exp.toml"));
    ASSERT_TRUE(experiment.ok()) << experiment.status().ToString();
    o.experiment = std::make_shared<const Experiment>(*experiment);
    auto store = Store::OpenExisting(store_uri_);
    ASSERT_TRUE(store.ok());
    auto server = Server::Create(std::move(store).value(), o);
    ASSERT_TRUE(server.ok());
    server_ = std::move(server).value();
    ASSERT_TRUE(server_->Start().ok());
  }
  HttpReply PostEvents(const std::string& body) {
    return HttpFetch(server_->port(), "POST", "/v1/events", body,
                     {"Content-Type: application/json", "Authorization: Bearer k"});
  }

  RedisServer redis_;
  TempDir dir_;
  std::string store_uri_;
  std::unique_ptr<Server> server_;
};

TEST_F(ExperimentCliTest, ReportRecoversAPlantedLiftAndFlagsAPlantedMismatch) {
  StartServer();
  simdjson::dom::parser parser;
  std::mt19937_64 rng(20261205);
  std::uniform_real_distribution<double> unit(0, 1);
  const double ctr[2] = {0.10, 0.15};  // planted: +50% click-through
  const int kUsers = 3000;
  std::string batch = "[";
  int in_batch = 0;
  std::string jsonl_all, jsonl_srm;  // the same events, and without 25% of treatment users
  int served[2] = {0, 0};
  auto flush = [&] {
    batch += "]";
    HttpReply r = PostEvents(batch);
    ASSERT_EQ(r.status, 202) << r.body;
    batch = "[";
    in_batch = 0;
  };
  auto add = [&](const std::string& event, bool drop) {
    batch += (in_batch++ ? "," : "") + event;
    jsonl_all += event + "\n";
    if (!drop) jsonl_srm += event + "\n";
  };
  for (int u = 0; u < kUsers; ++u) {
    const std::string user = "sim" + std::to_string(u);
    bool drop = false;
    for (int x = 0; x < 2; ++x) {
      HttpReply r = HttpFetch(server_->port(), "GET",
                              "/v1/users/" + user + "/recommendations?fallback=popular&limit=3");
      ASSERT_EQ(r.status, 200) << r.body;
      simdjson::dom::element doc;
      ASSERT_EQ(parser.parse(r.body).get(doc), simdjson::SUCCESS) << r.body;
      const std::string variant = JsonString(doc, "variant");
      const std::string rec = JsonString(doc, "recommendation_id");
      ASSERT_EQ(JsonString(doc, "experiment"), "reco-test");
      ASSERT_FALSE(rec.empty());
      const int v = variant == "treatment" ? 1 : 0;
      ASSERT_TRUE(variant == "control" || variant == "treatment") << variant;
      if (x == 0) {
        ++served[v];
        drop = v == 1 && unit(rng) < 0.25;  // planted SRM (file only)
      }
      const std::string common = "\"user\":\"" + user + "\",\"item\":\"i\",\"rec\":\"" + rec + "\"";
      add("{" + common + ",\"event\":\"exposure\",\"variant\":\"" + variant + "\"}", drop);
      if (unit(rng) < ctr[v]) add("{" + common + ",\"event\":\"click\"}", drop);
      if (in_batch >= 2000) flush();
    }
  }
  // Bad events: an unknown variant and a click without an exposure.
  add("{\"user\":\"x\",\"item\":\"i\",\"rec\":\"rX\",\"event\":\"exposure\",\"variant\":\"nope\"}",
      false);
  add("{\"user\":\"x\",\"item\":\"i\",\"rec\":\"r-none\",\"event\":\"click\"}", false);
  flush();
  EXPECT_GT(served[0], kUsers / 2 - 200);
  EXPECT_GT(served[1], kUsers / 2 - 200);

  // The forced QA user and a sticky assignment.
  HttpReply qa =
      HttpFetch(server_->port(), "GET", "/v1/users/qa-forced/recommendations?fallback=popular");
  EXPECT_NE(qa.body.find("\"variant\":\"treatment\""), std::string::npos) << qa.body;

  // From the Redis stream the server appended to.
  CommandResult report = RunEncore("experiment report --experiment " + dir_.File("exp.toml") +
                                   " --redis " + redis_.Uri() + " --stream events --json");
  ASSERT_EQ(report.exit_code, 0) << report.err;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(report.out).get(doc), simdjson::SUCCESS) << report.out;
  simdjson::dom::array variants = doc["variants"];
  ASSERT_EQ(variants.size(), 2u);
  simdjson::dom::element treatment = variants.at(1);
  EXPECT_EQ(JsonString(treatment, "name"), "treatment");
  const double low = At(treatment, {"lift", "ctr", "low"}),
               high = At(treatment, {"lift", "ctr", "high"});
  EXPECT_LT(low, 0.5) << report.out;  // the planted lift 0.15 / 0.10 - 1
  EXPECT_GT(high, 0.5) << report.out;
  EXPECT_GT(low, 0.0) << report.out;  // detected
  EXPECT_FALSE(bool(doc["srm"]["mismatch"])) << report.out;
  EXPECT_EQ(At(doc, {"events", "rejected", "unknown_variant"}), 1);
  EXPECT_EQ(At(doc, {"events", "rejected", "no_matching_exposure"}), 1);
  EXPECT_EQ(At(doc, {"events", "read"}), At(doc, {"events", "accepted"}) + 2);  // nothing lost

  // The same traffic with a quarter of treatment's users lost: a mismatch.
  WriteFile(dir_.File("srm.jsonl"), jsonl_srm);
  CommandResult srm = RunEncore("experiment report --experiment " + dir_.File("exp.toml") +
                                " --events " + dir_.File("srm.jsonl"));
  ASSERT_EQ(srm.exit_code, 0) << srm.err;
  EXPECT_NE(srm.out.find("SAMPLE RATIO MISMATCH"), std::string::npos) << srm.out;
  EXPECT_NE(srm.out.find("fixed-horizon"), std::string::npos);
}

TEST_F(ExperimentCliTest, BadDeclarationsAndMissingVariantsAreClearErrors) {
  WriteFile(dir_.File("bad.toml"),
            "name = \"x\"\n[[variant]]\nname = \"a\"\nshare = 60\n[[variant]]\nname = \"b\"\n"
            "share = 60\n");
  CommandResult r = RunEncore("experiment check " + dir_.File("bad.toml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("add up to 120, not 100"), std::string::npos) << r.err;
  r = RunEncore("serve --store " + store_uri_ + " --experiment " + dir_.File("bad.toml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("add up to 120"), std::string::npos) << r.err;
  r = RunEncore("publish -q --store " + dir_.File("store2") + " --model-file " +
                dir_.File("a.model") + " --variant t=" + dir_.File("b.model") +
                " --variant t=" + dir_.File("b.model"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("variant 't' is given twice"), std::string::npos) << r.err;
  r = RunEncore("experiment report --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--json"), std::string::npos);
  r = RunEncore("experiment check " + dir_.File("exp.toml") + " --user qa-forced");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "qa-forced\ttreatment\n");
  // A variant the snapshot does not hold: 503 naming the fix.
  WriteFile(dir_.File("exp.toml"),
            std::string(kDeclaration)
                .replace(std::string(kDeclaration).find("payload = \"treatment\""), 21,
                         "payload = \"absent\""));
  StartServer();
  HttpReply reply = HttpFetch(server_->port(), "GET", "/v1/users/qa-forced/recommendations");
  EXPECT_EQ(reply.status, 503);
  EXPECT_NE(reply.body.find("--variant absent=MODEL_FILE"), std::string::npos) << reply.body;
}

// encore experiment replay on generated data, as docs/EXPERIMENTS.md runs it:
// the JSON on stdout, progress on stderr, bad input named by file and line.
TEST(ExperimentReplayCli, ReplaysAGeneratedPeriodAgainstTwoSavedModels) {
  TempDir dir;
  CommandResult r = RunEncore(
      "generate -q --profile retail --users 500 --items 200 --rows 15000 "
      "--out " +
      dir.File("data"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The history: rows before 2023-12-01 (1701388800).
  const std::string events = ReadFile(dir.File("data/events.csv"));
  std::string history = events.substr(0, events.find('\n') + 1);
  size_t pos = history.size();
  while (pos < events.size()) {
    const size_t end = events.find('\n', pos);
    const std::string line = events.substr(pos, end - pos);
    const size_t ts = line.find(',', line.find(',', line.find(',', line.find(',') + 1) + 1) + 1);
    if (std::stoll(line.substr(ts + 1)) < 1701388800) history += line + "\n";
    pos = end + 1;
  }
  WriteFile(dir.File("history.csv"), history);
  const std::string weights = " --weights view=1,wishlist=2,cart=5,purchase=10";
  r = RunEncore("train -q -i " + dir.File("history.csv") + " --model popularity --out " +
                dir.File("pop.model"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunEncore("train -q -i " + dir.File("history.csv") + " --model ials --out " +
                dir.File("ials.model") + weights);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string replay =
      "experiment replay -i " + dir.File("data/events.csv") +
      " --from 2023-12-01 --to 2024-01-01 --model popularity=" + dir.File("pop.model") +
      " --model ials=" + dir.File("ials.model") + weights;
  r = RunEncore(replay + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("replay: model ials (ials)"), std::string::npos) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(int64_t(doc["period"]["start"]), 1701388800);
  EXPECT_GT(uint64_t(doc["users"]["evaluated"]), 0u);
  EXPECT_EQ(doc["models"].get_array().size(), 2u);
  EXPECT_EQ(doc["differences"].get_array().size(), 4u);  // the default four metrics
  r = RunEncore(replay);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("difference against popularity"), std::string::npos) << r.out;
  // Bad input: a row whose time is not a time, a bad --from, one model.
  WriteFile(dir.File("bad.csv"),
            "user,item,event,timestamp\nu1,i1,view,1701388801\nu1,i2,view,soon\n");
  r = RunEncore("experiment replay -i " + dir.File("bad.csv") +
                " --from 2023-12-01 --to 2024-01-01 --model a=" + dir.File("pop.model") +
                " --model b=" + dir.File("ials.model"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.csv:3"), std::string::npos) << r.err;
  r = RunEncore("experiment replay -i " + dir.File("data/events.csv") +
                " --from yesterday --to 2024-01-01 --model a=" + dir.File("pop.model") +
                " --model b=" + dir.File("ials.model"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--from: 'yesterday' is not a time"), std::string::npos) << r.err;
  r = RunEncore("experiment replay -i " + dir.File("data/events.csv") +
                " --from 2023-12-01 --to 2024-01-01 --model a=" + dir.File("pop.model"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("two or more models"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace encore::testing
