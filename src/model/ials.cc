// ials: implicit alternating least squares (Hu, Koren & Volinsky 2008) with
// the conjugate-gradient row solver of Takacs, Pilaszy & Tikk (2011), the
// approach of the `implicit` library. See docs/MODELS.md for the maths.
//
// The CG inner loops are hand-vectorised (model/vec_kernels.h: SSE2, AVX2
// + FMA and AVX-512 builds, chosen at run time): each pass over a row's
// nonzeros is two register-held sweeps per chunk (the dot products, then the
// accumulation), and the k x k product with Y^T Y + reg I is a
// register-blocked column sweep.

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
#include <cstring>
#include <string_view>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "encore/model_io.h"
#include "model/factor_model.h"
#include "model/models.h"
#include "model/vec_kernels.h"
#include "util/threads.h"

namespace encore::model {

namespace {

using RowMajorF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

using vec::Sse2;
#if defined(__x86_64__)
using vec::Avx2;
using vec::Avx512;
#endif

// Nonzeros per chunk of a CG pass: a chunk's factor rows (16 KiB at k = 32,
// 32 KiB at k = 64) are read by the dot products and again, while still in
// L1, by the accumulation.
constexpr uint64_t kCgChunk = 128;

// Factor rows of the next row prefetched before a row is solved.
constexpr uint64_t kCgPrefetchNextRow = 8;

// Conjugate-gradient update of one row's factor x (warm start), following
// Takacs et al.: A = G + row_reg I + sum (c_i - w0) y_i y_i^T and
// b = sum c_i p_i y_i, with G = w0 Y^T Y (+ reg I when the regularisation is
// not per row) and w0 the unobserved weight; A is never formed. `base` is
// 1 - w0, so c_i - w0 = base + alpha |v_i| (Hu et al.: w0 = 1, base = 0,
// row_reg = 0, the original arithmetic exactly).
//
// Each pass over the row's nonzeros (one for the residual, one per step)
// runs chunk by chunk in two sweeps: the chunk's dot products y_i . v with v
// held in registers (GatherDot), then sum_i q_i y_i accumulated in registers
// (GatherAxpy). Fusing the two per nonzero, as before, chained every
// nonzero's axpy through memory behind its dot product's reduction.
// `q` is scratch of kCgChunk floats.
template <class K>
inline void CgRowT(const uint32_t* cols, const float* values, uint64_t n, const float* fixed,
                   const float* g, uint32_t k, float alpha, float base, float row_reg,
                   uint32_t steps, float* x, float* r, float* p, float* ap, float* q) {
  if (n == 0) {
    std::fill(x, x + k, 0.0f);
    return;
  }
  // r = b - A x = sum_i (c_i p_i - (c_i - w0) y_i . x) y_i - (G + row_reg I) x
  K::SymMatVec(g, x, ap, k);
  if (row_reg != 0) K::Axpy(row_reg, x, ap, k);
  std::fill(r, r + k, 0.0f);
  K::Axpy(-1.0f, ap, r, k);
  for (uint64_t c0 = 0; c0 < n; c0 += kCgChunk) {
    const uint64_t m = std::min(kCgChunk, n - c0);
    K::GatherDot(fixed, cols + c0, m, x, q, k, /*prefetch=*/true);
    for (uint64_t e = 0; e < m; ++e) {
      const float v = values[c0 + e];
      const float a1 = alpha * std::fabs(v);      // c - 1
      const float c1 = base + a1;                 // c - w0
      const float pc = v > 0 ? 1.0f + a1 : 0.0f;  // c * p
      q[e] = pc - c1 * q[e];
    }
    K::GatherAxpy(fixed, cols + c0, m, q, r, k);
  }
  std::copy(r, r + k, p);
  float rs = K::Dot(r, r, k);
  // Rows longer than a chunk are read from L2 or beyond again on every pass.
  const bool prefetch = n > kCgChunk;
  for (uint32_t s = 0; s < steps; ++s) {
    if (!(rs > 1e-20f)) break;
    K::SymMatVec(g, p, ap, k);
    if (row_reg != 0) K::Axpy(row_reg, p, ap, k);
    for (uint64_t c0 = 0; c0 < n; c0 += kCgChunk) {
      const uint64_t m = std::min(kCgChunk, n - c0);
      K::GatherDot(fixed, cols + c0, m, p, q, k, prefetch);
      for (uint64_t e = 0; e < m; ++e) q[e] *= base + alpha * std::fabs(values[c0 + e]);
      K::GatherAxpy(fixed, cols + c0, m, q, ap, k);
    }
    const float pap = K::Dot(p, ap, k);
    if (!(pap > 0)) break;
    const float a = rs / pap;
    K::Axpy(a, p, x, k);
    K::Axpy(-a, ap, r, k);
    const float rs_new = K::Dot(r, r, k);
    K::Xpby(r, rs_new / rs, p, k);  // p = r + beta p
    rs = rs_new;
  }
}

// The row solver instantiated per kernel set. `flatten` inlines every
// kernel call into the row loop, in the row function's own instruction set.
using CgRowFn = void (*)(const uint32_t*, const float*, uint64_t, const float*, const float*,
                         uint32_t, float, float, float, uint32_t, float*, float*, float*, float*,
                         float*);

__attribute__((flatten)) void CgRowSse2(const uint32_t* cols, const float* values, uint64_t n,
                                        const float* fixed, const float* g, uint32_t k, float alpha,
                                        float base, float row_reg, uint32_t steps, float* x,
                                        float* r, float* p, float* ap, float* q) {
  CgRowT<Sse2>(cols, values, n, fixed, g, k, alpha, base, row_reg, steps, x, r, p, ap, q);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"), flatten)) void CgRowAvx2(const uint32_t* cols,
                                                            const float* values, uint64_t n,
                                                            const float* fixed, const float* g,
                                                            uint32_t k, float alpha, float base,
                                                            float row_reg, uint32_t steps, float* x,
                                                            float* r, float* p, float* ap, float* q) {
  CgRowT<Avx2>(cols, values, n, fixed, g, k, alpha, base, row_reg, steps, x, r, p, ap, q);
}

__attribute__((target("avx512f,avx512vl,avx2,fma"), flatten)) void CgRowAvx512(
    const uint32_t* cols, const float* values, uint64_t n, const float* fixed, const float* g,
    uint32_t k, float alpha, float base, float row_reg, uint32_t steps, float* x, float* r,
    float* p, float* ap, float* q) {
  CgRowT<Avx512>(cols, values, n, fixed, g, k, alpha, base, row_reg, steps, x, r, p, ap, q);
}
#endif

// The per-row regularisation of frequency-scaled reg (0 when reg is uniform
// and already inside G): reg * (n_r + w0 * N)^exponent.
inline float RowReg(const ImplicitSweepOptions& o, uint64_t n_r, uint32_t other_rows) {
  if (o.reg_exponent == 0) return 0.0f;
  return static_cast<float>(
      o.reg *
      std::pow(static_cast<double>(n_r) + static_cast<double>(o.unobserved_weight) * other_rows,
               static_cast<double>(o.reg_exponent)));
}

// One CG half-sweep over every row of `m`.
void CgSweep(CgRowFn row_fn, const CsrMatrix& m, int64_t row_begin, int64_t row_end,
             const float* fixed, uint32_t fixed_rows, const float* g, uint32_t k,
             const ImplicitSweepOptions& o, int threads, float* out) {
  const float alpha = o.alpha, base = 1.0f - o.unobserved_weight;
  const uint32_t steps = o.cg_steps;
  const uint32_t* cols = m.indices.data();
  const float* values = m.values.data();
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> scratch(3 * uint64_t{k} + kCgChunk);
#pragma omp for schedule(dynamic, 64)
    for (int64_t r = row_begin; r < row_end; ++r) {
      const uint64_t begin = m.indptr[r];
      const uint64_t n = m.indptr[r + 1] - begin;
      // The next row's first factor rows, fetched while this row is solved
      // (the first pass of a row waits on memory otherwise).
      if (r + 1 < row_end) {
        const uint64_t next = m.indptr[r + 1];
        const uint64_t ahead = std::min<uint64_t>(m.indptr[r + 2] - next, kCgPrefetchNextRow);
        for (uint64_t e = 0; e < ahead; ++e) {
          vec::PrefetchRow(fixed + uint64_t{cols[next + e]} * k, k);
        }
      }
      row_fn(cols + begin, values + begin, n, fixed, g, k, alpha, base, RowReg(o, n, fixed_rows),
             steps, out + static_cast<uint64_t>(r) * k, scratch.data(), scratch.data() + k,
             scratch.data() + 2 * k, scratch.data() + 3 * k);
    }
  }
}

// Per-thread scratch of the exact (Cholesky) row solver.
struct CholeskyWorkspace {
  RowMajorF m;
  Eigen::MatrixXf a;
  Eigen::VectorXf b;
};

constexpr uint64_t kGatherRows = 512;

// Exact solve of one row; `g` is w0 Y^T Y (+ reg I), row-major, symmetric;
// `base` = 1 - w0 and `row_reg` as in CgRowT.
void CholeskyRow(const uint32_t* cols, const float* values, uint64_t n, const float* fixed,
                 const float* g, uint32_t k, float alpha, float base, float row_reg,
                 CholeskyWorkspace* ws, float* x) {
  if (n == 0) {
    std::fill(x, x + k, 0.0f);
    return;
  }
  const int d = static_cast<int>(k);
  ws->a = Eigen::Map<const Eigen::MatrixXf>(g, d, d);
  if (row_reg != 0) ws->a.diagonal().array() += row_reg;
  ws->b.setZero(d);
  for (uint64_t begin = 0; begin < n; begin += kGatherRows) {
    const uint64_t rows = std::min(kGatherRows, n - begin);
    ws->m.resize(static_cast<Eigen::Index>(rows), d);
    for (uint64_t q = 0; q < rows; ++q) {
      const float* y = fixed + uint64_t{cols[begin + q]} * k;
      const float v = values[begin + q];
      const float a1 = alpha * std::fabs(v);
      float c1 = base + a1;
      const float pc = v > 0 ? 1.0f + a1 : 0.0f;
      if (c1 < 0) {  // w0 above this pair's confidence: a negative rank-1 term
        ws->a.selfadjointView<Eigen::Lower>().rankUpdate(Eigen::Map<const Eigen::VectorXf>(y, d),
                                                         c1);
        c1 = 0;
      }
      const float w = std::sqrt(c1);
      for (uint32_t c = 0; c < k; ++c) ws->m(static_cast<Eigen::Index>(q), c) = w * y[c];
      if (pc != 0) ws->b += pc * Eigen::Map<const Eigen::VectorXf>(y, d);
    }
    ws->a.selfadjointView<Eigen::Lower>().rankUpdate(ws->m.transpose());
  }
  Eigen::LLT<Eigen::MatrixXf> llt(ws->a);
  Eigen::VectorXf sol;
  if (llt.info() == Eigen::Success) {
    sol = llt.solve(ws->b);
  } else {
    Eigen::MatrixXf full = ws->a.selfadjointView<Eigen::Lower>();
    sol = full.ldlt().solve(ws->b);
  }
  for (uint32_t c = 0; c < k; ++c) x[c] = std::isfinite(sol(c)) ? sol(c) : 0.0f;
}

}  // namespace

