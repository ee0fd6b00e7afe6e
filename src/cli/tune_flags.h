// TuneFlags: the flags of `encore tune` and of `encore evaluate --tune`
// (the same names with a `--tune-` prefix where they would clash), and their
// translation into TuneOptions. Nested evaluation's CLI glue lives here too so
// cmd_evaluate.cc only hands over.
//
// Ownership: Register binds flags to members; the object must outlive the parse.

#ifndef ENCORE_CLI_TUNE_FLAGS_H_
#define ENCORE_CLI_TUNE_FLAGS_H_

#include <string>
#include <vector>

#include "encore/dataset.h"
#include "encore/evaluate.h"
#include "encore/status.h"
#include "encore/tune.h"

namespace CLI {
class App;
}

namespace encore::cli {

struct TuneFlags {
  bool enabled = false;  // evaluate --tune
  std::string space;     // empty: DefaultSearchSpace
  std::string search = "random";
  uint32_t trials = 20;
  double time_budget = 0;
  uint32_t grid_points = 4;
  uint32_t eta = 3;
  uint32_t folds = 3;
  std::string split;   // inner folds: random | user; empty: see Resolve
  std::string metric;  // empty: rmse (explicit) or ndcg@10 (implicit)

  // `encore tune`: --space, --search, --trials, --time, --grid-points, --eta,
  // --cv-folds, --cv-split, --metric.
  void Register(CLI::App* app);
  // `encore evaluate`: --tune and the same flags prefixed --tune-.
  void RegisterNested(CLI::App* app);

  // Fills everything but base params, metrics and eval, which the caller sets.
  // `outer_split` is the evaluation's --split ("" for the tune command); the
  // inner folds default to per-user when it is "user" or, otherwise, when the
  // feedback is implicit.
  Status Resolve(const std::string& kind, Feedback feedback, const std::string& outer_split,
                 uint32_t k, TuneOptions* options) const;
};

// evaluate --tune: nested evaluation on `outer` folds; prints the table (or
// JSON) of the held-out scores and each outer fold's chosen parameters.
int RunNestedEvaluation(const TuneFlags& flags, const std::string& kind, const ModelParams& base,
                        const Dataset& data, Feedback feedback, const std::string& outer_split,
                        uint32_t min_train, uint64_t seed, uint32_t k, const FoldAssignment& outer,
                        const std::vector<Metric>& metrics, const EvalOptions& eval,
                        EvaluationSummary summary, bool json);

}  // namespace encore::cli

#endif  // ENCORE_CLI_TUNE_FLAGS_H_
