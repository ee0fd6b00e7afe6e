// encore demo: the main job on the documented defaults. Generates a retail
// event log, reads it the way a retailer would (weighted events, obfuscated
// emails), prints its profile, evaluates implicit ALS against popularity with
// the default protocol, trains on everything, writes the model file and
// prints sample recommendations, publishes a serving snapshot and prints the
// commands that serve it. Every step is the library call the other commands
// and pipelines use (encore/input.h, evaluate.h, workflow.h), with their
// defaults: the demo has no parameters of its own.

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>

#include "cli/commands.h"
#include "cli/input_flags.h"
#include "encore/evaluate.h"
#include "encore/generate.h"
#include "encore/input.h"
#include "encore/profile.h"
#include "encore/publish.h"
#include "encore/rank.h"
#include "encore/recommender.h"
#include "encore/workflow.h"

namespace encore::cli {

namespace {

// A fresh random key for the demo's obfuscation step, readable by the owner only.
Status WriteDemoKey(const std::string& path) {
  std::random_device rd;
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string key;
  for (int i = 0; i < 40; ++i) key += kAlphabet[rd() % (sizeof(kAlphabet) - 1)];
  std::ofstream f(path, std::ios::trunc);
  f << key << "\n";
  if (!f) return Status::IOError("cannot write demo key '" + path + "'");
  f.close();
  ::chmod(path.c_str(), 0600);
  return Status::OK();
}

// Percent-encodes everything but unreserved characters, for a pasteable URL.
std::string PercentEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

Command RegisterDemo(CLI::App& root) {
  CLI::App* app = root.add_subcommand("demo",
                                      "Run the main job on embedded defaults: generate retail "
                                      "events, read, profile, evaluate, train, publish");
  struct Flags {
    std::string out = "encore-demo";
    uint64_t users = 20000, items = 5000, rows = 500000, seed = 42;
    bool quiet = false;
  };
  auto f = std::make_shared<Flags>();
  app->add_option("--out", f->out, "Working directory for the demo's files")->capture_default_str();
  app->add_option("--users", f->users, "Generated users")->capture_default_str();
  app->add_option("--items", f->items, "Generated items")->capture_default_str();
  app->add_option("--rows", f->rows, "Generated events")->capture_default_str();
  app->add_option("--seed", f->seed, "Random seed")->capture_default_str();
  app->add_flag("-q,--quiet", f->quiet, "No progress lines on stderr");
  return {
      app, [f] {
        Progress progress(f->quiet ? Progress::Mode::kQuiet : Progress::Mode::kAuto);
        GenerateOptions gen;
        gen.profile = GenerateProfile::kRetail;
        gen.users = f->users;
        gen.items = f->items;
        gen.rows = f->rows;
        gen.seed = f->seed;
        gen.out_dir = f->out;
        std::printf("== 1. generate: retail events (view -> cart -> wishlist -> purchase)\n");
        Result<GenerateReport> generated = Generate(gen, &progress);
        if (!generated.ok()) return PrintError(generated.status());
        for (const auto& file : generated->files) {
          std::printf("   wrote %s (%llu rows)\n", file.path.c_str(),
                      static_cast<unsigned long long>(file.rows));
        }

        std::printf(
            "\n== 2. read: weights view=3,cart=10,wishlist=30,purchase=40; "
            "emails obfuscated\n");
        const std::string key_file = f->out + "/obfuscation.key";
        if (Status s = WriteDemoKey(key_file); !s.ok()) return PrintError(s);
        // The demo's scenario is its input (weights, an obfuscated column); every
        // parameter of evaluation, training, recommending and publishing is the
        // documented default, as `encore evaluate`, `train`, `recommend`,
        // `publish` and a pipeline use it.
        InputOptions input;
        input.files = {f->out + "/events.csv"};
        const std::string weights = "view=3,cart=10,wishlist=30,purchase=40";
        for (auto [name, value] : {std::pair<const char*, std::string>{"weights", weights},
                                   {"obfuscate", "email"},
                                   {"obfuscation_key_file", key_file}}) {
          if (Status s = SetInputOption(&input, name, value); !s.ok()) return PrintError(s);
        }
        std::printf(
            "   encore stats --input %s --weights %s --obfuscate email "
            "--obfuscation-key-file %s\n\n",
            input.files[0].c_str(), weights.c_str(), key_file.c_str());
        std::fflush(stdout);
        ReadReport report;
        Result<Dataset> data = LoadInput(input, f->quiet, &report);
        if (!data.ok()) return PrintError(data.status());

        std::printf("== 3. profile\n");
        std::string table = FormatProfileTable(ComputeProfile(*data, report));
        std::fwrite(table.data(), 1, table.size(), stdout);

        const EvaluationProtocol protocol;  // the documented defaults
        const ModelParams params;           // likewise (encore params)
        const Feedback feedback = DefaultFeedback(input.format);
        const std::vector<Metric> metrics = ProtocolMetrics(protocol, feedback);
        Result<EvaluationRun> probe =
            RunEvaluation("popularity", params, *data, feedback, protocol);
        if (!probe.ok()) return PrintError(probe.status());
        std::printf("\n== 4. evaluate (the defaults of encore evaluate): %s\n",
                    probe->summary.protocol.c_str());
        std::printf("   %-12s", "model");
        for (const Metric& m : metrics) std::printf(" %12s", m.Name().c_str());
        std::printf(" %8s\n", "fit s");
        for (const char* kind : {"popularity", "ials"}) {
          Result<EvaluationRun> run = std::string(kind) == "popularity"
                                          ? std::move(probe)
                                          : RunEvaluation(kind, params, *data, feedback, protocol);
          if (!run.ok()) return PrintError(run.status());
          const CvReport& cv = run->summary.result;
          std::printf("   %-12s", kind);
          for (const Metric& m : metrics) std::printf(" %12.4f", cv.Mean(m));
          double fit = 0;
          for (const EvalReport& r : cv.folds) fit += r.fit_seconds;
          std::printf(" %8.2f\n", fit);
        }

        std::printf("\n== 5. train ials on everything, write the model file\n");
        const std::string model_file = f->out + "/ials.model";
        Result<TrainedModel> model = TrainAndSave("ials", params, *data, model_file, nullptr, &progress);
        if (!model.ok()) return PrintError(model.status());
        const TrainedModel& trained = *model;
        std::printf("   wrote %s\n", model_file.c_str());

        const RecommendRequest request;  // the defaults of encore recommend
        Result<ResolvedRequest> query = ResolveRecommendRequest(trained, request);
        if (!query.ok()) return PrintError(query.status());
        std::printf("\n== 6. sample recommendations (top %u, items already seen excluded)\n",
                    query->query.n);
        for (uint32_t u : {0u, 1u, 2u}) {
          if (u >= trained.users.size()) break;
          std::printf("   %s:", std::string(trained.users.Name(u)).c_str());
          for (const ScoredItem& r : Recommend(*trained.model, u, query->query)) {
            std::printf(" %s (%.3f)", std::string(trained.items.Name(r.item)).c_str(), r.score);
          }
          std::printf("\n");
        }
        const PublishOptions publish;  // the defaults of encore publish
        std::printf(
            "\n== 7. publish: every user's top %u, similar items and the model, as a "
            "serving snapshot\n",
            publish.n);
        const std::string store_dir = f->out + "/store";
        auto published = PublishToStore(trained, publish, store_dir, &progress);
        if (!published.ok()) return PrintError(published.status());
        std::printf("   snapshot %llu in %s: %llu user payloads, %llu similar-item payloads\n",
                    static_cast<unsigned long long>(published->snapshot.version), store_dir.c_str(),
                    static_cast<unsigned long long>(published->user_payloads),
                    static_cast<unsigned long long>(published->similar_payloads));

        const std::string user(trained.users.Name(0));
        std::printf(
            "\n== 8. serve it\n"
            "   encore serve --store %s --port 8080 &\n"
            "   curl -s http://127.0.0.1:8080/v1/users/%s/recommendations\n"
            "   curl -s 'http://127.0.0.1:8080/v1/users/nobody/recommendations"
            "?fallback=popular&limit=3'\n",
            store_dir.c_str(), PercentEncode(user).c_str());
        std::printf(
            "\nNext: encore recommend --model-file %s --n 10 --out recs.csv\n"
            "      encore evaluate --help, encore train --help, encore params\n",
            model_file.c_str());
        return kExitOk;
      }};
}

}  // namespace encore::cli
