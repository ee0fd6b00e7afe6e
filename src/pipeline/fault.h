// Fault points: named places in the pipeline where a test can make the
// process die abruptly, to check that outputs stay all-or-nothing.
//
//   MaybeFault("csv-before-swap");
//
// does nothing unless the environment variable ENCORE_FAULT equals the point's
// name, in which case the process kills itself with SIGKILL at once (no
// destructors, no atexit handlers, no flushing: as if the machine lost power
// for this process). The known points are listed in docs/OUTPUTS.md.
//
// The variable is read on every call (never cached), so a forked test child
// can arm a point with setenv() after the parent has already run writers.
//
// Thread-safety: safe to call from any thread (reads the environment only).
#ifndef ENCORE_PIPELINE_FAULT_H_
#define ENCORE_PIPELINE_FAULT_H_

namespace encore::pipeline {

// Name of the environment variable that arms a fault point.
inline constexpr const char* kFaultEnvVar = "ENCORE_FAULT";

// Raises SIGKILL if ENCORE_FAULT equals `point`; otherwise returns.
void MaybeFault(const char* point);

}  // namespace encore::pipeline

#endif  // ENCORE_PIPELINE_FAULT_H_
