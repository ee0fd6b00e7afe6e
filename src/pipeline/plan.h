// Plan: the stages of a pipeline in the order they run, each with the
// stages it reads from, pruned to one output's dependencies for --only.
//
//   source NAME   reads (or generates) one source        -> interaction log
//   prepare       combines, filters, weights              -> the dataset
//   model NAME    evaluates (optional) and fits           -> a trained model
//   recommend NAME streams top-N lists from a model       -> rows
//   retail        catalog, roll-up, model on keys, rules  -> per-member feeds
//   output NAME   writes rows, or publishes a model       -> files, table, store
//
// Thread-safety: plain values.
#ifndef ENCORE_PIPELINE_PLAN_H_
#define ENCORE_PIPELINE_PLAN_H_

#include <cstddef>
#include <string>
#include <vector>

#include "encore/status.h"
#include "pipeline/config.h"

namespace encore::pipeline {

enum class StageKind { kSource, kPrepare, kModel, kRecommend, kOutput, kRetail };

struct Stage {
  StageKind kind = StageKind::kSource;
  std::string name;            // empty for prepare
  std::vector<size_t> inputs;  // indices of earlier stages

  // "source events", "prepare", "model als", "recommend top5", "output csv".
  std::string Label() const;
};

struct Plan {
  std::vector<Stage> stages;  // every stage after the stages it reads from

  // The index of the stage, or npos.
  size_t Find(StageKind kind, const std::string& name) const;
  // `stage` and every stage it derives from, nearest first.
  std::vector<size_t> Lineage(size_t stage) const;
};

// The plan for `config`: everything, or with `only` the stages output `only`
// needs (InvalidArgument listing the outputs when it names none).
Result<Plan> MakePlan(const PipelineConfig& config, const std::string& only);

// One line on what a stage does, with its resolved paths. `run_dir` is the
// run directory, or a placeholder when planning.
std::string DescribeStage(const PipelineConfig& config, const Stage& stage,
                          const std::string& run_dir);

// --dry-run and --explain texts.
std::string FormatPlanText(const PipelineConfig& config, const Plan& plan);
std::string FormatExplainText(const PipelineConfig& config, const Plan& plan);

}  // namespace encore::pipeline

#endif  // ENCORE_PIPELINE_PLAN_H_
