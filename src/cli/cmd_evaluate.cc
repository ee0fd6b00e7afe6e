// encore evaluate: split or fold the data, fit a model, print its metrics;
// optionally over a parameter grid and beside the bias baseline. Everything
// beyond flag handling lives in the library (encore/evaluate.h).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "cli/model_flags.h"
#include "cli/tune_flags.h"
#include "encore/evaluate.h"
#include "encore/input.h"
#include "io/text.h"

namespace encore::cli {

namespace {

struct EvaluateFlags {
  InputFlags input;
  ModelFlags model_params;
  std::string model;
  std::string split = "random";
  double test_fraction = 0.2;
  uint32_t leave_k = 0;
  std::string cutoff;
  uint32_t min_train = 1;
  uint32_t folds = 0;
  std::string grid;
  std::string select_by;
  std::string metrics;
  uint32_t k = 10;
  double relevance_threshold = 0;
  CLI::Option* relevance_threshold_option = nullptr;
  uint64_t seed = 42;
  bool baseline = false;
  bool json = false;
  TuneFlags tune;  // --tune: nested evaluation (cli/tune_flags.h)
};

int Run(const EvaluateFlags& f) {
  // Everything checkable without the data is checked first.
  ModelParams params;
  if (Status s = f.model_params.Apply(&params); !s.ok()) return PrintError(s);
  params.threads = f.input.threads;
  params.seed = f.seed;
  if (Status s = CreateEvalModel(f.model, params).status(); !s.ok()) return PrintError(s);

  Result<InputOptions> input = f.input.Resolve();
  if (!input.ok()) return PrintError(input.status());
  Result<ResolvedInput> resolved = ResolveInput(*input);
  if (!resolved.ok()) return PrintError(resolved.status());
  const Feedback feedback = resolved->dataset.feedback;

  EvaluationProtocol protocol;
  Result<SplitMethod> method = ParseSplitMethod(f.split);
  if (!method.ok()) return PrintError(method.status());
  protocol.split.method = *method;
  protocol.split.test_fraction = f.test_fraction;
  protocol.split.leave_k = f.leave_k;
  protocol.split.min_train = f.min_train;
  protocol.split.seed = f.seed;
  if (!f.cutoff.empty()) {
    int64_t t = 0;
    if (!io::ParseTimestamp(f.cutoff, TimeUnit::kAuto, &t)) {
      return PrintError(Status::InvalidArgument(
          "--cutoff '" + f.cutoff +
          "' is not a time: give unix seconds or ISO-8601 (2015-03-01 or 2015-03-01T12:00:00Z)"));
    }
    protocol.split.cutoff = t;
  }
  protocol.folds = f.folds;
  protocol.k = f.k;
  if (!f.metrics.empty()) {
    Result<std::vector<Metric>> metrics = ParseMetrics(f.metrics, f.k);
    if (!metrics.ok()) return PrintError(metrics.status());
    protocol.metrics = *metrics;
  }
  Result<std::vector<GridAxis>> grid = ParseGrid(f.grid);
  if (!grid.ok()) return PrintError(grid.status());
  protocol.grid = *grid;
  if (!f.select_by.empty()) {
    Result<std::vector<Metric>> by = ParseMetrics(f.select_by, f.k);
    if (!by.ok()) return PrintError(by.status());
    if (by->size() != 1) return PrintError(Status::InvalidArgument("--select-by takes one metric"));
    protocol.select_by = by->front();
  }
  if (f.relevance_threshold_option->count() > 0) {
    protocol.relevance_threshold = static_cast<float>(f.relevance_threshold);
  }
  protocol.baseline = f.baseline;
  if (Status s = ValidateProtocol(protocol); !s.ok()) return PrintError(s);

  ReadReport report;
  Result<Dataset> data = LoadInput(*input, f.input.quiet, &report);
  if (!data.ok()) return PrintError(data.status());

  EvalOptions options;
  options.threads = f.input.threads;
  if (!f.input.quiet) {
    options.log = [](const std::string& line) {
      std::fprintf(stderr, "encore: %s\n", line.c_str());
    };
  }
  if (f.tune.enabled) {
    if (!protocol.grid.empty() || f.baseline) {
      return PrintError(
          Status::InvalidArgument("--tune searches its own space; drop --grid and --baseline"));
    }
    Result<FoldAssignment> folds = ProtocolFolds(protocol, *data, f.input.threads);
    if (!folds.ok()) return PrintError(folds.status());
    EvaluationSummary summary;
    summary.model = f.model;
    summary.protocol = DescribeProtocol(protocol);
    return RunNestedEvaluation(f.tune, f.model, params, *data, feedback, f.split, f.min_train,
                               f.seed, f.k, *folds, ProtocolMetrics(protocol, feedback), options,
                               std::move(summary), f.json);
  }
  Result<EvaluationRun> run = RunEvaluation(f.model, params, *data, feedback, protocol, options);
  if (!run.ok()) return PrintError(run.status());
  const std::string out =
      f.json ? FormatEvaluationJson(run->summary) + "\n" : FormatEvaluationTable(run->summary);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace

Command RegisterEvaluate(CLI::App& root) {
  CLI::App* app = root.add_subcommand(
      "evaluate",
      "Measure a model: holdout split or k-fold cross-validation, accuracy and ranking "
      "metrics, parameter grids (docs/METRICS.md)");
  auto f = std::make_shared<EvaluateFlags>();
  app->add_option("-m,--model", f->model, "Model to evaluate (a registered model, or baseline)")
      ->required();
  f->input.Register(app);
  app->add_option("--split", f->split,
                  "random (interactions) | user (within each user) | time (by timestamp)")
      ->capture_default_str();
  app->add_option("--test-fraction", f->test_fraction,
                  "Holdout: fraction held out (random: of all interactions; user: of each "
                  "user's; time: the latest)")
      ->capture_default_str();
  app->add_option("--leave-k", f->leave_k,
                  "user / time split: hold out K interactions per user (random, or the latest) "
                  "instead of a fraction")
      ->capture_default_str();
  app->add_option("--cutoff", f->cutoff,
                  "time split: test on interactions at or after TIME (unix seconds or ISO-8601)");
  app->add_option("--min-train", f->min_train,
                  "user / time-per-user / per-user folds: users who would keep fewer training "
                  "interactions stay entirely in training")
      ->capture_default_str();
  app->add_option("--folds", f->folds,
                  "K-fold cross-validation with K folds (0 = one holdout split)")
      ->capture_default_str();
  app->add_option("--grid", f->grid,
                  "Parameter grid, e.g. 'factors=10,50,100;reg=0.01,0.1' (every combination)");
  app->add_option("--select-by", f->select_by,
                  "Grid: the metric picking the best setting (default: the first metric)");
  app->add_option("--metrics", f->metrics,
                  "Comma-separated: rmse, mae, precision@K, recall@K, map@K, ndcg@K, hit@K, "
                  "coverage@K (default: " +
                      std::string(kDefaultExplicitMetrics) + " for explicit feedback, " +
                      kDefaultImplicitMetrics + " at --k otherwise)");
  app->add_option("--k", f->k, "K of ranking metrics given without @K")->capture_default_str();
  f->relevance_threshold_option = app->add_option(
      "--relevance-threshold", f->relevance_threshold,
      "Ranking metrics: only test items with a value >= X are relevant (e.g. 4 for stars)");
  app->add_option("--seed", f->seed, "Seed of the split or folds and of the model")
      ->capture_default_str();
  app->add_flag("--baseline", f->baseline,
                "Also evaluate the bias baseline (mean + user and item biases) on the same "
                "split or folds");
  app->add_flag("--json", f->json, "Print one JSON object instead of a table");
  f->tune.RegisterNested(app);
  f->model_params.Register(app);
  return {app, [f] { return Run(*f); }};
}

}  // namespace encore::cli
