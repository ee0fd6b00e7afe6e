// A run killed (SIGKILL) at any point leaves every output directory either
// absent or complete with its _SUCCESS (the previous run's, or this one's),
// its manifest saying "running", and the next run succeeds.

#include <gtest/gtest.h>

#include <filesystem>

#include "pipeline_test_util.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::EventsCsv;
using testing::ListDir;
using testing::ReadFile;
using testing::RunDirs;
using testing::RunEncore;
using testing::TempDir;
using testing::WriteFile;

constexpr char kPipeline[] = R"(name = "faults"
[sources.events]
path = "data/*.csv"
[models.pop]
kind = "popularity"
[models.co]
kind = "cooccurrence"
[recommend.top]
model = "pop"
n = 5
[recommend.similar]
model = "co"
kind = "similar"
n = 3
[outputs.csv]
kind = "csv"
from = "top"
path = "out/csv"
chunk_size = "1KB"
[outputs.json]
kind = "jsonl"
from = "similar"
path = "out/json"
)";

// Whether `dir` is absent or a complete output whose files all carry one run stamp.
::testing::AssertionResult CompleteOrAbsent(const std::string& dir) {
  if (!std::filesystem::exists(dir)) return ::testing::AssertionSuccess();
  auto files = ListDir(dir);
  if (std::find(files.begin(), files.end(), "_SUCCESS") == files.end()) {
    return ::testing::AssertionFailure() << dir << " exists without _SUCCESS";
  }
  std::string stamp;
  for (const auto& f : files) {
    if (f == "_SUCCESS") continue;
    std::string s = f.substr(f.find('-') + 1, 16);
    if (stamp.empty()) stamp = s;
    if (s != stamp) return ::testing::AssertionFailure() << dir << " mixes runs: " << f;
  }
  return ::testing::AssertionSuccess();
}

class PipelineFault : public ::testing::TestWithParam<const char*> {};

TEST_P(PipelineFault, KilledRunLeavesCompleteOutputsAndTheNextRunSucceeds) {
  const std::string point = GetParam();
  TempDir dir;
  std::filesystem::create_directories(dir.File("data"));
  WriteFile(dir.File("data/a.csv"), EventsCsv(40, 24, 6, 3));
  WriteFile(dir.File("p.toml"), kPipeline);
  const std::string run = "run " + dir.File("p.toml");

  auto first = RunEncore(run);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_GT(ListDir(dir.File("out/csv")).size(), 2u) << "several chunks, so mid-chunk applies";

  auto killed = RunEncore(run, "ENCORE_FAULT=" + point);
  // Killed by SIGKILL: the shell reports 128 + 9, or the signal itself.
  EXPECT_TRUE(killed.exit_code == 137 || killed.exit_code == -1)
      << "exit " << killed.exit_code << " at " << point << "; stderr: " << killed.err;
  auto ids = RunDirs(dir.path());
  ASSERT_EQ(ids.size(), 2u);
  const std::string manifest = ReadFile(dir.File("runs/" + ids[1] + "/manifest.json"));
  EXPECT_NE(manifest.find("\"status\": \"running\""), std::string::npos) << manifest;
  EXPECT_TRUE(CompleteOrAbsent(dir.File("out/csv")));
  EXPECT_TRUE(CompleteOrAbsent(dir.File("out/json")));
  auto list = RunEncore("runs list --workdir " + dir.path());
  // The manifest still says "running"; its process is gone, so runs list
  // shows the run as interrupted rather than running forever.
  EXPECT_NE(testing::LineOf(list.out, ids[1]).find(" interrupted "), std::string::npos)
      << list.out;

  auto next = RunEncore(run);
  ASSERT_EQ(next.exit_code, 0) << next.err;
  ids = RunDirs(dir.path());
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_TRUE(CompleteOrAbsent(dir.File("out/csv")));
  EXPECT_TRUE(std::filesystem::exists(dir.File("out/csv/csv-" + ids[2] + "-00001.csv")));
  EXPECT_TRUE(std::filesystem::exists(dir.File("out/json/json-" + ids[2] + ".jsonl")));
  for (const auto& f : ListDir(dir.path() + "/out")) {
    EXPECT_TRUE(f == "csv" || f == "json") << "staging leftovers are cleaned up: " << f;
  }
}

INSTANTIATE_TEST_SUITE_P(Points, PipelineFault,
                         ::testing::Values("after-start", "after-source", "after-prepare",
                                           "after-model", "before-output", "mid-output",
                                           "after-output", "csv-mid-chunk", "csv-before-success",
                                           "csv-before-swap", "jsonl-before-swap"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace encore
