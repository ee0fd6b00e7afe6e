// encore tune: search a model's parameters by cross-validation on the input
// (training data only), print every trial and the choice, and write the model
// refitted with the chosen parameters on all of the input. Everything beyond
// flag handling lives in the library (encore/tune.h).

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "encore/input.h"
#include "cli/model_flags.h"
#include "cli/tune_flags.h"
#include "encore/tune.h"

namespace encore::cli {

namespace {

struct Flags {
  InputFlags input;
  ModelFlags model_params;
  TuneFlags tune;
  std::string model, out, metrics;
  uint32_t k = 10;
  uint32_t min_train = 1;
  double relevance_threshold = 0;
  CLI::Option* relevance_threshold_option = nullptr;
  uint64_t seed = 42;
  bool json = false;
};

int Run(const Flags& f) {
  ModelParams base;
  if (Status s = f.model_params.Apply(f.model, &base); !s.ok()) return PrintError(s);
  base.threads = f.input.threads;
  base.seed = f.seed;
  if (Status s = CreateRecommender(f.model, base).status(); !s.ok()) return PrintError(s);
  Result<InputOptions> input = f.input.Resolve();
  if (!input.ok()) return PrintError(input.status());
  Result<ResolvedInput> resolved = ResolveInput(*input);
  if (!resolved.ok()) return PrintError(resolved.status());
  const DatasetOptions& dataset_options = resolved->dataset;
  TuneOptions o;
  if (Status s = f.tune.Resolve(f.model, dataset_options.feedback, "", f.k, &o); !s.ok()) {
    return PrintError(s);
  }
  o.base = base;
  o.min_train = f.min_train;
  o.seed = f.seed;
  if (!f.metrics.empty()) {
    Result<std::vector<Metric>> m = ParseMetrics(f.metrics, f.k);
    if (!m.ok()) return PrintError(m.status());
    o.metrics = *m;
  } else {
    o.metrics = {o.select_by};
  }
  o.eval.threads = f.input.threads;
  if (f.relevance_threshold_option->count() > 0) {
    o.eval.relevance_threshold = static_cast<float>(f.relevance_threshold);
  }
  if (!f.input.quiet) {
    o.eval.log = [](const std::string& line) {
      std::fprintf(stderr, "encore: %s\n", line.c_str());
    };
  }

  ReadReport report;
  Result<Dataset> data = LoadInput(*input, f.input.quiet, &report);
  if (!data.ok()) return PrintError(data.status());
  Result<TuneReport> tuned = Tune(*data, o);
  if (!tuned.ok()) return PrintError(tuned.status());

  if (!f.out.empty()) {
    Result<std::unique_ptr<Recommender>> model = CreateRecommender(f.model, tuned->best_params);
    if (!model.ok()) return PrintError(model.status());
    const auto start = std::chrono::steady_clock::now();
    if (Status s = (*model)->Fit(*data); !s.ok()) return PrintError(s);
    if (!f.input.quiet) {
      std::fprintf(stderr,
                   "encore: refitted %s with the chosen parameters on all %llu "
                   "interactions in %.2f s\n",
                   f.model.c_str(), static_cast<unsigned long long>(data->nnz()),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    TrainedModel trained{std::move(model).value(), std::move(data->users), std::move(data->items)};
    if (Status s = SaveModel(trained, f.out); !s.ok()) return PrintError(s);
  }
  std::string out = f.json ? FormatTuneJson(*tuned) + "\n" : FormatTuneTable(*tuned);
  if (!f.json && !f.out.empty()) out += "wrote " + f.out + "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace

Command RegisterTune(CLI::App& root) {
  CLI::App* app = root.add_subcommand(
      "tune",
      "Choose a model's parameters by cross-validation on the input (grid, random or "
      "successive-halving search) and write the model refitted on all of it (docs/TUNING.md)");
  auto f = std::make_shared<Flags>();
  app->add_option("-m,--model", f->model, "Model to tune (a registered model)")->required();
  app->add_option("--out", f->out,
                  "Model file to write: the chosen parameters fitted on all of the input");
  f->input.Register(app);
  f->tune.Register(app);
  app->add_option("--metrics", f->metrics,
                  "Also report these metrics per trial (comma-separated; default: --metric only)");
  app->add_option("--k", f->k, "K of ranking metrics given without @K")->capture_default_str();
  app->add_option("--min-train", f->min_train,
                  "Per-user inner folds: users who would keep fewer training interactions stay "
                  "in training")
      ->capture_default_str();
  f->relevance_threshold_option =
      app->add_option("--relevance-threshold", f->relevance_threshold,
                      "Ranking metrics: only validation items with a value >= X are relevant");
  app->add_option("--seed", f->seed, "Seed of the inner folds, the random draws and the model")
      ->capture_default_str();
  app->add_flag("--json", f->json, "Print one JSON object instead of a table");
  f->model_params.Register(app);
  return {app, [f] { return Run(*f); }};
}

}  // namespace encore::cli
