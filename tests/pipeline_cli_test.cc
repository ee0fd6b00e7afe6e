// encore run / runs end to end: outputs, manifests (checksums, counts,
// lineage), --only, --dry-run, --explain, retention, run history, failures.

#include <gtest/gtest.h>

#include <filesystem>

#include "pipeline/manifest.h"
#include "pipeline_test_util.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::EventsCsv;
using testing::JsonString;
using testing::ListDir;
using testing::ReadFile;
using testing::RunDirs;
using testing::RunEncore;
using testing::TempDir;
using testing::Tree;
using testing::WriteFile;

constexpr char kShop[] = R"(name = "shop"
workdir = "work"
[sources.events]
path = "data/*.csv"
[prepare]
weights = { click = 1, purchase = 3 }
[models.pop]
kind = "popularity"
[models.co]
kind = "cooccurrence"
[recommend.top3]
model = "pop"
n = 3
[recommend.similar]
model = "co"
kind = "similar"
n = 2
[outputs.csv]
kind = "csv"
from = "top3"
path = "out/csv"
derived = { key = "{user}-{row}" }
[outputs.json]
kind = "jsonl"
from = "similar"
path = "out/json"
prefix = "sim"
)";

// A pipeline directory: p.toml and two data files.
struct Shop {
  TempDir dir;
  Shop(const std::string& toml = kShop) {
    std::filesystem::create_directories(dir.File("data"));
    WriteFile(dir.File("data/a.csv"), EventsCsv(30, 20, 6, 1));
    WriteFile(dir.File("data/b.csv"), EventsCsv(10, 20, 4, 2, "v"));
    WriteFile(dir.File("p.toml"), testing::WorkdirIn(dir, toml));
  }
  std::string toml() const { return dir.File("p.toml"); }
  std::string work(const std::string& rest = "") const { return dir.File("work") + rest; }
};

simdjson::dom::element ParseManifest(simdjson::dom::parser* parser, const std::string& text) {
  simdjson::dom::element doc;
  EXPECT_EQ(parser->parse(text).get(doc), simdjson::SUCCESS) << text;
  return doc;
}

