// svdpp: SVD++ (Koren 2008, "Factorization meets the neighborhood"), an
// explicit-rating model with an implicit-feedback term, trained by SGD. See
// docs/MODELS.md for the maths, the parameters and the limits.
//
// Model. With N(u) the items user u rated in the training data,
//
//   r^(u, i) = mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)
//
// After Fit the user side is folded into one vector per user,
// x_u = p_u + |N(u)|^-1/2 sum_j y_j, stored as the factor-model base's user
// factors (q_i are its item factors, b_u and b_i its biases), so every
// scoring path, similar items, approximate search and the model file's base
// state are FactorModel's. The implicit factors y_j are kept besides (model
// file state after the base's) for fold-in.
//
// Training: the common fast variant (the y update batched per user). An epoch
// visits the users in a random order and each user's ratings in a random
// order (both drawn from a splitmix64 stream seeded by `seed`). For user u,
// with s = |N(u)|^-1/2, the implicit sum z = s sum_j y_j is computed once and
// held fixed over u's ratings; each rating (i, r), with e = r - r^(u, i) and
// step eta, updates
//
//   b_u += eta (e - reg_user_bias b_u)        b_i += eta (e - reg_item_bias b_i)
//   q_i += eta (e (p_u + z) - reg q_i)        p_u += eta (e q_i - reg p_u)
//
// (q_i and p_u from their values before the step) and accumulates
// g += e q_i. After the last rating of u, every y_j of N(u) moves once:
// y_j += eta (s g - reg_implicit y_j). This is the sum of Koren's per-rating y
// updates with z refreshed only per user, and the penalty applied once per
// user rather than once per rating (per rating it would be |R(u)| times
// stronger on heavy users and unstable for large eta * reg * |R(u)|). A user's
// ratings thus cost O(k) each plus O(|N(u)| k) for z and the y step, instead
// of O(|N(u)| k) each (Surprise's SVDpp). eta = learning_rate * lr_decay^epoch.
// Negative reg_user_bias / reg_item_bias / reg_implicit mean reg.
//
// Threads. SGD runs on one thread (the updates of one user touch the item
// rows of all their items; a parallel variant would either lock or, as bpr's
// Hogwild, give results that vary between runs). A fit is therefore a pure
// function of the data, the parameters and `seed`, whatever `threads`;
// threads serve queries (scoring, the ranker) only.
//
// Initialisation: p_u and q_i ~ N(0, init_scale^2) (the base's InitFactors),
// y_j = 0, biases 0.
//
// Fold-in (a visitor with (item, rating) pairs h): p = 0, so
// x = |H|^-1/2 sum_h y_h, and the visitor's bias is the ridge solution of the
// residuals with the per-rating penalty of training,
// b = sum_h (r_h - mu - b_h - q_h . x) / (|H| (1 + reg_user_bias)).

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "encore/model_io.h"
#include "model/factor_model.h"
#include "model/models.h"
#include "util/random.h"

namespace encore::model {

namespace {

// Mixed into the seed so the shuffles do not reuse the stream of the
// initial factors.
constexpr uint64_t kShuffleStream = 0x5356442B2B000001ULL;  // "SVD++" 1

bool AllFinite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float f) { return std::isfinite(f); });
}

class SvdPlusPlus final : public FactorModel {
 public:
  explicit SvdPlusPlus(const ModelParams& params) : FactorModel(params) {}

  const char* kind() const override { return "svdpp"; }

