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
#ifdef ENCORE_HAVE_MPI
#include "distributed/distributed.h"
#endif

namespace encore::cli {

namespace {

// "512M", "2G", "1500000" -> bytes (K, M, G, T are powers of 1024).
Result<uint64_t> ParseBytes(const std::string& text) {
  if (text.empty()) return uint64_t{0};
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (...) {
    used = 0;
  }
  std::string unit = text.substr(used);
  double scale = 1;
  if (unit == "K" || unit == "KiB")
    scale = 1024.0;
  else if (unit == "M" || unit == "MiB")
    scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "GiB")
    scale = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "TiB")
    scale = 1024.0 * 1024 * 1024 * 1024;
  else if (!unit.empty())
    used = 0;
  if (used == 0 || !(v > 0)) {
    return Status::InvalidArgument("--memory-budget '" + text +
                                   "' is not a size: give bytes, or a number with K, M, G or T "
                                   "(e.g. 512M, 2G)");
  }
  return static_cast<uint64_t>(v * scale);
}

}  // namespace

Command RegisterTrain(CLI::App& root) {
  CLI::App* app =
      root.add_subcommand("train", "Read interactions, fit a model, write a model file");
  struct Flags {
    InputFlags input;
    ModelFlags model_flags;
    std::string model, out, ann;
    AnnOptions ann_options;
    bool json = false;
    std::string memory_budget;
    double balance_margin = 0.3;  // distributed::kDefaultBalanceMargin
  };
  auto f = std::make_shared<Flags>();
  app->add_option("--model", f->model, "als | bpr | ease | ials | svdpp | cooccurrence | popularity")
      ->required();
  app->add_option("--out", f->out, "Model file to write ('-': standard output)")->required();
  app->add_flag("--json", f->json, "Print one JSON object (with fit_seconds) instead of text");
  app->add_option("--ann", f->ann,
                  "Also build the approximate-search index (hnsw) and save it beside the model "
                  "(<out>.ann); als, ials, bpr, svdpp")
      ->check(CLI::IsMember({"hnsw"}));
  RegisterAnnFlags(app, &f->ann_options);
  // Registered in every build (the help text and docs/CLI.md stay the same);
  // the estimate lives in src/distributed, so a build without MPI refuses it.
  app->add_option("--memory-budget", f->memory_budget,
                  "Declared memory per process (e.g. 2G); ials/als fail up front, naming the "
                  "mpirun rank count needed, when the estimate (docs/SCALING.md) exceeds it");
  app->add_option("--balance-margin", f->balance_margin,
                  "Under mpirun (ials, als): share of a block's cost of its neighbours' rows "
                  "each rank also holds, so rows move to the faster rank between half-sweeps; "
                  "0 keeps the blocks fixed")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  CLI::Option* balance_margin = app->get_option("--balance-margin");
  f->input.Register(app);
  f->model_flags.Register(app);
  return {app, [f, balance_margin] {
            ModelParams params;
            if (Status s = f->model_flags.Apply(f->model, &params); !s.ok()) return PrintError(s);
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
                  "file, not '" +
                  f->out + "'; or build it later with encore index"));
            }
            params.threads = f->input.threads;
            if (Status s = CreateRecommender(f->model, params).status(); !s.ok()) {
              return PrintError(s);
            }
            Result<InputOptions> input = f->input.Resolve();
            if (!input.ok()) return PrintError(input.status());
            Result<uint64_t> budget = ParseBytes(f->memory_budget);
            if (!budget.ok()) return PrintError(budget.status());
#ifndef ENCORE_HAVE_MPI
            if (*budget > 0) {
              return PrintError(Status::InvalidArgument(
                  "--memory-budget needs a build with MPI (ENCORE_MPI, libopenmpi-dev); this "
                  "encore was built without it"));
            }
#endif
#ifdef ENCORE_HAVE_MPI
            static_assert(distributed::kDefaultBalanceMargin == 0.3, "the --balance-margin default");
            const bool under_mpirun = distributed::LaunchedByMpi();
#else
            const bool under_mpirun = false;
#endif
            if (balance_margin->count() > 0 && (!under_mpirun || f->model == "cooccurrence")) {
              return PrintError(Status::InvalidArgument(
                  "--balance-margin applies to training under mpirun (ials, als) only; drop it" +
                  std::string(under_mpirun ? " (cooccurrence splits its work in fixed blocks)"
                                           : ", or run `mpirun -np N encore train ...`")));
            }
