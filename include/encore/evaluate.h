// Evaluation: train/test splits, accuracy and ranking metrics, k-fold
// cross-validation, parameter grids, and a bias baseline for explicit data.
//
//   Dataset ──HoldoutSplit / KFoldSplit──▶ FoldAssignment (a fold per nonzero)
//           ──MakeTrainTest(fold f)──────▶ train Dataset + test matrix
//           ──Evaluate(kind, params)─────▶ EvalReport (one value per Metric)
//   CrossValidate: every fold, then mean and standard deviation.
//   GridSearch: CrossValidate for each point of a parameter grid, and the best.
//
// Every metric is defined exactly in docs/METRICS.md. Splits are seeded and
// deterministic: the same data, options and seed give the same assignment on
// every machine and thread count (encore's own generator; never std::
// distributions, whose output differs between standard libraries). Metric
// values do not depend on the thread count either (sums in a fixed order).
//
// Ownership: results are plain values. A TrainTest owns copies of the
// dataset's dictionaries, so a model fitted on it stands alone.
// Thread-safety: functions are reentrant; they use OpenMP internally
// (EvalOptions::threads / ModelParams::threads).

#ifndef ENCORE_EVALUATE_H_
#define ENCORE_EVALUATE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "encore/dataset.h"
#include "encore/params.h"
#include "encore/recommender.h"
#include "encore/status.h"

namespace encore {

// ---------------------------------------------------------------- splits

// Fold label of a nonzero that is in training in every fold (e.g. a user
// with too few interactions to hold any out, see SplitOptions::min_train).
inline constexpr uint8_t kTrainOnly = 0xFF;
// Most folds a FoldAssignment can hold.
inline constexpr uint32_t kMaxFolds = 100;

// Which fold each nonzero of a dataset belongs to. Fold f's test set is the
// nonzeros labelled f; its training set is every other nonzero. A holdout
// split is the one-fold case: label 0 = test, kTrainOnly = train.
struct FoldAssignment {
  uint32_t folds = 0;
  std::vector<uint8_t> fold;  // per nonzero of data.by_user, in CSR order

