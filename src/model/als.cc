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
#include <cstring>
#include <tuple>
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

// Rows accumulated per pass of the Gram kernel: the pass re-reads these rows
// once per output tile, so they should stay in L1/L2 (128 x 64 floats = 32 KB).
constexpr uint32_t kGatherRows = 128;

// Pseudo-ratings at the global mean added to each item's mean for the
// cold-start baseline without biases (Koren's lambda_2 = 25).
constexpr double kBaselineDamping = 25.0;

// gram[i * kp + j] (+)= sum_r rows[r][i] * rows[r][j] for every j >= i (some
// entries just below the diagonal inside 8 x 8 diagonal blocks are written
// too; only the upper triangle is read). kp % 8 == 0; every row holds kp
// floats. add = false overwrites instead of adding. Register tiles of 4 x 16 (4 x 8 at the right
// edge) accumulate over all n rows before touching gram: the summation order is fixed (row order),
// whatever the thread.
using vec::Load4;
using vec::Store4;
using vec::V4;

void GramSse2(const float* const* rows, uint32_t n, uint32_t kp, float* gram, bool add) {
  for (uint32_t i0 = 0; i0 < kp; i0 += 4) {
    for (uint32_t j = i0 & ~7u; j < kp; j += 8) {
      V4 c[4][2] = {};
      for (uint32_t r = 0; r < n; ++r) {
        const float* y = rows[r];
        const V4 b0 = Load4(y + j), b1 = Load4(y + j + 4);
        for (int t = 0; t < 4; ++t) {
          const V4 a = {y[i0 + t], y[i0 + t], y[i0 + t], y[i0 + t]};
          c[t][0] += a * b0;
          c[t][1] += a * b1;
        }
      }
      for (int t = 0; t < 4; ++t) {
        float* g = gram + uint64_t{i0 + t} * kp + j;
        Store4(g, add ? Load4(g) + c[t][0] : c[t][0]);
        Store4(g + 4, add ? Load4(g + 4) + c[t][1] : c[t][1]);
      }
    }
  }
}

// y += f * x over len floats, len % 8 == 0.
inline void AxpySse2(float f, const float* x, float* y, uint32_t len) {
  const V4 a = {f, f, f, f};
  for (uint32_t p = 0; p < len; p += 8) {
    Store4(y + p, Load4(y + p) + a * Load4(x + p));
    Store4(y + p + 4, Load4(y + p + 4) + a * Load4(x + p + 4));
  }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) inline void AxpyAvx2(float f, const float* x, float* y,
                                                         uint32_t len) {
  const __m256 a = _mm256_set1_ps(f);
  for (uint32_t p = 0; p < len; p += 8) {
    _mm256_storeu_ps(y + p, _mm256_fmadd_ps(a, _mm256_loadu_ps(x + p), _mm256_loadu_ps(y + p)));
  }
}

__attribute__((target("avx2,fma"))) void GramAvx2(const float* const* rows, uint32_t n, uint32_t kp,
                                                  float* gram, bool add) {
  for (uint32_t i0 = 0; i0 < kp; i0 += 4) {
    uint32_t j = i0 & ~7u;
    for (; j + 16 <= kp; j += 16) {
      __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
             c30 = c00, c31 = c00;
      for (uint32_t r = 0; r < n; ++r) {
        const float* y = rows[r];
        const __m256 b0 = _mm256_loadu_ps(y + j), b1 = _mm256_loadu_ps(y + j + 8);
        __m256 a = _mm256_broadcast_ss(y + i0);
        c00 = _mm256_fmadd_ps(a, b0, c00);
        c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(y + i0 + 1);
        c10 = _mm256_fmadd_ps(a, b0, c10);
        c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(y + i0 + 2);
        c20 = _mm256_fmadd_ps(a, b0, c20);
        c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(y + i0 + 3);
        c30 = _mm256_fmadd_ps(a, b0, c30);
        c31 = _mm256_fmadd_ps(a, b1, c31);
      }
      float* g = gram + uint64_t{i0} * kp + j;
      const __m256 c[4][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
      for (int t = 0; t < 4; ++t, g += kp) {
        _mm256_storeu_ps(g, add ? _mm256_add_ps(_mm256_loadu_ps(g), c[t][0]) : c[t][0]);
        _mm256_storeu_ps(g + 8, add ? _mm256_add_ps(_mm256_loadu_ps(g + 8), c[t][1]) : c[t][1]);
      }
    }
    if (j < kp) {  // one 8-wide column block left
      __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
      for (uint32_t r = 0; r < n; ++r) {
        const float* y = rows[r];
        const __m256 b = _mm256_loadu_ps(y + j);
        c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(y + i0), b, c0);
        c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(y + i0 + 1), b, c1);
        c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(y + i0 + 2), b, c2);
        c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(y + i0 + 3), b, c3);
      }
      float* g = gram + uint64_t{i0} * kp + j;
      const __m256 c[4] = {c0, c1, c2, c3};
      for (int t = 0; t < 4; ++t, g += kp) {
        _mm256_storeu_ps(g, add ? _mm256_add_ps(_mm256_loadu_ps(g), c[t]) : c[t]);
      }
    }
  }
}
#endif

