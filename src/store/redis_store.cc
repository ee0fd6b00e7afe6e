// The Redis store (redis://HOST:PORT/DB). Keys, all under "encore:":
//
//   encore:next                    INCR counter handing out versions
//   encore:current                 the current version (decimal)
//   encore:versions                sorted set: committed version -> created unix time
//   encore:pending                 sorted set: version being written -> created unix time
//   encore:lease:<version>         exists (with a TTL) while its publisher is alive
//   encore:retired                 sorted set: version -> when it stopped being current
//   encore:v<version>:<t><key>     a document: table byte t, then the key bytes
//   encore:v<version>:#<i>:<t><key> chunk i of a document too large for one
//                                  Redis value (see below)
//
// Large documents (a model file for fold-in can exceed the server's value
// limit, proto-max-bulk-len, 512 MB by default): a value longer than the
// limit the server reports (CONFIG GET proto-max-bulk-len; 512 MB when the
// command is refused) minus a margin is written as chunks under the same
// version prefix, and the document key holds kChunkMarker followed by
// "<chunks> <total bytes>". Get reassembles it and checks the total. A value
// that happens to start with kChunkMarker is chunked too (as one chunk), so
// reading is never ambiguous. Live documents (small user payloads, consumer
// state) are refused with a clear message when over the limit.
//
// Publishing: BeginSnapshot takes a version, marks it pending and creates its
// lease in one script; Puts are pipelined (SET, replies checked in batches,
// each batch also renewing the lease); Commit runs one script that moves the
// version from pending to versions and SETs encore:current, so the switch is
// atomic. Prune removes old versions from encore:versions (never the current
// one), drops pending versions whose lease expired (a publisher that died)
// and then deletes, with SCAN MATCH encore:v* and UNLINK, the documents of
// every version that is in neither set - except a version that stopped being
// current less than kRetiredGraceSeconds ago: servers that have not noticed
// the switch yet still answer from it (LMDB gets the same from its mapped
// files). A publisher whose lease expired cannot commit any more (Commit
// checks that the version is still pending). Times in encore:retired are the
// Redis server's clock (TIME), so publishers on several machines agree.
//
// Reads: Snapshot::Get runs on many server threads at once; each thread keeps
// its own connection per Redis endpoint (thread_local), reconnects after an
// error, and answers IOError while Redis is unreachable (retrying the
// connection at most every kReconnectBackoff).

#include <hiredis/hiredis.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <charconv>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "store/redis_client.h"
#include "store/redis_live_cache.h"
#include "store/store_internal.h"

