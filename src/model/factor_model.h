// FactorModel: the shared base of the matrix-factorisation models (als, ials).
//
// A fitted factor model holds a user factor matrix X (users x k) and an item
// factor matrix Y (items x k), both float32 and row-major, plus optional
// biases (als). The score of item i for user u is
//
//   s(u, i) = x_u . y_i                        without biases
//   s(u, i) = (x_u . y_i + (mu + b_u)) + b_i   with biases
//
// The base implements everything that only needs the factors: dense scoring,
// blocked batch scoring (32 users per kernel call), per-item subset scoring, cosine similar items,
// cold-start handling, fold-in scoring and the model-file state. Subclasses implement Fit and the
// fold-in least-squares step.
//
// Exactness: every score, whether from ScoreItems, Predict, ScoreBatch,
// ScoreFoldIn or ScoreSubset, is computed by the same arithmetic:
// the dot product accumulates x[p] * y[p] in float for p = 0, 1, ..., k-1
// in that order, starting from 0 (the blocked kernel vectorises across
// items, never across p), as a multiply then an add, or as one fused
// multiply-add when the AVX2 kernels are in use (WideKernelsEnabled; the
// AVX-512 batch kernel, Avx512KernelsEnabled, does the same fused
// multiply-adds in the same order, 16 items per register).
// Batch and single-user results are therefore bit-identical whatever the
// block size, block position or thread count.
//
// Cold start: a user (item) is cold when it has no training interactions;
// its factors are zero. The cold_start parameter decides what it gets (see
// docs/MODELS.md):
//  - drop: ScoreItems writes -infinity for every item of a cold user and
//    for cold items, so they are never recommended; CanPredict is false for
//    pairs with a cold side and Predict returns default_prediction()
//    (the training mean rating for als, 0 for ials).
//  - popular: cold users are scored with a per-item popularity baseline
//    (cold_user_scores), cold items with the user's baseline; CanPredict is
//    true.
//
// Thread-safety: as Recommender.

#ifndef ENCORE_MODEL_FACTOR_MODEL_H_
#define ENCORE_MODEL_FACTOR_MODEL_H_

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "encore/params.h"
#include "encore/recommender.h"
#include "util/random.h"

namespace encore::model {

// Distributed fitting (src/distributed): a FactorModel given an exchange
// solves only its share of the rows in each half-sweep and gets the other
// rows through the exchange; without one (the default) Fit is the
// single-process fit, unchanged. Every process must call Fit with the same
// parameters and a Dataset of the full shape (every user and item has a
// row) whose by_user and by_item rows are complete over the rows the
// process holds (its owned block and, for balancing, a margin of its
// neighbours' rows); other rows are never read by the sweeps.
// Implementations abort the job on a communication failure (MPI's default).
class FitExchange {
 public:
  virtual ~FitExchange() = default;
  // The rows this process owns for the whole fit: users [first, second),
  // items [first, second). Sums over the data's rows (counts, ratings) are
  // taken over the owned rows.
  virtual std::pair<uint32_t, uint32_t> users() const = 0;
  virtual std::pair<uint32_t, uint32_t> items() const = 0;
  // An equal-count share of one side's rows, fixed for the fit: the rows of
  // the factors this process adds into a sum over every row (Y^T Y; the
  // factors are replicated by then, so the sums do not depend on who solved
  // which row) and whose initial values it draws.
  virtual std::pair<uint32_t, uint32_t> EqualRows(bool user_side) const = 0;
  // As ShareRows, for every process's EqualRows.
  virtual void ShareEqualRows(bool user_side, float* data, uint32_t width) = 0;
  // The rows this process solves in the coming half-sweep of one side (users
  // when `user_side`): a contiguous range of the rows it holds. The next
  // ShareRows of that side shares exactly these rows. The exchange may move
  // the ranges between half-sweeps to even out the processes' measured
  // solve times: a row's solve reads only the replicated factors and the
  // row itself, so the model does not depend on where it was solved.
  virtual std::pair<uint32_t, uint32_t> SolveRows(bool user_side) = 0;
  // The range of the last SolveRows of that side (before any: the owned rows).
  virtual std::pair<uint32_t, uint32_t> SolvedRows(bool user_side) const = 0;
  // Sums `n` doubles element-wise over all processes, in place.
  virtual void Sum(double* values, size_t n) = 0;
  // `data` holds `width` floats per row of the user (item) side; afterwards
  // every process holds every process's SolvedRows of that side.
  virtual void ShareRows(bool user_side, float* data, uint32_t width) = 0;
};

class FactorModel : public Recommender {
 public:
  uint32_t factors() const { return k_; }
  // See FitExchange; nullptr (the default) fits on one process. The exchange
  // must outlive Fit.
  void set_fit_exchange(FitExchange* exchange) { exchange_ = exchange; }
  // Row-major num_users() x factors() and num_items() x factors().
  const std::vector<float>& user_factors() const { return user_factors_; }
  const std::vector<float>& item_factors() const { return item_factors_; }
  bool has_biases() const { return has_biases_; }
  float global_mean() const { return global_mean_; }
  // Empty without biases.
  const std::vector<float>& user_biases() const { return user_biases_; }
  const std::vector<float>& item_biases() const { return item_biases_; }

