// The evaluation option table (encore/evaluate.h): one row per option of an
// EvaluationProtocol, feeding `encore evaluate`'s flags, a pipeline's
// [models.NAME.evaluate] keys and the reference in docs/METRICS.md.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "encore/evaluate.h"
#include "io/text.h"

namespace encore {

namespace {

Status ParseCount(const std::string& text, uint64_t max, uint64_t* out) {
  uint64_t x = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || x > max) {
    return Status::InvalidArgument("'" + text + "' is not an integer in 0.." +
                                   std::to_string(max));
  }
  *out = x;
  return Status::OK();
}

Status ParseNumber(const std::string& text, double* out) {
  char* end = nullptr;
  const double x = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(x)) {
    return Status::InvalidArgument("'" + text + "' is not a finite number");
  }
  *out = x;
  return Status::OK();
}

Status ParseSwitch(const std::string& text, bool* out) {
  if (text == "true" || text == "1") {
    *out = true;
  } else if (text == "false" || text == "0") {
    *out = false;
  } else {
    return Status::InvalidArgument("'" + text + "' is not true or false");
  }
  return Status::OK();
}

using P = EvaluationProtocol;
using T = EvalOptionType;

}  // namespace

const std::vector<EvalOptionInfo>& EvaluationOptionTable() {
  static const std::vector<EvalOptionInfo> kTable = {
      {"split", T::kEnum, "--split", "split", "random", "", "random,user,time",
       "Holdout split: random (of all interactions), user (within each user's) or time (by "
       "timestamp)",
       [](P* p, const std::string& v) {
         ENCORE_ASSIGN_OR_RETURN(p->split.method, ParseSplitMethod(v));
         return Status::OK();
       }},
      {"test_fraction", T::kNumber, "--test-fraction", "test_fraction", "0.2", "", "",
       "Holdout: the fraction held out (random: of all interactions; user: of each user's; "
       "time: the latest)",
       [](P* p, const std::string& v) {
         double x = 0;
         ENCORE_RETURN_IF_ERROR(ParseNumber(v, &x));
         if (!(x > 0 && x < 1)) {
           return Status::InvalidArgument("test_fraction must be in (0, 1), e.g. 0.2, not " + v);
         }
         p->split.test_fraction = x;
         return Status::OK();
       }},
      {"leave_k", T::kCount, "--leave-k", "leave_k", "0", "", "",
       "user / time split: hold out K interactions per user (random ones, or the latest) "
       "instead of a fraction",
       [](P* p, const std::string& v) {
         uint64_t x = 0;
         ENCORE_RETURN_IF_ERROR(ParseCount(v, 1000000, &x));
         p->split.leave_k = static_cast<uint32_t>(x);
         return Status::OK();
       }},
      {"cutoff", T::kTime, "--cutoff", "cutoff", "", "none", "",
       "time split: test on the interactions at or after this time (unix seconds or ISO 8601)",
       [](P* p, const std::string& v) {
         int64_t t = 0;
         if (!io::ParseTimestamp(v, TimeUnit::kAuto, &t)) {
           return Status::InvalidArgument(
               "cutoff '" + v +
               "' is not a time: give unix seconds or ISO 8601 (2015-03-01 or "
               "2015-03-01T12:00:00Z)");
         }
         p->split.cutoff = t;
         return Status::OK();
       }},
      {"min_train", T::kCount, "--min-train", "min_train", "1", "", "",
       "user / time-per-user splits and per-user folds: users who would keep fewer training "
       "interactions stay entirely in training",
       [](P* p, const std::string& v) {
         uint64_t x = 0;
         ENCORE_RETURN_IF_ERROR(ParseCount(v, 1000000, &x));
         p->split.min_train = static_cast<uint32_t>(x);
         return Status::OK();
       }},
      {"folds", T::kCount, "--folds", "folds", "0", "", "",
       "K-fold cross-validation with K folds (0 = one holdout split; a pipeline runs its grid "
       "in 3 folds of the training part when folds is 0)",
       [](P* p, const std::string& v) {
         uint64_t x = 0;
         ENCORE_RETURN_IF_ERROR(ParseCount(v, std::numeric_limits<uint32_t>::max(), &x));
         if (x != 0 && (x < 2 || x > kMaxFolds)) {
           return Status::InvalidArgument("folds must be 0 (none) or in 2.." +
                                          std::to_string(kMaxFolds) + ", e.g. 5");
         }
         p->folds = static_cast<uint32_t>(x);
         return Status::OK();
       }},
      {"seed", T::kCount, "--seed", "seed", "42", "", "",
       "Seed of the split and folds (and, on the command line, of the model)",
       [](P* p, const std::string& v) {
         uint64_t x = 0;
         ENCORE_RETURN_IF_ERROR(
             ParseCount(v, static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), &x));
         p->split.seed = x;
         return Status::OK();
       }},
      {"k", T::kCount, "--k", "k", "10", "", "", "K of ranking metrics given without @K",
       [](P* p, const std::string& v) {
         uint64_t x = 0;
         ENCORE_RETURN_IF_ERROR(ParseCount(v, 100000, &x));
         if (x == 0) return Status::InvalidArgument("k must be >= 1, e.g. 10");
         p->k = static_cast<uint32_t>(x);
         return Status::OK();
       }},
      {"metrics", T::kMetrics, "--metrics", "metrics", "",
       "rmse,mae for explicit feedback; precision,recall,map,ndcg,hit,coverage at k otherwise",
       "", "Metrics: rmse, mae, precision@K, recall@K, map@K, ndcg@K, hit@K, coverage@K",
       [](P* p, const std::string& v) {
         ENCORE_ASSIGN_OR_RETURN(std::vector<Metric> parsed, ParseMetrics(v, p->k));
         for (const Metric& m : parsed) {
           if (std::find(p->metrics.begin(), p->metrics.end(), m) == p->metrics.end()) {
             p->metrics.push_back(m);
           }
         }
         return Status::OK();
       }},
      {"select_by", T::kMetric, "--select-by", "select_by", "", "the first metric", "",
       "Grid: the metric choosing the best setting",
       [](P* p, const std::string& v) {
         ENCORE_ASSIGN_OR_RETURN(std::vector<Metric> parsed, ParseMetrics(v, p->k));
         if (parsed.size() != 1) {
           return Status::InvalidArgument("select_by takes one metric, e.g. ndcg@10, not '" + v +
                                          "'");
         }
         p->select_by = parsed.front();
         return Status::OK();
       }},
      {"relevance_threshold", T::kNumber, "--relevance-threshold", "relevance_threshold", "",
       "none (every test item is relevant)", "",
       "Ranking metrics: only test items with a value >= X are relevant (e.g. 4 for stars)",
       [](P* p, const std::string& v) {
         double x = 0;
         ENCORE_RETURN_IF_ERROR(ParseNumber(v, &x));
         p->relevance_threshold = static_cast<float>(x);
         return Status::OK();
       }},
      {"grid", T::kGrid, "--grid", "grid", "", "none", "",
       "Parameter grid: every combination is evaluated and the best one chosen",
       [](P* p, const std::string& v) {
         ENCORE_ASSIGN_OR_RETURN(p->grid, ParseGrid(v));
         return Status::OK();
       }},
      {"baseline", T::kBool, "--baseline", "baseline", "false", "", "",
       "Also evaluate the bias baseline (mean + user and item biases) on the same split or folds",
       [](P* p, const std::string& v) { return ParseSwitch(v, &p->baseline); }},
  };
  return kTable;
}