  Status Fit(const Dataset& data) override {
    ENCORE_RETURN_IF_ERROR(params_.Validate());
    const CsrMatrix& r = data.by_user;
    if (r.nnz() == 0) return Status::InvalidArgument("svdpp: the dataset is empty");
    RememberSeen(data);
    const uint32_t users = r.rows, items = r.cols;
    InitFactors(users, items, /*biases=*/true, /*nonnegative=*/false);
    const uint32_t k = k_;
    double sum = 0;
    for (float v : r.values) sum += v;
    global_mean_ = static_cast<float>(sum / static_cast<double>(r.nnz()));
    default_prediction_ = global_mean_;
    implicit_factors_.assign(uint64_t{items} * k, 0.0f);

    const float reg = params_.reg;
    const float reg_bu = params_.reg_user_bias >= 0 ? params_.reg_user_bias : reg;
    const float reg_bi = params_.reg_item_bias >= 0 ? params_.reg_item_bias : reg;
    const float reg_y = params_.reg_implicit >= 0 ? params_.reg_implicit : reg;
    const float mu = global_mean_;
    float* p_all = user_factors_.data();  // p_u during training, x_u after
    float* q_all = item_factors_.data();
    float* y_all = implicit_factors_.data();
    float* bu = user_biases_.data();
    float* bi = item_biases_.data();

    SplitMix64 rng(params_.seed ^ kShuffleStream);
    std::vector<uint32_t> user_order;
    for (uint32_t u = 0; u < users; ++u) {
      if (r.RowLength(u) > 0) user_order.push_back(u);
    }
    std::vector<uint64_t> order;  // positions of one user's ratings
    std::vector<float> z(k), g(k);
    double eta = params_.learning_rate;
    for (uint32_t epoch = 0; epoch < params_.iterations; ++epoch) {
      const float lr = static_cast<float>(eta);
      Shuffle(rng, user_order.data(), user_order.size());
      for (uint32_t u : user_order) {
        const uint64_t begin = r.indptr[u], end = r.indptr[u + 1];
        const float s = 1.0f / std::sqrt(static_cast<float>(end - begin));
        std::fill(z.begin(), z.end(), 0.0f);
        for (uint64_t e = begin; e < end; ++e) {
          const float* y = y_all + uint64_t{r.indices[e]} * k;
          for (uint32_t f = 0; f < k; ++f) z[f] += y[f];
        }
        for (uint32_t f = 0; f < k; ++f) z[f] *= s;
        std::fill(g.begin(), g.end(), 0.0f);
        order.resize(end - begin);
        std::iota(order.begin(), order.end(), begin);
        Shuffle(rng, order.data(), order.size());
        float* p = p_all + uint64_t{u} * k;
        for (uint64_t e : order) {
          const uint32_t i = r.indices[e];
          float* q = q_all + uint64_t{i} * k;
          float dot = 0;
          for (uint32_t f = 0; f < k; ++f) dot += q[f] * (p[f] + z[f]);
          const float err = r.values[e] - (mu + bu[u] + bi[i] + dot);
          bu[u] += lr * (err - reg_bu * bu[u]);
          bi[i] += lr * (err - reg_bi * bi[i]);
          for (uint32_t f = 0; f < k; ++f) {
            const float qf = q[f], pf = p[f];
            q[f] += lr * (err * (pf + z[f]) - reg * qf);
            p[f] += lr * (err * qf - reg * pf);
            g[f] += err * qf;
          }
        }
        for (uint32_t f = 0; f < k; ++f) g[f] *= s;
        for (uint64_t e = begin; e < end; ++e) {
          float* y = y_all + uint64_t{r.indices[e]} * k;
          for (uint32_t f = 0; f < k; ++f) y[f] += lr * (g[f] - reg_y * y[f]);
        }
      }
      eta *= params_.lr_decay;
      if (!AllFinite(item_biases_)) break;  // diverged: reported below
      ReportIteration(epoch + 1, params_.iterations);
    }
    if (!AllFinite(user_factors_) || !AllFinite(item_factors_) || !AllFinite(implicit_factors_) ||
        !AllFinite(user_biases_) || !AllFinite(item_biases_)) {
      return Status::InvalidArgument(
          "svdpp: training diverged (a factor is not finite); lower learning_rate (now " +
          std::to_string(params_.learning_rate) + ") or raise reg");
    }

    // Fold the implicit term into the user factors: x_u = p_u + z_u.
    for (uint32_t u : user_order) {
      const uint64_t begin = r.indptr[u], end = r.indptr[u + 1];
      ImplicitSum(r.indices.data() + begin, end - begin, z.data());
      float* x = p_all + uint64_t{u} * k;
      for (uint32_t f = 0; f < k; ++f) x[f] += z[f];
    }
    // Cold users (no training ratings) keep zero factors and bias: the base
    // treats them by cold_start. The popular baseline is mu + b_i.
    for (uint32_t u = 0; u < users; ++u) {
      if (r.RowLength(u) == 0) {
        std::fill(p_all + uint64_t{u} * k, p_all + uint64_t{u + 1} * k, 0.0f);
      }
    }
    for (uint32_t i = 0; i < items; ++i) {
      if (data.by_item.RowLength(i) == 0) {
        std::fill(q_all + uint64_t{i} * k, q_all + uint64_t{i + 1} * k, 0.0f);
      }
      cold_user_scores_[i] = mu + bi[i];
    }
    FinishFit();
    return Status::OK();
  }

