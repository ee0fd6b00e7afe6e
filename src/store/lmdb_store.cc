// Placeholder until the lmdb store lands.
#include "store/store_internal.h"
namespace encore {
Result<std::unique_ptr<Store>> OpenLmdbStore(const std::string& uri) {
  return Status::FailedPrecondition("lmdb store not built yet: " + uri);
}
}  // namespace encore
