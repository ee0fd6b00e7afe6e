// Recommender: the one interface every model implements.
//
// A model is fitted on a Dataset (dense user and item indices) and then
// only scores: every item for a user, for many users at once (batch), for a
// visitor described only by items (fold-in), for a short list of items, or
// (where the model can) its candidates best first through a RankedCursor;
// and it lists similar items. Everything after scoring - excluding seen,
// allowed and denied items, rule steps, top-N - is the ranker's (encore/
// rank.h, src/rank/), the one query path every front end goes through. Id
// dictionaries live beside the model in a TrainedModel, so a model file
// answers queries on its own.
//
// Every scoring path gives the same bits: row r of ScoreBatch equals
// ScoreItems(users[r]), ScoreSubset equals ScoreItems on the items it
// writes, and a cursor yields exactly the finite ScoreItems scores in rank
// order. The shared contract test (src/model/recommender_contract_test.cc)
// checks this through the ranker for every registered model.
//
// Ordering: rank order is score descending, ties broken by the smaller
// TieRank(item): the item index (first-seen order, so deterministic) unless
// the model defines its own tie order (cooccurrence: the original item id in
// byte order). ScoreItems may write -infinity for an item the model cannot
// score (e.g. no co-occurrence); the ranker never returns a non-finite score.
//
// Thread-safety: after Fit or Load, all const methods may be called
// concurrently. Fit and Load are not thread-safe. A RankedCursor is used by
// one thread at a time.

#ifndef ENCORE_RECOMMENDER_H_
#define ENCORE_RECOMMENDER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "encore/dataset.h"
#include "encore/ids.h"
#include "encore/params.h"
#include "encore/status.h"

namespace encore {

class ModelWriter;
class ModelReader;
struct Explanation;  // encore/explain.h

struct ScoredItem {
  uint32_t item = 0;
  float score = 0;
  bool operator==(const ScoredItem&) const = default;
};

// An item and its weight (e.g. an implicit count) describing a visitor.
struct ItemWeight {
  uint32_t item = 0;
  float weight = 1;
};

// The candidates of one user best first, for models that can enumerate
// them without scoring every item (popularity's global order, the k-way
// merge of cooccurrence rows). Next yields each item with a finite score at
// most once, in exact rank order (score descending, then TieRank), with the
// score ScoreItems gives it; items ScoreItems scores -infinity never appear.
// Obtained from Recommender::NewRankedCursor; one per thread.
class RankedCursor {
 public:
  virtual ~RankedCursor() = default;
  // Starts over for `user`. REQUIRES: user < num_users().
  virtual void Reset(uint32_t user) = 0;
  // The next candidate; false when there are no more.
  virtual bool Next(ScoredItem* out) = 0;
  // True when a user's candidates cost about as much as copying them (one
  // global order): the ranker then runs all users on one thread, since
  // starting threads and waiting at barriers would cost more than it saves
  // (measured: popularity top-10 for 198k users, 0.1 s on one thread, up to
  // 1.4 s on two under load).
  virtual bool cheap() const { return false; }
};

// The factor matrices of a matrix-factorisation model, viewed in place:
// row-major float32, users x factors and items x factors. Valid while the
// model lives and is not refitted or reloaded (bindings hand them out
// without copies, keeping the model alive).
struct FactorView {
  uint32_t factors = 0;
  const float* users = nullptr;  // num_users() x factors
  const float* items = nullptr;  // num_items() x factors
};

// Called by Fit after each training iteration (sweep, epoch) with the
// iterations done and the total, on the thread that called Fit, never from
// inside a parallel region. It must not touch the model being fitted.
using FitCallback = std::function<void(uint32_t done, uint32_t total)>;

class Recommender {
 public:
  virtual ~Recommender() = default;

  // The registry name: "als", "bpr", "ease", "ials", "svdpp", "cooccurrence",
  // "popularity".
  virtual const char* kind() const = 0;
  const ModelParams& params() const { return params_; }
  // Threads for queries (a per-run knob; 0 = all cores). Not thread-safe.
  void set_threads(int threads) { params_.threads = threads; }

  // Trains on `data`. Keeps the user x item pattern for exclude_seen.
  // Fails on empty data or invalid parameters.
  virtual Status Fit(const Dataset& data) = 0;
  // A warm-started refit (the live item refresh, src/stream): like Fit on
  // `data`, but the factors start from `warm`'s (a fitted model of the same
  // kind and factor count) for every row whose map entry names a row of
  // `warm` (user_map[u] / item_map[i]; -1 or out of range: a new row, drawn
  // as Fit draws it), and `iterations` sweeps run instead of the
  // parameters'. REQUIRES: user_map.size() == data.users.size(),
  // item_map.size() == data.items.size(). The default is FailedPrecondition
  // (ials implements it).
  virtual Status FitWarm(const Dataset& data, const Recommender& warm,
                         std::span<const int64_t> user_map, std::span<const int64_t> item_map,
                         uint32_t iterations);
  // Progress of the next Fit calls (iterative models report each
  // iteration; others may report nothing). Empty: none. Not thread-safe.
  void set_fit_callback(FitCallback callback) { fit_callback_ = std::move(callback); }

