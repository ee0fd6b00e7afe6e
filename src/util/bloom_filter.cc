// BloomFilter (util/bloom_filter.h).

#include "util/bloom_filter.h"

#include <algorithm>
#include <cmath>

namespace encore::util {

namespace {

// SplitMix64's finaliser: a bijective 64-bit mix.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

BloomFilter::BloomFilter(uint64_t expected, double fpr) {
  const double n = static_cast<double>(std::max<uint64_t>(expected, 1));
  const double ln2 = std::log(2.0);
  const double m = std::ceil(-n * std::log(fpr) / (ln2 * ln2));
  bits_ = std::max<uint64_t>(64, static_cast<uint64_t>(m));
  hashes_ = static_cast<uint32_t>(
      std::clamp<double>(std::round(static_cast<double>(bits_) / n * ln2), 1, 64));
  words_.assign((bits_ + 63) / 64, 0);
}

void BloomFilter::Add(uint64_t key) {
  const uint64_t h1 = Mix(key), h2 = Mix(key ^ 0x5bd1e9955bd1e995ULL) | 1;
  for (uint32_t i = 0; i < hashes_; ++i) {
    const uint64_t bit = (h1 + i * h2) % bits_;
    words_[bit >> 6] |= uint64_t{1} << (bit & 63);
  }
  ++added_;
}

bool BloomFilter::MayContain(uint64_t key) const {
  const uint64_t h1 = Mix(key), h2 = Mix(key ^ 0x5bd1e9955bd1e995ULL) | 1;
  for (uint32_t i = 0; i < hashes_; ++i) {
    const uint64_t bit = (h1 + i * h2) % bits_;
    if ((words_[bit >> 6] & (uint64_t{1} << (bit & 63))) == 0) return false;
  }
  return true;
}

double BloomFilter::FalsePositiveRate() const {
  const double k = hashes_;
  return std::pow(1 - std::exp(-k * static_cast<double>(added_) / static_cast<double>(bits_)), k);
}

}  // namespace encore::util
