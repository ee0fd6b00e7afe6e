// Offline replay (encore/replay.h): logged events split at a period, each
// model's fold-in top-N from the history before it, ranking metrics from
// encore/evaluate.h, paired bootstrap differences against the first model.

#include "encore/replay.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "encore/rank.h"
#include "encore/recommender.h"
#include "util/json_writer.h"
#include "util/random.h"
#include "util/threads.h"

namespace encore {
namespace {

std::string Fixed(double v, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// One evaluated user: history (log item index -> summed weight) and the
// period's new items (log item indices, sorted).
struct ReplayUser {
  std::vector<std::pair<uint32_t, float>> history;
  std::vector<uint32_t> relevant;
};

double UserMetric(const Metric& m, std::span<const uint32_t> rec,
                  std::span<const uint32_t> relevant) {
  switch (m.kind) {
    case MetricKind::kPrecision:
      return PrecisionAtK(rec, relevant, m.k);
    case MetricKind::kRecall:
      return RecallAtK(rec, relevant, m.k);
    case MetricKind::kMap:
      return AveragePrecisionAtK(rec, relevant, m.k);
    case MetricKind::kNdcg:
      return NdcgAtK(rec, relevant, m.k);
    case MetricKind::kHitRate:
      return HitAtK(rec, relevant, m.k);
    default:
      return 0;
  }
}

}  // namespace

Result<ReplayReport> ReplayModels(const ReplayOptions& options) {
  if (options.models.size() < 2) {
    return Status::InvalidArgument(
        "replay needs two or more models to compare (--model NAME=MODEL_FILE, repeated); the "
        "first is the baseline");
  }
  if (options.stop <= options.start) {
    return Status::InvalidArgument("the replay period is empty: --to must be after --from");
  }
  if (options.metrics.empty()) return Status::InvalidArgument("no metric to compute");
  uint32_t n = 0;
  for (const Metric& m : options.metrics) {
    if (!m.IsRanking() || m.kind == MetricKind::kCoverage) {
      return Status::InvalidArgument(
          "replay computes per-user ranking metrics (precision, recall, map, ndcg, hit); " +
          m.Name() + " is not one");
    }
    n = std::max(n, m.k);
  }
  if (options.bootstrap < 100) {
    return Status::InvalidArgument("--bootstrap must be at least 100 replications (e.g. 1000)");
  }
  if (!(options.confidence > 0 && options.confidence < 1)) {
    return Status::InvalidArgument("confidence must be between 0 and 1 (e.g. 0.95)");
  }
  auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };

  // The models first: a bad model file fails before a long read.
  std::vector<TrainedModel> models;
  for (const ReplayModel& m : options.models) {
    auto loaded = LoadModel(m.path);
    if (!loaded.ok()) {
      // LoadModel's message names the path; say which --model gave it.
      std::string msg = loaded.status().message();
      const std::string hint = "; check --model-file";
      if (msg.size() >= hint.size() &&
          msg.compare(msg.size() - hint.size(), hint.size(), hint) == 0)
        msg.resize(msg.size() - hint.size());
      return Status(loaded.status().code(), "--model " + m.name + "=" + m.path + ": " + msg);
    }
    loaded->model->set_threads(1);  // parallel over users instead
    models.push_back(std::move(*loaded));
  }

  ReadReport read;
  log("replay: reading " + std::to_string(options.input.files.size()) + " event file(s)");
  auto events = ReadInput(options.input, &read);
  if (!events.ok()) return events.status();
  const InteractionLog& ev = *events;
  if (!ev.has_times) {
    return Status::InvalidArgument(
        "the events have no time column, so there is no period to replay; name it with "
        "--time-col");
  }
  auto resolved = ResolveInput(options.input);
  if (!resolved.ok()) return resolved.status();
  std::vector<float> weight_of;
  if (ev.has_events && !resolved->dataset.weights.empty()) {
    weight_of.assign(ev.events.size(), 0.0f);
    for (uint32_t e = 0; e < ev.events.size(); ++e) {
      auto it = resolved->dataset.weights.find(std::string(ev.events.Name(e)));
      if (it != resolved->dataset.weights.end()) weight_of[e] = it->second;
    }
  }

