// The parameter table: one entry per training parameter (see encore/params.h).

#include "encore/params.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include "encore/defaults.h"

namespace encore {

namespace {

Status BadValue(const char* name, const std::string& value, const std::string& expected) {
  return Status::InvalidArgument("parameter '" + std::string(name) + "': '" + value +
                                 "' is not " + expected);
}

template <typename T>
Status ParseUnsigned(const char* name, const std::string& v, T* out) {
  uint64_t x;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size() || x > std::numeric_limits<T>::max()) {
    return BadValue(name, v, "a non-negative integer");
  }
  *out = static_cast<T>(x);
  return Status::OK();
}

Status ParseInt(const char* name, const std::string& v, int* out) {
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
  if (ec != std::errc() || p != v.data() + v.size()) return BadValue(name, v, "an integer");
  return Status::OK();
}

// Parses in the field's own type (strtof for float), so the shortest text
// Real() writes reads back as the very same value, and a value beyond the
// type's range is rejected rather than becoming infinity.
template <typename T>
Status ParseReal(const char* name, const std::string& v, T* out) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  char* end = nullptr;
  T x;
  if constexpr (std::is_same_v<T, float>) {
    x = std::strtof(v.c_str(), &end);
  } else {
    x = std::strtod(v.c_str(), &end);
  }
  if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(x)) {
    return BadValue(name, v, "a finite number");
  }
  *out = x;
  return Status::OK();
}

Status ParseBool(const char* name, const std::string& v, bool* out) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") {
    *out = true;
  } else if (v == "false" || v == "0" || v == "no" || v == "off") {
    *out = false;
  } else {
    return BadValue(name, v, "true or false");
  }
  return Status::OK();
}

// The shortest text that reads back (ParseReal) as exactly `v`: model files
// keep parameters as text, and save -> load must not round them.
template <typename T>
std::string Real(T v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ec == std::errc() ? end : buf);
}

const char* SolverName(Solver s) { return s == Solver::kCg ? "cg" : "cholesky"; }
const char* ColdStartName(ColdStart c) { return c == ColdStart::kDrop ? "drop" : "popular"; }
const char* SimilarityName(Similarity s) {
  switch (s) {
    case Similarity::kConditional: return "conditional";
    case Similarity::kJaccard: return "jaccard";
    case Similarity::kLift: return "lift";
    case Similarity::kCosine: return "cosine";
  }
  return "?";
}

