// Long steps report progress on stderr (issue 16, item 3): a multi-iteration
// fit prints its first and last iteration with the iterations done, the rate
// and how much the factors changed; folds print how many models are left;
// --quiet silences all of it. Nothing here depends on timing: the first and
// last lines are printed whatever the interval.

#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace encore {
namespace {

using testing::RunEncore;
using testing::TempDir;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class ProgressCli : public ::testing::Test {
 protected:
  void SetUp() override {
    auto gen = RunEncore(
        "generate --profile plays --users 300 --items 100 --rows 6000 --seed 5 "
        "--out " +
        dir_.File("gen") + " --quiet");
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
  }
  std::string Input() const { return dir_.File("gen/plays.csv"); }
  TempDir dir_;
};

TEST_F(ProgressCli, AMultiIterationFitReportsEachEndOfItsIterations) {
  for (const std::string model : {"ials", "als", "bpr"}) {
    auto r = RunEncore("train --model " + model + " --iterations 4 -i " + Input() + " --out " +
                       dir_.File(model + ".model"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(Has(r.err, "fit " + model + ": 25% 1/4 iterations")) << r.err;
    EXPECT_TRUE(Has(r.err, "fit " + model + ": 4/4 iterations")) << r.err;  // the final line
    EXPECT_TRUE(Has(r.err, "s per iteration") || Has(r.err, "iterations/s")) << r.err;
    EXPECT_TRUE(Has(r.err, "item factors changed")) << "the change from iteration 1 on: " << r.err;
    EXPECT_TRUE(Has(r.err, "ETA")) << "time left after the first iteration: " << r.err;

    auto quiet = RunEncore("train --model " + model + " --iterations 4 -i " + Input() + " --out " +
                           dir_.File(model + ".model") + " --quiet");
    ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
    EXPECT_FALSE(Has(quiet.err, "iterations")) << quiet.err;
    EXPECT_TRUE(quiet.err.empty()) << quiet.err;
  }
}

TEST_F(ProgressCli, FoldsSayHowManyModelsAreLeftAndQuietSilencesThem) {
  auto r = RunEncore("evaluate --model ials --iterations 2 --folds 3 -i " + Input());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.err, "fold 1/3")) << r.err;
  EXPECT_TRUE(Has(r.err, "model 1/3, ")) << r.err;
  EXPECT_TRUE(Has(r.err, "ETA")) << r.err;
  EXPECT_TRUE(Has(r.err, "model 3/3, ")) << r.err;
  auto quiet = RunEncore("evaluate --model ials --iterations 2 --folds 3 -i " + Input() + " -q");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_FALSE(Has(quiet.err, "model 1/3")) << quiet.err;
}

TEST_F(ProgressCli, RecommendAndPublishCountUsersWithARate) {
  auto train = RunEncore("train --model ials --iterations 2 -i " + Input() + " --out " +
                         dir_.File("m.model") + " -q");
  ASSERT_EQ(train.exit_code, 0) << train.err;
  auto rec = RunEncore("recommend --model-file " + dir_.File("m.model") + " --n 3 --out " +
                       dir_.File("recs.csv"));
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  EXPECT_TRUE(Has(rec.err, "recommending: ")) << rec.err;
  EXPECT_TRUE(Has(rec.err, "/300 users")) << "the total is known: " << rec.err;
  auto pub =
      RunEncore("publish --model-file " + dir_.File("m.model") + " --store " + dir_.File("store"));
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_TRUE(Has(pub.err, "/300 ")) << pub.err;
  auto quiet = RunEncore("recommend --model-file " + dir_.File("m.model") + " --n 3 --out " +
                         dir_.File("recs2.csv") + " --quiet");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_TRUE(quiet.err.empty()) << quiet.err;
}

}  // namespace
}  // namespace encore
