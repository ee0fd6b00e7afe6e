// bpr: Bayesian Personalised Ranking (Rendle, Freudenthaler, Gantner &
// Schmidt-Thieme 2009), trained the way the `implicit` library does. See
// docs/MODELS.md for the maths and the parameters.
//
// Model. Scores are plain dot products s(u, i) = x_u . y_i over `factors`
// columns; the last column is the item bias: every user holds 1 there (never
// updated) and y_i[k-1] = b_i. So s(u, i) = x'_u . y'_i + b_i, the usual BPR
// score with an item bias, and everything the factor-model base does
// (blocked scoring, similar items, approximate search) applies unchanged.
//
// Training. Each epoch draws nnz samples (nnz = the positive interactions,
// value > 0). A sample is a uniformly random positive (u, i) and a negative
// j, the item of another uniformly random positive (so negatives are drawn in
// proportion to popularity, as implicit does). With verify_negative_samples
// a j the user interacted with is skipped (counted, not replaced); j == i is
// always skipped. For the rest, with z = 1 / (1 + exp(s_ui - s_uj)) (the
// gradient of ln sigmoid(s_ui - s_uj)) and step size eta:
//
//   x_u <- x_u + eta (z (y_i - y_j) - reg x_u)        (not the bias column)
//   y_i <- y_i + eta (z x_u - reg y_i)
//   y_j <- y_j + eta (-z x_u - reg y_j)
//
// eta = learning_rate * lr_decay^epoch.
//
// Threads. Hogwild (Recht et al. 2011): each thread draws its share of the
// epoch's samples from its own generator (seeded by seed, epoch and thread)
// and updates the shared factors without locks. With threads = 1 the result
// is a pure function of the data and the parameters; with more threads the
// interleaving of updates (and so the last bits, sometimes more) varies from
// run to run, as in implicit.
//
// Fold-in. BPR has no closed-form user step, so a visitor's factors are the
// ridge projection onto the held items: x' = argmin sum_i w_i (1 - b_i -
// x' . y'_i)^2 + reg * n * |x'|^2, n the number of items (bias column 1).

#ifndef EIGEN_DONT_PARALLELIZE
#define EIGEN_DONT_PARALLELIZE 1
#endif
#include <omp.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "encore/model_io.h"
#include "model/factor_model.h"
#include "model/models.h"
#include "util/random.h"
#include "util/threads.h"

namespace encore::model {

namespace {

// A splitmix64 stream (util/random.h); deterministic per (seed, epoch, thread).
using Rng = SplitMix64;

uint64_t Mix(uint64_t a, uint64_t b) {
  Rng r(a ^ (b * 0xD1B54A32D192ED03ULL));
  return r.Next();
}

class Bpr final : public FactorModel {
 public:
  explicit Bpr(const ModelParams& params) : FactorModel(params) {}

  const char* kind() const override { return "bpr"; }

  Status Fit(const Dataset& data) override {
    if (data.nnz() == 0) return Status::InvalidArgument("bpr: the dataset is empty");
    ENCORE_RETURN_IF_ERROR(params_.Validate());
    RememberSeen(data);
    const CsrMatrix& m = data.by_user;
    const uint32_t users = m.rows, items = m.cols;
    // The positives, as (user, item) in CSR order.
    std::vector<uint32_t> pos_user, pos_item;
    for (uint32_t u = 0; u < users; ++u) {
      for (uint64_t e = m.indptr[u]; e < m.indptr[u + 1]; ++e) {
        if (m.values[e] > 0) {
          pos_user.push_back(u);
          pos_item.push_back(m.indices[e]);
        }
      }
    }
    if (pos_user.empty()) {
      return Status::InvalidArgument(
          "bpr: the dataset has no positive interactions (every value is <= 0)");
    }
    InitFactors(users, items, /*biases=*/false, /*nonnegative=*/false);
    const uint32_t k = k_;
    for (uint32_t u = 0; u < users; ++u) user_factors_[uint64_t{u} * k + k - 1] = 1.0f;
    for (uint32_t i = 0; i < items; ++i) item_factors_[uint64_t{i} * k + k - 1] = 0.0f;

    const uint64_t samples = pos_user.size();
    const int threads = Threads();
    const float reg = params_.reg;
    const bool verify = params_.verify_negative_samples;
    float eta = params_.learning_rate;
    epochs_.clear();
    for (uint32_t epoch = 0; epoch < params_.iterations; ++epoch) {
      uint64_t skipped = 0, correct = 0;
#pragma omp parallel num_threads(threads) reduction(+ : skipped, correct)
      {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        const uint64_t begin = samples * t / nt, end = samples * (t + 1) / nt;
        Rng rng(Mix(Mix(params_.seed, epoch), static_cast<uint64_t>(t)));
        float* x_all = user_factors_.data();
        float* y_all = item_factors_.data();
        for (uint64_t s = begin; s < end; ++s) {
          const uint64_t a = rng.Below(samples);
          const uint32_t u = pos_user[a], i = pos_item[a];
          const uint32_t j = pos_item[rng.Below(samples)];
          if (j == i) {
            ++skipped;
            continue;
          }
          if (verify) {
            const uint32_t* row = m.indices.data() + m.indptr[u];
            const uint32_t* row_end = m.indices.data() + m.indptr[u + 1];
            if (std::binary_search(row, row_end, j)) {
              ++skipped;
              continue;
            }
          }
          float* x = x_all + uint64_t{u} * k;
          float* yi = y_all + uint64_t{i} * k;
          float* yj = y_all + uint64_t{j} * k;
          float diff = 0;
          for (uint32_t p = 0; p < k; ++p) diff += x[p] * (yi[p] - yj[p]);
          const float z = 1.0f / (1.0f + std::exp(diff));
          correct += z < 0.5f;
          for (uint32_t p = 0; p + 1 < k; ++p) {
            const float xu = x[p];
            x[p] += eta * (z * (yi[p] - yj[p]) - reg * xu);
            yi[p] += eta * (z * xu - reg * yi[p]);
            yj[p] += eta * (-z * xu - reg * yj[p]);
          }
          yi[k - 1] += eta * (z - reg * yi[k - 1]);
          yj[k - 1] += eta * (-z - reg * yj[k - 1]);
        }
      }
      epochs_.push_back({samples, skipped, correct});
      eta *= params_.lr_decay;
      ReportIteration(epoch + 1, params_.iterations);  // outside the parallel region
    }
    // A diverged run (learning rate far too high) is an error, not a model.
    for (float v : item_factors_) {
      if (!std::isfinite(v)) {
        return Status::InvalidArgument(
            "bpr: training diverged (a factor is not finite); lower learning_rate (now " +
            std::to_string(params_.learning_rate) + ") or raise reg");
      }
    }
    for (float v : user_factors_) {
      if (!std::isfinite(v)) {
        return Status::InvalidArgument(
            "bpr: training diverged (a factor is not finite); lower learning_rate");
      }
    }
    // Cold users under cold_start=popular: the share of users who
    // interacted with the item (as ials).
    for (uint32_t i = 0; i < items; ++i) {
      cold_user_scores_[i] =
          static_cast<float>(data.by_item.RowLength(i)) / static_cast<float>(users);
    }
    default_prediction_ = 0;
    FinishFit();
    return Status::OK();
  }

