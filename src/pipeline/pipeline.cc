// Pipeline: loading, planning and running (the Runner below executes a Plan
// stage by stage and keeps the run's manifest up to date).
//
// Fault points (ENCORE_FAULT, see fault.h) of the runner, in run order:
//   after-start    the run directory and the first manifest exist
//   after-source   after each source is read
//   after-prepare  the dataset is built
//   after-model    after each model file is saved
//   before-output  before each output starts writing
//   mid-output     after the first row reached an output's writer
//   after-output   after each output is complete
// The output writers have their own (csv-mid-chunk, csv-before-swap, ...).

#include "encore/pipeline.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "data/feedback_check.h"
#include "encore/batch.h"
#include "encore/catalog.h"
#include "encore/evaluate.h"
#include "encore/generate.h"
#include "encore/member_features.h"
#include "encore/postgres_catalog.h"
#include "encore/product_score.h"
#include "encore/profile.h"
#include "encore/publish.h"
#include "encore/recommender.h"
#include "encore/retail.h"
#include "encore/retail_feeds.h"
#include "encore/store.h"
#include "encore/workflow.h"
#include "pipeline/config.h"
#include "pipeline/fault.h"
#include "pipeline/manifest.h"
#include "pipeline/output.h"
#include "pipeline/plan.h"
#include "pipeline/prepare.h"
#include "pipeline/rows.h"
#include "pipeline/staging.h"
#include "store/file_util.h"
#include "util/json_writer.h"
#include "util/threads.h"
#include "util/time_format.h"