const EvalOptionInfo* FindEvaluationOption(const std::string& name) {
  for (const EvalOptionInfo& info : EvaluationOptionTable()) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

std::string EvaluationOptionDefault(const EvalOptionInfo& info) {
  return *info.default_value ? info.default_value : info.default_doc;
}

Status SetEvaluationOption(EvaluationProtocol* protocol, const std::string& name,
                           const std::string& text) {
  const EvalOptionInfo* info = FindEvaluationOption(name);
  if (info == nullptr) {
    std::string known;
    for (const EvalOptionInfo& i : EvaluationOptionTable()) {
      known += (known.empty() ? "" : ", ") + std::string(i.name);
    }
    return Status::InvalidArgument("unknown evaluation option '" + name + "'; known: " + known);
  }
  return info->set(protocol, text);
}

std::string EvaluationOptionsMarkdown() {
  auto code = [](const char* s) { return *s ? "`" + std::string(s) + "`" : std::string(); };
  std::string out =
      "| option | CLI flag | pipeline key | default | values | meaning |\n"
      "| --- | --- | --- | --- | --- | --- |\n";
  for (const EvalOptionInfo& i : EvaluationOptionTable()) {
    std::string values = i.values;
    for (size_t at = 0; (at = values.find(',', at)) != std::string::npos; at += 2) {
      values.replace(at, 1, ", ");
    }
    const std::string def =
        *i.default_value ? code(i.default_value) : std::string(i.default_doc);
    out += "| " + std::string(i.name) + " | " + code(i.flag) + " | " + code(i.pipeline_key) +
           " | " + def + " | " + values + " | " + i.help + " |\n";
  }
  return out;
}

}  // namespace encore