  ReplayReport report;
  report.start = options.start;
  report.stop = options.stop;
  report.metrics = options.metrics;
  report.bootstrap = options.bootstrap;
  report.confidence = options.confidence;
  report.seed = options.seed;
  report.rows = ev.size();

  // Per log user: history and period items.
  std::unordered_map<uint32_t, std::unordered_map<uint32_t, float>> history;
  std::unordered_map<uint32_t, std::vector<uint32_t>> period;
  for (size_t r = 0; r < ev.size(); ++r) {
    const int64_t t = ev.time[r];
    const uint32_t u = ev.user[r], i = ev.item[r];
    if (t < options.start) {
      ++report.rows_before;
      const float w = weight_of.empty() ? ev.value[r] : ev.value[r] * weight_of[ev.event[r]];
      history[u][i] += w;
    } else if (t < options.stop) {
      ++report.rows_in_period;
      period[u].push_back(i);
    } else {
      ++report.rows_after;
    }
  }
  report.users_active = period.size();
  std::vector<uint32_t> user_ids;
  std::vector<ReplayUser> users;
  {
    std::vector<uint32_t> active;
    for (const auto& [u, _] : period) active.push_back(u);
    std::sort(active.begin(), active.end());  // deterministic order
    for (uint32_t u : active) {
      auto h = history.find(u);
      if (h == history.end()) {
        ++report.users_without_history;
        continue;
      }
      ReplayUser ru;
      for (const auto& [i, w] : h->second) ru.history.emplace_back(i, w);
      std::sort(ru.history.begin(), ru.history.end());
      for (uint32_t i : period[u]) {
        if (!h->second.count(i)) ru.relevant.push_back(i);
      }
      std::sort(ru.relevant.begin(), ru.relevant.end());
      ru.relevant.erase(std::unique(ru.relevant.begin(), ru.relevant.end()), ru.relevant.end());
      if (ru.relevant.empty()) {
        ++report.users_without_new_items;
        continue;
      }
      user_ids.push_back(u);
      users.push_back(std::move(ru));
    }
  }
  report.users_evaluated = users.size();
  log("replay: " + std::to_string(ev.size()) + " rows; " + std::to_string(report.users_active) +
      " users active in the period, " + std::to_string(users.size()) + " evaluated");
  if (users.empty()) {
    return Status::FailedPrecondition(
        "no user active in the period has both history before it and an item in it that is not "
        "in that history (" +
        std::to_string(report.users_active) + " active, " +
        std::to_string(report.users_without_history) + " without history, " +
        std::to_string(report.users_without_new_items) +
        " without new items); choose a later --from or a longer period");
  }

  // Per model and user: the metric values.
  const size_t nm = options.metrics.size(), nu = users.size();
  std::vector<std::vector<double>> per_user(models.size());  // [model][user * nm + metric]
  const int threads = ResolveThreads(options.threads);
  for (size_t mi = 0; mi < models.size(); ++mi) {
    const TrainedModel& tm = models[mi];
    ReplayModelReport mr;
    mr.name = options.models[mi].name;
    mr.path = options.models[mi].path;
    mr.kind = tm.model->kind();
    // Log item index -> model item index; unknown items map past the model's
    // items (distinct, so they stay relevant and are never hit).
    std::vector<uint32_t> to_model(ev.items.size());
    uint32_t next_unknown = tm.model->num_items();
    std::vector<char> known(ev.items.size(), 0);
    for (uint32_t i = 0; i < ev.items.size(); ++i) {
      auto found = tm.items.Find(ev.items.Name(i));
      known[i] = found.has_value();
      to_model[i] = found ? *found : next_unknown++;
    }
    const Ranker ranker(*tm.model);
    QueryOptions query;
    query.n = n;
    query.exclude_seen = true;
    std::vector<double>& values = per_user[mi];
    values.assign(nu * nm, 0.0);
    uint64_t unknown = 0, cold = 0;
    Status failed;
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads) reduction(+ : unknown, cold)
    for (size_t q = 0; q < nu; ++q) {
      const ReplayUser& ru = users[q];
      std::vector<ItemWeight> items;
      for (const auto& [i, w] : ru.history) {
        if (known[i]) {
          items.push_back({to_model[i], w});
        } else {
          ++unknown;
        }
      }
      std::vector<uint32_t> recommended, relevant;
      if (items.empty()) {
        ++cold;  // nothing to fold in: an empty list, every metric 0
      } else {
        auto ranked = ranker.RankFoldIn(items, query);
        if (!ranked.ok()) {
#pragma omp critical
          if (failed.ok()) failed = ranked.status();
          continue;
        }
        for (const ScoredItem& s : *ranked) recommended.push_back(s.item);
      }
      for (uint32_t i : ru.relevant) relevant.push_back(to_model[i]);
      std::sort(relevant.begin(), relevant.end());
      for (size_t j = 0; j < nm; ++j) {
        values[q * nm + j] = UserMetric(options.metrics[j], recommended, relevant);
      }
    }
    if (!failed.ok()) return failed;
    mr.unknown_history_items = unknown;
    mr.users_without_known_history = cold;
    for (size_t j = 0; j < nm; ++j) {
      double sum = 0;
      for (size_t q = 0; q < nu; ++q) sum += values[q * nm + j];
      mr.values.push_back(sum / nu);
    }
    log("replay: model " + mr.name + " (" + mr.kind + "): " + std::to_string(nu) + " users ranked");
    report.models.push_back(std::move(mr));
  }

