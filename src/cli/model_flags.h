// Model parameter flags: one `--<name>` flag per row of the parameter table
// (encore/params.h), so train, evaluate and later commands accept exactly
// the documented parameters with the documented names.

#ifndef ENCORE_CLI_MODEL_FLAGS_H_
#define ENCORE_CLI_MODEL_FLAGS_H_

#include <map>
#include <memory>
#include <string>

#include "encore/params.h"

namespace CLI {
class App;
}

namespace encore::cli {

class ModelFlags {
 public:
  // Adds --<name> for every parameter to `app`, except names the app already
  // has (the command then sets that parameter itself, e.g. --threads).
  void Register(CLI::App* app);
  // Defaults overridden by the flags given; errors name the flag.
  Result<ModelParams> Resolve() const;

 private:
  // name -> text given on the command line (only flags that were passed).
  std::shared_ptr<std::map<std::string, std::string>> given_ =
      std::make_shared<std::map<std::string, std::string>>();
};

}  // namespace encore::cli

#endif  // ENCORE_CLI_MODEL_FLAGS_H_
