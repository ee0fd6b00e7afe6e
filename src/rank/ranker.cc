// Ranker: the one query path (the step order is documented in encore/rank.h).

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "encore/ann.h"
#include "encore/rank.h"
#include "model/rank_order.h"
#include "rank/topn.h"
#include "util/threads.h"

namespace encore {

namespace {

std::vector<uint32_t> SortedUnique(std::vector<uint32_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

bool Contains(const std::vector<uint32_t>& sorted, uint32_t item) {
  return std::binary_search(sorted.begin(), sorted.end(), item);
}

// Candidates fetched per wanted item while list steps may reject some.
constexpr uint64_t kOverFetch = 4;

}  // namespace

void AdjustStep::AdjustDense(const RankContext& ctx, float* scores) const {
  const uint32_t n = ctx.model->num_items();
  for (uint32_t i = 0; i < n; ++i) scores[i] = Adjust(ctx, i, scores[i]);
}

ExcludeItems::ExcludeItems(std::vector<uint32_t> items) : items_(SortedUnique(std::move(items))) {}

bool ExcludeItems::Excludes(const RankContext&, uint32_t item) const {
  return Contains(items_, item);
}

ItemBoost::ItemBoost(std::vector<uint32_t> items, float factor, float offset)
    : items_(SortedUnique(std::move(items))), factor_(factor), offset_(offset) {}

float ItemBoost::Adjust(const RankContext&, uint32_t item, float score) const {
  return Contains(items_, item) ? score * factor_ + offset_ : score;
}

void ItemBoost::AdjustDense(const RankContext& ctx, float* scores) const {
  const uint32_t n = ctx.model->num_items();
  for (uint32_t item : items_) {
    if (item < n) scores[item] = scores[item] * factor_ + offset_;
  }
}

namespace {

// ListStep's default tracker: the accepted list, asked of the step.
class ListTracker final : public ListStep::Tracker {
 public:
  ListTracker(const ListStep& step, const RankContext& ctx) : step_(step), ctx_(ctx) {}
  bool Accepts(const ScoredItem& candidate) override {
    return step_.Accepts(ctx_, accepted_, candidate);
  }
  void Add(const ScoredItem& accepted) override { accepted_.push_back(accepted); }

 private:
  const ListStep& step_;
  const RankContext& ctx_;
  std::vector<ScoredItem> accepted_;
};

}  // namespace

std::unique_ptr<ListStep::Tracker> ListStep::NewTracker(const RankContext& ctx) const {
  return std::make_unique<ListTracker>(*this, ctx);
}

// Accepted items per group, in a vector indexed by group id.
class GroupCap::Counter final : public ListStep::Tracker {
 public:
  explicit Counter(const GroupCap& cap) : cap_(cap), count_(cap.num_groups_, 0) {}
  bool Accepts(const ScoredItem& candidate) override {
    return candidate.item >= cap_.group_.size() || count_[cap_.group_[candidate.item]] < cap_.max_;
  }
  void Add(const ScoredItem& accepted) override {
    if (accepted.item < cap_.group_.size()) ++count_[cap_.group_[accepted.item]];
  }