namespace encore {

namespace {

using store::Connection;
using store::Endpoint;
using store::Reply;
using store::ReplyText;
using store::ParseUri;
constexpr timeval kReadTimeout{2, 0};    // Snapshot::Get
constexpr timeval kWriteTimeout{60, 0};  // publishing, pruning (large batches)
constexpr auto kReconnectBackoff = std::chrono::milliseconds(200);
constexpr size_t kPipelineBatch = 1000;  // commands in flight per round trip
constexpr uint64_t kDefaultMaxValueBytes = 512ull << 20;  // Redis' default proto-max-bulk-len
constexpr uint64_t kValueMarginBytes = 4096;               // below the limit, for safety
constexpr std::string_view kChunkMarker{"\0encore-chunked-v1\0", 20};

// The largest value the server at `conn` accepts in one bulk string
// (proto-max-bulk-len); the Redis default when CONFIG is refused or renamed.
uint64_t MaxValueBytes(Connection* conn) {
  auto r = conn->Run({"CONFIG", "GET", "proto-max-bulk-len"});
  if (r.ok() && (*r)->type == REDIS_REPLY_ARRAY && (*r)->elements == 2 &&
      (*r)->element[1]->type == REDIS_REPLY_STRING) {
    uint64_t v = 0;
    std::string_view text = ReplyText((*r)->element[1]);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc() && end == text.data() + text.size() && v > 0) return v;
  }
  return kDefaultMaxValueBytes;
}

std::string ChunkKey(std::string_view prefix, size_t index, std::string_view doc_key_tail) {
  std::string k(prefix);
  k += '#';
  k += std::to_string(index);
  k += ':';
  k.append(doc_key_tail);
  return k;
}
constexpr size_t kScanCount = 1000;      // SCAN COUNT hint and UNLINK batch
constexpr int kLeaseSeconds = 15 * 60;   // a publisher silent this long is dead
// How long the documents of a snapshot that stopped being current survive a
// prune: servers switch within their poll interval (1 s by default).
constexpr int64_t kRetiredGraceSeconds = 120;

constexpr char kNextKey[] = "encore:next";
constexpr char kCurrentKey[] = "encore:current";
constexpr char kVersionsKey[] = "encore:versions";
constexpr char kPendingKey[] = "encore:pending";
constexpr char kLeasePrefix[] = "encore:lease:";
constexpr char kRetiredKey[] = "encore:retired";

// KEYS: next, pending, lease prefix. ARGV: created, lease seconds.
constexpr char kBeginScript[] =
    "local v = redis.call('INCR', KEYS[1]) "
    "redis.call('ZADD', KEYS[2], ARGV[1], v) "
    "redis.call('SET', KEYS[3] .. v, '1', 'EX', ARGV[2]) "
    "return v";
// KEYS: pending, versions, current, lease, retired. ARGV: version, created, now.
constexpr char kCommitScript[] =
    "if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end "
    "redis.call('ZREM', KEYS[1], ARGV[1]) "
    "redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) "
    "local old = redis.call('GET', KEYS[3]) "
    "if old and old ~= ARGV[1] then redis.call('ZADD', KEYS[5], ARGV[3], old) end "
    "redis.call('SET', KEYS[3], ARGV[1]) "
    "redis.call('DEL', KEYS[4]) "
    "return 1";
// KEYS: pending, lease. ARGV: version.
constexpr char kDiscardScript[] =
    "redis.call('DEL', KEYS[2]) "
    "return redis.call('ZREM', KEYS[1], ARGV[1])";
// KEYS: versions, current, retired. ARGV: version, now.
constexpr char kSetCurrentScript[] =
    "if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end "
    "local old = redis.call('GET', KEYS[2]) "
    "if old and old ~= ARGV[1] then redis.call('ZADD', KEYS[3], ARGV[2], old) end "
    "redis.call('SET', KEYS[2], ARGV[1]) "
    "return 1";
// KEYS: versions, current. ARGV: version. Removes a committed version unless current.
constexpr char kDropVersionScript[] =
    "if redis.call('GET', KEYS[2]) == ARGV[1] then return 0 end "
    "return redis.call('ZREM', KEYS[1], ARGV[1])";
// KEYS: pending, lease. ARGV: version. Removes a pending version whose lease expired.
constexpr char kDropDeadPendingScript[] =
    "if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end "
    "return redis.call('ZREM', KEYS[1], ARGV[1])";
// KEYS: versions, pending, retired. ARGV: version, cutoff. 1 when the version
// is in neither set and was not current after `cutoff` (unix seconds).
constexpr char kIsOrphanScript[] =
    "if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZSCORE', KEYS[2], ARGV[1]) "
    "then return 0 end "
    "local t = redis.call('ZSCORE', KEYS[3], ARGV[1]) "
    "if t and tonumber(t) > tonumber(ARGV[2]) then return 0 end "
    "return 1";
// KEYS: retired, versions. ARGV: cutoff. Forgets retirements up to `cutoff`
// of versions no longer kept (their documents are gone).
constexpr char kForgetRetiredScript[] =
    "local n = 0 "
    "for _, v in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do "
    "  if not redis.call('ZSCORE', KEYS[2], v) then redis.call('ZREM', KEYS[1], v) n = n + 1 end "
    "end "
    "return n";

std::string VersionPrefix(uint64_t version) { return "encore:v" + std::to_string(version) + ":"; }
std::string LeaseKey(uint64_t version) { return kLeasePrefix + std::to_string(version); }

std::optional<uint64_t> ParseVersion(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v == 0) {
    return std::nullopt;
  }
  return v;
}

// The version of a document key "encore:v<version>:...".
std::optional<uint64_t> KeyVersion(std::string_view key) {
  constexpr std::string_view kPrefix = "encore:v";
  if (key.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  key.remove_prefix(kPrefix.size());
  size_t colon = key.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return ParseVersion(key.substr(0, colon));
}

// The seconds of a TIME reply (the Redis server's clock, unix seconds).
Result<int64_t> TimeSeconds(const Reply& r) {
  int64_t seconds = 0;
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
      r->element[0]->type == REDIS_REPLY_STRING) {
    std::string_view text = ReplyText(r->element[0]);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec == std::errc() && end == text.data() + text.size()) return seconds;
  }
  return Status::Internal("unexpected TIME reply from redis");
}

