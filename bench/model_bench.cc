// model_bench: times one model's fit and its batch top-N for every user on a
// CSV of interactions (user,item,plays as written by `encore generate`).
//
//   build/release/encore generate --profile plays --users 200000
//       --items 50000 --rows 5500000 --seed 1 --out /tmp/plays5m
//   build/release/bench/model_bench /tmp/plays5m/plays.csv
//       [model=ials] [n=10] [factors=64] [iterations=15] [threads=2] [any parameter=value]
//
// Prints human-readable lines, then one JSON line: load, fit and recommend
// seconds, and the resident set (RSS) before the fit and its high-water marks
// after the fit and after recommending (from /proc/self/status), with the
// model's own memory per nonzero (RSS growth over the loaded data).

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <span>
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

// VmHWM or VmRSS in MiB.
double ProcStatusMiB(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::strlen(key) + 1)) / 1024.0;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using encore::Status;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s plays.csv [name=value ...]\n", argv[0]);
    return 2;
  }
  std::string model = "ials";
  uint32_t n = 10;
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
    Status s = encore::SetModelParam(&params, arg.substr(0, eq), arg.substr(eq + 1));
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 2;
    }
  }

  auto start = std::chrono::steady_clock::now();
  encore::ReadOptions read;
  read.value_col = encore::ColumnRef::Parse("plays");
  encore::ReadReport report;
  auto log = encore::ReadInteractions({argv[1]}, read, &report);
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
    return 1;
  }
  encore::DatasetOptions options;
  options.keep_times = false;
  options.threads = params.threads;
  auto data = encore::BuildDataset(std::move(log).value(), options);
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    return 1;
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
  Status s = (*m)->Fit(*data);
  const double fit = Seconds(start);
  // CPU time of the fit (all threads): on a shared machine wall time depends
  // on what else runs; report both.
  const double fit_cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf(
      "%s fit: factors=%u iterations=%u threads=%d solver=%s cg_steps=%u: %.2f s "
      "(%.3f s/iteration), %.2f s CPU\n",
      model.c_str(), params.factors, params.iterations, params.threads,
      params.solver == encore::Solver::kCg ? "cg" : "cholesky", params.cg_steps, fit,
      params.iterations ? fit / params.iterations : 0.0, fit_cpu);
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
  for (size_t b = 0; b < users.size(); b += kBlock) {
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
      "\"fit_seconds\":%.3f,\"fit_cpu_seconds\":%.3f,\"recommend_seconds\":%.3f,\"recommend_cpu_seconds\":%.3f,\"rss_before_fit_"
      "mib\":%.1f,"
      "\"peak_rss_fit_mib\":%.1f,\"peak_rss_recommend_mib\":%.1f,"
      "\"fit_bytes_per_nnz\":%.1f}\n",
      model.c_str(), static_cast<unsigned long long>(data->nnz()), params.threads, load, fit,
      fit_cpu, recommend, recommend_cpu, rss_before, hwm_fit, ProcStatusMiB("VmHWM:"),
      (hwm_fit - rss_before) * 1048576.0 / nnz);
  return 0;
}