  // Paired differences against the baseline: the same bootstrap resamples
  // of users for every model and metric (one seeded stream).
  std::vector<std::vector<uint32_t>> draws(options.bootstrap, std::vector<uint32_t>(nu));
  {
    SplitMix64 rng(options.seed);
    for (auto& d : draws) {
      for (auto& x : d) x = static_cast<uint32_t>(rng.Below(nu));
    }
  }
  const double alpha = 1 - options.confidence;
  for (size_t mi = 1; mi < models.size(); ++mi) {
    for (size_t j = 0; j < nm; ++j) {
      std::vector<double> d(nu);
      double mean = 0;
      for (size_t q = 0; q < nu; ++q) {
        d[q] = per_user[mi][q * nm + j] - per_user[0][q * nm + j];
        mean += d[q];
      }
      mean /= nu;
      double var = 0;
      for (double x : d) var += (x - mean) * (x - mean);
      var = nu > 1 ? var / (nu - 1) : 0;
      std::vector<double> means(options.bootstrap);
      for (size_t b = 0; b < draws.size(); ++b) {
        double s = 0;
        for (uint32_t x : draws[b]) s += d[x];
        means[b] = s / nu;
      }
      std::sort(means.begin(), means.end());
      auto quantile = [&](double p) {
        const double pos = p * (means.size() - 1);
        const size_t lo = static_cast<size_t>(std::floor(pos));
        const size_t hi = std::min(lo + 1, means.size() - 1);
        return means[lo] + (pos - lo) * (means[hi] - means[lo]);
      };
      ReplayDifference diff;
      diff.model = report.models[mi].name;
      diff.baseline = report.models[0].name;
      diff.metric = options.metrics[j];
      diff.mean = mean;
      diff.stderr_ = std::sqrt(var / nu);
      diff.low = quantile(alpha / 2);
      diff.high = quantile(1 - alpha / 2);
      report.differences.push_back(diff);
    }
  }
  return report;
}

