// CacheRedisLiveStore (store/redis_live_cache.h): the live payload cache
// kept correct by Redis client tracking.

#include "store/redis_live_cache.h"

#include <poll.h>

#include <atomic>
#include <cstdio>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "store/live_cache.h"
#include "store/store_internal.h"

namespace encore::store {
namespace {

using Clock = std::chrono::steady_clock;
constexpr timeval kCommandTimeout{2, 0};
constexpr auto kPingEvery = std::chrono::seconds(1);
// No byte from Redis for this long (a ping is answered within the first
// second) and the connection is presumed dead.
constexpr auto kDeadAfter = std::chrono::seconds(3);
constexpr auto kRetryEvery = std::chrono::milliseconds(200);
constexpr int kPollMs = 100;  // how often the thread looks at its stop flag
constexpr std::string_view kInvalidateChannel = "__redis__:invalidate";

class CachedRedisLiveStore final : public LiveStore {
 public:
  CachedRedisLiveStore(std::unique_ptr<LiveStore> base, std::shared_ptr<const Endpoint> ep,
                       uint64_t cache_bytes)
      : base_(std::move(base)), ep_(std::move(ep)), cache_(cache_bytes) {
    thread_ = std::thread([this] { Run(); });
  }

  ~CachedRedisLiveStore() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  Status GetPayload(uint64_t version, std::string_view user, std::string* value) const override {
    if (user.empty() || user.size() > kMaxStoreKeyBytes) return Status::NotFound("no such key");
    // A newer snapshot is served: the older one's answers (mostly "no live
    // payload") will not be asked for again, so they go at once rather
    // than sit in the cache until the LRU pushes them out.
    uint64_t newest = newest_version_.load(std::memory_order_relaxed);
    while (version > newest) {
      if (newest_version_.compare_exchange_weak(newest, version)) {
        cache_.Flush();
        break;
      }
    }
    const std::string key = LivePayloadKey(version, user);
    bool found = false;
    LiveCache::Ticket ticket;
    if (cache_.Lookup(key, &found, value, &ticket)) {
      return found ? Status::OK() : Status::NotFound("no live payload");
    }
    Status s = base_->GetPayload(version, user, value);
    if (s.ok() || s.code() == StatusCode::kNotFound) {
      cache_.Fill(key, s.ok(), s.ok() ? std::string_view(*value) : std::string_view(), ticket);
    }
    return s;
  }
  Status GetState(std::string_view key, std::string* value) const override {
    return base_->GetState(key, value);
  }
  Status Write(const std::vector<Entry>& batch) override { return base_->Write(batch); }
  Status DropPayloadsBefore(uint64_t version) override {
    return base_->DropPayloadsBefore(version);
  }
  Status SetSync(bool sync) override { return base_->SetSync(sync); }

  bool GetCacheStats(LiveCacheStats* stats) const override {
    *stats = cache_.Stats();
    stats->connected = cache_.enabled();
    stats->connects = connects_.load(std::memory_order_relaxed);
    return true;
  }

 private:
  // The invalidation thread: (re)connects until stopped.
  void Run() {
    while (!stopping()) {
      Connection conn;
      Status s = Subscribe(&conn);
      if (s.ok()) {
        cache_.Enable();
        if (connects_.fetch_add(1, std::memory_order_relaxed) > 0) {
          Note("invalidation connection to redis at " + ep_->address() +
               " is back: live payload cache on again");
        }
        s = Listen(&conn);
        cache_.Disable();  // flushed and off before anything else can happen
        if (!stopping()) {
          Note("invalidation connection to redis at " + ep_->address() + " lost (" +
               s.message() + "): live payload cache off, every lookup asks redis until it is back");
        }
      } else if (s.message() != last_error_) {
        // The cache is off already (never on, or switched off when lost).
        last_error_ = s.message();  // once per distinct failure
        Note("cannot set up the invalidation connection to redis at " + ep_->address() + " (" +
             s.message() + "): live payload cache off, every lookup asks redis; retrying");
      }
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, kRetryEvery, [this] { return stop_; });
    }
  }

  // One line on stderr for a change of state (the server's log).
  static void Note(const std::string& line) {
    std::fprintf(stderr, "encore serve: %s\n", line.c_str());
  }

  bool stopping() {
    std::lock_guard lock(mu_);
    return stop_;
  }

