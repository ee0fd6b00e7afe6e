// See threads.h.

#include "util/threads.h"

#include <unistd.h>

#include <cstdlib>

namespace encore {

void ReexecWithPassiveOmpWaitPolicy(char** argv, const char* exe) {
  if (std::getenv(kOmpWaitPolicyVariable) != nullptr) return;  // the user's choice
  if (setenv(kOmpWaitPolicyVariable, kOmpWaitPolicyDefault, /*overwrite=*/0) != 0) return;
  execv(exe, argv);
  // Only reached when the exec failed: run on as we are, and do not hand a
  // setting this process does not have to its children.
  unsetenv(kOmpWaitPolicyVariable);
}

}  // namespace encore
