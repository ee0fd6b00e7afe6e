// cooccurrence: "customers who hold a also hold b", the music store's
// bought-together workbook (docs/COOCCURRENCE.md has the formulas).
//
// Fit builds a sparse item x item similarity, one row per source item a,
// rows computed in parallel as sparse rows of A^T A: for each user u holding
// a, for each item b of u, count into a dense per-thread array (with a
// touched list for rows that reach few items). Work is the sum over users of
// |items(u)|^2; memory is the similarity (8 bytes per kept pair, twice that
// while fitting) plus a few dense arrays per thread.
//
// A user's score for b is the maximum over held items a of score(a -> b).
// Rows are kept sorted best first, so the model offers the ranker a cursor
// (a k-way merge of the held items' rows): walked in descending order, the
// first time an item shows up is its maximum, and the first N eligible
// items are the answer.

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "encore/explain.h"
#include "encore/model_io.h"
#include "model/models.h"
#include "util/threads.h"

namespace encore::model {

namespace {

constexpr double kSecondsPerDay = 86400.0;
constexpr float kNoScore = -std::numeric_limits<float>::infinity();

// Fit refuses to stage more than this many bytes of item pairs: half of the
// physical memory, or the value set for tests.
uint64_t memory_limit_for_testing = 0;

uint64_t MemoryLimitBytes() {
  if (memory_limit_for_testing > 0) return memory_limit_for_testing;
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return ~uint64_t{0};
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) / 2;
}

struct Entry {
  uint32_t item;
  float score;
};

// Per-nonzero recency weights 0.5^((t_max - t) / half_life) of one orientation.
std::vector<double> DecayWeights(const CsrMatrix& m, int64_t t_max, double half_life_seconds) {
  std::vector<double> w(m.times.size());
  for (size_t k = 0; k < w.size(); ++k) {
    w[k] = std::exp2(-static_cast<double>(t_max - m.times[k]) / half_life_seconds);
  }
  return w;
}

class Cooccurrence final : public Recommender {
 public:
  explicit Cooccurrence(const ModelParams& params) : Recommender(params) {}

  const char* kind() const override { return "cooccurrence"; }

  const uint32_t* tie_ranks() const override { return id_rank_.data(); }

  Status Fit(const Dataset& data) override {
    if (data.nnz() == 0) return Status::InvalidArgument("cooccurrence: the dataset is empty");
    const uint32_t items = data.by_user.cols;
    if (data.items.size() != items || data.by_item.rows != items ||
        data.by_item.nnz() != data.nnz()) {
      return Status::InvalidArgument("cooccurrence: inconsistent dataset shapes");
    }
    const bool decay = params_.half_life_days > 0;
    if (decay &&
        (data.by_user.times.size() != data.nnz() || data.by_item.times.size() != data.nnz())) {
      return Status::InvalidArgument(
          "cooccurrence: half_life_days = " + std::to_string(params_.half_life_days) +
          " needs interaction times, but the data has none; give a time column (--time-col) "
          "or set half_life_days = 0");
    }
    BuildIdRank(data.items);

    // Weights of (user, item) in both orientations; empty without decay (all 1).
    std::vector<double> by_user_w, by_item_w;
    if (decay) {
      const int64_t t_max = *std::max_element(data.by_user.times.begin(), data.by_user.times.end());
      const double half_life = params_.half_life_days * kSecondsPerDay;
      by_user_w = DecayWeights(data.by_user, t_max, half_life);
      by_item_w = DecayWeights(data.by_item, t_max, half_life);
    }

    // count(a) = sum of a's weights; U = users holding anything.
    std::vector<double> count(items, 0.0);
    for (uint32_t a = 0; a < items; ++a) {
      const uint64_t begin = data.by_item.indptr[a], end = data.by_item.indptr[a + 1];
      if (!decay) {
        count[a] = static_cast<double>(end - begin);
      } else {
        for (uint64_t k = begin; k < end; ++k) count[a] += by_item_w[k];
      }
    }
    counts_.assign(count.begin(), count.end());
    uint64_t holders = 0;
    for (uint32_t u = 0; u < data.by_user.rows; ++u) holders += data.by_user.RowLength(u) > 0;
    num_holders_ = static_cast<double>(holders);

    Status s = BuildSimilarity(data, count, by_user_w, by_item_w);
    if (exchange_ != nullptr) s = exchange_->GatherRows(s, &sim_);
    if (!s.ok()) {
      // Leave the model unfitted rather than half fitted.
      seen_ = CsrMatrix();
      sim_ = CsrMatrix();
      counts_.clear();
      id_rank_.clear();
      return s;
    }
    RememberSeen(data);
    seen_.times = {};  // not used, and not in model files
    return Status::OK();
  }

