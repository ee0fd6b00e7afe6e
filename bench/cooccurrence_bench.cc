// Benchmark of the cooccurrence model: fit, then top-N for every user.
//
//   cooccurrence_bench FILE.csv [name=value ...]
//
// FILE is a user,item[,value] CSV with a header (e.g. `encore generate
// --profile plays`); name=value pairs are model parameters (threads=2,
// neighbors=100, similarity=jaccard) plus n=N, the list length (default 20).
// Prints the data shape, the pair work sum_u |items(u)|^2, seconds and peak
// resident memory of each phase.

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "encore/dataset.h"
#include "encore/rank.h"
#include "encore/reader.h"
#include "encore/recommender.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// A /proc/self/status field in MiB (VmRSS, VmHWM).
double StatusMiB(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::strlen(field) + 1)) / 1024;
  }
  return 0;
}

// Restarts the peak (VmHWM) from the current resident size.
void ResetPeak() { std::ofstream("/proc/self/clear_refs") << "5"; }

int Fail(const encore::Status& s) {
  std::fprintf(stderr, "cooccurrence_bench: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using encore::Status;
  if (argc < 2) {
    std::fprintf(stderr, "usage: cooccurrence_bench FILE.csv [name=value ...]\n");
    return 2;
  }
  encore::ModelParams params;
  params.threads = 2;
  encore::QueryOptions query;
  query.n = 20;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    const size_t eq = arg.find('=');
    if (eq == std::string::npos) return Fail(Status::InvalidArgument("expected name=value: " + arg));
    const std::string name = arg.substr(0, eq), value = arg.substr(eq + 1);
    if (name == "n") {
      query.n = static_cast<uint32_t>(std::stoul(value));
      continue;
    }
    Status s = encore::SetModelParam(&params, name, value);
    if (!s.ok()) return Fail(s);
  }

  auto start = std::chrono::steady_clock::now();
  encore::ReadOptions read;
  encore::ReadReport report;
  auto log = encore::ReadInteractions({argv[1]}, read, &report);
  if (!log.ok()) return Fail(log.status());
  encore::DatasetOptions options;
  options.threads = params.threads;
  auto data = encore::BuildDataset(std::move(log).value(), options);
  if (!data.ok()) return Fail(data.status());
  const double load_s = Seconds(start);
  const encore::CsrMatrix& by_user = data->by_user;
  double pair_work = 0;
  uint64_t max_row = 0;
  for (uint32_t u = 0; u < by_user.rows; ++u) {
    const double len = static_cast<double>(by_user.RowLength(u));
    pair_work += len * len;
    max_row = std::max<uint64_t>(max_row, by_user.RowLength(u));
  }
  std::printf("data: %u users, %u items, %llu nonzeros, largest user %llu items, "
              "sum |items(u)|^2 = %.3g; loaded in %.2f s, resident %.0f MiB\n",
              by_user.rows, by_user.cols, static_cast<unsigned long long>(data->nnz()),
              static_cast<unsigned long long>(max_row), pair_work, load_s,
              StatusMiB("VmRSS:"));
  std::fflush(stdout);

  auto created = encore::CreateRecommender("cooccurrence", params);
  if (!created.ok()) return Fail(created.status());
  std::unique_ptr<encore::Recommender> model = std::move(created).value();
  const double before_fit = StatusMiB("VmRSS:");
  ResetPeak();
  start = std::chrono::steady_clock::now();
  Status s = model->Fit(*data);
  if (!s.ok()) return Fail(s);
  const double fit_s = Seconds(start);
  const double fit_peak = StatusMiB("VmHWM:");

  uint64_t pairs = 0;
  std::vector<encore::ScoredItem> row;
  for (uint32_t i = 0; i < model->num_items(); ++i) {
    if (model->SimilarItems(i, UINT32_MAX, &row).ok()) pairs += row.size();
  }
  const double sim_mib = (pairs * 8.0 + (model->num_items() + 1) * 8.0) / (1 << 20);
  std::printf("fit: %.2f s on %d threads; %llu item pairs kept (%.1f per item), similarity "
              "%.0f MiB; peak resident %.0f MiB (+%.0f MiB over the data, %.1f bytes per "
              "nonzero)\n",
              fit_s, params.threads, static_cast<unsigned long long>(pairs),
              static_cast<double>(pairs) / model->num_items(), sim_mib, fit_peak,
              fit_peak - before_fit, (fit_peak - before_fit) * (1 << 20) / data->nnz());

  std::vector<uint32_t> users(model->num_users());
  for (uint32_t u = 0; u < users.size(); ++u) users[u] = u;
  std::vector<std::vector<encore::ScoredItem>> out;
  ResetPeak();
  start = std::chrono::steady_clock::now();
  RecommendBatch(*model, users, query, &out);
  const double rec_s = Seconds(start);
  uint64_t returned = 0;
  for (const auto& list : out) returned += list.size();
  std::printf("recommend: top-%u for %zu users in %.2f s (%.1f us per user), %.2f items per "
              "user; peak resident %.0f MiB\n",
              query.n, users.size(), rec_s, rec_s * 1e6 / users.size(),
              static_cast<double>(returned) / users.size(), StatusMiB("VmHWM:"));

  // With neighbors = K, a user's list is certainly what keeping every pair
  // would give when every pair that may have been cut (scoring at most the
  // last kept score of a full row) scores below the user's last returned one.
  if (params.neighbors > 0) {
    std::vector<float> cut(model->num_items(), -INFINITY);
    for (uint32_t i = 0; i < model->num_items(); ++i) {
      if (model->SimilarItems(i, UINT32_MAX, &row).ok() && row.size() == params.neighbors) {
        cut[i] = row.back().score;
      }
    }
    uint64_t exact = 0;
    const encore::CsrMatrix& seen = model->seen();
    for (uint32_t u = 0; u < users.size(); ++u) {
      const float last = out[u].size() == query.n ? out[u].back().score : -INFINITY;
      float worst_cut = -INFINITY;
      for (uint64_t k = seen.indptr[u]; k < seen.indptr[u + 1]; ++k) {
        worst_cut = std::max(worst_cut, cut[seen.indices[k]]);
      }
      exact += worst_cut < last || worst_cut == -INFINITY;
    }
    std::printf("exactness: %llu of %zu users' lists (%.2f%%) are provably the same as with "
                "every pair kept\n",
                static_cast<unsigned long long>(exact), users.size(),
                100.0 * exact / users.size());
  }
  return 0;
}