namespace encore {

namespace fs = std::filesystem;
using namespace pipeline;

namespace {

// Fills `out`'s product, key, as_of, terms and score for catalog product `p`:
// the one explanation both `encore explain-product` and the published
// GET /v1/products/{id}/explain documents come from.
void ExplainProduct(const Catalog& catalog, const KeyIndex& keys, const ProductScores& scores,
                    uint32_t p, int64_t as_of, ProductScoreExplanation* out) {
  out->product = std::string(catalog.products().Name(p));
  out->key = std::string(keys.keys().Name(keys.key_of(p)));
  out->as_of = as_of;
  out->terms = scores.Explain(p);
  out->score = scores.score(p);
}

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Count(uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

// Passes rows through and fires the "mid-output" fault point once the first
// row has reached the writer.
class FaultRows final : public RowSource {
 public:
  explicit FaultRows(const RowSource& base) : base_(base) {}
  const std::vector<std::string>& columns() const override { return base_.columns(); }
  Status ForEach(
      const std::function<Status(std::span<const std::string_view>)>& row) const override {
    uint64_t n = 0;
    return base_.ForEach([&](std::span<const std::string_view> cells) {
      Status s = row(cells);
      if (++n == 1) MaybeFault("mid-output");
      return s;
    });
  }

 private:
  const RowSource& base_;
};

Result<Obfuscator> SourceObfuscator(const SourceConfig& s) {
  Result<Obfuscator> o = LoadObfuscator(s.input);
  if (!o.ok()) return Status(o.status().code(), "source '" + s.name + "': " + o.status().message());
  return o;
}

MetricValues ToValues(const std::vector<Metric>& metrics, const std::vector<double>& values) {
  MetricValues out;
  for (size_t i = 0; i < metrics.size() && i < values.size(); ++i) {
    out.emplace_back(metrics[i].Name(), values[i]);
  }
  return out;
}

// ------------------------------------------------------------------ Runner

class Runner {
 public:
  Runner(const PipelineConfig& c, const Plan& plan, const PipelineOptions& o)
      : c_(c), plan_(plan), options_(o), progress_(o.progress) {}

  Result<PipelineRunResult> Run();

 private:
  // What can be checked before anything runs: environment variables and key
  // files the planned stages need.
  Status Preflight() const;
  Status RunStage(size_t index, std::string* detail);
  Status RunSource(const SourceConfig& s, std::string* detail);
  Status RunPrepare(std::string* detail);
  Status RunModel(const ModelConfig& m, std::string* detail);
  Status RunRecommend(const RecommendConfig& r, std::string* detail);
  Status RunOutput(size_t index, const OutputConfig& o, std::string* detail);
  Status HighWaterFor(const OutputConfig& o, std::string* mark, std::string* note) const;
  Status RunRetail(std::string* detail);
  struct RetailState;
  Status RunSegments(const SegmentsConfig& g, const InteractionLog& log, const Dataset& data,
                     const ModelConfig& m, RetailState* state, std::string* detail);
  Status RunRetailOutput(const OutputConfig& o, ManifestOutput* record, OutputReport* report,
                         std::string* detail);
  void Say(const std::string& line) { progress_.Note("encore: " + line); }
  // A model fit: through options_.fitter (over MPI ranks) when it
  // distributes `kind`, else in this process (TrainAndSave).
  Result<TrainedModel> Fit(const std::string& kind, const ModelParams& params, const Dataset& data,
                           const std::string& path, TrainReport* report) {
    if (options_.fitter != nullptr) {
      if (options_.fitter->Distributes(kind)) {
        return options_.fitter->Fit(kind, params, data, path, report);
      }
      NoteLocal("model kind " + kind + " is not distributed");
    }
    return TrainAndSave(kind, params, data, path, report, &progress_);
  }
  // With a fitter: says once on stderr that `why` makes a fit run in this
  // process alone (rank 0), whatever the progress mode.
  void NoteLocal(const std::string& why) {
    if (options_.fitter == nullptr || !noted_local_.insert(why).second) return;
    std::fprintf(stderr, "encore: %s: its fits run on rank 0 alone, not over the %s\n", why.c_str(),
                 options_.fitter->Describe().c_str());
    std::fflush(stderr);
  }
  std::set<std::string> noted_local_;
  Status Save() { return WriteManifest(manifest_, run_dir_); }

  const PipelineConfig& c_;
  const Plan& plan_;
  const PipelineOptions& options_;
  Progress progress_;
  Manifest manifest_;
  std::string run_id_, run_dir_;
  std::map<std::string, std::vector<std::string>> source_files_;
  std::map<std::string, InteractionLog> logs_;
  std::string value_column_;
  store::FileLock run_lock_;  // held for the whole run; dies with the process

  // One run of a pipeline at a time per working directory: an flock(2) on
  // WORKDIR/.NAME.run.lock, released when the process ends however it ends.
  Status LockRuns() {
    std::error_code ec;
    fs::create_directories(c_.workdir, ec);
    if (ec) {
      return Status::IOError("cannot create " + c_.workdir + ": " + ec.message() +
                             "; check permissions or pass another --workdir");
    }
    const std::string path = c_.workdir + "/." + c_.name + ".run.lock";
    ENCORE_ASSIGN_OR_RETURN(run_lock_, store::FileLock::TryAcquire(path));
    if (!run_lock_.held()) {
      return Status::FailedPrecondition(
          "pipeline " + c_.name + " is already running in " + c_.workdir + " (" + path +
          " is locked by another encore process); wait for it to finish (encore runs list "
          "shows it) or pass another --workdir");
    }
    return Status::OK();
  }  // of the first source with one (feedback check)
  std::optional<Dataset> data_;
  std::map<std::string, TrainedModel> models_;
  std::map<std::string, std::unique_ptr<RecommendationRows>> rows_;
  // One segment's model and the steps and feeds over it ([retail.segments]).
  struct SegmentModel {
    TrainedModel model;
    std::optional<RetailSteps> steps;
    std::unique_ptr<Ranker> ranker;
    std::optional<RetailFeeds> feeds;
  };
  // The retail stage's state; its parts point at each other (stable addresses).
  struct RetailState {
    Catalog catalog;
    std::optional<KeyIndex> keys;
    TrainedModel model;
    std::optional<ProductScores> scores;
    std::optional<RetailSteps> steps;
    std::unique_ptr<Ranker> ranker;
    std::optional<RetailFeeds> feeds;
    // With segments: names, trained segment models, one route per model user.
    std::vector<std::string> segment_names;
    std::vector<std::unique_ptr<SegmentModel>> segment_models;
    std::vector<FeedRoute> routes;
  };
  std::unique_ptr<RetailState> retail_;
  PipelineRunResult result_;
};

Status Runner::Preflight() const {
  for (const Stage& stage : plan_.stages) {
    if (stage.kind == StageKind::kSource) {
      const SourceConfig& s = *c_.FindSource(stage.name);
      if (!s.read.obfuscate_cols.empty()) ENCORE_RETURN_IF_ERROR(SourceObfuscator(s).status());
    }
    if (stage.kind == StageKind::kRetail && c_.retail && !c_.retail->catalog_conninfo_env.empty()) {
      const char* env = std::getenv(c_.retail->catalog_conninfo_env.c_str());
      if (env == nullptr || *env == '\0') {
        return Status::InvalidArgument(
            "[retail.catalog]: environment variable " + c_.retail->catalog_conninfo_env +
            " (conninfo_env) is not set; export it with a libpq connection string (e.g. "
            "postgresql://user@localhost/db)");
      }
    }
    if (stage.kind == StageKind::kOutput) {
      const OutputConfig& o = *c_.FindOutput(stage.name);
      // Destinations that hold something encore did not write are refused
      // now, before any stage runs, not after training.
      if (o.kind == OutputKind::kCsv || o.kind == OutputKind::kJsonl ||
          o.kind == OutputKind::kRetail) {
        if (Status s = StagingDir::CheckReplaceable(OutputLocation(c_, o)); !s.ok()) {
          return Status(s.code(), "output '" + o.name + "': " + s.message());
        }
      }
      if (o.kind == OutputKind::kRetail || o.kind == OutputKind::kPublish) {
        if (Status s = Store::CheckDestination(StoreUri(c_, o)); !s.ok()) {
          return Status(s.code(), "output '" + o.name + "': " + s.message());
        }
      }
      if (o.kind != OutputKind::kPostgres || o.conninfo_env.empty()) continue;
      const char* env = std::getenv(o.conninfo_env.c_str());
      if (env == nullptr || *env == '\0') {
        return Status::InvalidArgument(
            "output '" + o.name + "': environment variable " + o.conninfo_env +
            " (conninfo_env) is not set; export it with a libpq connection string (e.g. "
            "postgresql://user@localhost/db), or leave this output out with --only");
      }
    }
  }
  return Status::OK();
}

Result<PipelineRunResult> Runner::Run() {
  ENCORE_RETURN_IF_ERROR(Preflight());
  ENCORE_RETURN_IF_ERROR(LockRuns());
  const auto start = std::chrono::steady_clock::now();
  const int64_t started = NowUnix();
  ENCORE_ASSIGN_OR_RETURN(run_id_, CreateRunDir(c_.workdir, started));
  run_dir_ = c_.workdir + "/runs/" + run_id_;
  manifest_.run_id = run_id_;
  manifest_.pipeline_name = c_.name;
  manifest_.pipeline_path = ResolvePath(fs::current_path().string(), c_.file);
  manifest_.workdir = c_.workdir;
  manifest_.run_dir = run_dir_;
  manifest_.only = options_.only;
  manifest_.keep = c_.keep;
  manifest_.started = started;
  manifest_.config = c_.write_json;
  for (const Stage& s : plan_.stages) {
    if (s.kind != StageKind::kOutput) continue;
    manifest_.output_locations.emplace_back(s.name, OutputLocation(c_, *c_.FindOutput(s.name)));
  }
  ENCORE_RETURN_IF_ERROR(Save());
  Say("run " + run_id_ + " of pipeline " + c_.name + ": " + std::to_string(plan_.stages.size()) +
      " stages; record in " + run_dir_ + "/manifest.json");
  MaybeFault("after-start");

  Status failure;
  std::string failed_stage;
  for (size_t i = 0; i < plan_.stages.size(); ++i) {
    const Stage& stage = plan_.stages[i];
    Say("[" + std::to_string(i + 1) + "/" + std::to_string(plan_.stages.size()) + "] " +
        stage.Label());
    const auto t0 = std::chrono::steady_clock::now();
    std::string detail;
    Status s = RunStage(i, &detail);
    ManifestStage record;
    record.stage = stage.Label();
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    record.status = s.ok() ? "succeeded" : "failed";
    record.detail = detail;
    manifest_.stages.push_back(record);
    if (!s.ok()) {
      failure = s;
      failed_stage = stage.Label();
      break;
    }
    Say("    " + detail + " (" + Seconds(record.seconds) + ")");
    ENCORE_RETURN_IF_ERROR(Save());
  }

  manifest_.finished = NowUnix();
  manifest_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result_.run_id = run_id_;
  result_.run_dir = run_dir_;
  result_.seconds = manifest_.seconds;
  if (!failure.ok()) {
    manifest_.status = "failed";
    manifest_.error = failed_stage + ": " + failure.message();
    Status saved = Save();
    return Status(failure.code(),
                  "run " + run_id_ + " failed in " + failed_stage + ": " + failure.message() +
                      (saved.ok() ? "" : " (and the manifest: " + saved.message() + ")"));
  }
  manifest_.status = "succeeded";
  ENCORE_RETURN_IF_ERROR(Save());
  std::vector<std::string> removed;
  if (Status s = PurgeRuns(c_.workdir, c_.name, c_.keep, run_id_, &removed); !s.ok()) {
    Say("warning: " + s.message());
  }
  if (!removed.empty()) {
    Say("removed " + std::to_string(removed.size()) + " old run(s) (keep " +
        std::to_string(c_.keep) + ")");
  }
  return result_;
}

Status Runner::RunStage(size_t index, std::string* detail) {
  const Stage& stage = plan_.stages[index];
  switch (stage.kind) {
    case StageKind::kSource:
      return RunSource(*c_.FindSource(stage.name), detail);
    case StageKind::kPrepare:
      return RunPrepare(detail);
    case StageKind::kModel:
      return RunModel(*c_.FindModel(stage.name), detail);
    case StageKind::kRecommend:
      return RunRecommend(*c_.FindRecommend(stage.name), detail);
    case StageKind::kOutput:
      return RunOutput(index, *c_.FindOutput(stage.name), detail);
    case StageKind::kRetail:
      return RunRetail(detail);
  }
  return Status::Internal("unknown stage");
}

Status Runner::RunSource(const SourceConfig& s, std::string* detail) {
  std::vector<std::string> files;
  bool generated = false;
  if (s.generate) {
    GenerateOptions g = *s.generate;
    g.out_dir = run_dir_ + "/sources/" + s.name;
    ENCORE_ASSIGN_OR_RETURN(GenerateReport report, Generate(g, &progress_));
    files.push_back(g.out_dir + "/" + s.generated_file);
    generated = true;
  }
  const auto& settled = options_.settled_files;
  for (const std::string& pattern : s.patterns) {
    ENCORE_ASSIGN_OR_RETURN(std::vector<std::string> matched, ExpandPattern(pattern));
    size_t kept = 0;
    for (auto& f : matched) {
      if (settled && settled->find(f) == settled->end()) continue;  // not settled yet
      ++kept;
      if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(std::move(f));
    }
    if (kept == 0) {
      return Status::NotFound("source " + s.name + ": '" + pattern +
                              "' matches no settled file yet (files still being written, or "
                              "without their ready marker, are left for a later run)");
    }
  }
  // Under watch: a settled file that changed since is still being written.
  auto check_settled = [&](const char* when) -> Status {
    if (!settled) return Status::OK();
    for (const std::string& f : files) {
      auto it = settled->find(f);
      if (it == settled->end()) continue;  // generated
      struct stat st {};
      if (::stat(f.c_str(), &st) != 0) {
        return Status::IOError("source file " + f + " disappeared " + when);
      }
      const int64_t mtime =
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      if (static_cast<uint64_t>(st.st_size) != it->second.first || mtime != it->second.second) {
        return Status::FailedPrecondition(
            "source file " + f + " changed " + when + " (" + std::to_string(it->second.first) +
            " -> " + std::to_string(st.st_size) +
            " bytes): it is still being written; watch runs again once it settles (write "
            "x.csv.tmp and rename it to x.csv, or use --ready-marker)");
      }
    }
    return Status::OK();
  };
  ENCORE_RETURN_IF_ERROR(check_settled("after watch saw it settle"));
  source_files_[s.name] = files;
  manifest_.source_files.emplace_back(s.name, files);
  for (const std::string& f : files) {
    ManifestInput in;
    in.source = s.name;
    in.path = f;
    in.generated = generated;
    ENCORE_ASSIGN_OR_RETURN(in.sha256, Sha256File(f, &in.bytes));
    struct stat st {};
    if (::stat(f.c_str(), &st) == 0) in.mtime = st.st_mtim.tv_sec;
    manifest_.inputs.push_back(std::move(in));
  }
  ReadOptions read = s.read;
  std::unique_ptr<Obfuscator> obfuscator;
  if (!read.obfuscate_cols.empty()) {
    ENCORE_ASSIGN_OR_RETURN(Obfuscator o, SourceObfuscator(s));
    obfuscator = std::make_unique<Obfuscator>(std::move(o));
    read.obfuscator = obfuscator.get();
  }
  read.max_bad_rows_hint = "max_bad_rows in [sources." + s.name +
                           "]; raise it to skip bad rows (each is counted in the manifest)";
  ReadReport report;
  Result<InteractionLog> log = ReadInteractions(files, read, &report, &progress_);
  ManifestSourceCounts counts;
  counts.name = s.name;
  counts.files = files.size();
  counts.bytes_read = report.bytes_read;
  counts.rows_read = report.rows_read;
  counts.rows_accepted = report.rows_accepted;
  counts.rows_rejected = report.rows_rejected;
  counts.rejected_by_kind = report.rejects_by_kind;
  manifest_.source_counts.push_back(counts);
  if (!log.ok()) return log.status();
  ENCORE_RETURN_IF_ERROR(check_settled("while it was read"));
  for (const Rejection& r : report.first_rejections) {
    Say("    rejected " + r.file + ":" + std::to_string(r.line) + ": " + r.reason);
  }
  *detail = Count(report.rows_read) + " rows read from " + std::to_string(files.size()) +
            " file(s), " + Count(report.rows_accepted) + " accepted, " +
            Count(report.rows_rejected) + " rejected";
  if (value_column_.empty()) value_column_ = report.value_column;
  logs_[s.name] = std::move(log).value();
  MaybeFault("after-source");
  return Status::OK();
}

Status Runner::RunPrepare(std::string* detail) {
  const PrepareConfig& p = c_.prepare;
  std::vector<InteractionLog> logs;
  for (const auto& name : p.sources) logs.push_back(std::move(logs_[name]));
  logs_.clear();
  LogFilter filter;
  filter.window = p.window;
  filter.sample_fraction = p.sample_fraction;
  filter.sample_seed = p.sample_seed;
  CombineReport combined;
  ENCORE_ASSIGN_OR_RETURN(InteractionLog log,
                          CombineLogs(std::move(logs), p.sources, filter, &combined));
  manifest_.steps.push_back({"read", combined.rows_in, {}, {}, {}, {}});
  if (p.window) {
    manifest_.steps.push_back(
        {"window", combined.rows_after_window, {}, {}, {}, combined.window_start});
  }
  if (p.sample_fraction) {
    manifest_.steps.push_back({"sample", combined.rows_after_sample, combined.users, {}, {}, {}});
  }
  // Implicit by default only: warn when the data looks like ratings.
  const bool check = !p.feedback_chosen && p.dataset.feedback == Feedback::kImplicit;
  const ValueScale scale = check ? ScanValues(log) : ValueScale{};
  ENCORE_ASSIGN_OR_RETURN(Dataset data, BuildDataset(std::move(log), p.dataset));
  if (check) {
    const std::string reason = ExplicitLookingReason(scale, value_column_, data.nnz());
    if (!reason.empty()) {
      Say("warning: the input looks like explicit ratings (" + reason +
          ") but is read as implicit feedback, which sums repeated (user, item) values; set "
          "feedback = \"explicit\" in [prepare] (or feedback = \"implicit\" if the values are "
          "counts)");
    }
  }
  manifest_.steps.push_back({"dataset", {}, data.users.size(), data.items.size(), data.nnz(), {}});
  // Lambda: every event up to the data's newest time is in it (as [prepare]
  // keeps it), unless a sample left some users' events out.
  if (p.sample_fraction) {
    manifest_.high_water_note =
        "[prepare] sample keeps some users only, so the data does not hold every event up to "
        "any time";
  } else if (!data.summary.time_max) {
    manifest_.high_water_note = "the prepared data has no time column";
  } else {
    manifest_.high_water_mark = "time:" + std::to_string(*data.summary.time_max);
  }
  if (p.min_user_interactions > 0 || p.min_item_interactions > 0) {
    MinCountReport mc;
    data = FilterMinCounts(std::move(data), p.min_user_interactions, p.min_item_interactions, &mc);
    if (p.min_user_interactions > 0) {
      manifest_.steps.push_back({"min_user_interactions",
                                 {},
                                 mc.users_after_user_filter,
                                 mc.items_after_user_filter,
                                 mc.nnz_after_user_filter,
                                 {}});
    }
    if (p.min_item_interactions > 0) {
      manifest_.steps.push_back({"min_item_interactions", {}, mc.users, mc.items, mc.nnz, {}});
    }
  }
  manifest_.users = data.users.size();
  manifest_.items = data.items.size();
  manifest_.nnz = data.nnz();
  if (data.nnz() == 0) {
    return Status::FailedPrecondition(
        "no interactions are left to train on (" + Count(combined.rows_in) +
        " rows read); loosen [prepare] window, sample or min_*_interactions");
  }
  *detail = Count(data.users.size()) + " users x " + Count(data.items.size()) + " items, " +
            Count(data.nnz()) + " nonzeros";
  // The profile of the prepared data (the console's data page; the same
  // figures as encore stats --json), beside the manifest.
  ReadReport read;
  for (const ManifestSourceCounts& c : manifest_.source_counts) {
    read.rows_read += c.rows_read;
    read.rows_accepted += c.rows_accepted;
    read.rows_rejected += c.rows_rejected;
    for (const auto& [kind, n] : c.rejected_by_kind) {
      auto it = std::find_if(read.rejects_by_kind.begin(), read.rejects_by_kind.end(),
                             [&](const auto& e) { return e.first == kind; });
      if (it == read.rejects_by_kind.end()) {
        read.rejects_by_kind.emplace_back(kind, n);
      } else {
        it->second += n;
      }
    }
  }
  if (Status st = store::WriteFileAtomically(run_dir_, "profile.json",
                                             FormatProfileJson(ComputeProfile(data, read)));
      !st.ok()) {
    Say("warning: the data profile was not written: " + st.ToString());
  }
  data_ = std::move(data);
  MaybeFault("after-prepare");
  return Status::OK();
}

Status Runner::RunModel(const ModelConfig& m, std::string* detail) {
  const Dataset& data = *data_;
  ModelParams params = m.params;
  ManifestModel record;
  record.name = m.name;
  record.kind = m.kind;
  std::optional<TrainedModel> trained;
  EvalOptions eval_options;
  eval_options.log = [this](const std::string& line) { Say("    " + line); };
  if (m.evaluate) {
    const EvaluateConfig& e = *m.evaluate;
    record.evaluated = true;
    NoteLocal("evaluation ([model." + m.name + ".evaluate]) is not distributed");
    ENCORE_ASSIGN_OR_RETURN(
        EvaluationRun run,
        RunEvaluation(m.kind, params, data, c_.prepare.dataset.feedback, e, eval_options));
    record.protocol = run.summary.protocol;
    if (run.summary.grid) {
      const GridReport& grid = *run.summary.grid;
      for (const GridPoint& point : grid.points) {
        record.grid.push_back({point.setting, ToValues(point.result.metrics, point.result.mean)});
      }
      record.best = grid.best;
      record.chosen = grid.points[grid.best].setting;
    }
    params = run.chosen;
    const EvalReport& test = run.summary.result.folds.at(0);
    record.fit_seconds = test.fit_seconds;
    record.test = ToValues(test.metrics, test.values);
    record.test_pairs = test.test_pairs;
    if (!e.refit) {
      trained = std::move(run.fitted);
      record.trained_on = "training part";
    }
  }
  std::error_code ec;
  fs::create_directories(run_dir_ + "/models", ec);
  record.file = run_dir_ + "/models/" + m.name + ".model";
  if (!trained) {
    TrainReport report;
    ENCORE_ASSIGN_OR_RETURN(trained, Fit(m.kind, params, data, record.file, &report));
    record.fit_seconds = report.fit_seconds;
    record.bytes = report.file_bytes;
    record.trained_on = "all data";
  } else {
    ENCORE_RETURN_IF_ERROR(SaveModel(*trained, record.file));
    struct stat st {};
    if (::stat(record.file.c_str(), &st) == 0) record.bytes = static_cast<uint64_t>(st.st_size);
  }
  record.params = ModelParamsToList(trained->model->params());
  *detail = "fitted " + m.kind + " on " + record.trained_on + " in " + Seconds(record.fit_seconds);
  for (const auto& [name, value] : record.test) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", value);
    *detail += (name == record.test.front().first ? "; test " : ", ") + name + " " + buf;
  }
  if (!record.chosen.empty()) {
    *detail += "; chosen";
    for (const auto& [k, v] : record.chosen) *detail += " " + k + "=" + v;
  }
  manifest_.models.push_back(std::move(record));
  models_.emplace(m.name, std::move(*trained));
  MaybeFault("after-model");
  return Status::OK();
}

Status Runner::RunRecommend(const RecommendConfig& r, std::string* detail) {
  const TrainedModel& model = models_.at(r.model);
  RecommendRequest request;
  request.kind = r.kind;
  request.n = r.n;
  request.exclude_seen = r.exclude_seen;
  request.ids_file = r.users_file;
  ENCORE_ASSIGN_OR_RETURN(ResolvedRequest resolved, ResolveRecommendRequest(model, request));
  const QueryOptions& q = resolved.query;
  const bool similar = r.kind == RecommendKind::kSimilar;
  const IdDictionary& dict = similar ? model.items : model.users;
  std::optional<std::vector<uint32_t>> ids = std::move(resolved.ids);
  std::string left_out;
  if (resolved.unknown > 0) {
    // Recorded in the manifest (the detail), never with the ids: with
    // obfuscated sources the list may hold raw emails.
    bool obfuscated = false;
    for (const auto& name : c_.prepare.sources) {
      obfuscated = obfuscated || !c_.FindSource(name)->read.obfuscate_cols.empty();
    }
    left_out =
        "; " + Count(resolved.unknown) + " id(s) of " + r.users_file + " unknown to the model";
    Say("    " + left_out.substr(2) +
        (obfuscated ? " (not shown, since the sources obfuscate columns: an obfuscated id "
                      "is known by its hash)"
                    : ", e.g. " + resolved.first_unknown[0]));
  }
  const size_t n_ids = ids ? ids->size() : dict.size();
  rows_[r.name] = std::make_unique<RecommendationRows>(model, r.kind, std::move(ids), q);
  *detail = "top " + std::to_string(q.n) + " for " + Count(n_ids) +
            (similar ? " items" : " users") + " (computed while the outputs write)" + left_out;
  return Status::OK();
}

// The mark a publish output writes into its snapshot (OutputConfig::
// high_water_mark); with "auto", none (and why in *note) when the data's
// mark does not hold for the model.
Status Runner::HighWaterFor(const OutputConfig& o, std::string* mark, std::string* note) const {
  mark->clear();
  note->clear();
  if (o.high_water_mark == "none") {
    *note = "high_water_mark = \"none\"";
    return Status::OK();
  }
  if (o.high_water_mark != "auto") {
    *mark = o.high_water_mark;
    return Status::OK();
  }
  for (const ManifestModel& m : manifest_.models) {
    if (m.name == o.model && m.trained_on != "all data") {
      *note = "model '" + m.name + "' was trained on " + m.trained_on +
              ", which does not hold every event up to the data's newest time";
      return Status::OK();
    }
  }
  *mark = manifest_.high_water_mark;
  *note = manifest_.high_water_note;
  return Status::OK();
}

Status Runner::RunOutput(size_t index, const OutputConfig& o, std::string* detail) {
  MaybeFault("before-output");
  ManifestOutput record;
  record.name = o.name;
  record.kind = OutputKindName(o.kind);
  record.location = OutputLocation(c_, o);
  for (size_t s : plan_.Lineage(index)) {
    const Stage& stage = plan_.stages[s];
    record.lineage_stages.push_back(stage.Label());
    if (stage.kind == StageKind::kSource) {
      for (const auto& f : source_files_[stage.name]) record.lineage_inputs.push_back(f);
    }
  }
  OutputReport report;
  if (o.kind == OutputKind::kRetail) {
    ENCORE_RETURN_IF_ERROR(RunRetailOutput(o, &record, &report, detail));
  } else if (o.kind == OutputKind::kPublish) {
    PublishOptions po = o.publish;
    ENCORE_RETURN_IF_ERROR(HighWaterFor(o, &po.high_water, &record.high_water_note));
    record.high_water_mark = po.high_water;
    ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(record.location));
    ENCORE_ASSIGN_OR_RETURN(PublishReport published,
                            PublishModel(models_.at(o.model), po, store.get(), &progress_));
    report.location = store->uri();
    report.rows = published.user_payloads;
    report.bytes = published.bytes;
    *detail = "published snapshot " + std::to_string(published.snapshot.version) + " to " +
              report.location + ": " + Count(published.user_payloads) + " user payloads, " +
              Count(published.similar_payloads) + " similar-item payloads" +
              (po.high_water.empty()
                   ? "; no high-water mark" + (record.high_water_note.empty()
                                                   ? std::string()
                                                   : " (" + record.high_water_note + ")")
                   : "; high-water mark " + po.high_water);
  } else {
    FaultRows rows(*rows_.at(o.from));
    ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<RowSource> view,
                            WithDerivedColumns(rows, o.derived, o.columns));
    if (o.kind == OutputKind::kPostgres) {
      PostgresOutputOptions po;
      po.table = o.table;
      po.conninfo = o.conninfo;
      if (!o.conninfo_env.empty()) {
        const char* env = std::getenv(o.conninfo_env.c_str());
        if (env == nullptr || *env == '\0') {
          return Status::InvalidArgument(
              "output '" + o.name + "': environment variable " + o.conninfo_env +
              " (conninfo_env) is not set; export it with a libpq connection string (e.g. "
              "postgresql://user@localhost/db), or leave this output out with --only");
        }
        po.conninfo = env;
      }
      for (const auto& [col, type] : o.types) {
        if (std::find(view->columns().begin(), view->columns().end(), col) !=
            view->columns().end()) {
          po.types[col] = type;
        }
      }
      ENCORE_ASSIGN_OR_RETURN(report, WritePostgresOutput(*view, po));
    } else {
      FileOutputOptions fo;
      fo.dir = record.location;
      fo.prefix = o.prefix;
      fo.run_stamp = run_id_;
      fo.chunk_bytes = o.chunk_bytes;
      fo.delimiter = o.delimiter;
      fo.header = o.header;
      if (o.kind == OutputKind::kCsv) {
        ENCORE_ASSIGN_OR_RETURN(report, WriteCsvOutput(*view, fo));
      } else {
        std::vector<std::string> numeric;
        for (const char* col : {"score", "rank"}) {
          if (std::find(view->columns().begin(), view->columns().end(), col) !=
              view->columns().end()) {
            numeric.push_back(col);
          }
        }
        ENCORE_ASSIGN_OR_RETURN(report, WriteJsonLinesOutput(*view, fo, numeric));
      }
    }
    *detail = Count(report.rows) + " rows, " + std::to_string(report.files.size()) +
              " file(s) -> " + (report.location.empty() ? record.location : report.location);
  }
  if (!report.location.empty()) record.location = report.location;
  record.files = report.files;
  record.rows = report.rows;
  record.bytes = report.bytes;
  result_.outputs.push_back(
      {o.name, record.kind, record.location, record.files, record.rows, record.bytes});
  manifest_.outputs.push_back(std::move(record));
  MaybeFault("after-output");
  return Status::OK();
}

