// encore: the command-line edge. Parses flags, hands over to the library and
// turns anything thrown into a one-line error and an exit code.

#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "util/threads.h"
#ifdef ENCORE_HAVE_MPI
#include <cstdlib>

#include "distributed/distributed.h"
#endif

int main(int argc, char** argv) {
  // Idle OpenMP threads sleep instead of spinning unless the user set
  // OMP_WAIT_POLICY (re-executes once; see util/threads.h).
  encore::ReexecWithRuntimeDefaults(argv);
  // Large blocks (log chunks, matrices) are freed while a read turns into
  // matrices. glibc otherwise raises its mmap threshold after the first such
  // free and keeps later blocks in the heap, where freed memory is not
  // returned: a fixed threshold keeps peak memory near the data's own size.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  CLI::App app{"encore " ENCORE_VERSION
               " - read interaction logs, train, evaluate, recommend, publish, serve"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "encore " ENCORE_VERSION);

  const std::vector<encore::cli::Command> commands = {
      encore::cli::RegisterDemo(app),       encore::cli::RegisterGenerate(app),
      encore::cli::RegisterStats(app),      encore::cli::RegisterTrain(app),
      encore::cli::RegisterEvaluate(app),   encore::cli::RegisterTune(app),
      encore::cli::RegisterRecommend(app),  encore::cli::RegisterSimilar(app),
      encore::cli::RegisterIndex(app),      encore::cli::RegisterExplain(app),
      encore::cli::RegisterParams(app),     encore::cli::RegisterPublish(app),
      encore::cli::RegisterRollback(app),   encore::cli::RegisterServe(app),
      encore::cli::RegisterStream(app),     encore::cli::RegisterRun(app),
      encore::cli::RegisterRuns(app),       encore::cli::RegisterWatch(app),
      encore::cli::RegisterExperiment(app), encore::cli::RegisterExplainProduct(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : encore::cli::kExitUsage;
  }
#ifdef ENCORE_HAVE_MPI
  // Under mpirun every rank runs the same command line: only the commands
  // built for it may run (the others would write the same files N times).
  if (encore::distributed::LaunchedByMpi()) {
    for (const auto& command : commands) {
      if (!command.app->parsed()) continue;
      const std::string name = command.app->get_name();
      if (name == "train" || name == "recommend" || name == "run") break;
      const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
      if (rank == nullptr || std::string(rank) == "0") {
        std::fprintf(stderr,
                     "encore: error: `encore %s` does not run under mpirun; only `encore train` "
                     "(ials, als, cooccurrence), `encore recommend` (part files + _SUCCESS) and "
                     "`encore run` (pipelines: model fits over the ranks) are distributed "
                     "(docs/SCALING.md). Run it without mpirun\n",
                     name.c_str());
      }
      return encore::cli::kExitUsage;
    }
  }
#endif
  try {
    for (const auto& command : commands) {
      if (command.app->parsed()) return command.run();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "encore: error: %s\n", e.what());
    return encore::cli::kExitError;
  } catch (...) {
    std::fprintf(stderr, "encore: error: unknown exception\n");
    return encore::cli::kExitError;
  }
  return encore::cli::kExitUsage;
}
