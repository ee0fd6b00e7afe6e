// End-to-end tests of `encore evaluate`: the JSON contract keys, CV and grid
// output, model-parameter flags and clear errors.

#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace encore {
namespace {

using testing::RunEncore;
using testing::TempDir;
using testing::WriteFile;

// 30 users x 12 items of 1..5 ratings with times; every user rates 6 items.
std::string Ratings() {
  std::string csv = "user,item,rating,timestamp\n";
  for (int u = 0; u < 30; ++u) {
    for (int k = 0; k < 6; ++k) {
      // Four items of the user's cluster, then two of the other clusters.
      const int item = k < 4 ? (u % 3) * 4 + k : ((u % 3) * 4 + 4 + (u + k) % 8) % 12;
      csv += "u" + std::to_string(u) + ",i" + std::to_string(item) + "," +
             std::to_string(1 + (u + k) % 5) + "," + std::to_string(1000 + u * 10 + k) + "\n";
    }
  }
  return csv;
}

bool Has(const std::string& text, const std::string& key) {
  return text.find(key) != std::string::npos;
}

TEST(EvaluateCli, HoldoutJsonHasEveryMetricByName) {
  TempDir dir;
  WriteFile(dir.File("r.csv"), Ratings());
  auto r = RunEncore("evaluate --model popularity -i " + dir.File("r.csv") +
                     " --feedback explicit --metrics rmse,mae,precision@5,recall@5,map@5,ndcg@5,"
                     "hit@5,coverage --json --quiet --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* key :
       {"\"model\": \"popularity\"", "\"protocol\":", "\"num_folds\": 1", "\"rmse\":", "\"mae\":",
        "\"precision@5\":", "\"recall@5\":", "\"map@5\":", "\"ndcg@5\":", "\"hit@5\":",
        "\"coverage@5\":", "\"test_pairs\":", "\"dropped_pairs\": 0", "\"users_evaluated\":"}) {
    EXPECT_TRUE(Has(r.out, key)) << key << " in " << r.out;
  }
  EXPECT_FALSE(Has(r.out, "\"folds\""));
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(EvaluateCli, CrossValidationGridAndBaseline) {
  TempDir dir;
  WriteFile(dir.File("r.csv"), Ratings());
  auto r = RunEncore("evaluate -m popularity -i " + dir.File("r.csv") +
                     " --feedback explicit --folds 3 --split user --grid 'factors=4,8' "
                     "--select-by ndcg@5 --metrics rmse,ndcg@5 --baseline --json -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* key :
       {"\"num_folds\": 3", "\"std\": {", "\"folds\": [", "\"grid\": [",
        "\"select_by\": \"ndcg@5\"", "\"best\": {", "\"factors\": 8", "\"baseline\": {"}) {
    EXPECT_TRUE(Has(r.out, key)) << key << " in " << r.out;
  }
  auto table = RunEncore("evaluate -m baseline -i " + dir.File("r.csv") +
                         " --feedback explicit --split time --leave-k 1 -q");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(Has(table.out, "rmse")) << table.out;
  EXPECT_TRUE(Has(table.out, "latest 1")) << table.out;
}

TEST(EvaluateCli, ModelParameterFlagsComeFromTheTable) {
  auto help = RunEncore("evaluate --help");
  ASSERT_EQ(help.exit_code, 0);
  for (const char* flag : {"--factors", "--reg", "--iterations", "--alpha", "--cold-start",
                           "--min-cooccurrence", "--biases", "--seed", "--threads", "--grid",
                           "--folds", "--split", "--metrics", "--baseline", "--json"}) {
    EXPECT_TRUE(Has(help.out, flag)) << flag;
  }
  TempDir dir;
  WriteFile(dir.File("r.csv"), Ratings());
  auto bad = RunEncore("evaluate -m popularity -i " + dir.File("r.csv") + " --factors ten -q");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(Has(bad.err, "--factors")) << bad.err;
  auto invalid = RunEncore("evaluate -m popularity -i " + dir.File("r.csv") + " --factors 0 -q");
  EXPECT_EQ(invalid.exit_code, 1);
  EXPECT_TRUE(Has(invalid.err, "factors must be")) << invalid.err;
}

TEST(EvaluateCli, ClearErrors) {
  TempDir dir;
  WriteFile(dir.File("r.csv"), Ratings());
  WriteFile(dir.File("untimed.csv"), "user,item\na,x\nb,y\na,y\n");
  struct Case {
    std::string args;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {"-m nosuch -i " + dir.File("r.csv"), "unknown model 'nosuch'"},
           {"-m popularity -i " + dir.File("r.csv") + " --grid rank=3", "unknown parameter"},
           {"-m popularity -i " + dir.File("r.csv") + " --metrics auc", "unknown metric 'auc'"},
           {"-m popularity -i " + dir.File("r.csv") + " --split time --folds 3", "--folds"},
           {"-m popularity -i " + dir.File("untimed.csv") + " --split time", "time"},
           {"-m popularity -i " + dir.File("r.csv") + " --split sideways", "sideways"}}) {
    // --feedback explicit: the file holds ratings (else a warning says so
    // on a line of its own, before the error).
    auto r = RunEncore("evaluate " + c.args + " --feedback explicit -q");
    EXPECT_EQ(r.exit_code, 1) << c.args;
    EXPECT_TRUE(Has(r.err, c.says)) << c.args << ": " << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  }
}

}  // namespace
}  // namespace encore