// Deletes every key matching `pattern` whose version `doomed` accepts.
Status ScanAndUnlink(Connection* conn, const std::string& pattern,
                     const std::function<Result<bool>(uint64_t)>& doomed) {
  std::string cursor = "0";
  const std::string count = std::to_string(kScanCount);
  std::vector<std::string> batch;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::OK();
    std::vector<const char*> argv = {"UNLINK"};
    std::vector<size_t> lens = {6};
    for (const auto& k : batch) {
      argv.push_back(k.data());
      lens.push_back(k.size());
    }
    ENCORE_RETURN_IF_ERROR(
        conn->RunArgv(static_cast<int>(argv.size()), argv.data(), lens.data()).status());
    batch.clear();
    return Status::OK();
  };
  do {
    ENCORE_ASSIGN_OR_RETURN(Reply r, conn->Run({"SCAN", cursor, "MATCH", pattern, "COUNT", count}));
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
      return Status::Internal("unexpected SCAN reply from redis");
    }
    cursor = std::string(ReplyText(r->element[0]));
    const redisReply* keys = r->element[1];
    for (size_t i = 0; i < keys->elements; ++i) {
      std::string_view key = ReplyText(keys->element[i]);
      auto version = KeyVersion(key);
      if (!version) continue;
      ENCORE_ASSIGN_OR_RETURN(bool drop, doomed(*version));
      if (!drop) continue;
      batch.emplace_back(key);
      if (batch.size() >= kScanCount) ENCORE_RETURN_IF_ERROR(flush());
    }
  } while (cursor != "0");
  return flush();
}

// --- Reading ---------------------------------------------------------------

// The calling thread's connection to one endpoint.
struct ThreadConnection {
  Connection conn;
  std::chrono::steady_clock::time_point retry_after{};
};

// GET `key` over this thread's kept connection to `ep`. A kept connection may
// have been closed by the server (restart, idle timeout): one fresh attempt
// before giving up; after a failed connect, none until the backoff passed.
// `what` names the value in the error for a non-string key.
Status GetOverThreadConnection(const Endpoint& ep, const std::string& key, std::string_view what,
                               std::string* value) {
  thread_local std::unordered_map<std::string, ThreadConnection> connections;
  ThreadConnection& tc = connections[ep.uri];
  Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!tc.conn.connected()) {
      auto now = std::chrono::steady_clock::now();
      if (now < tc.retry_after) break;
      last = tc.conn.Connect(ep, kReadTimeout);
      if (!last.ok()) {
        tc.retry_after = now + kReconnectBackoff;
        break;
      }
    }
    auto reply = tc.conn.Run({"GET", key});
    if (!reply.ok()) {
      last = reply.status();
      if (tc.conn.connected()) return last;  // an error reply, not a broken connection
      continue;
    }
    const redisReply* r = reply->get();
    if (r->type == REDIS_REPLY_NIL) return Status::NotFound("no such key");
    if (r->type != REDIS_REPLY_STRING) {
      return Status::IOError("redis key of " + std::string(what) + " holds a non-string value");
    }
    value->assign(r->str, r->len);
    return Status::OK();
  }
  if (last.ok()) {
    last = Status::IOError("redis at " + ep.address() +
                           " is unreachable; retrying shortly (is redis-server running?)");
  }
  return last;
}

class RedisSnapshot final : public Snapshot {
 public:
  RedisSnapshot(std::shared_ptr<const Endpoint> ep, SnapshotInfo info)
      : ep_(std::move(ep)), info_(info), prefix_(VersionPrefix(info.version)) {}

  const SnapshotInfo& info() const override { return info_; }

  Status Get(Table table, std::string_view key, std::string* value) const override {
    if (key.empty() || key.size() > kMaxStoreKeyBytes) return Status::NotFound("no such key");
    thread_local std::string full_key;
    full_key.assign(prefix_);
    full_key.push_back(static_cast<char>(table));
    full_key.append(key);
    const std::string what = "snapshot " + std::to_string(info_.version);
    ENCORE_RETURN_IF_ERROR(GetOverThreadConnection(*ep_, full_key, what, value));
    if (!value->starts_with(kChunkMarker)) return Status::OK();
    return ReadChunks(std::string_view(full_key).substr(prefix_.size()), what, value);
  }

