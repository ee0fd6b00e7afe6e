// encore train: read data, fit a model, write a model file.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "cli/model_flags.h"
#include "encore/recommender.h"
#include "encore/workflow.h"
#include "io/output_file.h"
#include "util/json_writer.h"

namespace encore::cli {

Command RegisterTrain(CLI::App& root) {
  CLI::App* app =
      root.add_subcommand("train", "Read interactions, fit a model, write a model file");
  struct Flags {
    InputFlags input;
    ModelFlags model_flags;
    std::string model, out, ann;
    AnnOptions ann_options;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  app->add_option("--model", f->model, "als | bpr | ease | ials | cooccurrence | popularity")
      ->required();
  app->add_option("--out", f->out, "Model file to write ('-': standard output)")->required();
  app->add_flag("--json", f->json, "Print one JSON object (with fit_seconds) instead of text");
  app->add_option("--ann", f->ann,
                  "Also build the approximate-search index (hnsw) and save it beside the model "
                  "(<out>.ann); als, ials, bpr")
      ->check(CLI::IsMember({"hnsw"}));
  RegisterAnnFlags(app, &f->ann_options);
  f->input.Register(app);
  f->model_flags.Register(app);
  return {app, [f] {
            ModelParams params;
            if (Status s = f->model_flags.Apply(&params); !s.ok()) return PrintError(s);
            // A bad --out fails now, not after the fit.
            io::OutputFileOptions out_options;
            out_options.what = "model file";
            out_options.gzip_by_extension = false;
            Result<io::OutputPathKind> out_kind = io::CheckOutputPath(f->out, out_options);
            if (!out_kind.ok()) return PrintError(out_kind.status());
            // With the model on standard output, the summary goes to stderr.
            std::FILE* summary = *out_kind == io::OutputPathKind::kStandardStream ? stderr : stdout;
            if (!f->ann.empty() && *out_kind != io::OutputPathKind::kRegular &&
                *out_kind != io::OutputPathKind::kNew) {
              return PrintError(Status::InvalidArgument(
                  "--ann saves the index beside the model file (<out>.ann), so --out must be a "
                  "file, not '" + f->out + "'; or build it later with encore index"));
            }
            params.threads = f->input.threads;
            if (Status s = CreateRecommender(f->model, params).status(); !s.ok()) {
              return PrintError(s);
            }
            Result<InputOptions> input = f->input.Resolve();
            if (!input.ok()) return PrintError(input.status());
            ReadReport report;
            Result<Dataset> data = LoadInput(*input, f->input.quiet, &report);
            if (!data.ok()) return PrintError(data.status());
            TrainReport trained_report;
            Result<TrainedModel> model =
                TrainAndSave(f->model, params, *data, f->out, &trained_report);
            if (!model.ok()) return PrintError(model.status());
            const TrainedModel& trained = *model;
            const double fit_seconds = trained_report.fit_seconds;
            double index_seconds = 0;
            if (!f->ann.empty()) {
              f->ann_options.threads = f->input.threads;
              f->ann_options.seed = params.seed;
              if (Status s = BuildAndSaveIndex(trained, f->out, f->ann_options, f->input.quiet,
                                               &index_seconds);
                  !s.ok()) {
                return PrintError(s);
              }
            }
            if (f->json) {
              JsonWriter w(2);
              w.BeginObject();
              w.Key("model");
              w.String(f->model);
              w.Key("fit_seconds");
              w.Double(fit_seconds);
              w.Key("users");
              w.Uint(trained.users.size());
              w.Key("items");
              w.Uint(trained.items.size());
              w.Key("nonzeros");
              w.Uint(trained.model->seen().nnz());
              w.Key("rows_read");
              w.Uint(report.rows_read);
              w.Key("rows_accepted");
              w.Uint(report.rows_accepted);
              w.Key("rows_rejected");
              w.Uint(report.rows_rejected);
              w.Key("model_file");
              w.String(f->out);
              w.Key("model_bytes");
              w.Uint(trained_report.file_bytes);
              if (!f->ann.empty()) {
                w.Key("index_file");
                w.String(AnnSidecarPath(f->out));
                w.Key("index_seconds");
                w.Double(index_seconds);
              }
              w.Key("params");
              w.BeginObject();
              for (const auto& [name, value] : ModelParamsToList(trained.model->params())) {
                w.Key(name);
                w.String(value);
              }
              w.EndObject();
              w.EndObject();
              std::fprintf(summary, "%s\n", w.str().c_str());
            } else {
              std::fprintf(
                  summary,
                  "trained %s on %u users x %u items (%llu nonzeros) in %.2fs; wrote %s "
                  "(%.1f MB)\n",
                  f->model.c_str(), trained.users.size(), trained.items.size(),
                  static_cast<unsigned long long>(trained.model->seen().nnz()), fit_seconds,
                  f->out.c_str(), trained_report.file_bytes / 1e6);
              if (!f->ann.empty()) {
                std::printf("indexed %u items in %.2fs; wrote %s\n", trained.items.size(),
                            index_seconds, AnnSidecarPath(f->out).c_str());
              }
            }
            return kExitOk;
          }};
}

}  // namespace encore::cli
