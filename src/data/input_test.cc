// The input option table and input loading (encore/input.h).

#include "encore/input.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>

#include "test_util.h"

namespace encore {
namespace {

using testing::TempDir;
using testing::WriteFile;

TEST(InputOptions, TableNamesAreUniqueAndDocumented) {
  std::set<std::string> names, flags, keys;
  for (const InputOptionInfo& info : InputOptionTable()) {
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    if (*info.flag) {
      EXPECT_TRUE(flags.insert(info.flag).second) << info.flag;
    }
    if (*info.pipeline_key) {
      EXPECT_TRUE(
          keys.insert(std::to_string(static_cast<int>(info.scope)) + info.pipeline_key).second)
          << info.pipeline_key;
    }
    EXPECT_TRUE(*info.flag || *info.pipeline_key) << info.name << " is set from nowhere";
    EXPECT_GT(std::string(info.help).size(), 5u) << info.name;
    EXPECT_EQ(FindInputOption(info.name), &info);
    // A literal default parses with the option's own setter.
    if (*info.default_value) {
      InputOptions o;
      EXPECT_TRUE(info.set(&o, info.default_value).ok()) << info.name;
    }
  }
}

// Every literal default of the table is the value a default-constructed
// InputOptions holds: the table documents what the code does.
TEST(InputOptions, LiteralDefaultsAreTheStructDefaults) {
  for (const InputOptionInfo& info : InputOptionTable()) {
    if (*info.default_value == 0) continue;
    InputOptions set_explicitly;
    ASSERT_TRUE(info.set(&set_explicitly, info.default_value).ok()) << info.name;
    Result<ResolvedInput> a = ResolveInput(InputOptions{});
    Result<ResolvedInput> b = ResolveInput(set_explicitly);
    ASSERT_TRUE(a.ok() && b.ok()) << info.name;
    EXPECT_EQ(a->read.format, b->read.format) << info.name;
    EXPECT_EQ(a->read.time_unit, b->read.time_unit) << info.name;
    EXPECT_EQ(a->read.max_bad_rows, b->read.max_bad_rows) << info.name;
    EXPECT_EQ(a->dataset.duplicates, b->dataset.duplicates) << info.name;
    EXPECT_EQ(a->dataset.transform, b->dataset.transform) << info.name;
  }
}

TEST(InputOptions, SettersParseAndRejectWithTheAcceptedValues) {
  InputOptions o;
  EXPECT_TRUE(SetInputOption(&o, "format", "movielens").ok());
  EXPECT_EQ(o.format, InputFormat::kMovieLens);
  EXPECT_TRUE(SetInputOption(&o, "separator", "tab").ok());
  EXPECT_EQ(o.separator, '\t');
  EXPECT_TRUE(SetInputOption(&o, "user_col", "3").ok());
  EXPECT_EQ(o.user_col.index, 3);
  EXPECT_TRUE(SetInputOption(&o, "item_col", "sku").ok());
  EXPECT_EQ(o.item_col.name, "sku");
  EXPECT_TRUE(SetInputOption(&o, "obfuscate", "email, street").ok());
  EXPECT_EQ(o.obfuscate, (std::vector<std::string>{"email", "street"}));
  EXPECT_TRUE(SetInputOption(&o, "attributes", "none").ok());
  EXPECT_TRUE(o.attributes.has_value() && o.attributes->empty());
  EXPECT_TRUE(SetInputOption(&o, "header", "false").ok());
  EXPECT_EQ(o.header, false);
  EXPECT_TRUE(SetInputOption(&o, "max_bad_rows", "12").ok());
  EXPECT_EQ(o.max_bad_rows, 12u);
  for (const auto& [name, bad, says] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"format", "parquet", "parquet"},
           {"separator", "ab", "one byte"},
           {"time_unit", "h", "auto, s or ms"},
           {"user_col", "", "is empty"},
           {"user_col", "0", "1-based"},
           {"max_bad_rows", "-1", "integer >= 0"},
           {"feedback", "sort-of", "implicit or explicit"},
           {"weights", "view=-1", "view"},
           {"transform", "sqrt", "sqrt"},
           {"header", "maybe", "true or false"},
           {"nosuch", "1", "unknown input option"}}) {
    Status s = SetInputOption(&o, name, bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_NE(s.message().find(says), std::string::npos) << name << ": " << s.message();
  }
}

TEST(InputOptions, ResolveAppliesTheDerivedDefaultsOnce) {
  InputOptions o;
  EXPECT_EQ(ResolveInput(o)->dataset.feedback, Feedback::kImplicit);
  o.format = InputFormat::kMlLatest;
  EXPECT_EQ(ResolveInput(o)->dataset.feedback, Feedback::kExplicit);
  EXPECT_EQ(DefaultFeedback(InputFormat::kMovieLens), Feedback::kExplicit);
  EXPECT_EQ(DefaultFeedback(InputFormat::kBaskets), Feedback::kImplicit);
  // Weights name the accepted events unless events are given.
  InputOptions w;
  ASSERT_TRUE(SetInputOption(&w, "weights", "view=1,buy=3").ok());
  EXPECT_EQ(ResolveInput(w)->read.known_events, (std::vector<std::string>{"buy", "view"}));
  ASSERT_TRUE(SetInputOption(&w, "events", "view").ok());
  EXPECT_EQ(ResolveInput(w)->read.known_events, (std::vector<std::string>{"view"}));
  // Implicit-only options with explicit feedback are errors in every front end.
  w.feedback = Feedback::kExplicit;
  EXPECT_NE(ResolveInput(w).status().message().find("weights apply to implicit"),
            std::string::npos);
  InputOptions t;
  t.format = InputFormat::kMovieLens;
  t.transform = ValueTransform::kLog1p;
  EXPECT_NE(ResolveInput(t).status().message().find("transform applies to implicit"),
            std::string::npos);
}

TEST(InputOptions, LoadInputReadsWeightsAndObfuscatesFromAKeyFile) {
  TempDir dir;
  WriteFile(dir.File("e.csv"),
            "user,item,event,email\nu1,a,view,x@y\nu1,b,buy,x@y\nu2,a,buy,z@y\n");
  WriteFile(dir.File("key"), "a-test-key-of-enough-length\n");
  InputOptions o;
  o.files = {dir.File("e.csv")};
  ASSERT_TRUE(SetInputOption(&o, "weights", "view=1,buy=3").ok());
  ASSERT_TRUE(SetInputOption(&o, "obfuscate", "email").ok());
  ASSERT_TRUE(SetInputOption(&o, "obfuscation_key_file", dir.File("key")).ok());
  ReadReport report;
  Result<Dataset> data = LoadInput(o, &report);
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ(data->users.size(), 2u);
  EXPECT_EQ(data->nnz(), 3u);
  EXPECT_EQ(report.rows_accepted, 3u);
  // Without a key the read fails before reading, naming what to set.
  InputOptions no_key = o;
  no_key.obfuscation_key_file.clear();
  no_key.obfuscation_key_env = "ENCORE_TEST_SURELY_UNSET_KEY";
  Status s = LoadInput(no_key, &report).status();
  EXPECT_NE(s.message().find("ENCORE_TEST_SURELY_UNSET_KEY"), std::string::npos) << s.message();
}

TEST(InputOptions, MarkdownListsEveryOption) {
  const std::string md = InputOptionsMarkdown();
  for (const InputOptionInfo& info : InputOptionTable()) {
    EXPECT_NE(md.find("| `" + std::string(info.name) + "` |"), std::string::npos) << info.name;
  }
}

}  // namespace
}  // namespace encore
