// Shared helpers of the Store implementations (not public API).
#ifndef ENCORE_STORE_STORE_INTERNAL_H_
#define ENCORE_STORE_STORE_INTERNAL_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "encore/store.h"

namespace encore {

// Longest key a store accepts (LMDB's default limit is 511 bytes, minus the
// table byte).
inline constexpr size_t kMaxStoreKeyBytes = 500;

inline Status CheckStoreKey(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("empty key in a serving snapshot");
  if (key.size() > kMaxStoreKeyBytes) {
    return Status::InvalidArgument("id of " + std::to_string(key.size()) +
                                   " bytes is too long for a serving snapshot (at most " +
                                   std::to_string(kMaxStoreKeyBytes) + ")");
  }
  return Status::OK();
}

inline int64_t NowUnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string NothingPublishedMessage(const std::string& uri) {
  return "store '" + uri + "' has no published snapshot yet; run encore publish first";
}

inline std::string NoSuchSnapshotMessage(const std::string& uri, uint64_t version) {
  return "store '" + uri + "' has no snapshot " + std::to_string(version) +
         "; encore rollback --store " + uri + " --list shows the kept ones";
}

std::unique_ptr<Store> OpenMemoryStore(const std::string& uri);
Result<std::unique_ptr<Store>> OpenLmdbStore(const std::string& dir);
// Store::CheckDestination for a directory.
Status CheckLmdbDestination(const std::string& dir);
Result<std::unique_ptr<Store>> OpenRedisStore(const std::string& uri);

}  // namespace encore

#endif  // ENCORE_STORE_STORE_INTERNAL_H_
