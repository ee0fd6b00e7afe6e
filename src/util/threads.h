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

// The environment variable that decides how idle OpenMP threads wait, and
// the value encore's programs run with unless the user chose one.
inline constexpr const char* kOmpWaitPolicyVariable = "OMP_WAIT_POLICY";
inline constexpr const char* kOmpWaitPolicyDefault = "PASSIVE";

// Called first thing in main() of encore's programs (the CLI, bench
// programs): when OMP_WAIT_POLICY is not set at all, sets it to PASSIVE and
// re-executes `exe` (the running program) with the same argv, so that
// libgomp - which reads the variable once, when it is loaded, before main -
// puts idle threads to sleep instead of spinning. Returns without doing
// anything when the variable is set (to any value, even empty: the user's
// choice is kept), and returns with the environment restored when the exec
// fails (the program then runs with libgomp's default).
//
// Why: libgomp's default keeps a thread that waits at a barrier or between
// parallel regions spinning for ~300,000 iterations. On a machine whose
// cores are shared (a 2-vCPU VM, other jobs), the spinning thread takes the
// core from the thread that has the work, and 2 threads ran slower than 1
// (docs/BENCHMARKS.md, "Threads must help"). PASSIVE waits cost a futex
// wake-up (microseconds) per region, which the parallel loops here (rows of
// a half-sweep, blocks of users) do not notice.
//
// Not thread-safe (it calls setenv and exec): call it before any thread
// starts. A library user (the Python module) cannot be re-executed: set
// OMP_WAIT_POLICY=PASSIVE in the environment instead (docs/SCALING.md).
void ReexecWithPassiveOmpWaitPolicy(char** argv, const char* exe = "/proc/self/exe");

}  // namespace encore

#endif  // ENCORE_UTIL_THREADS_H_
