// encore watch: run, then re-run whenever the sources' file set changes and
// has settled (see WatchPipeline in encore/pipeline.h).

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "encore/pipeline.h"
#include "pipeline/config.h"
#include "pipeline/watch_files.h"

namespace encore {

namespace {

using FileState = pipeline::WatchedFile;
using FileSet = pipeline::WatchedFiles;

std::string DirOf(const std::string& f) {
  const size_t slash = f.rfind('/');
  return slash == std::string::npos ? "." : f.substr(0, slash);
}

// The files of `now` that were the same one poll ago.
FileSet Settled(const FileSet& previous, const FileSet& now) {
  FileSet out;
  for (const auto& [f, state] : now) {
    auto it = previous.find(f);
    if (it != previous.end() && it->second == state) out.emplace(f, state);
  }
  return out;
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

namespace pipeline {

// The markers are looked for before the files are listed. (Looked for after,
// a marker written between the listing and the look released the directory
// without a file the listing had missed, and that file counted only later,
// in a run of its own: seen once in CI.)
WatchedFiles ListWatchedFiles(const std::vector<std::string>& patterns,
                              const std::string& marker,
                              const std::function<void()>& after_markers) {
  auto is_marker = [&marker](const std::string& f) {
    return f.size() > marker.size() &&
           f.compare(f.size() - marker.size(), marker.size(), marker) == 0 &&
           f[f.size() - marker.size() - 1] == '/';
  };
  std::map<std::string, bool> ready;  // directory -> held the marker before the listing
  if (!marker.empty()) {
    for (const auto& pattern : patterns) {
      Result<std::vector<std::string>> matched = pipeline::ExpandPattern(pattern);
      if (!matched.ok()) continue;
      for (const auto& f : *matched) {
        const std::string dir = DirOf(f);
        if (ready.count(dir) != 0) continue;
        struct stat st {};
        ready.emplace(dir, ::stat((dir + "/" + marker).c_str(), &st) == 0);
      }
    }
  }
  if (after_markers) after_markers();
  WatchedFiles files;
  for (const auto& pattern : patterns) {
    Result<std::vector<std::string>> matched = pipeline::ExpandPattern(pattern);
    if (!matched.ok()) continue;
    for (const auto& f : *matched) {
      if (!marker.empty()) {
        if (is_marker(f)) continue;  // the marker itself
        auto it = ready.find(DirOf(f));
        // A directory that appeared after the markers were looked for
        // waits for the next poll.
        if (it == ready.end() || !it->second) continue;
      }
      struct stat st {};
      if (::stat(f.c_str(), &st) != 0) continue;
      files[f] = {static_cast<uint64_t>(st.st_size),
                  static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
    }
  }
  return files;
}

}  // namespace pipeline

Status WatchPipeline(const std::string& path, const PipelineOptions& options,
                     const WatchOptions& watch) {
  Progress log(options.progress);
  uint32_t runs = 0;
  Status last;
  auto run_once = [&](const PipelineOptions& run_options) {
    ++runs;
    Result<std::unique_ptr<Pipeline>> p = Pipeline::Load(path, run_options);
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

  // The sources' file patterns (under the ready marker, if any), and the
  // pipeline file itself: editing it re-runs too (and a pipeline whose
  // sources are all generated has nothing else to watch).
  auto poll = [&](const std::vector<std::string>& patterns) {
    FileSet files = pipeline::ListWatchedFiles(patterns, watch.ready_marker);
    FileSet self = pipeline::ListWatchedFiles({pipeline::EscapeGlob(path)}, "");
    files.insert(self.begin(), self.end());
    return files;
  };
  auto run_on = [&](const FileSet& settled) {
    PipelineOptions pinned = options;
    pinned.settled_files.emplace();
    for (const auto& [f, state] : settled) {
      pinned.settled_files->emplace(f, std::make_pair(state.size, state.mtime_ns));
    }
    run_once(pinned);
  };
  std::vector<std::string> patterns = SourcePatterns(path).value_or(std::vector<std::string>{});
  // The first run, too, reads only files that stayed the same over one interval.
  FileSet previous = poll(patterns);
  std::this_thread::sleep_for(std::chrono::milliseconds(watch.interval_ms));
  FileSet now = poll(patterns);
  FileSet ran_on = Settled(previous, now);
  previous = now;
  run_on(ran_on);
  const size_t self = ran_on.count(path);
  log.Note("encore: watch: polling every " + std::to_string(watch.interval_ms) + " ms: " +
           (patterns.empty() ? std::string("the pipeline file (its sources read no files)")
                             : std::to_string(patterns.size()) + " source pattern(s) (" +
                                   std::to_string(ran_on.size() - self) +
                                   " settled file(s) now) and the pipeline file") +
           "; a file counts once its size and mtime are the same at two polls" +
           (watch.ready_marker.empty() ? std::string()
                                       : " and its directory holds " + watch.ready_marker));
  while (watch.max_runs == 0 || runs < watch.max_runs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(watch.interval_ms));
    if (auto fresh = SourcePatterns(path)) patterns = std::move(*fresh);
    now = poll(patterns);
    // Run when the settled files (the same sizes and mtimes as one poll ago:
    // a file being written keeps changing) differ from the last run's, and
    // no file the last run read is being rewritten (new files still being
    // written are simply left for a later run).
    FileSet settled = Settled(previous, now);
    bool rewriting = false;
    for (const auto& [f, state] : ran_on) {
      if (now.count(f) != 0 && settled.count(f) == 0) rewriting = true;
    }
    previous = std::move(now);
    if (settled != ran_on && !rewriting) {
      log.Note("encore: watch: sources changed (" + Describe(ran_on, settled) + "); running");
      ran_on = std::move(settled);
      run_on(ran_on);
    }
  }
  return last;
}

}  // namespace encore
