// ModelFlags: one command-line flag per training parameter, generated from
// ModelParamTable(), so every parameter (present and future) is settable
// from every command that trains: --factors 64, --reg 0.05, --biases (bool
// parameters also take --biases=false), --cold-start popular. Underscores in
// parameter names become dashes in flags. --defaults encore|spark picks where
// unset parameters start (DefaultParams in encore/params.h).
//
// Values are kept as text and parsed by SetModelParam in Apply, so bad
// values fail with the parameter table's own messages.
//
// Ownership: Register binds the flags to storage inside this object, which
// must outlive the parse (commands keep it in their shared Flags struct).
// Thread-safety: none needed; used on the main thread while parsing.

#ifndef ENCORE_CLI_MODEL_FLAGS_H_
#define ENCORE_CLI_MODEL_FLAGS_H_

#include <deque>
#include <string>

#include "encore/params.h"
#include "encore/status.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace encore::cli {

class ModelFlags {
 public:
  // Adds a flag per parameter to `app`, in the group "Model parameters".
  // A parameter whose flag `app` already has (e.g. --threads from
  // InputFlags, or a command's own --seed) is skipped: the command sets that
  // parameter itself.
  void Register(CLI::App* app);

  // *params = DefaultParams(kind, --defaults preset), then every parameter
  // given on the command line on top: a value the user set always wins.
  Status Apply(const std::string& kind, ModelParams* params) const;

  // "--factors" for "factors".
  static std::string FlagName(const std::string& param);

 private:
  struct Entry {
    std::string param;
    std::string value;
    CLI::Option* option = nullptr;
  };
  std::deque<Entry> entries_;  // a deque: flags bind to stable addresses
  std::string defaults_ = "encore";  // --defaults
};

}  // namespace encore::cli

#endif  // ENCORE_CLI_MODEL_FLAGS_H_