using GramFn = void (*)(const float* const*, uint32_t, uint32_t, float*, bool);

// Per-thread scratch for SolveRow, sized once for a given k and the longest
// row of the sweep: solving a row allocates nothing (a heap allocation per row, of a size that
// changed with the row's length, cost system time and made 2 threads slower than 1).
struct Workspace {
  // `max_row`: the most ratings of a row this workspace will solve.
  Workspace(uint32_t k, bool biases, uint64_t max_row)
      : k(k),
        kp((k + 7) & ~7u),
        d(k + (biases ? 1 : 0)),
        s((d + 7) & ~7u),
        gram(uint64_t{kp} * kp),
        pad(k % 8 == 0 ? 0 : uint64_t{kGatherRows} * kp, 0.0f),
        rows(kGatherRows),
        sum(kp),
        rhs(s),
        sys(uint64_t{s} * s, 0.0f),
        x(s),
        r(s),
        p(s),
        ap(s),
        q(max_row) {}
  uint32_t k, kp;                  // factors, padded to 8
  uint32_t d, s;                   // unknowns (k + bias), padded to 8
  std::vector<float> gram;         // kp x kp, upper triangle
  std::vector<float> pad;          // gathered rows padded to kp when k % 8 != 0
  std::vector<const float*> rows;  // the rows of one pass
  std::vector<float> sum;          // sum of the rows (bias column)
  std::vector<float> rhs;          // right-hand side (s)
  std::vector<float> sys;          // s x s normal matrix, upper, factored in place
  std::vector<float> x;            // solution (s)
  std::vector<float> r, p, ap;     // conjugate-gradient residual, direction, A * direction
  std::vector<float> q;            // conjugate gradient: one coefficient per rating of the row
};

// Writes the upper triangle of the normal matrix of the row just accumulated
// in ws (Gram of the fixed rows, with the bias column [sum of rows; n]) plus
// lambda on the diagonal into ws->sys; row i from column i & ~7 (zeros left
// of the diagonal, as CholeskyUpper expects).
// `bias_lambda` is the bias's own penalty (the factors' lambda when the
// model has no separate bias regularisation).
void BuildSystem(Workspace* ws, uint64_t n, bool biases, float lambda, float bias_lambda) {
  const uint32_t k = ws->k, kp = ws->kp, st = ws->s;
  for (uint32_t i = 0; i < k; ++i) {
    const float* g = ws->gram.data() + uint64_t{i} * kp;
    float* row = ws->sys.data() + uint64_t{i} * st;
    for (uint32_t j = i & ~7u; j < i; ++j) row[j] = 0;
    for (uint32_t j = i; j < k; ++j) row[j] = g[j];
    if (biases) row[k] = ws->sum[i];
    row[i] += lambda;
  }
  if (biases) {
    float* row = ws->sys.data() + uint64_t{k} * st;
    for (uint32_t j = k & ~7u; j < k; ++j) row[j] = 0;
    row[k] = static_cast<float>(n) + bias_lambda;
  }
}

// In-place Cholesky A = U^T U of the d x d matrix held as the upper triangle
// of `a` (row-major, stride st, st % 8 == 0). Each update runs over whole
// 8-float blocks, so entries left of the diagonal within a block and columns
// d..st-1 are scratch (they must be finite on entry and are never read for
// the result). Returns false unless A is numerically positive definite.
template <void (*Axpy)(float, const float*, float*, uint32_t)>
inline bool CholeskyUpper(float* a, uint32_t d, uint32_t st) {
  for (uint32_t j = 0; j < d; ++j) {
    float* rj = a + uint64_t{j} * st;
    const float piv = rj[j];
    if (!(piv > 0) || !std::isfinite(piv)) return false;
    const float root = std::sqrt(piv), inv = 1.0f / root;
    rj[j] = root;
    for (uint32_t l = j + 1; l < d; ++l) rj[l] *= inv;
    for (uint32_t l = d; l < st; ++l) rj[l] = 0;
    for (uint32_t i = j + 1; i < d; ++i) {
      const uint32_t c0 = i & ~7u;
      Axpy(-rj[i], rj + c0, a + uint64_t{i} * st + c0, st - c0);
    }
  }
  return true;
}