  void ScoreItems(uint32_t user, float* scores) const override {
    std::fill_n(scores, num_items(), kNoScore);
    for (uint64_t k = seen_.indptr[user]; k < seen_.indptr[user + 1]; ++k) {
      AddRow(seen_.indices[k], seen_.values[k], scores);
    }
  }

  Status ScoreFoldIn(std::span<const ItemWeight> items, float* scores) const override {
    for (const ItemWeight& iw : items) {
      if (iw.item >= num_items()) {
        return Status::InvalidArgument("cooccurrence: unknown item index " +
                                       std::to_string(iw.item));
      }
    }
    std::fill_n(scores, num_items(), kNoScore);
    for (const ItemWeight& iw : items) AddRow(iw.item, iw.weight, scores);
    return Status::OK();
  }

  // With aggregate=max, a k-way merge of the held items' rows (below);
  // sums have no sorted-merge shortcut and are scored densely.
  std::unique_ptr<RankedCursor> NewRankedCursor() const override {
    if (params_.aggregate == Aggregate::kSum) return nullptr;
    return std::make_unique<MergeCursor>(this);
  }

  Status SimilarItems(uint32_t item, uint32_t n, std::vector<ScoredItem>* out) const override {
    if (item >= num_items()) {
      return Status::InvalidArgument("cooccurrence: unknown item index " + std::to_string(item));
    }
    out->clear();
    const uint64_t begin = sim_.indptr[item];
    const uint64_t end = std::min<uint64_t>(sim_.indptr[item + 1], begin + n);
    for (uint64_t k = begin; k < end; ++k) out->push_back({sim_.indices[k], sim_.values[k]});
    return Status::OK();
  }

  // Every history item with its similarity to `item` and the users holding
  // both (recovered from the similarity and the counts; -1 for lift, whose
  // user total is not kept in model files).
  Status ExplainScore(std::span<const ItemWeight> history, uint32_t item,
                      Explanation* out) const override {
    const bool sum = params_.aggregate == Aggregate::kSum;
    double best = kNoScore;
    size_t best_at = SIZE_MAX;
    out->items.clear();
    for (const ItemWeight& iw : history) {
      float sim = kNoScore;
      for (uint64_t k = sim_.indptr[iw.item]; k < sim_.indptr[iw.item + 1]; ++k) {
        if (sim_.indices[k] == item) {
          sim = sim_.values[k];
          break;
        }
      }
      if (sim == kNoScore) continue;
      ItemContribution c;
      c.item = iw.item;
      c.weight = iw.weight;
      c.similarity = sim;
      c.together = Together(sim, counts_[iw.item], counts_[item]);
      c.contribution = sum ? static_cast<double>(iw.weight * sim) : 0.0;
      if (!sum && sim > best) {
        best = sim;
        best_at = out->items.size();
      }
      out->items.push_back(c);
    }
    if (out->items.empty()) {
      return Status::FailedPrecondition(
          "explain: the item co-occurs with none of the history's items, so the model gives it "
          "no score");
    }
    out->base = 0;
    if (sum) {
      // The same float accumulation as AddRow, in history order.
      float s = 0;
      for (const ItemContribution& c : out->items) s += c.weight * static_cast<float>(c.similarity);
      out->score = s;
      out->method =
          "cooccurrence (aggregate=sum): contribution(h) = weight(h) * similarity(h -> item)";
    } else {
      out->items[best_at].contribution = best;
      out->score = best;
      out->method =
          "cooccurrence (aggregate=max): the history item with the largest similarity(h -> item) "
          "gives the score; the others are listed with their similarity and contribute 0";
    }
    out->exact = true;
    return Status::OK();
  }