  // Nonzeros labelled `f` (kTrainOnly counts those never tested).
  uint64_t Count(uint8_t f) const;
};

enum class SplitMethod {
  kRandom,  // a random fraction of all nonzeros
  kUser,    // per user: a random fraction, or k, of each user's nonzeros
  kTime,    // by time: a global cutoff (time or quantile) or each user's last k
};
// "random", "user" or "time".
Result<SplitMethod> ParseSplitMethod(const std::string& name);
const char* SplitMethodName(SplitMethod method);

struct SplitOptions {
  SplitMethod method = SplitMethod::kRandom;
  // random: the fraction of nonzeros held out (round(f * nnz) of them).
  // user: the fraction of each user's nonzeros (round(f * n_u)).
  // time without cutoff or leave_k: the fraction of nonzeros, latest first
  // (a global time quantile). In (0, 1).
  double test_fraction = 0.2;
  // user / time: hold out exactly this many nonzeros per user (random ones,
  // or the latest by time) instead of a fraction. 0 = use test_fraction.
  uint32_t leave_k = 0;
  // user / time per user: a user is split only when at least this many of
  // its nonzeros stay in training; other users stay entirely in training.
  uint32_t min_train = 1;
  // time: nonzeros at or after this unix time are the test set.
  std::optional<int64_t> cutoff;
  uint64_t seed = 42;
  int threads = 0;  // 0 = all cores; never changes the split
};

// A one-fold assignment (label 0 = test). Fails with InvalidArgument on bad
// options (fraction outside (0, 1), cutoff or leave_k with the wrong method),
// and FailedPrecondition for a time split of a dataset without times.
Result<FoldAssignment> HoldoutSplit(const Dataset& data, const SplitOptions& options);

struct FoldOptions {
  uint32_t folds = 5;  // 2 .. kMaxFolds
  // false: the nonzeros are dealt into folds at random, sizes differing by at
  // most one. true: each user's nonzeros are dealt into the folds (from a
  // random fold onwards), so every user with >= folds nonzeros is tested in
  // every fold; users who would keep fewer than min_train training nonzeros
  // in some fold stay entirely in training.
  bool per_user = false;
  uint32_t min_train = 1;
  uint64_t seed = 42;
  int threads = 0;  // 0 = all cores; never changes the folds
};
Result<FoldAssignment> KFoldSplit(const Dataset& data, const FoldOptions& options);

// One fold materialised: the model trains on `train` and is scored on `test`.
struct TrainTest {
  Dataset train;   // same users and items (cloned dictionaries) as the source
  CsrMatrix test;  // users x items, the held-out nonzeros with their values
};
// REQUIRES: assignment.fold.size() == data.nnz(), fold < assignment.folds.
TrainTest MakeTrainTest(const Dataset& data, const FoldAssignment& assignment, uint32_t fold,
                        int threads = 0);

// A training log and a separate test log (e.g. `encore evaluate --input
// train --test-input test`) as one Dataset and the one-fold assignment that
// holds out exactly the test log's (user, item) pairs: label 0 = a test
// pair, kTrainOnly = a training pair. The test rows' ids are interned into
// the training log's dictionaries, so users and items only in the test log
// get indices after the training ones and no training nonzero (the
// cold-start rules apply to them). Repeated test rows of one pair aggregate
// as `options` says. A pair in both logs (a held-out pair must be unseen in
// training) is InvalidArgument under TestOverlap::kError, else its rows are
// dropped from the test or from the training log; an empty log and a time
// column in only one log are InvalidArgument. Attribute columns are dropped;
// the training part of the result (MakeTrainTest fold 0) holds the training
// log's pairs only.
enum class TestOverlap { kError, kDropFromTest, kDropFromTrain };
// "error", "drop-from-test" or "drop-from-train".
Result<TestOverlap> ParseTestOverlap(const std::string& name);
struct GivenTrainTest {
  Dataset data;
  FoldAssignment folds;
  uint64_t test_only_users = 0;  // users of the test log absent from the training log
  uint64_t test_only_items = 0;
  uint64_t overlap_pairs = 0;  // distinct pairs in both logs (dropped from one of them)
};
Result<GivenTrainTest> CombineTrainTest(InteractionLog train, InteractionLog test,
                                        const DatasetOptions& options,
                                        TestOverlap overlap = TestOverlap::kError);

// --------------------------------------------------------------- metrics

enum class MetricKind {
  kRmse,       // root mean squared error of Predict on test pairs
  kMae,        // mean absolute error of Predict on test pairs
  kPrecision,  // precision@k = hits in the top k / k
  kRecall,     // recall@k = hits in the top k / |relevant|
  kMap,        // MAP@k, average precision normalised by min(k, |relevant|)
  kNdcg,       // NDCG@k, binary relevance, log2 discount
  kHitRate,    // hit@k: 1 when the top k holds a relevant item
  kCoverage,   // coverage@k: distinct items recommended / all items
};

struct Metric {
  MetricKind kind = MetricKind::kRmse;
  uint32_t k = 0;  // ranking metrics (> 0); 0 for rmse and mae

  // "rmse", "mae", "precision@10", "recall@10", "map@10", "ndcg@10",
  // "hit@10", "coverage@10".
  std::string Name() const;
  bool IsRanking() const { return kind != MetricKind::kRmse && kind != MetricKind::kMae; }
  // rmse and mae are minimised; everything else is maximised.
  bool HigherIsBetter() const { return IsRanking(); }
  bool operator==(const Metric&) const = default;
};

// Parses a comma-separated list such as "rmse,mae,precision@10,ndcg@20".
// Names are case-insensitive; "hitrate" and "hit_rate" mean "hit". A ranking
// metric without "@k" uses default_k, except coverage, which uses the largest
// k of the other ranking metrics in the list (default_k when there are none).
// Duplicates are dropped. Unknown names and bad k are InvalidArgument.
Result<std::vector<Metric>> ParseMetrics(const std::string& list, uint32_t default_k = 10);

// Per-user ranking metrics (docs/METRICS.md). `recommended` is the model's
// list in rank order (it may hold fewer than k items; only the first k
// count); `relevant` is sorted ascending, without duplicates, not empty.
double PrecisionAtK(std::span<const uint32_t> recommended, std::span<const uint32_t> relevant,
                    uint32_t k);
double RecallAtK(std::span<const uint32_t> recommended, std::span<const uint32_t> relevant,
                 uint32_t k);
double AveragePrecisionAtK(std::span<const uint32_t> recommended,
                           std::span<const uint32_t> relevant, uint32_t k);
double NdcgAtK(std::span<const uint32_t> recommended, std::span<const uint32_t> relevant,
               uint32_t k);
double HitAtK(std::span<const uint32_t> recommended, std::span<const uint32_t> relevant,
              uint32_t k);

struct EvalOptions {
  // Ranking metrics: a test item is relevant when its value is >= this
  // (e.g. 4 for 1..5 star ratings). Unset: every test item is relevant.
  std::optional<float> relevance_threshold;
  // Threads for metric computation; 0 = all cores. Models use their own
  // ModelParams::threads.
  int threads = 0;
  // Receives one progress line per fitted model (fold, grid point); may be empty.
  std::function<void(const std::string&)> log;
};

// The metrics of one fitted model on one test set.
struct EvalReport {
  std::vector<Metric> metrics;
  // values[j] is metrics[j]; NaN when nothing was there to average (no
  // predictable pair for rmse/mae, no user with a relevant item for ranking).
  std::vector<double> values;
  uint64_t test_pairs = 0;       // nonzeros of the test matrix
  uint64_t predicted_pairs = 0;  // rmse/mae: test pairs the model could predict
  uint64_t dropped_pairs = 0;    // rmse/mae: test pairs with CanPredict false
  uint64_t users_evaluated = 0;  // ranking: users with >= 1 relevant test item
  double fit_seconds = 0;        // 0 for EvaluateFitted
  double eval_seconds = 0;

