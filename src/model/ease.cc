// ease: Embarrassingly Shallow Autoencoder (Steck 2019), a closed-form
// item-item model. With X the binary users x items training matrix,
//
//   P = (X^T X + l2 I)^-1,   B = I - P diagMat(1 / diag(P)),   diag(B) = 0,
//
// and the score of item j for user u is sum over the user's items i of B_ij.
// Only items with training interactions ("active" items) take part; the
// others are cold: never recommended. See docs/MODELS.md.
//
// Memory: dense n_a x n_a float matrices, n_a the active items: the fit holds
// two (the Gram matrix / its Cholesky factor, and P, which becomes B in
// place); the model keeps B. Fit refuses when the peak exceeds
// memory_limit_mb, before allocating. Float rather than double: 2.3x faster
// with half the memory, and G P = I to ~1e-6 (docs/MODELS.md).

#ifndef EIGEN_DONT_PARALLELIZE
#define EIGEN_DONT_PARALLELIZE 1
#endif
#include <omp.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "encore/model_io.h"
#include "model/models.h"
#include "model/rank_order.h"

namespace encore::model {

namespace {

constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

std::string Gigabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
  return buf;
}

class Ease final : public Recommender {
 public:
  explicit Ease(const ModelParams& params) : Recommender(params) {}

  const char* kind() const override { return "ease"; }

  // Bytes the fit needs at its peak for `active` items: the Gram matrix (its
  // Cholesky factor in place) and P, which becomes B in place; float.
  static double PeakBytes(uint64_t active) {
    return 2.0 * sizeof(float) * static_cast<double>(active) * static_cast<double>(active);
  }

  Status Fit(const Dataset& data) override {
    if (data.nnz() == 0) return Status::InvalidArgument("ease: the dataset is empty");
    ENCORE_RETURN_IF_ERROR(params_.Validate());
    const uint32_t items = data.by_user.cols;
    const uint32_t min_users = std::max<uint32_t>(1, params_.min_item_users);
    std::vector<uint32_t> active;
    for (uint32_t i = 0; i < items; ++i) {
      if (data.by_item.RowLength(i) >= min_users) active.push_back(i);
    }
    if (active.empty()) {
      return Status::InvalidArgument(
          "ease: no item has min_item_users=" + std::to_string(min_users) + " training users");
    }
    const uint64_t n = active.size();
    const double need = PeakBytes(n);
    const double limit = static_cast<double>(params_.memory_limit_mb) * 1048576.0;
    if (need > limit) {
      return Status::FailedPrecondition(
          "ease: " + std::to_string(n) + " items (with at least min_item_users=" +
          std::to_string(min_users) + " training users) need " + Gigabytes(need) +
          " for the dense item x item matrices (2 x n^2 floats while fitting), above the limit "
          "memory_limit_mb=" +
          std::to_string(params_.memory_limit_mb) + " (" + Gigabytes(limit) +
          "); raise --memory-limit-mb if the machine has the memory, "
          "raise --min-item-users to leave rare items out, or use ials");
    }
    RememberSeen(data);
    std::vector<uint32_t> slot(items, kNone);
    for (uint32_t a = 0; a < n; ++a) slot[active[a]] = a;

    // G = X^T X + l2 I over active items (lower triangle), binary X; counts
    // are exact in float up to 2^24 users per pair.
    const Eigen::Index d = static_cast<Eigen::Index>(n);
    Eigen::MatrixXf g = Eigen::MatrixXf::Zero(d, d);
    {
      const CsrMatrix& m = data.by_user;
      std::vector<uint32_t> row;
      for (uint32_t u = 0; u < m.rows; ++u) {
        row.clear();
        for (uint64_t e = m.indptr[u]; e < m.indptr[u + 1]; ++e) {
          if (slot[m.indices[e]] != kNone) row.push_back(slot[m.indices[e]]);
        }
        std::sort(row.begin(), row.end());
        for (size_t p = 0; p < row.size(); ++p) {
          float* col = g.col(row[p]).data();
          for (size_t q = p; q < row.size(); ++q) col[row[q]] += 1.0f;
        }
      }
    }
    g.diagonal().array() += params_.l2;
    // P = G^-1 by Cholesky in place, solved against the identity in the
    // model's own buffer; then B = -P_ij / P_jj in place. P is symmetric, so
    // its column-major buffer read row-major is P too: row i holds B_i..
    weights_.assign(n * n, 0.0f);
    Eigen::Map<Eigen::MatrixXf> p(weights_.data(), d, d);
    p.setIdentity();
    {
      Eigen::LLT<Eigen::Ref<Eigen::MatrixXf>> llt(g);
      if (llt.info() != Eigen::Success) {
        weights_.clear();
        return Status::InvalidArgument("ease: X^T X + l2 I is not positive definite; use l2 > 0");
      }
      llt.solveInPlace(p);
    }
    g.resize(0, 0);
    std::vector<float> inv_diag(n);
    for (uint64_t j = 0; j < n; ++j) inv_diag[j] = -1.0f / weights_[j * n + j];
    for (uint64_t i = 0; i < n; ++i) {
      float* row = weights_.data() + i * n;
      for (uint64_t j = 0; j < n; ++j) row[j] = i == j ? 0.0f : row[j] * inv_diag[j];
    }
    active_ = std::move(active);
    counts_.assign(items, 0.0f);
    for (uint32_t i = 0; i < items; ++i) counts_[i] = static_cast<float>(data.by_item.RowLength(i));
    BuildSlots();
    return Status::OK();
  }