  std::optional<FactorView> Factors() const override {
    if (k_ == 0 || item_factors_.empty()) return std::nullopt;
    return FactorView{k_, user_factors_.data(), item_factors_.data()};
  }
  void ScoreItems(uint32_t user, float* scores) const override;
  float Predict(uint32_t user, uint32_t item) const override;
  bool CanPredict(uint32_t user, uint32_t item) const override;
  void ScoreBatch(std::span<const uint32_t> users, float* out) const override;
  uint32_t batch_block() const override;
  SliceShape slice_shape() const override;
  void ScoreBatchSlice(std::span<const uint32_t> users, uint32_t begin, uint32_t end, float* out,
                       size_t ld) const override;
  void ScoreSubset(uint32_t user, std::span<const uint32_t> items, float* scores) const override;
  bool has_subset_scoring() const override { return true; }
  Status ScoreFoldIn(std::span<const ItemWeight> items, float* scores) const override;
  Status ScoreFoldInSubset(std::span<const ItemWeight> items, std::span<const uint32_t> subset,
                           float* scores) const override;
  Status SimilarItems(uint32_t item, uint32_t n, std::vector<ScoredItem>* out) const override;
  void SaveState(ModelWriter* w) const override;
  Status LoadState(ModelReader* r) override;

  // Embeddings: q = x_u and v = y_i, or [x_u; 1] and [y_i; b_i] with biases
  // (the user offset mu + b_u is the same for every item).
  uint32_t embedding_dim() const override { return k_ + (has_biases_ ? 1 : 0); }
  void ItemEmbedding(uint32_t item, float* out) const override;
  bool UserEmbedding(uint32_t user, float* out) const override;
  Result<bool> FoldInEmbedding(std::span<const ItemWeight> items, float* out) const override;
  uint32_t similarity_dim() const override { return k_; }
  // From FoldInSystem: contribution(h) = t_h * a_h' W^-1 q (src/model/explain.cc).
  Status ExplainScore(std::span<const ItemWeight> history, uint32_t item,
                      Explanation* out) const override;

 protected:
  explicit FactorModel(const ModelParams& params) : Recommender(params) {}

  // The fold-in step of a history as a linear system, for explanations: the
  // visitor's factors are z = W^-1 sum_h t_h a_h, and the score of `item` is
  // q . z + base.
  struct LinearFoldIn {
    uint32_t d = 0;                      // size of z
    std::vector<double> w;               // d x d, row-major, symmetric positive definite
    std::vector<std::vector<double>> a;  // a_h per history item (d each)
    std::vector<double> t;               // t_h per history item
    std::vector<double> q;               // d
    double base = 0;
    bool exact = true;
    std::string method;
  };
  // False when the model cannot say (ExplainScore then fails).
  // REQUIRES: indices checked; history not empty.
  virtual bool FoldInSystem(std::span<const ItemWeight>, uint32_t, LinearFoldIn*) const {
    return false;
  }

