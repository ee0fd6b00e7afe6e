// The bias baseline b_ui = mu + b_u + b_i (see encore/evaluate.h): the
// reference explicit-rating models are compared against. Kept out of the
// model registry on purpose; evaluation creates it by kBaselineKind.

#include <algorithm>
#include <vector>

#include "encore/evaluate.h"
#include "encore/model_io.h"

namespace encore {

namespace {

class BiasBaseline final : public Recommender {
 public:
  BiasBaseline(const ModelParams& params, const BaselineOptions& options)
      : Recommender(params), options_(options) {}

  const char* kind() const override { return kBaselineKind; }

  Status Fit(const Dataset& data) override {
    if (data.nnz() == 0) return Status::InvalidArgument("baseline: the dataset is empty");
    if (!(options_.reg_user >= 0) || !(options_.reg_item >= 0)) {
      return Status::InvalidArgument("baseline: regularisation must be >= 0");
    }
    RememberSeen(data);
    const CsrMatrix& by_user = data.by_user;
    const CsrMatrix& by_item = data.by_item;
    double sum = 0;
    for (float v : by_user.values) sum += v;
    mu_ = static_cast<float>(sum / static_cast<double>(by_user.nnz()));
    user_bias_.assign(by_user.rows, 0.0f);
    item_bias_.assign(by_item.rows, 0.0f);
    // Exact coordinate updates of the regularised least-squares objective:
    // b_i = sum_u (r - mu - b_u) / (reg_item + n_i), then the same for b_u.
    for (uint32_t pass = 0; pass < std::max<uint32_t>(1, options_.passes); ++pass) {
      for (uint32_t i = 0; i < by_item.rows; ++i) {
        double s = 0;
        for (uint64_t j = by_item.indptr[i]; j < by_item.indptr[i + 1]; ++j) {
          s += by_item.values[j] - mu_ - user_bias_[by_item.indices[j]];
        }
        const double n = static_cast<double>(by_item.RowLength(i));
        item_bias_[i] = n > 0 ? static_cast<float>(s / (options_.reg_item + n)) : 0.0f;
      }
      for (uint32_t u = 0; u < by_user.rows; ++u) {
        double s = 0;
        for (uint64_t j = by_user.indptr[u]; j < by_user.indptr[u + 1]; ++j) {
          s += by_user.values[j] - mu_ - item_bias_[by_user.indices[j]];
        }
        const double n = static_cast<double>(by_user.RowLength(u));
        user_bias_[u] = n > 0 ? static_cast<float>(s / (options_.reg_user + n)) : 0.0f;
      }
    }
    return Status::OK();
  }

  void ScoreItems(uint32_t user, float* scores) const override {
    const float base = mu_ + user_bias_[user];
    for (uint32_t i = 0; i < num_items(); ++i) scores[i] = base + item_bias_[i];
  }

  Status ScoreFoldIn(std::span<const ItemWeight> items, float* scores) const override {
    for (const ItemWeight& iw : items) {
      if (iw.item >= num_items()) return Status::InvalidArgument("unknown item index");
    }
    for (uint32_t i = 0; i < num_items(); ++i) scores[i] = mu_ + item_bias_[i];
    return Status::OK();
  }

  float Predict(uint32_t user, uint32_t item) const override {
    return mu_ + user_bias_[user] + item_bias_[item];
  }

  void SaveState(ModelWriter* w) const override {
    w->Put(mu_);
    w->PutArray(user_bias_);
    w->PutArray(item_bias_);
  }

  Status LoadState(ModelReader* r) override {
    ENCORE_RETURN_IF_ERROR(r->Get(&mu_, "baseline mean"));
    ENCORE_RETURN_IF_ERROR(r->GetArray(&user_bias_, "baseline user biases", num_users()));
    return r->GetArray(&item_bias_, "baseline item biases", num_items());
  }

 private:
  BaselineOptions options_;
  float mu_ = 0;
  std::vector<float> user_bias_, item_bias_;
};

}  // namespace

std::unique_ptr<Recommender> NewBiasBaseline(const ModelParams& params,
                                             const BaselineOptions& options) {
  return std::make_unique<BiasBaseline>(params, options);
}

Result<std::unique_ptr<Recommender>> CreateEvalModel(const std::string& kind,
                                                     const ModelParams& params) {
  if (kind == kBaselineKind) {
    ENCORE_RETURN_IF_ERROR(params.Validate());
    return NewBiasBaseline(params);
  }
  Result<std::unique_ptr<Recommender>> model = CreateRecommender(kind, params);
  if (!model.ok() && model.status().code() == StatusCode::kInvalidArgument &&
      model.status().message().rfind("unknown model", 0) == 0) {
    return Status::InvalidArgument(model.status().message() + " (and '" + kBaselineKind +
                                   "' for evaluation)");
  }
  return model;
}

}  // namespace encore
