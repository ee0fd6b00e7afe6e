// encore stream: the live event consumer (docs/STREAMING.md).

#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "encore/dataset.h"
#include "encore/stream.h"
#include "pipeline/config.h"

namespace encore::cli {

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void OnStopSignal(int) { stop_requested.store(true); }

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
}

}  // namespace

Command RegisterStream(CLI::App& root) {
  CLI::App* app = root.add_subcommand(
      "stream",
      "Consume live events (Redis stream or a JSON Lines file) into a serving store: running "
      "totals, and each user's list rebuilt within milliseconds (docs/STREAMING.md)");
  struct Flags {
    std::string store, weights, obfuscation_key_file, dump_totals;
    std::vector<std::string> obfuscate;
    ConsumerOptions consumer;
    SpeedLayerOptions speed;
    bool quiet = false;
    std::string history = "snapshot+live";
    std::string sync = "disk";
    std::string pipeline;
    std::string dedup_retention = "7d";
    std::string dead_letter;
  };
  auto f = std::make_shared<Flags>();
  ConsumerOptions& c = f->consumer;
  app->add_option("--store", f->store,
                  "Serving store the lists are written to: a directory (LMDB) or "
                  "redis://HOST:PORT/DB; it must hold a published snapshot with its model "
                  "(default: the --pipeline file's [stream] store)");
  app->add_option("--redis", c.redis_uri, "Redis holding the event stream: redis://HOST:PORT/DB");
  app->add_option("--stream", c.stream_key, "Key of the Redis stream of events");
  app->add_option("--group", c.group,
                  "Consumer group (created at the start of the stream when absent)")
      ->capture_default_str();
  app->add_option("--consumer", c.consumer,
                  "Consumer name in the group (a restarted consumer with the same name first "
                  "re-reads its unacknowledged entries)")
      ->capture_default_str();
  app->add_option("--dead-letter", f->dead_letter,
                  "Redis stream the rejected entries are appended to before they are "
                  "acknowledged (their fields plus reason, field, detail, source_stream, "
                  "source_id); 'none': not kept (default: STREAM:dead)");
  app->add_option("--events", c.events_path,
                  "Read events from this JSON Lines file instead ('-': stdin); one object a line "
                  "with the fields user, item, event, ts, id, quantity, price");
  app->add_option("--weights", f->weights,
                  "Event weights, e.g. view=1,cart=3,purchase=10 (the batch job's); events of "
                  "other types are rejected. Default: every event weighs 1, any type");
  app->add_option("--pipeline", f->pipeline,
                  "Run the pipeline file's [stream] section (store, Redis, stream, group, ...), "
                  "with its [prepare] weights (the batch job that trained the model) and its "
                  "sources' obfuscation of user and item ids; flags given here override it");
  app->add_option("--history", f->history,
                  "What a user's list is folded in from: 'snapshot+live' (Lambda: the stream "
                  "holds the events after the batch's data) or 'live' (Kappa: the stream holds "
                  "every event)")
      ->check(CLI::IsMember({"snapshot+live", "live"}))
      ->capture_default_str();
  app->add_option("--sync", f->sync,
                  "When a batch is durable before its XACK: 'disk' (fsync at every batch; "
                  "survives a machine crash) or 'process' (no fsync: survives a crash of the "
                  "consumer, not of the machine; LMDB stores only)")
      ->check(CLI::IsMember({"disk", "process"}))
      ->capture_default_str();
  app->add_option("--n", f->speed.n, "List length (0: the snapshot's published n)")
      ->capture_default_str();
  app->add_option("--seen-exact-max", f->speed.seen_exact_max,
                  "Seen-item exclusion is exact for users with up to this many items and a "
                  "Bloom filter beyond (docs/STREAMING.md)")
      ->capture_default_str();
  app->add_option("--seen-fpr", f->speed.seen_fpr,
                  "Target false-positive rate of that Bloom filter (share of unseen items "
                  "wrongly left out), in (0, 0.5]")
      ->check(CLI::Range(1e-12, 0.5))
      ->capture_default_str();
  app->add_option("--dedup-retention", f->dedup_retention,
                  "How long applied event ids (idempotence keys) are kept past their event's "
                  "time (its ts, else its Redis append time), then dropped: an integer and s, m, "
                  "h, d or w, or 'none' (kept for good). An event older than this is rejected "
                  "(reason too_old), so a replay cannot count it again once its id is gone")
      ->capture_default_str();
  app->add_option("--batch", c.batch, "Most events applied in one batch")->capture_default_str();
  app->add_option("--window-ms", c.window_ms,
                  "How long to wait for a batch to fill (a burst of one user's events costs one "
                  "rebuild)")
      ->capture_default_str();
  app->add_option("--refresh-ms", c.refresh_ms,
                  "How often to check the store for a new snapshot (then every live user is "
                  "rebuilt over it)")
      ->capture_default_str();
  app->add_option("--item-refresh-events", c.item_refresh_events,
                  "Kappa item refresh: re-fit the item factors from the live totals in the "
                  "background (warm-started from the current model) and publish them as a new "
                  "snapshot once this many events were applied since the last refresh began "
                  "(0: not by count; needs --history live and an ials model)")
      ->capture_default_str();
  app->add_option("--item-refresh-seconds", c.item_refresh_seconds,
                  "... or once this many seconds passed with at least one event applied (0: not "
                  "by time)")
      ->capture_default_str();
  app->add_option("--item-refresh-sweeps", c.item_refresh.sweeps,
                  "Alternating sweeps (users, then items) of an item refresh")
      ->capture_default_str();
  app->add_option("--item-refresh-threads", c.item_refresh.threads,
                  "Threads of an item refresh (training and publishing; 0: all cores). The "
                  "consumer keeps its own thread for intake")
      ->capture_default_str();
  app->add_option("--idle-exit-ms", c.idle_exit_ms,
                  "Exit once no event arrived for this long (0: run until SIGTERM)")
      ->capture_default_str();
  app->add_option("--obfuscate", f->obfuscate,
                  "Fields replaced by their keyed hash, as the batch reader's --obfuscate "
                  "(user, item)")
      ->delimiter(',');
  app->add_option("--obfuscation-key-file", f->obfuscation_key_file,
                  "File holding the obfuscation key (default: $ENCORE_OBFUSCATION_KEY)");
  app->add_option("--dump-totals", f->dump_totals,
                  "Write the live totals (user,item,type,count and user,item,*,value lines) to "
                  "this file ('-': stdout) and exit");
  app->add_flag("--quiet", f->quiet, "No progress lines on stderr");
  return {app, [f, app] {
            // First: a SIGTERM during start-up must not kill the process either.
            InstallStopHandlers();
            // The settings: the pipeline's [stream] (or defaults), then the flags given.
            StreamJob job;
            if (!f->pipeline.empty()) {
              auto config = pipeline::LoadPipelineConfig(f->pipeline);
              if (!config.ok()) return PrintError(config.status());
              auto from_file = pipeline::StreamJobFor(*config);
              if (!from_file.ok()) return PrintError(from_file.status());
              job = std::move(from_file).value();
            }
            auto given = [&](const char* flag) { return app->count(flag) > 0; };
            ConsumerOptions& jc = job.consumer;
            const ConsumerOptions& fc = f->consumer;
            if (given("--store")) job.store = f->store;
            if (given("--events")) {
              jc.events_path = fc.events_path;
              jc.redis_uri.clear();
            }
            if (given("--redis")) jc.redis_uri = fc.redis_uri;
            if (given("--stream")) jc.stream_key = fc.stream_key;
            if (given("--group")) jc.group = fc.group;
            if (given("--consumer")) jc.consumer = fc.consumer;
            if (given("--batch")) jc.batch = fc.batch;
            if (given("--window-ms")) jc.window_ms = fc.window_ms;
            if (given("--refresh-ms")) jc.refresh_ms = fc.refresh_ms;
            if (f->pipeline.empty() || given("--n")) job.speed.n = f->speed.n;
            if (f->pipeline.empty() || given("--seen-exact-max")) {
              job.speed.seen_exact_max = f->speed.seen_exact_max;
            }
            if (f->pipeline.empty() || given("--seen-fpr")) job.speed.seen_fpr = f->speed.seen_fpr;
            if (f->pipeline.empty() || given("--history")) {
              job.speed.include_snapshot_row = f->history != "live";
            }
            if (f->pipeline.empty() || given("--sync")) job.speed.sync = f->sync != "process";
            if (f->pipeline.empty() || given("--weights")) {
              auto weights = ParseWeights(f->weights);
              if (!weights.ok()) return PrintError(weights.status());
              job.speed.weights = *weights;
            }
            if (given("--dedup-retention")) {
              auto seconds = ParseRetention(f->dedup_retention);
              if (!seconds.ok()) {
                return PrintError(
                    Status::InvalidArgument("--dedup-retention: " + seconds.status().message()));
              }
              job.speed.dedup_retention_seconds = *seconds;
            }
            if (given("--dead-letter")) job.dead_letter = f->dead_letter;
            if (given("--obfuscate")) job.obfuscate = f->obfuscate;
            if (given("--obfuscation-key-file")) {
              job.obfuscation_key_file = f->obfuscation_key_file;
              job.obfuscation_key_env.clear();
            }
            jc.idle_exit_ms = fc.idle_exit_ms;
            jc.item_refresh_events = fc.item_refresh_events;
            jc.item_refresh_seconds = fc.item_refresh_seconds;
            jc.item_refresh = fc.item_refresh;
            if (job.store.empty()) {
              return PrintError(Status::InvalidArgument(
                  "no store: give --store DIR|redis://HOST:PORT/DB, or --pipeline FILE with a "
                  "[stream] section"));
            }
            if (!f->dump_totals.empty()) {
              auto store = Store::OpenExisting(job.store);
              if (!store.ok()) return PrintError(store.status());
              auto layer = SpeedLayer::Open(store->get(), job.speed);
              if (!layer.ok()) return PrintError(layer.status());
              std::string csv;
              if (Status s = (*layer)->DumpTotals(&csv); !s.ok()) return PrintError(s);
              if (f->dump_totals == "-") {
                std::fwrite(csv.data(), 1, csv.size(), stdout);
              } else {
                std::ofstream out(f->dump_totals, std::ios::binary);
                out << csv;
                if (!out) {
                  return PrintError(
                      Status::IOError("cannot write --dump-totals '" + f->dump_totals + "'"));
                }
              }
              return kExitOk;
            }
            ConsumerOptions& c = jc;
            c.stop = &stop_requested;
            const bool quiet = f->quiet;
            uint64_t last_report = 0;
            c.on_batch = [&](const ConsumerStats& s) {
              if (quiet || s.applied < last_report + 10'000) return;
              last_report = s.applied;
              std::fprintf(stderr, "encore stream: %llu events applied, %.0f/s, lag %lld\n",
                           static_cast<unsigned long long>(s.applied), s.events_per_second,
                           static_cast<long long>(s.lag));
            };
            c.on_reject = [&](const EventRejection& r, const std::string& where) {
              if (!quiet) {
                std::fprintf(
                    stderr, "encore stream: rejected %s: %s\n", where.c_str(),
                    (r.field.empty() ? r.reason : "field '" + r.field + "': " + r.reason).c_str());
              }
            };
            c.on_error = [&](const Status& s) {
              std::fprintf(stderr, "encore stream: %s; retrying\n", s.ToString().c_str());
            };
            c.on_item_refresh = [&](const ItemRefreshReport& r) {
              if (quiet) return;
              std::fprintf(stderr,
                           "encore stream: item refresh published snapshot %llu (from %llu): "
                           "%llu users (%llu live), %llu items (%llu new), %llu interactions; "
                           "read %.2f s, fit %.2f s, publish %.2f s\n",
                           static_cast<unsigned long long>(r.version),
                           static_cast<unsigned long long>(r.base_version),
                           static_cast<unsigned long long>(r.users),
                           static_cast<unsigned long long>(r.live_users),
                           static_cast<unsigned long long>(r.items),
                           static_cast<unsigned long long>(r.new_items),
                           static_cast<unsigned long long>(r.interactions), r.read_seconds,
                           r.fit_seconds, r.publish_seconds);
            };
            ConsumerStats stats;
            Status s = RunStreamJob(job, &stats);
            uint64_t rejected = 0;
            for (const auto& [reason, n] : stats.rejected) rejected += n;
            std::fprintf(stderr,
                         "encore stream: %llu received, %llu applied, %llu duplicates, %llu "
                         "rejected, %llu payloads rebuilt\n",
                         static_cast<unsigned long long>(stats.received),
                         static_cast<unsigned long long>(stats.applied),
                         static_cast<unsigned long long>(stats.duplicates),
                         static_cast<unsigned long long>(rejected),
                         static_cast<unsigned long long>(stats.rebuilt));
            if (!s.ok()) return PrintError(s);
            return kExitOk;
          }};
}

}  // namespace encore::cli
