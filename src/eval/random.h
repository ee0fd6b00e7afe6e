// SplitRng: the small seeded generator behind evaluation splits.
//
// SplitMix64 with exact bounded draws (Lemire's multiply-and-reject), so a
// seed gives the same splits with every compiler and standard library; the
// std:: distributions do not promise that. Independent streams per user come
// from StreamSeed(seed, user), which also makes parallel splits independent
// of the thread count.
//
// Thread-safety: one instance per thread.

#ifndef ENCORE_EVAL_RANDOM_H_
#define ENCORE_EVAL_RANDOM_H_

#include <cstdint>

namespace encore::eval {

class SplitRng {
 public:
  explicit SplitRng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n). REQUIRES: n > 0.
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

// The seed of stream `stream` (e.g. a user index) under `seed`.
inline uint64_t StreamSeed(uint64_t seed, uint64_t stream) {
  SplitRng mix(seed ^ (stream * 0xD1B54A32D192ED03ULL));
  return mix.Next() ^ stream;
}

}  // namespace encore::eval

#endif  // ENCORE_EVAL_RANDOM_H_