Status Runner::RunRetail(std::string* detail) {
  const RetailConfig& r = *c_.retail;
  auto state = std::make_unique<RetailState>();
  CatalogReport catalog_report;
  if (r.catalog_from_postgres()) {
    PostgresCatalogSource pg;
    pg.table = r.catalog_table;
    pg.query = r.catalog_query;
    pg.conninfo = r.catalog_conninfo;
    if (!r.catalog_conninfo_env.empty()) {
      const char* env = std::getenv(r.catalog_conninfo_env.c_str());
      if (env == nullptr || *env == '\0') {
        return Status::InvalidArgument(
            "[retail.catalog]: environment variable " + r.catalog_conninfo_env +
            " (conninfo_env) is not set; export it with a libpq connection string (e.g. "
            "postgresql://user@localhost/db)");
      }
      pg.conninfo = env;
    }
    ENCORE_ASSIGN_OR_RETURN(state->catalog, ReadPostgresCatalog(pg, r.catalog, &catalog_report));
    ManifestInput in;
    in.source = "retail.catalog";
    in.path = pg.table.empty() ? "postgres query: " + pg.query : "postgres:" + pg.table;
    in.bytes = catalog_report.bytes;
    in.sha256 = catalog_report.sha256;
    in.mtime = static_cast<int64_t>(std::time(nullptr));
    in.rows = catalog_report.rows_read;
    manifest_.inputs.push_back(std::move(in));
  } else {
    const std::string catalog_path = r.catalog_path.empty()
                                         ? run_dir_ + "/sources/" + r.source + "/catalog.csv"
                                         : r.catalog_path;
    ENCORE_ASSIGN_OR_RETURN(state->catalog, ReadCatalog(catalog_path, r.catalog, &catalog_report));
    if (r.catalog_path != "") {
      ManifestInput in;
      in.source = "retail.catalog";
      in.path = catalog_path;
      ENCORE_ASSIGN_OR_RETURN(in.sha256, Sha256File(catalog_path, &in.bytes));
      in.rows = catalog_report.rows_read;
      manifest_.inputs.push_back(std::move(in));
    }
  }
  const Catalog& catalog = state->catalog;
  for (const Rejection& x : catalog_report.first_rejections) {
    Say("    rejected " + x.file + (catalog_report.numbered_by_row ? " row " : ":") +
        std::to_string(x.line) + ": " + x.reason);
  }
  // [prepare] (after this stage) may read the same log: it stays in logs_.
  auto found = logs_.find(r.source);
  if (found == logs_.end()) return Status::Internal("retail source was not read");
  const InteractionLog& log = found->second;
  if (!log.has_events || !log.has_times) {
    return Status::InvalidArgument("[retail] source '" + r.source +
                                   "' needs an event column and a time column (event, "
                                   "time in [sources." +
                                   r.source + "])");
  }
  ENCORE_ASSIGN_OR_RETURN(std::vector<std::string> levels, ParseKeyLevels(catalog, r.key));
  ENCORE_ASSIGN_OR_RETURN(KeyIndex keys, KeyIndex::Build(catalog, levels));
  state->keys.emplace(std::move(keys));
  RollUpReport rollup;
  ENCORE_ASSIGN_OR_RETURN(InteractionLog rolled,
                          RollUpLog(log, catalog, *state->keys, r.weights, &rollup));
  Say("    " + rollup.Describe());
  DatasetOptions dataset_options;
  dataset_options.feedback = Feedback::kImplicit;
  ENCORE_ASSIGN_OR_RETURN(Dataset data, BuildDataset(std::move(rolled), dataset_options));
  if (data.nnz() == 0) {
    return Status::FailedPrecondition("[retail] no (member, key) pairs to train on: " +
                                      rollup.Describe());
  }
  std::vector<double> popularity(data.items.size(), 0);
  for (uint32_t i = 0; i < data.by_item.rows; ++i) {
    for (uint64_t k = data.by_item.indptr[i]; k < data.by_item.indptr[i + 1]; ++k) {
      popularity[i] += data.by_item.values[k];
    }
  }
  const ModelConfig& m = *c_.FindModel(r.model);
  std::error_code ec;
  fs::create_directories(run_dir_ + "/models", ec);
  ManifestModel record;
  record.name = m.name;
  record.kind = m.kind;
  record.file = run_dir_ + "/models/" + m.name + ".model";
  TrainReport train;
  ENCORE_ASSIGN_OR_RETURN(state->model, Fit(m.kind, m.params, data, record.file, &train));
  record.fit_seconds = train.fit_seconds;
  record.bytes = train.file_bytes;
  record.trained_on = "rolled-up keys (" + r.key + ")";
  record.params = ModelParamsToList(state->model.model->params());
  manifest_.models.push_back(std::move(record));
  ENCORE_ASSIGN_OR_RETURN(ProductScores scores,
                          ProductScores::Compute(catalog, *state->keys, &log, r.product_score));
  state->scores.emplace(std::move(scores));
  ENCORE_ASSIGN_OR_RETURN(RetailSteps steps,
                          RetailSteps::Build(r.rules, catalog, *state->keys, state->model.items,
                                             state->model.users, &log, &*state->scores));
  state->steps.emplace(std::move(steps));
  state->ranker = std::make_unique<Ranker>(*state->model.model);
  state->steps->AddTo(state->ranker.get());
  ENCORE_ASSIGN_OR_RETURN(RetailFeeds feeds,
                          RetailFeeds::Build(r.feeds, catalog, *state->keys, state->model,
                                             *state->steps, *state->ranker, std::move(popularity)));
  state->feeds.emplace(std::move(feeds));
  *detail = Count(catalog.size()) + " products, " + Count(state->keys->num_keys()) + " keys (" +
            r.key + "); " + Count(data.users.size()) + " members x " + Count(data.items.size()) +
            " keys, " + Count(data.nnz()) + " nonzeros; " + m.kind + " fitted in " +
            Seconds(train.fit_seconds) + "; " + Count(state->steps->available_items().size()) +
            " keys available";
  if (rollup.unknown.rows > 0) *detail += "; " + rollup.unknown.Describe();
  if (r.segments) {
    std::string segments;
    ENCORE_RETURN_IF_ERROR(RunSegments(*r.segments, log, data, m, state.get(), &segments));
    *detail += "; " + segments;
  }
  retail_ = std::move(state);
  if (plan_.Find(StageKind::kPrepare, "") == std::string::npos) logs_.erase(r.source);
  return Status::OK();
}

