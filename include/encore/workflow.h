// Workflows: the jobs every front end runs - train and save a model, and
// turn a trained model into outputs (a file of lists, a serving snapshot) -
// as single library calls, so the CLI (src/cli), pipelines (src/pipeline),
// `encore demo` and, later, the Python bindings do them the same way with
// the same defaults. Input loading is in encore/input.h, the evaluation
// protocol in encore/evaluate.h (RunEvaluation).
//
// Layer: workflow (above publish, below serve; docs/ARCHITECTURE.md).
// Thread-safety: reentrant; models are used through their const methods.

#ifndef ENCORE_WORKFLOW_H_
#define ENCORE_WORKFLOW_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "encore/batch.h"
#include "encore/dataset.h"
#include "encore/params.h"
#include "encore/progress.h"
#include "encore/publish.h"
#include "encore/recommender.h"
#include "encore/status.h"

namespace encore {

// ------------------------------------------------------- train and save

struct TrainReport {
  double fit_seconds = 0;
  std::string file;         // the model file written; empty when not saved
  uint64_t file_bytes = 0;  // its size
};

// Creates the model `kind` with `params` (InvalidArgument for an unknown
// kind or bad parameters, before any work), fits it on `data` and, when
// `path` is not empty, writes the model file there (SaveModel). The trained
// model holds copies of data's dictionaries. `report` may be null. With
// `progress`, an iterative model reports every iteration (the first and the
// last always, others at the progress interval) with the rate, the time left
// and how much the item factors changed (relative RMS change over a sample
// of up to 4096 item rows; it falls as the fit converges).
Result<TrainedModel> TrainAndSave(const std::string& kind, const ModelParams& params,
                                  const Dataset& data, const std::string& path,
                                  TrainReport* report = nullptr, Progress* progress = nullptr);

// Fits models somewhere other than this process alone: a pipeline run under
// mpirun hands its fits to one (distributed::FitCoordinator, src/distributed),
// so the front end decides where fits run and the pipeline does not depend on
// MPI. Implementations are called from one thread at a time.
class ModelFitter {
 public:
  virtual ~ModelFitter() = default;
  // Whether Fit runs `kind` over more than this process; kinds it does not
  // distribute are fitted with TrainAndSave by the caller.
  virtual bool Distributes(const std::string& kind) const = 0;
  // As TrainAndSave: fits `kind` on `data` and writes `path` when not empty.
  // REQUIRES: Distributes(kind).
  virtual Result<TrainedModel> Fit(const std::string& kind, const ModelParams& params,
                                   const Dataset& data, const std::string& path,
                                   TrainReport* report) = 0;
  // One line for logs: "2 MPI ranks".
  virtual std::string Describe() const = 0;
};

// -------------------------------------------------- recommend to outputs

enum class RecommendKind {
  kUsers,    // top-N items per user: user,item,score,rank
  kSimilar,  // most similar items per item: item,similar_item,score,rank
};

// What lists to make. The defaults are the documented ones of
// `encore recommend`, `encore similar` and a pipeline's [recommend.NAME].
struct RecommendRequest {
  RecommendKind kind = RecommendKind::kUsers;
  uint32_t n = 0;            // 0: the model's list length (DefaultListLength)
  bool exclude_seen = true;  // users: drop items the user already has
  std::string ids_file;      // one id per line: only these users (similar: items); empty = all
  std::string allow_file;    // users: one item id per line; only these may be recommended
  std::string deny_file;     // users: one item id per line; never recommended
};

// A request resolved against one model.
struct ResolvedRequest {
  QueryOptions query;                        // n, exclude_seen, allow, deny
  std::optional<std::vector<uint32_t>> ids;  // indices; nullopt = every user (item)
  std::vector<std::string> id_names;         // the ids_file as read (empty without one)
  uint64_t unknown = 0;                      // ids of ids_file the model does not know
  std::vector<std::string> first_unknown;    // up to 10 of them
};

// Reads the id lists and decides the list length. An allow list naming no
// item the model knows is InvalidArgument (it would leave every list empty);
// unknown ids are counted, not errors. A similar-items request fails early
// (FailedPrecondition) for a model without item similarity.
Result<ResolvedRequest> ResolveRecommendRequest(const TrainedModel& model,
                                                const RecommendRequest& request);

// Writes the lists to `out_path`: CSV, or JSON Lines when it ends in .jsonl
// (WriteRecommendations / WriteSimilarItems of encore/batch.h).
Result<BatchReport> RecommendToFile(const TrainedModel& model, const RecommendRequest& request,
                                    const std::string& out_path, Progress* progress = nullptr);

// Publishes a new snapshot of `model` to `store` (Publish of
// encore/publish.h). options.n == 0 means the model's n, else
// PublishOptions{}.n (20): the rule of `encore publish` and of a pipeline's
// publish output.
Result<PublishReport> PublishModel(const TrainedModel& model, PublishOptions options, Store* store,
                                   Progress* progress = nullptr);

// Opens the store at `store_uri` (a directory, redis://HOST:PORT/DB or
// memory:NAME), then PublishModel.
Result<PublishReport> PublishToStore(const TrainedModel& model, const PublishOptions& options,
                                     const std::string& store_uri, Progress* progress = nullptr);

}  // namespace encore

#endif  // ENCORE_WORKFLOW_H_
