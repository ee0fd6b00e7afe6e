// model_bench: times one model's fit and its batch top-N for every user on a
// CSV of interactions (user,item,plays as written by `encore generate`).
//
//   build/release/encore generate --profile plays --users 200000
//       --items 50000 --rows 5500000 --seed 1 --out /tmp/plays5m
//   build/release/bench/model_bench /tmp/plays5m/plays.csv
//       [model=ials] [n=10] [factors=64] [iterations=15] [threads=2] [any parameter=value]
//       [holdout=0.1] [recommend=false] [value=plays] [feedback=explicit]
//
// Prints human-readable lines, then one JSON line: load, fit and recommend
// seconds, the fit's user and system CPU seconds (getrusage), the OpenMP wait
// policy it ran with, and the resident set (RSS) before the fit and its
// high-water marks after the fit and after recommending (from
// /proc/self/status), with the model's own memory per nonzero (RSS growth
// over the loaded data). holdout=F fits on a random 1 - F of the nonzeros and
// reports the RMSE of Predict on the other F (every held-out pair);
// recommend=false skips the top-N for every user; value=COLUMN names the value
// column (default plays; rating for `encore generate --profile ratings`);
// feedback=explicit keeps one rating per pair (the latest) instead of summing.

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "encore/dataset.h"
#include "encore/evaluate.h"
#include "encore/rank.h"
#include "encore/reader.h"
#include "encore/recommender.h"
#include "util/threads.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// VmHWM or VmRSS in MiB.
double ProcStatusMiB(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::strlen(key) + 1)) / 1024.0;
  }
  return 0;
}

// User and system CPU seconds of the process so far (all threads).
std::pair<double, double> CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return {sec(u.ru_utime), sec(u.ru_stime)};
}

}  // namespace