 private:
  // *value holds a chunk marker "<chunks> <total>": replaces it with the
  // document reassembled from its chunks.
  Status ReadChunks(std::string_view tail, const std::string& what, std::string* value) const {
    const std::string header = value->substr(kChunkMarker.size());
    size_t chunks = 0;
    uint64_t total = 0;
    if (std::sscanf(header.c_str(), "%zu %" SCNu64, &chunks, &total) != 2) {
      return Status::IOError("redis " + what + " holds a malformed chunk header for a document");
    }
    std::string out, chunk;
    out.reserve(total);
    for (size_t i = 0; i < chunks; ++i) {
      Status s = GetOverThreadConnection(*ep_, ChunkKey(prefix_, i, tail), what, &chunk);
      if (s.code() == StatusCode::kNotFound) {
        return Status::IOError("redis " + what + " lost chunk " + std::to_string(i) + " of " +
                               std::to_string(chunks) + " of a document (pruned while read?)");
      }
      ENCORE_RETURN_IF_ERROR(s);
      out += chunk;
    }
    if (out.size() != total) {
      return Status::IOError("redis " + what + ": a chunked document has " +
                             std::to_string(out.size()) + " bytes, its header says " +
                             std::to_string(total));
    }
    *value = std::move(out);
    return Status::OK();
  }

  std::shared_ptr<const Endpoint> ep_;
  SnapshotInfo info_;
  std::string prefix_;
};

// --- Writing ---------------------------------------------------------------

class RedisWriter final : public SnapshotWriter {
 public:
  RedisWriter(std::shared_ptr<const Endpoint> ep, std::unique_ptr<Connection> conn,
              SnapshotInfo info)
      : ep_(std::move(ep)),
        conn_(std::move(conn)),
        info_(info),
        prefix_(VersionPrefix(info.version)),
        lease_(LeaseKey(info.version)),
        version_text_(std::to_string(info.version)) {
    const uint64_t limit = MaxValueBytes(conn_.get());
    max_chunk_ = static_cast<size_t>(limit > 2 * kValueMarginBytes ? limit - kValueMarginBytes
                                                                    : limit / 2);
  }

  ~RedisWriter() override {
    if (committed_) return;
    // Best effort: without a connection the lease expires and Prune cleans up.
    if (!conn_->connected()) {
      pending_ = 0;  // those replies went with the old connection
      if (!conn_->Connect(*ep_, kWriteTimeout).ok()) return;
    }
    while (pending_ > 0 && conn_->connected()) {
      (void)conn_->NextReply();
      --pending_;
    }
    if (!conn_->connected()) return;
    // Only a version this removed from pending is ours to delete: 0 means it
    // is not pending any more - committed after all (Commit's reply was lost)
    // or dropped by a prune, which then deletes its documents itself.
    auto discarded = conn_->Eval(kDiscardScript, {kPendingKey, lease_}, {version_text_});
    if (!discarded.ok() || *discarded != 1) return;
    (void)ScanAndUnlink(conn_.get(), prefix_ + "*", [](uint64_t) -> Result<bool> { return true; });
  }

  const SnapshotInfo& info() const override { return info_; }

  Status Put(Table table, std::string_view key, std::string_view value) override {
    ENCORE_RETURN_IF_ERROR(Usable());
    ENCORE_RETURN_IF_ERROR(CheckStoreKey(key));
    key_.assign(prefix_);
    key_.push_back(static_cast<char>(table));
    key_.append(key);
    if (value.size() > max_chunk_ || value.starts_with(kChunkMarker)) return PutChunked(value);
    return Set(key_, value);
  }

  // Writes `value` as chunks of at most max_chunk_ bytes, then the marker
  // under key_ (so a reader never finds the marker before its chunks).
  Status PutChunked(std::string_view value) {
    const std::string doc_key = key_;
    const std::string_view tail = std::string_view(doc_key).substr(prefix_.size());
    size_t chunks = 0;
    for (size_t at = 0; at < value.size() || chunks == 0; at += max_chunk_, ++chunks) {
      ENCORE_RETURN_IF_ERROR(Set(ChunkKey(prefix_, chunks, tail), value.substr(at, max_chunk_)));
      ENCORE_RETURN_IF_ERROR(Flush());  // one large value in flight at a time
    }
    std::string marker(kChunkMarker);
    marker += std::to_string(chunks) + " " + std::to_string(value.size());
    return Set(doc_key, marker);
  }