  // The factor matrices, for matrix-factorisation models (als, ials, ...);
  // nullopt for the others or before Fit.
  virtual std::optional<FactorView> Factors() const { return std::nullopt; }

  uint32_t num_users() const { return seen_.rows; }
  uint32_t num_items() const { return seen_.cols; }
  // Training interactions (pattern and values), users x items.
  const CsrMatrix& seen() const { return seen_; }

  // Equal scores rank by the smaller TieRank. REQUIRES: item < num_items().
  uint32_t TieRank(uint32_t item) const {
    const uint32_t* ranks = tie_ranks();
    return ranks != nullptr ? ranks[item] : item;
  }
  // The tie ranks indexed by item (a permutation of 0 .. num_items()), or
  // nullptr for the item index itself (the default).
  virtual const uint32_t* tie_ranks() const { return nullptr; }

  // Writes a score for every item into scores[0 .. num_items()).
  // REQUIRES: user < num_users().
  virtual void ScoreItems(uint32_t user, float* scores) const = 0;

  // Scores every item for a visitor who interacted with `items` (fold-in:
  // the user is absent from training). Unknown item indices are an error.
  virtual Status ScoreFoldIn(std::span<const ItemWeight> items, float* scores) const = 0;

  // ScoreFoldIn restricted to `subset`: writes scores[item] for each item of
  // it, the same value ScoreFoldIn writes (the approximate-search path
  // re-scores its candidates with it). The default scores every item.
  virtual Status ScoreFoldInSubset(std::span<const ItemWeight> items,
                                   std::span<const uint32_t> subset, float* scores) const;

  // Predicted value of (user, item) on the training scale (a rating for
  // explicit models). REQUIRES: user < num_users(), item < num_items().
  virtual float Predict(uint32_t user, uint32_t item) const;

  // Whether the model has learned anything about both `user` and `item`, so
  // that Predict is a real prediction rather than a fallback. Evaluation of
  // rating predictions skips pairs where this is false and counts them (the
  // analogue of Spark's coldStartStrategy=drop); Predict still returns a
  // finite value for them. The default is true for every in-range pair;
  // factor models with cold_start=drop return false when the user or the
  // item has no training interactions. Out-of-range indices give false.
  virtual bool CanPredict(uint32_t user, uint32_t item) const {
    return user < num_users() && item < num_items();
  }

  // Scores every item for each of `users`: row r (num_items() floats at
  // out + r * num_items()) holds exactly what ScoreItems(users[r]) writes.
  // The default calls ScoreItems per user; factor models score a block of
  // users with one blocked kernel (see also slice_shape). REQUIRES: every
  // user < num_users().
  virtual void ScoreBatch(std::span<const uint32_t> users, float* out) const;
  // How many users a ScoreBatch call should hold to run at full speed (the
  // ranker's block size); 1 when batching gains nothing.
  virtual uint32_t batch_block() const { return 1; }

  // Optional slice scoring, for models whose ScoreBatch streams every score
  // row through memory: the ranker then scores `users` x `items` slices and
  // selects from each while it is still in cache. {0, 0} (the default): not
  // offered, ScoreBatchSlice is never called.
  struct SliceShape {
    uint32_t users = 0;  // users per slice
    uint32_t items = 0;  // items per slice; slices start at multiples of it
  };
  virtual SliceShape slice_shape() const { return {}; }
  // Scores items [begin, end) for each of `users`: row r (end - begin
  // floats at out + r * ld) holds exactly what ScoreItems(users[r]) writes
  // for those items. REQUIRES: slice_shape().items > 0, begin a multiple of
  // it, begin < end <= num_items(), every user < num_users(), ld >= end - begin.
  virtual void ScoreBatchSlice(std::span<const uint32_t> users, uint32_t begin, uint32_t end,
                               float* out, size_t ld) const;

  // Writes scores[item] for each item of `items` (each < num_items()), the
  // same value ScoreItems writes; other entries may be left as they are or
  // overwritten. The default is ScoreItems. REQUIRES: user < num_users().
  virtual void ScoreSubset(uint32_t user, std::span<const uint32_t> items, float* scores) const;
  // True when ScoreSubset costs per listed item (so a short allow list is
  // cheaper through it than through ScoreItems).
  virtual bool has_subset_scoring() const { return false; }