// 8-float vectors for the triangular solves: inlined into the AVX2 build they
// become single ymm operations, in the baseline build pairs of SSE ones.
typedef float V8 __attribute__((vector_size(32)));
// Unaligned 8-float load and store, as macros: a function passing V8 by
// value would change its ABI with the ISA (-Wpsabi).
#define ENCORE_LOAD8(p)               \
  ({                                  \
    V8 v_;                            \
    std::memcpy(&v_, (p), sizeof v_); \
    v_;                               \
  })
#define ENCORE_STORE8(p, v)           \
  do {                                \
    const V8 s_ = (v);                \
    std::memcpy((p), &s_, sizeof s_); \
  } while (0)

// Solves U^T U x = b with U from CholeskyUpper; b is overwritten. Both
// substitutions run along rows of U (contiguous), 8 lanes at a time.
inline void CholeskySolve(const float* u, uint32_t d, uint32_t st, float* b, float* x) {
  for (uint32_t i = 0; i < d; ++i) {  // U^T z = b, z into b
    const float* ri = u + uint64_t{i} * st;
    const float z = b[i] / ri[i];
    b[i] = z;
    const V8 zv = {z, z, z, z, z, z, z, z};
    uint32_t l = i + 1;
    for (; l + 8 <= d; l += 8)
      ENCORE_STORE8(b + l, ENCORE_LOAD8(b + l) - zv * ENCORE_LOAD8(ri + l));
    for (; l < d; ++l) b[l] -= z * ri[l];
  }
  for (uint32_t i = d; i-- > 0;) {  // U x = z
    const float* ri = u + uint64_t{i} * st;
    V8 acc = {};
    uint32_t l = i + 1;
    for (; l + 8 <= d; l += 8) acc += ENCORE_LOAD8(ri + l) * ENCORE_LOAD8(x + l);
    float tail = 0;
    for (; l < d; ++l) tail += ri[l] * x[l];
    const float dot =
        ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
    x[i] = (b[i] - dot) / ri[i];
  }
}

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

using AxpyFn = void (*)(float, const float*, float*, uint32_t);

// t_j of rating e: the value, less mu + the fixed side's bias with biases.
inline float Target(const uint32_t* cols, const float* values, uint64_t e,
                    const ExplicitSweepOptions& o) {
  return o.bias != nullptr ? values[e] - (o.global_mean + o.fixed_bias[cols[e]]) : values[e];
}

inline bool AllFinite(const float* v, uint32_t len) {
  for (uint32_t p = 0; p < len; ++p) {
    if (!std::isfinite(v[p])) return false;
  }
  return true;
}

// Exact solve in the dual for a row with fewer ratings than unknowns
// (n < d). With A the n x d matrix of the rows a_j and D the diagonal
// penalty (lambda on the factors, bias_lambda on the bias),
// z = (A'A + D)^-1 A't = D^-1 A' (A D^-1 A' + I)^-1 t (push-through
// identity), so an n x n system replaces the d x d one:
//
//   G w = t,  G = Y Y' + (lambda / bias_lambda) 1 1' + lambda I,
//   x = Y' w,  b = (lambda / bias_lambda) sum_j w_j
//
// (the 1 1' term and b only with biases). Costs n^2 k / 2 + n^3 / 6
// instead of n k^2 / 2 + k^3 / 6. Writes x and *bias only on success.
// REQUIRES: n < ws->d, lambda > 0, and bias_lambda > 0 with biases.
template <class K, AxpyFn Axpy>
bool DualSolve(const uint32_t* cols, const float* values, uint32_t n, const float* fixed,
               uint32_t k, const ExplicitSweepOptions& o, float lambda, float bias_lambda,
               Workspace* ws, float* x, float* bias) {
  const bool biases = o.bias != nullptr;
  const uint32_t st = (n + 7) & ~7u;  // <= ws->s as n < d
  const float ones = biases ? lambda / bias_lambda : 0.0f;
  float* g = ws->sys.data();
  float* t = ws->rhs.data();
  for (uint32_t i = 0; i < n; ++i) {
    const float* yi = fixed + uint64_t{cols[i]} * k;
    float* row = g + uint64_t{i} * st;
    for (uint32_t j = i & ~7u; j < i; ++j) row[j] = 0;
    for (uint32_t j = i; j < n; ++j) row[j] = K::Dot(yi, fixed + uint64_t{cols[j]} * k, k) + ones;
    for (uint32_t j = n; j < st; ++j) row[j] = 0;
    row[i] += lambda;
    t[i] = Target(cols, values, i, o);
  }
  if (!CholeskyUpper<Axpy>(g, n, st)) return false;
  float* w = ws->x.data();
  CholeskySolve(g, n, st, t, w);
  float* z = ws->p.data();
  std::fill(z, z + k, 0.0f);
  float wsum = 0;
  for (uint32_t i = 0; i < n; ++i) {
    K::Axpy(w[i], fixed + uint64_t{cols[i]} * k, z, k);
    wsum += w[i];
  }
  const float b = ones * wsum;
  if (!AllFinite(z, k) || !std::isfinite(b)) return false;
  std::copy(z, z + k, x);
  if (biases) *bias = b;
  return true;
}