  Status Set(const std::string& key, std::string_view value) {
    const char* argv[] = {"SET", key.data(), value.data()};
    const size_t lens[] = {3, key.size(), value.size()};
    Status s = conn_->Append(3, argv, lens);
    if (!s.ok()) return Fail(s);
    ++pending_;
    if (pending_ >= kPipelineBatch) return Flush();
    return Status::OK();
  }

  Status Commit() override {
    ENCORE_RETURN_IF_ERROR(Usable());
    ENCORE_RETURN_IF_ERROR(Flush());
    done_ = true;
    const std::string created = std::to_string(info_.created_unix);
    ENCORE_ASSIGN_OR_RETURN(Reply time, conn_->Run({"TIME"}));
    ENCORE_ASSIGN_OR_RETURN(int64_t now, TimeSeconds(time));
    auto switched =
        conn_->Eval(kCommitScript, {kPendingKey, kVersionsKey, kCurrentKey, lease_, kRetiredKey},
                    {version_text_, created, std::to_string(now)});
    if (!switched.ok()) {
      if (conn_->connected()) return switched.status();  // an error reply: nothing changed
      return CommitOutcome(switched.status());
    }
    if (*switched != 1) {
      return Status::FailedPrecondition(
          "snapshot " + version_text_ + " in " + ep_->uri +
          " was discarded before it could commit (its publisher lease of " +
          std::to_string(kLeaseSeconds) + " s expired and a prune removed it); publish again");
    }
    committed_ = true;
    return Status::OK();
  }

 private:
  // The connection broke around the commit script, so it may have run: asks
  // on a new connection whether the version is committed.
  Status CommitOutcome(const Status& failure) {
    Status unknown =
        Status::IOError(failure.message() + "; snapshot " + version_text_ +
                        " may or may not have become current: check with encore rollback --store " +
                        ep_->uri + " --list");
    if (!conn_->Connect(*ep_, kWriteTimeout).ok()) return unknown;
    auto r = conn_->Run({"ZSCORE", kVersionsKey, version_text_});
    if (!r.ok()) return unknown;
    if ((*r)->type == REDIS_REPLY_NIL) return failure;  // still pending: the destructor discards it
    committed_ = true;
    return Status::OK();
  }

  // Reads the replies of every queued SET (each must be +OK) and renews the lease.
  Status Flush() {
    const std::string ttl = std::to_string(kLeaseSeconds);
    const char* argv[] = {"EXPIRE", lease_.data(), ttl.data()};
    const size_t lens[] = {6, lease_.size(), ttl.size()};
    Status s = conn_->Append(3, argv, lens);
    if (!s.ok()) return Fail(s);
    ++pending_;
    for (; pending_ > 0; --pending_) {
      auto reply = conn_->NextReply();
      if (!reply.ok()) {
        // An error reply was read like any other; a broken connection took
        // the unread replies with it.
        if (conn_->connected()) {
          --pending_;
        } else {
          pending_ = 0;
        }
        return Fail(reply.status());
      }
      const redisReply* r = reply->get();
      const bool last = pending_ == 1;
      if (last) {
        if (r->type != REDIS_REPLY_INTEGER || r->integer != 1) {
          --pending_;
          return Fail(Status::FailedPrecondition("snapshot " + version_text_ + " in " + ep_->uri +
                                                 " lost its publisher lease (silent for over " +
                                                 std::to_string(kLeaseSeconds) +
                                                 " s, or removed by a prune); publish again"));
        }
      } else if (r->type != REDIS_REPLY_STATUS || ReplyText(r) != "OK") {
        done_ = true;
        Status bad = Status::IOError("redis at " + ep_->address() +
                                     " did not acknowledge a SET of snapshot " + version_text_);
        // Drain the rest so the connection stays usable for the cleanup.
        for (--pending_; pending_ > 0; --pending_) {
          if (!conn_->NextReply().ok() && !conn_->connected()) break;
        }
        pending_ = 0;
        return bad;
      }
    }
    return Status::OK();
  }

  Status Usable() const {
    if (done_) return Status::FailedPrecondition("snapshot already committed or failed");
    return Status::OK();
  }
  Status Fail(Status status) {
    done_ = true;
    return status;
  }

  std::shared_ptr<const Endpoint> ep_;
  std::unique_ptr<Connection> conn_;
  SnapshotInfo info_;
  std::string prefix_;
  std::string lease_;
  std::string version_text_;
  std::string key_;
  size_t pending_ = 0;  // commands appended whose replies are unread
  size_t max_chunk_ = 0;
  bool done_ = false;
  bool committed_ = false;
};

