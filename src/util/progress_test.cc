#include "encore/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace encore {
namespace {

std::string Capture(Progress::Mode mode) {
  std::FILE* f = std::tmpfile();
  {
    Progress p(mode, f);
    p.Start("reading", 1000);
    p.Update(500, 10);
    p.Finish();
    p.Note("a note");
  }
  std::rewind(f);
  std::string out;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

TEST(Progress, QuietPrintsNothing) { EXPECT_EQ(Capture(Progress::Mode::kQuiet), ""); }

TEST(Progress, LogModePrintsPlainLines) {
  std::string out = Capture(Progress::Mode::kLog);
  EXPECT_NE(out.find("encore: reading: 10 rows"), std::string::npos) << out;
  EXPECT_NE(out.find("a note\n"), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << "no terminal control in logs";
}

TEST(Progress, TerminalModeRedrawsOneLine) {
  std::string out = Capture(Progress::Mode::kTerminal);
  EXPECT_NE(out.find("\r\033[Kreading:"), std::string::npos) << out;
}

std::string Read(std::FILE* f) {
  std::rewind(f);
  std::string out;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

// A counted step (users, iterations) shows done/total, a rate in its unit,
// its detail and the time left; UpdateNow prints whatever the interval.
TEST(Progress, CountedStepsShowTotalRateDetailAndTimeLeft) {
  std::FILE* f = std::tmpfile();
  {
    Progress p(Progress::Mode::kLog, f);
    p.StartCount("fit ials", 4, "iterations");
    p.SetDetail("item factors changed 3%");
    p.UpdateNow(0, 1);
    p.UpdateNow(0, 4);
    p.Finish();
  }
  const std::string out = Read(f);
  EXPECT_NE(out.find("encore: fit ials: 25% 1/4 iterations, "), std::string::npos) << out;
  EXPECT_NE(out.find("item factors changed 3%, ETA "), std::string::npos) << out;
  EXPECT_NE(out.find("encore: fit ials: 100% 4/4 iterations"), std::string::npos) << out;
  EXPECT_NE(out.find("(done in "), std::string::npos) << out;
  EXPECT_EQ(out.find("MB/s"), std::string::npos) << "no bytes counted: no MB/s";
  std::FILE* q = std::tmpfile();
  {
    Progress p(Progress::Mode::kQuiet, q);
    p.StartCount("fit ials", 4, "iterations");
    p.UpdateNow(0, 1);
    p.Finish();
  }
  EXPECT_EQ(Read(q), "");
}

}  // namespace
}  // namespace encore