  // Connects and sets up tracking and the subscription (see the header).
  Status Subscribe(Connection* conn) {
    ENCORE_RETURN_IF_ERROR(conn->Connect(*ep_, kCommandTimeout));
    ENCORE_ASSIGN_OR_RETURN(Reply id, conn->Run({"CLIENT", "ID"}));
    if (id->type != REDIS_REPLY_INTEGER) return Status::IOError("unexpected CLIENT ID reply");
    const std::string self = std::to_string(id->integer);
    ENCORE_RETURN_IF_ERROR(conn->Run({"CLIENT", "TRACKING", "on", "REDIRECT", self, "BCAST",
                                      "PREFIX", kLivePayloadPrefix})
                               .status());
    ENCORE_ASSIGN_OR_RETURN(Reply sub, conn->Run({"SUBSCRIBE", kInvalidateChannel}));
    if (sub->type != REDIS_REPLY_ARRAY || sub->elements != 3 ||
        sub->element[0]->type != REDIS_REPLY_STRING || ReplyText(sub->element[0]) != "subscribe") {
      return Status::IOError("unexpected SUBSCRIBE reply from redis at " + ep_->address());
    }
    return Status::OK();
  }

  // Applies invalidation messages until the connection breaks, goes
  // silent or the store is destroyed.
  Status Listen(Connection* conn) {
    redisContext* c = conn->context();
    Clock::time_point last_heard = Clock::now(), last_ping = last_heard;
    pollfd p{c->fd, POLLIN, 0};
    while (!stopping()) {
      // Everything already read (it may have come with the SUBSCRIBE reply).
      for (;;) {
        void* raw = nullptr;
        if (redisGetReplyFromReader(c, &raw) != REDIS_OK) {
          return Status::IOError("bad reply on the invalidation connection");
        }
        if (raw == nullptr) break;
        Reply reply(static_cast<redisReply*>(raw));
        Apply(reply.get());
      }
      p.revents = 0;
      int n = ::poll(&p, 1, kPollMs);
      if (n == 0) {
        const auto now = Clock::now();
        if (now - last_ping >= kPingEvery) {
          last_ping = now;
          if (redisAppendCommand(c, "PING") != REDIS_OK) return Status::IOError("cannot ping");
          int done = 0;
          while (!done) {
            if (redisBufferWrite(c, &done) != REDIS_OK) {
              return Status::IOError(std::string("ping failed: ") + c->errstr);
            }
          }
        }
        // Silence is judged only with nothing waiting to be read: a thread
        // that was not scheduled for a while finds the pongs, not a silence.
        p.revents = 0;
        n = ::poll(&p, 1, 0);
        if (n == 0 && Clock::now() - last_heard > kDeadAfter) {
          return Status::IOError("no answer to pings for over " +
                                 std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                    kDeadAfter)
                                                    .count()) +
                                 " s");
        }
        if (n == 0) continue;
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::IOError("poll failed on the invalidation connection");
      }
      if (redisBufferRead(c) != REDIS_OK) {
        return Status::IOError(std::string("it broke: ") + c->errstr);
      }
      last_heard = Clock::now();
    }
    return Status::OK();
  }

  // One pub/sub message: ["message", channel, [keys...]] or a nil for a
  // flush of the whole database; pongs and anything else change nothing.
  void Apply(const redisReply* r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || ReplyText(r->element[0]) != "message") {
      return;
    }
    const redisReply* keys = r->element[2];
    if (keys->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i < keys->elements; ++i) {
        if (keys->element[i]->type == REDIS_REPLY_STRING) {
          cache_.Invalidate(ReplyText(keys->element[i]));
        } else {
          cache_.Flush();
        }
      }
    } else if (keys->type == REDIS_REPLY_STRING) {
      cache_.Invalidate(ReplyText(keys));
    } else {
      cache_.Flush();  // nil: FLUSHDB / FLUSHALL
    }
  }

  const std::unique_ptr<LiveStore> base_;
  const std::shared_ptr<const Endpoint> ep_;
  mutable LiveCache cache_;
  std::atomic<uint64_t> connects_{0};
  mutable std::atomic<uint64_t> newest_version_{0};  // the highest version looked up
  std::string last_error_;  // the thread's
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace

std::unique_ptr<LiveStore> CacheRedisLiveStore(std::unique_ptr<LiveStore> base,
                                               std::shared_ptr<const Endpoint> ep,
                                               uint64_t cache_bytes) {
  return std::make_unique<CachedRedisLiveStore>(std::move(base), std::move(ep), cache_bytes);
}

}  // namespace encore::store