// Rows longer than this are unlikely to stay in cache between CG passes, so
// every pass prefetches them (as ials).
constexpr uint64_t kCgPrefetchAgainAbove = 512;


// `steps` conjugate-gradient steps on (A'A + D) z = A't, warm-started from
// the row's current value in x (and *bias) - the method of Takacs, Pilaszy
// & Tikk (2011) that ials uses. The matrix is never formed: a step costs two
// sweeps of k floats per rating (the n dot products q_e = a_e . p, then
// sum_e q_e y_e accumulated in registers by GatherAxpy) where the exact
// solve costs d^2 / 2 per rating for the normal equations and d^3 / 6 for
// their factorisation. Across sweeps the warm
// start carries the solution on, so a few steps per sweep reach the exact
// fit's accuracy (docs/MODELS.md). A non-finite start is reset to zero.
template <class K>
void CgSolve(const uint32_t* cols, const float* values, uint64_t n, const float* fixed, uint32_t k,
             const ExplicitSweepOptions& o, float lambda, float bias_lambda, Workspace* ws,
             float* x, float* bias) {
  const bool biases = o.bias != nullptr;
  float b = biases ? *bias : 0.0f;
  if (!AllFinite(x, k) || !std::isfinite(b)) {
    std::fill(x, x + k, 0.0f);
    b = 0;
  }
  float* r = ws->r.data();
  float* p = ws->p.data();
  float* ap = ws->ap.data();
  float* q = ws->q.data();
  // Each pass over the ratings is two sweeps: q_e = a_e . v for every rating
  // (independent dot products), then sum_e q_e y_e accumulated in registers.
  // r = A't - (A'A + D) z = sum_e (t_e - a_e . z) a_e - D z
  for (uint64_t e = 0; e < std::min(n, vec::kGatherPrefetchAhead); ++e) {
    vec::PrefetchRow(fixed + uint64_t{cols[e]} * k, k);
  }
  float rb = biases ? -bias_lambda * b : 0.0f;
  K::GatherDot(fixed, cols, n, x, q, k, /*prefetch=*/true);
  for (uint64_t e = 0; e < n; ++e) {
    q[e] = Target(cols, values, e, o) - (q[e] + b);
    rb += q[e];
  }
  std::fill(r, r + k, 0.0f);
  K::Axpy(-lambda, x, r, k);
  K::GatherAxpy(fixed, cols, n, q, r, k);
  if (!biases) rb = 0;
  std::copy(r, r + k, p);
  float pb = rb;
  float rs = K::Dot(r, r, k) + rb * rb;
  for (uint32_t step = 0; step < o.cg_steps; ++step) {
    if (!(rs > 1e-20f)) break;
    // ap = (A'A + D) p
    float apb = bias_lambda * pb;
    // The first pass brought short rows into cache; long ones need help.
    K::GatherDot(fixed, cols, n, p, q, k, /*prefetch=*/n > kCgPrefetchAgainAbove);
    for (uint64_t e = 0; e < n; ++e) {
      q[e] += pb;
      apb += q[e];
    }
    std::fill(ap, ap + k, 0.0f);
    K::Axpy(lambda, p, ap, k);
    K::GatherAxpy(fixed, cols, n, q, ap, k);
    if (!biases) apb = 0;
    const float pap = K::Dot(p, ap, k) + pb * apb;
    if (!(pap > 0)) break;
    const float a = rs / pap;
    K::Axpy(a, p, x, k);
    b += a * pb;
    K::Axpy(-a, ap, r, k);
    rb -= a * apb;
    const float rs_new = K::Dot(r, r, k) + rb * rb;
    const float beta = rs_new / rs;
    K::Xpby(r, beta, p, k);  // p = r + beta p
    pb = rb + beta * pb;
    rs = rs_new;
  }
  if (biases) *bias = b;
}

