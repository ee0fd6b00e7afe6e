// How many threads a parallel step uses: the caller's explicit request, or
// OpenMP's default (OMP_NUM_THREADS, else the number of cores) when the
// request is 0 or negative. Every model, the ranker, the evaluator and the
// reader resolve their `threads` setting through this one rule.

#ifndef ENCORE_UTIL_THREADS_H_
#define ENCORE_UTIL_THREADS_H_

#include <omp.h>

#include <algorithm>

namespace encore {

// Returns `requested` when it is positive, else OpenMP's default; never < 1.
inline int ResolveThreads(int requested) {
  return requested > 0 ? requested : std::max(1, omp_get_max_threads());
}

}  // namespace encore

#endif  // ENCORE_UTIL_THREADS_H_