  void ScoreItems(uint32_t user, float* scores) const override {
    const uint32_t* begin = seen_.indices.data() + seen_.indptr[user];
    const uint32_t* end = seen_.indices.data() + seen_.indptr[user + 1];
    if (begin == end) {
      ScoreCold(scores);
      return;
    }
    std::vector<uint32_t> held;
    for (const uint32_t* it = begin; it != end; ++it) held.push_back(*it);
    ScoreHeld(held, scores);
  }

  Status ScoreFoldIn(std::span<const ItemWeight> items, float* scores) const override {
    std::vector<uint32_t> held;
    for (const ItemWeight& iw : items) {
      if (iw.item >= num_items()) {
        return Status::InvalidArgument("fold-in: unknown item index " + std::to_string(iw.item));
      }
      held.push_back(iw.item);
    }
    std::sort(held.begin(), held.end());
    held.erase(std::unique(held.begin(), held.end()), held.end());
    if (held.empty()) {
      ScoreCold(scores);
    } else {
      ScoreHeld(held, scores);
    }
    return Status::OK();
  }

  float Predict(uint32_t user, uint32_t item) const override {
    if (slots_[item] == kNone || seen_.RowLength(user) == 0) return 0.0f;
    const uint64_t n = active_.size(), j = slots_[item];
    float s = 0;
    for (uint64_t e = seen_.indptr[user]; e < seen_.indptr[user + 1]; ++e) {
      const uint32_t a = slots_[seen_.indices[e]];
      if (a != kNone) s += weights_[a * n + j];
    }
    return s;
  }

  bool CanPredict(uint32_t user, uint32_t item) const override {
    return user < num_users() && item < num_items() && slots_[item] != kNone &&
           seen_.RowLength(user) > 0;
  }

  // Items by the weight B_ij of `item` (i) towards j: what holding `item`
  // adds to j's score.
  Status SimilarItems(uint32_t item, uint32_t n, std::vector<ScoredItem>* out) const override {
    if (item >= num_items()) {
      return Status::InvalidArgument("similar items: unknown item index " + std::to_string(item));
    }
    out->clear();
    const uint32_t a = slots_[item];
    if (a == kNone) return Status::OK();
    const uint64_t na = active_.size();
    TopN top(n);
    for (uint64_t j = 0; j < na; ++j) {
      if (j == a) continue;
      top.Push(active_[j], weights_[a * na + j]);
    }
    *out = top.Take();
    return Status::OK();
  }

  void SaveState(ModelWriter* w) const override {
    w->PutArray(active_);
    w->PutArray(weights_);
    w->PutArray(counts_);
  }

  Status LoadState(ModelReader* r) override {
    ENCORE_RETURN_IF_ERROR(r->GetArray(&active_, "ease active items"));
    const uint64_t n = active_.size();
    if (n > num_items()) return Status::Corruption("ease: more active items than items");
    for (uint64_t a = 0; a < n; ++a) {
      if (active_[a] >= num_items() || (a > 0 && active_[a] <= active_[a - 1])) {
        return Status::Corruption("ease: active item list is not sorted item indices");
      }
    }
    ENCORE_RETURN_IF_ERROR(r->GetArray(&weights_, "ease weights", n * n));
    ENCORE_RETURN_IF_ERROR(r->GetArray(&counts_, "ease item counts", num_items()));
    for (float v : weights_) {
      if (!std::isfinite(v)) return Status::Corruption("ease: non-finite weight");
    }
    BuildSlots();
    return Status::OK();
  }

 private:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;

  void BuildSlots() {
    slots_.assign(num_items(), kNone);
    for (uint32_t a = 0; a < active_.size(); ++a) slots_[active_[a]] = a;
  }

  // A user (or visitor) holding `held` (sorted item indices).
  void ScoreHeld(const std::vector<uint32_t>& held, float* scores) const {
    const uint64_t n = active_.size();
    std::vector<float> acc(n, 0.0f);
    for (uint32_t item : held) {
      const uint32_t a = slots_[item];
      if (a == kNone) continue;
      const float* row = weights_.data() + a * n;
      for (uint64_t j = 0; j < n; ++j) acc[j] += row[j];
    }
    std::fill(scores, scores + num_items(), kMinusInf);
    for (uint64_t j = 0; j < n; ++j) scores[active_[j]] = acc[j];
  }

  // No history: cold_start=popular ranks by training popularity, drop
  // recommends nothing.
  void ScoreCold(float* scores) const {
    if (params_.cold_start == ColdStart::kPopular) {
      std::fill(scores, scores + num_items(), kMinusInf);
      for (uint32_t a : active_) scores[a] = counts_[a];
    } else {
      std::fill(scores, scores + num_items(), kMinusInf);
    }
  }

  std::vector<uint32_t> active_;  // item index of each active slot, ascending
  std::vector<float> weights_;    // B, n_a x n_a row-major (row = held item)
  std::vector<float> counts_;     // training users per item (cold users)
  std::vector<uint32_t> slots_;   // derived: slot of each item, or kNone
};

}  // namespace

std::unique_ptr<Recommender> NewEase(const ModelParams& params) {
  return std::make_unique<Ease>(params);
}

}  // namespace encore::model