 protected:
  void SolveFoldIn(std::span<const ItemWeight> items, float* x, float*) const override {
    const uint32_t k = k_;
    std::fill(x, x + k, 0.0f);
    x[k - 1] = 1.0f;
    const int d = static_cast<int>(k - 1);
    if (d == 0) return;
    Eigen::MatrixXd a = Eigen::MatrixXd::Zero(d, d);
    Eigen::VectorXd b = Eigen::VectorXd::Zero(d);
    uint32_t n = 0;
    for (const ItemWeight& iw : items) {
      if (!(iw.weight > 0)) continue;
      const float* y = item_factors_.data() + uint64_t{iw.item} * k;
      Eigen::Map<const Eigen::VectorXf> yv(y, d);
      const Eigen::VectorXd yd = yv.cast<double>();
      a.selfadjointView<Eigen::Lower>().rankUpdate(yd, iw.weight);
      b += iw.weight * (1.0 - y[k - 1]) * yd;
      ++n;
    }
    if (n == 0) return;
    Eigen::MatrixXd full = a.selfadjointView<Eigen::Lower>();
    full.diagonal().array() += std::max(1e-6, static_cast<double>(params_.reg) * n);
    const Eigen::VectorXd sol = full.ldlt().solve(b);
    for (int p = 0; p < d; ++p) x[p] = std::isfinite(sol(p)) ? static_cast<float>(sol(p)) : 0.0f;
  }

  // The ridge system of SolveFoldIn: z = x' (the non-bias columns),
  // a_h = y'_h, t_h = w_h (1 - b_h), base = b_i.
  bool FoldInSystem(std::span<const ItemWeight> history, uint32_t item,
                    LinearFoldIn* out) const override {
    const uint32_t k = k_, d = k - 1;
    out->d = d;
    out->w.assign(uint64_t{d} * d, 0.0);
    uint32_t n = 0;
    for (const ItemWeight& iw : history) {
      const float* y = item_factors_.data() + uint64_t{iw.item} * k;
      const bool used = iw.weight > 0;
      n += used;
      out->a.emplace_back(y, y + d);
      out->t.push_back(used ? static_cast<double>(iw.weight) * (1.0 - y[k - 1]) : 0.0);
      if (!used) continue;
      for (uint32_t r = 0; r < d; ++r) {
        for (uint32_t c = 0; c < d; ++c) out->w[uint64_t{r} * d + c] += iw.weight * y[r] * y[c];
      }
    }
    const double lambda = std::max(1e-6, static_cast<double>(params_.reg) * n);
    for (uint32_t p = 0; p < d; ++p) out->w[uint64_t{p} * d + p] += lambda;
    const float* yi = item_factors_.data() + uint64_t{item} * k;
    out->q.assign(yi, yi + d);
    out->base = yi[k - 1];
    out->method =
        "bpr: the score of the history folded in (ridge projection; a trained user's own "
        "factors are learned by SGD, not from their items): contribution(h) = w_h (1 - b_h) "
        "y_i' W^-1 y_h; base = the item bias b_i";
    return true;
  }

 private:
  int Threads() const { return ResolveThreads(params_.threads); }

  // Per epoch of the last Fit: samples drawn, skipped, and those the model
  // already ranked right (z < 0.5), as implicit's progress bar shows.
  struct EpochStats {
    uint64_t samples = 0, skipped = 0, correct = 0;
  };
  std::vector<EpochStats> epochs_;
};

}  // namespace

std::unique_ptr<Recommender> NewBpr(const ModelParams& params) {
  return std::make_unique<Bpr>(params);
}

}  // namespace encore::model
