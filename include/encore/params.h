// ModelParams: every training parameter of every model, declared once.
//
// The parameter table (ModelParamTable) is the single source of truth in the
// LightGBM manner: CLI flags (`encore train --factors 64`), grid specs
// (`--grid 'factors=10,50;reg=0.01,0.1'`), pipeline config keys and the
// parameter docs (docs/PARAMETERS.md, generated) are all derived from it.
// Per-query knobs (how many items, filters) are not here: see QueryOptions in
// recommender.h, so one trained model serves different queries.
//
// Thread-safety: plain values; the table is immutable.

#ifndef ENCORE_PARAMS_H_
#define ENCORE_PARAMS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "encore/status.h"

namespace encore {

enum class Solver { kCg, kCholesky };
enum class ColdStart { kDrop, kPopular };
enum class Similarity { kConditional, kJaccard, kLift, kCosine };
enum class Aggregate { kMax, kSum };

struct ModelParams {
  // Matrix factorisation (als, ials, bpr, svdpp).
  uint32_t factors = 10;     // rank of the factorisation
  uint32_t iterations = 10;  // full sweeps (users then items)
  float reg = 0.1f;          // L2 regularisation (Spark's regParam for als)
  // als: multiply reg by each row's rating count (ALS-WR, Spark's behaviour).
  bool reg_scale_by_count = true;
  bool nonnegative = false;  // als: constrain factors to >= 0 (NNLS)
  bool biases = false;       // als: learn global, user and item biases
  float alpha = 1.0f;        // ials: confidence c = 1 + alpha * r
  // ials: weight of every unobserved (user, item) pair (Hu et al.: 1; the
  // "alpha0" of Rendle et al. 2021). Observed pairs keep confidence c.
  float unobserved_weight = 1.0f;
  // ials: frequency-scaled regularisation (Rendle et al. 2021): a row with
  // n_r interactions gets reg * (n_r + unobserved_weight * N)^reg_exponent,
  // N the size of the other side. 0 = plain reg (Hu et al.).
  float reg_exponent = 0.0f;
  // als with biases, svdpp: L2 penalties of the user and item biases;
  // negative = the same as the factors' (reg, scaled by count like them in
  // als; svdpp's SGD applies every penalty per rating).
  float reg_user_bias = -1.0f;
  float reg_item_bias = -1.0f;
  // svdpp: L2 penalty of the implicit factors y_j, applied once per user
  // visit of an epoch (see docs/MODELS.md); negative = reg.
  float reg_implicit = -1.0f;
  Solver solver = Solver::kCg;  // als, ials: conjugate gradient or exact (als NNLS: exact)
  uint32_t cg_steps = 3;     // als, ials: CG iterations per row per sweep
  float init_scale = 0.01f;  // std-dev of the random initial factors
  ColdStart cold_start = ColdStart::kDrop;  // factor models: users/items unseen in training

  // bpr (Rendle et al. 2009): stochastic gradient ascent on ln sigmoid(s_ui -
  // s_uj); svdpp (Koren 2008): SGD on the squared rating error. Epoch e
  // (0-based) steps with learning_rate * lr_decay^e.
  float learning_rate = 0.05f;
  float lr_decay = 1.0f;  // 1 = constant, as the `implicit` library
  // bpr: skip a sampled negative the user did interact with (implicit's
  // verify_negative_samples); false trusts the sample blindly (faster).
  bool verify_negative_samples = true;

  // ease: L2 penalty (lambda of Steck 2019) on the item x item weights.
  float l2 = 100.0f;
  // ease: refuse to fit when the dense item x item matrices need more.
  uint64_t memory_limit_mb = 8192;
  // ease: items with fewer training users are left out (never recommended).
  uint32_t min_item_users = 1;

  // Item co-occurrence.
  Similarity similarity = Similarity::kConditional;  // cooc(a,b)/count(a) by default
  // How a user's held items combine into a candidate's score: the maximum of
  // score(a->b) (the workbook rule), or the sum of value(u,a) * score(a->b)
  // (item-kNN, as the `implicit` library's item-item recommenders do).
  Aggregate aggregate = Aggregate::kMax;
  uint32_t min_cooccurrence = 1;   // pairs seen together fewer times are ignored
  double half_life_days = 0;       // > 0: weight interactions by recency
  uint32_t neighbors = 0;          // > 0: keep only the top neighbours per item

  // Shared.
  // Default list length of recommend/publish: 0 = the model's own default
  // (20 for cooccurrence, as the workbook keeps, 10 otherwise).
  uint32_t n = 0;
  uint64_t seed = 42;
  int threads = 0;  // 0 = all cores; results are deterministic for a fixed count

  // Checks ranges; messages name the parameter and the valid range.
  Status Validate() const;
};

// One row of the parameter table.
struct ParamInfo {
  const char* name;          // flag and config key: "factors" -> --factors
  const char* type;          // "int", "float", "bool", "enum"
  const char* models;        // which models read it: "als,ials"
  const char* help;          // one line
  std::function<Status(ModelParams*, const std::string&)> set;  // parses and stores
  std::function<std::string(const ModelParams&)> get;           // current value as text
};

const std::vector<ParamInfo>& ModelParamTable();

// The list length to use when a query does not say: params.n, or the model default.
uint32_t DefaultListLength(const ModelParams& params, const std::string& kind);

// Sets parameter `name` from text (e.g. "0.05"). Unknown names and bad
// values are InvalidArgument naming the parameter and what is accepted.
Status SetModelParam(ModelParams* params, const std::string& name, const std::string& value);

// All parameters as (name, value) text pairs, for model files and manifests.
std::vector<std::pair<std::string, std::string>> ModelParamsToList(const ModelParams& params);

}  // namespace encore

#endif  // ENCORE_PARAMS_H_
