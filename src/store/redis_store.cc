// Placeholder until the redis store lands.
#include "store/store_internal.h"
namespace encore {
Result<std::unique_ptr<Store>> OpenRedisStore(const std::string& uri) {
  return Status::FailedPrecondition("redis store not built yet: " + uri);
}
}  // namespace encore
