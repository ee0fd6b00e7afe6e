// Per-kind defaults (KindDefaultTable, DefaultParams) and the Spark preset.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "encore/defaults.h"
#include "encore/params.h"
#include "encore/recommender.h"

namespace encore {
namespace {

const ParamInfo* Find(const std::string& name) {
  for (const ParamInfo& info : ModelParamTable()) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

TEST(ParamsDefaults, EveryKindDefaultIsAKnownParameterOfItsKind) {
  const std::vector<std::string> kinds = RecommenderKinds();
  for (const KindDefault& d : KindDefaultTable()) {
    SCOPED_TRACE(std::string(d.kind) + "." + d.param);
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), d.kind), kinds.end());
    const ParamInfo* info = Find(d.param);
    ASSERT_NE(info, nullptr);
    const std::string models = std::string(",") + info->models + ",";
    EXPECT_NE(models.find(std::string(",") + d.kind + ","), std::string::npos)
        << "the " << d.kind << " model does not read " << d.param << " (" << info->models << ")";
    // DefaultParams holds exactly the table's value, and it validates.
    const ModelParams p = DefaultParams(d.kind);
    EXPECT_EQ(info->get(p), d.value);
    EXPECT_TRUE(p.Validate().ok()) << p.Validate().message();
  }
}

TEST(ParamsDefaults, KindValuesAreTheMeasuredOnes) {
  const ModelParams als = DefaultParams("als");
  EXPECT_EQ(als.factors, 32u);
  EXPECT_EQ(als.iterations, 15u);
  EXPECT_FLOAT_EQ(als.reg, 0.157f);
  EXPECT_TRUE(als.biases);
  EXPECT_FLOAT_EQ(als.reg_user_bias, 0.0112f);
  EXPECT_FLOAT_EQ(als.reg_item_bias, 0.326f);
  const ModelParams svdpp = DefaultParams("svdpp");
  EXPECT_EQ(svdpp.factors, 128u);
  EXPECT_EQ(svdpp.iterations, 40u);
  EXPECT_FLOAT_EQ(svdpp.learning_rate, 0.007f);
  EXPECT_FLOAT_EQ(svdpp.lr_decay, 0.96f);
  EXPECT_FLOAT_EQ(svdpp.init_scale, 0.05f);
  EXPECT_FLOAT_EQ(svdpp.reg, 0.05f);
  EXPECT_FLOAT_EQ(svdpp.reg_implicit, 2.0f);
  EXPECT_FLOAT_EQ(svdpp.reg_user_bias, 0.01f);
  EXPECT_FLOAT_EQ(svdpp.reg_item_bias, 0.3f);
  // Kinds without entries (ials: no setting beat Spark's on both lastfm and
  // groceries, docs/QUALITY.md) start at ModelParams{}.
  for (const char* kind : {"ials", "bpr", "ease", "cooccurrence", "popularity", "nosuch"}) {
    EXPECT_EQ(ModelParamsToList(DefaultParams(kind)), ModelParamsToList(ModelParams{})) << kind;
  }
}

TEST(ParamsDefaults, SparkPresetIsModelParamsAsBefore) {
  for (const std::string& kind : RecommenderKinds()) {
    SCOPED_TRACE(kind);
    const ModelParams p = DefaultParams(kind, DefaultsPreset::kSpark);
    EXPECT_EQ(ModelParamsToList(p), ModelParamsToList(ModelParams{}));
    // Spark MLlib's ALS: rank 10, maxIter 10, regParam 0.1, alpha 1, no biases.
    EXPECT_EQ(p.factors, 10u);
    EXPECT_EQ(p.iterations, 10u);
    EXPECT_FLOAT_EQ(p.reg, 0.1f);
    EXPECT_FLOAT_EQ(p.alpha, 1.0f);
    EXPECT_FALSE(p.biases);
    EXPECT_FLOAT_EQ(p.learning_rate, 0.05f);
  }
}

TEST(ParamsDefaults, PresetNames) {
  EXPECT_EQ(ParseDefaultsPreset("encore").value(), DefaultsPreset::kEncore);
  EXPECT_EQ(ParseDefaultsPreset("spark").value(), DefaultsPreset::kSpark);
  EXPECT_STREQ(DefaultsPresetName(DefaultsPreset::kSpark), "spark");
  Result<DefaultsPreset> bad = ParseDefaultsPreset("mllib");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'mllib'"), std::string::npos);
  EXPECT_NE(bad.status().message().find("spark"), std::string::npos);
}

}  // namespace
}  // namespace encore
