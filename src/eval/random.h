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

#include "util/random.h"

namespace encore::eval {

// The generator of evaluation splits (util/random.h).
using SplitRng = ::encore::SplitMix64;

// The seed of stream `stream` (e.g. a user index) under `seed`.
inline uint64_t StreamSeed(uint64_t seed, uint64_t stream) {
  SplitRng mix(seed ^ (stream * 0xD1B54A32D192ED03ULL));
  return mix.Next() ^ stream;
}

}  // namespace encore::eval

#endif  // ENCORE_EVAL_RANDOM_H_
