// Tuning: choose a model's parameters by cross-validation on training data
// only, and nested evaluation that reports a score tuning never saw.
//
//   Dataset (training data only) ──KFoldSplit (inner folds)──▶ fold k: train / validation
//   SearchSpace ──grid | random | successive halving──▶ candidates
//   each candidate ──CrossValidate on the inner folds──▶ a Trial (mean of select_by)
//   best Trial ──▶ TuneReport::best_params (the caller refits on all the data)
//
//   NestedEvaluate: outer folds; inside each outer training part, Tune; fit the
//   chosen parameters on the outer training part; score on the outer test part.
//
// The tuner sees only the Dataset it is given: every fit and every validation
// score comes from folds of that Dataset. In NestedEvaluate that Dataset is
// the outer fold's training part (MakeTrainTest), which does not contain the
// outer test nonzeros at all, so the reported score is one tuning never saw.
// TuneOptions::on_fold lets tests verify this.
//
// Search spaces (docs/TUNING.md): axes separated by ';'. An axis is
//   name=v1,v2,...        a choice among values (any parameter)
//   name=lo..hi           a uniform range (numeric parameters)
//   name=lo..hi:log       a log-uniform range (lo > 0)
// Grid search takes every choice and `grid_points` evenly spaced values of
// each range (ends included); random search draws each axis independently.
// Integer parameters round range draws to the nearest integer.
//
// Determinism: the inner folds and random draws are seeded (TuneOptions::seed)
// and, with a trial budget, a run is reproducible. A time budget stops the
// search when time runs out, so how many trials run depends on the machine.
//
// Thread-safety: functions are reentrant; models use ModelParams::threads.

#ifndef ENCORE_TUNE_H_
#define ENCORE_TUNE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "encore/dataset.h"
#include "encore/evaluate.h"
#include "encore/params.h"
#include "encore/status.h"

namespace encore {

// One axis of a search space.
struct SearchAxis {
  std::string name;                  // a ModelParamTable() name
  std::vector<std::string> choices;  // a choice axis (ranges leave it empty)
  double lo = 0, hi = 0;             // a range axis: [lo, hi]
  bool log_scale = false;            // range drawn log-uniformly
  bool integer = false;              // the parameter is an integer (ranges round)
  bool IsRange() const { return choices.empty(); }
};

using SearchSpace = std::vector<SearchAxis>;

// Parses a space such as "factors=16,32,64;reg=0.01..1:log". Every name and
// choice is checked with the parameter table's parser; ranges need numeric
// parameters and lo <= hi (lo > 0 with :log). Errors are InvalidArgument
// naming the axis. An empty spec gives an empty space (one trial: the base).
Result<SearchSpace> ParseSearchSpace(const std::string& spec);
// The spec text of a space (ParseSearchSpace(FormatSearchSpace(s)) == s).
std::string FormatSearchSpace(const SearchSpace& space);

// The documented default space of a model for a kind of feedback (the text
// ParseSearchSpace accepts; docs/TUNING.md lists them). Empty for a model
// with nothing to tune (popularity).
std::string DefaultSearchSpace(const std::string& kind, Feedback feedback);

enum class SearchMethod {
  kGrid,     // every point of the grid (ranges: grid_points values)
  kRandom,   // `trials` random points
  kHalving,  // successive halving over `trials` random points
};
Result<SearchMethod> ParseSearchMethod(const std::string& name);  // grid | random | halving
const char* SearchMethodName(SearchMethod method);

struct TuneOptions {
  std::string kind;  // a registry name
  ModelParams base;  // every parameter the space does not set
  SearchSpace space;
  SearchMethod method = SearchMethod::kRandom;
  // Random and halving: candidates to draw (a candidate is drawn once:
  // duplicates are skipped, so a small discrete space may give fewer). Grid
  // search ignores it and runs every point.
  uint32_t trials = 20;
  // > 0: stop starting new evaluations after this many seconds (at least
  // one evaluation always finishes).
  double time_budget_seconds = 0;
  uint32_t grid_points = 4;  // values per range axis in a grid
  uint32_t eta = 3;          // halving: keep the best 1/eta at each rung
  // Inner cross-validation on the data given to Tune.
  uint32_t folds = 3;  // 2 .. kMaxFolds
  bool per_user = false;
  uint32_t min_train = 1;
  uint64_t seed = 42;           // inner folds and random draws
  std::vector<Metric> metrics;  // reported per trial; select_by is added
  Metric select_by;
  EvalOptions eval;  // relevance threshold, threads, progress log
  // Testing and instrumentation: called once per inner fold with the data
  // the tuner fits on and validates against (nothing else is ever used).
  std::function<void(const Dataset& train, const CsrMatrix& validation)> on_fold;
  // Testing: replaces fit-and-score of a candidate on a fold; returns the
  // value of select_by. Unset: the real model.
  std::function<Result<double>(const ModelParams& params, const Dataset& train,
                               const CsrMatrix& validation)>
      score_override;
};

// One evaluation of one candidate.
struct Trial {
  uint32_t candidate = 0;   // index of the candidate (0-based, in draw order)
  GridSetting setting;      // the candidate's values, in axis order
  ModelParams params;       // as fitted (halving: with the rung's iterations)
  uint32_t rung = 0;        // halving rung (0 for grid and random)
  uint32_t folds_used = 0;  // inner folds this evaluation averaged over
  CvReport result;          // per-fold and mean metrics
  double seconds = 0;
  double Score(const Metric& metric) const { return result.Mean(metric); }
};

struct TuneReport {
  std::string kind;
  SearchMethod method = SearchMethod::kRandom;
  SearchSpace space;
  Metric select_by;
  std::string protocol;       // the inner cross-validation, in words
  std::vector<Trial> trials;  // in the order run
  size_t best = 0;            // index into trials
  ModelParams best_params;    // base + the best setting, full budget
  bool stopped_by_time = false;
  double seconds = 0;
};

// Searches `space` on folds of `data` (which must hold training data only)
// and returns every trial and the best. Fails on invalid options, a space
// point that fails validation, or a failed fit.
Result<TuneReport> Tune(const Dataset& data, const TuneOptions& options);

// Nested cross-validation: for each fold of `outer`, Tune on the outer
// training part only (options.on_fold sees the inner folds), fit the chosen
// parameters on the whole outer training part and score them on the outer
// test part with `metrics`.
struct NestedReport {
  CvReport outer;                  // the held-out scores (one fold per outer fold)
  std::vector<TuneReport> tuning;  // one per outer fold
};
Result<NestedReport> NestedEvaluate(const Dataset& data, const FoldAssignment& outer,
                                    const TuneOptions& options, const std::vector<Metric>& metrics);

// Output. Text: one line per trial (best marked '*'), then the chosen
// parameters. JSON: {"model", "method", "space", "protocol", "select_by",
// "best": {"params", metrics...}, "trials": [...], "stopped_by_time", "seconds"}.
std::string FormatTuneTable(const TuneReport& report);
std::string FormatTuneJson(const TuneReport& report);
// The chosen parameters of each outer fold of a nested evaluation, as text
// lines, and as a JSON array of {"fold", "params", "validation"} objects.
std::string FormatNestedChoices(const NestedReport& report);
std::string FormatNestedChoicesJson(const NestedReport& report);

}  // namespace encore

#endif  // ENCORE_TUNE_H_