int main(int argc, char** argv) {
  using encore::Status;
  // As `encore` does: OMP_WAIT_POLICY=PASSIVE unless set (util/threads.h).
  encore::ReexecWithRuntimeDefaults(argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s plays.csv [name=value ...]\n", argv[0]);
    return 2;
  }
  std::string model = "ials";
  uint32_t n = 10;
  double holdout = 0;
  bool recommend_all = true;
  std::string value_column = "plays";
  bool explicit_feedback = false;
  encore::ModelParams params;
  params.factors = 64;
  params.iterations = 15;
  params.threads = 2;
  for (int a = 2; a < argc; ++a) {
    std::string arg = argv[a];
    const size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "expected name=value, got '%s'\n", argv[a]);
      return 2;
    }
    if (arg.substr(0, eq) == "model") {
      model = arg.substr(eq + 1);
      continue;
    }
    if (arg.substr(0, eq) == "n") {
      n = static_cast<uint32_t>(std::stoul(arg.substr(eq + 1)));
      continue;
    }
    if (arg.substr(0, eq) == "holdout") {
      holdout = std::stod(arg.substr(eq + 1));
      continue;
    }
    if (arg.substr(0, eq) == "recommend") {
      recommend_all = arg.substr(eq + 1) != "false";
      continue;
    }
    if (arg.substr(0, eq) == "feedback") {
      explicit_feedback = arg.substr(eq + 1) == "explicit";
      continue;
    }
    if (arg.substr(0, eq) == "value") {
      value_column = arg.substr(eq + 1);
      continue;
    }
    Status s = encore::SetModelParam(&params, arg.substr(0, eq), arg.substr(eq + 1));
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 2;
    }
  }

  auto start = std::chrono::steady_clock::now();
  encore::ReadOptions read;
  read.value_col = encore::ColumnRef::Parse(value_column);
  encore::ReadReport report;
  auto log = encore::ReadInteractions({argv[1]}, read, &report);
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
    return 1;
  }
  encore::DatasetOptions options;
  options.keep_times = false;
  options.threads = params.threads;
  if (explicit_feedback) options.feedback = encore::Feedback::kExplicit;
  auto data = encore::BuildDataset(std::move(log).value(), options);
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    return 1;
  }
  encore::CsrMatrix test;
  if (holdout > 0) {
    encore::SplitOptions split;
    split.test_fraction = holdout;
    split.seed = 7;
    split.threads = params.threads;
    auto folds = encore::HoldoutSplit(*data, split);
    if (!folds.ok()) {
      std::fprintf(stderr, "%s\n", folds.status().ToString().c_str());
      return 1;
    }
    encore::TrainTest tt = encore::MakeTrainTest(*data, *folds, 0, params.threads);
    *data = std::move(tt.train);
    test = std::move(tt.test);
  }
  const double load = Seconds(start);
  std::printf("loaded %u users x %u items, %llu nonzeros in %.2f s; peak RSS %.0f MiB\n",
              data->by_user.rows, data->by_user.cols, static_cast<unsigned long long>(data->nnz()),
              load, ProcStatusMiB("VmHWM:"));
  const double rss_before = ProcStatusMiB("VmRSS:");

  auto m = encore::CreateRecommender(model, params);
  if (!m.ok()) {
    std::fprintf(stderr, "%s\n", m.status().ToString().c_str());
    return 1;
  }
  start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  const auto [user_start, sys_start] = CpuSeconds();
  Status s = (*m)->Fit(*data);
  const double fit = Seconds(start);
  // CPU time of the fit (all threads): on a shared machine wall time depends
  // on what else runs; report both.
  const double fit_cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  const auto [user_end, sys_end] = CpuSeconds();
  const double fit_user = user_end - user_start, fit_sys = sys_end - sys_start;
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  std::printf(
      "%s fit: factors=%u iterations=%u threads=%d solver=%s cg_steps=%u: %.2f s "
      "(%.3f s/iteration), %.2f s CPU (user %.2f, system %.2f), OMP_WAIT_POLICY=%s\n",
      model.c_str(), params.factors, params.iterations, params.threads,
      params.solver == encore::Solver::kCg ? "cg" : "cholesky", params.cg_steps, fit,
      params.iterations ? fit / params.iterations : 0.0, fit_cpu, fit_user, fit_sys,
      policy ? policy : "(unset)");
  double rmse = -1;
  if (holdout > 0) {
    double se = 0;
    uint64_t pairs = 0;
    for (uint32_t u = 0; u < test.rows; ++u) {
      for (uint64_t e = test.indptr[u]; e < test.indptr[u + 1]; ++e) {
        const double d = (*m)->Predict(u, test.indices[e]) - test.values[e];
        se += d * d;
        ++pairs;
      }
    }
    rmse = pairs ? std::sqrt(se / static_cast<double>(pairs)) : 0.0;
    std::printf("holdout RMSE %.4f over %llu held-out pairs (%.0f%%)\n", rmse,
                static_cast<unsigned long long>(pairs), holdout * 100);
  }
  std::printf("RSS before fit %.0f MiB, after %.0f MiB, peak %.0f MiB\n", rss_before,
              ProcStatusMiB("VmRSS:"), ProcStatusMiB("VmHWM:"));

  const double hwm_fit = ProcStatusMiB("VmHWM:");

  // Batch top-n for every user, in blocks as `encore recommend` does.
  std::vector<uint32_t> users((*m)->num_users());
  for (uint32_t u = 0; u < users.size(); ++u) users[u] = u;
  encore::QueryOptions q;
  q.n = n;
  std::vector<std::vector<encore::ScoredItem>> out;
  uint64_t rows = 0;
  start = std::chrono::steady_clock::now();
  const std::clock_t recommend_cpu_start = std::clock();
  constexpr size_t kBlock = 4096;
  for (size_t b = 0; recommend_all && b < users.size(); b += kBlock) {
    std::span<const uint32_t> block(users.data() + b, std::min(kBlock, users.size() - b));
    RecommendBatch(*(*m), block, q, &out);
    for (const auto& list : out) rows += list.size();
  }
  const double recommend = Seconds(start);
  // CPU seconds of every thread: on a shared machine it moves far less than
  // the wall time does.
  const double recommend_cpu =
      static_cast<double>(std::clock() - recommend_cpu_start) / CLOCKS_PER_SEC;
  std::printf("batch top-%u for %zu users: %.2f s (%llu rows)\n", n, users.size(), recommend,
              static_cast<unsigned long long>(rows));
  const double nnz = static_cast<double>(data->nnz());
  std::printf(
      "{\"model\":\"%s\",\"nnz\":%llu,\"threads\":%d,\"load_seconds\":%.3f,"
      "\"fit_seconds\":%.3f,\"fit_cpu_seconds\":%.3f,\"fit_user_seconds\":%.3f,"
      "\"fit_sys_seconds\":%.3f,\"omp_wait_policy\":\"%s\",\"holdout_rmse\":%.5f,\"recommend_"
      "seconds\":%.3f,\"recommend_cpu_seconds\":%.3f,\"rss_before_fit_"
      "mib\":%.1f,"
      "\"peak_rss_fit_mib\":%.1f,\"peak_rss_recommend_mib\":%.1f,"
      "\"fit_bytes_per_nnz\":%.1f}\n",
      model.c_str(), static_cast<unsigned long long>(data->nnz()), params.threads, load, fit,
      fit_cpu, fit_user, fit_sys, policy ? policy : "", rmse, recommend, recommend_cpu, rss_before,
      hwm_fit, ProcStatusMiB("VmHWM:"), (hwm_fit - rss_before) * 1048576.0 / nnz);
  return 0;
}
