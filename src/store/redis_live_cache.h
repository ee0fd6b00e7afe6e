// The live payload cache of the Redis store (Store::OpenLiveCached; not
// public API): a LiveStore answering GetPayload from a LiveCache that Redis
// itself keeps correct through server-assisted client-side caching.
//
// One connection, owned by a thread of its own, runs
//   CLIENT ID                                        -> its own id N
//   CLIENT TRACKING on REDIRECT N BCAST PREFIX encore:live:p:
//   SUBSCRIBE __redis__:invalidate
// so Redis sends it, as an ordinary pub/sub message (RESP2, which is all
// hiredis 0.14 speaks), the name of every key under the live payload prefix
// that any client changes (SET, DEL, UNLINK, expiry, eviction), and a nil
// message for FLUSHDB/FLUSHALL. Tracking and subscription live and die with
// that one connection, so "the connection is up" means "every change is
// being reported". The thread pings every second; a connection that
// breaks, or stays silent for kDeadAfter, is given up: the cache is
// disabled (flushed, every lookup goes to Redis) until a new connection
// has tracking and the subscription in place, then flushed and enabled.
//
// A payload is therefore never served stale for longer than its
// invalidation takes to arrive, or, when the connection silently dies,
// than kDeadAfter.
#ifndef ENCORE_STORE_REDIS_LIVE_CACHE_H_
#define ENCORE_STORE_REDIS_LIVE_CACHE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "encore/store.h"
#include "store/redis_client.h"

namespace encore::store {

inline constexpr std::string_view kLivePayloadPrefix = "encore:live:p:";

// The Redis key of a live payload: encore:live:p:<version>:<user>.
inline std::string LivePayloadKey(uint64_t version, std::string_view user) {
  std::string k(kLivePayloadPrefix);
  k += std::to_string(version);
  k += ':';
  k.append(user);
  return k;
}

// Wraps `base` (the store's RedisLiveStore for `ep`) with a cache of
// `cache_bytes` and starts its invalidation thread; every other method
// is passed through.
std::unique_ptr<LiveStore> CacheRedisLiveStore(std::unique_ptr<LiveStore> base,
                                               std::shared_ptr<const Endpoint> ep,
                                               uint64_t cache_bytes);

}  // namespace encore::store

#endif  // ENCORE_STORE_REDIS_LIVE_CACHE_H_
