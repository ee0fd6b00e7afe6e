// Fit-and-score, cross-validation and grid search (see encore/evaluate.h).

#include "encore/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string_view>

namespace encore {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr size_t kMaxGridPoints = 10000;

std::string_view Trim(std::string_view s) {
  const char* kSpace = " \t\r\n";
  const size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

std::vector<std::string_view> SplitOn(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t at = s.find(sep);
    out.push_back(Trim(s.substr(0, at)));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

std::string FormatValue(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

// "fold 2/5" or "" for a holdout.
std::string FoldLabel(uint32_t fold, uint32_t folds) {
  return folds > 1 ? "fold " + std::to_string(fold + 1) + "/" + std::to_string(folds) : "holdout";
}

void Log(const EvalOptions& options, const std::string& line) {
  if (options.log) options.log(line);
}

std::string LogLine(const std::string& kind, const std::string& where, const EvalReport& r) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "fit %.2f s, eval %.2f s", r.fit_seconds, r.eval_seconds);
  std::string line = kind + ", " + where + ": " + buf;
  for (size_t j = 0; j < r.metrics.size(); ++j) {
    line += ", " + r.metrics[j].Name() + " " + FormatValue(r.values[j]);
  }
  return line;
}

// ", model 3/10, 4.2 s per model, ETA 29s": how far a series of fits has got.
std::string Remaining(std::chrono::steady_clock::time_point start, uint32_t done, uint32_t total) {
  if (total <= 1) return "";
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char buf[96];
  std::snprintf(buf, sizeof buf, ", model %u/%u, %.2f s per model", done, total, secs / done);
  std::string out = buf;
  if (done < total) {
    std::snprintf(buf, sizeof buf, ", ETA %.0fs", secs / done * (total - done));
    out += buf;
  }
  return out;
}

Status CheckAssignment(const Dataset& data, const FoldAssignment& folds) {
  if (folds.fold.size() != data.nnz() || folds.folds == 0 || folds.folds > kMaxFolds) {
    return Status::InvalidArgument("the fold assignment does not match the dataset (" +
                                   std::to_string(folds.fold.size()) + " labels for " +
                                   std::to_string(data.nnz()) + " interactions)");
  }
  return Status::OK();
}

}  // namespace

Result<EvalReport> Evaluate(const std::string& kind, const ModelParams& params,
                            const Dataset& train, const CsrMatrix& test,
                            const std::vector<Metric>& metrics, const EvalOptions& options) {
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> model, CreateEvalModel(kind, params));
  const auto start = std::chrono::steady_clock::now();
  ENCORE_RETURN_IF_ERROR(model->Fit(train));
  const double fit_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ENCORE_ASSIGN_OR_RETURN(EvalReport report, EvaluateFitted(*model, test, metrics, options));
  report.fit_seconds = fit_seconds;
  return report;
}

double CvReport::Mean(const Metric& metric) const {
  for (size_t j = 0; j < metrics.size(); ++j) {
    if (metrics[j] == metric) return mean[j];
  }
  return kNaN;
}

void Summarize(CvReport* report) {
  const size_t n_metrics = report->metrics.size();
  report->mean.assign(n_metrics, kNaN);
  report->stddev.assign(n_metrics, kNaN);
  for (size_t j = 0; j < n_metrics; ++j) {
    double sum = 0;
    size_t n = 0;
    for (const EvalReport& f : report->folds) {
      if (!std::isnan(f.values[j])) {
        sum += f.values[j];
        ++n;
      }
    }
    if (n == 0) continue;
    const double mean = sum / static_cast<double>(n);
    double squares = 0;
    for (const EvalReport& f : report->folds) {
      if (!std::isnan(f.values[j])) squares += (f.values[j] - mean) * (f.values[j] - mean);
    }
    report->mean[j] = mean;
    report->stddev[j] = n > 1 ? std::sqrt(squares / static_cast<double>(n - 1)) : 0.0;
  }
}

Result<CvReport> CrossValidate(const std::string& kind, const ModelParams& params,
                               const Dataset& data, const FoldAssignment& folds,
                               const std::vector<Metric>& metrics, const EvalOptions& options) {
  ENCORE_RETURN_IF_ERROR(CheckAssignment(data, folds));
  if (metrics.empty()) return Status::InvalidArgument("no metric to compute");
  ENCORE_RETURN_IF_ERROR(CreateEvalModel(kind, params).status());  // fail before splitting
  CvReport cv;
  cv.metrics = metrics;
  const auto start = std::chrono::steady_clock::now();
  for (uint32_t f = 0; f < folds.folds; ++f) {
    TrainTest tt = MakeTrainTest(data, folds, f, params.threads);
    ENCORE_ASSIGN_OR_RETURN(EvalReport r,
                            Evaluate(kind, params, tt.train, tt.test, metrics, options));
    Log(options, LogLine(kind, FoldLabel(f, folds.folds), r) + Remaining(start, f + 1, folds.folds));
    cv.folds.push_back(std::move(r));
  }
  Summarize(&cv);
  return cv;
}