std::vector<double> GramSum(const float* factors, uint32_t first, uint32_t last, uint32_t k,
                            int threads) {
  // Fixed chunks, reduced in order: the result never depends on threads.
  constexpr uint32_t kChunk = 4096;
  const uint32_t rows = last - first;
  const uint32_t chunks = (rows + kChunk - 1) / kChunk;
  std::vector<Eigen::MatrixXf> partial(chunks);
#pragma omp parallel for num_threads(std::max(1, threads)) schedule(dynamic, 1)
  for (uint32_t c = 0; c < chunks; ++c) {
    const uint32_t begin = c * kChunk, n = std::min(kChunk, rows - begin);
    Eigen::Map<const RowMajorF> y(factors + (uint64_t{first} + begin) * k, n, k);
    partial[c].setZero(k, k);
    partial[c].selfadjointView<Eigen::Lower>().rankUpdate(y.transpose());
  }
  std::vector<double> out(uint64_t{k} * k, 0.0);
  Eigen::Map<Eigen::MatrixXd> sum(out.data(), k, k);
  for (const auto& p : partial) sum += p.cast<double>();
  return out;
}

std::vector<float> FinishGram(const std::vector<double>& total, uint32_t k, float reg,
                              float scale) {
  Eigen::Map<const Eigen::MatrixXd> sum(total.data(), k, k);
  Eigen::MatrixXd full = sum.selfadjointView<Eigen::Lower>();
  if (scale != 1.0f) full *= static_cast<double>(scale);
  full.diagonal().array() += reg;
  std::vector<float> out(uint64_t{k} * k);
  for (uint32_t i = 0; i < k; ++i) {
    for (uint32_t j = 0; j < k; ++j) out[uint64_t{i} * k + j] = static_cast<float>(full(i, j));
  }
  return out;
}

