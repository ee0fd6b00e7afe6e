#include "cli/tune_flags.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "cli/input_flags.h"

namespace encore::cli {

namespace {

void AddFlags(CLI::App* app, TuneFlags* f, const std::string& prefix, const std::string& group) {
  auto opt = [&](const std::string& name, auto& value, const std::string& help) {
    app->add_option("--" + prefix + name, value, help)->capture_default_str()->group(group);
  };
  opt("space", f->space,
      "Search space, e.g. 'factors=16,32,64;reg=0.01..1:log' (default: the model's own, "
      "docs/TUNING.md)");
  opt("search", f->search, "grid | random | halving (successive halving)");
  opt("trials", f->trials, "random / halving: candidates to draw");
  opt("time", f->time_budget, "Stop starting trials after this many seconds (0 = no limit)");
  opt("grid-points", f->grid_points, "grid: values per range axis");
  opt("eta", f->eta, "halving: keep the best 1/eta of the candidates at each rung");
  opt(prefix.empty() ? "cv-folds" : "folds", f->folds, "Inner cross-validation folds");
  opt(prefix.empty() ? "cv-split" : "split", f->split,
      "Inner folds: random (over interactions) | user (within each user); default: user for "
      "implicit feedback, random for explicit");
  opt("metric", f->metric, "Metric to optimise (default rmse for explicit, ndcg@10 otherwise)");
}

}  // namespace

void TuneFlags::Register(CLI::App* app) { AddFlags(app, this, "", "Tuning"); }

void TuneFlags::RegisterNested(CLI::App* app) {
  app->add_flag("--tune", enabled,
                "Nested evaluation: tune by inner cross-validation inside each outer training "
                "part, score the chosen model on the outer test part (docs/TUNING.md)")
      ->group("Tuning");
  AddFlags(app, this, "tune-", "Tuning");
}

Status TuneFlags::Resolve(const std::string& kind, Feedback feedback,
                          const std::string& outer_split, uint32_t k, TuneOptions* o) const {
  o->kind = kind;
  const std::string spec = space.empty() ? DefaultSearchSpace(kind, feedback) : space;
  ENCORE_ASSIGN_OR_RETURN(o->space, ParseSearchSpace(spec));
  ENCORE_ASSIGN_OR_RETURN(o->method, ParseSearchMethod(search));
  o->trials = trials;
  o->time_budget_seconds = time_budget;
  o->grid_points = grid_points;
  o->eta = eta;
  o->folds = folds;
  std::string inner = split;
  if (inner.empty()) {
    inner = outer_split == "user" || outer_split == "random"
                ? outer_split
                : (feedback == Feedback::kExplicit ? "random" : "user");
  }
  if (inner != "user" && inner != "random") {
    return Status::InvalidArgument("inner folds: split '" + inner + "' is not random or user");
  }
  o->per_user = inner == "user";
  std::string m = metric;
  if (m.empty()) m = feedback == Feedback::kExplicit ? "rmse" : "ndcg@10";
  ENCORE_ASSIGN_OR_RETURN(std::vector<Metric> parsed, ParseMetrics(m, k));
  if (parsed.size() != 1) return Status::InvalidArgument("--metric takes one metric");
  o->select_by = parsed.front();
  return Status::OK();
}

int RunNestedEvaluation(const TuneFlags& flags, const std::string& kind, const ModelParams& base,
                        const Dataset& data, Feedback feedback, const std::string& outer_split,
                        uint32_t min_train, uint64_t seed, uint32_t k, const FoldAssignment& outer,
                        const std::vector<Metric>& metrics, const EvalOptions& eval,
                        EvaluationSummary summary, bool json) {
  TuneOptions o;
  if (Status s = flags.Resolve(kind, feedback, outer_split, k, &o); !s.ok()) {
    return PrintError(s);
  }
  o.base = base;
  o.min_train = min_train;
  o.seed = seed;
  o.metrics = {o.select_by};
  o.eval = eval;
  Result<NestedReport> nested = NestedEvaluate(data, outer, o, metrics);
  if (!nested.ok()) return PrintError(nested.status());
  summary.protocol += "; parameters tuned inside each outer training part (" +
                      std::string(SearchMethodName(o.method)) + " search, " +
                      nested->tuning.front().protocol + ", by " + o.select_by.Name() + ")";
  summary.result = nested->outer;
  std::string out;
  if (json) {
    out = FormatEvaluationJson(summary);
    // Append the per-fold choices as one more member of the object.
    const size_t close = out.find_last_of('}');
    out = out.substr(0, close);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    std::string choices = FormatNestedChoicesJson(*nested);
    std::string indented;
    for (char c : choices) {
      indented += c;
      if (c == '\n') indented += "  ";
    }
    out += ",\n  \"tuning\": " + indented + "\n}\n";
  } else {
    out = FormatEvaluationTable(summary) + FormatNestedChoices(*nested);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace encore::cli
