// BloomFilter: a set of 64-bit keys with no false negatives and a bounded
// false-positive rate, in m bits.
//
// Sized for `expected` keys and a target false-positive rate p:
//   m = ceil(-expected * ln(p) / (ln 2)^2) bits, k = round(m / expected * ln 2)
// hash functions (at least 1). With n keys added, a key never added is
// reported present with probability
//   FPR(n) = (1 - e^(-k n / m))^k,
// which is p at n = expected (about 1.44 * log2(1/p) bits per key: 14.4 bits
// at p = 0.001, against 32 for an exact list of 32-bit item indices). The k
// probes are double hashing of two 64-bit mixes of the key
// (Kirsch-Mitzenmacher), which keeps the rate of k independent hashes.
//
// Thread-safety: MayContain is const and safe to call concurrently; Add is not.

#ifndef ENCORE_UTIL_BLOOM_FILTER_H_
#define ENCORE_UTIL_BLOOM_FILTER_H_

#include <cstdint>
#include <vector>

namespace encore::util {

class BloomFilter {
 public:
  // REQUIRES: 0 < fpr < 1. expected 0 is treated as 1.
  BloomFilter(uint64_t expected, double fpr);

  void Add(uint64_t key);
  // False for a key never added, except with probability FalsePositiveRate();
  // always true for a key added.
  bool MayContain(uint64_t key) const;

  uint64_t bits() const { return bits_; }
  uint32_t hashes() const { return hashes_; }
  uint64_t added() const { return added_; }
  // FPR(n) of the formula above for the n keys added so far.
  double FalsePositiveRate() const;
  // Bytes of the bit array.
  uint64_t memory_bytes() const { return words_.size() * sizeof(uint64_t); }

 private:
  uint64_t bits_;
  uint32_t hashes_;
  uint64_t added_ = 0;
  std::vector<uint64_t> words_;
};

}  // namespace encore::util

#endif  // ENCORE_UTIL_BLOOM_FILTER_H_