 private:
  const GroupCap& cap_;
  std::vector<uint32_t> count_;
};

GroupCap::GroupCap(std::vector<uint32_t> group, uint32_t max_per_group)
    : group_(std::move(group)), max_(max_per_group) {
  uint64_t largest = 0;
  for (uint32_t g : group_) largest = std::max<uint64_t>(largest, g);
  // A vector of counts when the ids are dense enough (group ids are node
  // indices in practice); otherwise the list-based default.
  if (!group_.empty() && largest < 4 * uint64_t{group_.size()} + 65536) {
    num_groups_ = static_cast<uint32_t>(largest + 1);
  }
}

std::unique_ptr<ListStep::Tracker> GroupCap::NewTracker(const RankContext& ctx) const {
  if (num_groups_ == 0) return ListStep::NewTracker(ctx);
  return std::make_unique<Counter>(*this);
}

bool GroupCap::Accepts(const RankContext&, std::span<const ScoredItem> accepted,
                       const ScoredItem& candidate) const {
  if (candidate.item >= group_.size()) return true;
  const uint32_t g = group_[candidate.item];
  uint32_t count = 0;
  for (const ScoredItem& a : accepted) {
    count += a.item < group_.size() && group_[a.item] == g;
  }
  return count < max_;
}

Ranker& Ranker::Add(std::shared_ptr<const RankStep> step) {
  switch (step->kind()) {
    case RankStep::Kind::kExclude:
      exclude_.push_back(static_cast<const ExcludeStep*>(step.get()));
      break;
    case RankStep::Kind::kAdjust:
      adjust_.push_back(static_cast<const AdjustStep*>(step.get()));
      break;
    case RankStep::Kind::kList:
      list_.push_back(static_cast<const ListStep*>(step.get()));
      break;
  }
  steps_.push_back(std::move(step));
  return *this;
}

bool Ranker::UsesIndex(const QueryOptions& options) const {
  return options.approximate && index_ != nullptr && index_->num_items() == model_->num_items() &&
         index_->dim() == model_->embedding_dim() && model_->embedding_dim() > 0;
}

int Ranker::Threads() const {
  const int t = model_->params().threads;
  return ResolveThreads(t);
}

namespace {

// One thread's seen items as marks in an array indexed by item: a cursor
// walks many candidates per user (seen ones among them), and testing a mark
// is cheaper than a binary search over the seen list. Epochs make clearing
// free: marking a user's items takes O(seen).
class SeenMarks {
 public:
  explicit SeenMarks(uint32_t num_items) : mark_(num_items, 0) {}

  // Marks e's exact seen list and points e at the marks (a Bloom filter or an
  // empty list is left as it is).
  void Mark(rank::Eligibility* e) {
    if (e->seen.empty() || e->seen_filter != nullptr) return;
    if (++epoch_ == 0) {  // wrapped: forget every old mark
      std::fill(mark_.begin(), mark_.end(), 0);
      epoch_ = 1;
    }
    for (uint32_t item : e->seen) {
      if (item >= mark_.size()) return;  // not the model's items: keep the list
      mark_[item] = epoch_;
    }
    e->seen_mark = mark_.data();
    e->seen_epoch = epoch_;
  }

 private:
  std::vector<uint32_t> mark_;
  uint32_t epoch_ = 0;
};

// (f) for one query: every list step's tracker; Accepts(c) asks them all
// and, when they all accept, records c as accepted.
class ListRules {
 public:
  ListRules(const std::vector<const ListStep*>& steps, const RankContext& ctx) {
    trackers_.reserve(steps.size());
    for (const ListStep* s : steps) trackers_.push_back(s->NewTracker(ctx));
  }
  bool Accepts(const ScoredItem& c) {
    for (auto& t : trackers_) {
      if (!t->Accepts(c)) return false;
    }
    for (auto& t : trackers_) t->Add(c);
    return true;
  }

 private:
  std::vector<std::unique_ptr<ListStep::Tracker>> trackers_;
};

// The users of block `b` (of `block` users) that the model knows, in
// `valid`, and their positions in `users`, in `where`.
void BlockUsers(std::span<const uint32_t> users, size_t b, size_t block, uint32_t num_users,
                std::vector<uint32_t>* valid, std::vector<size_t>* where) {
  valid->clear();
  where->clear();
  for (size_t k = b * block; k < std::min(users.size(), (b + 1) * block); ++k) {
    if (users[k] >= num_users) continue;
    valid->push_back(users[k]);
    where->push_back(k);
  }
}

}  // namespace

// A query's options, prepared once for every user it is applied to.
struct Ranker::Plan {
  Plan(const Ranker& ranker, const QueryOptions& options)
      : r(ranker),
        n(options.n),
        exclude_seen(options.exclude_seen),
        seen_exact_max(options.seen_exact_max),
        seen_fpr(options.seen_fpr),
        deny(SortedUnique(options.deny)) {
    const uint32_t items = r.model_->num_items();
    if (!options.allow.empty()) {
      for (uint32_t item : options.allow) {
        if (item < items) allow.push_back(item);
      }
      allow = SortedUnique(std::move(allow));
      // An allow list naming no known item allows nothing.
      nothing = allow.empty();
    }
    nothing = nothing || n == 0;
  }