  // Solves the factor (and, with biases, the bias) of a visitor described by
  // `items` with the model's own least-squares step. `x` has factors()
  // entries; `bias` is written only when has_biases(). Item indices are
  // already checked; `items` is not empty.
  virtual void SolveFoldIn(std::span<const ItemWeight> items, float* x, float* bias) const = 0;

  // Called at the end of Fit and LoadState, after the base's derived state
  // is rebuilt; subclasses cache what queries need (e.g. ials's YtY).
  virtual void OnFactorsReady() {}

  // Fit helpers. Sets the shapes of the factor matrices (and biases) and
  // fills the factors with N(0, init_scale^2) values from a splitmix64 /
  // Box-Muller generator seeded by params().seed; nonnegative takes |.|.
  void InitFactors(uint32_t users, uint32_t items, bool biases, bool nonnegative);
  // Call at the end of Fit, after RememberSeen and the factors: builds the
  // packed item panels, item norms and cold-start lists, then calls
  // OnFactorsReady.
  void FinishFit() {
    BuildDerived();
    OnFactorsReady();
  }

  uint32_t k_ = 0;
  std::vector<float> user_factors_;
  std::vector<float> item_factors_;
  bool has_biases_ = false;
  float global_mean_ = 0;
  std::vector<float> user_biases_;
  std::vector<float> item_biases_;
  // cold_start=popular: the score of every item for a cold user.
  std::vector<float> cold_user_scores_;
  // Predict for a pair the model cannot score under cold_start=drop, and the
  // score of a cold item for a user without a bias under cold_start=popular.
  float default_prediction_ = 0;
  // Set for a distributed fit (see FitExchange).
  FitExchange* exchange_ = nullptr;

 private:
  void BuildDerived();
  // Scores all items for `rows` users whose factors are rows of `x` (stride
  // k_) and whose user offsets (mu + b_u) are `offsets` (ignored without
  // biases); out row r starts at out + r * num_items().
  void ScoreRows(const float* x, const float* offsets, uint32_t rows, float* out) const;
  // The same for items [begin, end) only (begin a multiple of 16): out row r
  // starts at out + r * ld and holds end - begin scores.
  void ScoreRowRange(const float* x, const float* offsets, uint32_t rows, uint32_t begin,
                     uint32_t end, float* out, size_t ld) const;
  // The score of one item, the same bits as ScoreRows.
  float ScoreOne(const float* x, float offset, uint32_t item) const;
  // Overwrites the cold-item scores of items [begin, end) of a warm user's
  // (or visitor's) score row; scores[0] is item begin's.
  void ApplyColdItems(float user_offset, uint32_t begin, uint32_t end, float* scores) const;
  // A cold user's scores of items [begin, end); scores[0] is item begin's.
  void ScoreColdUser(uint32_t begin, uint32_t end, float* scores) const;
  float UserOffset(uint32_t user) const {
    return has_biases_ ? global_mean_ + user_biases_[user] : 0.0f;
  }
  bool UserIsCold(uint32_t user) const { return seen_.RowLength(user) == 0; }

