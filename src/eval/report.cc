// Printing evaluation results: the table and the JSON of `encore evaluate`.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "encore/evaluate.h"
#include "eval/setting_json.h"
#include "util/json_writer.h"

namespace encore {

namespace {

std::string Number(double v) {
  if (std::isnan(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

std::string Seconds(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", v);
  return buf;
}

// Columns padded to their widest cell; the first column left-aligned, the
// rest right-aligned.
std::string Layout(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      if (c == 0) {
        line += row[c] + pad;
      } else {
        line += "  " + pad + row[c];
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

struct Totals {
  uint64_t test_pairs = 0, predicted_pairs = 0, dropped_pairs = 0, users_evaluated = 0;
  double fit_seconds = 0, eval_seconds = 0;
};

Totals Sum(const CvReport& cv) {
  Totals t;
  for (const EvalReport& r : cv.folds) {
    t.test_pairs += r.test_pairs;
    t.predicted_pairs += r.predicted_pairs;
    t.dropped_pairs += r.dropped_pairs;
    t.users_evaluated += r.users_evaluated;
    t.fit_seconds += r.fit_seconds;
    t.eval_seconds += r.eval_seconds;
  }
  return t;
}

bool AnyRating(const std::vector<Metric>& metrics) {
  return std::any_of(metrics.begin(), metrics.end(),
                     [](const Metric& m) { return !m.IsRanking(); });
}
bool AnyRanking(const std::vector<Metric>& metrics) {
  return std::any_of(metrics.begin(), metrics.end(), [](const Metric& m) { return m.IsRanking(); });
}

std::string CountsLine(const std::string& who, const CvReport& cv) {
  const Totals t = Sum(cv);
  std::string line = who + ": ";
  const char* over = cv.folds.size() > 1 ? " (all folds)" : "";
  if (AnyRating(cv.metrics)) {
    line += "test pairs " + std::to_string(t.test_pairs) + ", predicted " +
            std::to_string(t.predicted_pairs) + ", dropped " + std::to_string(t.dropped_pairs) +
            "; ";
  } else {
    line += "test pairs " + std::to_string(t.test_pairs) + "; ";
  }
  if (AnyRanking(cv.metrics)) {
    line += "users evaluated " + std::to_string(t.users_evaluated) + "; ";
  }
  return line + "fit " + Seconds(t.fit_seconds) + ", eval " + Seconds(t.eval_seconds) + over + "\n";
}

// metric | model (mean, std, folds) | baseline (mean, std)
std::string MetricTable(const std::string& model, const CvReport& cv, const CvReport* baseline) {
  const bool multi = cv.folds.size() > 1;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"metric"};
  if (multi) {
    head.push_back(model + " mean");
    head.push_back("std");
    for (size_t f = 0; f < cv.folds.size(); ++f) head.push_back("fold " + std::to_string(f + 1));
  } else {
    head.push_back(model);
  }
  if (baseline != nullptr) {
    head.push_back(multi ? std::string(kBaselineKind) + " mean" : kBaselineKind);
    if (multi) head.push_back("std");
  }
  rows.push_back(head);
  for (size_t j = 0; j < cv.metrics.size(); ++j) {
    std::vector<std::string> row = {cv.metrics[j].Name(), Number(cv.mean[j])};
    if (multi) {
      row.push_back(Number(cv.stddev[j]));
      for (const EvalReport& f : cv.folds) row.push_back(Number(f.values[j]));
    }
    if (baseline != nullptr) {
      row.push_back(Number(baseline->Mean(cv.metrics[j])));
      if (multi) {
        double sd = std::nan("");
        for (size_t b = 0; b < baseline->metrics.size(); ++b) {
          if (baseline->metrics[b] == cv.metrics[j]) sd = baseline->stddev[b];
        }
        row.push_back(Number(sd));
      }
    }
    rows.push_back(std::move(row));
  }
  return Layout(rows);
}

const ParamInfo* FindParam(const std::string& name) {
  for (const ParamInfo& info : ModelParamTable()) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

// The grid axes of a point with their canonical values, typed.
void WriteParams(JsonWriter* w, const GridPoint& p) {
  w->Key("params");
  WriteSettingJson(w, p.setting, p.params);
}

void WriteMetrics(JsonWriter* w, const std::vector<Metric>& metrics,
                  const std::vector<double>& values) {
  for (size_t j = 0; j < metrics.size(); ++j) {
    w->Key(metrics[j].Name());
    w->Double(values[j]);
  }
}

void WriteCounts(JsonWriter* w, uint64_t test, uint64_t predicted, uint64_t dropped, uint64_t users,
                 double fit, double eval) {
  w->Key("test_pairs");
  w->Uint(test);
  w->Key("predicted_pairs");
  w->Uint(predicted);
  w->Key("dropped_pairs");
  w->Uint(dropped);
  w->Key("users_evaluated");
  w->Uint(users);
  w->Key("fit_seconds");
  w->Double(fit);
  w->Key("eval_seconds");
  w->Double(eval);
}

// Members (inside an open object) describing a cross-validation result.
void WriteCv(JsonWriter* w, const CvReport& cv) {
  WriteMetrics(w, cv.metrics, cv.mean);
  const bool multi = cv.folds.size() > 1;
  if (multi) {
    w->Key("std");
    w->BeginObject();
    WriteMetrics(w, cv.metrics, cv.stddev);
    w->EndObject();
  }
  const Totals t = Sum(cv);
  WriteCounts(w, t.test_pairs, t.predicted_pairs, t.dropped_pairs, t.users_evaluated, t.fit_seconds,
              t.eval_seconds);
  if (multi) {
    w->Key("folds");
    w->BeginArray();
    for (const EvalReport& r : cv.folds) {
      w->BeginObject();
      WriteMetrics(w, r.metrics, r.values);
      WriteCounts(w, r.test_pairs, r.predicted_pairs, r.dropped_pairs, r.users_evaluated,
                  r.fit_seconds, r.eval_seconds);
      w->EndObject();
    }
    w->EndArray();
  }
}

}  // namespace

void WriteSettingJson(JsonWriter* w, const GridSetting& setting, const ModelParams& params) {
  w->BeginObject();
  for (const auto& [name, value] : setting) {
    w->Key(name);
    const ParamInfo* info = FindParam(name);
    const std::string text = info != nullptr ? info->get(params) : value;
    const std::string type = info != nullptr ? info->type : "enum";
    if (type == "bool") {
      w->Bool(text == "true");
    } else if (type == "int") {
      w->Int(std::strtoll(text.c_str(), nullptr, 10));
    } else if (type == "float") {
      w->Double(std::strtod(text.c_str(), nullptr));
    } else {
      w->String(text);
    }
  }
  w->EndObject();
}

std::string FormatEvaluationTable(const EvaluationSummary& s) {
  std::string out;
  out += "model     " + s.model + "\n";
  out += "protocol  " + s.protocol + "\n";
  if (s.grid) {
    const GridReport& g = *s.grid;
    const Metric& by = g.select_by;
    out += "\ngrid: " + std::to_string(g.points.size()) + " points, selected by " + by.Name() +
           (by.HigherIsBetter() ? " (higher is better)" : " (lower is better)") + "\n";
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> head = {""};
    const std::vector<Metric>& metrics =
        g.points.empty() ? std::vector<Metric>{} : g.points[0].result.metrics;
    if (!g.points.empty()) {
      for (const auto& [name, value] : g.points[0].setting) head.push_back(name);
    }
    for (const Metric& m : metrics) head.push_back(m.Name());
    rows.push_back(head);
    for (size_t p = 0; p < g.points.size(); ++p) {
      std::vector<std::string> row = {p == g.best ? "*" : ""};
      for (const auto& [name, value] : g.points[p].setting) row.push_back(value);
      for (size_t j = 0; j < metrics.size(); ++j) {
        row.push_back(Number(g.points[p].result.mean[j]));
      }
      rows.push_back(std::move(row));
    }
    out += Layout(rows);
    if (!g.points.empty()) {
      out += "\nbest: " + DescribeSetting(g.points[g.best].setting) + "\n";
    }
  }
  out += "\n" + MetricTable(s.model, s.result, s.baseline ? &*s.baseline : nullptr) + "\n";
  out += CountsLine(s.model, s.result);
  if (s.baseline) out += CountsLine(kBaselineKind, *s.baseline);
  for (const std::string& w : s.warnings) out += "warning: " + w + "\n";
  return out;
}

std::string RatingMetricWarning(const std::string& kind, Feedback feedback,
                                const std::vector<Metric>& metrics) {
  std::string rating;
  for (const Metric& m : metrics) {
    if (!m.IsRanking()) rating += (rating.empty() ? "" : ",") + m.Name();
  }
  if (rating.empty()) return "";
  const bool implicit_model =
      kind == "ials" || kind == "bpr" || kind == "cooccurrence" || kind == "popularity";
  if (!implicit_model && feedback == Feedback::kExplicit) return "";
  const std::string why =
      implicit_model ? kind +
                           " is an implicit model: it scores a preference (about 0 to 1), not "
                           "the stored value"
                     : "the data is read as implicit feedback (summed, weighted values), not "
                       "ratings";
  return rating + (rating.find(',') == std::string::npos ? " means" : " mean") +
         " little here: " + why +
         ", so the error mostly measures the gap between the two scales. Use ranking metrics "
         "(--metrics precision@10,ndcg@10), or for ratings --feedback explicit with als.";
}

std::string FormatEvaluationJson(const EvaluationSummary& s) {
  JsonWriter w(2);
  w.BeginObject();
  w.Key("model");
  w.String(s.model);
  w.Key("protocol");
  w.String(s.protocol);
  w.Key("num_folds");
  w.Uint(s.result.folds.size());
  WriteCv(&w, s.result);
  if (s.grid) {
    const GridReport& g = *s.grid;
    w.Key("select_by");
    w.String(g.select_by.Name());
    w.Key("grid");
    w.BeginArray();
    for (const GridPoint& p : g.points) {
      w.BeginObject();
      WriteParams(&w, p);
      WriteCv(&w, p.result);
      w.EndObject();
    }
    w.EndArray();
    if (!g.points.empty()) {
      w.Key("best");
      w.BeginObject();
      WriteParams(&w, g.points[g.best]);
      WriteMetrics(&w, g.points[g.best].result.metrics, g.points[g.best].result.mean);
      w.EndObject();
    }
  }
  if (s.baseline) {
    w.Key("baseline");
    w.BeginObject();
    WriteCv(&w, *s.baseline);
    w.EndObject();
  }
  if (!s.warnings.empty()) {
    w.Key("warnings");
    w.BeginArray();
    for (const std::string& text : s.warnings) w.String(text);
    w.EndArray();
  }
  w.EndObject();
  return w.str();
}

}  // namespace encore
