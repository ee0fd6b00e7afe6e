// Explanations (encore/explain.h): the entry points and the factor models'
// decomposition of a linear fold-in.

#ifndef EIGEN_DONT_PARALLELIZE
#define EIGEN_DONT_PARALLELIZE 1
#endif
#include "encore/explain.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "model/factor_model.h"

namespace encore {

namespace {

Status CheckItems(const Recommender& model, std::span<const ItemWeight> history, uint32_t item) {
  if (item >= model.num_items()) {
    return Status::InvalidArgument("explain: unknown item index " + std::to_string(item) +
                                   " (the model has " + std::to_string(model.num_items()) +
                                   " items)");
  }
  for (const ItemWeight& iw : history) {
    if (iw.item >= model.num_items()) {
      return Status::InvalidArgument("explain: unknown history item index " +
                                     std::to_string(iw.item));
    }
    if (!std::isfinite(iw.weight)) {
      return Status::InvalidArgument("explain: the weight of history item " +
                                     std::to_string(iw.item) + " is not finite");
    }
  }
  return Status::OK();
}

Status Decompose(const Recommender& model, std::span<const ItemWeight> history, uint32_t item,
                 Explanation* out) {
  *out = Explanation();
  out->item = item;
  ENCORE_RETURN_IF_ERROR(model.ExplainScore(history, item, out));
  std::stable_sort(out->items.begin(), out->items.end(),
                   [](const ItemContribution& a, const ItemContribution& b) {
                     const double x = std::fabs(a.contribution), y = std::fabs(b.contribution);
                     return x > y || (x == y && a.item < b.item);
                   });
  return Status::OK();
}

}  // namespace

Result<Explanation> ExplainUser(const Recommender& model, uint32_t user, uint32_t item) {
  if (user >= model.num_users()) {
    return Status::InvalidArgument("explain: unknown user index " + std::to_string(user));
  }
  const CsrMatrix& seen = model.seen();
  std::vector<ItemWeight> history;
  for (uint64_t e = seen.indptr[user]; e < seen.indptr[user + 1]; ++e) {
    history.push_back({seen.indices[e], seen.values[e]});
  }
  ENCORE_RETURN_IF_ERROR(CheckItems(model, history, item));
  Explanation out;
  ENCORE_RETURN_IF_ERROR(Decompose(model, history, item, &out));
  std::vector<float> scores(model.num_items());
  model.ScoreItems(user, scores.data());
  out.model_score = scores[item];
  return out;
}

Result<Explanation> ExplainItems(const Recommender& model, std::span<const ItemWeight> history,
                                 uint32_t item) {
  ENCORE_RETURN_IF_ERROR(CheckItems(model, history, item));
  Explanation out;
  ENCORE_RETURN_IF_ERROR(Decompose(model, history, item, &out));
  std::vector<float> scores(model.num_items());
  ENCORE_RETURN_IF_ERROR(model.ScoreFoldIn(history, scores.data()));
  out.model_score = scores[item];
  return out;
}

namespace model {

Status FactorModel::ExplainScore(std::span<const ItemWeight> history, uint32_t item,
                                 Explanation* out) const {
  if (history.empty()) {
    return Status::FailedPrecondition(
        "explain: the history is empty, so no item contributes (the user is cold)");
  }
  LinearFoldIn sys;
  if (!FoldInSystem(history, item, &sys)) {
    return Status::FailedPrecondition(std::string("model '") + kind() +
                                      "' cannot explain its scores");
  }
  const int d = static_cast<int>(sys.d);
  out->base = sys.base;
  out->exact = sys.exact;
  out->method = sys.method;
  out->score = sys.base;
  out->items.clear();
  if (d == 0) {
    for (const ItemWeight& iw : history) out->items.push_back({iw.item, iw.weight, 0.0, 0, 0});
    return Status::OK();
  }
  // z = W^-1 q (W symmetric), then contribution(h) = t_h a_h . z.
  Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> w(
      sys.w.data(), d, d);
  Eigen::Map<const Eigen::VectorXd> q(sys.q.data(), d);
  Eigen::LLT<Eigen::MatrixXd> llt(w);
  Eigen::VectorXd z;
  if (llt.info() == Eigen::Success) {
    z = llt.solve(q);
  } else {
    z = Eigen::MatrixXd(w).ldlt().solve(q);
  }
  for (size_t h = 0; h < history.size(); ++h) {
    Eigen::Map<const Eigen::VectorXd> a(sys.a[h].data(), d);
    const double c = sys.t[h] * a.dot(z);
    out->items.push_back({history[h].item, history[h].weight, std::isfinite(c) ? c : 0.0, 0, 0});
    out->score += out->items.back().contribution;
  }
  return Status::OK();
}

}  // namespace model
}  // namespace encore
