// Explaining a product's score (Pipeline::ExplainProductScore and
// `encore explain-product`): the arithmetic against a hand-worked example,
// the terms adding up to the score the ranker orders products by, and an
// unknown product as a NotFound naming it.

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <regex>
#include <sstream>

#include "encore/pipeline.h"
#include "serve_fixture.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::CommandResult;
using testing::ReadFile;
using testing::RunEncore;
using testing::TempDir;
using testing::WriteFile;

constexpr int64_t kAsOf = 1780272000;  // 2026-06-01T00:00:00Z
constexpr int64_t kDay = 86400;

std::string Pipeline(const std::string& dir, const std::string& source,
                     const std::string& score_weights) {
  return R"(name = "explain"
workdir = ")" +
         dir + R"(/w"

[sources.ev]
)" + source +
         R"(
user = "member"
item = "product"
event = "event"
time = "timestamp"

[models.affinity]
kind = "ials"
params = { factors = 8, iterations = 3, threads = 2 }

[retail]
source = "ev"
model = "affinity"
as_of = "2026-06-01T00:00:00Z"

)" + score_weights +
         R"(
[outputs.feeds]
kind = "retail"
path = "out/feeds"
store = "store"
)";
}

std::unique_ptr<encore::Pipeline> Load(const std::string& path) {
  auto p = encore::Pipeline::Load(path, PipelineOptions{});
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(p).value() : nullptr;
}

// p1 3 views + 1 purchase, 3 sold before, 2 returns, launched 10 days ago;
// p2 1 view, launched 2 days ago; p3 nothing, launched 100 days ago.
// Writes the hand-worked catalog, events and pipeline under `dir` (p.toml).
void WriteHandWorked(const std::string& dir) {
  auto t = [](int64_t days) { return std::to_string(kAsOf + days * kDay); };
  std::string catalog =
      "product,division,department,class,subclass,brand,price,launch_time,available_from,"
      "available_until,quantity,times_sold,returns,cancellations\n";
  catalog += "p1,w,d1,c1,s1,b1,10," + t(-10) + "," + t(-1) + "," + t(2) + ",10,3,2,0\n";
  catalog += "p2,w,d1,c1,s1,b1,20," + t(-2) + "," + t(-2) + "," + t(1) + ",10,0,0,0\n";
  catalog += "p3,w,d1,c1,s2,b2,30," + t(-100) + "," + t(-1) + "," + t(2) + ",10,0,0,0\n";
  WriteFile(dir + "/catalog.csv", catalog);
  std::string events = "member,product,event,timestamp\n";
  for (int i = 0; i < 3; ++i) events += "m1,p1,view," + t(-1) + "\n";
  events += "m1,p1,purchase," + t(-1) + "\n";
  events += "m2,p2,view," + t(-1) + "\n";
  events += "m2,p3,purchase," + std::to_string(kAsOf + 3600) + "\n";  // after as_of: ignored
  WriteFile(dir + "/events.csv", events);
  // Only clicks 1, conversion 2, first_72h 0.5, return_rate -1.
  std::string weights = "[retail.product_score]\nweights = { ";
  for (const char* zero :
       {"times_sold", "days_on_site", "brand_persistence", "purchases", "cancel_rate", "first_day",
        "early_clicks", "early_purchases", "new_share"}) {
    weights += std::string(zero) + " = 0.0, ";
  }
  weights += "clicks = 1.0, conversion = 2.0, first_72h = 0.5, return_rate = -1.0 }\n";
  weights += "\n[retail.catalog]\npath = \"" + dir + "/catalog.csv\"\n";
  WriteFile(dir + "/p.toml", Pipeline(dir, "path = \"" + dir + "/events.csv\"", weights));
}