Result<std::vector<GridAxis>> ParseGrid(const std::string& spec) {
  constexpr const char* kExpected =
      "; expected NAME=V1,V2,...;NAME=... (e.g. factors=10,50;reg=0.01,0.1)";
  std::vector<GridAxis> axes;
  if (Trim(spec).empty()) return axes;
  for (std::string_view piece : SplitOn(spec, ';')) {
    if (piece.empty()) {
      return Status::InvalidArgument("--grid: empty entry in '" + spec + "'" + kExpected);
    }
    const size_t eq = piece.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument("--grid: '" + std::string(piece) + "' has no '='" + kExpected);
    }
    GridAxis axis;
    axis.name = std::string(Trim(piece.substr(0, eq)));
    std::replace(axis.name.begin(), axis.name.end(), '-', '_');
    for (const auto& other : axes) {
      if (other.name == axis.name) {
        return Status::InvalidArgument("--grid: parameter '" + axis.name + "' is given twice");
      }
    }
    ModelParams scratch;
    for (std::string_view value : SplitOn(piece.substr(eq + 1), ',')) {
      if (value.empty()) {
        return Status::InvalidArgument("--grid: '" + std::string(piece) + "' has an empty value" +
                                       kExpected);
      }
      Status s = SetModelParam(&scratch, axis.name, std::string(value));
      if (!s.ok()) return Status::InvalidArgument("--grid: " + s.message());
      axis.values.emplace_back(value);
    }
    axes.push_back(std::move(axis));
  }
  return axes;
}

std::vector<GridSetting> EnumerateGrid(const std::vector<GridAxis>& axes) {
  std::vector<GridSetting> out;
  for (const GridAxis& a : axes) {
    if (a.values.empty()) return out;
  }
  std::vector<size_t> at(axes.size(), 0);
  while (true) {
    GridSetting s;
    for (size_t d = 0; d < axes.size(); ++d) s.emplace_back(axes[d].name, axes[d].values[at[d]]);
    out.push_back(std::move(s));
    // Odometer: the last axis turns fastest.
    size_t d = axes.size();
    while (d > 0) {
      --d;
      if (++at[d] < axes[d].values.size()) break;
      at[d] = 0;
      if (d == 0) return out;
    }
    if (axes.empty()) return out;
  }
}

std::string DescribeSetting(const GridSetting& setting) {
  std::string out;
  for (const auto& [name, value] : setting) out += (out.empty() ? "" : " ") + name + "=" + value;
  return out.empty() ? "(base parameters)" : out;
}

Result<ModelParams> ApplySetting(const ModelParams& base, const GridSetting& setting) {
  ModelParams p = base;
  for (const auto& [name, value] : setting) {
    ENCORE_RETURN_IF_ERROR(SetModelParam(&p, name, value));
  }
  return p;
}

size_t SelectBest(std::span<const CvReport> reports, const Metric& metric) {
  ENCORE_CHECK(!reports.empty());
  size_t best = 0;
  double best_value = reports[0].Mean(metric);
  for (size_t j = 1; j < reports.size(); ++j) {
    const double v = reports[j].Mean(metric);
    if (std::isnan(v)) continue;
    const bool better =
        std::isnan(best_value) || (metric.HigherIsBetter() ? v > best_value : v < best_value);
    if (better) {
      best = j;
      best_value = v;
    }
  }
  return best;
}

Result<GridReport> GridSearch(const std::string& kind, const ModelParams& base,
                              const std::vector<GridAxis>& grid, const Dataset& data,
                              const FoldAssignment& folds, std::vector<Metric> metrics,
                              const Metric& select_by, const EvalOptions& options) {
  ENCORE_RETURN_IF_ERROR(CheckAssignment(data, folds));
  if (std::find(metrics.begin(), metrics.end(), select_by) == metrics.end()) {
    metrics.push_back(select_by);
  }
  size_t points = 1;
  for (const GridAxis& a : grid) {
    points *= std::max<size_t>(a.values.size(), 1);
    if (points > kMaxGridPoints) {
      return Status::InvalidArgument("the grid has more than " + std::to_string(kMaxGridPoints) +
                                     " points; narrow it");
    }
  }
  GridReport report;
  report.select_by = select_by;
  for (GridSetting& setting : EnumerateGrid(grid)) {
    GridPoint p;
    Result<ModelParams> params = ApplySetting(base, setting);
    if (!params.ok()) return Status::InvalidArgument("--grid: " + params.status().message());
    if (Status s = params->Validate(); !s.ok()) {
      return Status::InvalidArgument("--grid point " + DescribeSetting(setting) + ": " + s.message());
    }
    ENCORE_RETURN_IF_ERROR(CreateEvalModel(kind, *params).status());
    p.setting = std::move(setting);
    p.params = *params;
    p.result.metrics = metrics;
    report.points.push_back(std::move(p));
  }
  // Folds outside, points inside: each training set is built once.
  const auto start = std::chrono::steady_clock::now();
  const uint32_t models = folds.folds * static_cast<uint32_t>(report.points.size());
  uint32_t fitted = 0;
  for (uint32_t f = 0; f < folds.folds; ++f) {
    TrainTest tt = MakeTrainTest(data, folds, f, base.threads);
    for (GridPoint& p : report.points) {
      ENCORE_ASSIGN_OR_RETURN(EvalReport r,
                              Evaluate(kind, p.params, tt.train, tt.test, metrics, options));
      Log(options, LogLine(kind + " " + DescribeSetting(p.setting), FoldLabel(f, folds.folds), r) +
                       Remaining(start, ++fitted, models));
      p.result.folds.push_back(std::move(r));
    }
  }
  std::vector<CvReport> results;
  for (GridPoint& p : report.points) {
    Summarize(&p.result);
    results.push_back(p.result);
  }
  report.best = SelectBest(results, select_by);
  return report;
}

}  // namespace encore
