// Metrics: parsing, per-user ranking metrics and scoring a fitted model
// (definitions: docs/METRICS.md).

#include <omp.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <limits>
#include <string_view>

#include "encore/evaluate.h"
#include "encore/rank.h"
#include "util/threads.h"

namespace encore {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr uint32_t kMaxK = 100000;
// Users per block of the rating sums (fixed, so sums never depend on threads)
// and per ranker call.
constexpr uint32_t kUserBlock = 1024;
constexpr size_t kRankingBatch = 4096;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  const char* kSpace = " \t\r\n";
  const size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

bool IsRelevant(std::span<const uint32_t> relevant, uint32_t item) {
  return std::binary_search(relevant.begin(), relevant.end(), item);
}

size_t Cut(std::span<const uint32_t> recommended, uint32_t k) {
  return std::min<size_t>(recommended.size(), k);
}

uint64_t HitsAtK(std::span<const uint32_t> recommended, std::span<const uint32_t> relevant,
                 uint32_t k) {
  uint64_t hits = 0;
  for (size_t j = 0; j < Cut(recommended, k); ++j) hits += IsRelevant(relevant, recommended[j]);
  return hits;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

std::string Metric::Name() const {
  const char* base = "?";
  switch (kind) {
    case MetricKind::kRmse:
      return "rmse";
    case MetricKind::kMae:
      return "mae";
    case MetricKind::kPrecision:
      base = "precision";
      break;
    case MetricKind::kRecall:
      base = "recall";
      break;
    case MetricKind::kMap:
      base = "map";
      break;
    case MetricKind::kNdcg:
      base = "ndcg";
      break;
    case MetricKind::kHitRate:
      base = "hit";
      break;
    case MetricKind::kCoverage:
      base = "coverage";
      break;
  }
  return std::string(base) + "@" + std::to_string(k);
}

Result<std::vector<Metric>> ParseMetrics(const std::string& list, uint32_t default_k) {
  constexpr const char* kKnown =
      "; known: rmse, mae, precision@K, recall@K, map@K, ndcg@K, hit@K, coverage@K";
  if (default_k == 0 || default_k > kMaxK) {
    return Status::InvalidArgument("k must be in 1.." + std::to_string(kMaxK));
  }
  struct Parsed {
    Metric metric;
    bool has_k = false;
  };
  std::vector<Parsed> parsed;
  std::string_view rest = list;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string piece = Lower(Trim(rest.substr(0, comma)));
    if (piece.empty()) {
      return Status::InvalidArgument("metrics: empty entry in '" + list + "'" + kKnown);
    }
    const size_t at = piece.find('@');
    const std::string name = piece.substr(0, at);
    Parsed p;
    if (name == "rmse")
      p.metric.kind = MetricKind::kRmse;
    else if (name == "mae")
      p.metric.kind = MetricKind::kMae;
    else if (name == "precision")
      p.metric.kind = MetricKind::kPrecision;
    else if (name == "recall")
      p.metric.kind = MetricKind::kRecall;
    else if (name == "map")
      p.metric.kind = MetricKind::kMap;
    else if (name == "ndcg")
      p.metric.kind = MetricKind::kNdcg;
    else if (name == "hit" || name == "hitrate" || name == "hit_rate") {
      p.metric.kind = MetricKind::kHitRate;
    } else if (name == "coverage") {
      p.metric.kind = MetricKind::kCoverage;
    } else {
      return Status::InvalidArgument("unknown metric '" + piece + "'" + kKnown);
    }
    if (at != std::string::npos) {
      if (!p.metric.IsRanking()) {
        return Status::InvalidArgument("metric '" + piece + "': " + name + " takes no @k");
      }
      const std::string digits = piece.substr(at + 1);
      uint64_t k = 0;
      bool ok = !digits.empty() && digits.size() <= 9;
      for (char c : digits) ok = ok && c >= '0' && c <= '9';
      if (ok) k = std::stoull(digits);
      if (!ok || k == 0 || k > kMaxK) {
        return Status::InvalidArgument("metric '" + piece + "': k must be an integer in 1.." +
                                       std::to_string(kMaxK));
      }
      p.metric.k = static_cast<uint32_t>(k);
      p.has_k = true;
    }
    parsed.push_back(p);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  // Ranking metrics without @k: default_k; coverage: the largest other k.
  uint32_t largest = 0;
  for (Parsed& p : parsed) {
    if (!p.metric.IsRanking() || p.metric.kind == MetricKind::kCoverage) continue;
    if (!p.has_k) p.metric.k = default_k;
    largest = std::max(largest, p.metric.k);
  }
  std::vector<Metric> out;
  for (Parsed& p : parsed) {
    if (p.metric.kind == MetricKind::kCoverage && !p.has_k) {
      p.metric.k = largest > 0 ? largest : default_k;
    }
    if (std::find(out.begin(), out.end(), p.metric) == out.end()) out.push_back(p.metric);
  }
  return out;
}

double PrecisionAtK(std::span<const uint32_t> recommended, std::span<const uint32_t> relevant,
                    uint32_t k) {
  if (k == 0) return kNaN;
  return static_cast<double>(HitsAtK(recommended, relevant, k)) / k;
}

double RecallAtK(std::span<const uint32_t> recommended, std::span<const uint32_t> relevant,
                 uint32_t k) {
  if (relevant.empty()) return kNaN;
  return static_cast<double>(HitsAtK(recommended, relevant, k)) /
         static_cast<double>(relevant.size());
}

double AveragePrecisionAtK(std::span<const uint32_t> recommended,
                           std::span<const uint32_t> relevant, uint32_t k) {
  if (relevant.empty() || k == 0) return kNaN;
  double sum = 0;
  uint64_t hits = 0;
  for (size_t j = 0; j < Cut(recommended, k); ++j) {
    if (!IsRelevant(relevant, recommended[j])) continue;
    ++hits;
    sum += static_cast<double>(hits) / static_cast<double>(j + 1);
  }
  return sum / static_cast<double>(std::min<size_t>(k, relevant.size()));
}

double NdcgAtK(std::span<const uint32_t> recommended, std::span<const uint32_t> relevant,
               uint32_t k) {
  if (relevant.empty() || k == 0) return kNaN;
  double dcg = 0, ideal = 0;
  for (size_t j = 0; j < Cut(recommended, k); ++j) {
    if (IsRelevant(relevant, recommended[j])) dcg += 1.0 / std::log2(static_cast<double>(j + 2));
  }
  const size_t best = std::min<size_t>(k, relevant.size());
  for (size_t j = 0; j < best; ++j) ideal += 1.0 / std::log2(static_cast<double>(j + 2));
  return dcg / ideal;
}

double HitAtK(std::span<const uint32_t> recommended, std::span<const uint32_t> relevant,
              uint32_t k) {
  if (relevant.empty()) return kNaN;
  return HitsAtK(recommended, relevant, k) > 0 ? 1.0 : 0.0;
}

double EvalReport::Value(const Metric& metric) const {
  for (size_t j = 0; j < metrics.size(); ++j) {
    if (metrics[j] == metric) return values[j];
  }
  return kNaN;
}

Result<EvalReport> EvaluateFitted(const Recommender& model, const CsrMatrix& test,
                                  const std::vector<Metric>& metrics, const EvalOptions& options) {
  if (metrics.empty()) return Status::InvalidArgument("no metric to compute");
  if (test.rows != model.num_users() || test.cols != model.num_items() ||
      test.indptr.size() != uint64_t{test.rows} + 1) {
    return Status::InvalidArgument(
        "the test matrix is " + std::to_string(test.rows) + " x " + std::to_string(test.cols) +
        " but the model knows " + std::to_string(model.num_users()) + " users and " +
        std::to_string(model.num_items()) + " items; both must share one index space");
  }
  const auto start = std::chrono::steady_clock::now();
  const int threads = ResolveThreads(options.threads);
  EvalReport report;
  report.metrics = metrics;
  report.values.assign(metrics.size(), kNaN);
  report.test_pairs = test.nnz();

  bool want_rating = false;
  uint32_t max_k = 0;
  for (const Metric& m : metrics) {
    if (m.IsRanking()) {
      if (m.k == 0) return Status::InvalidArgument("metric " + m.Name() + ": k must be > 0");
      max_k = std::max(max_k, m.k);
    } else {
      want_rating = true;
    }
  }

  // Rating metrics: per block of users, sums in user order; blocks summed in
  // order, so the result does not depend on the thread count.
  if (want_rating) {
    const uint32_t blocks = (test.rows + kUserBlock - 1) / kUserBlock;
    struct Sums {
      double squared = 0, absolute = 0;
      uint64_t predicted = 0, dropped = 0;
    };
    std::vector<Sums> block_sums(blocks);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (uint32_t b = 0; b < blocks; ++b) {
      Sums s;
      const uint32_t end = std::min<uint64_t>(uint64_t{b + 1} * kUserBlock, test.rows);
      for (uint32_t u = b * kUserBlock; u < end; ++u) {
        for (uint64_t j = test.indptr[u]; j < test.indptr[u + 1]; ++j) {
          const uint32_t i = test.indices[j];
          if (!model.CanPredict(u, i)) {
            ++s.dropped;
            continue;
          }
          const double err = static_cast<double>(model.Predict(u, i)) - test.values[j];
          s.squared += err * err;
          s.absolute += std::fabs(err);
          ++s.predicted;
        }
      }
      block_sums[b] = s;
    }
    Sums total;
    for (const Sums& s : block_sums) {
      total.squared += s.squared;
      total.absolute += s.absolute;
      total.predicted += s.predicted;
      total.dropped += s.dropped;
    }
    report.predicted_pairs = total.predicted;
    report.dropped_pairs = total.dropped;
    if (total.predicted > 0) {
      const double n = static_cast<double>(total.predicted);
      for (size_t j = 0; j < metrics.size(); ++j) {
        if (metrics[j].kind == MetricKind::kRmse) report.values[j] = std::sqrt(total.squared / n);
        if (metrics[j].kind == MetricKind::kMae) report.values[j] = total.absolute / n;
      }
    }
  }

  // Ranking metrics: users with at least one relevant test item.
  if (max_k > 0) {
    std::vector<uint32_t> users;
    for (uint32_t u = 0; u < test.rows; ++u) {
      for (uint64_t j = test.indptr[u]; j < test.indptr[u + 1]; ++j) {
        if (!options.relevance_threshold || test.values[j] >= *options.relevance_threshold) {
          users.push_back(u);
          break;
        }
      }
    }
    report.users_evaluated = users.size();
    std::vector<double> sums(metrics.size(), 0.0);
    // Coverage: one "recommended" mark per item per coverage metric.
    std::vector<std::vector<uint8_t>> covered(metrics.size());
    for (size_t j = 0; j < metrics.size(); ++j) {
      if (metrics[j].kind == MetricKind::kCoverage) covered[j].assign(test.cols, 0);
    }
    QueryOptions query;
    query.n = max_k;
    query.exclude_seen = true;
    // Evaluation measures exactly what is served: the same ranker.
    const Ranker ranker(model);
    std::vector<std::vector<ScoredItem>> lists;
    std::vector<uint32_t> relevant, recommended;
    for (size_t first = 0; first < users.size(); first += kRankingBatch) {
      const size_t count = std::min(kRankingBatch, users.size() - first);
      ranker.RankUsers(std::span<const uint32_t>(users.data() + first, count), query, &lists);
      for (size_t q = 0; q < count; ++q) {
        const uint32_t u = users[first + q];
        relevant.clear();
        for (uint64_t j = test.indptr[u]; j < test.indptr[u + 1]; ++j) {
          if (!options.relevance_threshold || test.values[j] >= *options.relevance_threshold) {
            relevant.push_back(test.indices[j]);  // ascending within a CSR row
          }
        }
        recommended.clear();
        for (const ScoredItem& s : lists[q]) recommended.push_back(s.item);
        for (size_t j = 0; j < metrics.size(); ++j) {
          const uint32_t k = metrics[j].k;
          switch (metrics[j].kind) {
            case MetricKind::kPrecision:
              sums[j] += PrecisionAtK(recommended, relevant, k);
              break;
            case MetricKind::kRecall:
              sums[j] += RecallAtK(recommended, relevant, k);
              break;
            case MetricKind::kMap:
              sums[j] += AveragePrecisionAtK(recommended, relevant, k);
              break;
            case MetricKind::kNdcg:
              sums[j] += NdcgAtK(recommended, relevant, k);
              break;
            case MetricKind::kHitRate:
              sums[j] += HitAtK(recommended, relevant, k);
              break;
            case MetricKind::kCoverage:
              for (size_t r = 0; r < Cut(recommended, k); ++r) {
                if (recommended[r] < test.cols) covered[j][recommended[r]] = 1;
              }
              break;
            case MetricKind::kRmse:
            case MetricKind::kMae:
              break;
          }
        }
      }
    }
    if (!users.empty()) {
      const double n = static_cast<double>(users.size());
      for (size_t j = 0; j < metrics.size(); ++j) {
        if (!metrics[j].IsRanking()) continue;
        if (metrics[j].kind == MetricKind::kCoverage) {
          const auto distinct = std::count(covered[j].begin(), covered[j].end(), uint8_t{1});
          report.values[j] = test.cols == 0 ? kNaN : static_cast<double>(distinct) / test.cols;
        } else {
          report.values[j] = sums[j] / n;
        }
      }
    }
  }
  report.eval_seconds = Seconds(start);
  return report;
}

}  // namespace encore
