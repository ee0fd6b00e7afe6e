// The encore subcommands. Each lives in its own cmd_<name>.cc, registers its
// flags on the root app and returns the callback that runs it. The CLI only
// parses flags and calls the library; any logic worth testing lives in src/.

#ifndef ENCORE_CLI_COMMANDS_H_
#define ENCORE_CLI_COMMANDS_H_

#include <functional>
#include <string>

#include "encore/ann.h"
#include "encore/status.h"

namespace CLI {
class App;
}

namespace encore::cli {

// A registered subcommand and its body; run returns the process exit code.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command RegisterStats(CLI::App& root);
Command RegisterGenerate(CLI::App& root);
Command RegisterDemo(CLI::App& root);
Command RegisterTrain(CLI::App& root);
Command RegisterEvaluate(CLI::App& root);
Command RegisterTune(CLI::App& root);
Command RegisterRecommend(CLI::App& root);
Command RegisterSimilar(CLI::App& root);
Command RegisterIndex(CLI::App& root);
Command RegisterExplain(CLI::App& root);
Command RegisterParams(CLI::App& root);
Command RegisterPublish(CLI::App& root);
Command RegisterRollback(CLI::App& root);
Command RegisterServe(CLI::App& root);
Command RegisterStream(CLI::App& root);
Command RegisterRun(CLI::App& root);
Command RegisterRuns(CLI::App& root);
Command RegisterExplainProduct(CLI::App& root);
Command RegisterWatch(CLI::App& root);
Command RegisterExperiment(CLI::App& root);

// Approximate-index flags (--ann-m, --ann-ef-construction, --ann-ef) and
// the build-and-save step shared by `index` and `train --ann hnsw`.
void RegisterAnnFlags(CLI::App* app, AnnOptions* options);
Status BuildAndSaveIndex(const TrainedModel& model, const std::string& model_file,
                         const AnnOptions& options, bool quiet, double* seconds);

// Exit codes shared by all commands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;   // the command failed (bad input, I/O...)
inline constexpr int kExitUsage = 2;   // bad flags

}  // namespace encore::cli

#endif  // ENCORE_CLI_COMMANDS_H_