class HandWorked : public ::testing::Test {
 protected:
  void SetUp() override { WriteHandWorked(dir_.path()); }
  static const ScoreTerm& Term(const ProductScoreExplanation& e, const std::string& name) {
    for (const ScoreTerm& t : e.terms) {
      if (t.feature == name) return t;
    }
    ADD_FAILURE() << "no term " << name;
    return e.terms.front();
  }
  TempDir dir_;
};

TEST_F(HandWorked, ArithmeticOfEachTerm) {
  auto p = Load(dir_.path() + "/p.toml");
  ASSERT_NE(p, nullptr);
  // A file source and a declared catalog need no run.
  Result<ProductScoreExplanation> e1 = p->ExplainProductScore("p1", {});
  ASSERT_TRUE(e1.ok()) << e1.status().ToString();
  EXPECT_EQ(e1->key, "s1|b1");
  EXPECT_EQ(e1->as_of, kAsOf);
  EXPECT_EQ(e1->terms.size(), ProductFeatures().size());
  // clicks: log(1+3) / max log(1+3) = 1, x 1.
  EXPECT_NEAR(Term(*e1, "clicks").raw, std::log(4.0), 1e-12);
  EXPECT_NEAR(Term(*e1, "clicks").normalised, 1.0, 1e-12);
  EXPECT_NEAR(Term(*e1, "clicks").contribution, 1.0, 1e-12);
  // conversion: 1 / (3 + 1) = 0.25, the max: 1 x 2.
  EXPECT_NEAR(Term(*e1, "conversion").raw, 0.25, 1e-12);
  EXPECT_NEAR(Term(*e1, "conversion").contribution, 2.0, 1e-12);
  // return_rate: 2 / (3 + 1) = 0.5, the max: 1 x -1.
  EXPECT_NEAR(Term(*e1, "return_rate").raw, 0.5, 1e-12);
  EXPECT_NEAR(Term(*e1, "return_rate").contribution, -1.0, 1e-12);
  // first_72h: launched 10 days ago: 0.
  EXPECT_EQ(Term(*e1, "first_72h").raw, 0.0);
  // A zero weight contributes nothing whatever the value.
  EXPECT_GT(Term(*e1, "times_sold").raw, 0.0);
  EXPECT_EQ(Term(*e1, "times_sold").contribution, 0.0);
  EXPECT_NEAR(e1->score, 1.0 + 2.0 + 0.0 - 1.0, 1e-12);

  Result<ProductScoreExplanation> e2 = p->ExplainProductScore("p2", {});
  ASSERT_TRUE(e2.ok()) << e2.status().ToString();
  // clicks log 2 / log 4 = 0.5; first_72h (2 days old) 1 x 0.5.
  EXPECT_NEAR(Term(*e2, "clicks").normalised, 0.5, 1e-12);
  EXPECT_NEAR(Term(*e2, "first_72h").contribution, 0.5, 1e-12);
  EXPECT_NEAR(e2->score, 1.0, 1e-12);
  // p3's purchase is after as_of: not counted.
  Result<ProductScoreExplanation> e3 = p->ExplainProductScore("p3", {});
  ASSERT_TRUE(e3.ok()) << e3.status().ToString();
  EXPECT_EQ(e3->key, "s2|b2");
  EXPECT_EQ(Term(*e3, "purchases").raw, 0.0);
  EXPECT_NEAR(e3->score, 0.0, 1e-12);
  // A day and an hour later p3's purchase counts (its conversion 1 / (0 + 1)
  // becomes the max) and p2 is 3 days and 1 hour old.
  Pipeline::ExplainProductOptions later;
  later.as_of = kAsOf + kDay + 3600;
  Result<ProductScoreExplanation> e2_later = p->ExplainProductScore("p2", later);
  ASSERT_TRUE(e2_later.ok()) << e2_later.status().ToString();
  EXPECT_EQ(Term(*e2_later, "first_72h").raw, 0.0);
  EXPECT_NEAR(e2_later->score, 0.5, 1e-12);
  Result<ProductScoreExplanation> e1_later = p->ExplainProductScore("p1", later);
  ASSERT_TRUE(e1_later.ok()) << e1_later.status().ToString();
  EXPECT_NEAR(Term(*e1_later, "conversion").normalised, 0.25, 1e-12);
  EXPECT_NEAR(e1_later->score, 1.0 + 2.0 * 0.25 - 1.0, 1e-12);
}

