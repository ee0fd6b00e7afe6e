// StreamJobFor (pipeline/config.h): the settings `encore stream --pipeline
// FILE` runs with, from [stream], [prepare] and the sources' obfuscation.

#include <algorithm>
#include <set>

#include "encore/reader.h"
#include "pipeline/config.h"

namespace encore::pipeline {

namespace {

// Whether obfuscated column `column` is the source's column of `role`
// ("user" or "item"), chosen by `chosen` (unset: the reader's default).
bool IsRoleColumn(const SourceConfig& s, const std::string& column, const ColumnRef& chosen,
                  const std::string& role) {
  const ColumnRef ref = ColumnRef::Parse(column);
  if (chosen.is_set()) {
    return chosen.name.empty() ? ref.index == chosen.index : ref.name == chosen.name;
  }
  if (ref.index > 0) {
    // A headerless csv/tsv file: user, item in columns 1, 2.
    const bool header = s.read.header.value_or(true);
    return !header && ref.index == (role == "user" ? 1 : 2);
  }
  return DefaultColumnRole(ref.name) == role;
}

}  // namespace

Result<StreamJob> StreamJobFor(const PipelineConfig& c) {
  StreamJob job;
  if (c.stream) {
    job = c.stream->job;
    if (!job.store.empty() && !job.store.starts_with("redis://")) {
      job.store = ResolvePath(c.workdir, job.store);
    }
  }
  job.speed.weights = c.prepare.dataset.weights;
  // The live events' fields obfuscated as the [prepare] sources' columns.
  const SourceConfig* first = nullptr;
  std::vector<std::string> fields;
  for (const std::string& name : c.prepare.sources) {
    const SourceConfig* s = c.FindSource(name);
    if (s == nullptr) continue;
    std::set<std::string> mine;
    for (const std::string& column : s->input.obfuscate) {
      if (IsRoleColumn(*s, column, s->input.user_col, "user")) mine.insert("user");
      if (IsRoleColumn(*s, column, s->input.item_col, "item")) mine.insert("item");
    }
    std::vector<std::string> these(mine.begin(), mine.end());
    if (first == nullptr) {
      first = s;
      fields = these;
      job.obfuscation_key_file = s->input.obfuscation_key_file;
      job.obfuscation_key_env = s->input.obfuscation_key_env;
      continue;
    }
    if (these != fields ||
        (!these.empty() && (s->input.obfuscation_key_file != first->input.obfuscation_key_file ||
                            s->input.obfuscation_key_env != first->input.obfuscation_key_env))) {
      return Status::InvalidArgument(
          "sources '" + first->name + "' and '" + s->name +
          "' obfuscate the user and item ids differently (columns or key), so live events "
          "cannot join both; obfuscate the same id columns with the same key in every "
          "[prepare] source");
    }
  }
  job.obfuscate = fields;
  if (fields.empty()) {
    job.obfuscation_key_file.clear();
    job.obfuscation_key_env.clear();
  }
  return job;
}

}  // namespace encore::pipeline