#define ENCORE_UINT_PARAM(field, models, help)                                        \
  ParamInfo {                                                                         \
    #field, "int", models, help,                                                      \
        [](ModelParams* p, const std::string& v) { return ParseUnsigned(#field, v, &p->field); }, \
        [](const ModelParams& p) { return std::to_string(p.field); }                  \
  }
#define ENCORE_REAL_PARAM(field, models, help)                                        \
  ParamInfo {                                                                         \
    #field, "float", models, help,                                                    \
        [](ModelParams* p, const std::string& v) { return ParseReal(#field, v, &p->field); }, \
        [](const ModelParams& p) { return Real(p.field); }                            \
  }
#define ENCORE_BOOL_PARAM(field, models, help)                                        \
  ParamInfo {                                                                         \
    #field, "bool", models, help,                                                     \
        [](ModelParams* p, const std::string& v) { return ParseBool(#field, v, &p->field); }, \
        [](const ModelParams& p) { return std::string(p.field ? "true" : "false"); }  \
  }

}  // namespace

const std::vector<ParamInfo>& ModelParamTable() {
  static const std::vector<ParamInfo> kTable = {
      ENCORE_UINT_PARAM(factors, "als,ials,bpr,svdpp",
                        "Rank of the factorisation (Spark: rank; bpr: the last one is the item bias)"),
      ENCORE_UINT_PARAM(iterations, "als,ials,bpr,svdpp",
                        "Alternating sweeps (Spark: maxIter); bpr: epochs of nnz samples; "
                        "svdpp: SGD epochs"),
      ENCORE_REAL_PARAM(reg, "als,ials,bpr,svdpp",
                        "L2 regularisation (Spark: regParam; ials: lambda of Hu et al.; "
                        "svdpp: of p, q, y)"),
      ENCORE_REAL_PARAM(learning_rate, "bpr,svdpp",
                        "SGD step size of the first epoch (svdpp: try 0.005-0.01)"),
      ENCORE_REAL_PARAM(lr_decay, "bpr,svdpp",
                        "Step size of epoch e: learning_rate * lr_decay^e (1 = constant)"),
      ENCORE_BOOL_PARAM(verify_negative_samples, "bpr",
                        "Skip sampled negatives the user interacted with (as implicit)"),
      ENCORE_BOOL_PARAM(reg_scale_by_count, "als",
                        "Scale reg by each row's rating count (ALS-WR, as Spark does)"),
      ENCORE_BOOL_PARAM(nonnegative, "als", "Constrain factors to be non-negative (NNLS)"),
      ENCORE_BOOL_PARAM(biases, "als", "Learn global, user and item biases"),
      ENCORE_REAL_PARAM(alpha, "ials", "Confidence scale: c = 1 + alpha * r"),
      ENCORE_REAL_PARAM(unobserved_weight, "ials",
                        "Weight of unobserved pairs (alpha0 of Rendle et al.; 1 = Hu et al.)"),
      ENCORE_REAL_PARAM(reg_exponent, "ials",
                        "Frequency-scaled reg: reg * (n_r + unobserved_weight * N)^x (0 = off)"),
      ENCORE_REAL_PARAM(reg_user_bias, "als,svdpp",
                        "L2 penalty of user biases (negative = as reg, scaled like it; "
                        "svdpp: per rating)"),
      ENCORE_REAL_PARAM(reg_item_bias, "als,svdpp",
                        "L2 penalty of item biases (negative = as reg, scaled like it; "
                        "svdpp: per rating)"),
      ENCORE_REAL_PARAM(reg_implicit, "svdpp",
                        "L2 penalty of the implicit factors y_j, once per user per epoch "
                        "(negative = reg)"),
      ENCORE_REAL_PARAM(l2, "ease", "L2 penalty lambda on the item x item weights (Steck 2019)"),
      ENCORE_UINT_PARAM(memory_limit_mb, "ease",
                        "Refuse to fit when the dense item x item matrices need more (MiB)"),
      ENCORE_UINT_PARAM(min_item_users, "ease",
                        "Leave out items with fewer training users (they are never recommended)"),
      ParamInfo{"solver", "enum", "als,ials",
                "Least-squares row solver: cg (warm-started conjugate gradient) | cholesky (exact)",
                [](ModelParams* p, const std::string& v) {
                  if (v == "cg") p->solver = Solver::kCg;
                  else if (v == "cholesky") p->solver = Solver::kCholesky;
                  else return BadValue("solver", v, "cg or cholesky");
                  return Status::OK();
                },
                [](const ModelParams& p) { return std::string(SolverName(p.solver)); }},
      ENCORE_UINT_PARAM(cg_steps, "als,ials", "Conjugate-gradient steps per row per sweep"),
      ENCORE_REAL_PARAM(init_scale, "als,ials,bpr,svdpp",
                        "Standard deviation of the initial factors"),
      ParamInfo{"cold_start", "enum", "als,ials,bpr,ease,svdpp",
                "Users or items unknown at prediction time: drop | popular",
                [](ModelParams* p, const std::string& v) {
                  if (v == "drop") p->cold_start = ColdStart::kDrop;
                  else if (v == "popular") p->cold_start = ColdStart::kPopular;
                  else return BadValue("cold_start", v, "drop or popular");
                  return Status::OK();
                },
                [](const ModelParams& p) { return std::string(ColdStartName(p.cold_start)); }},
      ParamInfo{"similarity", "enum", "cooccurrence",
                "conditional (cooc(a,b)/count(a)) | jaccard | lift | cosine",
                [](ModelParams* p, const std::string& v) {
                  if (v == "conditional") p->similarity = Similarity::kConditional;
                  else if (v == "jaccard") p->similarity = Similarity::kJaccard;
                  else if (v == "lift") p->similarity = Similarity::kLift;
                  else if (v == "cosine") p->similarity = Similarity::kCosine;
                  else return BadValue("similarity", v, "conditional, jaccard, lift or cosine");
                  return Status::OK();
                },
                [](const ModelParams& p) { return std::string(SimilarityName(p.similarity)); }},
      ParamInfo{"aggregate", "enum", "cooccurrence",
                "Combine the user's items: max (the workbook) | sum (item-kNN, value-weighted)",
                [](ModelParams* p, const std::string& v) {
                  if (v == "max") p->aggregate = Aggregate::kMax;
                  else if (v == "sum") p->aggregate = Aggregate::kSum;
                  else return BadValue("aggregate", v, "max or sum");
                  return Status::OK();
                },
                [](const ModelParams& p) {
                  return std::string(p.aggregate == Aggregate::kMax ? "max" : "sum");
                }},
      ENCORE_UINT_PARAM(min_cooccurrence, "cooccurrence",
                        "Ignore item pairs held together by fewer users"),
      ENCORE_REAL_PARAM(half_life_days, "cooccurrence",
                        "Weight interactions by recency with this half-life (0 = off)"),
      ENCORE_UINT_PARAM(neighbors, "cooccurrence",
                        "Keep only this many most similar items per item (0 = all)"),
      ENCORE_UINT_PARAM(n, "all",
                        "Default list length of recommend (0 = 20 for cooccurrence, else 10)"),
      ENCORE_UINT_PARAM(seed, "als,ials,bpr,svdpp",
                        "Random seed of the initial factors (bpr: and the samples; "
                        "svdpp: and the order)"),
      ParamInfo{"threads", "int", "all", "Threads (0 = all cores)",
                [](ModelParams* p, const std::string& v) { return ParseInt("threads", v, &p->threads); },
                [](const ModelParams& p) { return std::to_string(p.threads); }},
  };
  return kTable;
}

Result<DefaultsPreset> ParseDefaultsPreset(const std::string& text) {
  if (text == "encore") return DefaultsPreset::kEncore;
  if (text == "spark") return DefaultsPreset::kSpark;
  return Status::InvalidArgument("defaults: '" + text +
                                 "' is not a preset; use encore (each model's measured "
                                 "defaults, docs/QUALITY.md) or spark (Spark's values)");
}

const char* DefaultsPresetName(DefaultsPreset preset) {
  return preset == DefaultsPreset::kSpark ? "spark" : "encore";
}

// Evidence for every row: docs/QUALITY.md, "Defaults".
const std::vector<KindDefault>& KindDefaultTable() {
  static const std::vector<KindDefault> kTable = {
      // als (explicit ratings): the nested choice of every outer fold on
      // ml-latest-small (5-fold CV, 10 and 30 trials).
      {"als", "factors", "32"},
      {"als", "iterations", "15"},
      {"als", "reg", "0.157"},
      {"als", "biases", "true"},
      {"als", "reg_user_bias", "0.0112"},
      {"als", "reg_item_bias", "0.326"},
      // svdpp (explicit ratings): the hand setting that matches nested tuning
      // on ml-latest-small (0.8439 against 0.8441).
      {"svdpp", "factors", "128"},
      {"svdpp", "iterations", "40"},
      {"svdpp", "learning_rate", "0.007"},
      {"svdpp", "lr_decay", "0.96"},
      {"svdpp", "init_scale", "0.05"},
      {"svdpp", "reg", "0.05"},
      {"svdpp", "reg_implicit", "2"},
      {"svdpp", "reg_user_bias", "0.01"},
      {"svdpp", "reg_item_bias", "0.3"},
  };
  return kTable;
}

ModelParams DefaultParams(const std::string& kind, DefaultsPreset preset) {
  ModelParams p;
  if (preset == DefaultsPreset::kSpark) return p;
  for (const KindDefault& d : KindDefaultTable()) {
    if (kind != d.kind) continue;
    Status s = SetModelParam(&p, d.param, d.value);
    (void)s;  // the table's values are checked by tests (ParamsDefaults.*)
  }
  return p;
}

uint32_t DefaultListLength(const ModelParams& params, const std::string& kind) {
  if (params.n > 0) return params.n;
  return kind == "cooccurrence" ? 20 : 10;
}

Status SetModelParam(ModelParams* params, const std::string& name, const std::string& value) {
  for (const ParamInfo& info : ModelParamTable()) {
    if (name == info.name) return info.set(params, value);
  }
  std::string known;
  for (const ParamInfo& info : ModelParamTable()) {
    known += std::string(known.empty() ? "" : ", ") + info.name;
  }
  return Status::InvalidArgument("unknown parameter '" + name + "'; known: " + known);
}

std::vector<std::pair<std::string, std::string>> ModelParamsToList(const ModelParams& params) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const ParamInfo& info : ModelParamTable()) out.emplace_back(info.name, info.get(params));
  return out;
}

Status ModelParams::Validate() const {
  auto bad = [](const std::string& m) { return Status::InvalidArgument(m); };
  if (factors == 0 || factors > 4096) return bad("factors must be in 1..4096");
  if (iterations > 10000) return bad("iterations must be at most 10000");
  if (!(reg >= 0)) return bad("reg must be >= 0");
  if (!(alpha >= 0)) return bad("alpha must be >= 0");
  if (!(unobserved_weight > 0)) return bad("unobserved_weight must be > 0");
  if (!(reg_exponent >= 0 && reg_exponent <= 2)) return bad("reg_exponent must be in 0..2");
  if (!(l2 >= 0)) return bad("l2 must be >= 0");
  if (memory_limit_mb == 0) return bad("memory_limit_mb must be > 0");
  if (cg_steps == 0 || cg_steps > 1000) return bad("cg_steps must be in 1..1000");
  if (!(init_scale > 0)) return bad("init_scale must be > 0");
  if (!(learning_rate > 0)) return bad("learning_rate must be > 0");
  if (!(lr_decay > 0 && lr_decay <= 1)) return bad("lr_decay must be in (0, 1]");
  if (!(half_life_days >= 0)) return bad("half_life_days must be >= 0");
  if (threads < 0) return bad("threads must be >= 0");
  return Status::OK();
}

}  // namespace encore
