#include "cli/model_flags.h"

#include <CLI/CLI.hpp>
#include <algorithm>

#include "encore/defaults.h"

namespace encore::cli {

std::string ModelFlags::FlagName(const std::string& param) {
  std::string flag = "--" + param;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

namespace {

// "; default per model: als 32, svdpp 128 (...)" for a parameter with per-kind defaults, else "".
std::string KindNote(const std::string& param) {
  std::string note;
  for (const KindDefault& d : KindDefaultTable()) {
    if (param != d.param) continue;
    note += std::string(note.empty() ? "" : ", ") + d.kind + " " + d.value;
  }
  return note.empty() ? note : "; default per model: " + note + " (--defaults spark: the value shown)";
}

}  // namespace

void ModelFlags::Register(CLI::App* app) {
  const ModelParams defaults;
  if (app->get_option_no_throw("--defaults") == nullptr) {
    app->add_option("--defaults", defaults_,
                    "Where unset model parameters start: encore (each model's measured "
                    "defaults, docs/QUALITY.md) | spark (Spark's values, as ModelParams{})")
        ->default_str("encore")
        ->check(CLI::IsMember({"encore", "spark"}))
        ->group("Model parameters");
  }
  for (const ParamInfo& info : ModelParamTable()) {
    const std::string flag = FlagName(info.name);
    if (app->get_option_no_throw(flag) != nullptr) continue;
    Entry& e = entries_.emplace_back();
    e.param = info.name;
    const std::string type = info.type;
    const std::string help =
        "[" + std::string(info.models) + "] " + info.help + KindNote(info.name);
    if (type == "bool") {
      e.option = app->add_flag(flag, e.value,
                               help + " (default " + info.get(defaults) + "; =false turns it off)");
    } else {
      std::string type_name = type == "int" ? "INT" : type == "float" ? "FLOAT" : "TEXT";
      e.option = app->add_option(flag, e.value, help)
                     ->type_name(type_name)
                     ->default_str(info.get(defaults));
    }
    e.option->group("Model parameters");
  }
}

Status ModelFlags::Apply(const std::string& kind, ModelParams* params) const {
  Result<DefaultsPreset> preset = ParseDefaultsPreset(defaults_);
  if (!preset.ok()) return Status::InvalidArgument("--" + preset.status().message());
  *params = DefaultParams(kind, *preset);
  for (const Entry& e : entries_) {
    if (e.option->count() == 0) continue;
    Status s = SetModelParam(params, e.param, e.value);
    if (!s.ok()) return Status::InvalidArgument(FlagName(e.param) + ": " + s.message());
  }
  return Status::OK();
}

}  // namespace encore::cli
