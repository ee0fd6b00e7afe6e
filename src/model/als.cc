// als: explicit alternating least squares with Spark MLlib's semantics
// (rank, maxIter, regParam with ALS-WR count scaling, nonnegative), plus
// optional biases. See docs/MODELS.md for the maths.

// Parallelism is ours, over rows; every TU that instantiates Eigen's products
// must agree on this (the tests get it from CMake).
#ifndef EIGEN_DONT_PARALLELIZE
#define EIGEN_DONT_PARALLELIZE 1
#endif
#include <omp.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <vector>

#include "encore/model_io.h"
#include "model/factor_model.h"
#include "model/models.h"

namespace encore::model {

namespace {

using RowMajorF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Item rows gathered per chunk when forming the normal equations; bounds the
// scratch memory of very long rows (popular items).
constexpr uint64_t kGatherRows = 512;

// Pseudo-ratings at the global mean added to each item's mean for the
// cold-start baseline without biases (Koren's lambda_2 = 25).
constexpr double kBaselineDamping = 25.0;

// Per-thread scratch for ExplicitSolveRow.
struct Workspace {
  RowMajorF m;          // gathered design rows
  Eigen::VectorXf t;    // gathered targets
  Eigen::MatrixXf a;    // normal matrix (lower triangle filled)
  Eigen::VectorXf rhs;  // right-hand side
};

// Solves min 1/2 z'Az - b'z subject to z_j >= 0 for j < constrained (the
// rest are free), by Lawson & Hanson's active-set method on the normal
// equations. A is symmetric positive definite (reg > 0) or at least
// semidefinite.
Eigen::VectorXd Nnls(const Eigen::MatrixXd& a, const Eigen::VectorXd& b, int constrained) {
  const int d = static_cast<int>(b.size());
  Eigen::VectorXd x = Eigen::VectorXd::Zero(d);
  std::vector<char> passive(d, 0);
  for (int j = constrained; j < d; ++j) passive[j] = 1;
  const double tol = 1e-12 * (1.0 + a.diagonal().cwiseAbs().maxCoeff());

  // Solves the unconstrained problem on the passive set; others are 0.
  auto solve_passive = [&](Eigen::VectorXd* z) {
    std::vector<int> idx;
    for (int j = 0; j < d; ++j) {
      if (passive[j]) idx.push_back(j);
    }
    z->setZero(d);
    if (idx.empty()) return;
    const int p = static_cast<int>(idx.size());
    Eigen::MatrixXd sub(p, p);
    Eigen::VectorXd rhs(p);
    for (int r = 0; r < p; ++r) {
      rhs(r) = b(idx[r]);
      for (int c = 0; c < p; ++c) sub(r, c) = a(idx[r], idx[c]);
    }
    Eigen::VectorXd sol = sub.ldlt().solve(rhs);
    for (int r = 0; r < p; ++r) (*z)(idx[r]) = std::isfinite(sol(r)) ? sol(r) : 0.0;
  };

  // Moves along x -> z until the first constrained passive variable hits
  // zero, drops such variables, and repeats until z is feasible.
  Eigen::VectorXd z(d);
  auto inner = [&]() {
    for (int guard = 0; guard < 3 * d + 3; ++guard) {
      solve_passive(&z);
      double step = 1.0;
      bool feasible = true;
      for (int j = 0; j < constrained; ++j) {
        if (passive[j] && z(j) <= tol) {
          feasible = false;
          const double denom = x(j) - z(j);
          if (denom > 0) step = std::min(step, x(j) / denom);
        }
      }
      if (feasible) {
        x = z;
        return;
      }
      x += step * (z - x);
      for (int j = 0; j < constrained; ++j) {
        if (passive[j] && x(j) <= tol) {
          passive[j] = 0;
          x(j) = 0;
        }
      }
    }
  };

  if (constrained < d) inner();  // the free variables start at their optimum
  for (int outer = 0; outer < 3 * d + 3; ++outer) {
    const Eigen::VectorXd w = b - a * x;
    int best = -1;
    double best_w = tol;
    for (int j = 0; j < constrained; ++j) {
      if (!passive[j] && w(j) > best_w) {
        best_w = w(j);
        best = j;
      }
    }
    if (best < 0) break;
    passive[best] = 1;
    inner();
  }
  for (int j = 0; j < constrained; ++j) x(j) = std::max(x(j), 0.0);
  return x;
}

void SolveRow(const uint32_t* cols, const float* values, uint64_t n, const float* fixed,
              uint32_t k, const ExplicitSweepOptions& o, Workspace* ws, float* x, float* bias) {
  const bool biases = o.bias != nullptr;
  if (n == 0) {
    std::fill(x, x + k, 0.0f);
    if (biases) *bias = 0;
    return;
  }
  const int d = static_cast<int>(k) + (biases ? 1 : 0);
  ws->a.setZero(d, d);
  ws->rhs.setZero(d);
  for (uint64_t begin = 0; begin < n; begin += kGatherRows) {
    const uint64_t rows = std::min(kGatherRows, n - begin);
    ws->m.resize(static_cast<Eigen::Index>(rows), d);
    ws->t.resize(static_cast<Eigen::Index>(rows));
    for (uint64_t r = 0; r < rows; ++r) {
      const uint32_t j = cols[begin + r];
      const float* y = fixed + uint64_t{j} * k;
      std::copy(y, y + k, ws->m.row(static_cast<Eigen::Index>(r)).data());
      float target = values[begin + r];
      if (biases) {
        ws->m(static_cast<Eigen::Index>(r), k) = 1.0f;
        target -= o.global_mean + o.fixed_bias[j];
      }
      ws->t(static_cast<Eigen::Index>(r)) = target;
    }
    ws->a.selfadjointView<Eigen::Lower>().rankUpdate(ws->m.transpose());
    ws->rhs.noalias() += ws->m.transpose() * ws->t;
  }
  Eigen::MatrixXd a = ws->a.cast<double>().selfadjointView<Eigen::Lower>();
  const Eigen::VectorXd rhs = ws->rhs.cast<double>();
  const double lambda = static_cast<double>(o.reg) * (o.scale_by_count ? static_cast<double>(n) : 1.0);
  a.diagonal().array() += lambda;
  if (biases && o.bias_reg >= 0) {  // the bias's own penalty, scaled like the factors'
    a(k, k) += static_cast<double>(o.bias_reg) * (o.scale_by_count ? static_cast<double>(n) : 1.0) -
               lambda;
  }
  Eigen::VectorXd z;
  if (o.nonnegative) {
    z = Nnls(a, rhs, static_cast<int>(k));
  } else {
    Eigen::LLT<Eigen::MatrixXd> llt(a);
    if (llt.info() == Eigen::Success) {
      z = llt.solve(rhs);
    } else {
      z = a.ldlt().solve(rhs);  // reg = 0 and too few ratings: singular
    }
  }
  for (uint32_t p = 0; p < k; ++p) {
    const double v = z(p);
    x[p] = std::isfinite(v) ? static_cast<float>(v) : 0.0f;
  }
  if (biases) *bias = std::isfinite(z(k)) ? static_cast<float>(z(k)) : 0.0f;
}

}  // namespace

void ExplicitSolveRow(const uint32_t* cols, const float* values, uint64_t n, const float* fixed,
                      uint32_t k, const ExplicitSweepOptions& options, float* x, float* bias) {
  Workspace ws;
  SolveRow(cols, values, n, fixed, k, options, &ws, x, bias);
}

void ExplicitHalfSweep(const CsrMatrix& ratings, const float* fixed, uint32_t k,
                       const ExplicitSweepOptions& options, float* out) {
  const int64_t rows = ratings.rows;
#pragma omp parallel num_threads(std::max(1, options.threads))
  {
    Workspace ws;
#pragma omp for schedule(dynamic, 16)
    for (int64_t r = 0; r < rows; ++r) {
      const uint64_t begin = ratings.indptr[r];
      const uint64_t n = ratings.indptr[r + 1] - begin;
      float* bias = options.bias != nullptr ? options.bias + r : nullptr;
      SolveRow(ratings.indices.data() + begin, ratings.values.data() + begin, n, fixed, k,
               options, &ws, out + static_cast<uint64_t>(r) * k, bias);
    }
  }
}

namespace {

class Als final : public FactorModel {
 public:
  explicit Als(const ModelParams& params) : FactorModel(params) {}