TEST_F(HandWorked, UnknownProductIsNotFound) {
  auto p = Load(dir_.path() + "/p.toml");
  ASSERT_NE(p, nullptr);
  Result<ProductScoreExplanation> e = p->ExplainProductScore("p9", {});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  EXPECT_NE(e.status().message().find("product 'p9' is not in the catalog"), std::string::npos)
      << e.status().message();
  EXPECT_NE(e.status().message().find("e.g. p1, p2, p3"), std::string::npos)
      << e.status().message();
  // The CLI says the same and fails.
  CommandResult r = RunEncore("explain-product --pipeline " + dir_.path() + "/p.toml --product p9");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("product 'p9' is not in the catalog"), std::string::npos) << r.err;
}

TEST_F(HandWorked, CommandLinePrintsTheTermsAndJson) {
  CommandResult r = RunEncore("explain-product --pipeline " + dir_.path() + "/p.toml --product p1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("product p1 (key s1|b1), as of 2026-06-01T00:00:00Z"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("conversion"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2.0000"), std::string::npos) << r.out;
  r = RunEncore("explain-product --pipeline " + dir_.path() + "/p.toml --product p2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"product\":\"p2\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"score\":1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"feature\":\"first_72h\""), std::string::npos) << r.out;
  r = RunEncore("explain-product --pipeline " + dir_.path() +
                "/p.toml --product p2 --as-of tomorrow");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--as-of 'tomorrow' is not a time"), std::string::npos) << r.err;
}

// A generated source: explained after a run, from that run's files; the
// terms add up to the score, and the published product lists order each
// key's products by it (the ranker's order).
TEST(ExplainProductGenerated, TermsAddUpToTheRankersScore) {
  TempDir dir;
  const std::string path = dir.path() + "/p.toml";
  WriteFile(path, Pipeline(dir.path(),
                           "generate = { profile = \"fashion\", users = 300, items = 300, "
                           "rows = 12000, seed = 5 }",
                           ""));
  auto p = Load(path);
  ASSERT_NE(p, nullptr);
  // Before any run there are no generated files to read.
  Result<ProductScoreExplanation> none = p->ExplainProductScore("p0001", {});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("no succeeded run"), std::string::npos)
      << none.status().message();
  CommandResult r = RunEncore("run " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Every product of the first members' lists, explained.
  const std::string feed = ReadFile(dir.path() + "/w/out/feeds/products.jsonl");
  std::istringstream lines(feed);
  std::map<std::string, ProductScoreExplanation> explained;
  std::mt19937 rng(11);
  int members = 0, ordered_pairs = 0;
  for (std::string line; std::getline(lines, line) && members < 40;) {
    if (rng() % 4 != 0) continue;  // a random quarter of the members
    ++members;
    std::vector<std::string> ids;
    static const std::regex id_re("\"id\":\"([^\"]+)\"");
    for (auto it = std::sregex_iterator(line.begin(), line.end(), id_re);
         it != std::sregex_iterator(); ++it) {
      ids.push_back((*it)[1]);
    }
    for (const std::string& id : ids) {
      if (explained.count(id)) continue;
      Result<ProductScoreExplanation> e = p->ExplainProductScore(id, {});
      ASSERT_TRUE(e.ok()) << e.status().ToString();
      double sum = 0;
      for (const ScoreTerm& t : e->terms) {
        EXPECT_NEAR(t.contribution, t.normalised * t.weight, 1e-12) << id << " " << t.feature;
        sum += t.contribution;
      }
      EXPECT_NEAR(sum, e->score, 1e-12) << id;
      explained.emplace(id, std::move(e).value());
    }
    // Consecutive products of one key: by score, descending.
    for (size_t i = 1; i < ids.size(); ++i) {
      const ProductScoreExplanation& a = explained.at(ids[i - 1]);
      const ProductScoreExplanation& b = explained.at(ids[i]);
      if (a.key != b.key) continue;
      ++ordered_pairs;
      EXPECT_GE(a.score, b.score) << ids[i - 1] << " before " << ids[i] << " in key " << a.key;
    }
  }
  EXPECT_GT(members, 5);
  EXPECT_GT(ordered_pairs, 20);
  // The scores are not all equal (the check above could not fail otherwise).
  double lo = 1e300, hi = -1e300;
  for (const auto& [id, e] : explained) {
    lo = std::min(lo, e.score);
    hi = std::max(hi, e.score);
  }
  EXPECT_GT(hi - lo, 0.01);
}

