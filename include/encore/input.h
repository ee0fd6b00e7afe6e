// Input loading: files -> InteractionLog -> Dataset, with every reading and
// weighting option (presets, columns, weights, transform, feedback,
// duplicates, obfuscation, bad-row handling) declared once.
//
// The option table (InputOptionTable()) is the single source of truth, as
// the model parameter table is (encore/params.h): the CLI registers its
// input flags from it (src/cli/input_flags.cc), the pipeline loader declares
// and parses its [sources.NAME] and [prepare] keys from it
// (src/pipeline/config_keys.cc, config.cc), `encore options` prints it and
// the option sections of docs/CLI.md and docs/PIPELINES.md are generated
// from it; a test (tests/options_test.cc) checks that all of them agree on
// every name and default.
//
// Every value is parsed by SetInputOption, whichever front end gave it, and
// every derived default (feedback from the format, accepted events from the
// weights) is decided by ResolveInput, so a default cannot differ between
// the CLI and a pipeline.
//
// Thread-safety: plain values; the table is immutable.

#ifndef ENCORE_INPUT_H_
#define ENCORE_INPUT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "encore/dataset.h"
#include "encore/obfuscate.h"
#include "encore/progress.h"
#include "encore/reader.h"
#include "encore/status.h"

namespace encore {

// Every input option, typed. Default-constructed: the documented defaults.
struct InputOptions {
  std::vector<std::string> files;  // read in order (the CLI's --input)

  // How a file is read (ReadOptions). In a pipeline: per source.
  InputFormat format = InputFormat::kCsv;
  std::optional<char> separator;  // unset: from the format
  std::optional<bool> header;     // unset: from the format
  ColumnRef user_col, item_col, value_col, event_col, time_col;
  TimeUnit time_unit = TimeUnit::kAuto;
  // Other named columns kept as attributes: unset keeps all, empty keeps none.
  std::optional<std::vector<std::string>> attributes;
  // Event types accepted; empty: the names of `weights`, else every type.
  std::vector<std::string> events;
  uint64_t max_bad_rows = 0;
  float missing_value = 0.0f;          // format matrix: the cell value meaning "no interaction"
  std::string rejects_path;            // empty: rejected records are not written
  std::vector<std::string> obfuscate;  // columns replaced by a keyed hash
  std::string obfuscation_key_file;    // empty: the key is in the environment
  std::string obfuscation_key_env;     // empty: Obfuscator::kKeyEnvVar

  // How the log becomes a matrix (DatasetOptions). In a pipeline: [prepare].
  std::optional<Feedback> feedback;  // unset: DefaultFeedback(format)
  ExplicitDuplicates duplicates = ExplicitDuplicates::kLatest;
  std::map<std::string, float> weights;
  ValueTransform transform = ValueTransform::kNone;

  int threads = 0;  // 0 = all cores
};

// explicit for the rating presets (movielens, ml-latest), implicit otherwise.
Feedback DefaultFeedback(InputFormat format);

// Where an option is set from.
enum class InputOptionScope {
  kRead,     // how a file is read: CLI flag, [sources.NAME] key
  kDataset,  // how the log becomes a matrix: CLI flag, [prepare] key
};

enum class InputOptionType {
  kEnum,     // one of `values`
  kString,   // free text
  kBool,     // true / false
  kCount,    // an integer >= 0
  kColumn,   // a header name or a 1-based column number
  kList,     // names, comma-separated on the command line, an array in TOML
  kWeights,  // name=number pairs ("view=3,cart=10"; a table in TOML)
};
const char* InputOptionTypeName(InputOptionType type);

// One row of the option table.
struct InputOptionInfo {
  const char* name;  // "time_unit"
  InputOptionScope scope;
  InputOptionType type;
  const char* flag;           // "--time-unit"; "" = not a CLI flag
  const char* pipeline_key;   // "time_unit" in [sources.NAME] or [prepare]; "" = none
  const char* default_value;  // the literal default ("auto"); "" when derived or none
  const char* default_doc;    // what the default is when derived ("from the format"), or ""
  const char* values;         // kEnum: "auto,s,ms"; else ""
  const char* help;           // one line, plain text
  std::function<Status(InputOptions*, const std::string&)> set;  // parses and stores
};

const std::vector<InputOptionInfo>& InputOptionTable();
// The row named `name`, or nullptr.
const InputOptionInfo* FindInputOption(const std::string& name);
// The default as documented: default_value, else default_doc.
std::string InputOptionDefault(const InputOptionInfo& info);

// Sets option `name` from text: "csv", "3" (a column number), "email,street"
// (a list), "view=3,cart=10" (weights), "true". Unknown names and bad values
// are InvalidArgument saying what is accepted.
Status SetInputOption(InputOptions* options, const std::string& name, const std::string& text);

// The event types a reader accepts: `events` when given, else the names of
// `weights` (rows of other types are rejected), else every type (empty).
std::vector<std::string> AcceptedEvents(const std::vector<std::string>& events,
                                        const std::map<std::string, float>& weights);

// The options resolved into what the reader and BuildDataset take.
struct ResolvedInput {
  ReadOptions read;  // read.obfuscator is not set: see LoadObfuscator
  DatasetOptions dataset;
};
// Applies the derived defaults (feedback from the format, events from the
// weights) and checks combinations: weights or a transform with explicit
// feedback are InvalidArgument.
Result<ResolvedInput> ResolveInput(const InputOptions& options);

// The obfuscation key: from obfuscation_key_file when set, else from the
// environment variable obfuscation_key_env (default $ENCORE_OBFUSCATION_KEY).
// Errors name the file or variable and how to fix it.
Result<Obfuscator> LoadObfuscator(const InputOptions& options);

// Reads options.files into one log (resolving the options and loading the
// obfuscation key first). `report` is filled even on failure; `progress` may
// be null. REQUIRES: report != nullptr.
Result<InteractionLog> ReadInput(const InputOptions& options, ReadReport* report,
                                 Progress* progress = nullptr);

// ReadInput, then BuildDataset with the resolved dataset options. `report` is filled even on
// failure; `progress` may be null.
// REQUIRES: report != nullptr.
Result<Dataset> LoadInput(const InputOptions& options, ReadReport* report,
                          Progress* progress = nullptr);

// The option reference: one Markdown table (option, CLI flag, pipeline key,
// default, values, meaning), for docs/CLI.md and `encore options --markdown`.
std::string InputOptionsMarkdown();

}  // namespace encore

#endif  // ENCORE_INPUT_H_