namespace {

// The (member, key) pairs of `by_user` (over data's users and items) whose
// user is in segment `s`, as a dataset of their own.
Result<Dataset> SegmentDataset(const Dataset& data, const CsrMatrix& by_user,
                               const std::vector<uint32_t>& segment_of, uint32_t s) {
  InteractionLog sub;
  for (uint32_t u = 0; u < by_user.rows; ++u) {
    if (segment_of[u] != s || by_user.RowLength(u) == 0) continue;
    const uint32_t su = sub.users.Intern(data.users.Name(u));
    for (uint64_t k = by_user.indptr[u]; k < by_user.indptr[u + 1]; ++k) {
      sub.user.push_back(su);
      sub.item.push_back(sub.items.Intern(data.items.Name(by_user.indices[k])));
      sub.value.push_back(by_user.values[k]);
    }
  }
  DatasetOptions options;
  options.feedback = Feedback::kImplicit;
  return BuildDataset(std::move(sub), options);
}

// Applies (name, text) parameters over `params`.
Status ApplyParams(const std::vector<std::pair<std::string, std::string>>& given,
                   ModelParams* params) {
  for (const auto& [name, text] : given) ENCORE_RETURN_IF_ERROR(SetModelParam(params, name, text));
  return Status::OK();
}

// The memory model of docs/SCALING.md for one rank: both factor matrices,
// row pointers and ids of users and items, and the nonzeros as read and in
// both orientations (an upper bound for a segment's training).
uint64_t SegmentTrainBytes(uint64_t users, uint64_t items, uint64_t nonzeros, uint32_t factors) {
  return (users + items) * (uint64_t{factors} * 4 + 8 + 40) + items * 4 + nonzeros * 64;
}

// MemAvailable of /proc/meminfo (else free pages), in bytes.
uint64_t AvailableMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("MemAvailable:", 0) == 0)
      return std::strtoull(line.c_str() + 13, nullptr, 10) * 1024;
  }
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : uint64_t{1} << 30;
}