std::vector<float> RegularisedGram(const float* factors, uint32_t rows, uint32_t k, float reg,
                                   int threads, float scale) {
  return FinishGram(GramSum(factors, 0, rows, k, threads), k, reg, scale);
}

void ImplicitHalfSweep(const CsrMatrix& interactions, const float* fixed, uint32_t fixed_rows,
                       uint32_t k, const ImplicitSweepOptions& o, float* out) {
  const int threads = std::max(1, o.threads);
  // Plain reg sits in G; frequency-scaled reg is added per row.
  const float uniform_reg = o.reg_exponent == 0 ? o.reg : 0.0f;
  const std::vector<float> g =
      RegularisedGram(fixed, fixed_rows, k, uniform_reg, threads, o.unobserved_weight);
  ImplicitHalfSweepRows(interactions, 0, interactions.rows, fixed, fixed_rows, k, o, g.data(),
                        out);
}

void ImplicitHalfSweepRows(const CsrMatrix& interactions, uint32_t row_begin, uint32_t row_end,
                           const float* fixed, uint32_t fixed_rows, uint32_t k,
                           const ImplicitSweepOptions& o, const float* g, float* out) {
  const int threads = std::max(1, o.threads);
  const uint32_t* cols = interactions.indices.data();
  const float* values = interactions.values.data();
  if (o.solver == Solver::kCg) {
    CgRowFn row_fn = CgRowSse2;
#if defined(__x86_64__)
    if (WideKernelsEnabled()) row_fn = Avx512KernelsEnabled() ? CgRowAvx512 : CgRowAvx2;
#endif
    CgSweep(row_fn, interactions, row_begin, row_end, fixed, fixed_rows, g, k, o, threads, out);
  } else {
#pragma omp parallel num_threads(threads)
    {
      CholeskyWorkspace ws;
#pragma omp for schedule(dynamic, 16)
      for (int64_t r = row_begin; r < static_cast<int64_t>(row_end); ++r) {
        const uint64_t begin = interactions.indptr[r];
        const uint64_t n = interactions.indptr[r + 1] - begin;
        CholeskyRow(cols + begin, values + begin, n, fixed, g, k, o.alpha,
                    1.0f - o.unobserved_weight, RowReg(o, n, fixed_rows), &ws,
                    out + static_cast<uint64_t>(r) * k);
      }
    }
  }
}