  void SaveState(ModelWriter* w) const override {
    FactorModel::SaveState(w);
    w->PutArray(implicit_factors_);
  }

  Status LoadState(ModelReader* r) override {
    ENCORE_RETURN_IF_ERROR(FactorModel::LoadState(r));
    if (!has_biases_) return r->Invalid("svdpp state without biases");
    ENCORE_RETURN_IF_ERROR(
        r->GetArray(&implicit_factors_, "implicit factors", uint64_t{num_items()} * k_));
    if (!AllFinite(implicit_factors_))
      return r->Invalid("implicit factors (a value is not finite)");
    return Status::OK();
  }

 protected:
  void SolveFoldIn(std::span<const ItemWeight> items, float* x, float* bias) const override {
    std::vector<uint32_t> cols;
    cols.reserve(items.size());
    for (const ItemWeight& iw : items) cols.push_back(iw.item);
    ImplicitSum(cols.data(), cols.size(), x);
    const float reg_bu = params_.reg_user_bias >= 0 ? params_.reg_user_bias : params_.reg;
    double residual = 0;
    for (const ItemWeight& iw : items) {
      const float* q = item_factors_.data() + uint64_t{iw.item} * k_;
      float dot = 0;
      for (uint32_t f = 0; f < k_; ++f) dot += q[f] * x[f];
      residual += static_cast<double>(iw.weight) - global_mean_ - item_biases_[iw.item] - dot;
    }
    const double b = residual / (static_cast<double>(items.size()) * (1.0 + reg_bu));
    *bias = std::isfinite(b) ? static_cast<float>(b) : 0.0f;
  }

  // The fold-in factor is linear in the history: x = |H|^-1/2 sum_h y_h, so
  // with W = |H|^1/2 I, a_h = y_h, t_h = 1 and q = q_i, contribution(h) =
  // q_i . y_h / |H|^1/2 exactly; the visitor's bias goes into the base.
  bool FoldInSystem(std::span<const ItemWeight> history, uint32_t item,
                    LinearFoldIn* out) const override {
    const uint32_t k = k_;
    const double root = std::sqrt(static_cast<double>(history.size()));
    std::vector<float> x(k);
    float bias = 0;
    SolveFoldIn(history, x.data(), &bias);
    out->d = k;
    out->w.assign(uint64_t{k} * k, 0.0);
    for (uint32_t p = 0; p < k; ++p) out->w[uint64_t{p} * k + p] = root;
    for (const ItemWeight& iw : history) {
      const float* y = implicit_factors_.data() + uint64_t{iw.item} * k;
      out->a.emplace_back(y, y + k);
      out->t.push_back(1.0);
    }
    const float* q = item_factors_.data() + uint64_t{item} * k;
    out->q.assign(q, q + k);
    out->base = static_cast<double>(global_mean_) + bias + item_biases_[item];
    out->method =
        "svdpp: the implicit term of the fold-in, contribution(h) = q_i . y_h / |H|^1/2; base = "
        "mu + b_i + the visitor's bias (the damped mean residual of the history's ratings)";
    return true;
  }

 private:
  // out[0 .. k) = n^-1/2 sum of the implicit factors of `cols` (0 when n = 0).
  void ImplicitSum(const uint32_t* cols, uint64_t n, float* out) const {
    std::fill(out, out + k_, 0.0f);
    if (n == 0) return;
    for (uint64_t e = 0; e < n; ++e) {
      const float* y = implicit_factors_.data() + uint64_t{cols[e]} * k_;
      for (uint32_t f = 0; f < k_; ++f) out[f] += y[f];
    }
    const float s = 1.0f / std::sqrt(static_cast<float>(n));
    for (uint32_t f = 0; f < k_; ++f) out[f] *= s;
  }

  // y_j, items x factors (row-major).
  std::vector<float> implicit_factors_;
};

}  // namespace

std::unique_ptr<Recommender> NewSvdPlusPlus(const ModelParams& params) {
  return std::make_unique<SvdPlusPlus>(params);
}

}  // namespace encore::model
