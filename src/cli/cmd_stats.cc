// PLACEHOLDER while the skeleton is built; replaced before the first submission.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace encore::cli {
Command RegisterStats(CLI::App& root) {
  CLI::App* app = root.add_subcommand("stats", "(under construction)");
  return {app, [] { return kExitError; }};
}
}  // namespace encore::cli
