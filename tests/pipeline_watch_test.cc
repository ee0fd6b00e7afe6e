// encore watch: re-runs on a new, completely written file; ignores files
// being written (*.tmp); reports a failing run and keeps watching.
//
// Pass/fail never depends on timing: a correct watcher passes however the
// polls fall; the waits are hang guards only.

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>

#include "encore/pipeline.h"
#include "pipeline_test_util.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::Background;
using testing::EventsCsv;
using testing::ReadFile;
using testing::RunDirs;
using testing::TempDir;
using testing::WaitFor;
using testing::WriteFile;

constexpr char kPipeline[] = R"(name = "watched"
[sources.events]
path = "data/*"
[models.pop]
kind = "popularity"
[recommend.top]
model = "pop"
n = 2
[outputs.csv]
kind = "csv"
from = "top"
path = "out"
)";

constexpr auto kGuard = std::chrono::seconds(120);

// Writes a file the way producers should: under a .tmp name, then renamed.
void Publish(const std::string& path, const std::string& contents) {
  WriteFile(path + ".tmp", contents);
  std::filesystem::rename(path + ".tmp", path);
}

std::string Manifest(const TempDir& dir, size_t run) {
  auto ids = RunDirs(dir.path());
  return run < ids.size() ? ReadFile(dir.File("runs/" + ids[run] + "/manifest.json")) : "";
}

bool Finished(const TempDir& dir, size_t run) {
  std::string m = Manifest(dir, run);
  return m.find("\"status\": \"succeeded\"") != std::string::npos ||
         m.find("\"status\": \"failed\"") != std::string::npos;
}

TEST(PipelineWatch, RerunsOnACompleteNewFileAndIgnoresTmpFiles) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("data"));
  WriteFile(dir.File("data/a.csv"), EventsCsv(10, 8, 4, 1));
  WriteFile(dir.File("p.toml"), kPipeline);
  Background watch({"watch", dir.File("p.toml"), "--interval-ms", "30", "--max-runs", "2"},
                   dir.File("watch.out"), dir.File("watch.err"));
  ASSERT_TRUE(WaitFor([&] { return Finished(dir, 0); }, kGuard)) << ReadFile(dir.File("watch.err"));

  // A file still being written: it matches the glob but must not count.
  WriteFile(dir.File("data/b.csv.tmp"), EventsCsv(5, 8, 4, 2, "x"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // polls happen meanwhile
  Publish(dir.File("data/c.csv"), EventsCsv(5, 8, 4, 3, "w"));

  ASSERT_EQ(watch.Wait(kGuard), 0) << ReadFile(dir.File("watch.err"));
  auto ids = RunDirs(dir.path());
  ASSERT_EQ(ids.size(), 2u);
  const std::string second = Manifest(dir, 1);
  EXPECT_NE(second.find(dir.File("data/c.csv")), std::string::npos)
      << "the second run is the one for c.csv (a run for the .tmp file alone would lack it)";
  EXPECT_EQ(second.find("b.csv.tmp"), std::string::npos) << ".tmp files are never read";
  EXPECT_NE(second.find(dir.File("data/a.csv")), std::string::npos);
  const std::string out = ReadFile(dir.File("watch.out"));
  EXPECT_NE(out.find("run " + ids[0] + " succeeded"), std::string::npos) << out;
  EXPECT_NE(out.find("run " + ids[1] + " succeeded"), std::string::npos) << out;
  EXPECT_NE(ReadFile(dir.File("watch.err")).find("sources changed (new " + dir.File("data/c.csv")),
            std::string::npos);
}

TEST(PipelineWatch, AFailingRunIsReportedAndWatchingContinues) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("data"));
  WriteFile(dir.File("data/a.csv"), EventsCsv(10, 8, 4, 1));
  WriteFile(dir.File("p.toml"), kPipeline);
  Background watch({"watch", dir.File("p.toml"), "--interval-ms", "30", "--max-runs", "3"},
                   dir.File("watch.out"), dir.File("watch.err"));
  ASSERT_TRUE(WaitFor([&] { return Finished(dir, 0); }, kGuard));
  Publish(dir.File("data/bad.csv"), "user,item,event,ts\nu1\n");  // a row without an item
  ASSERT_TRUE(WaitFor([&] { return Finished(dir, 1); }, kGuard)) << ReadFile(dir.File("watch.err"));
  EXPECT_NE(Manifest(dir, 1).find("\"status\": \"failed\""), std::string::npos);
  Publish(dir.File("data/bad.csv"), "user,item,event,ts\nu1,i1,click,1700000000\n");  // fixed
  ASSERT_EQ(watch.Wait(kGuard), 0) << ReadFile(dir.File("watch.err"));
  ASSERT_EQ(RunDirs(dir.path()).size(), 3u);
  EXPECT_NE(Manifest(dir, 2).find("\"status\": \"succeeded\""), std::string::npos);
  EXPECT_NE(ReadFile(dir.File("watch.err")).find("run 2 failed; still watching"), std::string::npos)
      << ReadFile(dir.File("watch.err"));
}

