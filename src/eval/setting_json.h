// The JSON form of a grid setting, shared by evaluation reports and tuning
// reports: each axis with its canonical value, typed by the parameter table.

#ifndef ENCORE_EVAL_SETTING_JSON_H_
#define ENCORE_EVAL_SETTING_JSON_H_

#include "encore/evaluate.h"
#include "encore/params.h"
#include "util/json_writer.h"

namespace encore {

// Writes {"axis": value, ...} for `setting`, values read back from `params`.
void WriteSettingJson(JsonWriter* w, const GridSetting& setting, const ModelParams& params);

}  // namespace encore

#endif  // ENCORE_EVAL_SETTING_JSON_H_