// GET /v1/products/{id}/explain on the store the run published: the same
// document as the library call `encore explain-product --json` makes (the
// published one names the run that published it); an unknown product and a
// store without product scores are 404s saying which.
class ProductExplainServeTest : public testing::ServeTest {};

TEST_F(ProductExplainServeTest, AnswersTheLibrarysExplanation) {
  TempDir dir;
  WriteHandWorked(dir.path());
  CommandResult r = RunEncore("run " + dir.path() + "/p.toml");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  requested_store_uri_ = dir.path() + "/w/store";
  StartServer(testing::FastServeOptions(), /*publish=*/false);
  auto p = Load(dir.path() + "/p.toml");
  ASSERT_NE(p, nullptr);
  for (const char* id : {"p1", "p2", "p3"}) {
    testing::HttpReply reply = Get(std::string("/v1/products/") + id + "/explain");
    ASSERT_EQ(reply.status, 200) << reply.body;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(reply.body).get(doc), simdjson::SUCCESS) << reply.body;
    std::string_view run;
    ASSERT_EQ(doc["run"].get(run), simdjson::SUCCESS) << reply.body;
    EXPECT_FALSE(run.empty());
    Result<ProductScoreExplanation> e = p->ExplainProductScore(id, {});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    e->run_id = std::string(run);
    EXPECT_EQ(reply.body, ProductScoreExplanationJson(*e)) << id;
  }
  // The hand-worked p1 (HandWorked.ArithmeticOfEachTerm): clicks 1 + conversion 2 - return_rate 1.
  testing::HttpReply p1 = Get("/v1/products/p1/explain");
  EXPECT_NE(p1.body.find("\"score\":2,"), std::string::npos) << p1.body;
  EXPECT_NE(p1.body.find("\"feature\":\"conversion\",\"raw\":0.25,\"normalised\":1,"
                         "\"weight\":2,\"contribution\":2}"),
            std::string::npos)
      << p1.body;
  testing::HttpReply unknown = Get("/v1/products/p9/explain");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_NE(unknown.body.find("unknown product 'p9'"), std::string::npos) << unknown.body;
  testing::HttpReply info = Get("/v1/info");
  EXPECT_NE(info.body.find("\"product_explanations\":3"), std::string::npos) << info.body;
  EXPECT_EQ(Get("/v1/products/p1/explain").status, 200);
  EXPECT_EQ(testing::HttpFetch(port(), "POST", "/v1/products/p1/explain", "", {}).status, 405);
}

TEST_F(ProductExplainServeTest, StoreWithoutProductScoresIs404) {
  StartServer();  // an `encore publish`-style snapshot: no [retail]
  testing::HttpReply reply = Get("/v1/products/p1/explain");
  EXPECT_EQ(reply.status, 404) << reply.body;
  EXPECT_NE(reply.body.find("no product score explanations"), std::string::npos) << reply.body;
}

}  // namespace
}  // namespace encore