  // The value of `metric`; NaN when it was not computed.
  double Value(const Metric& metric) const;
};

// Scores a fitted model on `test` (users x items over the model's indices).
// Rating metrics use Predict on every test pair the model CanPredict; ranking
// metrics use RecommendBatch (n = the largest k, exclude_seen: the training
// items) for every user with a relevant test item.
// InvalidArgument when test's shape differs from the model's or no metric is given.
Result<EvalReport> EvaluateFitted(const Recommender& model, const CsrMatrix& test,
                                  const std::vector<Metric>& metrics,
                                  const EvalOptions& options = {});

// Creates the model `kind` (a registry name, or kBaselineKind), fits it on
// `train` and scores it on `test`.
Result<EvalReport> Evaluate(const std::string& kind, const ModelParams& params,
                            const Dataset& train, const CsrMatrix& test,
                            const std::vector<Metric>& metrics, const EvalOptions& options = {});

// ------------------------------------------------------ cross-validation

// Per-fold reports and, per metric, the mean and the sample standard
// deviation (n - 1 denominator; 0 with one fold) over the folds whose value
// is not NaN (NaN when none).
struct CvReport {
  std::vector<Metric> metrics;
  std::vector<EvalReport> folds;
  std::vector<double> mean;
  std::vector<double> stddev;

