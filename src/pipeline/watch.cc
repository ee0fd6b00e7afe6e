// encore watch: run, then re-run whenever the sources' file set changes and
// has settled (see WatchPipeline in encore/pipeline.h).

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "encore/pipeline.h"
#include "pipeline/config.h"

namespace encore {

namespace {

struct FileState {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileState&) const = default;
};
using FileSet = std::map<std::string, FileState>;

// The files the patterns name now; a pattern naming nothing adds nothing.
FileSet CurrentFiles(const std::vector<std::string>& patterns) {
  FileSet files;
  for (const auto& pattern : patterns) {
    Result<std::vector<std::string>> matched = pipeline::ExpandPattern(pattern);
    if (!matched.ok()) continue;
    for (const auto& f : *matched) {
      struct stat st {};
      if (::stat(f.c_str(), &st) != 0) continue;
      files[f] = {static_cast<uint64_t>(st.st_size),
                  static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
    }
  }
  return files;
}

// Every source pattern of the pipeline file, or nullopt when it does not load.
std::optional<std::vector<std::string>> SourcePatterns(const std::string& path) {
  Result<pipeline::PipelineConfig> c = pipeline::LoadPipelineConfig(path);
  if (!c.ok()) return std::nullopt;
  std::vector<std::string> patterns;
  for (const auto& s : c->sources) {
    patterns.insert(patterns.end(), s.patterns.begin(), s.patterns.end());
  }
  return patterns;
}

std::string Describe(const FileSet& before, const FileSet& after) {
  std::vector<std::string> parts;
  for (const auto& [f, state] : after) {
    auto it = before.find(f);
    if (it == before.end()) {
      parts.push_back("new " + f);
    } else if (!(it->second == state)) {
      parts.push_back("changed " + f);
    }
  }
  for (const auto& [f, state] : before) {
    if (after.find(f) == after.end()) parts.push_back("gone " + f);
  }
  std::string out;
  for (size_t i = 0; i < parts.size() && i < 5; ++i) out += (i ? ", " : "") + parts[i];
  if (parts.size() > 5) out += ", ...";
  return out;
}

}  // namespace

Status WatchPipeline(const std::string& path, const PipelineOptions& options,
                     const WatchOptions& watch) {
  Progress log(options.progress);
  uint32_t runs = 0;
  Status last;
  auto run_once = [&] {
    ++runs;
    Result<std::unique_ptr<Pipeline>> p = Pipeline::Load(path, options);
    Result<PipelineRunResult> r = p.ok() ? (*p)->Run() : Result<PipelineRunResult>(p.status());
    if (!r.ok()) {
      last = r.status();
      std::fprintf(stderr, "encore: error: %s\n", r.status().message().c_str());
      std::fprintf(stderr, "encore: watch: run %u failed; still watching\n", runs);
      std::fflush(stderr);
      return;
    }
    last = Status::OK();
    std::string text = FormatRunResult(*r);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };

  // The sources' file patterns, and the pipeline file itself: editing it
  // re-runs too (and a pipeline whose sources are all generated has nothing
  // else to watch).
  auto watched = [&path](std::vector<std::string> p) {
    p.push_back(path);
    return p;
  };
  std::vector<std::string> patterns = SourcePatterns(path).value_or(std::vector<std::string>{});
  FileSet ran_on = CurrentFiles(watched(patterns));
  run_once();
  FileSet previous = ran_on;
  log.Note("encore: watch: polling every " + std::to_string(watch.interval_ms) + " ms: " +
           (patterns.empty() ? std::string("the pipeline file (its sources read no files)")
                             : std::to_string(patterns.size()) + " source pattern(s) (" +
                                   std::to_string(ran_on.size() - ran_on.count(path)) +
                                   " file(s) now) and the pipeline file"));
  while (watch.max_runs == 0 || runs < watch.max_runs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(watch.interval_ms));
    if (auto fresh = SourcePatterns(path)) patterns = std::move(*fresh);
    FileSet now = CurrentFiles(watched(patterns));
    // Run when the set differs from the last run's and has settled: the same
    // sizes and mtimes as one poll ago (a file being written keeps changing).
    if (now != ran_on && now == previous) {
      log.Note("encore: watch: sources changed (" + Describe(ran_on, now) + "); running");
      ran_on = now;
      run_once();
    }
    previous = std::move(now);
  }
  return last;
}

}  // namespace encore