double ImplicitLoss(const CsrMatrix& interactions, const float* x, const float* y, uint32_t k,
                    float reg, float alpha) {
  // sum_{u,i} c (p - s)^2 = sum_u x_u' (Y'Y) x_u + sum_nz [c (p - s)^2 - s^2]
  Eigen::Map<const RowMajorF> xm(x, interactions.rows, k), ym(y, interactions.cols, k);
  const Eigen::MatrixXd yty = ym.cast<double>().transpose() * ym.cast<double>();
  double loss = 0;
  for (uint32_t u = 0; u < interactions.rows; ++u) {
    const Eigen::VectorXd xu = xm.row(u).cast<double>().transpose();
    loss += xu.dot(yty * xu);
    for (uint64_t e = interactions.indptr[u]; e < interactions.indptr[u + 1]; ++e) {
      const uint32_t i = interactions.indices[e];
      const double v = interactions.values[e];
      const double s = xu.dot(ym.row(i).cast<double>().transpose());
      const double c = 1.0 + alpha * std::fabs(v);
      const double p = v > 0 ? 1.0 : 0.0;
      loss += c * (p - s) * (p - s) - s * s;
    }
  }
  loss += reg * (xm.cast<double>().squaredNorm() + ym.cast<double>().squaredNorm());
  return loss;
}

namespace {

class Ials final : public FactorModel {
 public:
  explicit Ials(const ModelParams& params) : FactorModel(params) {}

  const char* kind() const override { return "ials"; }

  Status Fit(const Dataset& data) override {
    if (Nonzeros(data) == 0) return Status::InvalidArgument("ials: the dataset is empty");
    ENCORE_RETURN_IF_ERROR(params_.Validate());
    RememberSeen(data);
    InitFactors(data.by_user.rows, data.by_user.cols, /*biases=*/false, /*nonnegative=*/false);
    if (exchange_ != nullptr) return FitDistributed(data, SweepOptions());
    Sweeps(data, params_.iterations);
    return Status::OK();
  }

