// Store::Open: picks the implementation from the URI.

#include <filesystem>

#include "store/store_internal.h"

namespace encore {

Result<std::unique_ptr<Store>> Store::Open(const std::string& uri) {
  if (uri.empty()) {
    return Status::InvalidArgument("empty store; pass --store DIR or --store redis://HOST:PORT/DB");
  }
  if (uri.rfind("redis://", 0) == 0) return OpenRedisStore(uri);
  if (uri.rfind("memory:", 0) == 0) return OpenMemoryStore(uri);
  // "rediss://...", "http://...": a scheme we do not serve, not a directory.
  const size_t colon = uri.find("://");
  if (colon != std::string::npos && colon > 0 &&
      uri.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789+.-") >= colon) {
    return Status::InvalidArgument("unsupported store scheme '" + uri.substr(0, colon) + "' in '" +
                                   uri + "'; pass a directory or redis://HOST:PORT/DB");
  }
  return OpenLmdbStore(uri);
}

Result<std::unique_ptr<Store>> Store::OpenExisting(const std::string& uri) {
  const bool is_directory = !uri.empty() && uri.find("://") == std::string::npos &&
                            uri.rfind("memory:", 0) != 0;
  std::error_code ec;
  if (is_directory && !std::filesystem::exists(uri, ec)) {
    return Status::NotFound("no store at '" + uri +
                            "': the directory does not exist; check --store, or create it with "
                            "encore publish --store " + uri);
  }
  return Open(uri);
}

Status Store::CheckDestination(const std::string& uri) {
  if (uri.rfind("redis://", 0) == 0 || uri.rfind("memory:", 0) == 0) return Status::OK();
  if (uri.find("://") != std::string::npos) return Open(uri).status();  // the scheme error
  return CheckLmdbDestination(uri);
}

}  // namespace encore