std::string ReplayReportText(const ReplayReport& r) {
  std::string s;
  auto line = [&](std::string x) {
    while (!x.empty() && x.back() == ' ') x.pop_back();  // padded columns
    s += x + "\n";
  };
  line("replay of [" + std::to_string(r.start) + ", " + std::to_string(r.stop) +
       ") (unix seconds): rows " + std::to_string(r.rows) + " (before " +
       std::to_string(r.rows_before) + ", in the period " + std::to_string(r.rows_in_period) +
       ", after " + std::to_string(r.rows_after) + ")");
  line("users active " + std::to_string(r.users_active) + ": evaluated " +
       std::to_string(r.users_evaluated) + ", without history " +
       std::to_string(r.users_without_history) + ", without new items " +
       std::to_string(r.users_without_new_items));
  line("");
  std::string header = "model";
  header.resize(24, ' ');
  for (const Metric& m : r.metrics) {
    std::string name = m.Name();
    name.resize(std::max<size_t>(name.size() + 2, 14), ' ');
    header += name;
  }
  line(header);
  for (const auto& m : r.models) {
    std::string row = m.name + " (" + m.kind + ")";
    if (row.size() < 24) row.resize(24, ' ');
    for (size_t j = 0; j < r.metrics.size(); ++j) {
      std::string v = Fixed(m.values[j], 4);
      v.resize(std::max<size_t>(r.metrics[j].Name().size() + 2, 14), ' ');
      row += v;
    }
    line(row);
  }
  for (const auto& m : r.models) {
    if (m.unknown_history_items || m.users_without_known_history) {
      line("  " + m.name + ": " + std::to_string(m.unknown_history_items) +
           " history items unknown to the model, " + std::to_string(m.users_without_known_history) +
           " users with no known history (empty lists)");
    }
  }
  line("");
  line("difference against " + (r.models.empty() ? std::string() : r.models[0].name) +
       " (paired over users; " + Fixed(100 * r.confidence, 0) + "% paired bootstrap interval, " +
       std::to_string(r.bootstrap) + " replications, seed " + std::to_string(r.seed) + ")");
  for (const auto& d : r.differences) {
    const bool sure = d.low > 0 || d.high < 0;
    line("  " + d.model + " " + d.metric.Name() + ": " + (d.mean >= 0 ? "+" : "") +
         Fixed(d.mean, 4) + " [" + Fixed(d.low, 4) + ", " + Fixed(d.high, 4) + "]  se " +
         Fixed(d.stderr_, 4) + (sure ? (d.mean > 0 ? "  better" : "  worse") : "  no difference"));
  }
  return s;
}

std::string ReplayReportJson(const ReplayReport& r) {
  JsonWriter w;
  w.BeginObject();
  w.Key("period");
  w.BeginObject();
  w.Key("start");
  w.Int(r.start);
  w.Key("stop");
  w.Int(r.stop);
  w.EndObject();
  w.Key("rows");
  w.BeginObject();
  w.Key("read");
  w.Uint(r.rows);
  w.Key("before");
  w.Uint(r.rows_before);
  w.Key("in_period");
  w.Uint(r.rows_in_period);
  w.Key("after");
  w.Uint(r.rows_after);
  w.EndObject();
  w.Key("users");
  w.BeginObject();
  w.Key("active");
  w.Uint(r.users_active);
  w.Key("evaluated");
  w.Uint(r.users_evaluated);
  w.Key("without_history");
  w.Uint(r.users_without_history);
  w.Key("without_new_items");
  w.Uint(r.users_without_new_items);
  w.EndObject();
  w.Key("metrics");
  w.BeginArray();
  for (const Metric& m : r.metrics) w.String(m.Name());
  w.EndArray();
  w.Key("models");
  w.BeginArray();
  for (const auto& m : r.models) {
    w.BeginObject();
    w.Key("name");
    w.String(m.name);
    w.Key("path");
    w.String(m.path);
    w.Key("kind");
    w.String(m.kind);
    w.Key("metrics");
    w.BeginObject();
    for (size_t j = 0; j < r.metrics.size(); ++j) {
      w.Key(r.metrics[j].Name());
      w.Double(m.values[j]);
    }
    w.EndObject();
    w.Key("unknown_history_items");
    w.Uint(m.unknown_history_items);
    w.Key("users_without_known_history");
    w.Uint(m.users_without_known_history);
    w.EndObject();
  }
  w.EndArray();
  w.Key("differences");
  w.BeginArray();
  for (const auto& d : r.differences) {
    w.BeginObject();
    w.Key("model");
    w.String(d.model);
    w.Key("baseline");
    w.String(d.baseline);
    w.Key("metric");
    w.String(d.metric.Name());
    w.Key("mean");
    w.Double(d.mean);
    w.Key("stderr");
    w.Double(d.stderr_);
    w.Key("low");
    w.Double(d.low);
    w.Key("high");
    w.Double(d.high);
    w.EndObject();
  }
  w.EndArray();
  w.Key("bootstrap");
  w.BeginObject();
  w.Key("replications");
  w.Uint(r.bootstrap);
  w.Key("confidence");
  w.Double(r.confidence);
  w.Key("seed");
  w.Uint(r.seed);
  w.EndObject();
  w.EndObject();
  return w.str();
}

}  // namespace encore
