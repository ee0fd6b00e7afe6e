// See threads.h.

#include "util/threads.h"

#include <unistd.h>

#include <cstdlib>

namespace encore {

void ReexecWithRuntimeDefaults(char** argv, const char* exe) {
  if (std::getenv(kOmpWaitPolicyVariable) != nullptr) return;  // the user's choice
  if (setenv(kOmpWaitPolicyVariable, kOmpWaitPolicyDefault, /*overwrite=*/0) != 0) return;
  const bool tunables = std::getenv(kGlibcTunablesVariable) == nullptr &&
                        setenv(kGlibcTunablesVariable, kGlibcTunablesDefault, 0) == 0;
  execv(exe, argv);
  // Only reached when the exec failed: run on as we are, and do not hand
  // settings this process does not have to its children.
  unsetenv(kOmpWaitPolicyVariable);
  if (tunables) unsetenv(kGlibcTunablesVariable);
}

}  // namespace encore
