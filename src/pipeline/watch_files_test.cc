// The listing behind `encore watch`: patterns, the ready marker, and the
// moment the marker is looked for.

#include "pipeline/watch_files.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"

namespace encore::pipeline {
namespace {

using testing::TempDir;
using testing::WriteFile;

std::vector<std::string> Names(const WatchedFiles& files, const std::string& root) {
  std::vector<std::string> out;
  for (const auto& [f, state] : files) out.push_back(f.substr(root.size() + 1));
  return out;
}

TEST(WatchFiles, ListsWhatThePatternsNameWithSizes) {
  TempDir dir;
  WriteFile(dir.File("a.csv"), "abc");
  WriteFile(dir.File("b.tsv"), "x");
  WatchedFiles files = ListWatchedFiles({dir.File("*.csv"), dir.File("none-*.csv")}, "");
  ASSERT_EQ(Names(files, dir.path()), std::vector<std::string>{"a.csv"});
  EXPECT_EQ(files.begin()->second.size, 3u);
}

TEST(WatchFiles, AMarkerReleasesItsDirectoryAndIsNotData) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("day1"));
  std::filesystem::create_directories(dir.File("day2"));
  WriteFile(dir.File("day1/a.csv"), "1");
  WriteFile(dir.File("day1/_SUCCESS"), "");
  WriteFile(dir.File("day2/b.csv"), "2");
  EXPECT_EQ(Names(ListWatchedFiles({dir.File("*/*")}, "_SUCCESS"), dir.path()),
            std::vector<std::string>{"day1/a.csv"});
}

// Regression (a CI run under ASan): the producer writes its last file and
// then the marker between the watcher's two looks. The directory must then
// be listed whole or not at all - never its earlier file alone, which made
// the watcher run on day2/b.csv and leave day2/c.csv for a run of its own.
TEST(WatchFiles, AMarkerWrittenDuringTheListingNeverReleasesPartOfADirectory) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("day2"));
  WriteFile(dir.File("day2/b.csv"), "2");
  WatchedFiles during = ListWatchedFiles({dir.File("*/*")}, "_SUCCESS", [&] {
    WriteFile(dir.File("day2/c.csv"), "3");
    WriteFile(dir.File("day2/_SUCCESS"), "");
  });
  EXPECT_TRUE(during.empty()) << "the marker was not there when it was looked for";
  EXPECT_EQ(Names(ListWatchedFiles({dir.File("*/*")}, "_SUCCESS"), dir.path()),
            (std::vector<std::string>{"day2/b.csv", "day2/c.csv"}));
}

// A directory that first appears between the two looks waits for the next
// poll, even with its marker already in it.
TEST(WatchFiles, ADirectoryThatAppearsDuringTheListingWaitsForTheNextPoll) {
  TempDir dir;
  WatchedFiles during = ListWatchedFiles({dir.File("*/*")}, "_SUCCESS", [&] {
    std::filesystem::create_directories(dir.File("day3"));
    WriteFile(dir.File("day3/d.csv"), "4");
    WriteFile(dir.File("day3/_SUCCESS"), "");
  });
  EXPECT_TRUE(during.empty());
  EXPECT_EQ(Names(ListWatchedFiles({dir.File("*/*")}, "_SUCCESS"), dir.path()),
            std::vector<std::string>{"day3/d.csv"});
}

}  // namespace
}  // namespace encore::pipeline