// In conjugate-gradient mode, rows shorter than the unknowns and than this
// many ratings per CG pass ((steps + 1) passes) are solved exactly in the
// dual: there that costs about as much as the passes (n^2 k / 2 against
// 2 n k (steps + 1)) and is exact.
constexpr uint64_t kDualRatingsPerCgPass = 4;

// Solves one row. With o.cg_steps > 0 (and not nonnegative): conjugate
// gradient from the row's current value (CgSolve), or the exact dual solve
// for very short rows. Otherwise exactly: rows with fewer ratings than
// unknowns in the dual (DualSolve); others accumulate the normal equations
// (Gram of the row's fixed factors, blocked; right-hand side; bias column)
// and solve them by float Cholesky. The nonnegative variant and singular
// systems (reg = 0) go to double-precision solvers.
template <class K, GramFn Gram, AxpyFn Axpy>
inline void SolveRowWith(const uint32_t* cols, const float* values, uint64_t n, const float* fixed,
                         uint32_t k, const ExplicitSweepOptions& o, Workspace* ws, float* x,
                         float* bias) {
  const bool biases = o.bias != nullptr;
  if (n == 0) {
    std::fill(x, x + k, 0.0f);
    if (biases) *bias = 0;
    return;
  }
  const double lambda =
      static_cast<double>(o.reg) * (o.scale_by_count ? static_cast<double>(n) : 1.0);
  // The bias's own penalty, scaled like the factors'.
  const double bias_lambda =
      biases && o.bias_reg >= 0
          ? static_cast<double>(o.bias_reg) * (o.scale_by_count ? static_cast<double>(n) : 1.0)
          : lambda;
  const bool dual_ok = !o.nonnegative && n<ws->d&& static_cast<float>(lambda)> 0 &&
                       (!biases || static_cast<float>(bias_lambda) > 0);
  if (o.cg_steps > 0 && !o.nonnegative) {
    if (dual_ok && n <= kDualRatingsPerCgPass * (uint64_t{o.cg_steps} + 1)) {
      if (DualSolve<K, Axpy>(cols, values, static_cast<uint32_t>(n), fixed, k, o,
                             static_cast<float>(lambda), static_cast<float>(bias_lambda), ws, x,
                             bias)) {
        return;
      }
    } else {
      CgSolve<K>(cols, values, n, fixed, k, o, static_cast<float>(lambda),
                 static_cast<float>(bias_lambda), ws, x, bias);
      if (AllFinite(x, k) && (!biases || std::isfinite(*bias))) return;
    }
  } else if (dual_ok) {
    if (DualSolve<K, Axpy>(cols, values, static_cast<uint32_t>(n), fixed, k, o,
                           static_cast<float>(lambda), static_cast<float>(bias_lambda), ws, x,
                           bias)) {
      return;
    }
  }
  const uint32_t kp = ws->kp, d = ws->d, st = ws->s;
  std::fill(ws->sum.begin(), ws->sum.end(), 0.0f);
  std::fill(ws->rhs.begin(), ws->rhs.end(), 0.0f);
  float* rhs = ws->rhs.data();
  float* sum = ws->sum.data();
  float rhs_bias = 0;
  constexpr uint64_t kAhead = 8;  // rows prefetched ahead: they are scattered in memory
  for (uint64_t r = 0; r < std::min(n, kAhead); ++r) {
    const char* p = reinterpret_cast<const char*>(fixed + uint64_t{cols[r]} * k);
    for (uint32_t off = 0; off < k * 4; off += 64) __builtin_prefetch(p + off);
  }
  for (uint64_t begin = 0; begin < n; begin += kGatherRows) {
    const uint32_t m = static_cast<uint32_t>(std::min<uint64_t>(kGatherRows, n - begin));
    for (uint32_t r = 0; r < m; ++r) {
      if (begin + r + kAhead < n) {
        const char* p =
            reinterpret_cast<const char*>(fixed + uint64_t{cols[begin + r + kAhead]} * k);
        for (uint32_t off = 0; off < k * 4; off += 64) __builtin_prefetch(p + off);
      }
      const uint32_t j = cols[begin + r];
      const float* y = fixed + uint64_t{j} * k;
      if (!ws->pad.empty()) {
        float* dst = ws->pad.data() + uint64_t{r} * kp;
        std::copy(y, y + k, dst);  // the padding past k stays zero
        y = dst;
      }
      ws->rows[r] = y;
      float t = values[begin + r];
      if (biases) {
        t -= o.global_mean + o.fixed_bias[j];
        Axpy(1.0f, y, sum, kp);
        rhs_bias += t;
      }
      Axpy(t, y, rhs, kp);
    }
    Gram(ws->rows.data(), m, kp, ws->gram.data(), begin > 0);
  }
  if (biases) rhs[k] = rhs_bias;
  BuildSystem(ws, n, biases, static_cast<float>(lambda), static_cast<float>(bias_lambda));

  if (!o.nonnegative) {
    std::vector<float>& b = ws->x;  // keep rhs for the fallback
    if (CholeskyUpper<Axpy>(ws->sys.data(), d, st)) {
      std::copy(ws->rhs.begin(), ws->rhs.end(), b.begin());
      CholeskySolve(ws->sys.data(), d, st, b.data(), ws->rhs.data());
      bool finite = true;
      for (uint32_t p = 0; p < d; ++p) finite = finite && std::isfinite(ws->rhs[p]);
      if (finite) {
        std::copy(ws->rhs.begin(), ws->rhs.begin() + k, x);
        if (biases) *bias = ws->rhs[k];
        return;
      }
      // Recompute the right-hand side destroyed by the solve.
      std::fill(ws->rhs.begin(), ws->rhs.end(), 0.0f);
      rhs_bias = 0;
      for (uint64_t r = 0; r < n; ++r) {
        const uint32_t j = cols[r];
        float t = values[r];
        if (biases) {
          t -= o.global_mean + o.fixed_bias[j];
          rhs_bias += t;
        }
        for (uint32_t p = 0; p < k; ++p) rhs[p] += t * fixed[uint64_t{j} * k + p];
      }
      if (biases) rhs[k] = rhs_bias;
    }
    // reg = 0 and too few ratings (singular): redo in double below.
    BuildSystem(ws, n, biases, static_cast<float>(lambda), static_cast<float>(bias_lambda));
  }
  Eigen::MatrixXd a(d, d);
  for (uint32_t i = 0; i < d; ++i) {
    for (uint32_t j = i; j < d; ++j) a(i, j) = a(j, i) = ws->sys[uint64_t{i} * st + j];
  }
  Eigen::VectorXd b(d);
  for (uint32_t i = 0; i < d; ++i) b(i) = ws->rhs[i];
  Eigen::VectorXd z;
  if (o.nonnegative) {
    z = Nnls(a, b, static_cast<int>(k));
  } else {
    z = a.ldlt().solve(b);
  }
  for (uint32_t p = 0; p < k; ++p) {
    const double v = z(p);
    x[p] = std::isfinite(v) ? static_cast<float>(v) : 0.0f;
  }
  if (biases) *bias = std::isfinite(z(k)) ? static_cast<float>(z(k)) : 0.0f;
}