// --- Live documents ----------------------------------------------------------

// encore:live:p:<version>:<user>  payloads (store::LivePayloadKey);
// encore:live:s:<key>  consumer state.
using store::LivePayloadKey;
constexpr char kLivePayloadPattern[] = "encore:live:p:*";
constexpr std::string_view kLivePayloadPrefix = store::kLivePayloadPrefix;

class RedisLiveStore final : public LiveStore {
 public:
  explicit RedisLiveStore(std::shared_ptr<const Endpoint> ep) : ep_(std::move(ep)) {}

  Status GetPayload(uint64_t version, std::string_view user, std::string* value) const override {
    if (user.empty() || user.size() > kMaxStoreKeyBytes) return Status::NotFound("no such key");
    return Get(LivePayloadKey(version, user), value);
  }
  Status GetState(std::string_view key, std::string* value) const override {
    if (key.empty() || key.size() > kMaxStoreKeyBytes) return Status::NotFound("no such key");
    std::string k = "encore:live:s:";
    k.append(key);
    return Get(k, value);
  }

  Status Write(const std::vector<Entry>& batch) override {
    for (const Entry& e : batch) ENCORE_RETURN_IF_ERROR(CheckStoreKey(e.key));
    if (!conn_.connected()) {
      ENCORE_RETURN_IF_ERROR(conn_.Connect(*ep_, kWriteTimeout));
      max_value_ = MaxValueBytes(&conn_);
    }
    // Refused before anything is sent: the server would drop the connection
    // (and with it the whole MULTI) on a bulk string over its limit.
    for (const Entry& e : batch) {
      if (!e.erase && e.value.size() > max_value_) {
        return Status::InvalidArgument(
            std::string(e.kind == Entry::Kind::kPayload ? "live payload of user " : "live state ") +
            e.key + " is " + std::to_string(e.value.size()) + " bytes, over the limit of " +
            std::to_string(max_value_) + " bytes for one value of redis at " + ep_->address() +
            " (proto-max-bulk-len); raise it in redis.conf or keep payloads smaller (fewer items "
            "per list)");
      }
    }
    auto send = [&](std::initializer_list<std::string_view> args) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (std::string_view a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      return conn_.Append(static_cast<int>(argv.size()), argv.data(), lens.data());
    };
    ENCORE_RETURN_IF_ERROR(send({"MULTI"}));
    std::string k;
    for (const Entry& e : batch) {
      if (e.kind == Entry::Kind::kPayload) {
        k = LivePayloadKey(e.version, e.key);
      } else {
        k = "encore:live:s:";
        k.append(e.key);
      }
      ENCORE_RETURN_IF_ERROR(e.erase ? send({"DEL", k}) : send({"SET", k, e.value}));
    }
    ENCORE_RETURN_IF_ERROR(send({"EXEC"}));
    Status first;
    for (size_t i = 0; i < batch.size() + 2; ++i) {
      auto reply = conn_.NextReply();
      if (!reply.ok() && first.ok()) first = reply.status();
      if (!reply.ok() && !conn_.connected()) return first;
    }
    return first;
  }

  Status DropPayloadsBefore(uint64_t version) override {
    if (!conn_.connected()) ENCORE_RETURN_IF_ERROR(conn_.Connect(*ep_, kWriteTimeout));
    std::string cursor = "0";
    const std::string count = std::to_string(kScanCount);
    do {
      ENCORE_ASSIGN_OR_RETURN(
          Reply r, conn_.Run({"SCAN", cursor, "MATCH", kLivePayloadPattern, "COUNT", count}));
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
          r->element[1]->type != REDIS_REPLY_ARRAY) {
        return Status::Internal("unexpected SCAN reply from redis");
      }
      cursor = std::string(ReplyText(r->element[0]));
      const redisReply* keys = r->element[1];
      for (size_t i = 0; i < keys->elements; ++i) {
        std::string_view key = ReplyText(keys->element[i]);
        std::string_view rest = key.substr(kLivePayloadPrefix.size());
        auto v = ParseVersion(rest.substr(0, rest.find(':')));
        if (!v || *v >= version) continue;
        ENCORE_RETURN_IF_ERROR(conn_.Run({"UNLINK", key}).status());
      }
    } while (cursor != "0");
    return Status::OK();
  }

 private:
  Status Get(const std::string& key, std::string* value) const {
    return GetOverThreadConnection(*ep_, key, "the live state", value);
  }

  std::shared_ptr<const Endpoint> ep_;
  Connection conn_;  // the writer's
  uint64_t max_value_ = kDefaultMaxValueBytes;  // the server's, read at connect
};

