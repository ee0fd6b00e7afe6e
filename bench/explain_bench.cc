// Explanation cost and exactness (issue 14): for `queries` seeded (user,
// item) pairs of a saved model, times ExplainUser one call at a time on one
// thread and reports how well the parts add up:
//   sum error    = |base + sum of contributions - score| / max(|score|, 1e-6)
//   served gap   = |score - model_score|, against mean |model_score| for scale
// (the gap is the fold-in score against the served one; see explain.h).
//
//   build/release/bench/explain_bench MODEL_FILE [queries=2000] [seed=1]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "encore/explain.h"
#include "encore/recommender.h"
#include "util/random.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: explain_bench MODEL_FILE [queries=N] [seed=S]\n");
    return 2;
  }
  uint64_t queries = 2000, seed = 1;
  for (int a = 2; a < argc; ++a) {
    std::string arg = argv[a];
    if (arg.rfind("queries=", 0) == 0) queries = std::strtoull(arg.c_str() + 8, nullptr, 10);
    if (arg.rfind("seed=", 0) == 0) seed = std::strtoull(arg.c_str() + 5, nullptr, 10);
  }
  auto model = encore::LoadModel(argv[1]);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 1;
  }
  const encore::Recommender& m = *model->model;
  encore::SplitMix64 rng(seed);
  double seconds = 0, worst_sum = 0, worst_served = 0, mean_served = 0, history = 0, scale = 0;
  std::string first_failure;
  uint64_t done = 0, failed = 0;
  for (uint64_t q = 0; q < queries; ++q) {
    const uint32_t user = static_cast<uint32_t>(rng.Below(m.num_users()));
    const uint32_t item = static_cast<uint32_t>(rng.Below(m.num_items()));
    const auto t0 = std::chrono::steady_clock::now();
    auto e = encore::ExplainUser(m, user, item);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!e.ok()) {
      if (failed++ == 0) first_failure = e.status().ToString();
      continue;
    }
    double sum = e->base;
    for (const auto& c : e->items) sum += c.contribution;
    worst_sum = std::max(worst_sum, std::abs(sum - e->score) / std::max(std::abs(e->score), 1e-6));
    const double served = std::abs(e->score - e->model_score);
    scale += std::abs(e->model_score);
    worst_served = std::max(worst_served, served);
    mean_served += served;
    history += static_cast<double>(e->items.size());
    ++done;
  }
  std::printf(
      "model=%s users=%u items=%u queries=%llu explained=%llu failed=%llu\n"
      "mean history=%.1f items, mean time=%.1f us per explanation\n"
      "worst sum error=%.3g; served gap mean=%.3g worst=%.3g (mean |served score|=%.3g)\n%s%s",
      m.kind(), m.num_users(), m.num_items(), static_cast<unsigned long long>(queries),
      static_cast<unsigned long long>(done), static_cast<unsigned long long>(failed),
      done ? history / static_cast<double>(done) : 0.0,
      done ? 1e6 * seconds / static_cast<double>(queries) : 0.0, worst_sum,
      done ? mean_served / static_cast<double>(done) : 0.0, worst_served,
      done ? scale / static_cast<double>(done) : 0.0, failed ? "first failure: " : "",
      failed ? (first_failure + "\n").c_str() : "");
  return 0;
}
