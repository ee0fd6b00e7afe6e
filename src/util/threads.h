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

// The environment variable of glibc's tunables, and the value set with the
// wait policy when the user has not set it: malloc asks for transparent huge
// pages (madvise(MADV_HUGEPAGE)) on the memory it maps.
inline constexpr const char* kGlibcTunablesVariable = "GLIBC_TUNABLES";
inline constexpr const char* kGlibcTunablesDefault = "glibc.malloc.hugetlb=1";

// Called first thing in main() of encore's programs (the CLI, bench
// programs): when OMP_WAIT_POLICY is not set at all, sets it to PASSIVE -
// and GLIBC_TUNABLES to glibc.malloc.hugetlb=1 when that is not set either -
// and re-executes `exe` (the running program) with the same argv, so that
// libgomp and glibc - which read the variables once, when they are loaded,
// before main - see them. Returns without doing anything when
// OMP_WAIT_POLICY is set (to any value, even empty: the user's choice is
// kept, and GLIBC_TUNABLES is then left alone too), and returns with the
// environment restored when the exec fails (the program then runs with the
// libraries' defaults).
//
// Why PASSIVE: libgomp's default keeps a thread that waits at a barrier or between
// parallel regions spinning for ~300,000 iterations. On a machine whose
// cores are shared (a 2-vCPU VM, other jobs), the spinning thread takes the
// core from the thread that has the work, and 2 threads ran slower than 1
// (docs/BENCHMARKS.md, "Threads must help"). PASSIVE waits cost a futex
// wake-up (microseconds) per region, which the parallel loops here (rows of
// a half-sweep, blocks of users) do not notice.
//
// Why huge pages: the training sweeps read factor rows at random from tables
// of tens of MiB and the reader's id dictionaries probe at random; with 4 KiB
// pages nearly every such access also misses the TLB, and every page is a
// separate fault. With THP in `madvise` mode (Debian's default) only memory
// that asks gets 2 MiB pages (docs/SCALING.md, docs/BENCHMARKS.md).
//
// Not thread-safe (it calls setenv and exec): call it before any thread
// starts. A library user (the Python module) cannot be re-executed: set
// OMP_WAIT_POLICY=PASSIVE (and GLIBC_TUNABLES=glibc.malloc.hugetlb=1) in the
// environment instead (docs/SCALING.md).
void ReexecWithRuntimeDefaults(char** argv, const char* exe = "/proc/self/exe");

}  // namespace encore

#endif  // ENCORE_UTIL_THREADS_H_
