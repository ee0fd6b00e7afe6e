// Run directories, retention, checksums and the manifest's JSON.

#include "pipeline/manifest.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>

#include "test_util.h"
#include "util/json_writer.h"

namespace encore::pipeline {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

TEST(PipelineManifest, RunIdsAreUtcTimestampsWithSuffixes) {
  EXPECT_EQ(RunIdBase(1795508100), "20261124T081500Z");
  TempDir dir;
  auto a = CreateRunDir(dir.path(), 1795508100);
  auto b = CreateRunDir(dir.path(), 1795508100);
  auto c = CreateRunDir(dir.path(), 1795508100);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, "20261124T081500Z");
  EXPECT_EQ(*b, "20261124T081500Z-2");
  EXPECT_EQ(*c, "20261124T081500Z-3");
  EXPECT_TRUE(std::filesystem::is_directory(dir.File("runs/" + *c)));
  EXPECT_TRUE(IsRunId("20261124T081500Z-12"));
  for (const char* bad :
       {"20261124T081500", "20261124X081500Z", "20261124T081500Z-", "x", "20261124T081500Z-2a"}) {
    EXPECT_FALSE(IsRunId(bad)) << bad;
  }
}

// Lambda (issue 12): the mark a manifest records, read back for
// `encore publish --high-water-mark manifest:PATH`, and the clear errors.
TEST(PipelineManifest, HighWaterMarkIsRecordedAndReadBack) {
  TempDir dir;
  Manifest m;
  m.run_id = "20261206T200000Z";
  m.high_water_mark = "time:1700000159";
  ManifestModel all, part;
  all.name = "all";
  all.file = dir.File("all.model");
  all.trained_on = "all data";
  part.name = "part";
  part.file = dir.File("part.model");
  part.trained_on = "training part";
  m.models = {all, part};
  ManifestOutput out;
  out.name = "serving";
  out.kind = "publish";
  out.high_water_mark = "time:1700000159";
  m.outputs = {out};
  ASSERT_TRUE(WriteManifest(m, dir.path()).ok());
  const std::string path = dir.File("manifest.json");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.load(path).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(doc["high_water_mark"]), "time:1700000159");
  EXPECT_EQ(std::string_view(doc["outputs"].at(0)["high_water_mark"]), "time:1700000159");
  EXPECT_EQ(HighWaterMarkFromManifest(path, dir.File("all.model")).value(), "time:1700000159");
  EXPECT_EQ(HighWaterMarkFromManifest(path, dir.File("elsewhere.model")).value(),
            "time:1700000159");
  auto part_mark = HighWaterMarkFromManifest(path, dir.File("part.model"));
  ASSERT_FALSE(part_mark.ok());
  EXPECT_EQ(part_mark.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(part_mark.status().message().find("model 'part' of " + path +
                                              " was trained on training part"),
            std::string::npos)
      << part_mark.status().message();

  // No mark: the note says why.
  m.high_water_mark.clear();
  m.high_water_note = "the prepared data has no time column";
  ASSERT_TRUE(WriteManifest(m, dir.path()).ok());
  auto none = HighWaterMarkFromManifest(path, "");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find(
                "records no high-water mark: the prepared data has no time column"),
            std::string::npos)
      << none.status().message();
  WriteFile(dir.File("other.json"), "{\"name\": 1}");
  EXPECT_NE(HighWaterMarkFromManifest(dir.File("other.json"), "")
                .status()
                .message()
                .find("is not a pipeline run manifest"),
            std::string::npos);
}

TEST(PipelineManifest, RunsSortByTimeThenSuffixNumber) {
  TempDir dir;
  for (const char* id : {"20261124T081500Z-10", "20261124T081500Z-2", "20261124T081500Z",
                         "20251124T081500Z", "not-a-run"}) {
    std::filesystem::create_directories(dir.File("runs/") + id);
  }
  EXPECT_EQ(RunIds(dir.path()),
            (std::vector<std::string>{"20251124T081500Z", "20261124T081500Z", "20261124T081500Z-2",
                                      "20261124T081500Z-10"}));
}

// A run directory whose manifest names pipeline `name`.
void MakeRun(const TempDir& dir, const std::string& id, const std::string& name) {
  std::filesystem::create_directories(dir.File("runs/") + id);
  WriteFile(dir.File("runs/" + id + "/manifest.json"),
            "{\"run_id\": \"" + id + "\", \"pipeline\": {\"name\": \"" + name + "\"}}\n");
}

