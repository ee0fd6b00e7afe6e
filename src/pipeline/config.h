// PipelineConfig: a pipeline file (TOML) parsed, checked and resolved.
//
// Every key a pipeline file may hold is declared once, in the key table
// (PipelineKeys(), src/pipeline/config_keys.cc), LightGBM-style: the loader
// checks names, types and required keys against it, and docs/PIPELINES.md
// is generated from it (a test keeps the two equal). What the keys mean
// beyond that (enum values, references between sections, model parameters,
// sizes, durations, files) is checked in config.cc.
//
// Every problem is reported as "FILE:LINE:COLUMN: what; hint", and all the
// problems of a file are reported together in one InvalidArgument status.
//
// Relative paths: sources, key files and id lists resolve against the
// pipeline file's directory; output directories and stores against the
// working directory (resolved when the plan is made, since --workdir may
// override it).
//
// Thread-safety: plain values.
#ifndef ENCORE_PIPELINE_CONFIG_H_
#define ENCORE_PIPELINE_CONFIG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "encore/catalog.h"
#include "encore/dataset.h"
#include "encore/evaluate.h"
#include "encore/generate.h"
#include "encore/input.h"
#include "encore/member_features.h"
#include "encore/params.h"
#include "encore/product_score.h"
#include "encore/publish.h"
#include "encore/reader.h"
#include "encore/retail.h"
#include "encore/retail_feeds.h"
#include "encore/status.h"
#include "encore/stream.h"
#include "encore/workflow.h"
#include "pipeline/output.h"

namespace encore {
class JsonWriter;
}

namespace encore::pipeline {

// ------------------------------------------------------------ key table

enum class KeyType {
  kString,
  kInteger,
  kNumber,  // integer or float
  kBoolean,
  kStringList,    // array of strings
  kStringOrList,  // a string or an array of strings
  kColumn,        // a header name (string) or a 1-based column number
  kSize,          // bytes (integer) or "1MB", "512 KB", "2GB"
  kSection,       // a table whose keys are in the key table under its own section
  kNamedTables,   // a table of named sections ([models.NAME])
  kNumberTable,   // a table of free names to numbers (weights)
  kStringTable,   // a table of free names to strings (derived, types)
  kParamTable,    // model parameter names to values (`encore params`)
  kGridTable,     // model parameter names to arrays of values
};
const char* KeyTypeName(KeyType type);

struct ConfigKey {
  const char* section;  // "", "sources.*", "sources.*.generate", "prepare", ...
  const char* name;
  KeyType type;
  bool required;         // within the kinds it applies to
  const char* fallback;  // the default, as documented ("" = none)
  const char* kinds;     // outputs: the kinds it applies to ("csv,jsonl"); "" = all
  const char* help;
};

// Every key, grouped by section in documentation order.
const std::vector<ConfigKey>& PipelineKeys();
// The key reference of docs/PIPELINES.md (Markdown tables, one per section).
std::string PipelineKeysMarkdown();
// The closest of `candidates` to `word` when it is close enough to be a
// likely typo; empty otherwise.
std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates);

// ------------------------------------------------------------- sections

struct SourceConfig {
  std::string name;
  std::string where;                        // FILE:LINE:COLUMN of its table
  std::vector<std::string> patterns;        // files, globs, dirs; absolute (ResolvePattern)
  std::optional<GenerateOptions> generate;  // instead of patterns; out_dir set per run
  std::string generated_file;               // the profile's main file name ("events.csv")
  InputOptions input;  // its reading options as given (obfuscation_key_file absolute)
  ReadOptions read;    // resolved (ResolveInput); obfuscator is set when the source is read
};

struct WindowSpec {
  enum class Unit { kDays, kWeeks, kMonths };
  int64_t amount = 0;
  Unit unit = Unit::kDays;
  std::string text;  // as written
};

struct PrepareConfig {
  std::vector<std::string> sources;  // names, in order (default: every source)
  InputOptions input;                // its dataset options as given (format: the first source's)
  DatasetOptions dataset;            // resolved (ResolveInput)
  bool feedback_chosen = false;      // `feedback` set in the file (else a default)
  std::string weights_text;          // "click=1,purchase=3", for plans
  uint32_t min_user_interactions = 0;
  uint32_t min_item_interactions = 0;
  std::optional<WindowSpec> window;
  std::optional<double> sample_fraction;
  uint64_t sample_seed = 42;
};

// [models.NAME.evaluate]: the evaluation protocol (encore/evaluate.h) with
// test_on_holdout set - the grid and folds run on the training part of the
// holdout split - and the metrics resolved at load (ProtocolMetrics).
struct EvaluateConfig : EvaluationProtocol {
  EvaluateConfig() { test_on_holdout = true; }
  bool refit = true;
};

