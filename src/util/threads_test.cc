// ReexecWithRuntimeDefaults: the child gets OMP_WAIT_POLICY=PASSIVE, glibc's
// huge-page tunable (unless GLIBC_TUNABLES was set) and the same arguments; a
// wait policy the user set (even empty) is kept and nothing is re-executed; a
// failed exec returns with the environment as it was.
// (tests/cli_test.cc checks what libgomp itself sees in `encore`.)

#include "util/threads.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace encore {
namespace {

// Forks; the child sets OMP_WAIT_POLICY to `preset` and GLIBC_TUNABLES to
// `tunables` (unset when null), calls ReexecWithRuntimeDefaults with `exe` and
// argv = sh -c SCRIPT a0 a1, and prints "returned POLICY TUNABLES" if the call
// returns. Returns the child's stdout.
std::string RunChild(const char* preset, const char* exe, const char* tunables = nullptr) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    if (preset != nullptr) {
      setenv("OMP_WAIT_POLICY", preset, 1);
    } else {
      unsetenv("OMP_WAIT_POLICY");
    }
    if (tunables != nullptr) {
      setenv("GLIBC_TUNABLES", tunables, 1);
    } else {
      unsetenv("GLIBC_TUNABLES");
    }
    char* argv[] = {const_cast<char*>("sh"),
                    const_cast<char*>("-c"),
                    const_cast<char*>("echo \"exec ${OMP_WAIT_POLICY-unset} ${GLIBC_TUNABLES-unset} $0 $1\""),
                    const_cast<char*>("a0"),
                    const_cast<char*>("a1"),
                    nullptr};
    ReexecWithRuntimeDefaults(argv, exe);
    const char* now = std::getenv("OMP_WAIT_POLICY");
    const char* tun = std::getenv("GLIBC_TUNABLES");
    std::printf("returned %s %s\n", now ? now : "unset", tun ? tun : "unset");
    std::fflush(stdout);
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[256];
  ssize_t got;
  while ((got = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(got));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return out;
}

TEST(OmpWaitPolicy, UnsetIsReexecutedWithPassiveAndTheSameArguments) {
  EXPECT_EQ(RunChild(nullptr, "/bin/sh"), "exec PASSIVE glibc.malloc.hugetlb=1 a0 a1\n");
}

TEST(OmpWaitPolicy, TunablesTheUserSetAreKept) {
  EXPECT_EQ(RunChild(nullptr, "/bin/sh", "glibc.malloc.arena_max=2"),
            "exec PASSIVE glibc.malloc.arena_max=2 a0 a1\n");
  EXPECT_EQ(RunChild(nullptr, "/bin/sh", ""), "exec PASSIVE  a0 a1\n");
}

TEST(OmpWaitPolicy, AValueTheUserSetIsKept) {
  EXPECT_EQ(RunChild("active", "/bin/sh"), "returned active unset\n");
  EXPECT_EQ(RunChild("PASSIVE", "/bin/sh"), "returned PASSIVE unset\n");
  EXPECT_EQ(RunChild("", "/bin/sh"), "returned  unset\n")
      << "set but empty is still the user's choice";
}

TEST(OmpWaitPolicy, AFailedExecRunsOnWithTheEnvironmentUnchanged) {
  EXPECT_EQ(RunChild(nullptr, "/nonexistent/encore"), "returned unset unset\n");
  EXPECT_EQ(RunChild(nullptr, "/nonexistent/encore", "glibc.malloc.arena_max=2"),
            "returned unset glibc.malloc.arena_max=2\n");
}

}  // namespace
}  // namespace encore