using SolveFn = void (*)(const uint32_t*, const float*, uint64_t, const float*, uint32_t,
                         const ExplicitSweepOptions&, Workspace*, float*, float*);

// The AVX-512 build, else the AVX2 + FMA build when the CPU has it (see
// Avx512KernelsEnabled, WideKernelsEnabled), else SSE2. Either has a fixed, thread-independent summation order.
void SolveRowSse2(const uint32_t* cols, const float* values, uint64_t n, const float* fixed,
                  uint32_t k, const ExplicitSweepOptions& o, Workspace* ws, float* x, float* bias) {
  SolveRowWith<vec::Sse2, GramSse2, AxpySse2>(cols, values, n, fixed, k, o, ws, x, bias);
}

#if defined(__x86_64__)
// flatten: the kernels are inlined into one AVX2 function (they cannot be
// inlined into a function compiled for the baseline ISA).
__attribute__((target("avx2,fma"), flatten)) void SolveRowAvx2(
    const uint32_t* cols, const float* values, uint64_t n, const float* fixed, uint32_t k,
    const ExplicitSweepOptions& o, Workspace* ws, float* x, float* bias) {
  SolveRowWith<vec::Avx2, GramAvx2, AxpyAvx2>(cols, values, n, fixed, k, o, ws, x, bias);
}

