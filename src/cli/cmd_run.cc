// encore run / runs / watch / explain-product: declarative pipelines (docs/PIPELINES.md).
// Everything beyond flag handling lives in the library (encore/pipeline.h).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "encore/pipeline.h"
#include "io/text.h"
#ifdef ENCORE_HAVE_MPI
#include "distributed/distributed.h"
#endif

namespace encore::cli {

namespace {

void Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// The working directory for `encore runs`: --workdir, else the one the
// pipeline file names, else the current directory.
Result<std::string> RunsWorkdir(const std::string& workdir, const std::string& pipeline) {
  if (!workdir.empty()) return workdir;
  if (!pipeline.empty()) return PipelineWorkdir(pipeline);
  return std::string(".");
}

}  // namespace

Command RegisterRun(CLI::App& root) {
  CLI::App* app =
      root.add_subcommand("run",
                          "Run a pipeline file: sources, prepare, models, recommendations, outputs "
                          "(docs/PIPELINES.md)");
  struct Flags {
    std::string pipeline, workdir, only;
    bool dry_run = false, explain = false;
    uint32_t keep = 0;
    CLI::Option* keep_option = nullptr;
  };
  auto f = std::make_shared<Flags>();
  app->add_option("pipeline", f->pipeline, "Pipeline file (TOML)")->required();
  app->add_option("--workdir", f->workdir,
                  "Working directory: run history in DIR/runs, relative outputs (default: the "
                  "file's workdir)");
  app->add_option("--only", f->only, "Run only output NAME and the stages it depends on");
  app->add_flag("--dry-run", f->dry_run,
                "Print the plan (stages, inputs, outputs, resolved paths) and exit");
  app->add_flag("--explain", f->explain,
                "Print each output's lineage down to the input files and exit");
  f->keep_option = app->add_option("--keep", f->keep,
                                   "Run directories kept after a successful run (default: the "
                                   "file's keep, else 5; 0 keeps all)");
  auto run = [f](PipelineOptions options) {
    options.workdir = f->workdir;
    options.only = f->only;
    if (f->keep_option->count() > 0) options.keep = f->keep;
    auto pipeline = Pipeline::Load(f->pipeline, options);
    if (!pipeline.ok()) return PrintError(pipeline.status());
    if (f->dry_run || f->explain) {
      if (f->dry_run) Print((*pipeline)->FormatPlan());
      if (f->dry_run && f->explain) Print("\n");
      if (f->explain) Print((*pipeline)->FormatExplain());
      return kExitOk;
    }
    auto result = (*pipeline)->Run();
    if (!result.ok()) return PrintError(result.status());
    Print(FormatRunResult(*result));
    return kExitOk;
  };
  return {app, [run] {
#ifdef ENCORE_HAVE_MPI
            // Under mpirun (docs/SCALING.md): rank 0 runs the pipeline and
            // hands its ials / als / cooccurrence fits to every rank; the
            // other ranks only take part in those fits and write nothing.
            if (distributed::LaunchedByMpi()) {
              distributed::Session session;
              if (session.rank() != 0) {
                // Rank 0 prints the run's error; a worker only exits with it.
                return distributed::ServeFits(session).ok() ? kExitOk : kExitError;
              }
              distributed::FitCoordinator coordinator(session);
              PipelineOptions options;
              options.fitter = &coordinator;
              const int rc = run(options);
              coordinator.Finish(rc == kExitOk ? Status::OK()
                                               : Status::FailedPrecondition(
                                                     "the pipeline failed on rank 0 (exit " +
                                                     std::to_string(rc) + ")"));
              return rc;
            }
#endif
            return run(PipelineOptions{});
          }};
}

Command RegisterExplainProduct(CLI::App& root) {
  CLI::App* app = root.add_subcommand(
      "explain-product",
      "Explain a product's score in a retail pipeline: each feature's value x weight, and the "
      "total the ranker orders products by (docs/PERSONALIZATION.md)");
  struct Flags {
    std::string pipeline, workdir, product, run, as_of;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  app->add_option("--pipeline", f->pipeline, "Pipeline file (TOML) with a [retail] section")
      ->required();
  app->add_option("--product", f->product, "The product id to explain")->required();
  app->add_option("--workdir", f->workdir,
                  "Working directory the pipeline ran in (default: the file's workdir)");
  app->add_option("--run", f->run,
                  "Run whose generated source is read (default: the latest succeeded run)");
  app->add_option("--as-of", f->as_of,
                  "Score as of this time (ISO-8601 or unix seconds; default: [retail] as_of, "
                  "the ranker's)");
  app->add_flag("--json", f->json, "Print one JSON object instead of text");
  return {
      app, [f] {
        PipelineOptions options;
        options.workdir = f->workdir;
        options.progress = Progress::Mode::kQuiet;
        auto pipeline = Pipeline::Load(f->pipeline, options);
        if (!pipeline.ok()) return PrintError(pipeline.status());
        Pipeline::ExplainProductOptions explain;
        explain.run_id = f->run;
        if (!f->as_of.empty()) {
          int64_t t = 0;
          if (!io::ParseTimestamp(f->as_of, TimeUnit::kSeconds, &t)) {
            return PrintError(Status::InvalidArgument(
                "explain-product: --as-of '" + f->as_of +
                "' is not a time; write ISO-8601 such as 2026-06-01T00:00:00Z or unix "
                "seconds"));
          }
          explain.as_of = t;
        }
        auto e = (*pipeline)->ExplainProductScore(f->product, explain);
        if (!e.ok()) return PrintError(e.status());
        Print(f->json ? ProductScoreExplanationJson(*e) + "\n" : FormatProductScoreExplanation(*e));
        return kExitOk;
      }};
}

Command RegisterRuns(CLI::App& root) {
  CLI::App* app = root.add_subcommand("runs", "List a pipeline's runs or show one run's manifest");
  app->require_subcommand(1);
  struct Flags {
    std::string workdir, pipeline, run;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* list = app->add_subcommand("list",
                                       "A table of runs: id, status, start, seconds, "
                                       "outputs");
  CLI::App* show = app->add_subcommand("show", "One run's manifest (the latest by default)");
  for (CLI::App* sub : {list, show}) {
    sub->add_option("--workdir", f->workdir, "The pipeline's working directory (default: .)");
    sub->add_option("--pipeline", f->pipeline,
                    "Find the working directory from this pipeline "
                    "file");
  }
  show->add_option("run", f->run, "Run id (default: the latest)");
  show->add_flag("--json", f->json, "Print the manifest as stored (JSON)");
  return {app, [f, list] {
            auto workdir = RunsWorkdir(f->workdir, f->pipeline);
            if (!workdir.ok()) return PrintError(workdir.status());
            // Several pipeline files may share a workdir: --pipeline shows its own runs.
            std::string name;
            if (!f->pipeline.empty()) {
              auto n = PipelineName(f->pipeline);
              if (!n.ok()) return PrintError(n.status());
              name = *n;
            }
            if (list->parsed()) {
              auto runs = ListRuns(*workdir, name);
              if (!runs.ok()) return PrintError(runs.status());
              Print(FormatRunList(*runs));
              return kExitOk;
            }
            auto manifest = ReadRunManifest(*workdir, f->run, name);
            if (!manifest.ok()) return PrintError(manifest.status());
            if (f->json) {
              Print(*manifest);
              return kExitOk;
            }
            auto text = FormatRunManifest(*manifest);
            if (!text.ok()) return PrintError(text.status());
            Print(*text);
            return kExitOk;
          }};
}

Command RegisterWatch(CLI::App& root) {
  CLI::App* app = root.add_subcommand(
      "watch",
      "Run a pipeline, then again whenever its source files change (complete new or "
      "changed files: the same size for two polls, or a ready marker; dot-files, *.tmp and "
      "*.part are ignored)");
  struct Flags {
    std::string pipeline, workdir, only, ready_marker;
    uint32_t interval_ms = 2000, max_runs = 0;
  };
  auto f = std::make_shared<Flags>();
  app->add_option("pipeline", f->pipeline, "Pipeline file (TOML)")->required();
  app->add_option("--workdir", f->workdir, "Working directory (default: the file's workdir)");
  app->add_option("--only", f->only, "Run only output NAME and the stages it depends on");
  app->add_option("--interval-ms", f->interval_ms, "Milliseconds between polls of the sources")
      ->capture_default_str();
  app->add_option("--max-runs", f->max_runs, "Stop after N runs (0: watch forever)")
      ->capture_default_str();
  app->add_option("--ready-marker", f->ready_marker,
                  "A source file counts only once a file NAME (e.g. _SUCCESS) exists in its "
                  "directory; without it, once its size and mtime held for two polls");
  return {app, [f] {
            if (f->interval_ms == 0) {
              return PrintError(Status::InvalidArgument("--interval-ms must be > 0"));
            }
            PipelineOptions options;
            options.workdir = f->workdir;
            options.only = f->only;
            WatchOptions watch;
            watch.interval_ms = f->interval_ms;
            watch.max_runs = f->max_runs;
            watch.ready_marker = f->ready_marker;
            if (f->ready_marker.find('/') != std::string::npos) {
              return PrintError(Status::InvalidArgument(
                  "--ready-marker takes a file name (e.g. _SUCCESS), not a path: '" +
                  f->ready_marker + "'"));
            }
            Status s = WatchPipeline(f->pipeline, options, watch);
            return s.ok() ? kExitOk : kExitError;
          }};
}

}  // namespace encore::cli
