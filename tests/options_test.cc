// The CLI, pipeline files and docs agree on every input option and default
// (issue 10): the input option table (encore/input.h) is compared with the
// flags of the binary, the pipeline key table and docs/CLI.md and
// docs/PIPELINES.md; the evaluation default metrics likewise.

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "encore/evaluate.h"
#include "encore/input.h"
#include "pipeline/config.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::ReadFile;
using testing::RunEncore;

// The help line of `flag` ("  --format TEXT=csv   Input format..."), or "".
std::string HelpLine(const std::string& help, const std::string& flag) {
  std::istringstream in(help);
  for (std::string line; std::getline(in, line);) {
    size_t at = line.find_first_not_of(' ');
    if (at == std::string::npos) continue;
    std::string head = line.substr(at);
    if (head.rfind(flag + " ", 0) == 0 || head == flag || head.rfind(flag + ",", 0) == 0) {
      return line;
    }
  }
  return "";
}

TEST(Options, EveryInputFlagExistsWithTheTablesDefault) {
  for (const char* command : {"stats", "train", "evaluate"}) {
    auto help = RunEncore(std::string(command) + " --help");
    ASSERT_EQ(help.exit_code, 0);
    for (const InputOptionInfo& info : InputOptionTable()) {
      if (*info.flag == 0) continue;
      const std::string line = HelpLine(help.out, info.flag);
      ASSERT_FALSE(line.empty()) << command << " has no " << info.flag;
      if (*info.default_value) {
        const std::string shown = std::string("=") + info.default_value;
        const size_t at = line.find(shown);
        EXPECT_TRUE(at != std::string::npos &&
                    (at + shown.size() == line.size() || line[at + shown.size()] == ' '))
            << command << " " << info.flag << " default differs from the table: " << line;
      }
    }
  }
}

TEST(Options, EveryInputKeyIsInThePipelineTableWithTheSameDefault) {
  for (const InputOptionInfo& info : InputOptionTable()) {
    if (*info.pipeline_key == 0) continue;
    const std::string section = info.scope == InputOptionScope::kRead ? "sources.*" : "prepare";
    const pipeline::ConfigKey* found = nullptr;
    for (const pipeline::ConfigKey& k : pipeline::PipelineKeys()) {
      if (k.section == section && std::string(k.name) == info.pipeline_key) found = &k;
    }
    ASSERT_NE(found, nullptr) << "[" << section << "] " << info.pipeline_key;
    EXPECT_EQ(std::string(found->fallback), InputOptionDefault(info)) << info.name;
    EXPECT_NE(std::string(found->help).find(info.help), std::string::npos) << info.name;
  }
}

TEST(Options, DocsHoldTheGeneratedTables) {
  const std::string cli = ReadFile(std::string(ENCORE_SOURCE_DIR) + "/docs/CLI.md");
  EXPECT_NE(cli.find(InputOptionsMarkdown()), std::string::npos)
      << "docs/CLI.md is stale: run scripts/gen-cli-docs.sh";
  EXPECT_NE(cli.find(EvaluationOptionsMarkdown()), std::string::npos)
      << "docs/CLI.md is stale: run scripts/gen-cli-docs.sh";
  const std::string pipelines = ReadFile(std::string(ENCORE_SOURCE_DIR) + "/docs/PIPELINES.md");
  for (const InputOptionInfo& info : InputOptionTable()) {
    if (*info.pipeline_key == 0) continue;
    EXPECT_NE(pipelines.find("| `" + std::string(info.pipeline_key) + "` |"), std::string::npos)
        << info.pipeline_key << " is not documented in docs/PIPELINES.md";
  }
}

TEST(Options, EveryEvaluationFlagExistsWithTheTablesDefault) {
  auto help = RunEncore("evaluate --help");
  ASSERT_EQ(help.exit_code, 0);
  for (const EvalOptionInfo& info : EvaluationOptionTable()) {
    if (*info.flag == 0) continue;
    const std::string line = HelpLine(help.out, info.flag);
    ASSERT_FALSE(line.empty()) << "evaluate has no " << info.flag;
    if (*info.default_value && info.type != EvalOptionType::kBool) {
      const std::string shown = std::string("=") + info.default_value;
      const size_t at = line.find(shown);
      EXPECT_TRUE(at != std::string::npos &&
                  (at + shown.size() == line.size() || line[at + shown.size()] == ' '))
          << info.flag << " default differs from the table: " << line;
    }
  }
}

TEST(Options, EveryEvaluationKeyIsInThePipelineTableWithTheSameDefault) {
  for (const EvalOptionInfo& info : EvaluationOptionTable()) {
    if (*info.pipeline_key == 0) continue;
    const pipeline::ConfigKey* found = nullptr;
    for (const pipeline::ConfigKey& k : pipeline::PipelineKeys()) {
      if (std::string(k.section) == "models.*.evaluate" && std::string(k.name) == info.pipeline_key)
        found = &k;
    }
    ASSERT_NE(found, nullptr) << "[models.*.evaluate] " << info.pipeline_key;
    EXPECT_EQ(std::string(found->fallback), EvaluationOptionDefault(info)) << info.name;
    EXPECT_NE(std::string(found->help).find(info.help), std::string::npos) << info.name;
  }
}

// The same option given on the command line and in a pipeline file reaches
// the protocol with the same value: both go through the table's parser.
TEST(Options, EvaluationOptionsParseTheSameFromEitherFrontEnd) {
  EvaluationProtocol protocol;
  ASSERT_TRUE(SetEvaluationOption(&protocol, "k", "5").ok());
  ASSERT_TRUE(SetEvaluationOption(&protocol, "metrics", "precision,ndcg@20").ok());
  ASSERT_EQ(protocol.metrics.size(), 2u);
  EXPECT_EQ(protocol.metrics[0].Name(), "precision@5");
  EXPECT_EQ(protocol.metrics[1].Name(), "ndcg@20");
  EXPECT_FALSE(SetEvaluationOption(&protocol, "test_fraction", "1.5").ok());
  EXPECT_FALSE(SetEvaluationOption(&protocol, "folds", "1").ok());
  EXPECT_FALSE(SetEvaluationOption(&protocol, "cutoff", "yesterday").ok());
  EXPECT_FALSE(SetEvaluationOption(&protocol, "nope", "1").ok());
  ASSERT_TRUE(SetEvaluationOption(&protocol, "cutoff", "2015-03-01").ok());
  EXPECT_EQ(*protocol.split.cutoff, 1425168000);
}

TEST(Options, OneDefaultMetricListForTheCliAndPipelines) {
  auto help = RunEncore("evaluate --help");
  ASSERT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find(kDefaultImplicitMetrics), std::string::npos) << help.out;
  for (const pipeline::ConfigKey& k : pipeline::PipelineKeys()) {
    if (std::string(k.section) != "models.*.evaluate" || std::string(k.name) != "metrics") continue;
    EXPECT_NE(std::string(k.fallback).find(kDefaultImplicitMetrics), std::string::npos);
    EXPECT_NE(std::string(k.fallback).find(kDefaultExplicitMetrics), std::string::npos);
  }
}

}  // namespace
}  // namespace encore
