// Parameter search by inner cross-validation, and nested evaluation (see
// encore/tune.h and docs/TUNING.md).

#include "encore/tune.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string_view>

#include "eval/random.h"
#include "eval/setting_json.h"
#include "util/json_writer.h"

namespace encore {

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string_view Trim(std::string_view s) {
  const char* kSpace = " \t\r\n";
  const size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

std::vector<std::string> SplitOn(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (true) {
    const size_t at = s.find(sep);
    out.emplace_back(Trim(s.substr(0, at)));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

const ParamInfo* FindParam(const std::string& name) {
  for (const ParamInfo& info : ModelParamTable()) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

bool ParseDouble(const std::string& text, double* out) {
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size() && std::isfinite(*out);
}

std::string Short(double v, bool integer) {
  char buf[32];
  if (integer) {
    std::snprintf(buf, sizeof buf, "%.0f", std::round(v));
  } else {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  }
  return buf;
}

std::string Value4(double v) {
  if (std::isnan(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

// Uniform in [0, 1).
double Uniform(eval::SplitRng* rng) {
  return static_cast<double>(rng->Next() >> 11) * (1.0 / 9007199254740992.0);
}

std::string DrawAxis(const SearchAxis& a, eval::SplitRng* rng) {
  if (!a.IsRange()) return a.choices[rng->Below(a.choices.size())];
  const double u = Uniform(rng);
  double v = a.log_scale ? std::exp(std::log(a.lo) + u * (std::log(a.hi) - std::log(a.lo)))
                         : a.lo + u * (a.hi - a.lo);
  return Short(std::clamp(v, a.lo, a.hi), a.integer);
}

std::vector<std::string> GridValues(const SearchAxis& a, uint32_t points) {
  if (!a.IsRange()) return a.choices;
  std::vector<std::string> out;
  points = std::max<uint32_t>(points, 1);
  for (uint32_t j = 0; j < points; ++j) {
    const double t = points == 1 ? 0.5 : static_cast<double>(j) / (points - 1);
    const double v = a.log_scale ? std::exp(std::log(a.lo) + t * (std::log(a.hi) - std::log(a.lo)))
                                 : a.lo + t * (a.hi - a.lo);
    std::string s = Short(v, a.integer);
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  }
  return out;
}

// Whether parameter `name` is read by model `kind` (the table's "models").
bool ModelReads(const std::string& kind, const std::string& name) {
  const ParamInfo* info = FindParam(name);
  if (info == nullptr) return false;
  const std::string models = info->models;
  if (models == "all") return true;
  for (const std::string& m : SplitOn(models, ',')) {
    if (m == kind) return true;
  }
  return false;
}

// The inner folds, materialised once each, on first use.
class InnerFolds {
 public:
  InnerFolds(const Dataset& data, FoldAssignment folds, const TuneOptions& options)
      : data_(data), folds_(std::move(folds)), options_(options), cache_(folds_.folds) {}

  uint32_t count() const { return folds_.folds; }

  const TrainTest& Get(uint32_t f) {
    if (!cache_[f]) {
      cache_[f] =
          std::make_unique<TrainTest>(MakeTrainTest(data_, folds_, f, options_.base.threads));
      if (options_.on_fold) options_.on_fold(cache_[f]->train, cache_[f]->test);
    }
    return *cache_[f];
  }

 private:
  const Dataset& data_;
  FoldAssignment folds_;
  const TuneOptions& options_;
  std::vector<std::unique_ptr<TrainTest>> cache_;
};

// Cross-validates one candidate on the first `folds` inner folds.
Result<CvReport> Score(const TuneOptions& o, const std::vector<Metric>& metrics,
                       const ModelParams& params, uint32_t folds, InnerFolds* inner) {
  CvReport cv;
  cv.metrics = o.score_override ? std::vector<Metric>{o.select_by} : metrics;
  EvalOptions quiet = o.eval;
  quiet.log = nullptr;
  for (uint32_t f = 0; f < folds; ++f) {
    const TrainTest& tt = inner->Get(f);
    if (o.score_override) {
      ENCORE_ASSIGN_OR_RETURN(double v, o.score_override(params, tt.train, tt.test));
      EvalReport r;
      r.metrics = cv.metrics;
      r.values = {v};
      cv.folds.push_back(std::move(r));
    } else {
      ENCORE_ASSIGN_OR_RETURN(EvalReport r,
                              Evaluate(o.kind, params, tt.train, tt.test, metrics, quiet));
      cv.folds.push_back(std::move(r));
    }
  }
  Summarize(&cv);
  return cv;
}

bool Better(const Metric& m, double a, double b) {
  if (std::isnan(a)) return false;
  if (std::isnan(b)) return true;
  return m.HigherIsBetter() ? a > b : a < b;
}

}  // namespace

Result<SearchSpace> ParseSearchSpace(const std::string& spec) {
  SearchSpace space;
  if (Trim(spec).empty()) return space;
  std::set<std::string> names;
  for (const std::string& part : SplitOn(spec, ';')) {
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument("search space: '" + part +
                                     "' is not name=values (e.g. reg=0.01..1:log or "
                                     "factors=16,32,64)");
    }
    SearchAxis a;
    a.name = std::string(Trim(std::string_view(part).substr(0, eq)));
    std::replace(a.name.begin(), a.name.end(), '-', '_');
    const ParamInfo* info = FindParam(a.name);
    if (info == nullptr) {
      ModelParams scratch;
      return Status::InvalidArgument("search space: " +
                                     SetModelParam(&scratch, a.name, "0").message());
    }
    if (!names.insert(a.name).second) {
      return Status::InvalidArgument("search space: '" + a.name + "' appears twice");
    }
    const std::string type = info->type;
    a.integer = type == "int";
    std::string values(Trim(std::string_view(part).substr(eq + 1)));
    const size_t dots = values.find("..");
    if (dots != std::string::npos) {
      if (type != "int" && type != "float") {
        return Status::InvalidArgument("search space: '" + a.name + "' is a " + type +
                                       " parameter; give its values as a list (a,b,c)");
      }
      std::string hi = values.substr(dots + 2);
      if (hi.size() > 4 && hi.substr(hi.size() - 4) == ":log") {
        a.log_scale = true;
        hi.resize(hi.size() - 4);
      }
      if (!ParseDouble(std::string(Trim(values.substr(0, dots))), &a.lo) ||
          !ParseDouble(std::string(Trim(hi)), &a.hi) || a.lo > a.hi || (a.log_scale && a.lo <= 0)) {
        return Status::InvalidArgument("search space: bad range '" + values + "' for '" + a.name +
                                       "': give lo..hi with lo <= hi (lo > 0 with :log)");
      }
      ModelParams scratch;
      for (double v : {a.lo, a.hi}) {
        if (Status s = SetModelParam(&scratch, a.name, Short(v, a.integer)); !s.ok()) {
          return Status::InvalidArgument("search space: " + s.message());
        }
      }
    } else {
      for (const std::string& v : SplitOn(values, ',')) {
        if (v.empty()) {
          return Status::InvalidArgument("search space: empty value in '" + part + "'");
        }
        ModelParams scratch;
        if (Status s = SetModelParam(&scratch, a.name, v); !s.ok()) {
          return Status::InvalidArgument("search space: " + s.message());
        }
        a.choices.push_back(v);
      }
    }
    space.push_back(std::move(a));
  }
  return space;
}

std::string FormatSearchSpace(const SearchSpace& space) {
  std::string out;
  for (const SearchAxis& a : space) {
    if (!out.empty()) out += ";";
    out += a.name + "=";
    if (a.IsRange()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g..%g%s", a.lo, a.hi, a.log_scale ? ":log" : "");
      out += buf;
    } else {
      for (size_t j = 0; j < a.choices.size(); ++j) out += (j ? "," : "") + a.choices[j];
    }
  }
  return out;
}

std::string DefaultSearchSpace(const std::string& kind, Feedback feedback) {
  // docs/TUNING.md lists these; a test checks the two agree.
  if (kind == "als") {
    return feedback == Feedback::kExplicit
               ? "factors=32,64,128;reg=0.05..0.3:log;biases=true;reg_user_bias=0.01..0.3:log;reg_item_bias=0.05..2:log;iterations=15"
               : "factors=16,32,64,128;reg=0.01..1:log;iterations=15";
  }
  if (kind == "ials") {
    return "factors=16,32,64,128;reg=0.01..30:log;alpha=0.1..30:log;iterations=15";
  }
  if (kind == "svdpp") {
    return "factors=64,128;learning_rate=0.007;lr_decay=0.96;init_scale=0.05;reg=0.03..0.1:log;reg_implicit=0.5..3:log;reg_user_bias=0.005..0.05:log;reg_item_bias=0.1..1:log;iterations=40";
  }
  if (kind == "ease") return "l2=1..5000:log";
  if (kind == "cooccurrence") {
    return "similarity=conditional,jaccard,lift,cosine;aggregate=max,sum";
  }
  return "";
}

Result<SearchMethod> ParseSearchMethod(const std::string& name) {
  if (name == "grid") return SearchMethod::kGrid;
  if (name == "random") return SearchMethod::kRandom;
  if (name == "halving") return SearchMethod::kHalving;
  return Status::InvalidArgument("unknown search method '" + name +
                                 "'; use grid, random or halving");
}

const char* SearchMethodName(SearchMethod method) {
  switch (method) {
    case SearchMethod::kGrid:
      return "grid";
    case SearchMethod::kRandom:
      return "random";
    case SearchMethod::kHalving:
      return "halving";
  }
  return "?";
}

Result<TuneReport> Tune(const Dataset& data, const TuneOptions& o) {
  const auto start = Clock::now();
  if (o.folds < 2 || o.folds > kMaxFolds) {
    return Status::InvalidArgument("tuning needs 2.." + std::to_string(kMaxFolds) +
                                   " inner folds, not " + std::to_string(o.folds));
  }
  if (o.method != SearchMethod::kGrid && o.trials == 0) {
    return Status::InvalidArgument("tuning needs at least one trial");
  }
  if (o.eta < 2) return Status::InvalidArgument("halving: eta must be at least 2");
  ENCORE_RETURN_IF_ERROR(CreateEvalModel(o.kind, o.base).status());
  for (const SearchAxis& a : o.space) {
    if (!ModelReads(o.kind, a.name)) {
      return Status::InvalidArgument("search space: model '" + o.kind + "' does not read '" +
                                     a.name + "'");
    }
  }
  std::vector<Metric> metrics = o.metrics;
  if (std::find(metrics.begin(), metrics.end(), o.select_by) == metrics.end()) {
    metrics.push_back(o.select_by);
  }

  // Candidates.
  std::vector<GridSetting> candidates;
  if (o.method == SearchMethod::kGrid) {
    std::vector<GridAxis> axes;
    size_t points = 1;
    for (const SearchAxis& a : o.space) {
      axes.push_back({a.name, GridValues(a, o.grid_points)});
      points *= axes.back().values.size();
      if (points > 10000) {
        return Status::InvalidArgument("the grid has more than 10000 points; narrow the space");
      }
    }
    candidates = EnumerateGrid(axes);
  } else {
    eval::SplitRng rng(eval::StreamSeed(o.seed, 0x7475'6e65));  // "tune"
    std::set<GridSetting> drawn;
    // A small discrete space may hold fewer distinct points than trials.
    for (uint32_t attempt = 0; candidates.size() < o.trials && attempt < 50 * o.trials; ++attempt) {
      GridSetting s;
      for (const SearchAxis& a : o.space) s.emplace_back(a.name, DrawAxis(a, &rng));
      if (drawn.insert(s).second) candidates.push_back(std::move(s));
    }
  }
  std::vector<ModelParams> params;
  for (const GridSetting& s : candidates) {
    ENCORE_ASSIGN_OR_RETURN(ModelParams p, ApplySetting(o.base, s));
    if (Status st = p.Validate(); !st.ok()) {
      return Status::InvalidArgument("search space point " + DescribeSetting(s) + ": " + st.message());
    }
    params.push_back(p);
  }

  FoldOptions fo;
  fo.folds = o.folds;
  fo.per_user = o.per_user;
  fo.min_train = o.min_train;
  fo.seed = o.seed;
  fo.threads = o.base.threads;
  ENCORE_ASSIGN_OR_RETURN(FoldAssignment assignment, KFoldSplit(data, fo));
  InnerFolds inner(data, std::move(assignment), o);

  TuneReport report;
  report.kind = o.kind;
  report.method = o.method;
  report.space = o.space;
  report.select_by = o.select_by;
  report.protocol = std::to_string(o.folds) + "-fold cross-validation " +
                    (o.per_user ? "within each user's training interactions"
                                : std::string("over the training interactions")) +
                    ", seed " + std::to_string(o.seed);

  // Halving: rungs over iterations (als, ials, unless searched) or folds.
  uint32_t rungs = 1;
  bool by_iterations = false;
  if (o.method == SearchMethod::kHalving) {
    for (size_t n = candidates.size(); n > 1; n = (n + o.eta - 1) / o.eta) ++rungs;
    const bool searched = std::any_of(o.space.begin(), o.space.end(),
                                      [](const SearchAxis& a) { return a.name == "iterations"; });
    by_iterations = !searched && ModelReads(o.kind, "iterations");
  }

  double best_so_far = std::nan("");
  size_t evaluations = 0;
  const size_t planned = [&] {
    size_t total = 0;
    for (size_t n = candidates.size(), r = 0; r < rungs; ++r, n = (n + o.eta - 1) / o.eta) {
      total += n;
    }
    return total;
  }();
  std::vector<size_t> alive(candidates.size());
  for (size_t j = 0; j < alive.size(); ++j) alive[j] = j;
  for (uint32_t rung = 0; rung < rungs && !report.stopped_by_time; ++rung) {
    const double fraction =
        std::pow(static_cast<double>(o.eta), -static_cast<double>(rungs - 1 - rung));
    std::vector<std::pair<double, size_t>> scored;  // (value, candidate)
    for (size_t c : alive) {
      if (o.time_budget_seconds > 0 && evaluations > 0 && Since(start) >= o.time_budget_seconds) {
        report.stopped_by_time = true;
        break;
      }
      Trial t;
      t.candidate = static_cast<uint32_t>(c);
      t.setting = candidates[c];
      t.params = params[c];
      t.rung = rung;
      t.folds_used = inner.count();
      if (rung + 1 < rungs) {
        if (by_iterations) {
          t.params.iterations = std::max<uint32_t>(
              1, static_cast<uint32_t>(std::lround(params[c].iterations * fraction)));
        } else {
          t.folds_used =
              std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(inner.count() * fraction)));
        }
      }
      const auto t0 = Clock::now();
      ENCORE_ASSIGN_OR_RETURN(t.result, Score(o, metrics, t.params, t.folds_used, &inner));
      t.seconds = Since(t0);
      ++evaluations;
      const double v = t.Score(o.select_by);
      if (rung + 1 == rungs && Better(o.select_by, v, best_so_far)) best_so_far = v;
      scored.emplace_back(v, c);
      if (o.eval.log) {
        std::string line = "tune " + o.kind + ": trial " + std::to_string(evaluations) + "/" +
                           std::to_string(planned) + " " + DescribeSetting(t.setting);
        if (rungs > 1) {
          line += " (rung " + std::to_string(rung + 1) + "/" + std::to_string(rungs) + ", " +
                  (by_iterations ? std::to_string(t.params.iterations) + " iterations"
                                 : std::to_string(t.folds_used) + " folds") +
                  ")";
        }
        char buf[48];
        std::snprintf(buf, sizeof buf, ", %.2f s", t.seconds);
        line += ": " + o.select_by.Name() + " " + Value4(v) + buf;
        if (rung + 1 == rungs) line += " (best " + Value4(best_so_far) + ")";
        o.eval.log(line);
      }
      report.trials.push_back(std::move(t));
    }
    // Keep the best 1/eta (ties: the earlier candidate; NaN last).
    std::stable_sort(scored.begin(), scored.end(), [&](const auto& a, const auto& b) {
      return Better(o.select_by, a.first, b.first);
    });
    const size_t keep = std::max<size_t>(1, (alive.size() + o.eta - 1) / o.eta);
    alive.clear();
    for (size_t j = 0; j < std::min(keep, scored.size()); ++j) alive.push_back(scored[j].second);
    std::sort(alive.begin(), alive.end());
  }
  if (report.trials.empty()) return Status::Internal("tuning ran no trial");

  // The best trial of the highest rung reached (all trials for grid and random).
  uint32_t top = 0;
  for (const Trial& t : report.trials) top = std::max(top, t.rung);
  bool any = false;
  for (size_t j = 0; j < report.trials.size(); ++j) {
    const Trial& t = report.trials[j];
    if (t.rung != top) continue;
    if (!any ||
        Better(o.select_by, t.Score(o.select_by), report.trials[report.best].Score(o.select_by))) {
      report.best = j;
      any = true;
    }
  }
  report.best_params = params[report.trials[report.best].candidate];
  report.seconds = Since(start);
  if (o.eval.log) {
    o.eval.log("tune " + o.kind + ": chose " + DescribeSetting(report.trials[report.best].setting) + ", " +
               o.select_by.Name() + " " + Value4(report.trials[report.best].Score(o.select_by)) +
               " over " + std::to_string(report.trials.size()) + " trials");
  }
  return report;
}

Result<NestedReport> NestedEvaluate(const Dataset& data, const FoldAssignment& outer,
                                    const TuneOptions& options,
                                    const std::vector<Metric>& metrics) {
  if (outer.fold.size() != data.nnz() || outer.folds == 0) {
    return Status::InvalidArgument("the outer fold assignment does not match the dataset");
  }
  if (metrics.empty()) return Status::InvalidArgument("no metric to compute");
  NestedReport report;
  report.outer.metrics = metrics;
  for (uint32_t f = 0; f < outer.folds; ++f) {
    TrainTest tt = MakeTrainTest(data, outer, f, options.base.threads);
    // Only the training part goes to the tuner.
    ENCORE_ASSIGN_OR_RETURN(TuneReport tuned, Tune(tt.train, options));
    ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> model,
                            CreateEvalModel(options.kind, tuned.best_params));
    const auto t0 = Clock::now();
    ENCORE_RETURN_IF_ERROR(model->Fit(tt.train));
    const double fit_seconds = Since(t0);
    EvalOptions eval = options.eval;
    ENCORE_ASSIGN_OR_RETURN(EvalReport r, EvaluateFitted(*model, tt.test, metrics, eval));
    r.fit_seconds = fit_seconds;
    if (options.eval.log) {
      std::string line = "nested " + options.kind + ", outer fold " + std::to_string(f + 1) + "/" +
                         std::to_string(outer.folds) + ": " +
                         DescribeSetting(tuned.trials[tuned.best].setting);
      for (size_t j = 0; j < r.metrics.size(); ++j) {
        line += ", " + r.metrics[j].Name() + " " + Value4(r.values[j]);
      }
      options.eval.log(line);
    }
    report.outer.folds.push_back(std::move(r));
    report.tuning.push_back(std::move(tuned));
  }
  Summarize(&report.outer);
  return report;
}

// ------------------------------------------------------------------ output

namespace {


void WriteTrial(JsonWriter* w, const Trial& t) {
  w->BeginObject();
  w->Key("candidate");
  w->Uint(t.candidate);
  w->Key("params");
  WriteSettingJson(w, t.setting, t.params);
  w->Key("rung");
  w->Uint(t.rung);
  w->Key("iterations");
  w->Uint(t.params.iterations);
  w->Key("folds");
  w->Uint(t.folds_used);
  for (size_t j = 0; j < t.result.metrics.size(); ++j) {
    w->Key(t.result.metrics[j].Name());
    w->Double(t.result.mean[j]);
  }
  w->Key("seconds");
  w->Double(t.seconds);
  w->EndObject();
}

}  // namespace

std::string FormatTuneTable(const TuneReport& r) {
  std::string out = "model " + r.kind + ", " + SearchMethodName(r.method) + " search over '" +
                    FormatSearchSpace(r.space) + "'\n" + "chosen by " + r.select_by.Name() +
                    " (mean over " + r.protocol + ")\n";
  const bool halving = r.method == SearchMethod::kHalving;
  for (size_t j = 0; j < r.trials.size(); ++j) {
    const Trial& t = r.trials[j];
    char head[64];
    std::snprintf(head, sizeof head, "%s %3zu  ", j == r.best ? "*" : " ", j + 1);
    std::string line = head;
    if (halving) {
      line += "rung " + std::to_string(t.rung + 1) + " it " + std::to_string(t.params.iterations) +
              " folds " + std::to_string(t.folds_used) + "  ";
    }
    for (size_t m = 0; m < t.result.metrics.size(); ++m) {
      line += t.result.metrics[m].Name() + " " + Value4(t.result.mean[m]) + "  ";
    }
    line += DescribeSetting(t.setting);
    out += line + "\n";
  }
  const Trial& best = r.trials[r.best];
  out += "chosen: " + DescribeSetting(best.setting) + " (" + r.select_by.Name() + " " +
         Value4(best.Score(r.select_by)) + ", trial " + std::to_string(r.best + 1) + " of " +
         std::to_string(r.trials.size()) +
         (r.stopped_by_time ? ", stopped by the time budget" : "") + ")\n";
  return out;
}

std::string FormatTuneJson(const TuneReport& r) {
  JsonWriter w(2);
  w.BeginObject();
  w.Key("model");
  w.String(r.kind);
  w.Key("method");
  w.String(SearchMethodName(r.method));
  w.Key("space");
  w.String(FormatSearchSpace(r.space));
  w.Key("protocol");
  w.String(r.protocol);
  w.Key("select_by");
  w.String(r.select_by.Name());
  w.Key("best");
  WriteTrial(&w, r.trials[r.best]);
  w.Key("chosen_params");
  w.BeginObject();
  for (const auto& [name, value] : ModelParamsToList(r.best_params)) {
    if (name == "threads") continue;
    w.Key(name);
    w.String(value);
  }
  w.EndObject();
  w.Key("trials");
  w.BeginArray();
  for (const Trial& t : r.trials) WriteTrial(&w, t);
  w.EndArray();
  w.Key("stopped_by_time");
  w.Bool(r.stopped_by_time);
  w.Key("seconds");
  w.Double(r.seconds);
  w.EndObject();
  return w.str();
}

std::string FormatNestedChoices(const NestedReport& r) {
  std::string out;
  for (size_t f = 0; f < r.tuning.size(); ++f) {
    const TuneReport& t = r.tuning[f];
    const Trial& best = t.trials[t.best];
    out += "outer fold " + std::to_string(f + 1) + ": tuned " + DescribeSetting(best.setting) + " (" +
           t.select_by.Name() + " " + Value4(best.Score(t.select_by)) + " in inner CV, " +
           std::to_string(t.trials.size()) + " trials)\n";
  }
  return out;
}

std::string FormatNestedChoicesJson(const NestedReport& r) {
  JsonWriter w(2);
  w.BeginArray();
  for (size_t f = 0; f < r.tuning.size(); ++f) {
    const TuneReport& t = r.tuning[f];
    const Trial& best = t.trials[t.best];
    w.BeginObject();
    w.Key("fold");
    w.Uint(f + 1);
    w.Key("params");
    WriteSettingJson(&w, best.setting, best.params);
    w.Key("validation");
    w.Double(best.Score(t.select_by));
    w.Key("trials");
    w.Uint(t.trials.size());
    w.EndObject();
  }
  w.EndArray();
  return w.str();
}

}  // namespace encore