  Status FitWarm(const Dataset& data, const Recommender& warm, std::span<const int64_t> user_map,
                 std::span<const int64_t> item_map, uint32_t iterations) override {
    if (data.nnz() == 0) return Status::InvalidArgument("ials: the dataset is empty");
    ENCORE_RETURN_IF_ERROR(params_.Validate());
    const std::optional<FactorView> from = warm.Factors();
    if (std::string_view(warm.kind()) != kind() || !from || from->factors != params_.factors) {
      return Status::InvalidArgument(
          "ials: a warm start needs a fitted ials model with the same number of factors");
    }
    if (user_map.size() != data.users.size() || item_map.size() != data.items.size()) {
      return Status::InvalidArgument("ials: the warm-start maps do not match the dataset");
    }
    RememberSeen(data);
    InitFactors(data.by_user.rows, data.by_user.cols, /*biases=*/false, /*nonnegative=*/false);
    auto copy = [&](std::span<const int64_t> map, const float* src, int64_t src_rows, float* dst) {
      for (size_t r = 0; r < map.size(); ++r) {
        if (map[r] < 0 || map[r] >= src_rows) continue;
        std::memcpy(dst + r * k_, src + static_cast<uint64_t>(map[r]) * k_, k_ * sizeof(float));
      }
    };
    copy(user_map, from->users, warm.num_users(), user_factors_.data());
    copy(item_map, from->items, warm.num_items(), item_factors_.data());
    Sweeps(data, iterations);
    return Status::OK();
  }

 protected:
  void OnFactorsReady() override {
    gram_ = RegularisedGram(item_factors_.data(), num_items(), k_,
                            params_.reg_exponent == 0 ? params_.reg : 0.0f, Threads(),
                            params_.unobserved_weight);
  }

  // Exact solve (Cholesky) of the implicit step for the visitor.
  void SolveFoldIn(std::span<const ItemWeight> items, float* x, float*) const override {
    std::vector<uint32_t> cols;
    std::vector<float> values;
    for (const ItemWeight& iw : items) {
      cols.push_back(iw.item);
      values.push_back(iw.weight);
    }
    ImplicitSweepOptions o;
    o.reg = params_.reg;
    o.unobserved_weight = params_.unobserved_weight;
    o.reg_exponent = params_.reg_exponent;
    CholeskyWorkspace ws;
    CholeskyRow(cols.data(), values.data(), cols.size(), item_factors_.data(), gram_.data(), k_,
                params_.alpha, 1.0f - params_.unobserved_weight,
                RowReg(o, cols.size(), num_items()), &ws, x);
  }

  // The exact fold-in system (as SolveFoldIn): W = w0 Y'Y + reg I (or the
  // row's frequency-scaled reg) + sum_h (c_h - w0) y_h y_h', t_h = c_h p_h.
  bool FoldInSystem(std::span<const ItemWeight> history, uint32_t item,
                    LinearFoldIn* out) const override {
    const uint32_t k = k_;
    out->d = k;
    out->w.assign(gram_.begin(), gram_.end());
    ImplicitSweepOptions o;
    o.reg = params_.reg;
    o.unobserved_weight = params_.unobserved_weight;
    o.reg_exponent = params_.reg_exponent;
    const float row_reg = RowReg(o, history.size(), num_items());
    for (uint32_t p = 0; p < k; ++p) out->w[uint64_t{p} * k + p] += row_reg;
    const double base = 1.0 - params_.unobserved_weight;
    for (const ItemWeight& iw : history) {
      const float* y = item_factors_.data() + uint64_t{iw.item} * k;
      const double a1 = static_cast<double>(params_.alpha) * std::fabs(iw.weight);
      const double c1 = base + a1;
      for (uint32_t r = 0; r < k; ++r) {
        for (uint32_t c = 0; c < k; ++c) out->w[uint64_t{r} * k + c] += c1 * y[r] * y[c];
      }
      out->a.emplace_back(y, y + k);
      out->t.push_back(iw.weight > 0 ? 1.0 + a1 : 0.0);
    }
    const float* yi = item_factors_.data() + uint64_t{item} * k;
    out->q.assign(yi, yi + k);
    out->method =
        "ials: contribution(h) = c_h p_h y_i' W^-1 y_h with W = Y'Y + reg I + sum_h (c_h - 1) "
        "y_h y_h' (the exact fold-in solve of the history)";
    return true;
  }