  void SaveState(ModelWriter* w) const override {
    w->PutArray(counts_);
    w->PutArray(id_rank_);
    w->PutArray(sim_.indptr);
    w->PutArray(sim_.indices);
    w->PutArray(sim_.values);
  }

  Status LoadState(ModelReader* r) override {
    const uint32_t items = num_items();
    ENCORE_RETURN_IF_ERROR(r->GetArray(&counts_, "cooccurrence counts", items));
    ENCORE_RETURN_IF_ERROR(r->GetArray(&id_rank_, "cooccurrence id ranks", items));
    std::vector<bool> taken(items);
    for (uint32_t rank : id_rank_) {
      if (rank >= items || taken[rank]) return r->Invalid("cooccurrence id ranks");
      taken[rank] = true;
    }
    sim_ = CsrMatrix();
    sim_.rows = sim_.cols = items;
    ENCORE_RETURN_IF_ERROR(
        r->GetArray(&sim_.indptr, "cooccurrence row pointers", uint64_t{items} + 1));
    ENCORE_RETURN_IF_ERROR(r->GetArray(&sim_.indices, "cooccurrence neighbours"));
    ENCORE_RETURN_IF_ERROR(r->GetArray(&sim_.values, "cooccurrence scores", sim_.indices.size()));
    if (sim_.indptr[0] != 0 || sim_.indptr[items] != sim_.indices.size()) {
      return r->Invalid("cooccurrence row pointers");
    }
    for (uint32_t a = 0; a < items; ++a) {
      if (sim_.indptr[a] > sim_.indptr[a + 1]) return r->Invalid("cooccurrence row pointers");
    }
    for (uint32_t a = 0; a < items; ++a) {
      for (uint64_t k = sim_.indptr[a]; k < sim_.indptr[a + 1]; ++k) {
        const uint32_t b = sim_.indices[k];
        const float s = sim_.values[k];
        if (b >= items || b == a) return r->Invalid("cooccurrence neighbour index");
        if (!(s > 0) || !std::isfinite(s)) return r->Invalid("cooccurrence score");
        // Rows are sorted best first; the merge cursor relies on it.
        if (k > sim_.indptr[a] && !Before(sim_.indices[k - 1], sim_.values[k - 1], b, s)) {
          return r->Invalid("cooccurrence row order");
        }
      }
    }
    return Status::OK();
  }

 private:
  // A user's candidates best first, by merging the held items' rows
  // (sorted best first): walked in rank order, the first time an item
  // shows up is its maximum score, so each item is yielded once, exactly
  // as ScoreItems scores it. Most users need a few dozen steps instead of
  // touching every neighbour.
  class MergeCursor final : public RankedCursor {
   public:
    explicit MergeCursor(const Cooccurrence* m) : m_(m), mark_(m->num_items(), 0) {}

    void Reset(uint32_t user) override {
      if (++epoch_ == 0) {  // wrapped: forget every old mark
        std::fill(mark_.begin(), mark_.end(), 0);
        epoch_ = 1;
      }
      const CsrMatrix& sim = m_->sim_;
      const CsrMatrix& held = m_->seen_;
      heap_.clear();
      for (uint64_t k = held.indptr[user]; k < held.indptr[user + 1]; ++k) {
        const uint32_t a = held.indices[k];
        if (sim.indptr[a] < sim.indptr[a + 1]) heap_.push_back({sim.indptr[a], sim.indptr[a + 1]});
      }
      std::make_heap(heap_.begin(), heap_.end(), Worse{m_});
    }

