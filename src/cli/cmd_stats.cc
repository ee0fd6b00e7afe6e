// encore stats: the data profile printed before modelling.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "encore/profile.h"

namespace encore::cli {

Command RegisterStats(CLI::App& root) {
  CLI::App* app = root.add_subcommand(
      "stats", "Profile an interaction log: rows, users, items, density, distributions");
  struct Flags {
    InputFlags input;
    bool json = false;
  };
  auto flags = std::make_shared<Flags>();
  flags->input.Register(app);
  app->add_flag("--json", flags->json, "Print one JSON object instead of a table");
  return {app, [flags] {
            ReadReport report;
            Result<InputOptions> input = flags->input.Resolve();
            if (!input.ok()) return PrintError(input.status());
            Result<Dataset> data = LoadInput(*input, flags->input.quiet, &report);
            if (!data.ok()) return PrintError(data.status());
            DataProfile profile = ComputeProfile(*data, report);
            std::string out = flags->json ? FormatProfileJson(profile) : FormatProfileTable(profile);
            std::fwrite(out.data(), 1, out.size(), stdout);
            if (!out.empty() && out.back() != '\n') std::fputc('\n', stdout);
            return kExitOk;
          }};
}

}  // namespace encore::cli
