// encore: the command-line edge. Parses flags, hands over to the library and
// turns anything thrown into a one-line error and an exit code.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"encore " ENCORE_VERSION
               " - read interaction logs, train, evaluate, recommend, publish, serve"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "encore " ENCORE_VERSION);

  const std::vector<encore::cli::Command> commands = {
      encore::cli::RegisterDemo(app),
      encore::cli::RegisterGenerate(app),
      encore::cli::RegisterStats(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : encore::cli::kExitUsage;
  }
  try {
    for (const auto& command : commands) {
      if (command.app->parsed()) return command.run();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "encore: error: %s\n", e.what());
    return encore::cli::kExitError;
  } catch (...) {
    std::fprintf(stderr, "encore: error: unknown exception\n");
    return encore::cli::kExitError;
  }
  return encore::cli::kExitUsage;
}
