#include "pipeline/fault.h"

#include <csignal>
#include <cstdlib>
#include <cstring>

namespace encore::pipeline {

void MaybeFault(const char* point) {
  const char* armed = std::getenv(kFaultEnvVar);
  if (armed == nullptr || std::strcmp(armed, point) != 0) return;
  std::raise(SIGKILL);
  // SIGKILL cannot be caught or ignored; this is only reached if raise() failed.
  std::abort();
}

}  // namespace encore::pipeline
