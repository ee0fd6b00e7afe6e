#include "pipeline/plan.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <set>

#include "encore/postgres_catalog.h"

namespace encore::pipeline {

namespace {

std::string Join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string Bytes(uint64_t n) {
  const char* units[] = {"bytes", "KB", "MB", "GB", "TB"};
  if (n < 1024) return std::to_string(n) + " bytes";
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string Percent(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", f * 100);
  return buf;
}

const char* WindowUnitName(WindowSpec::Unit u) {
  switch (u) {
    case WindowSpec::Unit::kDays:
      return "days";
    case WindowSpec::Unit::kWeeks:
      return "weeks";
    case WindowSpec::Unit::kMonths:
      return "months";
  }
  return "?";
}

std::string DescribeSource(const SourceConfig& s, const std::string& run_dir) {
  std::string out;
  if (s.generate) {
    const GenerateOptions& g = *s.generate;
    out = "generate " + std::string(GenerateProfileName(g.profile)) + " data (users " +
          std::to_string(g.users) + ", items " + std::to_string(g.items) + ", rows " +
          std::to_string(g.rows) + ", seed " + std::to_string(g.seed) + ") into " + run_dir +
          "/sources/" + s.name + "/, read " + s.generated_file;
  } else {
    out = "read " + Join(s.patterns);
  }
  out += " as " + std::string(InputFormatName(s.read.format));
  if (!s.read.obfuscate_cols.empty()) {
    out += "; obfuscate " + Join(s.read.obfuscate_cols) + " (key from " +
           (!s.input.obfuscation_key_file.empty()
                ? "file " + s.input.obfuscation_key_file
                : "$" + (s.input.obfuscation_key_env.empty() ? std::string(Obfuscator::kKeyEnvVar)
                                                             : s.input.obfuscation_key_env)) +
           ")";
  }
  if (!s.read.known_events.empty()) out += "; events " + Join(s.read.known_events);
  if (s.read.max_bad_rows > 0) {
    out += "; up to " + std::to_string(s.read.max_bad_rows) + " bad rows";
  }
  return out;
}

std::string DescribePrepare(const PrepareConfig& p) {
  std::vector<std::string> parts;
  parts.push_back(
      p.dataset.feedback == Feedback::kExplicit
          ? std::string("explicit ratings (") +
                (p.dataset.duplicates == ExplicitDuplicates::kMean ? "mean" : "latest") +
                " of repeats)"
          : "implicit counts");
  if (!p.weights_text.empty()) parts.push_back("weights " + p.weights_text);
  if (p.dataset.transform == ValueTransform::kLog1p) parts.push_back("transform log1p");
  if (p.dataset.transform == ValueTransform::kBinary) parts.push_back("transform binary");
  if (p.window) {
    parts.push_back("window " + std::to_string(p.window->amount) + " " +
                    WindowUnitName(p.window->unit) + " before the newest event");
  }
  if (p.sample_fraction) {
    parts.push_back("sample " + Percent(*p.sample_fraction) + " of users (seed " +
                    std::to_string(p.sample_seed) + ")");
  }
  if (p.min_user_interactions > 0) {
    parts.push_back("users with >= " + std::to_string(p.min_user_interactions) + " items");
  }
  if (p.min_item_interactions > 0) {
    parts.push_back("items with >= " + std::to_string(p.min_item_interactions) + " users");
  }
  return Join(parts, "; ");
}

std::string DescribeModel(const ModelConfig& m, const std::string& run_dir) {
  std::string out = m.kind;
  std::vector<std::string> params;
  for (const auto& [k, v] : m.given) params.push_back(k + "=" + v);
  if (!params.empty()) out += " (" + Join(params) + ")";
  if (m.evaluate) {
    const EvaluateConfig& e = *m.evaluate;
    out += "; evaluate on a " + std::string(SplitMethodName(e.split.method)) + " holdout (" +
           (e.split.leave_k > 0 ? "leave " + std::to_string(e.split.leave_k) + " per user"
                                : Percent(e.split.test_fraction)) +
           ", seed " + std::to_string(e.split.seed) + ")";
    if (!e.grid.empty()) {
      std::vector<std::string> axes;
      for (const auto& a : e.grid) axes.push_back(a.name + "=[" + Join(a.values) + "]");
      out += ", " + std::to_string(e.folds) + "-fold grid " + Join(axes, " ");
    } else if (e.folds > 0) {
      out += ", " + std::to_string(e.folds) + "-fold cross-validation";
    }
    std::vector<std::string> metrics;
    for (const auto& x : e.metrics) metrics.push_back(x.Name());
    out += ", metrics " + Join(metrics);
    out += e.refit ? "; fit on all data" : "; keep the training-part fit";
  }
  out += " -> " + run_dir + "/models/" + m.name + ".model";
  return out;
}

std::string DescribeRecommend(const RecommendConfig& r) {
  std::string n = r.n > 0 ? std::to_string(r.n) : std::string("default n");
  std::string out = r.kind == RecommendKind::kSimilar
                        ? "top " + n + " similar items per item from model " + r.model
                        : "top " + n + " per user from model " + r.model +
                              (r.exclude_seen ? ", seen items excluded" : ", seen items kept");
  if (!r.users_file.empty()) out += ", ids from " + r.users_file;
  return out;
}

std::string DescribeOutput(const PipelineConfig& c, const OutputConfig& o) {
  std::string out = OutputKindName(o.kind);
  switch (o.kind) {
    case OutputKind::kCsv:
    case OutputKind::kJsonl:
      out += " -> " + OutputLocation(c, o) + "/ (" + o.prefix + "-RUNID" +
             (o.kind == OutputKind::kCsv ? "-NNNNN.csv" : ".jsonl");
      if (o.kind == OutputKind::kCsv && o.chunk_bytes > 0) {
        out += ", chunks of " + Bytes(o.chunk_bytes);
      }
      out += ", columns " + Join(o.columns) + ")";
      break;
    case OutputKind::kPostgres:
      out += " -> table " + o.table + " (conninfo " +
             (o.conninfo_env.empty() ? std::string("given") : "from $" + o.conninfo_env) +
             ", columns " + Join(o.columns) + ")";
      break;
    case OutputKind::kRetail:
      out += " feeds " +
             Join({"products", "products_card", "brands", "brands_card", "categories",
                   "categories_card"}) +
             " -> " + OutputLocation(c, o) + "/ (FEED.jsonl, _SUCCESS) and store " +
             StoreUri(c, o) + " (keep " + std::to_string(o.publish.keep) + ")";
      break;
    case OutputKind::kPublish:
      out +=
          " model " + o.model + " -> store " + StoreUri(c, o) + " (n " +
          (o.publish.n > 0 ? std::to_string(o.publish.n) : std::string("the model's")) +
          ", similar_n " + std::to_string(o.publish.similar_n) + ", keep " +
          std::to_string(o.publish.keep) +
          (o.high_water_mark == "auto" ? std::string() : ", high-water mark " + o.high_water_mark) +
          ")";
      break;
  }
  return out;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Every [retail] setting, resolved (defaults included).
std::string DescribeRetail(const PipelineConfig& c, const std::string& run_dir) {
  const RetailConfig& r = *c.retail;
  const ModelConfig* m = c.FindModel(r.model);
  const RetailRules& x = r.rules;
  std::vector<std::string> weights, score_weights;
  for (const auto& [k, v] : r.weights) weights.push_back(k + "=" + Num(v));
  for (const auto& f : ProductFeatures()) {
    auto it = r.product_score.weights.find(f.name);
    score_weights.push_back(
        std::string(f.name) + "=" +
        Num(it != r.product_score.weights.end() ? it->second : f.default_weight));
  }
  std::string where =
      r.catalog_path.empty() ? run_dir + "/sources/" + r.source + "/catalog.csv" : r.catalog_path;
  if (r.catalog_from_postgres()) {
    PostgresCatalogSource pg;
    pg.table = r.catalog_table;
    pg.query = r.catalog_query;
    where = pg.Name() + " (conninfo " +
            (r.catalog_conninfo_env.empty() ? std::string("given")
                                            : "from $" + r.catalog_conninfo_env) +
            ")";
  }
  std::string out = "catalog " + where + " (levels " + Join(r.catalog.levels) + ", max_bad_rows " +
                    std::to_string(r.catalog.max_bad_rows) + ")";
  out += "\n     roll up events of source " + r.source + " to key " + r.key + " (weights " +
         Join(weights) + "); train " + (m != nullptr ? DescribeModel(*m, run_dir) : r.model);
  out += "\n     as_of " + r.as_of_text + " (" + std::to_string(x.as_of) + ")";
  out += "\n     boost top " + std::to_string(x.boost_top) + " " + x.boost_level + " nodes of " +
         Join(x.intent_events) + " in the last " + std::to_string(x.boost_days) + " days, not " +
         Join(x.purchase_events) + ": " + (x.boost_multiply ? "score * " : "score + ") +
         Num(x.boost_value);
  out += "\n     diversity at most " + std::to_string(x.max_per_node) + " keys per " +
         x.diversity_level;
  out += "\n     availability: on sale within " + std::to_string(x.window_seconds / 3600) +
         " h of as_of, quantity >= " + std::to_string(x.min_quantity) +
         ", keys with >= " + std::to_string(x.min_saleable) + " saleable products";
  out += "\n     product score over " + std::to_string(r.product_score.interaction_days) +
         " days (clicks " + Join(r.product_score.click_events) + ", purchases " +
         Join(r.product_score.purchase_events) + "): " + Join(score_weights) + "; best " +
         std::to_string(x.products_per_key) + " per key";
  out += "\n     feeds: " + std::to_string(r.feeds.ranked_keys) + " keys ranked, at most " +
         std::to_string(x.max_products) + " products; brands by " + r.feeds.brand_level +
         ", categories by " + r.feeds.category_level + ", collections of at most " +
         std::to_string(r.feeds.collection_max_products) + " products, at least " +
         std::to_string(r.feeds.min_collection_products) + ", top " +
         std::to_string(r.feeds.card_target_count) + "; cards of " +
         std::to_string(r.feeds.card_style_listing_maximum) + " products";
  if (r.segments) {
    const SegmentsConfig& g = *r.segments;
    auto pairs = [](const std::vector<std::pair<std::string, std::string>>& p) {
      std::vector<std::string> out;
      for (const auto& [k, v] : p) out.push_back(k + "=" + v);
      return "(" + Join(out) + ")";
    };
    out += "\n     segments by " + Join(g.spec.by) + " (" + std::to_string(g.spec.buckets) +
           " equal-count buckets of numeric parts, price percentile " +
           Num(g.features.price_percentile) + ", purchases " + Join(g.features.purchase_events) +
           "; default segment " + g.spec.default_segment +
           (g.members_path.empty() ? "" : "; members file " + g.members_path) + "): one " +
           (m != nullptr ? m->kind : r.model) + " model per segment with at least " +
           std::to_string(g.min_members) + " members, smaller ones on the global model";
    if (g.size_threshold > 0) {
      out += "; >= " + std::to_string(g.size_threshold) + " members " + pairs(g.params_above) +
             ", fewer " + pairs(g.params_below);
    }
    for (const auto& [name, p] : g.overrides) out += "; segment " + name + " " + pairs(p);
    out += "; trained " +
           (g.parallel == 1
                ? std::string("one at a time")
                : (g.parallel == 0 ? std::string("as many at once as the model has threads")
                                   : "up to " + std::to_string(g.parallel) + " at once") +
                      " within " +
                      (g.memory_mb == 0 ? std::string("half the available memory")
                                        : std::to_string(g.memory_mb) + " MiB"));
    out += g.evaluate ? "; evaluated against the global model on a " + Num(g.holdout) +
                            " user holdout (manifest \"segments\")"
                      : "; not evaluated";
  }
  return out;
}

}  // namespace

std::string Stage::Label() const {
  switch (kind) {
    case StageKind::kSource:
      return "source " + name;
    case StageKind::kPrepare:
      return "prepare";
    case StageKind::kModel:
      return "model " + name;
    case StageKind::kRecommend:
      return "recommend " + name;
    case StageKind::kOutput:
      return "output " + name;
    case StageKind::kRetail:
      return "retail";
  }
  return name;
}

size_t Plan::Find(StageKind kind, const std::string& name) const {
  for (size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].kind == kind && stages[i].name == name) return i;
  }
  return std::string::npos;
}

std::vector<size_t> Plan::Lineage(size_t stage) const {
  std::vector<size_t> out;
  std::vector<size_t> todo = {stage};
  while (!todo.empty()) {
    size_t s = todo.front();
    todo.erase(todo.begin());
    if (std::find(out.begin(), out.end(), s) != out.end()) continue;
    out.push_back(s);
    for (size_t in : stages[s].inputs) todo.push_back(in);
  }
  return out;
}

Result<Plan> MakePlan(const PipelineConfig& c, const std::string& only) {
  // What to run: every output, or one and what it needs.
  std::vector<const OutputConfig*> outputs;
  if (only.empty()) {
    for (const auto& o : c.outputs) outputs.push_back(&o);
  } else {
    const OutputConfig* o = c.FindOutput(only);
    if (o == nullptr) {
      std::vector<std::string> names;
      for (const auto& x : c.outputs) names.push_back(x.name);
      std::string hint = DidYouMean(only, names);
      return Status::InvalidArgument("--only '" + only + "' names no output of " + c.file +
                                     (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                                     " Outputs: " + Join(names));
    }
    outputs.push_back(o);
  }
  std::vector<std::string> recommends, models;
  auto add = [](std::vector<std::string>* v, const std::string& s) {
    if (std::find(v->begin(), v->end(), s) == v->end()) v->push_back(s);
  };
  if (only.empty()) {
    for (const auto& r : c.recommends) add(&recommends, r.name);
    for (const auto& m : c.models) add(&models, m.name);
  }
  for (const OutputConfig* o : outputs) {
    if (!o->from.empty()) add(&recommends, o->from);
    if (!o->model.empty()) add(&models, o->model);
  }
  for (const auto& name : recommends) add(&models, c.FindRecommend(name)->model);
  bool retail = false;
  for (const OutputConfig* o : outputs) retail = retail || o->kind == OutputKind::kRetail;
  // The retail model trains on rolled-up keys in the retail stage; it is a
  // model stage only when a list or a publish output uses it as well.
  if (c.retail && only.empty()) {
    bool used = false;
    for (const auto& r : c.recommends) used = used || r.model == c.retail->model;
    for (const auto& o : c.outputs) used = used || o.model == c.retail->model;
    if (!used) std::erase(models, c.retail->model);
  }
  // Keep the file's order within each kind.
  auto in_file_order = [](std::vector<std::string> names, const auto& all) {
    std::vector<std::string> out;
    for (const auto& x : all) {
      if (std::find(names.begin(), names.end(), x.name) != names.end()) out.push_back(x.name);
    }
    return out;
  };
  models = in_file_order(models, c.models);
  recommends = in_file_order(recommends, c.recommends);

  Plan plan;
  std::vector<size_t> source_stages;
  if (!models.empty()) {
    for (const auto& s : c.prepare.sources) {
      source_stages.push_back(plan.stages.size());
      plan.stages.push_back({StageKind::kSource, s, {}});
    }
  }
  // The retail stage reads its source before [prepare] takes the logs.
  size_t retail_stage = std::string::npos;
  if (retail) {
    size_t src = plan.Find(StageKind::kSource, c.retail->source);
    if (src == std::string::npos) {
      src = plan.stages.size();
      plan.stages.push_back({StageKind::kSource, c.retail->source, {}});
    }
    retail_stage = plan.stages.size();
    plan.stages.push_back({StageKind::kRetail, "", {src}});
  }
  if (!models.empty()) plan.stages.push_back({StageKind::kPrepare, "", source_stages});
  const size_t prepare = plan.Find(StageKind::kPrepare, "");
  for (const auto& m : models) plan.stages.push_back({StageKind::kModel, m, {prepare}});
  for (const auto& r : recommends) {
    plan.stages.push_back(
        {StageKind::kRecommend, r, {plan.Find(StageKind::kModel, c.FindRecommend(r)->model)}});
  }
  for (const OutputConfig* o : outputs) {
    size_t from = o->kind == OutputKind::kPublish  ? plan.Find(StageKind::kModel, o->model)
                  : o->kind == OutputKind::kRetail ? retail_stage
                                                   : plan.Find(StageKind::kRecommend, o->from);
    plan.stages.push_back({StageKind::kOutput, o->name, {from}});
  }
  return plan;
}

std::string DescribeStage(const PipelineConfig& c, const Stage& stage, const std::string& run_dir) {
  switch (stage.kind) {
    case StageKind::kSource:
      return DescribeSource(*c.FindSource(stage.name), run_dir);
    case StageKind::kPrepare:
      return DescribePrepare(c.prepare);
    case StageKind::kModel:
      return DescribeModel(*c.FindModel(stage.name), run_dir);
    case StageKind::kRecommend:
      return DescribeRecommend(*c.FindRecommend(stage.name));
    case StageKind::kOutput:
      return DescribeOutput(c, *c.FindOutput(stage.name));
    case StageKind::kRetail:
      return DescribeRetail(c, run_dir);
  }
  return "";
}

namespace {

// The [stream] settings as `encore stream --pipeline FILE` runs them.
std::string DescribeStream(const PipelineConfig& c) {
  std::string out = "live events ([stream]; run by `encore stream --pipeline " + c.file + "`):\n";
  Result<StreamJob> r = StreamJobFor(c);
  if (!r.ok()) return out + "     ! " + r.status().message() + "\n";
  const StreamJob& j = *r;
  const ConsumerOptions& k = j.consumer;
  out += "     " + k.redis_uri + " stream " + k.stream_key + ", group " + k.group + ", consumer " +
         k.consumer + " -> store " + j.store + "\n";
  out += "     batch " + std::to_string(k.batch) + ", window " + std::to_string(k.window_ms) +
         " ms, snapshot check every " + std::to_string(k.refresh_ms) + " ms, sync " +
         c.stream->sync + ", history " + c.stream->history + ", n " +
         (j.speed.n == 0 ? std::string("the snapshot's") : std::to_string(j.speed.n)) +
         "; seen items exact up to " + std::to_string(j.speed.seen_exact_max) +
         " a user, then a Bloom filter at false-positive rate " + Num(j.speed.seen_fpr) + "\n";
  if (!k.redis_uri.empty()) {
    out += "     rejected entries -> " +
           (j.dead_letter == "none"
                ? std::string("not kept (dead_letter = \"none\")")
                : "dead-letter stream " +
                      (j.dead_letter.empty() ? k.stream_key + ":dead" : j.dead_letter)) +
           "\n";
  }
  out += "     applied event ids kept " +
         (j.speed.dedup_retention_seconds == 0
              ? std::string("for good")
              : std::to_string(j.speed.dedup_retention_seconds) +
                    " s past their event's time; older events rejected (too_old)") +
         "\n";
  std::vector<std::string> weights;
  for (const auto& [type, w] : j.speed.weights) weights.push_back(type + "=" + Num(w));
  out += "     weights " +
         (weights.empty() ? std::string("1 for every event type") : Join(weights)) +
         " (from [prepare])\n";
  if (!j.obfuscate.empty()) {
    out += "     obfuscate " + Join(j.obfuscate) + " (key from " +
           (!j.obfuscation_key_file.empty()
                ? "file " + j.obfuscation_key_file
                : "$" + (j.obfuscation_key_env.empty() ? std::string(Obfuscator::kKeyEnvVar)
                                                       : j.obfuscation_key_env)) +
           ", as the [prepare] sources)\n";
  }
  return out;
}

}  // namespace

std::string FormatPlanText(const PipelineConfig& c, const Plan& plan) {
  const std::string run_dir = c.workdir + "/runs/RUNID";
  std::string out = "pipeline " + c.name + " (" + c.file + ")\n";
  out += "workdir " + c.workdir + "\n";
  out += "run directory " + run_dir + " (manifest.json, models, generated data)\n";
  out += "stages:\n";
  for (size_t i = 0; i < plan.stages.size(); ++i) {
    const Stage& s = plan.stages[i];
    std::vector<std::string> inputs;
    for (size_t in : s.inputs) inputs.push_back(plan.stages[in].Label());
    out += "  " + std::to_string(i + 1) + ". " + s.Label();
    if (!inputs.empty()) out += " <- " + Join(inputs);
    out += "\n     " + DescribeStage(c, s, run_dir) + "\n";
    if (s.kind == StageKind::kSource) {
      const SourceConfig& src = *c.FindSource(s.name);
      for (const auto& pattern : src.patterns) {
        Result<std::vector<std::string>> files = ExpandPattern(pattern);
        if (!files.ok()) {
          out += "     ! " + files.status().message() + "\n";
          continue;
        }
        for (const auto& f : *files) out += "     file " + f + "\n";
      }
    }
  }
  if (c.stream) out += DescribeStream(c);
  return out;
}

std::string FormatExplainText(const PipelineConfig& c, const Plan& plan) {
  const std::string run_dir = c.workdir + "/runs/RUNID";
  std::string out;
  std::function<void(size_t, int)> walk = [&](size_t i, int depth) {
    const Stage& s = plan.stages[i];
    const std::string indent(2 * depth, ' ');
    out +=
        indent + (depth > 0 ? "<- " : "") + s.Label() + ": " + DescribeStage(c, s, run_dir) + "\n";
    for (size_t in : s.inputs) walk(in, depth + 1);
    if (s.kind != StageKind::kSource) return;
    const SourceConfig& src = *c.FindSource(s.name);
    const std::string file_indent(2 * (depth + 1), ' ');
    if (src.generate) {
      out += file_indent + "<- " + run_dir + "/sources/" + src.name + "/" + src.generated_file +
             " (generated by the run)\n";
    }
    for (const auto& pattern : src.patterns) {
      Result<std::vector<std::string>> files = ExpandPattern(pattern);
      if (!files.ok()) {
        out += file_indent + "<- " + pattern + " (" + files.status().message() + ")\n";
        continue;
      }
      for (const auto& f : *files) {
        struct stat st {};
        ::stat(f.c_str(), &st);
        out += file_indent + "<- " + f + " (" + Bytes(static_cast<uint64_t>(st.st_size)) + ")\n";
      }
    }
  };
  for (size_t i = 0; i < plan.stages.size(); ++i) {
    if (plan.stages[i].kind != StageKind::kOutput) continue;
    if (!out.empty()) out += "\n";
    walk(i, 0);
  }
  return out;
}

}  // namespace encore::pipeline
