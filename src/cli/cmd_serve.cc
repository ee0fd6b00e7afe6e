// encore serve: the HTTP server over a serving store (docs/SERVING.md).

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "console/console.h"
#include "encore/serve.h"

namespace encore::cli {

namespace {

// Reads the admin key: the whole file minus trailing line breaks.
Result<std::string> ReadApiKeyFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return Status::IOError("cannot read --api-key-file '" + path + "': " + std::strerror(errno));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  std::string key = ss.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.empty()) {
    return Status::InvalidArgument("--api-key-file '" + path +
                                   "' is empty; write the admin key into it (e.g. openssl rand "
                                   "-hex 32 > " +
                                   path + ")");
  }
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0) {
    std::fprintf(stderr,
                 "encore serve: warning: --api-key-file '%s' is readable by every user; "
                 "chmod 600 it\n",
                 path.c_str());
  }
  return key;
}

}  // namespace

Command RegisterServe(CLI::App& root) {
  CLI::App* app = root.add_subcommand("serve",
                                      "Answer recommendation requests over HTTP from a "
                                      "serving store (docs/SERVING.md)");
  struct Flags {
    std::string store, api_key_file, experiment;
    ServeOptions options;
    bool no_console = false;
    console::ConsoleOptions console;
  };
  auto f = std::make_shared<Flags>();
  ServeOptions& o = f->options;
  app->add_option("--store", f->store, "Serving store: a directory (LMDB) or redis://HOST:PORT/DB")
      ->required();
  app->add_option("--host", o.host, "Address to listen on")->capture_default_str();
  app->add_option("--port", o.port, "Port to listen on (0: any free port)")->capture_default_str();
  app->add_option("--threads", o.threads, "Worker threads (0 = one per core)")
      ->capture_default_str();
  app->add_option("--api-key-file", f->api_key_file,
                  "File holding the admin key (POST /v1/admin/reload needs 'Authorization: "
                  "Bearer KEY'); without it admin routes are disabled");
  app->add_option("--access-log", o.access_log,
                  "Write one JSON line per request to this file ('-': stderr)");
  app->add_option("--events-redis", o.events_redis,
                  "Enable POST /v1/events: append posted events to a Redis stream at "
                  "redis://HOST:PORT/DB (needs --api-key-file; encore stream consumes them)");
  app->add_option("--events-stream", o.events_stream, "Key of that Redis stream")
      ->capture_default_str();
  app->add_option("--event-types", o.event_types,
                  "Event types POST /v1/events accepts (default: any; the consumer still "
                  "rejects types without a weight)")
      ->delimiter(',');
  app->add_option("--experiment", f->experiment,
                  "Run this A/B experiment (TOML, docs/EXPERIMENTS.md): answers come from each "
                  "user's variant and carry a recommendation_id");
  app->add_flag("--no-console", f->no_console,
                "Do not serve the web console under /ui/ (docs/CONSOLE.md)");
  app->add_flag("--console-public", f->console.public_read_only,
                "Let the console's read-only pages (data, runs, models, live, experiment) be "
                "read without the admin key; the user explorer always needs it");
  app->add_option("--console-workdir", f->console.workdir,
                  "Pipeline workdir whose runs/ feed the console's data, runs and models pages "
                  "(default: the store directory's parent when it holds runs/)");
  app->add_option("--console-events", f->console.events_file,
                  "JSON Lines file of logged events for the console's experiment page (default: "
                  "the --events-redis stream)");
  app->add_option(
      "--console-catalog", f->console.catalog,
      "Product catalog (docs/PERSONALIZATION.md columns) naming items in the console's user "
      "explorer");
  app->add_option("--poll-ms", o.poll_ms, "How often to check the store for a new snapshot")
      ->capture_default_str();
  app->add_option("--cache-mb", o.cache_mb,
                  "Payloads kept in memory per snapshot, MiB (-1: 256 for Redis, off for LMDB; "
                  "0: off); a new snapshot starts with an empty cache")
      ->capture_default_str();
  app->add_option("--live-payloads", o.live_payloads,
                  "Answer users from the stream consumer's live payloads first (false: snapshots "
                  "only, one Redis round trip fewer per GET when no consumer writes here)")
      ->capture_default_str();
  app->add_option("--live-cache-mb", o.live_cache_mb,
                  "Live payload lookups kept in memory, MiB (-1: 64 for Redis, whose server "
                  "reports every change to them, none for LMDB; 0: off); see docs/SERVING.md")
      ->capture_default_str();
  app->add_option("--compute-threads", o.compute_threads,
                  "Threads for fold-in and explanations, apart from the serving threads")
      ->capture_default_str();
  app->add_option("--compute-queue", o.compute_queue,
                  "Fold-in and explanation requests that may wait; more get 503 + Retry-After")
      ->capture_default_str();
  app->add_option("--max-header-bytes", o.max_header_bytes,
                  "Largest request line plus headers (larger: 414 or 431)")
      ->capture_default_str();
  app->add_option("--max-body-bytes", o.max_body_bytes, "Largest request body (larger: 413)")
      ->capture_default_str();
  app->add_option("--max-id-bytes", o.max_id_bytes,
                  "Longest user or item id after percent-decoding (longer: 414)")
      ->capture_default_str();
  app->add_option("--max-limit", o.max_limit, "Largest limit a request may ask for")
      ->capture_default_str();
  app->add_option("--read-timeout-ms", o.read_timeout_ms, "A request must arrive whole within this")
      ->capture_default_str();
  app->add_option("--idle-timeout-ms", o.idle_timeout_ms,
                  "Keep-alive connections idle longer are closed")
      ->capture_default_str();
  app->add_option("--drain-timeout-ms", o.drain_timeout_ms,
                  "On SIGTERM/SIGINT, how long in-flight requests may take to finish")
      ->capture_default_str();
  return {app, [f] {
            ServeOptions options = f->options;
            if (!f->api_key_file.empty()) {
              auto key = ReadApiKeyFile(f->api_key_file);
              if (!key.ok()) return PrintError(key.status());
              options.api_key = std::move(key).value();
            }
            if (!f->experiment.empty()) {
              auto experiment = LoadExperiment(f->experiment);
              if (!experiment.ok()) return PrintError(experiment.status());
              options.experiment = std::make_shared<const Experiment>(std::move(*experiment));
            }
            if (!f->no_console) {
              console::ConsoleOptions c = f->console;
              if (c.workdir.empty()) c.workdir = console::WorkdirOfStore(f->store);
              c.experiment = options.experiment;
              c.events_redis = options.events_redis;
              c.events_stream = options.events_stream;
              auto ui = console::CreateConsole(c);
              if (!ui.ok()) return PrintError(ui.status());
              options.extension = std::move(ui).value();
            }
            auto store = Store::OpenExisting(f->store);
            if (!store.ok()) return PrintError(store.status());
            Status s = ServeUntilSignalled(
                std::move(store).value(), options, [&options, f](const Server& server) {
                  const uint64_t v = server.snapshot_version();
                  std::fprintf(
                      stderr, "encore serve: listening on http://%s:%u (%s, %d threads)\n",
                      options.host.find(':') != std::string::npos
                          ? ("[" + options.host + "]").c_str()
                          : options.host.c_str(),
                      static_cast<unsigned>(server.port()),
                      v != 0 ? ("snapshot " + std::to_string(v)).c_str() : "no snapshot yet",
                      server.threads());
                  if (options.extension != nullptr) {
                    const std::string host =
                        options.host == "0.0.0.0" || options.host == "::" ? "127.0.0.1"
                        : options.host.find(':') != std::string::npos     ? "[" + options.host + "]"
                                                                          : options.host;
                    const bool keyed = !options.api_key.empty();
                    std::fprintf(stderr, "encore serve: console at http://%s:%u/ui/ (%s)\n",
                                 host.c_str(), static_cast<unsigned>(server.port()),
                                 f->console.public_read_only
                                     ? (keyed ? "read-only pages public; the user explorer "
                                                "needs the --api-key-file key"
                                              : "read-only pages public; no key, so no user "
                                                "explorer")
                                 : keyed ? "enter the --api-key-file key in the page"
                                         : "its pages need a key: restart with --api-key-file "
                                           "FILE, or --console-public for the read-only pages");
                  }
                  std::fflush(stderr);
                });
            if (!s.ok()) return PrintError(s);
            return kExitOk;
          }};
}

}  // namespace encore::cli
