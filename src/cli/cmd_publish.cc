// encore publish: compute every serving payload of a model file and commit
// them as a new snapshot of a store (docs/SERVING.md).

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "encore/experiment.h"
#include "encore/publish.h"
#include "encore/workflow.h"
#include "pipeline/manifest.h"

namespace encore::cli {

Command RegisterPublish(CLI::App& root) {
  CLI::App* app = root.add_subcommand(
      "publish", "Write a model's recommendations to a serving store as a new snapshot");
  struct Flags {
    std::string model_file, store;
    uint32_t n = 0;
    PublishOptions options;
    bool no_model = false, include_seen = false, quiet = false;
    int threads = 0;
    std::vector<std::string> variants;
  };
  auto f = std::make_shared<Flags>();
  app->add_option("--model-file", f->model_file, "Model written by encore train")->required();
  app->add_option("--store", f->store,
                  "Serving store: a directory (LMDB; created when absent) or redis://HOST:PORT/DB")
      ->required();
  app->add_option("--n", f->n, "Recommendations per user (default: the model's n, else 20)");
  app->add_option("--similar-n", f->options.similar_n, "Similar items per item (0 = none)")
      ->capture_default_str();
  app->add_option("--popular-n", f->options.popular_n,
                  "Items in the popular fallback for unknown users")
      ->capture_default_str();
  app->add_option("--keep", f->options.keep,
                  "Snapshots kept after publishing (the current one is always kept)")
      ->capture_default_str();
  app->add_option("--high-water-mark", f->options.high_water,
                  "Lambda: the position in the event stream up to which the model's data holds "
                  "every event: id:MS-SEQ (a Redis stream entry id), time:SECONDS, or "
                  "manifest:PATH (the mark a pipeline run recorded in its manifest.json: the max "
                  "event time of its prepared data). encore stream then folds in exactly the "
                  "events after it over this snapshot (docs/STREAMING.md)");
  app->add_flag("--no-model", f->no_model,
                "Do not store the model (POST /v1/recommendations fold-in is then unavailable)");
  app->add_flag("--include-seen", f->include_seen, "Also recommend items the user already has");
  app->add_option("--variant", f->variants,
                  "An experiment variant NAME=MODEL_FILE published beside the model's own "
                  "payloads (repeatable; docs/EXPERIMENTS.md)");
  app->add_option("--threads", f->threads, "Threads (0 = all cores)")->capture_default_str();
  app->add_flag("-q,--quiet", f->quiet, "No progress lines on stderr");
  return {app, [f] {
            // A bad --store fails before a large model is read; a missing
            // model file fails before a store directory is created.
            if (::access(f->model_file.c_str(), R_OK) != 0) {
              return PrintError(LoadModel(f->model_file).status());
            }
            std::string high_water = f->options.high_water;
            if (high_water.starts_with("manifest:")) {
              auto mark = pipeline::HighWaterMarkFromManifest(
                  high_water.substr(std::string_view("manifest:").size()), f->model_file);
              if (!mark.ok()) {
                return PrintError(
                    Status(mark.status().code(), "--high-water-mark: " + mark.status().message()));
              }
              high_water = *mark;
            }
            if (auto parsed = ParseHighWater(high_water); !parsed.ok()) {
              return PrintError(Status(parsed.status().code(),
                                       "--high-water-mark: " + parsed.status().message()));
            }
            auto store = Store::Open(f->store);
            if (!store.ok()) return PrintError(store.status());
            auto model = LoadModel(f->model_file);
            if (!model.ok()) return PrintError(model.status());
            if (f->threads > 0) model->model->set_threads(f->threads);
            std::vector<TrainedModel> variant_models;
            variant_models.reserve(f->variants.size());
            PublishOptions options = f->options;
            for (const std::string& spec : f->variants) {
              const size_t eq = spec.find('=');
              if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
                return PrintError(Status::InvalidArgument(
                    "--variant '" + spec + "': expected NAME=MODEL_FILE, e.g. treatment=b.model"));
              }
              const std::string name = spec.substr(0, eq);
              if (Status s = CheckVariantName(name); !s.ok()) return PrintError(s);
              auto vm = LoadModel(spec.substr(eq + 1));
              if (!vm.ok()) return PrintError(vm.status());
              if (f->threads > 0) vm->model->set_threads(f->threads);
              variant_models.push_back(std::move(*vm));
            }
            for (size_t k = 0; k < f->variants.size(); ++k) {
              options.variants.push_back(
                  {f->variants[k].substr(0, f->variants[k].find('=')), &variant_models[k]});
            }
            options.high_water = high_water;
            options.n = f->n;  // 0: the model's n, else 20 (PublishModel)
            options.include_model = !f->no_model;
            options.exclude_seen = !f->include_seen;
            Progress progress(f->quiet ? Progress::Mode::kQuiet : Progress::Mode::kAuto);
            auto report = PublishModel(*model, options, store->get(), &progress);
            if (!report.ok()) return PrintError(report.status());
            for (const auto& note : report->notes) {
              std::fprintf(stderr, "encore: note: %s\n", note.c_str());
            }
            if (report->skipped_ids > 0) {
              std::fprintf(stderr,
                           "encore: note: %llu ids were skipped: empty or longer than a store "
                           "key may be\n",
                           static_cast<unsigned long long>(report->skipped_ids));
            }
            std::printf(
                "published snapshot %llu to %s: %llu user payloads, %llu similar-item "
                "payloads, %llu bytes in %.2f s\n",
                static_cast<unsigned long long>(report->snapshot.version), f->store.c_str(),
                static_cast<unsigned long long>(report->user_payloads),
                static_cast<unsigned long long>(report->similar_payloads),
                static_cast<unsigned long long>(report->bytes), report->seconds);
            return kExitOk;
          }};
}

}  // namespace encore::cli
