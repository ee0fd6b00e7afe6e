// The web console (docs/CONSOLE.md): pages under /ui/ of encore serve for an
// analyst and an operator - the data profile, pipeline runs and lineage,
// models, the live service, experiments and a user explorer - fed by JSON
// endpoints under /ui/api/. It is a serve::Extension mounted by the CLI.
//
// Access: the pages' static files (HTML, JavaScript, CSS; no data) are
// public. The data endpoints need the server's admin key
// (Authorization: Bearer KEY; the pages ask for it and keep it in the
// browser's session storage), except the read-only ones (profile, runs,
// models, live, experiment) when ConsoleOptions::public_read_only is set.
// The user explorer (personal data) always needs the key.
//
// Nothing is fetched from the internet: the charting library is embedded in
// the binary (console/assets.h).
//
// Thread-safety: the extension is immutable once created; Handle may run on
// any number of threads.
#ifndef ENCORE_CONSOLE_CONSOLE_H_
#define ENCORE_CONSOLE_CONSOLE_H_

#include <memory>
#include <string>

#include "encore/experiment.h"
#include "encore/status.h"
#include "serve/router.h"

namespace encore::console {

struct ConsoleOptions {
  // A pipeline workdir: runs/RUNID/manifest.json and profile.json feed the
  // runs, models and data pages. "": those pages say how to get them.
  std::string workdir;
  bool public_read_only = false;  // the read-only pages without the key
  // The experiment page: the declaration and where its events are logged
  // (a JSON Lines file, or the Redis stream POST /v1/events writes).
  std::shared_ptr<const Experiment> experiment;
  std::string events_file;
  std::string events_redis, events_stream = "events";
  ExperimentReportOptions report;
  // A product catalog (encore/catalog.h, default columns): item names in
  // the user explorer. "": ids only.
  std::string catalog;
};

// Reads the catalog (when given); fails with the reason when it cannot.
Result<std::shared_ptr<const serve::Extension>> CreateConsole(const ConsoleOptions& options);

// The pipeline workdir a serving store belongs to: the store directory's
// parent when that holds runs/ (encore run puts the store there), else "".
std::string WorkdirOfStore(const std::string& store);

}  // namespace encore::console

#endif  // ENCORE_CONSOLE_CONSOLE_H_
