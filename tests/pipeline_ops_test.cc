// End-to-end operations tests: two runs of one pipeline at once are refused
// (a lock that dies with its process); temporaries left by a crash are
// cleaned at the next start.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <thread>

#include "test_util.h"

namespace encore {
namespace {

using testing::RunEncore;
using testing::TempDir;
using testing::WriteFile;

constexpr char kPipeline[] = R"(name = "ops"
workdir = "work"
[sources.r]
path = "in.csv"
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
)";

constexpr char kData[] = "user,item,value\nu1,a,1\nu1,b,2\nu2,a,3\nu3,c,1\n";

// A pid that is surely gone: a child that has exited and been reaped.
pid_t DeadPid() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST(PipelineOps, SecondRunOfTheSamePipelineIsRefusedUntilTheFirstDies) {
  TempDir dir;
  WriteFile(dir.File("p.toml"), testing::WorkdirIn(dir, kPipeline));
  // The first run blocks reading its input, a FIFO, while holding the lock.
  ASSERT_EQ(::mkfifo(dir.File("in.csv").c_str(), 0600), 0);
  pid_t first = ::fork();
  ASSERT_GE(first, 0);
  if (first == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execl(ENCORE_BINARY, ENCORE_BINARY, "run", dir.File("p.toml").c_str(), nullptr);
    ::_exit(127);
  }
  // Opening the FIFO's write end succeeds only once the first run reads it,
  // which it does after taking the lock.
  int fd = -1;
  for (int i = 0; i < 6000 && fd < 0; ++i) {
    fd = ::open(dir.File("in.csv").c_str(), O_WRONLY | O_NONBLOCK);
    if (fd < 0) {
      ASSERT_EQ(errno, ENXIO);
      int status = 0;
      ASSERT_EQ(::waitpid(first, &status, WNOHANG), 0) << "the first run ended early";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ASSERT_GE(fd, 0) << "the first run never opened its input";

  auto second = RunEncore("run " + dir.File("p.toml"));
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("pipeline ops is already running"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find(".ops.run.lock"), std::string::npos) << second.err;

  // Killed (no cleanup at all), the first run's lock goes with it.
  ::kill(first, SIGKILL);
  ::waitpid(first, nullptr, 0);
  ::close(fd);
  std::filesystem::remove(dir.File("in.csv"));
  WriteFile(dir.File("in.csv"), kData);
  auto third = RunEncore("run " + dir.File("p.toml"));
  EXPECT_EQ(third.exit_code, 0) << third.err;
}

TEST(PipelineOps, TemporariesOfACrashedPublisherAreCleanedAtTheNextStart) {
  TempDir dir;
  WriteFile(dir.File("p.toml"), testing::WorkdirIn(dir, kPipeline));
  WriteFile(dir.File("in.csv"), kData);
  auto r = RunEncore("run " + dir.File("p.toml"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string store = dir.File("work/store");
  const std::string stale = store + "/.CURRENT.tmp-" + std::to_string(DeadPid()) + "-0";
  const std::string live = store + "/.CURRENT.tmp-" + std::to_string(::getpid()) + "-3";
  WriteFile(stale, "7\n");
  WriteFile(live, "8\n");
  // A staging directory of a killed CSV writer, beside the output.
  const std::string staging = dir.File("work/out.staging-" + std::to_string(DeadPid()) + "-00ff");
  std::filesystem::create_directories(staging);
  WriteFile(staging + "/recs-00001.csv", "half");
  r = RunEncore("run " + dir.File("p.toml"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(stale)) << "a dead publisher's temporary is removed";
  EXPECT_TRUE(std::filesystem::exists(live)) << "a live process's temporary is kept";
  EXPECT_FALSE(std::filesystem::exists(staging)) << "a dead writer's staging is removed";
}

}  // namespace
}  // namespace encore