 private:
  int Threads() const { return ResolveThreads(params_.threads); }

  // The nonzeros of the whole data set, over every process of a distributed fit.
  uint64_t Nonzeros(const Dataset& data) const {
    if (exchange_ == nullptr) return data.nnz();
    const auto [first, last] = exchange_->users();
    double n = static_cast<double>(data.by_user.indptr[last] - data.by_user.indptr[first]);
    exchange_->Sum(&n, 1);
    return static_cast<uint64_t>(n);
  }

  // Cold users under cold_start=popular: the share of users who
  // interacted with the item, an estimate of P(p = 1) on the model's scale.
  void ColdUserScores(const Dataset& data, uint32_t first, uint32_t last) {
    const uint32_t users = data.by_user.rows;
    default_prediction_ = 0;
    for (uint32_t i = first; i < last; ++i) {
      cold_user_scores_[i] = users == 0 ? 0.0f
                                        : static_cast<float>(data.by_item.RowLength(i)) /
                                              static_cast<float>(users);
    }
  }

  // The same sweeps over this process's rows: Y^T Y summed over every
  // process's EqualRows, the SolveRows solved, every process's rows
  // shared (see FitExchange).
  Status FitDistributed(const Dataset& data, const ImplicitSweepOptions& o) {
    const uint32_t users = data.by_user.rows, items = data.by_user.cols;
    const auto [u0, u1] = exchange_->EqualRows(true);
    const auto [i0, i1] = exchange_->EqualRows(false);
    const float uniform_reg = o.reg_exponent == 0 ? o.reg : 0.0f;
    const int threads = std::max(1, o.threads);
    for (uint32_t it = 0; it < params_.iterations; ++it) {
      std::vector<double> sum = GramSum(item_factors_.data(), i0, i1, k_, threads);
      exchange_->Sum(sum.data(), sum.size());
      std::vector<float> g = FinishGram(sum, k_, uniform_reg, o.unobserved_weight);
      auto [s0, s1] = exchange_->SolveRows(true);
      ImplicitHalfSweepRows(data.by_user, s0, s1, item_factors_.data(), items, k_, o, g.data(),
                            user_factors_.data());
      exchange_->ShareRows(true, user_factors_.data(), k_);
      sum = GramSum(user_factors_.data(), u0, u1, k_, threads);
      exchange_->Sum(sum.data(), sum.size());
      g = FinishGram(sum, k_, uniform_reg, o.unobserved_weight);
      std::tie(s0, s1) = exchange_->SolveRows(false);
      ImplicitHalfSweepRows(data.by_item, s0, s1, user_factors_.data(), users, k_, o, g.data(),
                            item_factors_.data());
      exchange_->ShareRows(false, item_factors_.data(), k_);
      ReportIteration(it + 1, params_.iterations);
    }
    const auto [c0, c1] = exchange_->SolvedRows(false);
    ColdUserScores(data, c0, c1);
    exchange_->ShareRows(false, cold_user_scores_.data(), 1);
    FinishFit();
    return Status::OK();
  }

  ImplicitSweepOptions SweepOptions() const {
    ImplicitSweepOptions o;
    o.reg = params_.reg;
    o.alpha = params_.alpha;
    o.solver = params_.solver;
    o.cg_steps = params_.cg_steps;
    o.unobserved_weight = params_.unobserved_weight;
    o.reg_exponent = params_.reg_exponent;
    o.threads = Threads();
    return o;
  }

  // `iterations` alternating sweeps (users, then items) from the current
  // factors, then the cold-start scores and the derived state.
  void Sweeps(const Dataset& data, uint32_t iterations) {
    const uint32_t users = data.by_user.rows, items = data.by_user.cols;
    const ImplicitSweepOptions o = SweepOptions();
    for (uint32_t it = 0; it < iterations; ++it) {
      ImplicitHalfSweep(data.by_user, item_factors_.data(), items, k_, o, user_factors_.data());
      ImplicitHalfSweep(data.by_item, user_factors_.data(), users, k_, o, item_factors_.data());
      ReportIteration(it + 1, iterations);
    }
    ColdUserScores(data, 0, items);
    FinishFit();
  }

  std::vector<float> gram_;  // Y^T Y + reg I, for fold-in
};

}  // namespace

std::unique_ptr<Recommender> NewIals(const ModelParams& params) {
  return std::make_unique<Ials>(params);
}

}  // namespace encore::model