  const Ranker& r;
  uint32_t n;
  bool exclude_seen;
  uint32_t seen_exact_max;
  double seen_fpr;
  std::vector<uint32_t> deny;
  std::vector<uint32_t> allow;  // sorted, unique, known items
  bool nothing = false;         // every list is empty

  RankContext Context(uint32_t user, std::span<const uint32_t> seen) const {
    RankContext ctx;
    ctx.model = r.model_;
    ctx.user = user;
    ctx.seen = seen;
    return ctx;
  }
  rank::Eligibility Eligible(const RankContext& ctx) const {
    rank::Eligibility e;
    if (exclude_seen && ctx.seen.size() > seen_exact_max) {
      // Seen items at scale: a Bloom filter instead of the exact list.
      auto filter = std::make_shared<util::BloomFilter>(ctx.seen.size(), seen_fpr);
      for (uint32_t item : ctx.seen) filter->Add(item);
      e.seen_filter = std::move(filter);
    } else if (exclude_seen) {
      e.seen = ctx.seen;
    }
    e.allow = allow;
    e.deny = deny;
    e.steps = r.exclude_;
    e.ctx = &ctx;
    return e;
  }
  std::span<const uint32_t> Seen(uint32_t user) const {
    const CsrMatrix& seen = r.model_->seen();
    return {seen.indices.data() + seen.indptr[user], seen.indices.data() + seen.indptr[user + 1]};
  }

  // (f): the list steps over one query's accepted items, best first.
  ListRules Lists(const RankContext& ctx) const { return ListRules(r.list_, ctx); }

  // (c)-(f) on a dense score row (which it may modify).
  std::vector<ScoredItem> FromScores(float* scores, const RankContext& ctx) const {
    const Recommender& m = *r.model_;
    for (const AdjustStep* s : r.adjust_) s->AdjustDense(ctx, scores);
    const rank::Eligibility e = Eligible(ctx);
    if (r.list_.empty()) return rank::SelectTopN(scores, m.num_items(), e, n, m.tie_ranks());
    uint64_t fetch = std::min<uint64_t>(uint64_t{n} * kOverFetch, m.num_items());
    const uint64_t universe = e.allow.empty() ? m.num_items() : e.allow.size();
    if (universe <= fetch * kOverFetch) return Walk(scores, e, ctx);
    for (;;) {
      const std::vector<ScoredItem> candidates =
          rank::SelectTopN(scores, m.num_items(), e, static_cast<uint32_t>(fetch), m.tie_ranks());
      std::vector<ScoredItem> out;
      ListRules lists = Lists(ctx);
      for (const ScoredItem& c : candidates) {
        if (!lists.Accepts(c)) continue;
        out.push_back(c);
        if (out.size() == n) return out;
      }
      if (candidates.size() < fetch || fetch >= m.num_items()) return out;
      fetch = std::min<uint64_t>(fetch * kOverFetch, m.num_items());
    }
  }

