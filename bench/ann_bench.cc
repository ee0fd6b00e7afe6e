// ann_bench: recall@10 of the HNSW index (encore/ann.h) against exact
// inner-product search, and the speed-up, on generated factor vectors.
//
//   build/release/bench/ann_bench [items=50000] [dim=32] [queries=1000]
//       [ef=10,20,40,80,160,320] [m=16] [ef_construction=100] [threads=2] [seed=1]
//
// Items: `dim`-dimensional vectors shaped like trained factors: 64 taste
// clusters (a random centre per cluster plus N(0, 0.5^2) noise per item) and
// a log-normal scale per item (sd 0.5), so norms vary as they do between
// popular and rare items. Queries are drawn the same way (users). Exact
// search scans every item (one dot product each, the work of the fold-in
// route) and keeps the top 10; approximate search asks the index for 10 at
// each ef. Queries run one at a time on one thread (per-query latency);
// the build uses `threads`. Prints a Markdown table, then one JSON line.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "encore/ann.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

double RssMiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

std::vector<float> Generate(uint64_t n, uint32_t dim, const std::vector<float>& centres,
                            std::mt19937_64* rng) {
  std::normal_distribution<float> noise(0, 0.5f), scale(0, 0.5f);
  std::uniform_int_distribution<uint32_t> pick(0, centres.size() / dim - 1);
  std::vector<float> v(n * dim);
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t c = pick(*rng);
    const float s = std::exp(scale(*rng));
    for (uint32_t p = 0; p < dim; ++p) {
      v[i * dim + p] = s * (centres[uint64_t{c} * dim + p] + noise(*rng));
    }
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t items = 50000, queries = 1000, seed = 1;
  uint32_t dim = 32;
  std::vector<uint32_t> efs = {10, 20, 40, 80, 160, 320};
  encore::AnnOptions o;
  o.threads = 2;
  for (int a = 1; a < argc; ++a) {
    std::string arg = argv[a];
    const size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "ann_bench: arguments are key=value: %s\n", arg.c_str());
      return 2;
    }
    const std::string key = arg.substr(0, eq), value = arg.substr(eq + 1);
    if (key == "items")
      items = std::stoull(value);
    else if (key == "dim")
      dim = static_cast<uint32_t>(std::stoul(value));
    else if (key == "queries")
      queries = std::stoull(value);
    else if (key == "seed")
      seed = std::stoull(value);
    else if (key == "m")
      o.m = static_cast<uint32_t>(std::stoul(value));
    else if (key == "ef_construction")
      o.ef_construction = static_cast<uint32_t>(std::stoul(value));
    else if (key == "threads")
      o.threads = std::stoi(value);
    else if (key == "ef") {
      efs.clear();
      std::stringstream in(value);
      std::string piece;
      while (std::getline(in, piece, ',')) efs.push_back(static_cast<uint32_t>(std::stoul(piece)));
    } else {
      std::fprintf(stderr, "ann_bench: unknown argument '%s'\n", key.c_str());
      return 2;
    }
  }
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> unit(0, 1);
  std::vector<float> centres(64 * uint64_t{dim});
  for (float& x : centres) x = unit(rng);
  const std::vector<float> item_vectors = Generate(items, dim, centres, &rng);
  const std::vector<float> query_vectors = Generate(queries, dim, centres, &rng);

  const double rss_before = RssMiB();
  auto start = std::chrono::steady_clock::now();
  std::fprintf(stderr,
               "ann_bench: building the index of %llu items (dim %u, m %u, "
               "ef_construction %u, %d threads)...\n",
               static_cast<unsigned long long>(items), dim, o.m, o.ef_construction, o.threads);
  auto index = encore::AnnIndex::BuildFromVectors(item_vectors, dim, 0, o);
  if (!index.ok()) {
    std::fprintf(stderr, "ann_bench: %s\n", index.status().ToString().c_str());
    return 1;
  }
  const double build_seconds = Seconds(start);
  const double index_mib = RssMiB() - rss_before;
  std::fprintf(stderr, "ann_bench: built in %.1f s; exact search of %llu queries...\n",
               build_seconds, static_cast<unsigned long long>(queries));

  // Exact: a full scan per query.
  std::vector<std::vector<uint32_t>> truth(queries);
  start = std::chrono::steady_clock::now();
  std::vector<std::pair<float, uint32_t>> all(items);
  for (uint64_t q = 0; q < queries; ++q) {
    const float* x = query_vectors.data() + q * dim;
    for (uint64_t i = 0; i < items; ++i) {
      const float* y = item_vectors.data() + i * dim;
      float s = 0;
      for (uint32_t p = 0; p < dim; ++p) s += x[p] * y[p];
      all[i] = {s, static_cast<uint32_t>(i)};
    }
    std::partial_sort(all.begin(), all.begin() + 10, all.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    for (int k = 0; k < 10; ++k) truth[q].push_back(all[k].second);
  }
  const double exact_ms = Seconds(start) * 1000.0 / static_cast<double>(queries);

  std::printf(
      "items %llu, dim %u, m %u, ef_construction %u: build %.1f s (%d threads), "
      "index ~%.0f MiB; exact scan %.3f ms/query\n\n",
      static_cast<unsigned long long>(items), dim, o.m, o.ef_construction, build_seconds, o.threads,
      index_mib, exact_ms);
  std::printf("| ef | recall@10 | ms/query | speed-up vs exact |\n| ---: | ---: | ---: | ---: |\n");
  std::string json = "{\"items\":" + std::to_string(items) + ",\"dim\":" + std::to_string(dim) +
                     ",\"m\":" + std::to_string(o.m) +
                     ",\"ef_construction\":" + std::to_string(o.ef_construction) +
                     ",\"build_seconds\":" + std::to_string(build_seconds) +
                     ",\"exact_ms\":" + std::to_string(exact_ms) + ",\"rows\":[";
  for (size_t e = 0; e < efs.size(); ++e) {
    double hits = 0;
    start = std::chrono::steady_clock::now();
    std::vector<std::vector<encore::ScoredItem>> found(queries);
    for (uint64_t q = 0; q < queries; ++q) {
      found[q] = (*index)->SearchInnerProduct(query_vectors.data() + q * dim, 10, efs[e]);
    }
    const double ms = Seconds(start) * 1000.0 / static_cast<double>(queries);
    for (uint64_t q = 0; q < queries; ++q) {
      const std::set<uint32_t> t(truth[q].begin(), truth[q].end());
      for (const auto& s : found[q]) hits += t.count(s.item);
    }
    const double recall = hits / (10.0 * static_cast<double>(queries));
    std::printf("| %u | %.4f | %.4f | %.1fx |\n", efs[e], recall, ms, exact_ms / ms);
    json += std::string(e ? "," : "") + "{\"ef\":" + std::to_string(efs[e]) +
            ",\"recall\":" + std::to_string(recall) + ",\"ms\":" + std::to_string(ms) + "}";
  }
  json += "]}";
  std::printf("\n%s\n", json.c_str());
  return 0;
}