  // A cursor over a user's candidates best first, or nullptr when the model
  // has none (the ranker then scores densely).
  virtual std::unique_ptr<RankedCursor> NewRankedCursor() const { return nullptr; }

  // The `n` items most similar to `item` (never itself), by the model's own
  // notion: cosine of item factors for MF models, the co-occurrence score,
  // ... Fails when the model has no such notion.
  virtual Status SimilarItems(uint32_t item, uint32_t n, std::vector<ScoredItem>* out) const;

  // Embeddings, for approximate search (encore/ann.h). A model that has
  // them scores by an inner product: s(u, i) = q_u . v_i + c_u, with c_u the
  // same for every item of one user, so a user's best items are the largest
  // inner products q_u . v_i (factor models: q = x_u, v = y_i; with biases
  // q = [x_u; 1], v = [y_i; b_i]). Cold users and cold items still follow
  // the model's cold_start rule, which the ranker applies when it re-scores
  // the candidates. embedding_dim() == 0: the model has none.
  virtual uint32_t embedding_dim() const { return 0; }
  // v_i into out[0 .. embedding_dim()). REQUIRES: item < num_items().
  virtual void ItemEmbedding(uint32_t item, float* out) const;
  // q_u into out[0 .. embedding_dim()); false when the user is scored
  // otherwise (a cold user). REQUIRES: user < num_users().
  virtual bool UserEmbedding(uint32_t user, float* out) const;
  // q of a visitor who interacted with `items` (the fold-in step); false
  // when the visitor is scored otherwise (no items). Unknown items: error.
  virtual Result<bool> FoldInEmbedding(std::span<const ItemWeight> items, float* out) const;
  // SimilarItems ranks by the cosine of the first similarity_dim() entries of
  // the item embeddings (0: the model's similarity is not a cosine).
  virtual uint32_t similarity_dim() const { return 0; }

  // The decomposition of `item`'s score for a history into the history
  // items' shares (see encore/explain.h, which callers use: ExplainUser,
  // ExplainItems). Fills out->score, base, items, exact and method. The
  // default is FailedPrecondition. REQUIRES: every index < num_items().
  virtual Status ExplainScore(std::span<const ItemWeight> history, uint32_t item,
                              Explanation* out) const;

  // Model-specific state for model files (the base saves params and seen_).
  // Called twice per file (a counting pass, then the writing one): it must
  // write the same bytes each time.
  virtual void SaveState(ModelWriter* w) const = 0;
  virtual Status LoadState(ModelReader* r) = 0;

  // Used by the model-file reader; not for general use.
  void RestoreBase(const ModelParams& params, CsrMatrix seen) {
    params_ = params;
    seen_ = std::move(seen);
  }

 protected:
  explicit Recommender(const ModelParams& params) : params_(params) {}
  // Copies the pattern and values of data.by_user into seen_.
  void RememberSeen(const Dataset& data);
  // Fit calls this after each iteration (see set_fit_callback).
  void ReportIteration(uint32_t done, uint32_t total) const {
    if (fit_callback_) fit_callback_(done, total);
  }

  ModelParams params_;
  CsrMatrix seen_;
  FitCallback fit_callback_;
};

// Creates an unfitted model by registry name (src/model/registry.cc).
// Unknown names are an error listing the known ones.
Result<std::unique_ptr<Recommender>> CreateRecommender(const std::string& kind,
                                                       const ModelParams& params);
// Registry names, sorted.
std::vector<std::string> RecommenderKinds();

// A fitted model with the id dictionaries that give its indices meaning.
struct TrainedModel {
  std::unique_ptr<Recommender> model;
  IdDictionary users;
  IdDictionary items;
};

// Model files: see docs/MODEL_FORMAT.md. Saving follows the output-path rule
// of docs/OUTPUTS.md: a regular file (or new path) is written to a temporary
// name and renamed, so a crash never leaves a half-written file under `path`;
// a FIFO, a character device or "-" is written through; a symlink's target is
// written; directories and other kinds are refused.
// The file is streamed (never whole in memory); `file_bytes`, when given,
// receives its size.
Status SaveModel(const TrainedModel& model, const std::string& path,
                 uint64_t* file_bytes = nullptr);
// Truncated, corrupted or foreign files fail with Corruption naming the path
// and what is wrong; never a crash or garbage output.
Result<TrainedModel> LoadModel(const std::string& path);
// The same encoding in memory (e.g. a model stored inside a serving
// snapshot). `source` names the origin in error messages.
std::string SerializeModel(const TrainedModel& model);
Result<TrainedModel> ParseModel(std::string_view data, const std::string& source);

}  // namespace encore

#endif  // ENCORE_RECOMMENDER_H_