TEST(PipelineCli, RunWritesOutputsAndSummary) {
  Shop shop;
  auto r = RunEncore("run " + shop.toml());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto runs = RunDirs(shop.work());
  ASSERT_EQ(runs.size(), 1u);
  const std::string id = runs[0];
  EXPECT_NE(r.out.find("run " + id + " succeeded"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("output csv (csv): " + shop.work("/out/csv") + ", 120 rows, 1 file(s)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("output json (jsonl): " + shop.work("/out/json")), std::string::npos);
  for (const char* stage : {"[1/8] source events", "[3/8] model pop", "[8/8] output json"}) {
    EXPECT_NE(r.err.find(stage), std::string::npos) << stage << " in " << r.err;
  }
  EXPECT_EQ(ListDir(shop.work("/out/csv")),
            (std::vector<std::string>{"_SUCCESS", "csv-" + id + "-00001.csv"}));
  const std::string csv = ReadFile(shop.work("/out/csv/csv-" + id + "-00001.csv"));
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "user,item,score,rank,key");
  EXPECT_NE(csv.find(",1,u0-1\n"), std::string::npos) << csv.substr(0, 200);
  EXPECT_EQ(ListDir(shop.work("/out/json")),
            (std::vector<std::string>{"_SUCCESS", "sim-" + id + ".jsonl"}));
  const std::string jsonl = ReadFile(shop.work("/out/json/sim-" + id + ".jsonl"));
  EXPECT_NE(jsonl.find("\"rank\":1}"), std::string::npos) << jsonl.substr(0, 200);
  EXPECT_TRUE(std::filesystem::exists(shop.work("/runs/" + id + "/models/pop.model")));
  EXPECT_TRUE(std::filesystem::exists(shop.work("/runs/" + id + "/models/co.model")));
}

TEST(PipelineCli, ManifestRecordsInputsCountsMetricsAndLineage) {
  Shop shop(std::string(kShop) + "[models.pop.evaluate]\nmetrics = [\"hit@5\"]\n");
  auto r = RunEncore("run " + shop.toml());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id = RunDirs(shop.work())[0];
  const std::string text = ReadFile(shop.work("/runs/" + id + "/manifest.json"));
  simdjson::dom::parser parser;
  auto doc = ParseManifest(&parser, text);
  EXPECT_EQ(JsonString(doc["status"]), "succeeded");
  EXPECT_EQ(JsonString(doc["run_id"]), id);
  EXPECT_EQ(JsonString(doc["encore_version"]), ENCORE_VERSION);
  EXPECT_EQ(JsonString(doc["config"]["name"]), "shop");
  EXPECT_EQ(JsonString(doc["resolved"]["outputs"]["csv"]), shop.work("/out/csv"));
  // Inputs: every file with its size and SHA-256.
  simdjson::dom::array inputs;
  ASSERT_EQ(doc["inputs"].get(inputs), simdjson::SUCCESS);
  ASSERT_EQ(inputs.size(), 2u);
  size_t k = 0;
  for (const char* name : {"data/a.csv", "data/b.csv"}) {
    simdjson::dom::element in = inputs.at(k++);
    EXPECT_EQ(JsonString(in["path"]), shop.dir.File(name));
    uint64_t bytes = 0, expected_bytes = 0;
    auto sha = pipeline::Sha256File(shop.dir.File(name), &expected_bytes);
    ASSERT_TRUE(sha.ok());
    EXPECT_EQ(JsonString(in["sha256"]), *sha);
    ASSERT_EQ(in["bytes"].get(bytes), simdjson::SUCCESS);
    EXPECT_EQ(bytes, expected_bytes);
  }
  // Counts.
  uint64_t rows = 0, users = 0;
  ASSERT_EQ(doc["counts"]["sources"]["events"]["rows_read"].get(rows), simdjson::SUCCESS);
  EXPECT_EQ(rows, 30u * 6 + 10 * 4);
  ASSERT_EQ(doc["counts"]["users"].get(users), simdjson::SUCCESS);
  EXPECT_EQ(users, 40u);
  EXPECT_EQ(JsonString(doc["counts"]["prepare"].at(0)["step"]), "read");
  // Stage timings, models and metrics.
  simdjson::dom::array stages;
  ASSERT_EQ(doc["stages"].get(stages), simdjson::SUCCESS);
  EXPECT_EQ(stages.size(), 8u);
  EXPECT_EQ(JsonString(doc["models"]["pop"]["kind"]), "popularity");
  EXPECT_EQ(JsonString(doc["models"]["pop"]["trained_on"]), "all data");
  double hit = -1;
  ASSERT_EQ(doc["metrics"]["pop"]["test"]["hit@5"].get(hit), simdjson::SUCCESS);
  EXPECT_GE(hit, 0);
  EXPECT_LE(hit, 1);
  // Outputs and their lineage.
  simdjson::dom::element out = doc["outputs"].at(0);
  EXPECT_EQ(JsonString(out["name"]), "csv");
  uint64_t out_rows = 0;
  ASSERT_EQ(out["rows"].get(out_rows), simdjson::SUCCESS);
  EXPECT_EQ(out_rows, 120u);
  EXPECT_EQ(JsonString(out["files"].at(0)), shop.work("/out/csv/csv-" + id + "-00001.csv"));
  std::vector<std::string> lineage;
  for (auto s : out["lineage"]["stages"].get_array()) lineage.push_back(JsonString(s));
  EXPECT_EQ(lineage, (std::vector<std::string>{"output csv", "recommend top3", "model pop",
                                               "prepare", "source events"}));
  EXPECT_EQ(JsonString(out["lineage"]["inputs"].at(1)), shop.dir.File("data/b.csv"));
  std::vector<std::string> json_lineage;
  for (auto s : doc["outputs"].at(1)["lineage"]["stages"].get_array()) {
    json_lineage.push_back(JsonString(s));
  }
  EXPECT_EQ(json_lineage[2], "model co");
}

TEST(PipelineCli, DryRunAndExplainWriteNothing) {
  Shop shop;
  const auto before = Tree(shop.dir.path());
  auto plan = RunEncore("run " + shop.toml() + " --dry-run");
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  for (const std::string& s :
       {std::string("1. source events"), std::string("2. prepare <- source events"),
        std::string("output csv <- recommend top3"), "file " + shop.dir.File("data/a.csv"),
        "csv -> " + shop.work("/out/csv") + "/", "workdir " + shop.work()}) {
    EXPECT_NE(plan.out.find(s), std::string::npos) << s << " in " << plan.out;
  }
  auto explain = RunEncore("run " + shop.toml() + " --explain");
  ASSERT_EQ(explain.exit_code, 0) << explain.err;
  const std::string size = std::to_string(std::filesystem::file_size(shop.dir.File("data/b.csv")));
  for (const std::string& s :
       {std::string("output csv: csv -> "), std::string("  <- recommend top3: top 3 per user"),
        std::string("    <- model pop: popularity"), std::string("      <- prepare: "),
        std::string("        <- source events: read "),
        "          <- " + shop.dir.File("data/b.csv") + " (", std::string("output json: jsonl")}) {
    EXPECT_NE(explain.out.find(s), std::string::npos) << s << " in " << explain.out;
  }
  EXPECT_EQ(Tree(shop.dir.path()), before) << "--dry-run and --explain write nothing";
}

TEST(PipelineCli, OnlyRunsWhatTheOutputNeeds) {
  Shop shop;
  auto r = RunEncore("run " + shop.toml() + " --only csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(shop.work("/out/csv/_SUCCESS")));
  EXPECT_FALSE(std::filesystem::exists(shop.work("/out/json"))) << "other outputs not written";
  const std::string id = RunDirs(shop.work())[0];
  EXPECT_FALSE(std::filesystem::exists(shop.work("/runs/" + id + "/models/co.model")))
      << "the unneeded model is not trained";
  EXPECT_EQ(r.err.find("model co"), std::string::npos) << r.err;
  const std::string manifest = ReadFile(shop.work("/runs/" + id + "/manifest.json"));
  EXPECT_NE(manifest.find("\"only\": \"csv\""), std::string::npos);

  auto plan = RunEncore("run " + shop.toml() + " --only json --dry-run");
  ASSERT_EQ(plan.exit_code, 0);
  EXPECT_EQ(plan.out.find("model pop"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("model co"), std::string::npos) << plan.out;

  auto unknown = RunEncore("run " + shop.toml() + " --only cvs");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("--only 'cvs' names no output"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("did you mean 'csv'?"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("Outputs: csv, json"), std::string::npos) << unknown.err;
}

TEST(PipelineCli, KeepPurgesOldRunsAfterSuccess) {
  Shop shop("keep = 2\n" + std::string(kShop));
  for (int i = 0; i < 3; ++i) {
    auto r = RunEncore("run " + shop.toml() + " --only csv");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto runs = RunDirs(shop.work());
  EXPECT_EQ(runs.size(), 2u);
  auto r = RunEncore("run " + shop.toml() + " --only csv --keep 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto last = RunDirs(shop.work());
  ASSERT_EQ(last.size(), 1u);
  EXPECT_NE(last[0], runs[0]);
  EXPECT_NE(last[0], runs[1]);
  EXPECT_NE(r.err.find("removed 2 old run(s) (keep 1)"), std::string::npos) << r.err;
  // The output files carry the newest run's stamp.
  EXPECT_TRUE(std::filesystem::exists(shop.work("/out/csv/csv-" + last[0] + "-00001.csv")));
}

TEST(PipelineCli, RunsListAndShow) {
  Shop shop;
  ASSERT_EQ(RunEncore("run " + shop.toml()).exit_code, 0);
  ASSERT_EQ(RunEncore("run " + shop.toml() + " --only json").exit_code, 0);
  auto ids = RunDirs(shop.work());
  ASSERT_EQ(ids.size(), 2u);
  auto list = RunEncore("runs list --workdir " + shop.work());
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out.substr(0, list.out.find('\n')),
            "RUN                 STATUS       STARTED               SECONDS  OUTPUTS");
  EXPECT_NE(testing::LineOf(list.out, ids[0]).find(" succeeded "), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("csv,json\n"), std::string::npos) << list.out;
  EXPECT_LT(list.out.find(ids[0]), list.out.find(ids[1])) << "oldest first";
  auto by_pipeline = RunEncore("runs list --pipeline " + shop.toml());
  EXPECT_EQ(by_pipeline.out, list.out);

  auto show = RunEncore("runs show --pipeline " + shop.toml());
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("run " + ids[1] + ": succeeded"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("lineage: output json <- recommend similar <- model co <- prepare <- "
                          "source events"),
            std::string::npos)
      << show.out;
  EXPECT_NE(show.out.find("sha256 "), std::string::npos);
  auto first = RunEncore("runs show " + ids[0] + " --workdir " + shop.work() + " --json");
  ASSERT_EQ(first.exit_code, 0);
  EXPECT_EQ(first.out, ReadFile(shop.work("/runs/" + ids[0] + "/manifest.json")));
  auto missing = RunEncore("runs show 20990101T000000Z --workdir " + shop.work());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("latest runs: " + ids[0] + ", " + ids[1]), std::string::npos)
      << missing.err;
  auto none = RunEncore("runs list --workdir " + shop.dir.File("nowhere"));
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_EQ(none.out.find('\n'), none.out.size() - 1) << "just the header";
}

TEST(PipelineCli, ConfigErrorsExitOneWithFileLineAndColumn) {
  Shop shop(std::string(kShop) + "[outputs.bad]\nkind = \"csv\"\nfrom = \"top4\"\npath = \"x\"\n");
  auto r = RunEncore("run " + shop.toml());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(shop.toml() + ":30:8: [outputs.bad] from 'top4' names no "
                                     "[recommend.NAME]; did you mean 'top3'?"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(shop.work())) << "nothing runs";
}

TEST(PipelineCli, FailedRunIsRecordedAndTheNextOneSucceeds) {
  Shop shop;
  WriteFile(shop.dir.File("data/c.csv"), "user,item,event,ts\nu1,i1,refund,1700000000\n");
  auto r = RunEncore("run " + shop.toml() + " --only csv");
  EXPECT_EQ(r.exit_code, 1);
  auto ids = RunDirs(shop.work());
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_NE(r.err.find("run " + ids[0] + " failed in source events: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("c.csv:2: event type 'refund'"), std::string::npos) << r.err;
  simdjson::dom::parser parser;
  auto doc = ParseManifest(&parser, ReadFile(shop.work("/runs/" + ids[0] + "/manifest.json")));
  EXPECT_EQ(JsonString(doc["status"]), "failed");
  EXPECT_NE(JsonString(doc["error"]).find("source events: "), std::string::npos);
  uint64_t rejected = 0;
  ASSERT_EQ(doc["counts"]["sources"]["events"]["rows_rejected"].get(rejected), simdjson::SUCCESS);
  EXPECT_EQ(rejected, 1u);
  EXPECT_FALSE(std::filesystem::exists(shop.work("/out/csv")));
  auto list = RunEncore("runs list --workdir " + shop.work());
  EXPECT_NE(testing::LineOf(list.out, ids[0]).find(" failed "), std::string::npos) << list.out;

  std::filesystem::remove(shop.dir.File("data/c.csv"));
  auto again = RunEncore("run " + shop.toml() + " --only csv");
  EXPECT_EQ(again.exit_code, 0) << again.err;
}

TEST(PipelineCli, WorkdirFlagMovesRunsAndRelativeOutputs) {
  Shop shop;
  auto r = RunEncore("run " + shop.toml() + " --only csv --workdir " + shop.dir.File("elsewhere"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(shop.dir.File("elsewhere/out/csv/_SUCCESS")));
  EXPECT_EQ(RunDirs(shop.dir.File("elsewhere")).size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(shop.work()));
}

// Regression: two pipeline files in one directory share its runs/ (the
// default workdir). `keep` of one removed the other's runs, and
// `runs show --pipeline` showed whichever pipeline ran last.
TEST(PipelineCliRegression, PipelinesSharingADirectoryKeepTheirOwnRuns) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("data"));
  WriteFile(dir.File("data/a.csv"), EventsCsv(10, 8, 4, 1));
  const std::string body = R"(keep = 1
[sources.events]
path = "data/*.csv"
[models.pop]
kind = "popularity"
[recommend.top]
model = "pop"
n = 2
[outputs.csv]
kind = "csv"
from = "top"
)";
  WriteFile(dir.File("a.toml"), "name = \"a\"\n" + std::string(body) + "path = \"out/a\"\n");
  WriteFile(dir.File("b.toml"), "name = \"b\"\n" + std::string(body) + "path = \"out/b\"\n");
  ASSERT_EQ(RunEncore("run " + dir.File("a.toml")).exit_code, 0);
  ASSERT_EQ(RunEncore("run " + dir.File("b.toml")).exit_code, 0);
  const std::string b_run = RunDirs(dir.path()).back();
  ASSERT_EQ(RunEncore("run " + dir.File("a.toml")).exit_code, 0);
  auto ids = RunDirs(dir.path());
  ASSERT_EQ(ids.size(), 2u) << "a's newest and b's only run";
  EXPECT_EQ(ids[0], b_run);

  auto list = RunEncore("runs list --pipeline " + dir.File("a.toml"));
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(testing::LineOf(list.out, b_run), "") << list.out;
  EXPECT_NE(testing::LineOf(list.out, ids[1]), "") << list.out;
  auto show = RunEncore("runs show --pipeline " + dir.File("b.toml"));
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("run " + b_run + ": succeeded"), std::string::npos) << show.out;
  auto all = RunEncore("runs list --workdir " + dir.path());
  EXPECT_NE(testing::LineOf(all.out, b_run), "") << "without --pipeline, every run";
  EXPECT_NE(testing::LineOf(all.out, ids[1]), "") << all.out;
}

// Regression: ids of a recommend `users` list unknown to the model were only
// mentioned on stderr, with an example id even when the source's ids are
// obfuscated (a raw email there never matches a hashed one, and was echoed).
TEST(PipelineCliRegression, UnknownListIdsAreRecordedWithoutEchoingThem) {
  TempDir dir;
  WriteFile(dir.File("key"), "a-test-obfuscation-key-0123456789");
  WriteFile(dir.File("e.csv"),
            "email,item\nann@example.com,a\nann@example.com,b\n"
            "bob@example.com,a\nbob@example.com,c\n");
  WriteFile(dir.File("targets.txt"), "carol@example.com\n");
  WriteFile(dir.File("p.toml"), R"(name = "targets"
[sources.e]
path = "e.csv"
user = "email"
obfuscate = ["email"]
obfuscation_key_file = "key"
[models.co]
kind = "cooccurrence"
[recommend.top]
model = "co"
users = "targets.txt"
[outputs.csv]
kind = "csv"
from = "top"
path = "out"
)");
  auto r = RunEncore("run " + dir.File("p.toml"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("@example.com"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 id(s) of " + dir.File("targets.txt") + " unknown to the model"),
            std::string::npos)
      << r.err;
  const std::string manifest =
      ReadFile(dir.File("runs/" + RunDirs(dir.path())[0] + "/manifest.json"));
  EXPECT_EQ(manifest.find("@example.com"), std::string::npos);
  EXPECT_NE(manifest.find("1 id(s) of " + dir.File("targets.txt") + " unknown to the model"),
            std::string::npos)
      << "the manifest records what was left out";
}

// Regression: a pipeline whose source has too many bad rows used to be told
// to raise --max-bad-rows, a flag `encore run` does not have.
TEST(PipelineCliRegression, TooManyBadRowsNamesThePipelineKey) {
  TempDir dir;
  testing::WriteFile(dir.File("bad.csv"), "user,item\na,b\nc\nd,e\n");
  testing::WriteFile(dir.File("p.toml"),
                     "name = \"b\"\n[sources.s]\npath = \"bad.csv\"\n[models.m]\n"
                     "kind = \"popularity\"\n[recommend.r]\nmodel = \"m\"\n[outputs.o]\n"
                     "kind = \"csv\"\nfrom = \"r\"\npath = \"o\"\n");
  auto r = RunEncore("run " + dir.File("p.toml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.csv:3: expected 2 fields, got 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("max_bad_rows in [sources.s]"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("--max-bad-rows"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace encore
