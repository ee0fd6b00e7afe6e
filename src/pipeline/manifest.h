// Manifest: the record of one pipeline run, WORKDIR/runs/RUNID/manifest.json
// (layout and version: docs/PIPELINES.md#manifest). The runner fills it in
// as stages finish and writes it at the start, after each stage and at the
// end, always to a temporary name then renamed, so a reader (encore runs)
// sees a whole manifest, never a torn one.
//
// Run history: run directories are named by the UTC start time
// (20261124T081500Z, then -2, -3 ... when taken), created with mkdir so two
// runs starting in the same second never share one.
//
// Thread-safety: plain values and reentrant functions.
#ifndef ENCORE_PIPELINE_MANIFEST_H_
#define ENCORE_PIPELINE_MANIFEST_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "encore/status.h"

namespace encore {
class JsonWriter;
}

namespace encore::pipeline {

inline constexpr int kManifestVersion = 1;

using TextPairs = std::vector<std::pair<std::string, std::string>>;
using MetricValues = std::vector<std::pair<std::string, double>>;

struct ManifestInput {
  std::string source;
  std::string path;
  uint64_t bytes = 0;
  std::string sha256;  // lowercase hex
  int64_t mtime = 0;   // unix seconds
  bool generated = false;
  // Catalogs: rows read (written when set). A PostgreSQL catalog has
  // path "postgres:TABLE" or "postgres query: QUERY", bytes and sha256 of
  // the CSV the server sent, and mtime = when it was read.
  std::optional<uint64_t> rows;
};

struct ManifestStage {
  std::string stage;   // Stage::Label()
  std::string status;  // succeeded, failed
  double seconds = 0;
  std::string detail;  // one line on what it did
};

struct ManifestSourceCounts {
  std::string name;
  uint64_t files = 0, bytes_read = 0;
  uint64_t rows_read = 0, rows_accepted = 0, rows_rejected = 0;
  std::vector<std::pair<std::string, uint64_t>> rejected_by_kind;
};

// One preparation step's result; unset fields do not apply to the step.
struct ManifestStep {
  std::string step;
  std::optional<uint64_t> rows, users, items, nnz;
  std::optional<int64_t> since;  // window: the first time kept
};

struct ManifestGridRow {
  TextPairs setting;
  MetricValues mean;
};

struct ManifestModel {
  std::string name, kind;
  TextPairs params;  // every parameter, as trained for recommending
  std::string file;  // model file in the run directory
  uint64_t bytes = 0;
  double fit_seconds = 0;
  std::string trained_on;  // "all data" or "training part"
  // Evaluation (when configured).
  bool evaluated = false;
  std::string protocol;
  MetricValues test;  // the chosen params on the held-out part
  uint64_t test_pairs = 0;
  std::vector<ManifestGridRow> grid;
  size_t best = 0;
  TextPairs chosen;  // the grid setting selected
};

// [retail.segments]: every segment, which model scored it, and (with
// evaluate) its members' metrics under their segment's model and under the
// global model, both trained on the same training part.
struct ManifestSegment {
  std::string name, description;
  uint64_t members = 0;          // members of the event log in the segment
  uint64_t trained_members = 0;  // of them, members with (member, key) pairs
  std::string scored_by;         // "segment" or "global"
  std::string reason;            // why the global model ("" for segment)
  std::string model;             // the model's name in "models"
  uint64_t users_evaluated = 0;  // held-out members of the segment
  MetricValues segment_model, global_model;
};

struct ManifestSegments {
  std::vector<std::string> by;
  std::string protocol;  // "" without evaluation
  std::vector<ManifestSegment> segments;
  uint64_t users_evaluated = 0;
  MetricValues segmented, global;  // every member under the model serving them / the global one
};

struct ManifestOutput {
  std::string name, kind, location;
  std::vector<std::string> files;
  uint64_t rows = 0, bytes = 0;
  std::vector<std::string> lineage_stages;  // the output first, then what it derives from
  std::vector<std::string> lineage_inputs;  // input files it derives from
  // publish: the high-water mark written into the snapshot ("" none) and,
  // when none, why (e.g. "the model was trained on a training part").
  std::string high_water_mark;
  std::string high_water_note;
};

struct Manifest {
  std::string run_id;
  std::string status = "running";  // running, succeeded, failed
  std::string error;
  // The process running it, so a reader can tell a run still going from one
  // that was killed ("interrupted"; see RunStatusNow).
  int64_t pid = 0;
  std::string host;
  std::string pipeline_name, pipeline_path, workdir, run_dir, only;
  uint32_t keep = 0;
  int64_t started = 0, finished = 0;  // unix seconds
  double seconds = 0;
  std::function<void(JsonWriter*)> config;  // the file as written (secrets masked)
  std::vector<std::pair<std::string, std::vector<std::string>>> source_files;
  TextPairs output_locations;
  std::vector<ManifestInput> inputs;
  std::vector<ManifestStage> stages;
  std::vector<ManifestSourceCounts> source_counts;
  std::vector<ManifestStep> steps;
  std::optional<uint64_t> users, items, nnz;  // the prepared dataset
  // Lambda: the position up to which the prepared data holds every event,
  // "time:SECONDS" (its max event time); "" when it cannot say (no time
  // column, a sample), with the reason in high_water_note.
  std::string high_water_mark;
  std::string high_water_note;
  std::vector<ManifestModel> models;
  std::optional<ManifestSegments> segments;
  std::vector<ManifestOutput> outputs;

  std::string ToJson() const;
};

// The status to show for a manifest: "interrupted" when it says "running"
// but its process (on this host) is gone, else `status` as written.
std::string RunStatusNow(const std::string& status, int64_t pid, const std::string& host);

// Writes RUN_DIR/manifest.json by temp file, fsync and rename.
Status WriteManifest(const Manifest& manifest, const std::string& run_dir);

// "20261124T081500Z" for a unix time.
std::string RunIdBase(int64_t unix_seconds);
// Creates WORKDIR/runs/RUNID (and the parents) for a run starting at
// `unix_seconds`; returns the id (with -2, -3 ... when the second is taken).
Result<std::string> CreateRunDir(const std::string& workdir, int64_t unix_seconds);
// The run ids under WORKDIR/runs, oldest first (by time, then suffix).
std::vector<std::string> RunIds(const std::string& workdir);
// Whether `name` is a run id.
bool IsRunId(const std::string& name);
// Removes all but the newest `keep` runs of pipeline `pipeline_name` (never
// `current`); runs whose manifest names another pipeline, or cannot be read,
// are neither counted nor removed. keep = 0 keeps every run. The removed ids
// go to *removed.
Status PurgeRuns(const std::string& workdir, const std::string& pipeline_name, uint32_t keep,
                 const std::string& current, std::vector<std::string>* removed);

// The high-water mark a run's manifest records (`encore publish
// --high-water-mark manifest:PATH`): its "high_water_mark". When `model_file`
// is one of the run's models trained on a training part only, or the
// manifest records no mark, FailedPrecondition saying why; a file that is not
// a manifest: InvalidArgument / IOError naming it.
Result<std::string> HighWaterMarkFromManifest(const std::string& manifest_path,
                                              const std::string& model_file);

// SHA-256 of a file's bytes, lowercase hex; *bytes receives its size.
Result<std::string> Sha256File(const std::string& path, uint64_t* bytes);

}  // namespace encore::pipeline

#endif  // ENCORE_PIPELINE_MANIFEST_H_