  // Derived (rebuilt after Fit and Load, never saved).
  bool wide_kernels_ = false;    // AVX2 + FMA scoring (see WideKernelsEnabled)
  bool avx512_kernels_ = false;  // AVX-512 scoring (see Avx512KernelsEnabled)
  // Panels of 8 items (16 with the AVX-512 kernel), k-major inside a panel.
  std::vector<float> packed_items_;
  std::vector<float> item_norms_;
  std::vector<uint8_t> item_cold_;
  std::vector<uint32_t> cold_items_;
};

// Whether the AVX2 + FMA kernels are used: on x86-64 CPUs that have them
// (checked at run time; the build stays portable, no -march), unless
// disabled for testing. Scoring then accumulates with fused multiply-adds, so
// scores differ in the last bits between machines with and without AVX2,
// but every path on one machine still agrees exactly. A model picks its
// scoring kernel when fitted or loaded; ials sweeps pick theirs per call.
bool WideKernelsEnabled();
// For tests: forces the portable SSE2 kernels (true) or restores the choice.
void DisableWideKernelsForTesting(bool disable);

// Whether the AVX-512 kernels are used: on x86-64 CPUs with AVX-512F/VL
// (checked at run time), when WideKernelsEnabled and not disabled for
// testing. The batch scoring kernel (ScoreItems, ScoreBatch, ScoreFoldIn;
// chosen when a model is fitted or loaded) does the same fused
// multiply-adds in the same order as the AVX2 kernel, 16 items per register
// instead of 8, so its scores are bit-identical to the AVX2 kernel's; the
// training kernels (ials and als CG, model/vec_kernels.h) agree with the
// AVX2 ones to float rounding.
bool Avx512KernelsEnabled();
// Whether this CPU (and build) has the AVX-512 kernel at all.
bool Avx512KernelsSupported();
// For tests: forces the AVX2 kernel where AVX-512 would be used (true) or
// restores the choice.
void DisableAvx512KernelsForTesting(bool disable);

// Elements [begin, end) of the `size` N(0, scale^2) draws (Box-Muller, in
// pairs; |z| with `absolute`) of the stream that starts at `rng`, written to
// v[begin, end): the same values whichever range is asked for, so
// processes can each fill a share of one vector.
void FillNormalRange(SplitMix64 rng, float scale, bool absolute, size_t size, size_t begin,
                     size_t end, float* v);
// Draws FillNormalRange consumes over a whole `size`-element vector.
uint64_t NormalDraws(size_t size);

// The widest kernel family this process uses: 0 the portable SSE2 kernels,
// 1 AVX2 + FMA, 2 AVX-512.
int KernelLevel();
// Uses no kernel wider than `level` from now on (models pick their kernels
// when fitted or loaded). A distributed fit caps every rank at the lowest
// level over its ranks, so a row's factors do not depend on which node
// solved it.
void CapKernelLevel(int level);

// ---------------------------------------------------------------------------
// Solvers, exposed for the models and their tests.

// One half-sweep of explicit ALS over the rows of `ratings` (rows x cols):
// with `fixed` (cols x k) held constant, row r's factor x (and bias b) solve
//
//   (sum_j a_j a_j^T + reg * n_r * I) z = sum_j a_j t_j      (scaled)
//   (sum_j a_j a_j^T + reg * I) z = sum_j a_j t_j            (unscaled)
//
// over the row's n_r nonzeros, where a_j = y_j (or [y_j; 1] and z = [x; b]
// with biases) and t_j = r_j (or r_j - mu - fixed_bias_j with biases).
// Nonnegative constrains x (not b) to >= 0 by an active-set NNLS. Empty rows
// get zero factors and bias.
//
// Exact (cg_steps = 0): rows with fewer ratings than unknowns are solved in
// the dual (an n_r x n_r system), others by the normal equations, formed and
// factored in float (double-precision LDLT when not positive definite, and
// for NNLS). Conjugate gradient (cg_steps > 0, ignored with nonnegative):
// cg_steps steps per row warm-started from the row's current value in `out`
// (and `bias`), never forming the matrix; rows of at most 4 * (cg_steps + 1)
// ratings and fewer than the unknowns are still solved exactly in the dual.
// Either way a row's result does not depend on the thread count.
struct ExplicitSweepOptions {
  float reg = 0.1f;
  bool scale_by_count = true;
  bool nonnegative = false;
  // With biases: both non-null; global_mean is subtracted from every value.
  const float* fixed_bias = nullptr;  // per column of `ratings`
  float* bias = nullptr;              // per row of `ratings`, written
  float global_mean = 0;
  // With biases: the bias's own penalty (scaled by the row's count like reg
  // when scale_by_count); negative = reg, like the factors.
  float bias_reg = -1.0f;
  // 0 = exact; else conjugate-gradient steps per row (see above).
  uint32_t cg_steps = 0;
  int threads = 1;
};
void ExplicitHalfSweep(const CsrMatrix& ratings, const float* fixed, uint32_t k,
                       const ExplicitSweepOptions& options, float* out);
// The same for rows [row_begin, row_end) only (distributed fits).
void ExplicitHalfSweepRows(const CsrMatrix& ratings, uint32_t row_begin, uint32_t row_end,
                           const float* fixed, uint32_t k, const ExplicitSweepOptions& options,
                           float* out);

// Explicit least squares for one row given as (index, value) pairs; the
// building block of ExplicitHalfSweep and als fold-in. `x` receives k
// values, `*bias` one when options.bias is set (options.bias itself is not
// written).
void ExplicitSolveRow(const uint32_t* cols, const float* values, uint64_t n, const float* fixed,
                      uint32_t k, const ExplicitSweepOptions& options, float* x, float* bias);

// One half-sweep of implicit ALS (Hu, Koren & Volinsky 2008): for every row
// r of `interactions`, with preference p = [v > 0] and confidence
// c = 1 + alpha * |v| per nonzero, solves
//
//   (Y^T Y + reg * I + sum_i (c_i - 1) y_i y_i^T) x = sum_i c_i p_i y_i
//
// exactly (Cholesky) or by `cg_steps` conjugate-gradient steps warm-started
// from the row's current value in `out` (Takacs et al. 2011), never forming
// the matrix. Empty rows get zero factors. Y^T Y is computed once per call
// from `fixed` (fixed_rows x k).
struct ImplicitSweepOptions {
  float reg = 0.1f;
  float alpha = 1.0f;
  Solver solver = Solver::kCg;
  uint32_t cg_steps = 3;
  // Revisiting iALS (Rendle et al. 2021): the weight w0 of unobserved pairs
  // (G = w0 Y^T Y, observed pairs weigh c) and frequency-scaled
  // regularisation, reg * (n_r + w0 * fixed_rows)^reg_exponent per row
  // (0 = plain reg). Defaults give Hu et al. exactly.
  float unobserved_weight = 1.0f;
  float reg_exponent = 0.0f;
  int threads = 1;
};
void ImplicitHalfSweep(const CsrMatrix& interactions, const float* fixed, uint32_t fixed_rows,
                       uint32_t k, const ImplicitSweepOptions& options, float* out);

// scale * Y^T Y + reg * I (k x k, row-major), deterministic for any thread count.
std::vector<float> RegularisedGram(const float* factors, uint32_t rows, uint32_t k, float reg,
                                   int threads, float scale = 1.0f);
// The two halves of RegularisedGram, for distributed fits: the unscaled sum
// of y y^T over rows [begin, end) in double (k x k, column-major, lower
// triangle valid), which processes add up, and the scaled, regularised float
// matrix made from the total. RegularisedGram(f, rows, ...) is
// FinishGram(GramSum(f, 0, rows, ...), ...) exactly.
std::vector<double> GramSum(const float* factors, uint32_t begin, uint32_t end, uint32_t k,
                            int threads);
std::vector<float> FinishGram(const std::vector<double>& sum, uint32_t k, float reg, float scale);
// ImplicitHalfSweep over rows [row_begin, row_end) of `interactions` with a
// given Gram matrix `g` (as RegularisedGram(fixed, fixed_rows, k, uniform reg,
// threads, unobserved_weight)).
void ImplicitHalfSweepRows(const CsrMatrix& interactions, uint32_t row_begin, uint32_t row_end,
                           const float* fixed, uint32_t fixed_rows, uint32_t k,
                           const ImplicitSweepOptions& options, const float* g, float* out);

// The implicit-ALS objective: sum over all (u, i) of c_ui (p_ui - x_u.y_i)^2
// + reg * (|X|^2 + |Y|^2), in double. For tests and diagnostics.
double ImplicitLoss(const CsrMatrix& interactions, const float* x, const float* y, uint32_t k,
                    float reg, float alpha);

}  // namespace encore::model

#endif  // ENCORE_MODEL_FACTOR_MODEL_H_