TEST(PipelineWatch, OnlyRunsOneOutputAndThePollingLineSaysWhatIsWatched) {
  TempDir dir;
  WriteFile(dir.File("p.toml"), testing::WorkdirIn(dir, R"(name = "w"
workdir = "work"
[sources.r]
generate = { profile = "ratings", users = 50, items = 20, rows = 300, seed = 1 }
[models.pop]
kind = "popularity"
[recommend.top]
model = "pop"
n = 2
[outputs.csv]
kind = "csv"
from = "top"
path = "out"
prefix = "recs"
[outputs.serving]
kind = "publish"
model = "pop"
store = "store"
n = 2
)"));
  auto r = testing::RunEncore("watch " + dir.File("p.toml") +
                              " --only csv --max-runs 1 --interval-ms 10");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir.File("work/out/_SUCCESS")));
  EXPECT_FALSE(std::filesystem::exists(dir.File("work/store"))) << "--only csv: no publish";
  EXPECT_NE(r.err.find("polling every 10 ms: the pipeline file (its sources read no files)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("polling 0"), std::string::npos) << r.err;
}

// --ready-marker: files count only once their directory holds the marker, so
// a directory filled file by file is read whole. b.csv lands first and is
// complete and stable for many polls; a watcher that ignored the marker
// would run on it alone, before c.csv exists. (A correct watcher passes
// however the polls fall.)
TEST(PipelineWatch, ReadyMarkerHoldsADirectoryBackUntilItIsComplete) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("data/day1"));
  std::filesystem::create_directories(dir.File("data/day2"));
  WriteFile(dir.File("data/day1/a.csv"), EventsCsv(10, 8, 4, 1));
  WriteFile(dir.File("data/day1/_SUCCESS"), "");
  std::string pipeline = kPipeline;
  pipeline.replace(pipeline.find("data/*"), 6, "data/*/*");
  WriteFile(dir.File("p.toml"), pipeline);
  Background watch({"watch", dir.File("p.toml"), "--interval-ms", "30", "--max-runs", "2",
                    "--ready-marker", "_SUCCESS"},
                   dir.File("watch.out"), dir.File("watch.err"));
  ASSERT_TRUE(WaitFor([&] { return Finished(dir, 0); }, kGuard)) << ReadFile(dir.File("watch.err"));
  EXPECT_EQ(Manifest(dir, 0).find("_SUCCESS"), std::string::npos) << "the marker is not data";

  WriteFile(dir.File("data/day2/b.csv"), EventsCsv(5, 8, 4, 2, "x"));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // polls happen meanwhile
  WriteFile(dir.File("data/day2/c.csv"), EventsCsv(5, 8, 4, 3, "w"));
  WriteFile(dir.File("data/day2/_SUCCESS"), "");

  ASSERT_EQ(watch.Wait(kGuard), 0) << ReadFile(dir.File("watch.err"));
  ASSERT_EQ(RunDirs(dir.path()).size(), 2u);
  const std::string second = Manifest(dir, 1);
  EXPECT_NE(second.find(dir.File("data/day2/b.csv")), std::string::npos) << second;
  EXPECT_NE(second.find(dir.File("data/day2/c.csv")), std::string::npos)
      << "run 2 read day2 only once its marker existed, so with both files";
  EXPECT_NE(ReadFile(dir.File("watch.err")).find("and its directory holds _SUCCESS"),
            std::string::npos)
      << ReadFile(dir.File("watch.err"));
}

// A file that appears while a run is being decided on is not read by it:
// each run reads exactly the files watch saw settle (here the run is told
// so directly: a file outside the settled set is skipped, and a settled file
// that changed fails the run with the fix).
TEST(PipelineWatch, ARunReadsOnlyTheSettledFilesAndRefusesOneThatChanged) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("data"));
  WriteFile(dir.File("data/a.csv"), EventsCsv(10, 8, 4, 1));
  WriteFile(dir.File("data/late.csv"), EventsCsv(5, 8, 4, 2, "x"));
  WriteFile(dir.File("p.toml"), kPipeline);
  auto state = [](const std::string& f) {
    struct stat st {};
    EXPECT_EQ(::stat(f.c_str(), &st), 0);
    return std::make_pair(static_cast<uint64_t>(st.st_size),
                          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
  };
  PipelineOptions options;
  options.progress = Progress::Mode::kQuiet;
  options.settled_files.emplace();
  options.settled_files->emplace(dir.File("data/a.csv"), state(dir.File("data/a.csv")));
  {
    auto p = Pipeline::Load(dir.File("p.toml"), options);
    ASSERT_TRUE(p.ok()) << p.status().message();
    auto r = (*p)->Run();
    ASSERT_TRUE(r.ok()) << r.status().message();
    const std::string m = Manifest(dir, 0);
    EXPECT_NE(m.find(dir.File("data/a.csv")), std::string::npos);
    EXPECT_EQ(m.find("late.csv"), std::string::npos) << "not settled: not read";
  }
  // a.csv grows after watch saw it settle.
  WriteFile(dir.File("data/a.csv"), EventsCsv(12, 8, 4, 1));
  auto p = Pipeline::Load(dir.File("p.toml"), options);
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto r = (*p)->Run();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("source file " + dir.File("data/a.csv") +
                                      " changed after watch saw it settle"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("still being written"), std::string::npos);
}

}  // namespace
}  // namespace encore