  double Mean(const Metric& metric) const;  // NaN when not computed
};

// Computes mean and stddev from report.folds.
void Summarize(CvReport* report);

// Fits and scores `kind` on every fold of `folds` (one for a holdout split).
Result<CvReport> CrossValidate(const std::string& kind, const ModelParams& params,
                               const Dataset& data, const FoldAssignment& folds,
                               const std::vector<Metric>& metrics, const EvalOptions& options = {});

// ----------------------------------------------------------- grid search

// One parameter and the values it takes, e.g. factors = {10, 50, 100}.
struct GridAxis {
  std::string name;                 // a ModelParamTable() name
  std::vector<std::string> values;  // as written in the spec
};

// Parses "factors=10,50,100;reg=0.01,0.1": axes separated by ';', values by
// ','; spaces are ignored and '-' in a name means '_'. Every name and value
// is checked with SetModelParam; unknown names, bad values, empty axes and
// repeated names are InvalidArgument. An empty spec gives no axes.
Result<std::vector<GridAxis>> ParseGrid(const std::string& spec);

// A point of the grid: (name, value) per axis, in axis order.
using GridSetting = std::vector<std::pair<std::string, std::string>>;

// The Cartesian product in odometer order: the first axis varies slowest,
// the last fastest, values in spec order (like nested loops written in spec
// order). No axes: one empty setting.
std::vector<GridSetting> EnumerateGrid(const std::vector<GridAxis>& axes);

// Applies `setting` on top of `base` with SetModelParam.
Result<ModelParams> ApplySetting(const ModelParams& base, const GridSetting& setting);

// "factors=10 reg=0.1", or "(base parameters)" for the empty setting.
std::string DescribeSetting(const GridSetting& setting);

struct GridPoint {
  GridSetting setting;
  ModelParams params;
  CvReport result;
};

struct GridReport {
  Metric select_by;
  std::vector<GridPoint> points;  // EnumerateGrid order
  size_t best = 0;                // index into points
};

// The index of the best report by the mean of `metric`: lowest for rmse and
// mae, highest otherwise; the first wins a tie; NaN loses to any number.
// REQUIRES: reports is not empty.
size_t SelectBest(std::span<const CvReport> reports, const Metric& metric);

// Cross-validates every grid point (each fold's training set is built once
// and shared by all points) and selects the best by `select_by`, which is
// added to the metrics when absent. Fails before any training when a point's
// parameters are invalid (ModelParams::Validate) or the grid has more than
// 10000 points.
Result<GridReport> GridSearch(const std::string& kind, const ModelParams& base,
                              const std::vector<GridAxis>& grid, const Dataset& data,
                              const FoldAssignment& folds, std::vector<Metric> metrics,
                              const Metric& select_by, const EvalOptions& options = {});

// --------------------------------------------------------- bias baseline

// The kind name of the bias baseline; Evaluate, CrossValidate and GridSearch
// accept it beside the registry's names. It is not in the model registry.
inline constexpr const char kBaselineKind[] = "baseline";

// Koren's baseline predictor for explicit ratings: b_ui = mu + b_u + b_i,
// with mu the mean training rating and the biases minimising
//   sum over training (u,i) of (r_ui - mu - b_u - b_i)^2
//     + reg_user * sum_u b_u^2 + reg_item * sum_i b_i^2
// by `passes` alternating exact updates (item biases, then user biases,
// starting from b_u = 0; one pass is Koren's original two-step estimate).
// Users and items without training ratings have bias 0. It ranks items by
// b_ui (a damped mean rating), so ranking metrics work too. The defaults are
// the widely used ones of the Surprise library's BaselineOnly (ALS variant:
// reg_u 15, reg_i 10, 10 epochs): 0.872 RMSE in 5-fold CV on ml-latest-small.
struct BaselineOptions {
  float reg_user = 15;
  float reg_item = 10;
  uint32_t passes = 10;
};
std::unique_ptr<Recommender> NewBiasBaseline(const ModelParams& params,
                                             const BaselineOptions& options = {});

// CreateRecommender, plus kBaselineKind.
Result<std::unique_ptr<Recommender>> CreateEvalModel(const std::string& kind,
                                                     const ModelParams& params);

// ----------------------------------------------------------------- output

// What `encore evaluate` ran, for printing.
struct EvaluationSummary {
  std::string model;
  std::string protocol;              // e.g. "random holdout, test fraction 0.2, seed 42"
  CvReport result;                   // one fold for a holdout split
  std::optional<CvReport> baseline;  // the bias baseline on the same folds
  std::optional<GridReport> grid;    // when set, result is the best point's
  // Why some figures mean little (RatingMetricWarning); printed under the
  // table and as "warnings" in JSON.
  std::vector<std::string> warnings;
};

// A warning when rating metrics (rmse, mae) are asked of an implicit model
// or implicit data: such a model predicts a preference score, not the stored
// value, so the error measures the gap between two scales. "" otherwise.
std::string RatingMetricWarning(const std::string& kind, Feedback feedback,
                                const std::vector<Metric>& metrics);

// A readable table; each line ends in '\n'.
std::string FormatEvaluationTable(const EvaluationSummary& summary);
// One pretty-printed JSON object (no trailing newline): "model", "protocol",
// every metric by name (the mean over folds), "std" (per metric, with more
// than one fold), "folds" (per-fold objects, with more than one fold),
// "test_pairs", "predicted_pairs", "dropped_pairs", "users_evaluated" (totals
// over folds), "fit_seconds", "eval_seconds", and with a grid "select_by",
// "grid" (an array of {"params": {...}, metrics...}) and "best"; with a
// baseline, "baseline" holds the same keys for it. NaN prints as null.
std::string FormatEvaluationJson(const EvaluationSummary& summary);

// -------------------------------------------------- the evaluation protocol

// The default metrics, one rule for every front end (`encore evaluate`, a
// pipeline's [models.NAME.evaluate], `encore demo`): rmse,mae for explicit
// feedback; precision, recall, map, ndcg, hit and coverage at k for implicit
// feedback (the first of them selects the best grid point).
inline constexpr const char kDefaultExplicitMetrics[] = "rmse,mae";
inline constexpr const char kDefaultImplicitMetrics[] = "precision,recall,map,ndcg,hit,coverage";
std::vector<Metric> DefaultMetrics(Feedback feedback, uint32_t k = 10);

// How a model is measured: the split, folds, grid, metrics and baseline,
// with the documented defaults (docs/METRICS.md).
struct EvaluationProtocol {
  SplitOptions split;  // the holdout split (method random, 20%, seed 42)
  uint32_t folds = 0;  // 0 or 2..kMaxFolds; see test_on_holdout
  std::vector<GridAxis> grid;
  std::vector<Metric> metrics;      // empty: DefaultMetrics(feedback, k)
  std::optional<Metric> select_by;  // grid: the metric choosing the best point; unset: metrics[0]
  uint32_t k = 10;                  // k of the default metrics
  std::optional<float> relevance_threshold;
  bool baseline = false;  // also measure the bias baseline on the same folds
  // Where the folds and the grid run:
  //  false (`encore evaluate`): over all the data - one holdout split, or
  //    with folds >= 2 k-fold cross-validation; a grid is selected on those
  //    folds and the best point's figures are reported.
  //  true (a pipeline's [models.NAME.evaluate]): the holdout split first; the
  //    grid (and folds, 3 by default with a grid) runs on its training part,
  //    the chosen parameters are fitted on the training part and scored once
  //    on the held-out test, which no choice has seen.
  bool test_on_holdout = false;
  // Set (`encore evaluate --test-input`): the folds to use instead of the
  // split and folds above - a test set given apart from the training data
  // (CombineTrainTest); `given_test_name` describes it. Only without
  // test_on_holdout and folds.
  std::optional<FoldAssignment> given_folds;
  std::string given_test_name;
};

// Checks what can be checked without the data: folds range, folds with a
// time split or with leave_k / cutoff (when !test_on_holdout), leave_k with
// a random split. Messages name the pipeline key and the CLI flag.
Status ValidateProtocol(const EvaluationProtocol& protocol);

// The metrics a protocol measures for data of `feedback` (its own, or the default).
std::vector<Metric> ProtocolMetrics(const EvaluationProtocol& protocol, Feedback feedback);

// The folds (or the single holdout) of a protocol over all of `data`, as
// RunEvaluation uses them without test_on_holdout; for callers that run
// their own loop over the same folds (nested tuning, `encore evaluate --tune`).
Result<FoldAssignment> ProtocolFolds(const EvaluationProtocol& protocol, const Dataset& data,
                                     int threads = 0);
// The protocol in words, as printed by `encore evaluate`.
std::string DescribeProtocol(const EvaluationProtocol& protocol);

// ------------------------------------------------- evaluation option table

// One row per option of the protocol: the source of `encore evaluate`'s
// flags, of a pipeline's [models.NAME.evaluate] keys and of the reference in
// docs/METRICS.md (EvaluationOptionsMarkdown), so a default cannot differ
// between them (tests/options_test.cc compares them).
enum class EvalOptionType {
  kEnum,     // one of `values`
  kNumber,   // a real number
  kCount,    // an integer >= 0
  kTime,     // unix seconds or ISO 8601
  kMetrics,  // a metric list: comma-separated on the command line, an array in TOML
  kMetric,   // one metric name
  kGrid,     // "factors=10,50;reg=0.01,0.1" on the command line, a table of arrays in TOML
  kBool,     // a CLI switch, true / false in TOML
};

struct EvalOptionInfo {
  const char* name;  // "test_fraction"
  EvalOptionType type;
  const char* flag;           // "--test-fraction"; "" = not a CLI flag
  const char* pipeline_key;   // "test_fraction"; "" = not a pipeline key
  const char* default_value;  // the literal default ("0.2"), or ""
  const char* default_doc;    // the default in words when it is derived, or ""
  const char* values;         // kEnum: "random,user,time"
  const char* help;           // one line, plain text
  // Parses and stores; metric names without @K use the protocol's k, so the
  // table lists k before metrics and select_by, and callers apply rows in
  // table order.
  std::function<Status(EvaluationProtocol*, const std::string&)> set;
};

const std::vector<EvalOptionInfo>& EvaluationOptionTable();
// The row named `name`, or nullptr.
const EvalOptionInfo* FindEvaluationOption(const std::string& name);
// default_value, else default_doc.
std::string EvaluationOptionDefault(const EvalOptionInfo& info);
// Sets option `name` from text; unknown names and bad values are
// InvalidArgument saying what is accepted.
Status SetEvaluationOption(EvaluationProtocol* protocol, const std::string& name,
                           const std::string& text);
// The reference table (option, CLI flag, pipeline key, default, values,
// meaning) in Markdown, held by docs/METRICS.md.
std::string EvaluationOptionsMarkdown();

struct EvaluationRun {
  EvaluationSummary summary;  // what was measured, as printed by `encore evaluate`
  ModelParams chosen;         // the best grid point's parameters (the given ones without a grid)
  // test_on_holdout: the model fitted on the training part with `chosen`,
  // with the training part's dictionaries (the same ids as the data's).
  std::optional<TrainedModel> fitted;
};

// Runs the protocol for model `kind` (a registry name or kBaselineKind) on
// `data`, whose feedback kind picks the default metrics.
Result<EvaluationRun> RunEvaluation(const std::string& kind, const ModelParams& params,
                                    const Dataset& data, Feedback feedback,
                                    const EvaluationProtocol& protocol,
                                    const EvalOptions& options = {});

}  // namespace encore

#endif  // ENCORE_EVALUATE_H_
