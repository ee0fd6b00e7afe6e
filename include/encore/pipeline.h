// Pipelines: a whole batch job - read, prepare, evaluate, train, recommend,
// write, publish - declared in one TOML file (docs/PIPELINES.md) and run as
// a graph of stages:
//
//   source(s) ──▶ prepare ──▶ model(s) ──▶ recommend lists ──▶ outputs
//                                   └──────────────────────────▶ publish
//
// Every run gets a directory WORKDIR/runs/RUNID/ (RUNID = the UTC start time,
// "20261124T081500Z", with "-2", "-3" when taken) holding its manifest.json
// (docs/PIPELINES.md#manifest: configuration, inputs with SHA-256, stage
// timings, row counts, metrics, outputs and their lineage), written when the
// run starts and again when it ends, each time by temp file + rename, and the
// run's own files (generated data, model files). Outputs are all-or-nothing
// (src/pipeline/output.h): a run that dies leaves its manifest saying
// "running" and no output directory without its _SUCCESS marker.
//
// Thread-safety: a Pipeline is used from one thread; stages use threads
// internally (OpenMP).
#ifndef ENCORE_PIPELINE_H_
#define ENCORE_PIPELINE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "encore/product_score.h"
#include "encore/progress.h"
#include "encore/status.h"

namespace encore {

class ModelFitter;  // encore/workflow.h

struct PipelineOptions {
  // Replaces the file's workdir (a relative path resolves against the
  // current directory). Empty: the file's.
  std::string workdir;
  // When not empty, only output `only` and the stages it depends on run.
  std::string only;
  // Replaces the file's `keep` (run directories kept after a success).
  std::optional<uint32_t> keep;
  // Stage lines and read progress on stderr.
  Progress::Mode progress = Progress::Mode::kAuto;
  // Set by `encore watch`: the source files it saw settle, path -> (size,
  // mtime in ns). A file a source pattern matches that is not here is not
  // read (it appeared after the settled poll, or lacks its ready marker);
  // a file whose size or mtime differs before or after it is read fails the
  // run (it is still being written; watch runs again once it settles).
  std::optional<std::map<std::string, std::pair<uint64_t, int64_t>>> settled_files;
  // Set by `encore run` under mpirun (docs/SCALING.md): the models whose kind
  // it distributes (ials, als, cooccurrence) are fitted through it, over
  // every rank; other kinds, evaluation folds and segment models fit in this
  // process (said once on stderr). Not owned; null: every fit is local.
  ModelFitter* fitter = nullptr;
};

struct PipelineOutputResult {
  std::string name;
  std::string kind;      // csv, jsonl, postgres, publish
  std::string location;  // directory, postgres:TABLE, or the store
  std::vector<std::string> files;
  uint64_t rows = 0;  // rows written (publish: user payloads)
  uint64_t bytes = 0;
};

struct PipelineRunResult {
  std::string run_id;
  std::string run_dir;
  double seconds = 0;
  std::vector<PipelineOutputResult> outputs;
};

// A product's score, term by term (Pipeline::ExplainProductScore).
struct ProductScoreExplanation {
  std::string product;
  std::string key;               // the product's roll-up key ([retail] key)
  int64_t as_of = 0;             // unix seconds
  std::string run_id;            // the run whose generated files were read ("" for file sources)
  std::vector<ScoreTerm> terms;  // in ProductFeatures() order
  double score = 0;              // sum of terms[].contribution
};
// Text: one "feature raw normalised weight contribution" line per term and
// the total; JSON: {"product","key","as_of","run","score","terms":[...]}.
std::string FormatProductScoreExplanation(const ProductScoreExplanation& e);
std::string ProductScoreExplanationJson(const ProductScoreExplanation& e);

class Pipeline {
 public:
  // Reads and checks a pipeline file: every problem is reported at once, as
  // FILE:LINE:COLUMN lines (InvalidArgument); an unknown `only` names the outputs.
  static Result<std::unique_ptr<Pipeline>> Load(const std::string& path,
                                                const PipelineOptions& options);
  ~Pipeline();

  const std::string& name() const;
  // Absolute working directory (after options.workdir).
  const std::string& workdir() const;

