// InputFlags: the flags every data-reading command shares. They are
// registered from the input option table (encore/input.h), so every command
// and every pipeline file spells, documents and defaults them the same way;
// the values are parsed by the table's own setters.

#ifndef ENCORE_CLI_INPUT_FLAGS_H_
#define ENCORE_CLI_INPUT_FLAGS_H_

#include <map>
#include <string>
#include <vector>

#include "encore/input.h"
#include "encore/progress.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace encore::cli {

struct InputFlags {
  std::vector<std::string> inputs;
  int threads = 0;
  bool quiet = false;
  // Text of each table option given on the command line, by option name
  // ("header" holds "true" or "false").
  std::map<std::string, std::string> given;

  // Adds the flags to `app`: --input, one flag per table option, --threads, --quiet.
  void Register(CLI::App* app);
  // Parses the given flags with the table's setters (errors name the flag).
  Result<InputOptions> Resolve() const;
  Progress::Mode progress_mode() const {
    return quiet ? Progress::Mode::kQuiet : Progress::Mode::kAuto;
  }

 private:
  // Storage CLI11 writes into, by option name.
  std::map<std::string, std::string> text_;
  std::map<std::string, CLI::Option*> options_;
  bool header_ = false, no_header_ = false;
};

// Reads the inputs and builds the dataset (LoadInput of encore/input.h),
// reporting rows read, accepted and rejected (and the first rejections) on
// stderr unless `quiet`. `report` is filled even on failure.
Result<Dataset> LoadInput(const InputOptions& options, bool quiet, ReadReport* report);
// The reading half of LoadInput: the log, with the same report on stderr.
Result<InteractionLog> ReadInputReporting(const InputOptions& options, bool quiet,
                                          ReadReport* report);

// Prints a failed Status as one line on stderr and returns kExitError.
int PrintError(const Status& status);

}  // namespace encore::cli

#endif  // ENCORE_CLI_INPUT_FLAGS_H_