  // The list steps over a small candidate set (at most kOverFetch rounds
  // of fetching would cover it, e.g. a retail member's available keys):
  // every eligible item is collected once and put in rank order a chunk at
  // a time (nth_element, then sort of the chunk) while the list steps
  // accept fewer than n. The same items in the same order as fetching
  // 4n, 16n, ... best candidates and walking each from the top, without
  // heap-sorting candidates the steps never look at.
  std::vector<ScoredItem> Walk(const float* scores, const rank::Eligibility& e,
                               const RankContext& ctx) const {
    const Recommender& m = *r.model_;
    const model::RankOrder order{m.tie_ranks()};
    std::vector<ScoredItem> candidates;
    auto consider = [&](uint32_t item) {
      const float s = scores[item];
      if (std::isfinite(s) && !e.Excluded(item)) candidates.push_back({item, s});
    };
    if (!e.allow.empty()) {
      candidates.reserve(e.allow.size());
      for (uint32_t item : e.allow) {
        if (item < m.num_items()) consider(item);
      }
    } else {
      candidates.reserve(m.num_items());
      for (uint32_t item = 0; item < m.num_items(); ++item) consider(item);
    }
    std::vector<ScoredItem> out;
    ListRules lists = Lists(ctx);
    const size_t chunk = std::max<size_t>(n, 64);
    for (size_t begin = 0; begin < candidates.size() && out.size() < n;) {
      const size_t end = std::min(candidates.size(), begin + chunk);
      if (end < candidates.size()) {
        std::nth_element(candidates.begin() + begin, candidates.begin() + end, candidates.end(),
                         order);
      }
      std::sort(candidates.begin() + begin, candidates.begin() + end, order);
      for (size_t i = begin; i < end; ++i) {
        if (!lists.Accepts(candidates[i])) continue;
        out.push_back(candidates[i]);
        if (out.size() == n) return out;
      }
      begin = end;
    }
    return out;
  }

  // (a)-(f) with candidates from the approximate index: `query` is the
  // user's (visitor's) embedding; `rescore` writes exact scores of the
  // listed items. Fetches n * 4 (plus the items the user holds, which
  // exclude_seen removes), growing by 4x while fewer than n pass.
  template <typename Rescore>
  std::vector<ScoredItem> FromIndex(const float* query, uint32_t ef, Rescore rescore,
                                    std::vector<float>* scores, const RankContext& ctx) const {
    const Recommender& m = *r.model_;
    const AnnIndex& index = *r.index_;
    const rank::Eligibility e = Eligible(ctx);
    const model::RankOrder order{m.tie_ranks()};
    uint64_t fetch = uint64_t{n} * kOverFetch + (exclude_seen ? ctx.seen.size() : 0);
    fetch = std::min<uint64_t>(fetch, m.num_items());
    std::vector<uint32_t> items;
    for (;;) {
      const std::vector<ScoredItem> found =
          index.SearchInnerProduct(query, static_cast<uint32_t>(fetch), ef);
      items.clear();
      for (const ScoredItem& c : found) {
        if (c.item < m.num_items() && e.Allowed(c.item) && !e.Excluded(c.item)) {
          items.push_back(c.item);
        }
      }
      rescore(items, scores->data());
      std::vector<ScoredItem> candidates;
      candidates.reserve(items.size());
      for (uint32_t item : items) {
        float s = (*scores)[item];
        for (const AdjustStep* a : r.adjust_) s = a->Adjust(ctx, item, s);
        if (std::isfinite(s)) candidates.push_back({item, s});
      }
      std::sort(candidates.begin(), candidates.end(), order);
      std::vector<ScoredItem> out;
      ListRules lists = Lists(ctx);
      for (const ScoredItem& c : candidates) {
        if (!lists.Accepts(c)) continue;
        out.push_back(c);
        if (out.size() == n) return out;
      }
      if (found.size() < fetch || fetch >= m.num_items()) return out;
      fetch = std::min<uint64_t>(fetch * kOverFetch, m.num_items());
    }
  }

