#include "cli/model_flags.h"

#include <CLI/CLI.hpp>

namespace encore::cli {

void ModelFlags::Register(CLI::App* app) {
  const ModelParams defaults;
  for (const ParamInfo& p : ModelParamTable()) {
    std::string name = p.name;
    // A command may already own the flag (--threads of the input flags).
    if (app->get_option_no_throw("--" + name) != nullptr) continue;
    auto given = given_;
    std::string help = std::string(p.help) + " [" + p.models + "; default " + p.get(defaults) + "]";
    app->add_option_function<std::string>(
           "--" + name, [given, name](const std::string& v) { (*given)[name] = v; }, help)
        ->group("Model parameters");
  }
}

Result<ModelParams> ModelFlags::Resolve() const {
  ModelParams params;
  for (const auto& [name, value] : *given_) {
    Status s = SetModelParam(&params, name, value);
    if (!s.ok()) return Status::InvalidArgument("--" + name + ": " + s.message());
  }
  ENCORE_RETURN_IF_ERROR(params.Validate());
  return params;
}

}  // namespace encore::cli
