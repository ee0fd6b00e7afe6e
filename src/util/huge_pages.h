// Memory for big arrays on transparent huge pages.
//
// Reading 10 million rows touches about 600 MB of fresh memory (the log's
// columns, the id dictionaries' hash tables, the staging arrays, CSR and
// CSC). On 4 KiB pages that is ~150,000 page faults, each a trap into the
// kernel (on the benchmark VM the faults were 15% of the run in perf), and a
// TLB miss on nearly every probe of a 64 MB hash table. On 2 MiB pages it is
// a few hundred faults and a table whose pages all fit in the TLB.
//
// Linux hands out transparent huge pages either to everything
// (/sys/kernel/mm/transparent_hugepage/enabled = always) or only to memory
// that asks with madvise(MADV_HUGEPAGE) ("madvise", the usual default); the
// functions here ask. Where huge pages are disabled or unavailable the
// advice is ignored and the memory works on small pages.
//
// Thread-safety: all functions are safe to call concurrently.

#ifndef ENCORE_UTIL_HUGE_PAGES_H_
#define ENCORE_UTIL_HUGE_PAGES_H_

#include <cstddef>

namespace encore {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// Zero-filled memory for `bytes` bytes. From kHugePageBytes up it is mapped
// fresh, aligned to 2 MiB and advised as huge pages (and given back to the
// system when freed); smaller blocks come from calloc. Throws std::bad_alloc
// when no memory is left. bytes == 0 gives nullptr.
void* AllocateZeroed(size_t bytes);
// Frees memory from AllocateZeroed. REQUIRES: `bytes` is what was asked for.
void FreeZeroed(void* p, size_t bytes);

// Asks for huge pages for the whole 2 MiB pages inside [p, p + bytes).
// Meant for memory not yet touched: a std::vector after reserve(), before
// its elements are written (pages already faulted in stay small until the
// kernel's background thread merges them). Harmless on any other memory.
void AdviseHugePages(void* p, size_t bytes);

}  // namespace encore

#endif  // ENCORE_UTIL_HUGE_PAGES_H_