// --- The store -------------------------------------------------------------

class RedisStore final : public Store {
 public:
  explicit RedisStore(std::shared_ptr<const Endpoint> ep) : ep_(std::move(ep)) {}

  Status Connect() { return conn_.Connect(*ep_, kWriteTimeout); }

  const std::string& uri() const override { return ep_->uri; }

  Result<std::unique_ptr<SnapshotWriter>> BeginSnapshot() override {
    auto conn = std::make_unique<Connection>();
    ENCORE_RETURN_IF_ERROR(conn->Connect(*ep_, kWriteTimeout));
    SnapshotInfo info;
    info.created_unix = NowUnixSeconds();
    ENCORE_ASSIGN_OR_RETURN(
        long long version,
        conn->Eval(kBeginScript, {kNextKey, kPendingKey, kLeasePrefix},
                   {std::to_string(info.created_unix), std::to_string(kLeaseSeconds)}));
    info.version = static_cast<uint64_t>(version);
    return std::unique_ptr<SnapshotWriter>(new RedisWriter(ep_, std::move(conn), info));
  }

  Result<std::vector<SnapshotInfo>> List() override {
    ENCORE_ASSIGN_OR_RETURN(Reply r, Run({"ZRANGE", kVersionsKey, "0", "-1", "WITHSCORES"}));
    ENCORE_ASSIGN_OR_RETURN(uint64_t current, ReadCurrent());
    std::vector<SnapshotInfo> out;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
      auto version = ParseVersion(ReplyText(r->element[i]));
      if (!version) continue;
      SnapshotInfo info;
      info.version = *version;
      info.created_unix = std::atoll(std::string(ReplyText(r->element[i + 1])).c_str());
      info.current = *version == current;
      out.push_back(info);
    }
    std::sort(out.begin(), out.end(),
              [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.version < b.version; });
    return out;
  }

  Result<uint64_t> CurrentVersion() override {
    ENCORE_ASSIGN_OR_RETURN(uint64_t current, ReadCurrent());
    if (current == 0) return Status::NotFound(NothingPublishedMessage(ep_->uri));
    return current;
  }

  Result<std::shared_ptr<const Snapshot>> OpenSnapshot(uint64_t version) override {
    ENCORE_ASSIGN_OR_RETURN(Reply r, Run({"ZSCORE", kVersionsKey, std::to_string(version)}));
    if (r->type == REDIS_REPLY_NIL)
      return Status::NotFound(NoSuchSnapshotMessage(ep_->uri, version));
    SnapshotInfo info;
    info.version = version;
    info.created_unix = std::atoll(std::string(ReplyText(r.get())).c_str());
    return std::shared_ptr<const Snapshot>(std::make_shared<RedisSnapshot>(ep_, info));
  }

  Status SetCurrent(uint64_t version) override {
    ENCORE_ASSIGN_OR_RETURN(int64_t now, ServerTime());
    ENCORE_ASSIGN_OR_RETURN(long long ok,
                            Eval(kSetCurrentScript, {kVersionsKey, kCurrentKey, kRetiredKey},
                                 {std::to_string(version), std::to_string(now)}));
    if (ok != 1) return Status::NotFound(NoSuchSnapshotMessage(ep_->uri, version));
    return Status::OK();
  }

  Result<std::unique_ptr<LiveStore>> OpenLive() override {
    return std::unique_ptr<LiveStore>(new RedisLiveStore(ep_));
  }

  // The server's: lookups answered from a cache kept correct by Redis
  // client tracking (store/redis_live_cache.h).
  Result<std::unique_ptr<LiveStore>> OpenLiveCached(uint64_t cache_bytes) override {
    std::unique_ptr<LiveStore> base(new RedisLiveStore(ep_));
    if (cache_bytes == 0) return base;
    return store::CacheRedisLiveStore(std::move(base), ep_, cache_bytes);
  }

  Status Prune(uint32_t keep) override {
    // Versions handed out later belong to publishers that started after us.
    ENCORE_ASSIGN_OR_RETURN(Reply next_reply, Run({"GET", kNextKey}));
    uint64_t next = 0;
    if (next_reply->type == REDIS_REPLY_STRING)
      next = ParseVersion(ReplyText(next_reply.get())).value_or(0);
    ENCORE_ASSIGN_OR_RETURN(std::vector<SnapshotInfo> kept, List());
    for (size_t i = 0; i + keep < kept.size(); ++i) {
      if (kept[i].current) continue;
      ENCORE_RETURN_IF_ERROR(
          Eval(kDropVersionScript, {kVersionsKey, kCurrentKey}, {std::to_string(kept[i].version)})
              .status());
    }
    ENCORE_ASSIGN_OR_RETURN(Reply pending, Run({"ZRANGE", kPendingKey, "0", "-1"}));
    for (size_t i = 0; i < pending->elements; ++i) {
      auto version = ParseVersion(ReplyText(pending->element[i]));
      if (!version) continue;
      ENCORE_RETURN_IF_ERROR(Eval(kDropDeadPendingScript, {kPendingKey, LeaseKey(*version)},
                                  {std::to_string(*version)})
                                 .status());
    }
    // Every document of a version in neither set goes (decided once per
    // version), unless servers may still be answering from it.
    ENCORE_ASSIGN_OR_RETURN(int64_t now, ServerTime());
    const std::string cutoff = std::to_string(now - kRetiredGraceSeconds);
    std::map<uint64_t, bool> orphan;
    auto doomed = [&](uint64_t version) -> Result<bool> {
      if (version > next) return false;
      auto it = orphan.find(version);
      if (it != orphan.end()) return it->second;
      ENCORE_ASSIGN_OR_RETURN(long long r,
                              Eval(kIsOrphanScript, {kVersionsKey, kPendingKey, kRetiredKey},
                                   {std::to_string(version), cutoff}));
      orphan[version] = r == 1;
      return r == 1;
    };
    ENCORE_RETURN_IF_ERROR(ScanAndUnlink(&conn_, "encore:v*", doomed));
    return Eval(kForgetRetiredScript, {kRetiredKey, kVersionsKey}, {cutoff}).status();
  }

 private:
  Status EnsureConnected() {
    if (conn_.connected()) return Status::OK();
    return conn_.Connect(*ep_, kWriteTimeout);
  }

  // Every command a Store sends is idempotent, so one that failed because
  // the connection broke (Redis closed it while it sat idle through a long
  // publish, or restarted) is sent once more on a new connection.
  template <typename Call>
  auto Retrying(const Call& call) -> decltype(call()) {
    ENCORE_RETURN_IF_ERROR(EnsureConnected());
    auto result = call();
    if (result.ok() || conn_.connected()) return result;
    ENCORE_RETURN_IF_ERROR(conn_.Connect(*ep_, kWriteTimeout));
    return call();
  }
  Result<Reply> Run(std::initializer_list<std::string_view> args) {
    return Retrying([&] { return conn_.Run(args); });
  }
  Result<long long> Eval(const char* script, std::initializer_list<std::string_view> keys,
                         std::initializer_list<std::string_view> args) {
    return Retrying([&] { return conn_.Eval(script, keys, args); });
  }
  Result<int64_t> ServerTime() {
    ENCORE_ASSIGN_OR_RETURN(Reply r, Run({"TIME"}));
    return TimeSeconds(r);
  }

  // 0 when nothing was published yet.
  Result<uint64_t> ReadCurrent() {
    ENCORE_ASSIGN_OR_RETURN(Reply r, Run({"GET", kCurrentKey}));
    if (r->type == REDIS_REPLY_NIL) return uint64_t{0};
    auto v = r->type == REDIS_REPLY_STRING ? ParseVersion(ReplyText(r.get())) : std::nullopt;
    if (!v) {
      return Status::Corruption("redis key " + std::string(kCurrentKey) + " in " + ep_->uri +
                                " does not hold a snapshot version; run encore rollback --store " +
                                ep_->uri + " --to VERSION to rewrite it");
    }
    return *v;
  }

  std::shared_ptr<const Endpoint> ep_;
  Connection conn_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenRedisStore(const std::string& uri) {
  ENCORE_ASSIGN_OR_RETURN(Endpoint ep, ParseUri(uri));
  auto store = std::make_unique<RedisStore>(std::make_shared<const Endpoint>(std::move(ep)));
  ENCORE_RETURN_IF_ERROR(store->Connect());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace encore