  // The stages in order, with their inputs, outputs and resolved paths
  // (`encore run --dry-run`). Touches nothing.
  std::string FormatPlan() const;
  // Each output's lineage as a tree down to the input files and their sizes
  // (`encore run --explain`). Reads file sizes only.
  std::string FormatExplain() const;

  // Runs the plan. On failure the manifest records the error and the
  // returned Status names the run.
  Result<PipelineRunResult> Run() const;

  // Explains the product score of `product` ([retail.product_score];
  // docs/PERSONALIZATION.md, "Explaining a product's score"): every feature's
  // raw and normalised value, its weight and their product, and the total,
  // which is the score the retail ranker orders products by. The catalog and
  // events are read as a run reads them: a generated source from the run
  // directory of `options.run_id` (default: the latest succeeded run of this
  // pipeline), a file source from the files its patterns match now.
  // NotFound: no [retail] section's product (named with a few known ids), or
  // no run holding a generated source's files; FailedPrecondition: no [retail].
  struct ExplainProductOptions {
    std::string run_id;            // empty: the latest succeeded run
    std::optional<int64_t> as_of;  // unix seconds; empty: [retail] as_of
  };
  Result<ProductScoreExplanation> ExplainProductScore(const std::string& product,
                                                      const ExplainProductOptions& options) const;

 private:
  struct Impl;
  explicit Pipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One line per output and the run id, for stdout.
std::string FormatRunResult(const PipelineRunResult& result);

// ------------------------------------------------------------ run history

struct RunRecord {
  std::string id;
  std::string pipeline;  // the pipeline's name ("" when the manifest is unreadable)
  std::string status;    // running, succeeded, failed
  std::string started;   // ISO-8601 UTC
  double seconds = 0;    // 0 while running
  std::vector<std::string> outputs;
  std::string error;
};

// The runs under WORKDIR/runs, oldest first. Directories without a readable
// manifest are listed with status "unknown". With `pipeline_name`, runs whose
// manifest names another pipeline are left out (several pipeline files may
// share a workdir).
Result<std::vector<RunRecord>> ListRuns(const std::string& workdir,
                                        const std::string& pipeline_name = "");
// A table: run id, status, started, seconds, outputs.
std::string FormatRunList(const std::vector<RunRecord>& runs);
// The manifest text of run `id` (with `pipeline_name`, the latest run of that
// pipeline when `id` is empty; else the latest run). NotFound lists the runs.
Result<std::string> ReadRunManifest(const std::string& workdir, const std::string& id,
                                    const std::string& pipeline_name = "");
// A readable summary of a manifest.
Result<std::string> FormatRunManifest(const std::string& manifest_json);
// The working directory a pipeline file names (without checking the rest).
Result<std::string> PipelineWorkdir(const std::string& pipeline_path);
// The `name` a pipeline file declares (without checking the rest).
Result<std::string> PipelineName(const std::string& pipeline_path);

// ------------------------------------------------------------------ watch

struct WatchOptions {
  uint32_t interval_ms = 2000;  // between polls of the sources
  uint32_t max_runs = 0;        // stop after this many runs (0: never)
  // When not empty, a source file counts only once a file of this name
  // (e.g. "_SUCCESS") exists in its directory; the marker itself is never
  // read as data.
  std::string ready_marker;
};

// Polls the pipeline's sources (re-expanding globs) every interval. A file
// is settled when its size and mtime are the same at two polls in a row
// (and, with a ready marker, its directory holds the marker); dot-files,
// *.tmp and *.part are never considered. The first run waits one interval
// and reads the files settled by then; later runs start when the settled
// set (plus the pipeline file, re-read before each run) differs from the
// last run's. Each run reads exactly its settled files
// (PipelineOptions::settled_files): a file that appeared or kept growing is
// left for a later run. A failing run is reported and watching continues.
// Returns after max_runs runs: OK when the last run succeeded.
Status WatchPipeline(const std::string& path, const PipelineOptions& options,
                     const WatchOptions& watch);

}  // namespace encore

#endif  // ENCORE_PIPELINE_H_
