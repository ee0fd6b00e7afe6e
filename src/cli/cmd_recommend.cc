// encore recommend / encore similar: batch outputs from a model file alone.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "encore/ann.h"
#include "encore/batch.h"
#include "encore/workflow.h"
#ifdef ENCORE_HAVE_MPI
#include "distributed/distributed.h"
#endif

namespace encore::cli {

namespace {

void PrintReport(const char* what, const BatchReport& r, const std::string& out, bool quiet) {
  if (quiet) return;
  std::fprintf(stderr,
               "encore: %s: %llu requested, %llu answered, %llu with nothing to return, "
               "%llu unknown; %llu rows written to %s\n",
               what, static_cast<unsigned long long>(r.requested),
               static_cast<unsigned long long>(r.answered),
               static_cast<unsigned long long>(r.empty), static_cast<unsigned long long>(r.unknown),
               static_cast<unsigned long long>(r.rows), out.c_str());
  for (const auto& id : r.first_unknown)
    std::fprintf(stderr, "encore: unknown id: %s\n", id.c_str());
}

}  // namespace

Command RegisterRecommend(CLI::App& root) {
  CLI::App* app =
      root.add_subcommand("recommend", "Top-N recommendations per user from a model file");
  struct Flags {
    std::string model_file, users, out, allow, deny;
    uint32_t n = 0, ef = 0;
    bool include_seen = false, quiet = false, approximate = false;
    int threads = 0;
  };
  auto f = std::make_shared<Flags>();
  app->add_option("--model-file", f->model_file, "Model written by encore train")->required();
  app->add_option("--n", f->n,
                  "Items per user (default: the model's n, else 20 for "
                  "cooccurrence and 10 for the others)");
  app->add_option("--users", f->users, "File with one user id per line (default: every user)");
  app->add_flag("--include-seen", f->include_seen, "Also recommend items the user already has");
  app->add_option("--allow", f->allow,
                  "File with one item id per line: only these may be recommended");
  app->add_option("--deny", f->deny, "File with one item id per line: never recommend these");
  app->add_option("--out", f->out,
                  "Output: CSV user,item,score,rank (.jsonl: JSON Lines; .gz: gzip; -: stdout); "
                  "under mpirun a directory of part files and _SUCCESS (a name ending in "
                  ".jsonl: JSON Lines parts)")
      ->required();
  app->add_option("--threads", f->threads, "Threads (0 = all cores)")->capture_default_str();
  app->add_flag("--approximate", f->approximate,
                "Candidates from the model's approximate index (<model>.ann, written by "
                "encore index or train --ann hnsw)");
  app->add_option("--ef", f->ef, "Search breadth of --approximate (0 = the index's default)")
      ->capture_default_str();
  app->add_flag("-q,--quiet", f->quiet, "No progress or summary lines on stderr");
  return {app, [f] {
#ifdef ENCORE_HAVE_MPI
            // Under mpirun: every rank ranks its block of users into
            // --out/part-RRRRR, rank 0 writes --out/_SUCCESS when all succeeded.
            if (distributed::LaunchedByMpi()) {
              if (f->approximate) {
                return PrintError(Status::InvalidArgument(
                    "--approximate is not supported under mpirun; run encore recommend "
                    "--approximate without mpirun"));
              }
              RecommendRequest request;
              request.n = f->n;
              request.exclude_seen = !f->include_seen;
              request.ids_file = f->users;
              request.allow_file = f->allow;
              request.deny_file = f->deny;
              std::string dir = f->out;
              while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
              if (dir == "-") {
                return PrintError(Status::InvalidArgument(
                    "under mpirun --out names a directory for the part files, not standard "
                    "output"));
              }
              const bool jsonl = dir.size() >= 6 && dir.compare(dir.size() - 6, 6, ".jsonl") == 0;
              distributed::Session session;
              Result<distributed::RecommendResult> r = distributed::RecommendParts(
                  session, f->model_file, request, dir, jsonl, f->threads);
              if (!r.ok()) return session.rank() == 0 ? PrintError(r.status()) : kExitError;
              if (session.rank() == 0 && !f->quiet) {
                std::fprintf(stderr,
                             "encore: recommend on %d ranks: %llu rows written to %s/part-* "
                             "and %s/_SUCCESS\n",
                             r->ranks, static_cast<unsigned long long>(r->rows), dir.c_str(),
                             dir.c_str());
              }
              return kExitOk;
            }
#endif
            auto model = LoadModel(f->model_file);
            if (!model.ok()) return PrintError(model.status());
            if (f->threads > 0) model->model->set_threads(f->threads);
            std::unique_ptr<AnnIndex> index;
            if (f->approximate) {
              auto loaded = LoadAnnIndex(f->model_file);
              if (!loaded.ok()) return PrintError(loaded.status());
              index = std::move(loaded).value();
            }
            RecommendRequest request;
            request.n = f->n;
            request.exclude_seen = !f->include_seen;
            request.ids_file = f->users;
            request.allow_file = f->allow;
            request.deny_file = f->deny;
            Progress progress(f->quiet ? Progress::Mode::kQuiet : Progress::Mode::kAuto);
            auto report = RecommendToFile(*model, request, f->out, &progress);
            if (!report.ok()) return PrintError(report.status());
            PrintReport("recommend", *report, f->out, f->quiet);
            return kExitOk;
          }};
}

Command RegisterSimilar(CLI::App& root) {
  CLI::App* app = root.add_subcommand("similar", "Most similar items per item from a model file");
  struct Flags {
    std::string model_file, items, out;
    uint32_t n = 0;
    bool quiet = false, approximate = false;
  };
  auto f = std::make_shared<Flags>();
  app->add_option("--model-file", f->model_file, "Model written by encore train")->required();
  app->add_option("--n", f->n,
                  "Similar items per item (default: the model's n, else 20 for "
                  "cooccurrence and 10 for the others)");
  app->add_option("--items", f->items, "File with one item id per line (default: every item)");
  app->add_option("--out", f->out,
                  "Output: CSV item,similar_item,score,rank (.jsonl, .gz: gzip, -: stdout)")
      ->required();
  app->add_flag("--approximate", f->approximate,
                "Candidates from the model's approximate index (<model>.ann)");
  app->add_flag("-q,--quiet", f->quiet, "No progress or summary lines on stderr");
  return {app, [f] {
            auto model = LoadModel(f->model_file);
            if (!model.ok()) return PrintError(model.status());
            std::unique_ptr<AnnIndex> index;
            if (f->approximate) {
              auto loaded = LoadAnnIndex(f->model_file);
              if (!loaded.ok()) return PrintError(loaded.status());
              index = std::move(loaded).value();
            }
            RecommendRequest request;
            request.kind = RecommendKind::kSimilar;
            request.n = f->n;
            request.ids_file = f->items;
            Progress progress(f->quiet ? Progress::Mode::kQuiet : Progress::Mode::kAuto);
            auto report = RecommendToFile(*model, request, f->out, &progress);
            if (!report.ok()) return PrintError(report.status());
            PrintReport("similar", *report, f->out, f->quiet);
            return kExitOk;
          }};
}

}  // namespace encore::cli