std::vector<double> Popularity(const Dataset& data) {
  std::vector<double> popularity(data.items.size(), 0);
  for (uint32_t i = 0; i < data.by_item.rows; ++i) {
    for (uint64_t k = data.by_item.indptr[i]; k < data.by_item.indptr[i + 1]; ++k) {
      popularity[i] += data.by_item.values[k];
    }
  }
  return popularity;
}

std::string Fixed3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

}  // namespace

Status Runner::RunSegments(const SegmentsConfig& g, const InteractionLog& log, const Dataset& data,
                           const ModelConfig& m, RetailState* state, std::string* detail) {
  const RetailConfig& r = *c_.retail;
  const Catalog& catalog = state->catalog;
  ENCORE_ASSIGN_OR_RETURN(MemberFeatures features,
                          MemberFeatures::Compute(log, catalog, g.features));
  if (!g.members_path.empty()) {
    uint64_t unknown = 0;
    ENCORE_RETURN_IF_ERROR(
        features.ReadMemberColumns(g.members_path, g.member_col, log.users, &unknown));
    ManifestInput in;
    in.source = "retail.segments.members";
    in.path = g.members_path;
    ENCORE_ASSIGN_OR_RETURN(in.sha256, Sha256File(g.members_path, &in.bytes));
    manifest_.inputs.push_back(std::move(in));
    if (unknown > 0) {
      Say("    members file: " + Count(unknown) + " member(s) with no events are ignored (" +
          g.members_path + ")");
    }
  }
  ENCORE_ASSIGN_OR_RETURN(SegmentAssignment assignment, AssignSegments(features, catalog, g.spec));
  for (const auto& [name, params] : g.overrides) {
    if (assignment.Find(name) < 0) {
      std::string names;
      for (const auto& n : assignment.names) names += (names.empty() ? "" : ", ") + n;
      return Status::InvalidArgument("[retail.segments.overrides] names segment '" + name +
                                     "', which has no members; segments: " + names + " (" +
                                     c_.retail->segments->where + ")");
    }
  }
  const uint32_t users = data.users.size();
  const uint32_t num_segments = assignment.names.size();
  std::vector<uint32_t> segment_of(users);
  std::vector<uint64_t> trained_members(num_segments, 0);
  for (uint32_t u = 0; u < users; ++u) {
    std::optional<uint32_t> member = log.users.Find(data.users.Name(u));
    if (!member) return Status::Internal("model member missing from the event log");
    segment_of[u] = assignment.of_member[*member];
    ++trained_members[segment_of[u]];
  }
  ManifestSegments record;
  record.by = g.spec.by;
  // Parameters of each segment: the model's, then by size, then its own.
  std::vector<ModelParams> params(num_segments, m.params);
  std::vector<std::string> reason(num_segments);
  for (uint32_t s = 0; s < num_segments; ++s) {
    if (g.size_threshold > 0) {
      ENCORE_RETURN_IF_ERROR(ApplyParams(
          trained_members[s] >= g.size_threshold ? g.params_above : g.params_below, &params[s]));
    }
    if (auto o = g.overrides.find(assignment.names[s]); o != g.overrides.end()) {
      ENCORE_RETURN_IF_ERROR(ApplyParams(o->second, &params[s]));
    }
    if (trained_members[s] < g.min_members) {
      reason[s] =
          Count(trained_members[s]) + " members with pairs < min_members " + Count(g.min_members);
    }
  }
  std::error_code ec;
  fs::create_directories(run_dir_ + "/models", ec);
  std::vector<int> model_of(num_segments, -1);  // index into segment_models
  uint32_t trained = 0;
  double fit_seconds = 0;
  // Training, several segments at once: each segment's model depends only
  // on its data and parameters (the models' fits do not depend on the thread
  // count), so the results are those of training one after another. A
  // segment starts when its estimated memory (docs/SCALING.md's memory
  // model) fits beside those running, or when none is running; the model's
  // threads are split between the segments training at once. Everything
  // after the fit (messages, manifest, steps, feeds) happens below in
  // segment order.
  std::vector<uint32_t> todo;
  std::vector<uint64_t> segment_nnz(num_segments, 0);
  for (uint32_t u = 0; u < users; ++u) segment_nnz[segment_of[u]] += data.by_user.RowLength(u);
  for (uint32_t s = 0; s < num_segments; ++s) {
    if (reason[s].empty()) todo.push_back(s);
  }
  struct SegmentFit {
    Status status;
    bool empty = false;
    uint64_t members = 0, keys = 0;
    std::vector<double> popularity;
    TrainReport train;
    std::optional<TrainedModel> model;
  };
  std::vector<SegmentFit> fits(num_segments);
  std::vector<uint64_t> estimate(num_segments, 0);
  for (uint32_t s : todo) {
    estimate[s] =
        SegmentTrainBytes(trained_members[s], data.items.size(), segment_nnz[s], params[s].factors);
  }
  if (!todo.empty()) NoteLocal("segment models ([retail.segments]) are not distributed");
  const uint32_t workers = static_cast<uint32_t>(std::min<size_t>(
      todo.size(), g.parallel > 0 ? g.parallel : ResolveThreads(m.params.threads)));
  const uint64_t budget = g.memory_mb > 0 ? g.memory_mb << 20 : AvailableMemoryBytes() / 2;
  std::mutex mu;
  std::condition_variable cv;
  size_t next = 0;
  uint32_t running = 0;
  uint64_t in_flight = 0;
  bool failed = false;
  auto fit_one = [&](uint32_t s) {
    SegmentFit& fit = fits[s];
    const std::string& name = assignment.names[s];
    Result<Dataset> sub = SegmentDataset(data, data.by_user, segment_of, s);
    if (!sub.ok()) {
      fit.status = sub.status();
      return;
    }
    if (sub->nnz() == 0) {
      fit.empty = true;
      return;
    }
    fit.members = sub->users.size();
    fit.keys = sub->items.size();
    fit.popularity = Popularity(*sub);
    ModelParams p = params[s];
    if (workers > 1) p.threads = std::max(1, ResolveThreads(p.threads) / static_cast<int>(workers));
    Result<TrainedModel> fitted =
        TrainAndSave(m.kind, p, *sub,
                     run_dir_ + "/models/" + m.name + ".segment-" + name + ".model", &fit.train);
    if (!fitted.ok()) {
      fit.status = Status(fitted.status().code(), "segment " + name + " (" + Count(fit.members) +
                                                      " members): " + fitted.status().message());
      return;
    }
    fit.model.emplace(std::move(fitted).value());
  };
  auto worker = [&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!failed && next < todo.size()) {
      const uint32_t s = todo[next++];
      cv.wait(lock, [&] { return running == 0 || in_flight + estimate[s] <= budget; });
      ++running;
      in_flight += estimate[s];
      lock.unlock();
      fit_one(s);
      lock.lock();
      --running;
      in_flight -= estimate[s];
      if (!fits[s].status.ok()) failed = true;
      cv.notify_all();
    }
  };
  if (workers <= 1) {
    for (uint32_t s : todo) {
      fit_one(s);
      if (!fits[s].status.ok()) break;
    }
  } else {
    std::vector<std::thread> pool;
    for (uint32_t w = 0; w < workers; ++w) pool.emplace_back(worker);
    for (std::thread& t : pool) t.join();
  }
  for (uint32_t s : todo) {
    SegmentFit& fit = fits[s];
    ENCORE_RETURN_IF_ERROR(fit.status);
    if (fit.empty) {
      reason[s] = "no (member, key) pairs";
      continue;
    }
    if (!fit.model) break;  // not started: an earlier segment failed (returned above)
    const std::string& name = assignment.names[s];
    Say("    segment " + name + " (" + assignment.descriptions[s] + "): " + Count(fit.members) +
        " members x " + Count(fit.keys) + " keys");
    auto seg = std::make_unique<SegmentModel>();
    ManifestModel mm;
    mm.name = m.name + "@" + name;
    mm.kind = m.kind;
    mm.file = run_dir_ + "/models/" + m.name + ".segment-" + name + ".model";
    seg->model = std::move(*fit.model);
    fit.model.reset();
    fit_seconds += fit.train.fit_seconds;
    mm.fit_seconds = fit.train.fit_seconds;
    mm.bytes = fit.train.file_bytes;
    mm.trained_on = "segment " + name + " of rolled-up keys (" + r.key + ")";
    mm.params = ModelParamsToList(seg->model.model->params());
    for (auto& [key, value] : mm.params) {  // the declared threads, not this run's split
      if (key == "threads") value = std::to_string(params[s].threads);
    }
    manifest_.models.push_back(std::move(mm));
    ENCORE_ASSIGN_OR_RETURN(RetailSteps steps,
                            RetailSteps::Build(r.rules, catalog, *state->keys, seg->model.items,
                                               seg->model.users, &log, &*state->scores));
    seg->steps.emplace(std::move(steps));
    seg->ranker = std::make_unique<Ranker>(*seg->model.model);
    seg->steps->AddTo(seg->ranker.get());
    ENCORE_ASSIGN_OR_RETURN(
        RetailFeeds feeds,
        RetailFeeds::Build(r.feeds, catalog, *state->keys, seg->model, *seg->steps, *seg->ranker,
                           std::move(fit.popularity)));
    seg->feeds.emplace(std::move(feeds));
    model_of[s] = static_cast<int>(state->segment_models.size());
    state->segment_models.push_back(std::move(seg));
    ++trained;
  }
  state->segment_names = assignment.names;
  state->routes.resize(users);
  for (uint32_t u = 0; u < users; ++u) {
    const uint32_t s = segment_of[u];
    FeedRoute& route = state->routes[u];
    route.segment = state->segment_names[s];
    if (model_of[s] < 0) {
      route.feeds = &*state->feeds;
      route.user = u;
      route.global_model = true;
    } else {
      const SegmentModel& seg = *state->segment_models[model_of[s]];
      route.feeds = &*seg.feeds;
      route.user = *seg.model.users.Find(data.users.Name(u));
    }
  }
  for (uint32_t s = 0; s < num_segments; ++s) {
    ManifestSegment ms;
    ms.name = assignment.names[s];
    ms.description = assignment.descriptions[s];
    ms.members = assignment.sizes[s];
    ms.trained_members = trained_members[s];
    ms.scored_by = model_of[s] < 0 ? "global" : "segment";
    ms.reason = reason[s];
    ms.model = model_of[s] < 0 ? m.name : m.name + "@" + ms.name;
    record.segments.push_back(std::move(ms));
  }
  *detail = std::to_string(num_segments) + " segments by " +
            [&] {
              std::string by;
              for (const auto& b : g.spec.by) by += (by.empty() ? "" : " x ") + b;
              return by;
            }() +
            ", " + std::to_string(trained) + " trained (" + Seconds(fit_seconds) +
            (workers > 1 ? ", up to " + std::to_string(workers) + " at once" : std::string()) +
            "), " + std::to_string(num_segments - trained) + " on the global model";

  if (g.evaluate) {
    // One holdout of the rolled-up pairs; the global model and every
    // segment's model are trained on its training part and ranked (exclude
    // seen, no retail rules) for every held-out member.
    SplitOptions so;
    so.method = SplitMethod::kUser;
    so.test_fraction = g.holdout;
    so.min_train = 1;
    ENCORE_ASSIGN_OR_RETURN(FoldAssignment fold, HoldoutSplit(data, so));
    TrainTest tt = MakeTrainTest(data, fold, 0);
    NoteLocal("segment evaluation ([retail.segments] evaluate) is not distributed");
    ENCORE_ASSIGN_OR_RETURN(TrainedModel global, TrainAndSave(m.kind, m.params, tt.train, ""));
    std::vector<std::optional<TrainedModel>> models(num_segments);
    for (uint32_t s = 0; s < num_segments; ++s) {
      if (model_of[s] < 0) continue;
      ENCORE_ASSIGN_OR_RETURN(Dataset sub,
                              SegmentDataset(tt.train, tt.train.by_user, segment_of, s));
      if (sub.nnz() == 0) continue;
      Result<TrainedModel> fitted = TrainAndSave(m.kind, params[s], sub, "");
      if (!fitted.ok()) {
        return Status(fitted.status().code(), "evaluating segment " + assignment.names[s] + ": " +
                                                  fitted.status().message());
      }
      models[s] = std::move(*fitted);
    }
    constexpr uint32_t kK = 10;
    QueryOptions q;
    q.n = kK;
    q.exclude_seen = true;
    struct Sums {
      double seg_ndcg = 0, seg_recall = 0, glob_ndcg = 0, glob_recall = 0;
      uint64_t users = 0;
    };
    std::vector<Sums> sums(num_segments);
    Ranker global_ranker(*global.model);
    std::vector<std::unique_ptr<Ranker>> rankers(num_segments);
    for (uint32_t s = 0; s < num_segments; ++s) {
      if (models[s]) rankers[s] = std::make_unique<Ranker>(*models[s]->model);
    }
    std::vector<uint32_t> recommended;
    for (uint32_t u = 0; u < users; ++u) {
      if (tt.test.RowLength(u) == 0) continue;
      std::span<const uint32_t> relevant(tt.test.indices.data() + tt.test.indptr[u],
                                         tt.test.RowLength(u));
      const uint32_t s = segment_of[u];
      recommended.clear();
      for (const ScoredItem& x : global_ranker.RankUser(u, q)) recommended.push_back(x.item);
      const double gn = NdcgAtK(recommended, relevant, kK);
      const double gr = RecallAtK(recommended, relevant, kK);
      double sn = gn, sr = gr;
      if (rankers[s]) {
        const TrainedModel& tm = *models[s];
        std::optional<uint32_t> su = tm.users.Find(data.users.Name(u));
        recommended.clear();
        if (su) {
          for (const ScoredItem& x : rankers[s]->RankUser(*su, q)) {
            recommended.push_back(*data.items.Find(tm.items.Name(x.item)));
          }
        }
        sn = NdcgAtK(recommended, relevant, kK);
        sr = RecallAtK(recommended, relevant, kK);
      }
      Sums& x = sums[s];
      x.seg_ndcg += sn;
      x.seg_recall += sr;
      x.glob_ndcg += gn;
      x.glob_recall += gr;
      ++x.users;
    }
    Sums total;
    for (uint32_t s = 0; s < num_segments; ++s) {
      const Sums& x = sums[s];
      const double n = x.users > 0 ? double(x.users) : std::nan("");
      ManifestSegment& ms = record.segments[s];
      ms.users_evaluated = x.users;
      ms.segment_model = {{"ndcg@10", x.seg_ndcg / n}, {"recall@10", x.seg_recall / n}};
      ms.global_model = {{"ndcg@10", x.glob_ndcg / n}, {"recall@10", x.glob_recall / n}};
      total.seg_ndcg += x.seg_ndcg;
      total.seg_recall += x.seg_recall;
      total.glob_ndcg += x.glob_ndcg;
      total.glob_recall += x.glob_recall;
      total.users += x.users;
    }
    const double n = total.users > 0 ? double(total.users) : std::nan("");
    record.protocol = "user holdout " + Fixed3(g.holdout) +
                      " of (member, key) pairs, seed 42; top 10 keys excluding training keys, "
                      "no retail rules; segments below min_members count the global model's "
                      "figures";
    record.users_evaluated = total.users;
    record.segmented = {{"ndcg@10", total.seg_ndcg / n}, {"recall@10", total.seg_recall / n}};
    record.global = {{"ndcg@10", total.glob_ndcg / n}, {"recall@10", total.glob_recall / n}};
    *detail += "; held out: ndcg@10 segmented " + Fixed3(total.seg_ndcg / n) + " vs global " +
               Fixed3(total.glob_ndcg / n) + " (" + Count(total.users) + " members)";
  }
  manifest_.segments = std::move(record);
  return Status::OK();
}

