// InputFlags: the flags every data-reading command shares, and their
// translation into library options. One table of flags, so every command
// spells and documents them the same way.

#ifndef ENCORE_CLI_INPUT_FLAGS_H_
#define ENCORE_CLI_INPUT_FLAGS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "encore/dataset.h"
#include "encore/obfuscate.h"
#include "encore/progress.h"
#include "encore/reader.h"

namespace CLI {
class App;
}

namespace encore::cli {

struct InputFlags {
  std::vector<std::string> inputs;
  std::string format = "csv";
  std::string sep;
  bool header = false;
  bool no_header = false;
  std::string user_col, item_col, value_col, event_col, time_col;
  std::string time_unit = "auto";
  std::string attributes;
  std::string weights;
  std::string transform = "none";
  std::string feedback;  // empty: from the format
  std::string duplicates = "latest";
  std::string obfuscate;
  std::string obfuscation_key_file;
  uint64_t max_bad_rows = 0;
  std::string rejects;
  int threads = 0;
  bool quiet = false;

  // Adds the flags to `app`.
  void Register(CLI::App* app);
  // Checks the flags and fills the options; `obfuscator` is set when --obfuscate is used
  // and must outlive the returned ReadOptions.
  Status Resolve(ReadOptions* read, DatasetOptions* dataset,
                 std::unique_ptr<Obfuscator>* obfuscator) const;
  Progress::Mode progress_mode() const {
    return quiet ? Progress::Mode::kQuiet : Progress::Mode::kAuto;
  }
};

// Reads the inputs and builds the dataset, reporting rows read, accepted and
// rejected (and the first rejections) on stderr unless quiet. `report` is
// filled even on failure.
Result<Dataset> LoadInput(const InputFlags& flags, ReadReport* report);

// Prints a failed Status as one line on stderr and returns kExitError.
int PrintError(const Status& status);

}  // namespace encore::cli

#endif  // ENCORE_CLI_INPUT_FLAGS_H_
