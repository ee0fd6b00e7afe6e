// The evaluation protocol (encore/evaluate.h: EvaluationProtocol,
// RunEvaluation): the one place the split, folds, grid, default metrics and
// baseline of `encore evaluate` and of a pipeline's [models.NAME.evaluate]
// are put together.

#include <chrono>
#include <cstdio>

#include "encore/evaluate.h"
#include "util/time_format.h"

namespace encore {

namespace {

std::string Percent(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", f * 100);
  return buf;
}

// Folds of a protocol: with test_on_holdout, 3 when a grid is given without folds.
uint32_t EffectiveFolds(const EvaluationProtocol& p) {
  if (p.test_on_holdout && !p.grid.empty() && p.folds == 0) return 3;
  return p.folds;
}

// `encore evaluate`'s description of its folds.
std::string DescribeOverAllData(const EvaluationProtocol& p) {
  const SplitOptions& s = p.split;
  if (p.given_folds) {
    return "given test set " + p.given_test_name + " (" + std::to_string(p.given_folds->Count(0)) +
           " test pairs), seed " + std::to_string(s.seed);
  }
  const std::string seed = ", seed " + std::to_string(s.seed);
  const std::string min_train = ", min-train " + std::to_string(s.min_train);
  if (p.folds > 0) {
    const bool per_user = s.method == SplitMethod::kUser;
    return std::to_string(p.folds) + "-fold cross-validation " +
           (per_user ? "within each user's interactions" + min_train
                     : std::string("over all interactions")) +
           seed;
  }
  switch (s.method) {
    case SplitMethod::kRandom:
      return "random holdout of " + Percent(s.test_fraction) + " of the interactions" + seed;
    case SplitMethod::kUser:
      return (s.leave_k > 0 ? "leave-" + std::to_string(s.leave_k) + "-out per user"
                            : "per-user holdout of " + Percent(s.test_fraction) +
                                  " of each user's interactions") +
             min_train + seed;
    case SplitMethod::kTime:
      if (s.leave_k > 0) {
        return "time holdout of each user's latest " + std::to_string(s.leave_k) + " interactions" +
               min_train;
      }
      if (s.cutoff)
        return "time holdout of the interactions at or after " + FormatUtcTime(*s.cutoff);
      return "time holdout of the latest " + Percent(s.test_fraction) + " of the interactions";
  }
  return "";
}

// A pipeline's description: the holdout, then what ran on its training part.
std::string DescribeHoldoutTest(const EvaluationProtocol& p, const Metric& select_by) {
  const SplitOptions& s = p.split;
  std::string out =
      std::string(SplitMethodName(s.method)) + " holdout of " +
      (s.leave_k > 0 ? std::to_string(s.leave_k) + " per user" : Percent(s.test_fraction)) +
      ", seed " + std::to_string(s.seed);
  const uint32_t folds = EffectiveFolds(p);
  if (!p.grid.empty()) {
    out += "; grid selected by " + select_by.Name() + " in " + std::to_string(folds) +
           "-fold cross-validation of the training part";
  } else if (folds > 0) {
    out += "; " + std::to_string(folds) + "-fold cross-validation of the training part";
  }
  return out;
}

}  // namespace

std::vector<Metric> DefaultMetrics(Feedback feedback, uint32_t k) {
  Result<std::vector<Metric>> m = ParseMetrics(
      feedback == Feedback::kExplicit ? kDefaultExplicitMetrics : kDefaultImplicitMetrics, k);
  return m.ok() ? *m : std::vector<Metric>{};
}

std::vector<Metric> ProtocolMetrics(const EvaluationProtocol& p, Feedback feedback) {
  return p.metrics.empty() ? DefaultMetrics(feedback, p.k) : p.metrics;
}

Status ValidateProtocol(const EvaluationProtocol& p) {
  if (p.folds != 0 && (p.folds < 2 || p.folds > kMaxFolds)) {
    return Status::InvalidArgument("folds must be 0 (none) or in 2.." + std::to_string(kMaxFolds) +
                                   ", e.g. 5 (--folds; folds in a pipeline)");
  }
  if (p.split.leave_k > 0 && p.split.method == SplitMethod::kRandom) {
    return Status::InvalidArgument(
        "leave_k needs split = \"user\" or \"time\" (random splits use test_fraction; "
        "--leave-k needs --split user or time)");
  }
  if (!p.test_on_holdout && p.folds > 0) {
    if (p.split.method == SplitMethod::kTime) {
      return Status::InvalidArgument(
          "--folds cannot be combined with --split time (time has one order); use --split "
          "random (folds of interactions) or --split user (folds within each user)");
    }
    if (p.split.leave_k > 0 || p.split.cutoff) {
      return Status::InvalidArgument(
          "--leave-k and --cutoff describe a holdout split; drop them or --folds");
    }
  }
  if (p.given_folds && (p.folds > 0 || p.test_on_holdout)) {
    return Status::InvalidArgument(
        "a given test set (--test-input) replaces the split and the folds; drop --folds");
  }
  if (p.k == 0) return Status::InvalidArgument("k must be >= 1 (--k; k in a pipeline)");
  return Status::OK();
}

Result<FoldAssignment> ProtocolFolds(const EvaluationProtocol& protocol, const Dataset& data,
                                     int threads) {
  if (protocol.given_folds) {
    if (protocol.given_folds->fold.size() != data.nnz()) {
      return Status::InvalidArgument("the given test assignment does not match the dataset");
    }
    return *protocol.given_folds;
  }
  SplitOptions split = protocol.split;
  split.threads = threads;
  if (protocol.folds > 0) {
    FoldOptions fo;
    fo.folds = protocol.folds;
    fo.per_user = split.method == SplitMethod::kUser;
    fo.min_train = split.min_train;
    fo.seed = split.seed;
    fo.threads = threads;
    return KFoldSplit(data, fo);
  }
  return HoldoutSplit(data, split);
}

std::string DescribeProtocol(const EvaluationProtocol& protocol) {
  return DescribeOverAllData(protocol);
}

Result<EvaluationRun> RunEvaluation(const std::string& kind, const ModelParams& params,
                                    const Dataset& data, Feedback feedback,
                                    const EvaluationProtocol& protocol,
                                    const EvalOptions& options) {
  ENCORE_RETURN_IF_ERROR(ValidateProtocol(protocol));
  ENCORE_RETURN_IF_ERROR(CreateEvalModel(kind, params).status());
  const std::vector<Metric> metrics = ProtocolMetrics(protocol, feedback);
  if (metrics.empty()) return Status::InvalidArgument("no metric to measure");
  const Metric select_by = protocol.select_by.value_or(metrics.front());
  EvalOptions eval = options;
  if (protocol.relevance_threshold) eval.relevance_threshold = protocol.relevance_threshold;
  SplitOptions split = protocol.split;
  split.threads = options.threads;

  EvaluationRun run;
  run.summary.model = kind;
  if (std::string w = RatingMetricWarning(kind, feedback, metrics); !w.empty()) {
    run.summary.warnings.push_back(std::move(w));
    if (options.log) options.log("warning: " + run.summary.warnings.back());
  }
  run.chosen = params;
  if (!protocol.test_on_holdout) {
    run.summary.protocol = DescribeOverAllData(protocol);
    ENCORE_ASSIGN_OR_RETURN(FoldAssignment folds, ProtocolFolds(protocol, data, options.threads));
    if (!protocol.grid.empty()) {
      ENCORE_ASSIGN_OR_RETURN(GridReport g, GridSearch(kind, params, protocol.grid, data, folds,
                                                       metrics, select_by, eval));
      run.summary.result = g.points[g.best].result;
      run.chosen = g.points[g.best].params;
      run.summary.grid = std::move(g);
    } else {
      ENCORE_ASSIGN_OR_RETURN(run.summary.result,
                              CrossValidate(kind, params, data, folds, metrics, eval));
    }
    if (protocol.baseline && kind != kBaselineKind) {
      ENCORE_ASSIGN_OR_RETURN(CvReport cv, CrossValidate(kBaselineKind, params, data, folds,
                                                         run.summary.result.metrics, eval));
      run.summary.baseline = std::move(cv);
    }
    return run;
  }

  // test_on_holdout: choose on the training part, measure once on the test.
  run.summary.protocol = DescribeHoldoutTest(protocol, select_by);
  ENCORE_ASSIGN_OR_RETURN(FoldAssignment holdout, HoldoutSplit(data, split));
  TrainTest tt = MakeTrainTest(data, holdout, 0, options.threads);
  const uint32_t folds = EffectiveFolds(protocol);
  if (!protocol.grid.empty() || folds > 0) {
    FoldOptions fo;
    fo.folds = folds;
    fo.per_user = split.method == SplitMethod::kUser;
    fo.min_train = split.min_train;
    fo.seed = split.seed;
    fo.threads = options.threads;
    ENCORE_ASSIGN_OR_RETURN(FoldAssignment assignment, KFoldSplit(tt.train, fo));
    ENCORE_ASSIGN_OR_RETURN(GridReport g, GridSearch(kind, params, protocol.grid, tt.train,
                                                     assignment, metrics, select_by, eval));
    run.chosen = g.points[g.best].params;
    run.summary.grid = std::move(g);
  }
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> model, CreateEvalModel(kind, run.chosen));
  const auto start = std::chrono::steady_clock::now();
  ENCORE_RETURN_IF_ERROR(model->Fit(tt.train));
  const double fit_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ENCORE_ASSIGN_OR_RETURN(EvalReport report, EvaluateFitted(*model, tt.test, metrics, eval));
  report.fit_seconds = fit_seconds;
  run.summary.result.metrics = report.metrics;
  run.summary.result.folds.push_back(std::move(report));
  Summarize(&run.summary.result);
  if (protocol.baseline && kind != kBaselineKind) {
    ENCORE_ASSIGN_OR_RETURN(EvalReport b,
                            Evaluate(kBaselineKind, run.chosen, tt.train, tt.test, metrics, eval));
    CvReport cv;
    cv.metrics = b.metrics;
    cv.folds.push_back(std::move(b));
    Summarize(&cv);
    run.summary.baseline = std::move(cv);
  }
  run.fitted = TrainedModel{std::move(model), std::move(tt.train.users), std::move(tt.train.items)};
  return run;
}

}  // namespace encore
