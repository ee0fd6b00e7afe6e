// encore evaluate: split or fold the data, fit a model, print its metrics;
// optionally over a parameter grid and beside the bias baseline. Everything
// beyond flag handling lives in the library (encore/evaluate.h).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "cli/model_flags.h"
#include "cli/tune_flags.h"
#include "encore/evaluate.h"
#include "encore/input.h"

namespace encore::cli {

namespace {

struct EvaluateFlags {
  InputFlags input;
  ModelFlags model_params;
  std::string model;
  // The protocol's options, from the evaluation option table (encore/evaluate.h).
  std::map<std::string, std::string> text;
  std::map<std::string, CLI::Option*> options;
  bool baseline = false;
  bool json = false;
  TuneFlags tune;  // --tune: nested evaluation (cli/tune_flags.h)
};

void RegisterProtocolFlags(CLI::App* app, EvaluateFlags* f) {
  for (const EvalOptionInfo& info : EvaluationOptionTable()) {
    if (*info.flag == 0) continue;
    if (info.type == EvalOptionType::kBool) {
      f->options[info.name] = app->add_flag(info.flag, f->baseline, info.help);
      continue;
    }
    std::string help = info.help;
    if (*info.values) {
      std::string values = info.values;
      for (size_t at = 0; (at = values.find(',', at)) != std::string::npos; at += 3) {
        values.replace(at, 1, " | ");
      }
      help += ": " + values;
    }
    if (*info.default_value == 0 && *info.default_doc) {
      help += " (default: " + std::string(info.default_doc) + ")";
    }
    if (info.type == EvalOptionType::kGrid) help += ", e.g. 'factors=10,50,100;reg=0.01,0.1'";
    CLI::Option* option = app->add_option(info.flag, f->text[info.name], help);
    if (*info.default_value) option->default_str(info.default_value);
    if (info.type == EvalOptionType::kCount) option->type_name("UINT");
    f->options[info.name] = option;
  }
}

// The protocol from the flags given, applied in table order.
Result<EvaluationProtocol> ResolveProtocol(const EvaluateFlags& f) {
  EvaluationProtocol protocol;
  for (const EvalOptionInfo& info : EvaluationOptionTable()) {
    auto option = f.options.find(info.name);
    if (option == f.options.end() || option->second->count() == 0) continue;
    const std::string text =
        info.type == EvalOptionType::kBool ? "true" : f.text.at(info.name);
    Status s = info.set(&protocol, text);
    if (!s.ok()) return Status::InvalidArgument(std::string(info.flag) + ": " + s.message());
  }
  ENCORE_RETURN_IF_ERROR(ValidateProtocol(protocol));
  return protocol;
}

int Run(const EvaluateFlags& f) {
  // Everything checkable without the data is checked first.
  Result<EvaluationProtocol> resolved_protocol = ResolveProtocol(f);
  if (!resolved_protocol.ok()) return PrintError(resolved_protocol.status());
  const EvaluationProtocol& protocol = *resolved_protocol;
  ModelParams params;
  if (Status s = f.model_params.Apply(&params); !s.ok()) return PrintError(s);
  params.threads = f.input.threads;
  params.seed = protocol.split.seed;
  if (Status s = CreateEvalModel(f.model, params).status(); !s.ok()) return PrintError(s);

  Result<InputOptions> input = f.input.Resolve();
  if (!input.ok()) return PrintError(input.status());
  Result<ResolvedInput> resolved = ResolveInput(*input);
  if (!resolved.ok()) return PrintError(resolved.status());
  const Feedback feedback = resolved->dataset.feedback;

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
    if (!protocol.grid.empty() || protocol.baseline) {
      return PrintError(
          Status::InvalidArgument("--tune searches its own space; drop --grid and --baseline"));
    }
    Result<FoldAssignment> folds = ProtocolFolds(protocol, *data, f.input.threads);
    if (!folds.ok()) return PrintError(folds.status());
    EvaluationSummary summary;
    summary.model = f.model;
    summary.protocol = DescribeProtocol(protocol);
    return RunNestedEvaluation(f.tune, f.model, params, *data, feedback,
                               SplitMethodName(protocol.split.method), protocol.split.min_train,
                               protocol.split.seed, protocol.k, *folds,
                               ProtocolMetrics(protocol, feedback), options, std::move(summary),
                               f.json);
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
  RegisterProtocolFlags(app, f.get());
  app->add_flag("--json", f->json, "Print one JSON object instead of a table");
  f->tune.RegisterNested(app);
  f->model_params.Register(app);
  return {app, [f] { return Run(*f); }};
}

}  // namespace encore::cli
