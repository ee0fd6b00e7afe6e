// seen_filter_bench: what a Bloom filter kept per user instead of the exact
// seen list would save (docs/STREAMING.md#not-built-yet-issue-12).
//
// For users with n seen items (n = 1,000 .. 1,000,000, random 32-bit item
// indices), prints side by side:
//   - bytes: the exact sorted list of 32-bit indices (what the ranker builds
//     per query), the Bloom filter at --fpr (what could be kept instead), and
//     the user's live totals in the live state (EncodeTotals: per item its id
//     string, weighted value and counts by type; with --id-bytes and one event
//     type), which the fold-in needs whatever the exclusion uses;
//   - build: building each from the list (what the ranker does per query today);
//   - test: nanoseconds per membership test (binary search against k probes)
//     over --tests random candidates, and the measured false-positive rate.
// Usage: seen_filter_bench [--fpr 0.001] [--tests 1000000] [--id-bytes 8] [--seed 1]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "util/bloom_filter.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

int main(int argc, char** argv) {
  double fpr = 0.001;
  uint64_t tests = 1'000'000;
  uint64_t id_bytes = 8;
  uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--fpr"))
      fpr = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--tests"))
      tests = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--id-bytes"))
      id_bytes = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--seed"))
      seed = std::strtoull(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "seen_filter_bench: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  // EncodeTotals per item with one event type of 4 bytes ("view"): str item
  // (4 + id), f64 value, u32 types, str type (4 + 4), u64 count.
  const uint64_t totals_per_item = 4 + id_bytes + 8 + 4 + 4 + 4 + 8;
  std::printf("fpr %g, %llu tests, live totals %llu bytes an item (%llu-byte ids, one type)\n", fpr,
              static_cast<unsigned long long>(tests),
              static_cast<unsigned long long>(totals_per_item),
              static_cast<unsigned long long>(id_bytes));
  std::printf("%9s | %12s %12s %12s | %10s %10s | %8s %8s | %9s\n", "seen n", "list bytes",
              "bloom bytes", "totals bytes", "list ms", "bloom ms", "list ns", "bloom ns",
              "fpr meas.");
  std::mt19937_64 rng(seed);
  for (uint64_t n : {1'000ull, 10'000ull, 100'000ull, 1'000'000ull}) {
    std::vector<uint32_t> items(n);
    for (auto& v : items) v = static_cast<uint32_t>(rng());
    std::vector<uint32_t> candidates(tests);
    for (auto& v : candidates) v = static_cast<uint32_t>(rng());
    // The exact list: sort + dedupe, as the ranker's seen list.
    auto t0 = Clock::now();
    std::vector<uint32_t> list = items;
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    auto t1 = Clock::now();
    encore::util::BloomFilter bloom(list.size(), fpr);
    for (uint32_t v : list) bloom.Add(v);
    auto t2 = Clock::now();
    uint64_t hits_list = 0, hits_bloom = 0;
    auto t3 = Clock::now();
    for (uint32_t c : candidates) hits_list += std::binary_search(list.begin(), list.end(), c);
    auto t4 = Clock::now();
    for (uint32_t c : candidates) hits_bloom += bloom.MayContain(c);
    auto t5 = Clock::now();
    // Random candidates are almost never seen: the bloom's extra hits are false positives.
    const double measured =
        static_cast<double>(hits_bloom - hits_list) / static_cast<double>(tests - hits_list);
    std::printf("%9llu | %12llu %12llu %12llu | %10.3f %10.3f | %8.1f %8.1f | %9.5f\n",
                static_cast<unsigned long long>(n),
                static_cast<unsigned long long>(list.size() * sizeof(uint32_t)),
                static_cast<unsigned long long>(bloom.memory_bytes()),
                static_cast<unsigned long long>(n * totals_per_item), Seconds(t0, t1) * 1e3,
                Seconds(t1, t2) * 1e3, Seconds(t3, t4) * 1e9 / tests, Seconds(t4, t5) * 1e9 / tests,
                measured);
  }
  return 0;
}