TEST(PipelineManifest, PurgeKeepsTheNewestAndNeverTheCurrent) {
  TempDir dir;
  for (const char* id :
       {"20260101T000000Z", "20260102T000000Z", "20260103T000000Z", "20260104T000000Z"}) {
    MakeRun(dir, id, "p");
  }
  std::vector<std::string> removed;
  ASSERT_TRUE(PurgeRuns(dir.path(), "p", 2, "20260101T000000Z", &removed).ok());
  EXPECT_EQ(removed, (std::vector<std::string>{"20260102T000000Z", "20260103T000000Z"}));
  EXPECT_EQ(RunIds(dir.path()), (std::vector<std::string>{"20260101T000000Z", "20260104T000000Z"}));
  removed.clear();
  ASSERT_TRUE(PurgeRuns(dir.path(), "p", 0, "", &removed).ok());
  EXPECT_TRUE(removed.empty()) << "keep 0 keeps every run";
}

// Regression: two pipeline files in one directory share its runs/ (the
// default workdir is the file's directory), and keep = N of one removed the
// other's runs. A directory without a readable manifest (a run that has just
// started) was removed too.
TEST(PipelineManifestRegression, PurgeRemovesOnlyThisPipelinesRuns) {
  TempDir dir;
  MakeRun(dir, "20260101T000000Z", "other");
  MakeRun(dir, "20260102T000000Z", "p");
  MakeRun(dir, "20260103T000000Z", "other");
  std::filesystem::create_directories(dir.File("runs/20260103T000000Z-2"));  // no manifest yet
  MakeRun(dir, "20260104T000000Z", "p");
  MakeRun(dir, "20260105T000000Z", "p");
  std::vector<std::string> removed;
  ASSERT_TRUE(PurgeRuns(dir.path(), "p", 1, "20260105T000000Z", &removed).ok());
  EXPECT_EQ(removed, (std::vector<std::string>{"20260102T000000Z", "20260104T000000Z"}));
  EXPECT_EQ(RunIds(dir.path()),
            (std::vector<std::string>{"20260101T000000Z", "20260103T000000Z", "20260103T000000Z-2",
                                      "20260105T000000Z"}));
}

TEST(PipelineManifest, Sha256OfKnownContent) {
  TempDir dir;
  WriteFile(dir.File("abc"), "abc");
  uint64_t bytes = 0;
  auto sum = Sha256File(dir.File("abc"), &bytes);
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(*sum, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(bytes, 3u);
  WriteFile(dir.File("empty"), "");
  EXPECT_EQ(Sha256File(dir.File("empty"), &bytes).value(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256File(dir.File("missing"), &bytes).status().code(), StatusCode::kNotFound);
}

TEST(PipelineManifest, WrittenByRenameAsValidJson) {
  TempDir dir;
  Manifest m;
  m.run_id = "20261124T081500Z";
  m.status = "failed";
  m.error = "model als: \"quoted\"\nnew line";
  m.started = 1795508100;
  m.finished = 1795508110;
  m.seconds = 10;
  m.config = [](JsonWriter* w) {
    w->BeginObject();
    w->Key("name");
    w->String("t");
    w->EndObject();
  };
  m.inputs.push_back({"s", "/d/a.csv", 3, "abc", 1795508000, false});
  m.steps.push_back({"read", 10, {}, {}, {}, {}});
  ManifestModel model;
  model.name = "als";
  model.evaluated = true;
  model.test = {{"rmse", 0.5}};
  model.grid.push_back({{{"factors", "5"}}, {{"rmse", 0.7}}});
  m.models.push_back(model);
  m.outputs.push_back(
      {"csv", "csv", "/o", {"/o/a.csv"}, 5, 50, {"output csv", "prepare"}, {"/d/a.csv"}});
  ASSERT_TRUE(WriteManifest(m, dir.path()).ok());
  EXPECT_FALSE(std::filesystem::exists(dir.File("manifest.json.tmp")));
  std::string text = ReadFile(dir.File("manifest.json"));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << text;
  std::string_view sv;
  ASSERT_EQ(doc["error"].get(sv), simdjson::SUCCESS);
  EXPECT_EQ(sv, m.error);
  ASSERT_EQ(doc["config"]["name"].get(sv), simdjson::SUCCESS);
  EXPECT_EQ(sv, "t");
  ASSERT_EQ(doc["started"].get(sv), simdjson::SUCCESS);
  EXPECT_EQ(sv, "2026-11-24T08:15:00Z");
  double rmse = 0;
  ASSERT_EQ(doc["metrics"]["als"]["grid"].at(0)["mean"]["rmse"].get(rmse), simdjson::SUCCESS);
  EXPECT_EQ(rmse, 0.7);
  ASSERT_EQ(doc["outputs"].at(0)["lineage"]["stages"].at(1).get(sv), simdjson::SUCCESS);
  EXPECT_EQ(sv, "prepare");
  int64_t version = 0;
  ASSERT_EQ(doc["manifest_version"].get(version), simdjson::SUCCESS);
  EXPECT_EQ(version, kManifestVersion);
}

}  // namespace
}  // namespace encore::pipeline