#ifdef ENCORE_HAVE_MPI
            // Under mpirun: the distributed fit (src/distributed), same flags.
            if (distributed::LaunchedByMpi()) {
              if (!f->ann.empty()) {
                return PrintError(Status::InvalidArgument(
                    "--ann is not built under mpirun; build the index afterwards with "
                    "`encore index --model-file " +
                    f->out + "`"));
              }
              distributed::Session session;
              distributed::TrainOptions options;
              options.memory_budget = *budget;
              options.balance_margin = f->balance_margin;
              Result<distributed::TrainResult> r =
                  distributed::Train(session, f->model, params, *input, f->out, options);
              if (!r.ok()) return session.rank() == 0 ? PrintError(r.status()) : kExitError;
              if (session.rank() != 0) return kExitOk;
              // The exchange of rank 0, the busiest (it also gathers the seen matrix).
              const distributed::ExchangeStats& x = r->stats;
              if (f->json) {
                JsonWriter w(2);
                w.BeginObject();
                w.Key("model");
                w.String(f->model);
                w.Key("ranks");
                w.Uint(r->ranks);
                w.Key("fit_seconds");
                w.Double(r->train.fit_seconds);
                w.Key("read_seconds");
                w.Double(r->read_seconds);
                w.Key("shuffle_seconds");
                w.Double(r->shuffle_seconds);
                w.Key("exchange_seconds");
                w.Double(x.exchange_seconds);
                w.Key("rank0_fit_cpu_seconds");
                w.Double(r->fit_cpu_seconds);
                w.Key("max_fit_cpu_seconds");
                w.Double(r->max_fit_cpu_seconds);
                w.Key("users");
                w.Uint(r->users);
                w.Key("items");
                w.Uint(r->items);
                w.Key("nonzeros");
                w.Uint(r->nonzeros);
                w.Key("rows_read");
                w.Uint(r->read.rows_read);
                w.Key("rows_accepted");
                w.Uint(r->read.rows_accepted);
                w.Key("rows_rejected");
                w.Uint(r->read.rows_rejected);
                w.Key("rank0_estimated_bytes");
                w.Uint(r->estimated_bytes);
                w.Key("rank0_allreduce_bytes");
                w.Uint(x.allreduce_bytes);
                w.Key("rank0_allgather_bytes");
                w.Uint(x.gather_bytes);
                w.Key("rank0_shuffle_bytes");
                w.Uint(x.shuffle_bytes);
                w.Key("rank0_owned_users");
                w.Uint(r->owned_users);
                w.Key("rank0_owned_items");
                w.Uint(r->owned_items);
                w.Key("rank0_solved_users");
                w.Uint(x.solved_users);
                w.Key("rank0_solved_items");
                w.Uint(x.solved_items);
                w.Key("model_file");
                w.String(f->out);
                w.Key("model_bytes");
                w.Uint(r->train.file_bytes);
                w.EndObject();
                std::fprintf(summary, "%s\n", w.str().c_str());
              } else {
                std::fprintf(summary,
                             "trained %s on %llu ranks: %llu users x %llu items (%llu nonzeros) "
                             "in %.2fs (exchange %.2fs, %.1f MB received by rank 0); wrote %s "
                             "(%.1f MB)\n",
                             f->model.c_str(), static_cast<unsigned long long>(r->ranks),
                             static_cast<unsigned long long>(r->users),
                             static_cast<unsigned long long>(r->items),
                             static_cast<unsigned long long>(r->nonzeros), r->train.fit_seconds,
                             x.exchange_seconds, (x.allreduce_bytes + x.gather_bytes) / 1e6,
                             f->out.c_str(), r->train.file_bytes / 1e6);
              }
              return kExitOk;
            }
#endif
            ReadReport report;
            Result<Dataset> data = LoadInput(*input, f->input.quiet, &report);
            if (!data.ok()) return PrintError(data.status());
#ifdef ENCORE_HAVE_MPI
            if (*budget > 0 && (f->model == "ials" || f->model == "als")) {
              // Input rows, as `mpirun ... encore train` counts them, so
              // the rank count named here is the one it accepts.
              const uint64_t rows = report.rows_accepted;
              const uint64_t need = distributed::EstimateRankBytes(
                  data->users.size(), data->items.size(), rows, params.factors, 1,
                  f->model == "als" && params.biases);
              if (need > *budget) {
                const int ranks = distributed::RanksNeeded(
                    data->users.size(), data->items.size(), rows, params.factors,
                    f->model == "als" && params.biases, *budget, 2);
                return PrintError(Status::InvalidArgument(
                    "the memory budget of " + std::to_string(*budget / 1000000) +
                    " MB is too small for one process: " + f->model + " needs about " +
                    std::to_string(need / 1000000) + " MB (docs/SCALING.md); " +
                    (ranks > 0
                         ? "train with mpirun -np " + std::to_string(ranks) +
                               " encore train ... (at least " + std::to_string(ranks) + " ranks)"
                         : std::string("no rank count is enough: what does not shrink "
                                       "with more ranks (the factor matrices every rank "
                                       "holds, the seen matrix rank 0 gathers) exceeds it; "
                                       "lower --factors or raise --memory-budget"))));
              }
            }
#endif
            TrainReport trained_report;
            Progress fit_progress(f->input.quiet ? Progress::Mode::kQuiet : Progress::Mode::kAuto);
            Result<TrainedModel> model =
                TrainAndSave(f->model, params, *data, f->out, &trained_report, &fit_progress);
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
              std::fprintf(summary,
                           "trained %s on %u users x %u items (%llu nonzeros) in %.2fs; wrote %s "
                           "(%.1f MB)\n",
                           f->model.c_str(), trained.users.size(), trained.items.size(),
                           static_cast<unsigned long long>(trained.model->seen().nnz()),
                           fit_seconds, f->out.c_str(), trained_report.file_bytes / 1e6);
              if (!f->ann.empty()) {
                std::printf("indexed %u items in %.2fs; wrote %s\n", trained.items.size(),
                            index_seconds, AnnSidecarPath(f->out).c_str());
              }
            }
            return kExitOk;
          }};
}

}  // namespace encore::cli