Status Runner::RunRetailOutput(const OutputConfig& o, ManifestOutput* record, OutputReport* report,
                               std::string* detail) {
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<StagingDir> staging, StagingDir::Begin(record->location));
  std::vector<StagedFile*> files;
  for (int f = 0; f < kNumFeeds; ++f) {
    ENCORE_ASSIGN_OR_RETURN(StagedFile * file,
                            staging->AddFile(std::string(FeedName(f)) + ".jsonl"));
    files.push_back(file);
  }
  const std::string store_uri = StoreUri(c_, o);
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(store_uri));
  uint64_t rows = 0;
  FeedRowSink sink = [&](int feed, std::string_view, std::string_view row) {
    if (feed == 0 && ++rows == 1) MaybeFault("mid-output");
    ENCORE_RETURN_IF_ERROR(files[feed]->Append(row));
    return files[feed]->Append("\n");
  };
  // Every catalog product's score explanation, for GET /v1/products/{id}/explain.
  const Catalog& catalog = retail_->catalog;
  std::vector<std::pair<std::string, std::string>> explanations(catalog.size());
#pragma omp parallel for schedule(dynamic, 256)
  for (uint32_t p = 0; p < catalog.size(); ++p) {
    ProductScoreExplanation e;
    ExplainProduct(catalog, *retail_->keys, *retail_->scores, p, c_.retail->product_score.as_of,
                   &e);
    e.run_id = run_id_;
    explanations[p] = {e.product, ProductScoreExplanationJson(e)};
  }
  ENCORE_ASSIGN_OR_RETURN(
      RetailPublishReport published,
      PublishRetail(*retail_->feeds, retail_->model, o.publish.keep, store.get(), sink, &progress_,
                    retail_->routes, explanations));
  uint64_t bytes = 0;
  for (StagedFile* f : files) {
    ENCORE_RETURN_IF_ERROR(f->Close());
    bytes += f->size();
  }
  JsonWriter w(2);
  w.BeginObject();
  w.Key("format");
  w.String("retail-feeds");
  w.Key("run_stamp");
  w.String(run_id_);
  w.Key("members");
  w.Uint(rows);
  w.Key("bytes");
  w.Uint(bytes);
  w.Key("store");
  w.String(store->uri());
  w.Key("snapshot");
  w.Uint(published.snapshot.version);
  w.Key("files");
  w.BeginArray();
  for (StagedFile* f : files) {
    w.BeginObject();
    w.Key("name");
    w.String(f->name());
    w.Key("bytes");
    w.Uint(f->size());
    w.Key("sha256");
    w.String(f->sha256());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  // The store's snapshot is committed (PublishRetail returned) before the
  // feeds directory is swapped in, so the feeds' _SUCCESS never names a
  // snapshot a reader cannot open; a crash in between leaves the older feeds
  // beside the newer store (fault point retail-before-swap).
  ENCORE_RETURN_IF_ERROR(staging->Commit(w.str() + "\n", nullptr, "retail-before-swap"));
  for (StagedFile* f : files) report->files.push_back(record->location + "/" + f->name());
  report->rows = rows;
  report->bytes = bytes;
  char avg[32];
  std::snprintf(avg, sizeof avg, "%.0f",
                published.payloads > 0 ? double(published.bytes) / published.payloads : 0.0);
  *detail = Count(rows) + " members x 6 feeds -> " + record->location + "/; published snapshot " +
            std::to_string(published.snapshot.version) + " to " + store->uri() + ": " +
            Count(published.payloads) + " member payloads (mean " + avg + " bytes, max " +
            Count(published.max_payload_bytes) + ") + popular fallback";
  return Status::OK();
}

}  // namespace

