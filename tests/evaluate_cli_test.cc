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

// Ratings of users u0..u29 on items i0..i11 as a csv; `flip` turns r into 6 - r.
// Odd (user + item) pairs go to the test file, even ones to training.
std::string HalfRatings(bool test, bool flip) {
  std::string csv = "user,item,rating\n";
  for (int u = 0; u < 30; ++u) {
    for (int i = 0; i < 12; ++i) {
      if ((u + i) % 2 != (test ? 1 : 0) || (u * 7 + i * 3) % 5 == 0) continue;
      int r = 1 + (u % 3 == i % 3 ? 3 : 0) + (u + 2 * i) % 2;
      if (flip) r = 6 - r;
      csv += "u" + std::to_string(u) + ",i" + std::to_string(i) + "," + std::to_string(r) + "\n";
    }
  }
  return csv;
}

// The line "outer fold 1: tuned ... (rmse X in inner CV, N trials)".
std::string TunedLine(const std::string& out) {
  const size_t at = out.find("outer fold 1: tuned");
  if (at == std::string::npos) return "";
  return out.substr(at, out.find('\n', at) - at);
}

TEST(EvaluateCli, TestInputScoresOnTheGivenFileAndTunesOnTrainingOnly) {
  TempDir dir;
  WriteFile(dir.File("train.csv"), HalfRatings(false, false));
  WriteFile(dir.File("test.csv"), HalfRatings(true, false));
  // The same pairs with flipped ratings: read by the tuner, they would
  // change its scores and, most likely, its choice.
  WriteFile(dir.File("flipped.csv"), HalfRatings(true, true));
  const std::string tune =
      "evaluate -m als --feedback explicit --metrics rmse,mae -q --threads 1 --seed 7 --tune "
      "--tune-search grid --tune-space 'factors=2,4;reg=0.3,3;iterations=5;biases=true' -i " +
      dir.File("train.csv") + " --test-input ";
  auto a = RunEncore(tune + dir.File("test.csv"));
  auto b = RunEncore(tune + dir.File("flipped.csv"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_TRUE(Has(a.out, "given test set " + dir.File("test.csv"))) << a.out;
  ASSERT_FALSE(TunedLine(a.out).empty()) << a.out;
  // The tuning saw the training file only: the same choice and inner score...
  EXPECT_EQ(TunedLine(a.out), TunedLine(b.out));
  // ...while the outer scores did read the test files.
  EXPECT_NE(a.out.substr(0, a.out.find("outer fold")), b.out.substr(0, b.out.find("outer fold")));

  // `encore tune` on the training file alone gives the same inner score.
  auto t = RunEncore("tune -m als -i " + dir.File("train.csv") +
                     " --feedback explicit -q --threads 1 --seed 7 --search grid "
                     "--space 'factors=2,4;reg=0.3,3;iterations=5;biases=true' --cv-split random");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  const std::string line = TunedLine(a.out);
  const size_t score = line.find("(rmse ");
  ASSERT_NE(score, std::string::npos) << line;
  const std::string inner = line.substr(score + 6, line.find(' ', score + 6) - score - 6);
  EXPECT_TRUE(Has(t.out, inner)) << inner << " in " << t.out;

  // Had the tuner read the test pairs, its inner score would differ.
  const std::string test_rows = HalfRatings(true, false);
  WriteFile(dir.File("both.csv"),
            HalfRatings(false, false) + test_rows.substr(test_rows.find('\n') + 1));
  auto both =
      RunEncore("tune -m als -i " + dir.File("both.csv") +
                " --feedback explicit -q --threads 1 --seed 7 --search grid "
                "--space 'factors=2,4;reg=0.3,3;iterations=5;biases=true' --cv-split random");
  ASSERT_EQ(both.exit_code, 0) << both.err;
  EXPECT_FALSE(Has(both.out, "(rmse " + inner)) << inner << " in " << both.out;
}

TEST(EvaluateCli, TestInputReadsMatricesAndRejectsOverlapAndFolds) {
  TempDir dir;
  // 4 users x 3 items; user 4 and item 3 only in the test matrix.
  WriteFile(dir.File("train.ascii"), "5 0 0\r\n0 4 0\r\n3 0 0\r\n0 0 0\r\n");
  WriteFile(dir.File("test.ascii"), "0 4 0\r\n1 0 0\r\n0 5 0\r\n0 0 2\r\n");
  WriteFile(dir.File("overlap.ascii"), "5 0 0\r\n");
  const std::string base = "evaluate -m baseline --format matrix --feedback explicit -i " +
                           dir.File("train.ascii") + " --threads 1 --json --test-input ";
  auto r = RunEncore(base + dir.File("test.ascii"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "\"test_pairs\": 4")) << r.out;
  EXPECT_TRUE(Has(r.err, "4 pairs; 1 users and 1 items not in the training data; 0 pairs in both"))
      << r.err;

  // User 4 and item 3 are cold: the model's cold-start rule decides.
  const std::string als = "evaluate -m als --format matrix --feedback explicit -i " +
                          dir.File("train.ascii") + " --threads 1 --json -q --test-input " +
                          dir.File("test.ascii") + " --cold-start ";
  auto drop = RunEncore(als + "drop");
  ASSERT_EQ(drop.exit_code, 0) << drop.err;
  EXPECT_TRUE(Has(drop.out, "\"dropped_pairs\": 1")) << drop.out;
  auto popular = RunEncore(als + "popular");
  ASSERT_EQ(popular.exit_code, 0) << popular.err;
  EXPECT_TRUE(Has(popular.out, "\"dropped_pairs\": 0")) << popular.out;

  auto overlap = RunEncore(base + dir.File("overlap.ascii") + " -q");
  EXPECT_EQ(overlap.exit_code, 1);
  EXPECT_TRUE(Has(overlap.err, "user '1', item '1'")) << overlap.err;
  EXPECT_TRUE(Has(overlap.err, "must be unseen")) << overlap.err;
  // The overlap dropped from the test leaves nothing to test; from training, one pair.
  EXPECT_EQ(
      RunEncore(base + dir.File("overlap.ascii") + " -q --test-overlap drop-from-test").exit_code,
      1);
  auto dropped = RunEncore(base + dir.File("overlap.ascii") + " --test-overlap drop-from-train");
  ASSERT_EQ(dropped.exit_code, 0) << dropped.err;
  EXPECT_TRUE(Has(dropped.out, "\"test_pairs\": 1")) << dropped.out;
  EXPECT_TRUE(Has(dropped.err, "1 pairs in both (drop-from-train)")) << dropped.err;

  auto folds = RunEncore(base + dir.File("test.ascii") + " --folds 3 -q");
  EXPECT_EQ(folds.exit_code, 1);
  EXPECT_TRUE(Has(folds.err, "drop --folds")) << folds.err;
}

}  // namespace
}  // namespace encore
