// Per-kind defaults from the command line: --defaults spark gives Spark's
// values, a flag the user sets always wins, and svdpp's defaults beat the
// bias baseline on generated explicit ratings.

#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace encore {
namespace {

using testing::RunEncore;
using testing::TempDir;

// The text value of "name" in the "params" object of `train --json`.
std::string JsonParam(const std::string& json, const std::string& name) {
  const size_t params = json.find("\"params\"");
  if (params == std::string::npos) return "<no params>";
  size_t at = json.find("\"" + name + "\"", params);
  if (at == std::string::npos) return "<missing>";
  at = json.find('"', json.find(':', at));
  return json.substr(at + 1, json.find('"', at + 1) - at - 1);
}

double JsonRmse(const std::string& json) {
  const size_t at = json.find("\"rmse\"");
  if (at == std::string::npos) return -1;
  size_t v = json.find_first_of("-0123456789", json.find(':', at));
  return std::stod(json.substr(v));
}

class DefaultsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    auto g = RunEncore("generate --profile ratings --users 300 --items 120 --rows 6000 --seed 3 "
                       "--out " + dir_.File("g"));
    ASSERT_EQ(g.exit_code, 0) << g.err;
    input_ = " --input " + dir_.File("g/ratings.csv") + " --feedback explicit --threads 2 -q";
  }
  std::string Train(const std::string& args) {
    auto r = RunEncore("train" + input_ + " --json --out " + dir_.File("m.bin") + " " + args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out + r.err;
  }
  double Rmse(const std::string& args) {
    auto r = RunEncore("evaluate" + input_ + " --metrics rmse --json " + args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return JsonRmse(r.out);
  }
  TempDir dir_;
  std::string input_;
};

TEST_F(DefaultsCli, KindDefaultsSparkPresetAndUserValues) {
  std::string out = Train("--model svdpp --iterations 2");
  EXPECT_EQ(JsonParam(out, "factors"), "128") << out;
  EXPECT_EQ(JsonParam(out, "learning_rate"), "0.007") << out;
  EXPECT_EQ(JsonParam(out, "iterations"), "2") << "a user-set value wins: " << out;
  out = Train("--model als --defaults spark");
  EXPECT_EQ(JsonParam(out, "factors"), "10") << out;
  EXPECT_EQ(JsonParam(out, "reg"), "0.1") << out;
  EXPECT_EQ(JsonParam(out, "biases"), "false") << out;
  out = Train("--model als --defaults spark --factors 4 --biases");
  EXPECT_EQ(JsonParam(out, "factors"), "4") << "user values win over spark too: " << out;
  EXPECT_EQ(JsonParam(out, "biases"), "true") << out;
  out = Train("--model als --biases=false --reg 0.5");
  EXPECT_EQ(JsonParam(out, "factors"), "32") << out;
  EXPECT_EQ(JsonParam(out, "biases"), "false") << "a user-set false wins: " << out;
  EXPECT_EQ(JsonParam(out, "reg"), "0.5") << out;
  out = Train("--model ials");
  EXPECT_EQ(JsonParam(out, "factors"), "10") << "ials keeps Spark's values: " << out;

  auto bad = RunEncore("train" + input_ + " --model als --defaults mllib --out " +
                       dir_.File("x.bin"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--defaults"), std::string::npos) << bad.err;
}

TEST_F(DefaultsCli, SparkPresetReproducesSparkNumbers) {
  // --defaults spark scores exactly as Spark's values written out, and the
  // encore defaults exactly as the table's values written out.
  const std::string spark = "--factors 10 --iterations 10 --reg 0.1 --biases=false "
                            "--reg-user-bias -1 --reg-item-bias -1";
  EXPECT_EQ(Rmse("--model als --defaults spark"), Rmse("--model als " + spark));
  EXPECT_EQ(Rmse("--model als"),
            Rmse("--model als --defaults spark --factors 32 --iterations 15 --reg 0.157 "
                 "--biases --reg-user-bias 0.0112 --reg-item-bias 0.326"));
  EXPECT_NE(Rmse("--model als"), Rmse("--model als --defaults spark"));
}

TEST_F(DefaultsCli, SvdppDefaultsBeatTheBiasBaseline) {
  const double baseline = Rmse("--model baseline");
  const double svdpp = Rmse("--model svdpp");
  const double spark = Rmse("--model svdpp --defaults spark");
  EXPECT_GT(baseline, 0);
  EXPECT_LT(svdpp, baseline) << "svdpp defaults " << svdpp << ", baseline " << baseline
                             << ", Spark-preset svdpp " << spark;
}

}  // namespace
}  // namespace encore
