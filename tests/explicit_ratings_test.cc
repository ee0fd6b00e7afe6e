// End-to-end: the README's first example gives right numbers. Generated
// ratings are one per (user, item); data that looks like explicit ratings but
// is read as implicit by default draws a warning with the exact fix; repeated
// explicit ratings are never summed.

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "test_util.h"

namespace encore {
namespace {

using testing::RunEncore;
using testing::TempDir;
using testing::WriteFile;

double JsonNumber(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\": ");
  if (at == std::string::npos) return -1;
  return std::strtod(json.c_str() + at + key.size() + 4, nullptr);
}

constexpr char kWarning[] = "looks like explicit ratings";

TEST(ExplicitRatings, ReadmeFirstExampleGivesRightNumbers) {
  TempDir dir;
  // The README's commands, in a temporary directory.
  auto r = RunEncore("generate --profile ratings --users 10000 --items 2000 --rows 200000 --out " +
                     dir.File("data") + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunEncore("stats --input " + dir.File("data/ratings.csv") + " --json -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "nonzeros"), 200000) << "a (user, item) pair repeats";
  // Every value is a star: no sums beyond the 1-5 scale (in the value
  // histogram; the per-user and per-item count histograms have labels too).
  const size_t values_at = r.out.find("\"values\":");
  ASSERT_NE(values_at, std::string::npos) << r.out;
  const std::string values = r.out.substr(values_at, r.out.find("\"events\":") - values_at);
  for (const char* beyond : {"\"label\": \"6\"", "\"label\": \"10\"", "\"label\": \"0\""}) {
    EXPECT_EQ(values.find(beyond), std::string::npos) << beyond << " in " << values;
  }
  EXPECT_NE(r.err.find(kWarning), std::string::npos) << "a 'rating' column read as implicit";
  EXPECT_NE(r.err.find("--feedback explicit"), std::string::npos) << r.err;

  r = RunEncore("evaluate --model als --input " + dir.File("data/ratings.csv") +
                " --feedback explicit --metrics rmse --json -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double rmse = JsonNumber(r.out, "rmse");
  // The generator's noise alone is N(0, 0.5^2) before rounding; summed
  // repeats gave 0.985 here.
  EXPECT_GT(rmse, 0.5) << r.out;
  EXPECT_LT(rmse, 0.8) << r.out;
  EXPECT_EQ(r.err.find(kWarning), std::string::npos) << "no warning once explicit is chosen";
}

TEST(ExplicitRatings, WarningOnlyWhenImplicitIsADefault) {
  TempDir dir;
  // Half stars in a column named "value": the scale gives it away.
  WriteFile(dir.File("half.csv"), "user,item,value\nu1,a,4.5\nu1,b,3\nu2,a,0.5\nu2,c,5\n");
  auto r = RunEncore("stats --input " + dir.File("half.csv") + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("half-star scale"), std::string::npos) << r.err;
  r = RunEncore("stats --input " + dir.File("half.csv") + " --feedback implicit -q");
  EXPECT_EQ(r.err.find(kWarning), std::string::npos) << "implicit chosen: no warning";

  // Integer stars whose pairs repeat: summing goes beyond the scale.
  WriteFile(dir.File("stars.csv"), "user,item,value\nu1,a,1\nu1,a,5\nu2,b,3\nu2,c,2\nu3,a,4\n");
  r = RunEncore("stats --input " + dir.File("stars.csv") + " -q");
  EXPECT_NE(r.err.find("integer stars"), std::string::npos) << r.err;

  // Counts (plays) do not look like ratings; event logs never do.
  WriteFile(dir.File("plays.csv"), "user,item,plays\nu1,a,1\nu1,a,17\nu2,b,230\n");
  r = RunEncore("stats --input " + dir.File("plays.csv") + " -q");
  EXPECT_EQ(r.err.find(kWarning), std::string::npos) << r.err;
  WriteFile(dir.File("events.csv"), "user,item,event\nu1,a,view\nu1,a,purchase\n");
  r = RunEncore("stats --input " + dir.File("events.csv") + " -q");
  EXPECT_EQ(r.err.find(kWarning), std::string::npos) << r.err;

  // Presets of rating data are explicit already: no warning.
  WriteFile(dir.File("ml.csv"), "userId,movieId,rating,timestamp\n1,10,4.5,1\n1,10,3.5,2\n");
  r = RunEncore("stats --input " + dir.File("ml.csv") + " --format ml-latest -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find(kWarning), std::string::npos) << r.err;
}

TEST(ExplicitRatings, RepeatedExplicitRatingsAreNotSummed) {
  TempDir dir;
  WriteFile(dir.File("r.csv"),
            "user,item,rating,timestamp\nu1,a,4,1\nu1,a,5,2\nu2,a,3,1\nu2,b,1,1\n");
  auto r = RunEncore("stats --input " + dir.File("r.csv") + " --feedback explicit --json -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonNumber(r.out, "nonzeros"), 3);
  EXPECT_NE(r.out.find("\"label\": \"5\""), std::string::npos) << "the latest rating: " << r.out;
  EXPECT_EQ(r.out.find("\"label\": \"9\""), std::string::npos) << "summed: " << r.out;
}

TEST(ExplicitRatings, PipelineOnGeneratedRatingsIsExplicitByDefault) {
  TempDir dir;
  WriteFile(dir.File("p.toml"), testing::WorkdirIn(dir, R"(name = "p"
workdir = "work"
[sources.r]
generate = { profile = "ratings", users = 300, items = 100, rows = 6000, seed = 3 }
[models.als]
kind = "als"
params = { factors = 8, iterations = 5 }
[models.als.evaluate]
split = "random"
metrics = ["rmse"]
[recommend.top]
model = "als"
n = 3
[outputs.csv]
kind = "csv"
from = "top"
path = "out"
prefix = "recs"
)"));
  auto r = RunEncore("run " + dir.File("p.toml"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find(kWarning), std::string::npos) << r.err;
  auto plan = RunEncore("run " + dir.File("p.toml") + " --dry-run");
  EXPECT_NE(plan.out.find("explicit"), std::string::npos) << plan.out;
}

}  // namespace
}  // namespace encore
