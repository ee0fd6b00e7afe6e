// Store::Open: picks the implementation from the URI.

#include "store/store_internal.h"

namespace encore {

Result<std::unique_ptr<Store>> Store::Open(const std::string& uri) {
  if (uri.empty()) {
    return Status::InvalidArgument("empty store; pass --store DIR or --store redis://HOST:PORT/DB");
  }
  if (uri.rfind("redis://", 0) == 0) return OpenRedisStore(uri);
  if (uri.rfind("memory:", 0) == 0) return OpenMemoryStore(uri);
  return OpenLmdbStore(uri);
}

}  // namespace encore