// ---------------------------------------------------------------- Pipeline

struct Pipeline::Impl {
  PipelineConfig config;
  PipelineOptions options;
  Plan plan;
};

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pipeline::~Pipeline() = default;

Result<std::unique_ptr<Pipeline>> Pipeline::Load(const std::string& path,
                                                 const PipelineOptions& options) {
  auto impl = std::make_unique<Impl>();
  ENCORE_ASSIGN_OR_RETURN(impl->config, LoadPipelineConfig(path, options.workdir));
  if (options.keep) impl->config.keep = *options.keep;
  impl->options = options;
  ENCORE_ASSIGN_OR_RETURN(impl->plan, MakePlan(impl->config, options.only));
  return std::unique_ptr<Pipeline>(new Pipeline(std::move(impl)));
}

const std::string& Pipeline::name() const { return impl_->config.name; }
const std::string& Pipeline::workdir() const { return impl_->config.workdir; }

std::string Pipeline::FormatPlan() const { return FormatPlanText(impl_->config, impl_->plan); }

std::string Pipeline::FormatExplain() const {
  return FormatExplainText(impl_->config, impl_->plan);
}

Result<PipelineRunResult> Pipeline::Run() const {
  Runner runner(impl_->config, impl_->plan, impl_->options);
  return runner.Run();
}

