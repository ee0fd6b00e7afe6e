// Small, portable random number generators shared by the generators, the
// models and the evaluator. The standard library's distributions are
// implementation-defined, so these give the same numbers for the same seed on
// every platform and standard library.
//
//   SplitMix64 (Steele, Lea & Flood 2014): one word of state; a hash of a
//       word (Mix) and a stream (Next, Uniform, Below).
//   Xoshiro256 (Blackman & Vigna, xoshiro256**): four words of state seeded
//       through SplitMix64; the long streams of the data generators.
//
// Thread-safety: a generator object is not; give each thread its own.

#ifndef ENCORE_UTIL_RANDOM_H_
#define ENCORE_UTIL_RANDOM_H_

#include <bit>
#include <cstdint>
#include <utility>

namespace encore {

// Advances `*state` by the golden gamma and returns the mixed word.
inline uint64_t SplitMix64Next(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The top 53 bits of `x` as a double in [0, 1).
inline double UnitFromBits(uint64_t x) { return static_cast<double>(x >> 11) * 0x1.0p-53; }

// floor(x * n / 2^64): a value in [0, n) from 64 random bits (Lemire's
// multiply-shift; the bias is below n / 2^64).
inline uint64_t ScaleBelow(uint64_t x, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(x) * n) >> 64);
}

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t Next() { return SplitMix64Next(&state_); }
  // As if Next had been called `n` times (the state is a counter).
  void Skip(uint64_t n) { state_ += n * 0x9E3779B97F4A7C15ULL; }
  double Uniform() { return UnitFromBits(Next()); }  // [0, 1)

  // Uniform in [0, n) without bias (Lemire's method with its rare
  // rejection). REQUIRES: n > 0.
  uint64_t Below(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(Next()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(Next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

 private:
  uint64_t state_;
};

class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed) {
    for (uint64_t& word : s_) word = SplitMix64Next(&seed);
  }

  uint64_t Next() {
    const uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }
  double Uniform() { return UnitFromBits(Next()); }             // [0, 1)
  uint64_t Below(uint64_t n) { return ScaleBelow(Next(), n); }  // [0, n)
  bool Chance(double p) { return Uniform() < p; }

 private:
  uint64_t s_[4];
};

// Fisher-Yates shuffle of begin[0, n) with any generator above: swaps
// begin[i - 1] with begin[rng.Below(i)] for i = n down to 2 (so a result
// depends only on the generator's stream).
template <class Rng, class T>
void Shuffle(Rng& rng, T* begin, uint64_t n) {
  for (uint64_t i = n; i > 1; --i) std::swap(begin[i - 1], begin[rng.Below(i)]);
}

}  // namespace encore

#endif  // ENCORE_UTIL_RANDOM_H_
