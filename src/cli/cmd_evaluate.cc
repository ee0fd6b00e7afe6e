// encore evaluate: split or fold the data, fit a model, print its metrics;
// optionally over a parameter grid and beside the bias baseline. Everything
// beyond flag handling lives in the library (encore/evaluate.h).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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
  std::vector<std::string> test_inputs;  // --test-input: a given test set instead of a split
  std::string test_overlap = "error";    // --test-overlap
};

// --test-input: the training files and the test files, read with the same
// input flags, as one dataset whose folds hold out exactly the test pairs.
Result<Dataset> LoadGivenTrainTest(const EvaluateFlags& f, const InputOptions& input,
                                   const ResolvedInput& resolved, EvaluationProtocol* protocol) {
  ReadReport report;
  ENCORE_ASSIGN_OR_RETURN(InteractionLog train, ReadInputReporting(input, f.input.quiet, &report));
  InputOptions test_input = input;
  test_input.files = f.test_inputs;
  // The test files' rejected rows must not overwrite the training files'.
  if (!test_input.rejects_path.empty()) test_input.rejects_path += ".test";
  ReadReport test_report;
  ENCORE_ASSIGN_OR_RETURN(InteractionLog test,
                          ReadInputReporting(test_input, f.input.quiet, &test_report));
  ENCORE_ASSIGN_OR_RETURN(TestOverlap overlap, ParseTestOverlap(f.test_overlap));
  ENCORE_ASSIGN_OR_RETURN(GivenTrainTest given, CombineTrainTest(std::move(train), std::move(test),
                                                                 resolved.dataset, overlap));
  std::string name;
  for (const std::string& file : f.test_inputs) name += (name.empty() ? "" : ", ") + file;
  if (!f.input.quiet) {
    std::fprintf(stderr,
                 "encore: test set %s: %llu pairs; %llu users and %llu items not in the "
                 "training data; %llu pairs in both (%s)\n",
                 name.c_str(), static_cast<unsigned long long>(given.folds.Count(0)),
                 static_cast<unsigned long long>(given.test_only_users),
                 static_cast<unsigned long long>(given.test_only_items),
                 static_cast<unsigned long long>(given.overlap_pairs), f.test_overlap.c_str());
  }
  protocol->given_folds = std::move(given.folds);
  protocol->given_test_name = name;
  if (given.overlap_pairs > 0) {
    protocol->given_test_name +=
        ", " + std::to_string(given.overlap_pairs) + " pairs also in " + "training " +
        (overlap == TestOverlap::kDropFromTest ? "dropped from the test" : "dropped from training");
  }
  ENCORE_RETURN_IF_ERROR(ValidateProtocol(*protocol));
  return std::move(given.data);
}

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
  EvaluationProtocol& protocol = *resolved_protocol;
  if (!f.test_inputs.empty() && protocol.folds > 0) {
    return PrintError(Status::InvalidArgument(
        "--test-input gives the test set; drop --folds (or drop --test-input to split)"));
  }
  ModelParams params;
  if (Status s = f.model_params.Apply(f.model, &params); !s.ok()) return PrintError(s);
  params.threads = f.input.threads;
  params.seed = protocol.split.seed;
  if (Status s = CreateEvalModel(f.model, params).status(); !s.ok()) return PrintError(s);

  Result<InputOptions> input = f.input.Resolve();
  if (!input.ok()) return PrintError(input.status());
  Result<ResolvedInput> resolved = ResolveInput(*input);
  if (!resolved.ok()) return PrintError(resolved.status());
  const Feedback feedback = resolved->dataset.feedback;

  ReadReport report;
  Result<Dataset> data = f.test_inputs.empty()
                             ? LoadInput(*input, f.input.quiet, &report)
                             : LoadGivenTrainTest(f, *input, *resolved, &protocol);
  if (!data.ok()) return PrintError(data.status());

  EvalOptions options;
  options.threads = f.input.threads;
  options.relevance_threshold = protocol.relevance_threshold;
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
  app->add_option("--test-input", f->test_inputs,
                  "Score on these file(s) instead of a split, read with the same input flags; "
                  "--tune then tunes on --input only (repeatable)");
  app->add_option("--test-overlap", f->test_overlap,
                  "--test-input: a (user, item) pair also in --input is an error, or dropped "
                  "from the test or from training: error | drop-from-test | drop-from-train")
      ->capture_default_str();
  app->add_flag("--json", f->json, "Print one JSON object instead of a table");
  f->tune.RegisterNested(app);
  f->model_params.Register(app);
  return {app, [f] { return Run(*f); }};
}

}  // namespace encore::cli