    bool Next(ScoredItem* out) override {
      const CsrMatrix& sim = m_->sim_;
      const Worse worse{m_};
      while (!heap_.empty()) {
        std::pop_heap(heap_.begin(), heap_.end(), worse);
        Range& c = heap_.back();
        const uint32_t b = sim.indices[c.pos];
        const float score = sim.values[c.pos];
        if (++c.pos < c.end) {
          std::push_heap(heap_.begin(), heap_.end(), worse);
        } else {
          heap_.pop_back();
        }
        if (mark_[b] != epoch_) {
          mark_[b] = epoch_;  // later occurrences of b score no higher
          *out = {b, score};
          return true;
        }
      }
      return false;
    }

   private:
    struct Range {
      uint64_t pos, end;
    };
    // A max-heap on each range's current entry.
    struct Worse {
      const Cooccurrence* m;
      bool operator()(const Range& x, const Range& y) const {
        const CsrMatrix& sim = m->sim_;
        return m->Before(sim.indices[y.pos], sim.values[y.pos], sim.indices[x.pos],
                         sim.values[x.pos]);
      }
    };

    const Cooccurrence* m_;
    std::vector<uint32_t> mark_;  // == epoch_: already yielded for this user
    uint32_t epoch_ = 0;
    std::vector<Range> heap_;
  };

  int NumThreads() const { return ResolveThreads(params_.threads); }

  // (score desc, id rank asc): the order of results and of similarity rows.
  bool Before(uint32_t a, float sa, uint32_t b, float sb) const {
    if (sa != sb) return sa > sb;
    return id_rank_[a] < id_rank_[b];
  }

  void BuildIdRank(const IdDictionary& ids) {
    std::vector<uint32_t> order(ids.size());
    std::iota(order.begin(), order.end(), 0u);
    // string_view compares bytes as unsigned char: plain byte order.
    std::sort(order.begin(), order.end(),
              [&ids](uint32_t a, uint32_t b) { return ids.Name(a) < ids.Name(b); });
    id_rank_.resize(ids.size());
    for (uint32_t r = 0; r < order.size(); ++r) id_rank_[order[r]] = r;
  }

  // Folds a's row into scores: scores[b] = max(scores[b], score(a -> b)), or
  // with aggregate=sum scores[b] += weight * score(a -> b) (kNoScore counts as 0).
  void AddRow(uint32_t a, float weight, float* scores) const {
    const bool sum = params_.aggregate == Aggregate::kSum;
    for (uint64_t k = sim_.indptr[a]; k < sim_.indptr[a + 1]; ++k) {
      float& s = scores[sim_.indices[k]];
      if (sum) {
        s = (s == kNoScore ? 0.0f : s) + weight * sim_.values[k];
      } else {
        s = std::max(s, sim_.values[k]);
      }
    }
  }

  // The inverse of Score: users holding both a and b.
  double Together(double s, double count_a, double count_b) const {
    switch (params_.similarity) {
      case Similarity::kConditional:
        return s * count_a;
      case Similarity::kJaccard:
        return s * (count_a + count_b) / (1.0 + s);
      case Similarity::kLift:
        return num_holders_ > 0 ? s * count_a * count_b / num_holders_ : -1.0;
      case Similarity::kCosine:
        return s * std::sqrt(count_a * count_b);
    }
    return -1.0;
  }

  double Score(double cooc, double count_a, double count_b) const {
    switch (params_.similarity) {
      case Similarity::kConditional:
        return cooc / count_a;
      case Similarity::kJaccard:
        return cooc / (count_a + count_b - cooc);
      case Similarity::kLift:
        return cooc * num_holders_ / (count_a * count_b);
      case Similarity::kCosine:
        return cooc / std::sqrt(count_a * count_b);
    }
    return 0;
  }

