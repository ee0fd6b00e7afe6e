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
#include "io/text.h"
#include "util/time_format.h"

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

std::string Percent(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", f * 100);
  return buf;
}

// Builds the fold assignment the flags ask for and says in words what it is.
Result<FoldAssignment> MakeFolds(const EvaluateFlags& f, const Dataset& data,
                                 std::string* protocol) {
  ENCORE_ASSIGN_OR_RETURN(SplitMethod method, ParseSplitMethod(f.split));
  const std::string seed = ", seed " + std::to_string(f.seed);
  const std::string min_train = ", min-train " + std::to_string(f.min_train);
  if (f.folds > 0) {
    if (method == SplitMethod::kTime) {
      return Status::InvalidArgument(
          "--folds cannot be combined with --split time (time has one order); use --split "
          "random (folds of interactions) or --split user (folds within each user)");
    }
    if (f.leave_k > 0 || !f.cutoff.empty()) {
      return Status::InvalidArgument(
          "--leave-k and --cutoff describe a holdout split; drop "
          "them or --folds");
    }
    FoldOptions o;
    o.folds = f.folds;
    o.per_user = method == SplitMethod::kUser;
    o.min_train = f.min_train;
    o.seed = f.seed;
    o.threads = f.input.threads;
    *protocol = std::to_string(f.folds) + "-fold cross-validation " +
                (o.per_user ? "within each user's interactions" + min_train
                            : std::string("over all interactions")) +
                seed;
    return KFoldSplit(data, o);
  }
  SplitOptions o;
  o.method = method;
  o.test_fraction = f.test_fraction;
  o.leave_k = f.leave_k;
  o.min_train = f.min_train;
  o.seed = f.seed;
  o.threads = f.input.threads;
  if (!f.cutoff.empty()) {
    int64_t t = 0;
    if (!io::ParseTimestamp(f.cutoff, TimeUnit::kAuto, &t)) {
      return Status::InvalidArgument("--cutoff '" + f.cutoff +
                                     "' is not a time: give unix seconds or ISO-8601 "
                                     "(2015-03-01 or 2015-03-01T12:00:00Z)");
    }
    o.cutoff = t;
  }
  switch (method) {
    case SplitMethod::kRandom:
      *protocol = "random holdout of " + Percent(f.test_fraction) + " of the interactions" + seed;
      break;
    case SplitMethod::kUser:
      *protocol = (f.leave_k > 0 ? "leave-" + std::to_string(f.leave_k) + "-out per user"
                                 : "per-user holdout of " + Percent(f.test_fraction) +
                                       " of each user's interactions") +
                  min_train + seed;
      break;
    case SplitMethod::kTime:
      if (f.leave_k > 0) {
        *protocol = "time holdout of each user's latest " + std::to_string(f.leave_k) +
                    " interactions" + min_train;
      } else if (o.cutoff) {
        *protocol = "time holdout of the interactions at or after " + FormatUtcTime(*o.cutoff);
      } else {
        *protocol =
            "time holdout of the latest " + Percent(f.test_fraction) + " of the interactions";
      }
      break;
  }
  return HoldoutSplit(data, o);
}

int Run(const EvaluateFlags& f) {
  // Everything checkable without the data is checked first.
  ModelParams params;
  if (Status s = f.model_params.Apply(&params); !s.ok()) return PrintError(s);
  params.threads = f.input.threads;
  params.seed = f.seed;
  if (Status s = CreateEvalModel(f.model, params).status(); !s.ok()) return PrintError(s);

  ReadOptions read;
  DatasetOptions dataset_options;
  std::unique_ptr<Obfuscator> obfuscator;
  if (Status s = f.input.Resolve(&read, &dataset_options, &obfuscator); !s.ok()) {
    return PrintError(s);
  }
  std::string metric_list = f.metrics;
  if (metric_list.empty()) {
    metric_list = dataset_options.feedback == Feedback::kExplicit
                      ? "rmse,mae"
                      : "precision,recall,map,ndcg,hit,coverage";
  }
  Result<std::vector<Metric>> metrics = ParseMetrics(metric_list, f.k);
  if (!metrics.ok()) return PrintError(metrics.status());
  Result<std::vector<GridAxis>> grid = ParseGrid(f.grid);
  if (!grid.ok()) return PrintError(grid.status());
  Metric select_by = metrics->front();
  if (!f.select_by.empty()) {
    Result<std::vector<Metric>> by = ParseMetrics(f.select_by, f.k);
    if (!by.ok()) return PrintError(by.status());
    if (by->size() != 1) return PrintError(Status::InvalidArgument("--select-by takes one metric"));
    select_by = by->front();
  }

  ReadReport report;
  Result<Dataset> data = LoadInput(f.input, &report);
  if (!data.ok()) return PrintError(data.status());

  EvaluationSummary summary;
  summary.model = f.model;
  Result<FoldAssignment> folds = MakeFolds(f, *data, &summary.protocol);
  if (!folds.ok()) return PrintError(folds.status());
  EvalOptions options;
  options.threads = f.input.threads;
  if (f.relevance_threshold_option->count() > 0) {
    options.relevance_threshold = static_cast<float>(f.relevance_threshold);
  }
  if (!f.input.quiet) {
    options.log = [](const std::string& line) {
      std::fprintf(stderr, "encore: %s\n", line.c_str());
    };
  }

  if (f.tune.enabled) {
    if (!grid->empty() || f.baseline) {
      return PrintError(
          Status::InvalidArgument("--tune searches its own space; drop --grid and --baseline"));
    }
    return RunNestedEvaluation(f.tune, f.model, params, *data, dataset_options.feedback, f.split,
                               f.min_train, f.seed, f.k, *folds, *metrics, options,
                               std::move(summary), f.json);
  }
  if (!grid->empty()) {
    Result<GridReport> g =
        GridSearch(f.model, params, *grid, *data, *folds, *metrics, select_by, options);
    if (!g.ok()) return PrintError(g.status());
    summary.result = g->points[g->best].result;
    summary.grid = std::move(g).value();
  } else {
    Result<CvReport> cv = CrossValidate(f.model, params, *data, *folds, *metrics, options);
    if (!cv.ok()) return PrintError(cv.status());
    summary.result = std::move(cv).value();
  }
  if (f.baseline && f.model != kBaselineKind) {
    Result<CvReport> cv =
        CrossValidate(kBaselineKind, params, *data, *folds, summary.result.metrics, options);
    if (!cv.ok()) return PrintError(cv.status());
    summary.baseline = std::move(cv).value();
  }

  const std::string out =
      f.json ? FormatEvaluationJson(summary) + "\n" : FormatEvaluationTable(summary);
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
                  "coverage@K (default: rmse,mae for explicit feedback, all ranking metrics "
                  "otherwise)");
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
