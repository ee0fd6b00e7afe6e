// Per-model recommended defaults and the Spark preset (issue 17 item 3).
//
// One list (KindDefaultTable, src/model/params.cc) next to the parameter
// table says where each model's parameters start; every front end (CLI
// ModelFlags, pipeline [models.NAME], the Python facade) calls DefaultParams
// and then applies the user's values, so a value the user sets always wins.
//
// Thread-safety: the table is immutable.

#ifndef ENCORE_DEFAULTS_H_
#define ENCORE_DEFAULTS_H_

#include <string>
#include <vector>

#include "encore/params.h"
#include "encore/status.h"

namespace encore {

// Where a model's parameters start, before the user's values.
//   kEncore: each kind's recommended values (KindDefaultTable), chosen by
//            measurement on real data (docs/QUALITY.md, "Defaults"); every
//            parameter without a kind entry keeps its ModelParams{} value.
//   kSpark:  ModelParams{} itself: Spark's MLlib defaults (rank 10,
//            maxIter 10, regParam 0.1, alpha 1) and the shared SGD values,
//            for people who need Spark's numbers.
// CLI `--defaults encore|spark`, pipeline key [models.NAME] defaults, Python
// kwarg defaults=. Library callers building ModelParams by hand get the
// Spark values; call DefaultParams(kind) for the recommended ones.
enum class DefaultsPreset { kEncore, kSpark };

// "encore" or "spark"; anything else is InvalidArgument naming both.
Result<DefaultsPreset> ParseDefaultsPreset(const std::string& text);
const char* DefaultsPresetName(DefaultsPreset preset);

// One recommended value: parameter `param` of model `kind` starts at `value`
// (text, as SetModelParam parses it) under the encore preset.
struct KindDefault {
  const char* kind;
  const char* param;
  const char* value;
};

// The one list of per-kind recommended values (src/model/params.cc).
const std::vector<KindDefault>& KindDefaultTable();

// The starting parameters of `kind` under `preset`: ModelParams{} with the
// kind's KindDefaultTable entries applied (kEncore), or ModelParams{} (kSpark
// and kinds without entries). Front ends call it, then apply the user's values.
ModelParams DefaultParams(const std::string& kind,
                          DefaultsPreset preset = DefaultsPreset::kEncore);

}  // namespace encore

#endif  // ENCORE_DEFAULTS_H_