// The CG passes in AVX-512; the exact solves' Gram and axpy stay AVX2.
__attribute__((target("avx512f,avx512vl,avx2,fma"), flatten)) void SolveRowAvx512(
    const uint32_t* cols, const float* values, uint64_t n, const float* fixed, uint32_t k,
    const ExplicitSweepOptions& o, Workspace* ws, float* x, float* bias) {
  SolveRowWith<vec::Avx512, GramAvx2, AxpyAvx2>(cols, values, n, fixed, k, o, ws, x, bias);
}
#endif

SolveFn ChooseSolve() {
#if defined(__x86_64__)
  if (Avx512KernelsEnabled()) return SolveRowAvx512;
  if (WideKernelsEnabled()) return SolveRowAvx2;
#endif
  return SolveRowSse2;
}

}  // namespace

void ExplicitSolveRow(const uint32_t* cols, const float* values, uint64_t n, const float* fixed,
                      uint32_t k, const ExplicitSweepOptions& options, float* x, float* bias) {
  Workspace ws(k, options.bias != nullptr, n);
  ChooseSolve()(cols, values, n, fixed, k, options, &ws, x, bias);
}

void ExplicitHalfSweep(const CsrMatrix& ratings, const float* fixed, uint32_t k,
                       const ExplicitSweepOptions& options, float* out) {
  ExplicitHalfSweepRows(ratings, 0, ratings.rows, fixed, k, options, out);
}

void ExplicitHalfSweepRows(const CsrMatrix& ratings, uint32_t row_begin, uint32_t row_end,
                           const float* fixed, uint32_t k, const ExplicitSweepOptions& options,
                           float* out) {
  const int64_t first = row_begin, last = row_end;
  uint64_t max_row = 0;
  if (options.cg_steps > 0) {
    for (int64_t r = first; r < last; ++r) max_row = std::max(max_row, ratings.RowLength(r));
  }
#pragma omp parallel num_threads(std::max(1, options.threads))
  {
    Workspace ws(k, options.bias != nullptr, max_row);
    const SolveFn solve = ChooseSolve();
#pragma omp for schedule(dynamic, 16)
    for (int64_t r = first; r < last; ++r) {
      const uint64_t begin = ratings.indptr[r];
      const uint64_t n = ratings.indptr[r + 1] - begin;
      float* bias = options.bias != nullptr ? options.bias + r : nullptr;
      solve(ratings.indices.data() + begin, ratings.values.data() + begin, n, fixed, k, options,
            &ws, out + static_cast<uint64_t>(r) * k, bias);
    }
  }
}

namespace {

class Als final : public FactorModel {
 public:
  explicit Als(const ModelParams& params) : FactorModel(params) {}

  const char* kind() const override { return "als"; }