  // Dense per-thread accumulators for one source item a at a time.
  struct RowScratch {
    explicit RowScratch(uint32_t items, bool decay)
        : together(items, 0), weight(decay ? items : 0, 0.0) {}
    std::vector<uint32_t> together;  // [b]: users holding a and b
    std::vector<double> weight;      // [b]: their summed pair weights (decay only)
    std::vector<uint32_t> touched;   // b with together[b] > 0 (sparse rows only)
    std::vector<Entry> row;
  };

  // Row a of the similarity, best first, into scratch->row. Walks every user
  // holding a and every item of theirs. Rows touching a good part of the
  // catalogue skip the touched list (a branch per step) and scan the dense
  // array instead; both give the same row.
  template <bool kDecay>
  void ComputeRow(const Dataset& data, uint32_t a, const std::vector<double>& count,
                  const std::vector<double>& by_user_w, const std::vector<double>& by_item_w,
                  RowScratch* scratch) const {
    const CsrMatrix& by_user = data.by_user;
    const CsrMatrix& by_item = data.by_item;
    const uint32_t items = by_user.cols;
    uint32_t* together = scratch->together.data();
    double* weight = scratch->weight.data();
    std::vector<uint32_t>& touched = scratch->touched;
    uint64_t work = 0;
    for (uint64_t k = by_item.indptr[a]; k < by_item.indptr[a + 1]; ++k) {
      work += by_user.RowLength(by_item.indices[k]);
    }
    const bool dense = work >= items / 8;
    for (uint64_t k = by_item.indptr[a]; k < by_item.indptr[a + 1]; ++k) {
      const uint32_t u = by_item.indices[k];
      const uint32_t* b = by_user.indices.data();
      const uint64_t begin = by_user.indptr[u], end = by_user.indptr[u + 1];
      if (dense) {
        for (uint64_t j = begin; j < end; ++j) ++together[b[j]];
      } else {
        for (uint64_t j = begin; j < end; ++j) {
          if (together[b[j]]++ == 0) touched.push_back(b[j]);
        }
      }
      if constexpr (kDecay) {
        const double w_a = by_item_w[k];
        for (uint64_t j = begin; j < end; ++j) weight[b[j]] += w_a * by_user_w[j];
      }
    }
    together[a] = 0;  // a itself is no pair
    if constexpr (kDecay) weight[a] = 0;

    const uint32_t min_cooc = std::max<uint32_t>(params_.min_cooccurrence, 1);
    const uint32_t keep = params_.neighbors;
    auto better = [this](const Entry& x, const Entry& y) {
      return Before(x.item, x.score, y.item, y.score);
    };
    // With `keep`, row is a heap whose front is the worst kept pair, so most
    // pairs are rejected by one comparison.
    std::vector<Entry>& row = scratch->row;
    row.clear();
    auto emit = [&](uint32_t b) __attribute__((always_inline)) {
      const uint32_t users = together[b];
      together[b] = 0;
      double cooc = users;
      if constexpr (kDecay) {
        cooc = weight[b];
        weight[b] = 0;
      }
      if (users < min_cooc) return;
      const double s = Score(cooc, count[a], count[b]);
      // Decayed weights may underflow to 0; such pairs carry no evidence.
      if (!(s > 0) || !std::isfinite(s)) return;
      const Entry e{b, static_cast<float>(s)};
      if (keep == 0) {
        row.push_back(e);
      } else if (row.size() < keep) {
        row.push_back(e);
        std::push_heap(row.begin(), row.end(), better);
      } else if (better(e, row.front())) {
        std::pop_heap(row.begin(), row.end(), better);
        row.back() = e;
        std::push_heap(row.begin(), row.end(), better);
      }
    };
    if (dense) {
      for (uint32_t b = 0; b < items; ++b) {
        if (together[b] != 0) emit(b);
      }
    } else {
      for (uint32_t b : touched) emit(b);
    }
    touched.clear();
    std::sort(row.begin(), row.end(), better);
  }

