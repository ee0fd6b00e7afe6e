// encore generate: writes seeded synthetic data (include/encore/generate.h).
//
//   encore generate --profile ratings|plays|retail|baskets|fashion --users N --items N
//                   --rows N --seed S --out DIR [--clusters K] [--threads T] [--quiet]
//
// Prints one line per file written to stdout; progress goes to stderr.

#include <CLI/CLI.hpp>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "encore/generate.h"
#include "encore/progress.h"

namespace encore::cli {
namespace {

struct GenerateFlags {
  std::string profile = "ratings";
  GenerateOptions options;
  bool quiet = false;
};

int RunGenerate(GenerateFlags& flags) {
  Result<GenerateProfile> profile = ParseGenerateProfile(flags.profile);
  if (!profile.ok()) {
    std::fprintf(stderr, "encore: error: %s\n", profile.status().message().c_str());
    return kExitUsage;
  }
  flags.options.profile = *profile;
  if (Status st = flags.options.Validate(); !st.ok()) {
    std::fprintf(stderr, "encore: error: %s\n", st.message().c_str());
    return kExitUsage;
  }

  Progress progress(flags.quiet ? Progress::Mode::kQuiet : Progress::Mode::kAuto);
  Result<GenerateReport> report = Generate(flags.options, &progress);
  if (!report.ok()) {
    std::fprintf(stderr, "encore: error: %s\n", report.status().message().c_str());
    return kExitError;
  }
  if (!flags.quiet) {
    for (const GeneratedFile& file : report->files) {
      std::printf("wrote %s: %" PRIu64 " rows, %.1f MB\n", file.path.c_str(), file.rows,
                  file.bytes / 1e6);
    }
  }
  return kExitOk;
}

}  // namespace

Command RegisterGenerate(CLI::App& root) {
  auto flags = std::make_shared<GenerateFlags>();
  GenerateOptions& o = flags->options;
  CLI::App* app = root.add_subcommand(
      "generate", "Write seeded, deterministic synthetic data (docs/GENERATE.md)");
  app->add_option("--profile", flags->profile,
                  "ratings, plays, retail, baskets or fashion (docs/PERSONALIZATION.md)")
      ->capture_default_str();
  app->add_option("--users", o.users, "number of users")->capture_default_str();
  app->add_option("--items", o.items, "number of items")->capture_default_str();
  app->add_option("--rows", o.rows, "data rows to write (baskets: number of baskets)")
      ->capture_default_str();
  app->add_option("--seed", o.seed, "random seed; same options and seed give the same bytes")
      ->capture_default_str();
  app->add_option("--out", o.out_dir, "output directory (created if missing)")->required();
  app->add_option("--clusters", o.clusters, "latent taste clusters (1..items)")
      ->capture_default_str();
  app->add_option("--threads", o.threads,
                  "worker threads, 0 = all cores (never changes the output)")
      ->capture_default_str();
  app->add_flag("--quiet,-q", flags->quiet, "no progress and no summary");
  return {app, [flags] { return RunGenerate(*flags); }};
}

}  // namespace encore::cli
