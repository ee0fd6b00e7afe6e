// Offline replay: judge recommendation models on a logged period before any
// of them is shown to a user (docs/EXPERIMENTS.md, "Offline replay").
//
// ReplayModels reads logged events (the batch readers' files and options,
// encore/input.h; they need a time column) and splits them at a period
// [start, stop): rows before `start` are each user's history, rows inside
// the period are what the user went on to do. For every user active in the
// period who has history before it and at least one item in it that is not
// in that history, each model recommends its top-N from the history alone
// (fold-in through the ranker, the path POST /v1/recommendations serves; the
// history items are excluded), and the period's new items are the relevant
// ones. Per model, the mean of each per-user ranking metric (the functions
// of encore/evaluate.h); per model after the first (the baseline), the
// paired difference with a paired bootstrap percentile interval over users.
//
// History weights follow BuildDataset: a row weighs its value times its
// event type's weight (--weights), summed per (user, item). Items a model
// does not know are left out of its fold-in (counted) and, when relevant,
// stay relevant (so a model that cannot recommend them is not rewarded).
//
// Thread-safety: reentrant; OpenMP over users (ReplayOptions::threads).

#ifndef ENCORE_REPLAY_H_
#define ENCORE_REPLAY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "encore/evaluate.h"
#include "encore/input.h"
#include "encore/status.h"

namespace encore {

struct ReplayModel {
  std::string name;  // shown in the report
  std::string path;  // a model file (encore train --save)
};

struct ReplayOptions {
  InputOptions input;               // the logged events; need a time column
  int64_t start = 0, stop = 0;      // the period, unix seconds, [start, stop)
  std::vector<ReplayModel> models;  // two or more; the first is the baseline
  // Per-user ranking metrics: precision, recall, map, ndcg, hit (not rmse,
  // mae, coverage). Top-N is the largest k.
  std::vector<Metric> metrics;
  uint32_t bootstrap = 1000;  // paired bootstrap replications, >= 100
  double confidence = 0.95;   // of the difference intervals
  uint64_t seed = 42;         // of the bootstrap
  int threads = 0;            // 0 = all cores
  // One progress line per step (read, each model); may be empty.
  std::function<void(const std::string&)> log;
};

struct ReplayModelReport {
  std::string name, path, kind;
  std::vector<double> values;                // per metric: mean over the evaluated users
  uint64_t unknown_history_items = 0;        // history (user, item) pairs the model does not know
  uint64_t users_without_known_history = 0;  // evaluated users none of whose history it knows
};

// A model's difference from the baseline on one metric: mean over users of
// (model - baseline), the standard error of that mean, and the paired
// bootstrap percentile interval.
struct ReplayDifference {
  std::string model, baseline;
  Metric metric;
  double mean = 0, stderr_ = 0, low = 0, high = 0;
};

struct ReplayReport {
  int64_t start = 0, stop = 0;
  std::vector<Metric> metrics;
  uint64_t rows = 0, rows_before = 0, rows_in_period = 0, rows_after = 0;
  uint64_t users_active = 0;             // users with a row in the period
  uint64_t users_without_history = 0;    // ... and none before it (not evaluated)
  uint64_t users_without_new_items = 0;  // ... whose period items are all in their history
  uint64_t users_evaluated = 0;
  std::vector<ReplayModelReport> models;
  std::vector<ReplayDifference> differences;  // model-major, metric order
  uint32_t bootstrap = 0;
  double confidence = 0.95;
  uint64_t seed = 42;
};

// InvalidArgument for bad options (fewer than two models, stop <= start,
// a metric that is not per user, no time column); the reader's and
// LoadModel's errors (naming file and line, or the model file) as they are;
// FailedPrecondition when no user can be evaluated.
Result<ReplayReport> ReplayModels(const ReplayOptions& options);

// Text (the default of `encore experiment replay`) and JSON (--json).
std::string ReplayReportText(const ReplayReport& report);
std::string ReplayReportJson(const ReplayReport& report);

}  // namespace encore

#endif  // ENCORE_REPLAY_H_
