#include "encore/chunked_vector.h"

#include <new>

#include "util/huge_pages.h"

namespace encore::chunked_vector_internal {

// The first chunk comes from operator new (only the pages written are
// touched); later ones from AllocateZeroed, which maps chunks of 2 MiB and
// more on huge pages. Their zeroing is the kernel's, done once per huge page.
void* AllocateChunk(size_t bytes, bool huge) {
  return huge ? AllocateZeroed(bytes) : ::operator new(bytes);
}

void FreeChunk(void* p, size_t bytes, bool huge) {
  if (p == nullptr) return;
  if (huge) {
    FreeZeroed(p, bytes);
  } else {
    ::operator delete(p);
  }
}

}  // namespace encore::chunked_vector_internal
