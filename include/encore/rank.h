// Ranking: the one query path from model scores to a ranked list.
//
// Models only score (encore/recommender.h). A Ranker turns scores into the
// list a caller gets, and every front end goes through it: batch recommend
// and similar items (encore/batch.h), the pipeline's rows, publishing,
// the HTTP fold-in route and evaluation. A new rule is written once as a
// RankStep and is then available in all of them.
//
// The order, for one user (or fold-in visitor):
//
//   (a) candidates   the ranker picks the fastest valid way to get them:
//                    - a RankedCursor (model->NewRankedCursor()) when the
//                      model has one and no AdjustStep is present;
//                    - ScoreSubset for a short allow list (fewer than
//                      num_items / 16 items) when the model scores per item;
//                    - with options.approximate and an index
//                      (UseIndex), the index's nearest items by inner
//                      product (n * 4 of them, growing by 4x while steps
//                      reject too many), re-scored exactly with
//                      ScoreSubset (cold items and users follow the model's
//                      rules; a cold user or visitor falls back to dense);
//                      then (b)-(f) as below, so exclusions and rules
//                      always apply. The list is approximate: an item the
//                      index misses is never a candidate.
//                    - otherwise dense scores (ScoreBatch, blocks of
//                      model->batch_block() users; ScoreFoldIn for visitors).
//   (b) exclusions   the user's training items (exclude_seen; for a visitor
//                    the items it named; beyond options.seen_exact_max of
//                    them, a Bloom filter of them), items not on a non-empty allow
//                    list, items on the deny list, then each ExcludeStep in
//                    the order added. Exclusions see only (context, item),
//                    never a score, so they commute with (c).
//   (c) adjustments  each AdjustStep in the order added rewrites the scores
//                    of the items it concerns (e.g. a boost).
//   (d) non-finite   a score that is NaN or +-infinity after (c) is dropped:
//                    the item is not returned. This is the only rule for
//                    non-finite scores; nothing after the ranker sees one.
//   (e) top-N        rank order: score descending, ties by the smaller
//                    model->TieRank(item).
//   (f) list rules   with ListSteps, candidates are taken in rank order and
//                    each is accepted when every ListStep accepts it given
//                    the items accepted before it (greedy), until n are
//                    accepted or no candidates remain. The ranker over-fetches
//                    (n * 4 candidates, growing by 4x while needed), so the
//                    result equals walking the full ranking.
//
// Similar items follow (b)-(f) on the model's SimilarItems list (seen,
// allow and deny do not apply; the source item is the context).
//
// Thread-safety: a Ranker is immutable once built; its methods may be called
// concurrently. Steps must be thread-safe (they are shared and const).

#ifndef ENCORE_RANK_H_
#define ENCORE_RANK_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "encore/recommender.h"

namespace encore {

// Per-query knobs; one fitted model serves many different queries.
struct QueryOptions {
  uint32_t n = 10;           // items to return (fewer when fewer qualify)
  bool exclude_seen = true;  // drop items the user interacted with in training
  // Seen items at scale: exclusion is exact for a user (visitor) with up to
  // this many seen items; beyond it, the ranker tests candidates against a
  // Bloom filter of them sized for seen_fpr (util/bloom_filter.h). A seen
  // item is never returned; an unseen candidate is dropped with probability
  // about seen_fpr (docs/STREAMING.md, "Seen items at scale"). Default: no
  // limit, so batch recommendation, publishing and evaluation stay exact;
  // the stream consumer declares its own (SpeedLayerOptions).
  uint32_t seen_exact_max = UINT32_MAX;
  double seen_fpr = 0.001;  // REQUIRES: 0 < seen_fpr < 1
  // When not empty, only these items may be returned.
  std::vector<uint32_t> allow;
  // These items are never returned.
  std::vector<uint32_t> deny;
  // Take candidates from the ranker's approximate index (Ranker::UseIndex)
  // instead of scoring every item; ignored when the ranker has no index.
  // See "(a) candidates" above.
  bool approximate = false;
  // The index's search breadth for this query (0 = the index's default);
  // larger is more accurate and slower (docs/BENCHMARKS.md has the table).
  uint32_t ef = 0;
};

// What a step knows about the query it is applied to.
struct RankContext {
  static constexpr uint32_t kNone = UINT32_MAX;
  const Recommender* model = nullptr;
  uint32_t user = kNone;           // kNone for a fold-in visitor or similar items
  uint32_t source_item = kNone;    // similar items: the item they are similar to
  std::span<const uint32_t> seen;  // the user's (visitor's) items, sorted
};

// A rule applied by the ranker. Steps are immutable and shared between
// threads; per-query state, if any, lives in the arguments.
class RankStep {
 public:
  enum class Kind { kExclude, kAdjust, kList };
  virtual ~RankStep() = default;
  virtual Kind kind() const = 0;
};

// (b) Removes items from consideration, whatever their score.
class ExcludeStep : public RankStep {
 public:
  Kind kind() const final { return Kind::kExclude; }
  virtual bool Excludes(const RankContext& ctx, uint32_t item) const = 0;
};

// (c) Rewrites scores. AdjustDense may touch only the items it concerns;
// scores has model->num_items() entries. Adjust is the one-item form; both
// must agree.
class AdjustStep : public RankStep {
 public:
  Kind kind() const final { return Kind::kAdjust; }
  virtual float Adjust(const RankContext& ctx, uint32_t item, float score) const = 0;
  virtual void AdjustDense(const RankContext& ctx, float* scores) const;
};

// (f) Accepts or rejects the next candidate in rank order given the items
// already accepted (best first).
class ListStep : public RankStep {
 public:
  Kind kind() const final { return Kind::kList; }
  virtual bool Accepts(const RankContext& ctx, std::span<const ScoredItem> accepted,
                       const ScoredItem& candidate) const = 0;

