// encore index: build the approximate-search index of a model file and save
// it beside the model (<model>.ann; see encore/ann.h).

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "encore/ann.h"
#include "encore/recommender.h"
#include "util/json_writer.h"

namespace encore::cli {

void RegisterAnnFlags(CLI::App* app, AnnOptions* o) {
  app->add_option("--ann-m", o->m, "HNSW graph degree (links per item)")->capture_default_str();
  app->add_option("--ann-ef-construction", o->ef_construction, "HNSW search breadth while building")
      ->capture_default_str();
  app->add_option("--ann-ef", o->ef,
                  "Default search breadth of approximate queries (docs/BENCHMARKS.md)")
      ->capture_default_str();
}

Status BuildAndSaveIndex(const TrainedModel& model, const std::string& model_file,
                         const AnnOptions& options, bool quiet, double* seconds) {
  const auto start = std::chrono::steady_clock::now();
  if (!quiet) {
    std::fprintf(stderr, "encore: building the approximate index of %u items...\n",
                 model.model->num_items());
  }
  ENCORE_ASSIGN_OR_RETURN(auto index, AnnIndex::Build(*model.model, options));
  ENCORE_RETURN_IF_ERROR(SaveAnnIndex(*index, model_file));
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return Status::OK();
}

Command RegisterIndex(CLI::App& root) {
  CLI::App* app = root.add_subcommand(
      "index", "Build the approximate nearest-neighbour index of a model file (<model>.ann)");
  struct Flags {
    std::string model_file;
    AnnOptions ann;
    bool json = false, quiet = false;
    int threads = 0;
  };
  auto f = std::make_shared<Flags>();
  app->add_option("--model-file", f->model_file, "Model written by encore train (als, ials, bpr, svdpp)")
      ->required();
  RegisterAnnFlags(app, &f->ann);
  app->add_option("--threads", f->threads, "Build threads (0 = all cores)")->capture_default_str();
  app->add_flag("--json", f->json, "Print one JSON object instead of text");
  app->add_flag("-q,--quiet", f->quiet, "No progress lines on stderr");
  return {app, [f] {
            auto model = LoadModel(f->model_file);
            if (!model.ok()) return PrintError(model.status());
            f->ann.threads = f->threads;
            double seconds = 0;
            if (Status s = BuildAndSaveIndex(*model, f->model_file, f->ann, f->quiet, &seconds);
                !s.ok()) {
              return PrintError(s);
            }
            const std::string path = AnnSidecarPath(f->model_file);
            if (f->json) {
              JsonWriter w(2);
              w.BeginObject();
              w.Key("index_file");
              w.String(path);
              w.Key("items");
              w.Uint(model->model->num_items());
              w.Key("m");
              w.Uint(f->ann.m);
              w.Key("ef_construction");
              w.Uint(f->ann.ef_construction);
              w.Key("ef");
              w.Uint(f->ann.ef);
              w.Key("build_seconds");
              w.Double(seconds);
              w.EndObject();
              std::printf("%s\n", w.str().c_str());
            } else {
              std::printf("indexed %u items of %s in %.2fs; wrote %s\n", model->model->num_items(),
                          f->model_file.c_str(), seconds, path.c_str());
            }
            return kExitOk;
          }};
}

}  // namespace encore::cli
