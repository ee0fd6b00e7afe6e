// encore experiment: A/B experiment declarations and reports
// (docs/EXPERIMENTS.md).

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "encore/event.h"
#include "encore/experiment.h"
#include "encore/replay.h"
#include "io/text.h"
#include "stream/read_events.h"

namespace encore::cli {
Command RegisterExperiment(CLI::App& root) {
  CLI::App* app = root.add_subcommand(
      "experiment",
      "A/B experiments: check a declaration, report on logged events, replay a logged period "
      "against saved models");
  app->require_subcommand(1);
  struct Flags {
    std::string experiment, events, redis, stream = "events";
    bool json = false;
    ExperimentReportOptions options;
    std::string check_file;
    std::vector<std::string> users;
    // replay
    InputFlags input;
    std::string from, to, metrics = "precision@10,recall@10,ndcg@10,hit@10";
    std::vector<std::string> models;
    uint32_t bootstrap = 1000;
    uint64_t seed = 42;
    double replay_confidence = 0.95;
    bool replay_json = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* report = app->add_subcommand(
      "report",
      "Per-variant users, exposures, click-through, conversion and revenue per user with "
      "confidence intervals, lifts against control, a sample-ratio-mismatch check and sample "
      "sizes, from logged events joined by recommendation id");
  report->add_option("--experiment", f->experiment, "The experiment declaration (TOML)")
      ->required();
  report->add_option("--events", f->events,
                     "Logged events as JSON Lines (encore/event.h with rec and variant; - for "
                     "stdin)");
  report->add_option("--redis", f->redis,
                     "Read the events from this Redis (redis://HOST:PORT/DB) stream instead: "
                     "where POST /v1/events appends them");
  report->add_option("--stream", f->stream, "Key of that Redis stream")->capture_default_str();
  report->add_flag("--json", f->json, "Print the report as JSON");
  report->add_option("--confidence", f->options.confidence, "Confidence of every interval")
      ->capture_default_str();
  report
      ->add_option("--mde", f->options.mde,
                   "Minimum detectable relative effect for the sample sizes (0.05 = 5%)")
      ->capture_default_str();
  report->add_option("--power", f->options.power, "Power for the sample sizes")
      ->capture_default_str();
  report
      ->add_option("--srm-alpha", f->options.srm_alpha,
                   "Flag a sample-ratio mismatch below this p-value")
      ->capture_default_str();
  report
      ->add_option("--cs-users", f->options.cs_users,
                   "Users per variant at which the always-valid intervals (reported beside the "
                   "fixed-horizon ones) are tightest: their mixing parameter")
      ->capture_default_str();
  report->add_option("--exposure-event", f->options.exposure, "Event type of an exposure")
      ->capture_default_str();
  report->add_option("--click-event", f->options.click, "Event type of a click")
      ->capture_default_str();
  report->add_option("--cart-event", f->options.cart, "Event type of an add-to-cart")
      ->capture_default_str();
  report
      ->add_option("--purchase-event", f->options.purchase,
                   "Event type of a purchase (revenue: price x quantity)")
      ->capture_default_str();
  CLI::App* check = app->add_subcommand(
      "check", "Validate a declaration and print each variant's share, or the variant of --user");
  check->add_option("file", f->check_file, "The experiment declaration (TOML)")->required();
  check->add_option("--user", f->users, "Print the variant of this user (repeatable)");
  CLI::App* replay = app->add_subcommand(
      "replay",
      "Offline replay: per model, ranking metrics of its top-N (fold-in from each user's history "
      "before the period) against what users active in a logged period went on to do, and each "
      "model's difference from the first with a paired bootstrap interval");
  f->input.Register(replay);
  replay
      ->add_option("--from", f->from,
                   "Start of the replayed period (inclusive): ISO 8601 or unix seconds; earlier "
                   "rows are the users' history")
      ->required();
  replay->add_option("--to", f->to, "End of the period (exclusive): ISO 8601 or unix seconds")
      ->required();
  replay
      ->add_option("--model", f->models,
                   "A saved model, NAME=MODEL_FILE or MODEL_FILE (repeat; two or more; the first "
                   "is the baseline)")
      ->required();
  replay
      ->add_option("--metrics", f->metrics,
                   "Per-user ranking metrics (precision, recall, map, ndcg, hit; @K; "
                   "comma-separated); top-N is the largest K")
      ->capture_default_str();
  replay->add_option("--bootstrap", f->bootstrap, "Paired bootstrap replications")
      ->capture_default_str();
  replay->add_option("--confidence", f->replay_confidence, "Confidence of the difference intervals")
      ->capture_default_str();
  replay->add_option("--seed", f->seed, "Seed of the bootstrap")->capture_default_str();
  replay->add_flag("--json", f->replay_json, "Print the report as JSON");
  return {app, [f, report, check, replay] {
            if (replay->parsed()) {
              ReplayOptions options;
              auto input = f->input.Resolve();
              if (!input.ok()) return PrintError(input.status());
              options.input = std::move(*input);
              options.threads = f->input.threads;
              if (!io::ParseTimestamp(f->from, TimeUnit::kSeconds, &options.start)) {
                return PrintError(Status::InvalidArgument(
                    "--from: '" + f->from +
                    "' is not a time; give ISO 8601 (2026-12-01T00:00:00Z) or unix seconds"));
              }
              if (!io::ParseTimestamp(f->to, TimeUnit::kSeconds, &options.stop)) {
                return PrintError(Status::InvalidArgument(
                    "--to: '" + f->to +
                    "' is not a time; give ISO 8601 (2026-12-01T00:00:00Z) or unix seconds"));
              }
              for (const std::string& m : f->models) {
                const size_t eq = m.find('=');
                ReplayModel rm;
                rm.path = eq == std::string::npos ? m : m.substr(eq + 1);
                rm.name = eq == std::string::npos ? m : m.substr(0, eq);
                if (rm.name.empty() || rm.path.empty()) {
                  return PrintError(Status::InvalidArgument(
                      "--model '" + m + "': give NAME=MODEL_FILE or MODEL_FILE"));
                }
                options.models.push_back(std::move(rm));
              }
              auto metrics = ParseMetrics(f->metrics);
              if (!metrics.ok()) return PrintError(metrics.status());
              options.metrics = std::move(*metrics);
              options.bootstrap = f->bootstrap;
              options.confidence = f->replay_confidence;
              options.seed = f->seed;
              if (!f->input.quiet) {
                options.log = [](const std::string& line) {
                  std::fprintf(stderr, "%s\n", line.c_str());
                };
              }
              auto r = ReplayModels(options);
              if (!r.ok()) return PrintError(r.status());
              const std::string out =
                  f->replay_json ? ReplayReportJson(*r) + "\n" : ReplayReportText(*r);
              std::fwrite(out.data(), 1, out.size(), stdout);
              return kExitOk;
            }
            if (report->parsed()) {
              auto experiment = LoadExperiment(f->experiment);
              if (!experiment.ok()) return PrintError(experiment.status());
              std::vector<Event> events;
              std::map<std::string, uint64_t> unreadable;
              uint64_t lines = 0;
              if (f->events.empty() == f->redis.empty()) {
                return PrintError(Status::InvalidArgument(
                    "pass the logged events: --events FILE (JSON Lines) or --redis "
                    "redis://HOST:PORT/DB (the stream POST /v1/events writes)"));
              }
              Status read =
                  f->redis.empty()
                      ? stream::ReadEventsFile(f->events, &events, &unreadable, &lines)
                      : stream::ReadRedisEvents(f->redis, f->stream, &events, &unreadable, &lines);
              if (!read.ok()) return PrintError(read);
              auto r = AnalyzeExperiment(*experiment, events, f->options);
              if (!r.ok()) return PrintError(r.status());
              r->events = lines;
              for (const auto& [reason, n] : unreadable) r->rejected[reason] += n;
              const std::string out =
                  f->json ? ExperimentReportJson(*r) + "\n" : ExperimentReportText(*r);
              std::fwrite(out.data(), 1, out.size(), stdout);
              return kExitOk;
            }
            if (check->parsed()) {
              auto e = LoadExperiment(f->check_file);
              if (!e.ok()) return PrintError(e.status());
              if (!f->users.empty()) {
                for (const auto& u : f->users) {
                  std::printf("%s\t%s\n", u.c_str(), e->variants[e->Assign(u)].name.c_str());
                }
                return kExitOk;
              }
              std::printf("experiment %s: %zu variants, control %s, %zu forced users\n",
                          e->name.c_str(), e->variants.size(), e->variants[e->control].name.c_str(),
                          e->forced.size());
              for (const auto& v : e->variants) {
                std::printf("  %s  share %g%%  payload %s\n", v.name.c_str(), v.share,
                            v.payload.c_str());
              }
              return kExitOk;
            }
            return kExitUsage;
          }};
}

}  // namespace encore::cli