  // The same decision made incrementally over one query: the ranker asks
  // Accepts(candidate) in rank order and calls Add(candidate) for each item
  // it accepts, so a step that counts (GroupCap) need not recount the
  // accepted list for every candidate. Not thread-safe; one per query.
  class Tracker {
   public:
    virtual ~Tracker() = default;
    virtual bool Accepts(const ScoredItem& candidate) = 0;
    virtual void Add(const ScoredItem& accepted) = 0;
  };
  // The default keeps the accepted list and calls Accepts(ctx, list, c).
  // `ctx` must outlive the tracker.
  virtual std::unique_ptr<Tracker> NewTracker(const RankContext& ctx) const;
};

// Built-in steps (tests use them; catalogue-driven ones come later).

// Excludes a fixed set of items.
class ExcludeItems final : public ExcludeStep {
 public:
  explicit ExcludeItems(std::vector<uint32_t> items);
  bool Excludes(const RankContext& ctx, uint32_t item) const override;

 private:
  std::vector<uint32_t> items_;  // sorted, unique
};

// score * factor + offset for a set of items; other items are unchanged.
class ItemBoost final : public AdjustStep {
 public:
  ItemBoost(std::vector<uint32_t> items, float factor, float offset);
  float Adjust(const RankContext& ctx, uint32_t item, float score) const override;
  void AdjustDense(const RankContext& ctx, float* scores) const override;

 private:
  std::vector<uint32_t> items_;  // sorted, unique
  float factor_, offset_;
};

// At most `max_per_group` items of each group; group[item] names the group
// (items beyond the vector's end are in no group and never capped).
class GroupCap final : public ListStep {
 public:
  GroupCap(std::vector<uint32_t> group, uint32_t max_per_group);
  bool Accepts(const RankContext& ctx, std::span<const ScoredItem> accepted,
               const ScoredItem& candidate) const override;
  // Counts per group: O(1) a candidate.
  std::unique_ptr<Tracker> NewTracker(const RankContext& ctx) const override;

 private:
  class Counter;
  std::vector<uint32_t> group_;
  uint32_t max_;
  uint32_t num_groups_ = 0;  // 1 + the largest group id; 0: sparse ids, no Counter
};

class AnnIndex;  // encore/ann.h

class Ranker {
 public:
  // The model must outlive the ranker.
  explicit Ranker(const Recommender& model) : model_(&model) {}

  // Queries with options.approximate (and RankSimilar when
  // approximate_similar) take their candidates from `index`, built from
  // this ranker's model (encore/ann.h). nullptr: exact only. The index must
  // outlive the ranker.
  Ranker& UseIndex(const AnnIndex* index, bool approximate_similar = false) {
    index_ = index;
    approximate_similar_ = approximate_similar;
    return *this;
  }
  const AnnIndex* index() const { return index_; }

  // Appends a step; steps of one kind apply in the order added.
  Ranker& Add(std::shared_ptr<const RankStep> step);

  const Recommender& model() const { return *model_; }

  // Top-N for each of `users`, in parallel with the model's threads
  // (params().threads). Users >= num_users() get an empty list.
  void RankUsers(std::span<const uint32_t> users, const QueryOptions& options,
                 std::vector<std::vector<ScoredItem>>* out) const;
  // Exactly RankUsers({user})[0].
  std::vector<ScoredItem> RankUser(uint32_t user, const QueryOptions& options) const;
  // Top-N for a visitor who interacted with `items` (fold-in); with
  // exclude_seen those items are not returned. Unknown item indices are an
  // error.
  Result<std::vector<ScoredItem>> RankFoldIn(std::span<const ItemWeight> items,
                                             const QueryOptions& options) const;
  // The `n` best items similar to `item` after the steps (see the header
  // comment). FailedPrecondition when the model has no similarity.
  Status RankSimilar(uint32_t item, uint32_t n, std::vector<ScoredItem>* out) const;
  // RankSimilar for each of `items`, in parallel; the first error (in
  // `items` order) is returned.
  Status RankSimilarItems(std::span<const uint32_t> items, uint32_t n,
                          std::vector<std::vector<ScoredItem>>* out) const;

 private:
  struct Plan;
  int Threads() const;
  // Whether `options` take candidates from the index (asked for, and the
  // index matches the model's shape).
  bool UsesIndex(const QueryOptions& options) const;

  const Recommender* model_;
  const AnnIndex* index_ = nullptr;
  bool approximate_similar_ = false;
  std::vector<std::shared_ptr<const RankStep>> steps_;
  std::vector<const ExcludeStep*> exclude_;
  std::vector<const AdjustStep*> adjust_;
  std::vector<const ListStep*> list_;
};

// A ranker with no steps, for callers that only need options.
inline std::vector<ScoredItem> Recommend(const Recommender& model, uint32_t user,
                                         const QueryOptions& options) {
  return Ranker(model).RankUser(user, options);
}
inline void RecommendBatch(const Recommender& model, std::span<const uint32_t> users,
                           const QueryOptions& options, std::vector<std::vector<ScoredItem>>* out) {
  Ranker(model).RankUsers(users, options, out);
}
inline Result<std::vector<ScoredItem>> RecommendFoldIn(const Recommender& model,
                                                       std::span<const ItemWeight> items,
                                                       const QueryOptions& options) {
  return Ranker(model).RankFoldIn(items, options);
}

}  // namespace encore

#endif  // ENCORE_RANK_H_