  Status Fit(const Dataset& data) override {
    // A distributed fit (FitExchange) sums over its owned rows [u0, u1) and
    // solves the rows SolveRows gives each half-sweep.
    uint32_t u0 = 0, u1 = data.by_user.rows, i0 = 0, i1 = data.by_user.cols;
    if (exchange_ != nullptr) {
      std::tie(u0, u1) = exchange_->users();
      std::tie(i0, i1) = exchange_->items();
    }
    double sums[2] = {0, static_cast<double>(data.nnz())};  // values, nonzeros
    for (uint64_t p = data.by_user.indptr[u0]; p < data.by_user.indptr[u1]; ++p) {
      sums[0] += data.by_user.values[p];
    }
    if (exchange_ != nullptr) {
      sums[1] = static_cast<double>(data.by_user.indptr[u1] - data.by_user.indptr[u0]);
      exchange_->Sum(sums, 2);
    }
    if (sums[1] == 0) return Status::InvalidArgument("als: the dataset is empty");
    ENCORE_RETURN_IF_ERROR(params_.Validate());
    RememberSeen(data);
    const uint32_t users = data.by_user.rows, items = data.by_user.cols;
    InitFactors(users, items, params_.biases, params_.nonnegative);
    global_mean_ = static_cast<float>(sums[0] / sums[1]);
    default_prediction_ = global_mean_;

    const int threads = ResolveThreads(params_.threads);
    ExplicitSweepOptions o;
    o.reg = params_.reg;
    o.scale_by_count = params_.reg_scale_by_count;
    o.nonnegative = params_.nonnegative;
    o.global_mean = global_mean_;
    o.cg_steps = params_.solver == Solver::kCg ? params_.cg_steps : 0;
    o.threads = threads;
    for (uint32_t it = 0; it < params_.iterations; ++it) {
      if (has_biases_) {
        o.fixed_bias = item_biases_.data();
        o.bias = user_biases_.data();
        o.bias_reg = params_.reg_user_bias;
      }
      if (exchange_ != nullptr) std::tie(u0, u1) = exchange_->SolveRows(true);
      ExplicitHalfSweepRows(data.by_user, u0, u1, item_factors_.data(), k_, o,
                            user_factors_.data());
      if (exchange_ != nullptr) {
        exchange_->ShareRows(true, user_factors_.data(), k_);
        if (has_biases_) exchange_->ShareRows(true, user_biases_.data(), 1);
      }
      if (has_biases_) {
        o.fixed_bias = user_biases_.data();
        o.bias = item_biases_.data();
        o.bias_reg = params_.reg_item_bias;
      }
      if (exchange_ != nullptr) std::tie(i0, i1) = exchange_->SolveRows(false);
      ExplicitHalfSweepRows(data.by_item, i0, i1, user_factors_.data(), k_, o,
                            item_factors_.data());
      if (exchange_ != nullptr) {
        exchange_->ShareRows(false, item_factors_.data(), k_);
        if (has_biases_) exchange_->ShareRows(false, item_biases_.data(), 1);
      }
      ReportIteration(it + 1, params_.iterations);
    }

    // Cold users under cold_start=popular: mu + b_i with biases, otherwise
    // the item's mean rating damped towards mu (distributed: over the rows
    // of the last item half-sweep, which ShareRows shares).
    if (exchange_ != nullptr) std::tie(i0, i1) = exchange_->SolvedRows(false);
    for (uint32_t i = i0; i < i1; ++i) {
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
    if (exchange_ != nullptr) exchange_->ShareRows(false, cold_user_scores_.data(), 1);
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
    ExplicitSolveRow(cols.data(), values.data(), cols.size(), item_factors_.data(), k_, o, x, bias);
  }

  // The ridge system of SolveFoldIn: z = [x; b_u], a_h = [y_h; 1] and
  // t_h = r_h - mu - b_h with biases (else z = x, a_h = y_h, t_h = r_h),
  // W = sum_h a_h a_h' + lambda (scaled by n with reg_scale_by_count).
  bool FoldInSystem(std::span<const ItemWeight> history, uint32_t item,
                    LinearFoldIn* out) const override {
    const uint32_t k = k_, d = k + (has_biases_ ? 1 : 0);
    const double n = static_cast<double>(history.size());
    const double scale = params_.reg_scale_by_count ? n : 1.0;
    const double lambda = static_cast<double>(params_.reg) * scale;
    const double bias_lambda =
        params_.reg_user_bias >= 0 ? static_cast<double>(params_.reg_user_bias) * scale : lambda;
    out->d = d;
    out->w.assign(uint64_t{d} * d, 0.0);
    for (uint32_t p = 0; p < k; ++p) out->w[uint64_t{p} * d + p] = lambda;
    if (has_biases_) out->w[uint64_t{k} * d + k] = bias_lambda;
    for (const ItemWeight& iw : history) {
      std::vector<double> a(d, 1.0);
      const float* y = item_factors_.data() + uint64_t{iw.item} * k;
      for (uint32_t p = 0; p < k; ++p) a[p] = y[p];
      for (uint32_t r = 0; r < d; ++r) {
        for (uint32_t c = 0; c < d; ++c) out->w[uint64_t{r} * d + c] += a[r] * a[c];
      }
      out->a.push_back(std::move(a));
      out->t.push_back(has_biases_
                           ? static_cast<double>(iw.weight) - global_mean_ - item_biases_[iw.item]
                           : static_cast<double>(iw.weight));
    }
    out->q.assign(d, 1.0);
    const float* yi = item_factors_.data() + uint64_t{item} * k;
    for (uint32_t p = 0; p < k; ++p) out->q[p] = yi[p];
    out->base = has_biases_ ? static_cast<double>(global_mean_) + item_biases_[item] : 0.0;
    out->exact = !params_.nonnegative;
    out->method =
        std::string("als: contribution(h) = t_h q' W^-1 a_h of the ridge fold-in ") +
        (has_biases_ ? "(t_h = r_h - mu - b_h; base = mu + b_i)" : "(t_h = r_h)") +
        (params_.nonnegative ? "; unconstrained, so approximate for nonnegative=true" : "");
    return true;
  }
};

}  // namespace

std::unique_ptr<Recommender> NewAls(const ModelParams& params) {
  return std::make_unique<Als>(params);
}

}  // namespace encore::model