struct ModelConfig {
  std::string name;
  std::string where;
  std::string kind;
  ModelParams params;
  std::vector<std::pair<std::string, std::string>> given;  // params as written
  std::optional<EvaluateConfig> evaluate;
};

struct RecommendConfig {
  std::string name;
  std::string where;
  std::string model;
  RecommendKind kind = RecommendKind::kUsers;
  uint32_t n = 0;  // 0: the model's default list length
  bool exclude_seen = true;
  std::string users_file;  // absolute; empty = every user / item
};

// [retail]: the retail chain (docs/PERSONALIZATION.md). The retail stage
// reads the catalog, rolls the source's events up to `key`, trains `model`
// on the keys, scores products and builds the rules and feeds; a `retail`
// output writes the six feeds and publishes the payloads.
// [retail.segments]: one model per member segment (docs/PERSONALIZATION.md).
struct SegmentsConfig {
  std::string where;
  SegmentSpec spec;
  MemberFeatureOptions features;  // as_of, weights and primary levels filled from [retail]
  std::string members_path;       // absolute; empty: no members file
  std::string member_col = "member";
  uint64_t min_members = 200;   // smaller segments are served by the global model
  uint64_t size_threshold = 0;  // 0: no size-dependent parameters
  // Segments trained at once (0: as many as the model has threads) and the
  // memory their training may take together (MiB; 0: half of the memory
  // available when the stage starts); the model's threads are split
  // between the segments training at once.
  uint32_t parallel = 0;
  uint64_t memory_mb = 0;
  // Parameters as (name, text), applied over the model's: first by size
  // (members >= size_threshold: params_above, else params_below), then the
  // segment's own override.
  std::vector<std::pair<std::string, std::string>> params_above, params_below;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> overrides;
  bool evaluate = true;
  double holdout = 0.2;
};

struct RetailConfig {
  std::string where;
  std::string source;
  std::string model;
  std::string catalog_path;  // absolute; empty: the generated source's catalog.csv
  // Or a PostgreSQL table / query (one of them set; then catalog_path is
  // empty) and the connection: conninfo, or the environment variable
  // holding it (read when the stage runs).
  std::string catalog_table, catalog_query, catalog_conninfo, catalog_conninfo_env;
  bool catalog_from_postgres() const { return !catalog_table.empty() || !catalog_query.empty(); }
  CatalogOptions catalog;
  std::string key = "subclass_brand";
  std::map<std::string, float> weights = DefaultRetailWeights();
  std::string as_of_text;
  RetailRules rules;  // as_of, boost, diversity, availability, expansion
  ProductScoreOptions product_score;
  FeedRules feeds;
  std::optional<SegmentsConfig> segments;
};

// [stream]: what `encore stream --pipeline FILE` runs (docs/STREAMING.md).
// The job's weights are [prepare]'s and its obfuscation the sources' (see
// StreamJobFor); the store is as written (resolved by StreamJobFor).
struct StreamConfig {
  std::string where;
  StreamJob job;
  std::string history = "snapshot+live";
  std::string sync = "disk";
};

enum class OutputKind { kCsv, kJsonl, kPostgres, kPublish, kRetail };
const char* OutputKindName(OutputKind kind);

struct OutputConfig {
  std::string name;
  std::string where;
  OutputKind kind = OutputKind::kCsv;
  std::string from;   // a recommend name (csv, jsonl, postgres)
  std::string model;  // a model name (publish)
  // csv / jsonl
  std::string path;  // as written; resolved against the workdir
  std::string prefix;
  uint64_t chunk_bytes = 0;
  char delimiter = ',';
  bool header = true;
  // csv / jsonl / postgres
  std::vector<DerivedColumn> derived;
  std::vector<std::string> columns;  // final order (base columns + derived by default)
  // postgres
  std::string table;
  std::string conninfo;
  std::string conninfo_env;
  std::map<std::string, std::string> types;
  // publish
  std::string store;  // as written; a directory resolves against the workdir
  PublishOptions publish;
  // The Lambda high-water mark written into the snapshot
  // (docs/STREAMING.md#lambda-the-high-water-mark): "auto" (the default: the
  // max event time of the prepared data, "time:SECONDS", when it has a time
  // column, no sample and the model was trained on all of it; else none),
  // "none", or an explicit "time:SECONDS" / "id:MS-SEQ".
  std::string high_water_mark = "auto";
};

