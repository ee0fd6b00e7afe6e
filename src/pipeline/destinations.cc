// Where a pipeline's outputs write, and outputs that would destroy each
// other: properties of a PipelineConfig (declared in config.h), kept apart
// from the loader so the plan and the loader both use them without
// depending on each other.

#include <string>
#include <tuple>
#include <vector>

#include "pipeline/config.h"

namespace encore::pipeline {

std::string StoreUri(const PipelineConfig& config, const OutputConfig& output) {
  const std::string& s = output.store;
  if (s.rfind("redis://", 0) == 0 || s.rfind("memory:", 0) == 0) return s;
  return ResolvePath(config.workdir, s);
}

std::string OutputLocation(const PipelineConfig& config, const OutputConfig& output) {
  switch (output.kind) {
    case OutputKind::kCsv:
    case OutputKind::kJsonl:
    case OutputKind::kRetail:
      return ResolvePath(config.workdir, output.path);
    case OutputKind::kPostgres:
      return "postgres:" + output.table;
    case OutputKind::kPublish:
      return StoreUri(config, output);
  }
  return "";
}

std::vector<std::string> DestinationConflicts(const PipelineConfig& c) {
  // Whether directory `inner` is `outer` or lies below it (both normalised).
  auto within = [](const std::string& inner, const std::string& outer) {
    return inner == outer || (inner.size() > outer.size() && inner.starts_with(outer) &&
                              (outer == "/" || inner[outer.size()] == '/'));
  };
  struct Dir {
    const OutputConfig* output;
    std::string path;
    bool store = false;
  };
  std::vector<Dir> dirs;  // in file order
  std::vector<std::string> errors;
  const std::string runs = c.workdir + "/runs";
  // Each output's directories: (what, path, is a store). A retail output has
  // two: its feeds directory and its store.
  std::vector<std::tuple<const OutputConfig*, std::string, std::string, bool>> targets;
  for (const OutputConfig& o : c.outputs) {
    if ((o.kind == OutputKind::kCsv || o.kind == OutputKind::kJsonl ||
         o.kind == OutputKind::kRetail) &&
        !o.path.empty()) {
      targets.emplace_back(&o, "writes directory ", OutputLocation(c, o), false);
    }
    if ((o.kind == OutputKind::kPublish || o.kind == OutputKind::kRetail) && !o.store.empty() &&
        StoreUri(c, o).starts_with("/")) {
      targets.emplace_back(&o, "publishes to store directory ", StoreUri(c, o), true);
    }
    if (o.kind == OutputKind::kPostgres && !o.table.empty()) {
      targets.emplace_back(&o, "", "", false);
    }
  }
  for (const auto& [op, what, path, is_store] : targets) {
    const OutputConfig& o = *op;
    if (o.kind == OutputKind::kPostgres) {
      for (const OutputConfig& other : c.outputs) {
        if (&other == &o) break;
        if (other.kind == OutputKind::kPostgres && other.table == o.table &&
            other.conninfo == o.conninfo && other.conninfo_env == o.conninfo_env) {
          errors.push_back(o.where + ": [outputs." + o.name + "] writes table " + o.table +
                           ", as [outputs." + other.name +
                           "] does (through the same connection); each output replaces its "
                           "table as a whole, so one would erase the other: give each its own "
                           "table");
        }
      }
      continue;
    }
    const std::string head = o.where + ": [outputs." + o.name + "] " + what + path;
    const bool file_output = !is_store;
    if (file_output && within(runs, path)) {
      errors.push_back(head + ", which holds the run history (" + runs +
                       ") that it would replace as a whole; choose a directory of its own, "
                       "e.g. out/" +
                       o.name);
    } else if (within(path, runs)) {
      errors.push_back(head + ", inside the run history (" + runs +
                       "), which encore manages; choose another directory, e.g. out/" + o.name);
    }
    if (file_output) {
      for (const SourceConfig& s : c.sources) {
        for (const std::string& pattern : s.patterns) {
          if (!within(UnescapeGlob(pattern), path)) continue;
          errors.push_back(head + ", which holds files of [sources." + s.name + "] (" + pattern +
                           ") that it would replace as a whole; choose another directory");
          break;
        }
      }
    }
    for (const Dir& d : dirs) {
      // Two stores in one directory are one store (publishing twice is fine).
      if (!file_output && d.store) continue;
      const std::string other = d.output == &o ? "its " + std::string(d.store ? "store" : "feeds")
                                               : "[outputs." + d.output->name + "]";
      if (path == d.path) {
        errors.push_back(head + ", the same directory as " + other +
                         "; each replaces its directory as a whole, so one would erase the "
                         "other: give each output its own path");
      } else if (within(path, d.path)) {
        errors.push_back(head + ", inside the directory of " + other + " (" + d.path +
                         "), which is replaced as a whole: give each output its own path");
      } else if (within(d.path, path)) {
        errors.push_back(head + ", which holds the directory of " + other + " (" + d.path +
                         ") and is replaced as a whole: give each output its own path");
      }
    }
    dirs.push_back({&o, path, is_store});
  }
  return errors;
}

}  // namespace encore::pipeline