  // Fills sim_ row by row in parallel. Each row is computed by one thread in
  // a fixed order, so the result does not depend on the thread count. Fails
  // rather than exhaust memory when the kept pairs would not fit.
  Status BuildSimilarity(const Dataset& data, const std::vector<double>& count,
                         const std::vector<double>& by_user_w,
                         const std::vector<double>& by_item_w) {
    const uint32_t items = data.by_user.cols;
    const bool decay = !by_user_w.empty();
    // Rows are staged, then copied into the CSR: 16 bytes per kept pair at the peak.
    const uint64_t max_pairs = MemoryLimitBytes() / 16;
    std::atomic<uint64_t> staged{0};
    std::atomic<bool> too_big{false};
    std::vector<std::vector<Entry>> rows(items);
    // A distributed fit computes only its block of rows (RowExchange).
    const uint32_t first = exchange_ != nullptr ? exchange_->items().first : 0;
    const uint32_t last = exchange_ != nullptr ? exchange_->items().second : items;

#pragma omp parallel num_threads(NumThreads())
    {
      RowScratch scratch(items, decay);
#pragma omp for schedule(dynamic, 1)
      for (uint32_t a = first; a < last; ++a) {
        if (too_big.load(std::memory_order_relaxed)) continue;
        if (decay) {
          ComputeRow<true>(data, a, count, by_user_w, by_item_w, &scratch);
        } else {
          ComputeRow<false>(data, a, count, by_user_w, by_item_w, &scratch);
        }
        if (staged.fetch_add(scratch.row.size(), std::memory_order_relaxed) + scratch.row.size() >
            max_pairs) {
          too_big.store(true, std::memory_order_relaxed);
          continue;
        }
        rows[a].assign(scratch.row.begin(), scratch.row.end());
      }
    }
    if (too_big.load()) {
      return Status::InvalidArgument(
          "cooccurrence: the item pairs to keep need more than " +
          std::to_string(max_pairs * 16 >> 20) +
          " MiB while fitting (half of this machine's memory); set neighbors (e.g. "
          "neighbors=200) or raise min_cooccurrence");
    }

    // Concatenate, releasing each row once copied. Too-big and the gather
    // may differ per process: the caller's agreement makes them fail alike.
    sim_ = CsrMatrix();
    sim_.rows = sim_.cols = items;
    sim_.indptr.assign(uint64_t{items} + 1, 0);
    for (uint32_t a = 0; a < items; ++a) sim_.indptr[a + 1] = sim_.indptr[a] + rows[a].size();
    sim_.indices.resize(sim_.indptr[items]);
    sim_.values.resize(sim_.indptr[items]);
    for (uint32_t a = 0; a < items; ++a) {
      uint64_t p = sim_.indptr[a];
      for (const Entry& e : rows[a]) {
        sim_.indices[p] = e.item;
        sim_.values[p++] = e.score;
      }
      std::vector<Entry>().swap(rows[a]);
    }
    return Status::OK();
  }

  CsrMatrix sim_;                    // items x items: score(a -> b), rows best first
  std::vector<float> counts_;        // count(a): users holding a (decayed: summed weights)
  std::vector<uint32_t> id_rank_;    // rank of each item's id in byte order
  double num_holders_ = 0;           // U: users holding at least one item (Fit only)
  RowExchange* exchange_ = nullptr;  // set for a distributed fit (Fit only)

  friend bool encore::model::SetCooccurrenceRowExchange(Recommender*, RowExchange*);
};

}  // namespace

bool SetCooccurrenceRowExchange(Recommender* model, RowExchange* exchange) {
  auto* c = dynamic_cast<Cooccurrence*>(model);
  if (c == nullptr) return false;
  c->exchange_ = exchange;
  return true;
}

void SetCooccurrenceMemoryLimitForTesting(uint64_t bytes) { memory_limit_for_testing = bytes; }

std::unique_ptr<Recommender> NewCooccurrence(const ModelParams& params) {
  return std::make_unique<Cooccurrence>(params);
}

}  // namespace encore::model