struct PipelineConfig {
  std::string file;  // the path as given (error messages)
  std::string dir;   // absolute directory of the file
  std::string name;
  std::string workdir;  // absolute
  uint32_t keep = 5;
  std::vector<SourceConfig> sources;
  PrepareConfig prepare;
  std::vector<ModelConfig> models;
  std::vector<RecommendConfig> recommends;
  std::vector<OutputConfig> outputs;
  std::optional<RetailConfig> retail;
  std::optional<StreamConfig> stream;
  // Writes the file's content as one JSON value (conninfo masked), for manifests.
  std::function<void(JsonWriter*)> write_json;

  const SourceConfig* FindSource(const std::string& name) const;
  const ModelConfig* FindModel(const std::string& name) const;
  const RecommendConfig* FindRecommend(const std::string& name) const;
  const OutputConfig* FindOutput(const std::string& name) const;
};

// Reads, checks and resolves a pipeline file. All problems are reported
// together (InvalidArgument, one "FILE:LINE:COLUMN: ..." line each); a
// missing or unreadable file is NotFound / IOError. A non-empty `workdir`
// (--workdir; relative to the current directory) replaces the file's, and
// the outputs are resolved and checked against it.
Result<PipelineConfig> LoadPipelineConfig(const std::string& path, const std::string& workdir = "");

// Only the working directory of a pipeline file (for `encore runs`), without
// checking the rest, so a pipeline whose sources are gone still finds its runs.
Result<std::string> LoadPipelineWorkdir(const std::string& path);
// Only the `name` of a pipeline file, likewise.
Result<std::string> LoadPipelineName(const std::string& path);

// What `encore stream --pipeline FILE` runs: the [stream] section's settings
// (defaults without one; a directory store resolved against the workdir),
// the [prepare] weights, and the obfuscation of the [prepare] sources mapped
// onto the live events' fields: an obfuscated column that is a source's
// user (item) column - its user_col (item_col), or when that is not set a
// well-known user (item) header name, or column 1 (2) of a headerless file -
// obfuscates the events' `user` (`item`) field with the source's key. The
// sources must agree (InvalidArgument naming them otherwise).
Result<StreamJob> StreamJobFor(const PipelineConfig& config);

// ---------------------------------------------------------- destinations
// (destinations.cc)

// Where an output ends up: a directory, "postgres:TABLE", or a store URI
// (directories resolved against the workdir).
std::string OutputLocation(const PipelineConfig& config, const OutputConfig& output);
// Where a publish output's store is (a directory resolved against the workdir).
std::string StoreUri(const PipelineConfig& config, const OutputConfig& output);

// Outputs that would destroy each other or the pipeline's own files, since a
// file output replaces its directory as a whole: two file outputs (or a file
// output and an LMDB store) whose directories are the same or nested, a file
// output holding the run history or a source's files, two PostgreSQL outputs
// into one table through one connection. One "FILE:LINE:COLUMN: message"
// line each, at the later output. Directories resolve against the workdir.
std::vector<std::string> DestinationConflicts(const PipelineConfig& config);

// ----------------------------------------------------------- utilities

// "1MB" -> 1048576. Units B, KB, MB, GB (binary: 1 KB = 1024 bytes; KiB,
// MiB, GiB are accepted too), case-insensitive, optional space.
Result<uint64_t> ParseSize(const std::string& text);
// "9 months", "2 weeks", "30 days" (singular accepted).
Result<WindowSpec> ParseWindow(const std::string& text);

// Absolute, lexically normalised `path` relative to `base` (unless absolute).
std::string ResolvePath(const std::string& base, const std::string& path);

// A source path as written, made absolute against `base` (the pipeline
// file's directory) with the glob characters of `base` escaped, so that only
// the written part acts as a glob: a file beside "exports [2024]/p.toml" is
// still found.
std::string ResolvePattern(const std::string& base, const std::string& pattern);
// `text` with *, ?, [ and \ escaped by a backslash; UnescapeGlob undoes it
// (the literal path of a pattern without glob characters).
std::string EscapeGlob(const std::string& text);
std::string UnescapeGlob(const std::string& pattern);

// The files a source pattern names now: a file as is, a directory's files,
// or a glob's matches, sorted; dot-files, *.tmp and *.part are skipped in
// directories and glob matches. A backslash escapes *, ?, [ and itself.
// NotFound when it names nothing.
Result<std::vector<std::string>> ExpandPattern(const std::string& pattern);
// Whether a file name looks like a write in progress or a hidden file.
bool IsIgnoredFileName(const std::string& name);

}  // namespace encore::pipeline

#endif  // ENCORE_PIPELINE_CONFIG_H_