  const char* kind() const override { return "als"; }

  Status Fit(const Dataset& data) override {
    if (data.nnz() == 0) return Status::InvalidArgument("als: the dataset is empty");
    ENCORE_RETURN_IF_ERROR(params_.Validate());
    RememberSeen(data);
    const uint32_t users = data.by_user.rows, items = data.by_user.cols;
    InitFactors(users, items, params_.biases, params_.nonnegative);
    double sum = 0;
    for (float v : data.by_user.values) sum += v;
    global_mean_ = static_cast<float>(sum / static_cast<double>(data.nnz()));
    default_prediction_ = global_mean_;

    const int threads = params_.threads > 0 ? params_.threads : omp_get_max_threads();
    ExplicitSweepOptions o;
    o.reg = params_.reg;
    o.scale_by_count = params_.reg_scale_by_count;
    o.nonnegative = params_.nonnegative;
    o.global_mean = global_mean_;
    o.threads = threads;
    for (uint32_t it = 0; it < params_.iterations; ++it) {
      if (has_biases_) {
        o.fixed_bias = item_biases_.data();
        o.bias = user_biases_.data();
        o.bias_reg = params_.reg_user_bias;
      }
      ExplicitHalfSweep(data.by_user, item_factors_.data(), k_, o, user_factors_.data());
      if (has_biases_) {
        o.fixed_bias = user_biases_.data();
        o.bias = item_biases_.data();
        o.bias_reg = params_.reg_item_bias;
      }
      ExplicitHalfSweep(data.by_item, user_factors_.data(), k_, o, item_factors_.data());
    }

    // Cold users under cold_start=popular: mu + b_i with biases, otherwise
    // the item's mean rating damped towards mu.
    for (uint32_t i = 0; i < items; ++i) {
      if (has_biases_) {
        cold_user_scores_[i] = global_mean_ + item_biases_[i];
        continue;
      }
      double dev = 0;
      const uint64_t begin = data.by_item.indptr[i], end = data.by_item.indptr[i + 1];
      for (uint64_t p = begin; p < end; ++p) dev += data.by_item.values[p] - global_mean_;
      cold_user_scores_[i] = static_cast<float>(
          global_mean_ + dev / (static_cast<double>(end - begin) + kBaselineDamping));
    }
    FinishFit();
    return Status::OK();
  }

 protected:
  void SolveFoldIn(std::span<const ItemWeight> items, float* x, float* bias) const override {
    std::vector<uint32_t> cols;
    std::vector<float> values;
    for (const ItemWeight& iw : items) {
      cols.push_back(iw.item);
      values.push_back(iw.weight);
    }
    ExplicitSweepOptions o;
    o.reg = params_.reg;
    o.scale_by_count = params_.reg_scale_by_count;
    o.nonnegative = params_.nonnegative;
    o.global_mean = global_mean_;
    float unused = 0;
    if (has_biases_) {
      o.fixed_bias = item_biases_.data();
      o.bias = &unused;
      o.bias_reg = params_.reg_user_bias;
    }
    ExplicitSolveRow(cols.data(), values.data(), cols.size(), item_factors_.data(), k_, o, x,
                     bias);
  }
};

}  // namespace

std::unique_ptr<Recommender> NewAls(const ModelParams& params) {
  return std::make_unique<Als>(params);
}

}  // namespace encore::model
