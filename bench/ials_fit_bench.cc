// ials_fit_bench: times one model fit on a CSV of interactions.
//
//   build/release/encore generate --profile plays --users 200000
//       --items 50000 --rows 5500000 --seed 1 --out /tmp/plays5m
//   build/release/bench/ials_fit_bench /tmp/plays5m/plays.csv
//       [factors=64] [iterations=15] [threads=2] [solver=cg] [cg_steps=3] [model=ials]
//
// Prints the load time, the fit time and the peak resident set size before
// and after the fit (the process's high-water mark, from /proc/self/status).

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "encore/dataset.h"
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
  std::printf("loaded %u users x %u items, %llu nonzeros in %.2f s; peak RSS %.0f MiB\n",
              data->by_user.rows, data->by_user.cols,
              static_cast<unsigned long long>(data->nnz()), Seconds(start),
              ProcStatusMiB("VmHWM:"));
  const double rss_before = ProcStatusMiB("VmRSS:");

  auto m = encore::CreateRecommender(model, params);
  if (!m.ok()) {
    std::fprintf(stderr, "%s\n", m.status().ToString().c_str());
    return 1;
  }
  start = std::chrono::steady_clock::now();
  Status s = (*m)->Fit(*data);
  const double fit = Seconds(start);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("%s fit: factors=%u iterations=%u threads=%d solver=%s cg_steps=%u: %.2f s "
              "(%.3f s/iteration)\n",
              model.c_str(), params.factors, params.iterations, params.threads,
              params.solver == encore::Solver::kCg ? "cg" : "cholesky", params.cg_steps, fit,
              params.iterations ? fit / params.iterations : 0.0);
  std::printf("RSS before fit %.0f MiB, after %.0f MiB, peak %.0f MiB\n", rss_before,
              ProcStatusMiB("VmRSS:"), ProcStatusMiB("VmHWM:"));

  // A quick sanity check and a batch timing over the first 10,000 users.
  std::vector<uint32_t> users;
  for (uint32_t u = 0; u < std::min<uint32_t>(10000, (*m)->num_users()); ++u) users.push_back(u);
  encore::QueryOptions q;
  q.n = 10;
  std::vector<std::vector<encore::ScoredItem>> out;
  start = std::chrono::steady_clock::now();
  (*m)->RecommendBatch(users, q, &out);
  std::printf("batch top-10 for %zu users: %.2f s\n", users.size(), Seconds(start));
  return 0;
}