  // (b), (d)-(f) over a cursor (never used with adjustments). `marks`, when
  // given, holds the seen items for O(1) tests (a cursor yields many of them).
  std::vector<ScoredItem> FromCursor(RankedCursor* cursor, const RankContext& ctx,
                                     SeenMarks* marks = nullptr) const {
    rank::Eligibility e = Eligible(ctx);
    if (marks != nullptr) marks->Mark(&e);
    std::vector<ScoredItem> out;
    out.reserve(std::min(n, r.model_->num_items()));
    cursor->Reset(ctx.user);
    ListRules lists = Lists(ctx);
    ScoredItem c;
    while (out.size() < n && cursor->Next(&c)) {
      if (!std::isfinite(c.score) || !e.Allowed(c.item) || e.Excluded(c.item)) continue;
      if (!lists.Accepts(c)) continue;
      out.push_back(c);
    }
    return out;
  }
};

void Ranker::RankUsers(std::span<const uint32_t> users, const QueryOptions& options,
                       std::vector<std::vector<ScoredItem>>* out) const {
  const Recommender& m = *model_;
  out->assign(users.size(), {});
  const Plan plan(*this, options);
  if (plan.nothing || users.empty()) return;
  const uint32_t num_users = m.num_users(), num_items = m.num_items();
  const int threads = Threads();

  // (a) The approximate index when asked for and usable; users it cannot
  // serve (cold) fall through to the exact paths below.
  std::vector<uint32_t> exact_users;
  std::vector<size_t> exact_where;
  if (UsesIndex(options)) {
    const uint32_t dim = m.embedding_dim();
    std::vector<uint8_t> cold(users.size(), 0);
#pragma omp parallel num_threads(users.size() < 16 ? 1 : threads)
    {
      std::vector<float> q(dim), scores(num_items);
#pragma omp for schedule(dynamic, 16)
      for (size_t k = 0; k < users.size(); ++k) {
        const uint32_t u = users[k];
        if (u >= num_users) continue;
        if (!m.UserEmbedding(u, q.data())) {
          cold[k] = 1;
          continue;
        }
        auto rescore = [&m, u](std::span<const uint32_t> items, float* s) {
          m.ScoreSubset(u, items, s);
        };
        (*out)[k] =
            plan.FromIndex(q.data(), options.ef, rescore, &scores, plan.Context(u, plan.Seen(u)));
      }
    }
    for (size_t k = 0; k < users.size(); ++k) {
      if (cold[k]) {
        exact_users.push_back(users[k]);
        exact_where.push_back(k);
      }
    }
    if (exact_users.empty()) return;
    std::vector<std::vector<ScoredItem>> rest;
    QueryOptions exact = options;
    exact.approximate = false;
    RankUsers(exact_users, exact, &rest);
    for (size_t r = 0; r < rest.size(); ++r) (*out)[exact_where[r]] = std::move(rest[r]);
    return;
  }

  // (a) A cursor when the model has one and no step changes scores.
  std::unique_ptr<RankedCursor> first = adjust_.empty() ? m.NewRankedCursor() : nullptr;
  if (first != nullptr) {
#pragma omp parallel num_threads(users.size() < 64 || first->cheap() ? 1 : threads)
    {
      std::unique_ptr<RankedCursor> cursor =
          omp_get_thread_num() == 0 ? std::move(first) : m.NewRankedCursor();
      // Marks pay for their array only over many users.
      std::optional<SeenMarks> marks;
      if (users.size() >= 64) marks.emplace(num_items);
#pragma omp for schedule(dynamic, 64)
      for (size_t k = 0; k < users.size(); ++k) {
        const uint32_t u = users[k];
        if (u >= num_users) continue;
        (*out)[k] = plan.FromCursor(cursor.get(), plan.Context(u, plan.Seen(u)),
                                    marks ? &*marks : nullptr);
      }
    }
    return;
  }

  // (a) Dense scores: per allowed item for a short allow list, else blocks
  // of the model's preferred size.
  const bool subset =
      m.has_subset_scoring() && !plan.allow.empty() && plan.allow.size() * 16 < num_items;

  // Slices of the score rows when the model offers them and the query needs
  // nothing but (b), (d) and (e) over the whole dense row: a block of users
  // is scored a slice of items at a time and each slice is selected from
  // while it is still in cache, instead of writing and re-reading every
  // user's full row (the memory traffic of a factor model's batch). The
  // lists are those of FromScores (DenseTopN).
  const Recommender::SliceShape shape = m.slice_shape();
  if (shape.users > 0 && shape.items > 0 && plan.allow.empty() && adjust_.empty() &&
      list_.empty()) {
    const uint32_t block = static_cast<uint32_t>(std::min<size_t>(shape.users, users.size()));
    const size_t blocks = (users.size() + block - 1) / block;
    const uint32_t* tie_ranks = m.tie_ranks();
#pragma omp parallel num_threads(threads) if (blocks > 1)
    {
      std::vector<float> scores(uint64_t{block} * shape.items);
      std::vector<uint32_t> valid;
      std::vector<size_t> where;
      // Eligibility points at its context and the selectors at their
      // eligibility: reserved once, never reallocated.
      std::vector<RankContext> ctx;
      std::vector<rank::Eligibility> eligible;
      std::vector<rank::DenseTopN> tops;
      ctx.reserve(block);
      eligible.reserve(block);
      tops.reserve(block);
#pragma omp for schedule(dynamic, 1)
      for (size_t b = 0; b < blocks; ++b) {
        BlockUsers(users, b, block, num_users, &valid, &where);
        if (valid.empty()) continue;
        tops.clear();
        eligible.clear();
        ctx.clear();
        for (uint32_t u : valid) ctx.push_back(plan.Context(u, plan.Seen(u)));
        for (const RankContext& c : ctx) eligible.push_back(plan.Eligible(c));
        for (const rank::Eligibility& e : eligible) tops.emplace_back(e, plan.n, tie_ranks);
        for (uint32_t i0 = 0; i0 < num_items; i0 += shape.items) {
          const uint32_t i1 =
              static_cast<uint32_t>(std::min<uint64_t>(num_items, uint64_t{i0} + shape.items));
          m.ScoreBatchSlice(valid, i0, i1, scores.data(), shape.items);
          for (size_t r = 0; r < valid.size(); ++r) {
            tops[r].Scan(scores.data() + r * uint64_t{shape.items}, i0, i1);
          }
        }
        for (size_t r = 0; r < valid.size(); ++r) (*out)[where[r]] = tops[r].Take();
      }
    }
    return;
  }
  // No larger than the request: one user (a fold-in, a retail member's
  // feeds) must not allocate and zero the model's whole batch of rows.
  const uint32_t block =
      subset ? 1 : static_cast<uint32_t>(std::clamp<size_t>(m.batch_block(), 1, users.size()));
  const size_t blocks = (users.size() + block - 1) / block;
  const int chunk = block == 1 ? 16 : 1;
#pragma omp parallel num_threads(threads) if (blocks > 1)
  {
    std::vector<float> scores(uint64_t{block} * num_items);
    std::vector<uint32_t> valid;
    std::vector<size_t> where;
#pragma omp for schedule(dynamic, chunk)
    for (size_t b = 0; b < blocks; ++b) {
      BlockUsers(users, b, block, num_users, &valid, &where);
      if (valid.empty()) continue;
      if (subset) {
        m.ScoreSubset(valid[0], plan.allow, scores.data());
      } else {
        m.ScoreBatch(valid, scores.data());
      }
      for (size_t r = 0; r < valid.size(); ++r) {
        (*out)[where[r]] = plan.FromScores(scores.data() + r * uint64_t{num_items},
                                           plan.Context(valid[r], plan.Seen(valid[r])));
      }
    }
  }
}

std::vector<ScoredItem> Ranker::RankUser(uint32_t user, const QueryOptions& options) const {
  std::vector<std::vector<ScoredItem>> out;
  const uint32_t users[1] = {user};
  RankUsers(users, options, &out);
  return std::move(out[0]);
}

Result<std::vector<ScoredItem>> Ranker::RankFoldIn(std::span<const ItemWeight> items,
                                                   const QueryOptions& options) const {
  const Recommender& m = *model_;
  std::vector<float> scores(m.num_items());
  std::vector<uint32_t> seen;
  seen.reserve(items.size());
  for (const ItemWeight& iw : items) seen.push_back(iw.item);
  seen = SortedUnique(std::move(seen));
  const Plan plan(*this, options);
  if (UsesIndex(options)) {
    std::vector<float> q(m.embedding_dim());
    Result<bool> warm = m.FoldInEmbedding(items, q.data());
    if (!warm.ok()) return warm.status();
    if (*warm) {
      if (plan.nothing) return std::vector<ScoredItem>();
      auto rescore = [&m, items](std::span<const uint32_t> subset, float* s) {
        // Items were checked by FoldInEmbedding, so this cannot fail.
        (void)m.ScoreFoldInSubset(items, subset, s);
      };
      return plan.FromIndex(q.data(), options.ef, rescore, &scores,
                            plan.Context(RankContext::kNone, seen));
    }
  }
  ENCORE_RETURN_IF_ERROR(m.ScoreFoldIn(items, scores.data()));
  if (plan.nothing) return std::vector<ScoredItem>();
  return plan.FromScores(scores.data(), plan.Context(RankContext::kNone, seen));
}

Status Ranker::RankSimilar(uint32_t item, uint32_t n, std::vector<ScoredItem>* out) const {
  const Recommender& m = *model_;
  out->clear();
  RankContext ctx;
  ctx.model = model_;
  ctx.source_item = item;
  const model::RankOrder order{m.tie_ranks()};
  // With adjustments any neighbour may move up, so take them all; with
  // exclusions or list rules over-fetch; otherwise n (more only when a
  // non-finite score had to be dropped).
  uint64_t fetch = n;
  if (!adjust_.empty()) {
    fetch = m.num_items();
  } else if (!exclude_.empty() || !list_.empty()) {
    fetch = uint64_t{n} * kOverFetch;
  }
  fetch = std::min<uint64_t>(fetch, m.num_items());
  std::vector<ScoredItem> candidates;
  const bool approximate = approximate_similar_ && index_ != nullptr && index_->has_similarity() &&
                           index_->num_items() == m.num_items() &&
                           index_->dim() == m.embedding_dim();
  if (approximate && item >= m.num_items()) {
    return Status::InvalidArgument("similar items: unknown item index " + std::to_string(item));
  }
  for (;;) {
    if (approximate) {
      candidates = index_->SearchSimilar(item, static_cast<uint32_t>(fetch), 0);
    } else {
      ENCORE_RETURN_IF_ERROR(m.SimilarItems(item, static_cast<uint32_t>(fetch), &candidates));
    }
    if (n == 0) return Status::OK();
    const bool exhausted = candidates.size() < fetch || fetch >= m.num_items();
    size_t kept = 0;
    for (ScoredItem c : candidates) {
      bool excluded = false;
      for (const ExcludeStep* s : exclude_) excluded = excluded || s->Excludes(ctx, c.item);
      if (excluded) continue;
      for (const AdjustStep* s : adjust_) c.score = s->Adjust(ctx, c.item, c.score);
      if (!std::isfinite(c.score)) continue;
      candidates[kept++] = c;
    }
    candidates.resize(kept);
    if (!adjust_.empty()) std::stable_sort(candidates.begin(), candidates.end(), order);
    out->clear();
    ListRules lists(list_, ctx);
    for (const ScoredItem& c : candidates) {
      if (!lists.Accepts(c)) continue;
      out->push_back(c);
      if (out->size() == n) return Status::OK();
    }
    if (exhausted) return Status::OK();
    fetch = std::min<uint64_t>(std::max<uint64_t>(fetch, 1) * kOverFetch, m.num_items());
  }
}

Status Ranker::RankSimilarItems(std::span<const uint32_t> items, uint32_t n,
                                std::vector<std::vector<ScoredItem>>* out) const {
  out->assign(items.size(), {});
  std::vector<Status> errors(items.size());
#pragma omp parallel for num_threads(Threads()) schedule(dynamic, 16)
  for (size_t k = 0; k < items.size(); ++k) errors[k] = RankSimilar(items[k], n, &(*out)[k]);
  for (const Status& s : errors) ENCORE_RETURN_IF_ERROR(s);
  return Status::OK();
}

}  // namespace encore