Result<ProductScoreExplanation> Pipeline::ExplainProductScore(
    const std::string& product, const ExplainProductOptions& options) const {
  const PipelineConfig& c = impl_->config;
  if (!c.retail) {
    return Status::FailedPrecondition("pipeline " + c.file +
                                      " has no [retail] section: there are no product scores "
                                      "to explain");
  }
  const RetailConfig& r = *c.retail;
  const SourceConfig* s = c.FindSource(r.source);
  if (s == nullptr) return Status::Internal("[retail] source '" + r.source + "' is not declared");
  ProductScoreExplanation out;
  out.product = product;
  // The run whose generated files are read (a generated source or catalog needs one).
  std::string run_dir;
  if (s->generate || r.catalog_path.empty()) {
    std::string id = options.run_id;
    if (id.empty()) {
      ENCORE_ASSIGN_OR_RETURN(std::vector<RunRecord> runs, ListRuns(c.workdir, c.name));
      for (const RunRecord& run : runs) {
        if (run.status == "succeeded") id = run.id;
      }
      if (id.empty()) {
        return Status::NotFound("pipeline " + c.name + " has no succeeded run under " + c.workdir +
                                "/runs to read its generated source '" + r.source +
                                "' from; run it first (encore run " + c.file + ")");
      }
    }
    run_dir = c.workdir + "/runs/" + id;
    std::error_code ec;
    if (!fs::is_directory(run_dir, ec)) {
      return Status::NotFound("run " + id + " not found: no directory " + run_dir +
                              " (encore runs list --pipeline " + c.file + " lists the runs)");
    }
    out.run_id = id;
  }
  std::vector<std::string> files;
  if (s->generate) {
    const std::string f = run_dir + "/sources/" + s->name + "/" + s->generated_file;
    std::error_code ec;
    if (!fs::exists(f, ec)) {
      return Status::NotFound("run " + out.run_id + " has no generated events " + f +
                              " (removed?); run the pipeline again");
    }
    files.push_back(f);
  }
  for (const std::string& pattern : s->patterns) {
    ENCORE_ASSIGN_OR_RETURN(std::vector<std::string> matched, ExpandPattern(pattern));
    for (auto& f : matched) {
      if (std::find(files.begin(), files.end(), f) == files.end()) files.push_back(std::move(f));
    }
  }
  const std::string catalog_path =
      r.catalog_path.empty() ? run_dir + "/sources/" + r.source + "/catalog.csv" : r.catalog_path;
  ENCORE_ASSIGN_OR_RETURN(Catalog catalog, ReadCatalog(catalog_path, r.catalog, nullptr));
  const std::optional<uint32_t> p = catalog.products().Find(product);
  if (!p) {
    std::string some;
    for (uint32_t i = 0; i < std::min<uint32_t>(3, catalog.size()); ++i) {
      some += std::string(i ? ", " : "") + std::string(catalog.products().Name(i));
    }
    return Status::NotFound("product '" + product + "' is not in the catalog " + catalog_path +
                            " (" + Count(catalog.size()) + " products, e.g. " + some + ")");
  }
  // The events, read as the source stage reads them.
  ReadOptions read = s->read;
  std::unique_ptr<Obfuscator> obfuscator;
  if (!read.obfuscate_cols.empty()) {
    ENCORE_ASSIGN_OR_RETURN(Obfuscator o, SourceObfuscator(*s));
    obfuscator = std::make_unique<Obfuscator>(std::move(o));
    read.obfuscator = obfuscator.get();
  }
  ReadReport report;
  Progress quiet(Progress::Mode::kQuiet);
  ENCORE_ASSIGN_OR_RETURN(InteractionLog log, ReadInteractions(files, read, &report, &quiet));
  ENCORE_ASSIGN_OR_RETURN(std::vector<std::string> levels, ParseKeyLevels(catalog, r.key));
  ENCORE_ASSIGN_OR_RETURN(KeyIndex keys, KeyIndex::Build(catalog, levels));
  ProductScoreOptions score_options = r.product_score;
  if (options.as_of) score_options.as_of = *options.as_of;
  ENCORE_ASSIGN_OR_RETURN(ProductScores scores,
                          ProductScores::Compute(catalog, keys, &log, score_options));
  ExplainProduct(catalog, keys, scores, *p, score_options.as_of, &out);
  return out;
}

std::string FormatProductScoreExplanation(const ProductScoreExplanation& e) {
  std::string out = "product " + e.product + " (key " + e.key + "), as of " +
                    FormatUtcTime(e.as_of) + (e.run_id.empty() ? "" : ", run " + e.run_id) + "\n";
  char line[256];
  std::snprintf(line, sizeof line, "  %-18s %10s %10s %8s %12s\n", "feature", "raw", "normalised",
                "weight", "contribution");
  out += line;
  for (const ScoreTerm& t : e.terms) {
    std::snprintf(line, sizeof line, "  %-18s %10.4f %10.4f %8.3f %12.4f\n", t.feature.c_str(),
                  t.raw, t.normalised, t.weight, t.contribution + 0.0);  // no "-0.0000"
    out += line;
  }
  std::snprintf(line, sizeof line, "  %-18s %43.4f\n", "score", e.score);
  out += line;
  return out;
}

std::string ProductScoreExplanationJson(const ProductScoreExplanation& e) {
  JsonWriter w;
  w.BeginObject();
  w.Key("product");
  w.String(e.product);
  w.Key("key");
  w.String(e.key);
  w.Key("as_of");
  w.String(FormatUtcTime(e.as_of));
  w.Key("run");
  w.String(e.run_id);
  w.Key("score");
  w.Double(e.score);
  w.Key("terms");
  w.BeginArray();
  for (const ScoreTerm& t : e.terms) {
    w.BeginObject();
    w.Key("feature");
    w.String(t.feature);
    w.Key("raw");
    w.Double(t.raw);
    w.Key("normalised");
    w.Double(t.normalised);
    w.Key("weight");
    w.Double(t.weight);
    w.Key("contribution");
    w.Double(t.contribution);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.str();
}

std::string FormatRunResult(const PipelineRunResult& r) {
  std::string out = "run " + r.run_id + " succeeded in " + Seconds(r.seconds) + " (" + r.run_dir +
                    "/manifest.json)\n";
  for (const auto& o : r.outputs) {
    out += "output " + o.name + " (" + o.kind + "): " + o.location + ", " + Count(o.rows) +
           " rows, " + std::to_string(o.files.size()) + " file(s)\n";
  }
  return out;
}

}  // namespace encore
