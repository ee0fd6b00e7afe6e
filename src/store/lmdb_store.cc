// The LMDB store: a directory of immutable snapshots, one LMDB environment
// each, and a CURRENT file naming the one being served.
//
//   DIR/ENCORE_STORE                     marker: "encore lmdb store\nformat 1\n"
//   DIR/CURRENT                          "<version>\n", replaced atomically
//   DIR/LAST                             highest version ever handed out
//   DIR/LOCK                             flock: held by the one live publisher
//   DIR/CURRENT.lock                     flock: serialises CURRENT switches and pruning
//   DIR/snapshots/<20-digit version>/    data.mdb + SNAPSHOT ("version V\ncreated T\n")
//   DIR/snapshots/.staging-<version>/    a publish in progress (or a dead one)
//   DIR/snapshots/.deleting-<version>/   a snapshot being pruned
//
// docs/SERVING.md describes the layout and its crash guarantees.
//
// Reads (the server's hot path). A snapshot is immutable once renamed into
// place, so readers open it with MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS: no lock
// file, no reader table. Get uses a read transaction that each thread keeps
// for the snapshot's lifetime instead of beginning and aborting one per call.
// Measured with bench/store_bench (release, 1 thread, 200-byte values): with
// 10k keys (hot cache, so transaction overhead shows) a long-lived
// transaction gave 4.17M Get/s, reset/renew per Get 4.07M/s, begin/abort per
// Get 3.62M/s (~35 ns more per call); with 1M keys cache misses dominate and
// the three are within noise (0.5-0.9M/s on a shared machine). The kept
// transaction costs nothing else: MDB_NOLOCK read transactions pin no reader
// slot, and the data never changes under them.

#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "store/file_util.h"
#include "store/store_internal.h"

namespace encore {

namespace {

using store::FileLock;

constexpr char kMarkerFile[] = "ENCORE_STORE";
constexpr char kMarkerText[] = "encore lmdb store\nformat 1\n";
constexpr char kMarkerPrefix[] = "encore lmdb store\n";
constexpr char kStagingPrefix[] = ".staging-";
constexpr char kDeletingPrefix[] = ".deleting-";
// Address space reserved by a publisher (not memory: LMDB maps the file
// lazily and the file grows only as pages are written).
constexpr size_t kWriterMapSize = size_t{1} << 40;
constexpr size_t kMinWriterMapSize = size_t{1} << 30;
// Write transactions are committed every this many bytes so a large publish
// does not hold all its dirty pages in memory (the staging environment is
// invisible to readers, so intermediate commits are harmless).
constexpr size_t kChunkBytes = size_t{64} << 20;

std::string VersionName(uint64_t version) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(version));
  return buf;
}

// The version in a name of exactly 20 digits, else nullopt.
std::optional<uint64_t> ParseVersionName(std::string_view name) {
  if (name.size() != 20) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), v);
  if (ec != std::errc() || end != name.data() + name.size() || v == 0) return std::nullopt;
  return v;
}

// A decimal version followed by an optional newline.
std::optional<uint64_t> ParseVersionText(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v == 0) {
    return std::nullopt;
  }
  return v;
}

std::string LmdbMessage(int rc) {
  // mdb_strerror returns strerror() text for system errors and static
  // strings for LMDB's own; copy it at once.
  return std::string(mdb_strerror(rc));
}

Status LmdbError(const std::string& what, const std::string& path, int rc) {
  std::string message = what + " '" + path + "': " + LmdbMessage(rc);
  if (rc == ENOENT) return Status::NotFound(message);
  if (rc == EACCES || rc == EPERM) {
    return Status::IOError(message + "; check the permissions of '" + path + "'");
  }
  if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED) {
    return Status::Corruption(message + "; the snapshot is damaged: roll back to another one " +
                              "(encore rollback) and publish again");
  }
  if (rc == MDB_MAP_FULL || rc == ENOSPC)
    return Status::IOError(message + "; free some disk space");
  return Status::IOError(message);
}

// Directories of this process that have a live SnapshotWriter. flock
// excludes other processes; a second writer in the same process would block
// on its own lock forever, so it is refused instead.
std::mutex& WritingDirsMutex() {
  static std::mutex mu;
  return mu;
}
std::set<std::string>& WritingDirs() {
  static auto* dirs = new std::set<std::string>();
  return *dirs;
}

// SNAPSHOT file contents.
std::string SnapshotFileText(const SnapshotInfo& info) {
  return "version " + std::to_string(info.version) + "\ncreated " +
         std::to_string(info.created_unix) + "\n";
}

Result<SnapshotInfo> ReadSnapshotFile(const std::string& snapshot_dir, uint64_t version) {
  const std::string path = snapshot_dir + "/SNAPSHOT";
  ENCORE_ASSIGN_OR_RETURN(std::string text, store::ReadSmallFile(path));
  SnapshotInfo info;
  long long v = 0, created = 0;
  if (std::sscanf(text.c_str(), "version %lld\ncreated %lld\n", &v, &created) != 2 ||
      static_cast<uint64_t>(v) != version) {
    return Status::Corruption("'" + path + "' is not a valid snapshot description; remove '" +
                              snapshot_dir + "' or publish again");
  }
  info.version = version;
  info.created_unix = created;
  return info;
}

// --- Reading ---------------------------------------------------------------

class LmdbSnapshot final : public Snapshot {
 public:
  LmdbSnapshot(SnapshotInfo info, MDB_env* env, MDB_dbi dbi)
      : info_(info), env_(env), dbi_(dbi), id_(NextId()) {}

  ~LmdbSnapshot() override {
    // No Get can be running: the last shared_ptr is going away.
    for (const auto& [thread, txn] : txns_) mdb_txn_abort(txn);
    mdb_env_close(env_);
  }

  const SnapshotInfo& info() const override { return info_; }

  Status Get(Table table, std::string_view key, std::string* value) const override {
    if (key.empty() || key.size() > kMaxStoreKeyBytes) return Status::NotFound("no such key");
    MDB_txn* txn = ThreadTxn();
    if (txn == nullptr) {
      return Status::IOError("cannot begin a read transaction on snapshot " +
                             std::to_string(info_.version));
    }
    char buf[1 + kMaxStoreKeyBytes];
    buf[0] = static_cast<char>(table);
    key.copy(buf + 1, key.size());
    MDB_val k{1 + key.size(), buf};
    MDB_val v;
    int rc = mdb_get(txn, dbi_, &k, &v);
    if (rc == MDB_NOTFOUND) return Status::NotFound("no such key");  // short: no allocation
    if (rc != 0) {
      return Status::IOError("read of snapshot " + std::to_string(info_.version) +
                             " failed: " + LmdbMessage(rc));
    }
    value->assign(static_cast<const char*>(v.mv_data), v.mv_size);
    return Status::OK();
  }

 private:
  static uint64_t NextId() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1);
  }

  // The calling thread's read transaction on this snapshot. Each thread
  // caches its last few (snapshot id, txn) pairs; ids are never reused, so an
  // entry of a destroyed snapshot can never match. The snapshot owns (and
  // finally aborts) every transaction; the slow path finds a thread's own
  // transaction again after it fell out of the thread's cache.
  MDB_txn* ThreadTxn() const {
    struct Entry {
      uint64_t id = 0;
      MDB_txn* txn = nullptr;
    };
    static constexpr size_t kCacheSize = 4;
    thread_local Entry cache[kCacheSize];
    thread_local size_t next_slot = 0;
    for (const Entry& e : cache) {
      if (e.id == id_) return e.txn;
    }
    MDB_txn* txn = nullptr;
    {
      std::lock_guard lock(mu_);
      auto it = txns_.find(std::this_thread::get_id());
      if (it != txns_.end()) {
        txn = it->second;
      } else {
        if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) != 0) return nullptr;
        txns_.emplace(std::this_thread::get_id(), txn);
      }
    }
    cache[next_slot] = Entry{id_, txn};
    next_slot = (next_slot + 1) % kCacheSize;
    return txn;
  }

  SnapshotInfo info_;
  MDB_env* env_;
  MDB_dbi dbi_;
  uint64_t id_;
  mutable std::mutex mu_;
  mutable std::map<std::thread::id, MDB_txn*> txns_;
};

// --- Writing ---------------------------------------------------------------

class LmdbWriter final : public SnapshotWriter {
 public:
  LmdbWriter(std::string dir, std::string registered_dir, FileLock lock, SnapshotInfo info)
      : dir_(std::move(dir)),
        registered_dir_(std::move(registered_dir)),
        lock_(std::move(lock)),
        info_(info),
        snapshots_(dir_ + "/snapshots"),
        staging_(snapshots_ + "/" + kStagingPrefix + VersionName(info.version)) {}

  ~LmdbWriter() override {
    CloseEnv();
    // Not committed: the partial snapshot goes (best effort; Prune retries).
    if (!renamed_) (void)store::RemoveTree(staging_);
    std::lock_guard lock(WritingDirsMutex());
    WritingDirs().erase(registered_dir_);
  }

  // Creates the staging environment and its first write transaction.
  Status Open() {
    if (::mkdir(staging_.c_str(), 0755) != 0) {
      return Status::IOError("cannot create '" + staging_ + "': " + store::ErrnoMessage(errno) +
                             "; publishing needs write access to '" + dir_ + "'");
    }
    // Large map first; smaller when the address space is limited (ulimit -v).
    // A failed mdb_env_open leaves the handle unusable: each try gets a new one.
    int rc = 0;
    for (size_t map_size = kWriterMapSize;; map_size /= 2) {
      rc = mdb_env_create(&env_);
      if (rc != 0) return LmdbError("cannot create an LMDB environment for", staging_, rc);
      rc = mdb_env_set_mapsize(env_, map_size);
      if (rc == 0) rc = mdb_env_open(env_, staging_.c_str(), MDB_NOLOCK | MDB_NOSYNC, 0644);
      if (rc == 0) break;
      mdb_env_close(env_);
      env_ = nullptr;
      if (rc != ENOMEM || map_size / 2 < kMinWriterMapSize) break;
    }
    if (rc != 0) return LmdbError("cannot open", staging_, rc);
    return BeginTxn();
  }

  const SnapshotInfo& info() const override { return info_; }

  Status Put(Table table, std::string_view key, std::string_view value) override {
    ENCORE_RETURN_IF_ERROR(Usable());
    ENCORE_RETURN_IF_ERROR(CheckStoreKey(key));
    key_.assign(1, static_cast<char>(table));
    key_.append(key);
    MDB_val k{key_.size(), key_.data()};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    int rc = mdb_put(txn_, dbi_, &k, &v, 0);
    if (rc != 0) return Fail(LmdbError("cannot write to", staging_, rc));
    txn_bytes_ += key_.size() + value.size();
    if (txn_bytes_ >= kChunkBytes) {
      rc = mdb_txn_commit(txn_);
      txn_ = nullptr;
      if (rc != 0) return Fail(LmdbError("cannot write to", staging_, rc));
      ENCORE_RETURN_IF_ERROR(BeginTxn());
    }
    return Status::OK();
  }

  Status Commit() override {
    ENCORE_RETURN_IF_ERROR(Usable());
    done_ = true;
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    if (rc != 0) return LmdbError("cannot commit", staging_, rc);
    rc = mdb_env_sync(env_, 1);
    if (rc != 0) return LmdbError("cannot sync", staging_, rc);
    CloseEnv();
    ENCORE_RETURN_IF_ERROR(
        store::WriteFileDurably(staging_ + "/SNAPSHOT", SnapshotFileText(info_)));
    ENCORE_RETURN_IF_ERROR(store::SyncDir(staging_));
    const std::string final_dir = snapshots_ + "/" + VersionName(info_.version);
    ENCORE_ASSIGN_OR_RETURN(FileLock switch_lock, FileLock::Acquire(dir_ + "/CURRENT.lock"));
    if (::rename(staging_.c_str(), final_dir.c_str()) != 0) {
      return Status::IOError("cannot rename '" + staging_ + "' to '" + final_dir +
                             "': " + store::ErrnoMessage(errno));
    }
    renamed_ = true;
    ENCORE_RETURN_IF_ERROR(store::SyncDir(snapshots_));
    return store::WriteFileAtomically(dir_, "CURRENT", std::to_string(info_.version) + "\n");
  }

 private:
  Status BeginTxn() {
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn_);
    if (rc == 0) rc = mdb_dbi_open(txn_, nullptr, 0, &dbi_);
    if (rc != 0) return Fail(LmdbError("cannot begin a write transaction in", staging_, rc));
    txn_bytes_ = 0;
    return Status::OK();
  }

  Status Usable() const {
    if (done_) return Status::FailedPrecondition("snapshot already committed or failed");
    return Status::OK();
  }

  // After a failed LMDB call the transaction is unusable: so is the writer.
  Status Fail(Status status) {
    done_ = true;
    return status;
  }

  void CloseEnv() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    txn_ = nullptr;
    if (env_ != nullptr) mdb_env_close(env_);
    env_ = nullptr;
  }

  std::string dir_;
  std::string registered_dir_;
  FileLock lock_;
  SnapshotInfo info_;
  std::string snapshots_;
  std::string staging_;
  MDB_env* env_ = nullptr;
  MDB_txn* txn_ = nullptr;
  MDB_dbi dbi_ = 0;
  size_t txn_bytes_ = 0;
  std::string key_;
  bool done_ = false;
  bool renamed_ = false;
};

// --- Live documents ----------------------------------------------------------

// DIR/live: one ordinary (locking) LMDB environment, written by one stream
// consumer and read by any number of servers. Keys: 'p' + 8-byte big-endian
// snapshot version + user id (payloads, so a version's payloads are one key
// range), 's' + key (consumer state). Writes are synced transactions.
constexpr size_t kLiveMapSize = size_t{1} << 38;

std::string LivePayloadKey(uint64_t version, std::string_view user) {
  std::string k(1, 'p');
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>(version >> shift));
  k.append(user);
  return k;
}

// One LMDB environment per live directory per process. LMDB forbids opening
// an environment twice in one process: the second open takes the lock file
// for its own (fcntl locks are per process), resets the shared reader table
// and transaction id under the first one - readers then saw older states
// than they had already seen - and closing either drops the other's locks.
// So every handle on a directory shares one LiveEnv, counted here, and the
// last handle closes it while the registry is locked (a new open of the
// same directory waits for that close).
struct LiveEnv {
  std::string path;
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  int handles = 0;  // guarded by LiveEnvRegistryMutex()
  // Reset read transactions, renewed by Get (see LmdbLiveStore::Get).
  std::mutex readers_mu;
  std::vector<MDB_txn*> readers;

  ~LiveEnv() {
    for (MDB_txn* txn : readers) mdb_txn_abort(txn);
    mdb_env_close(env);
  }
};

std::mutex& LiveEnvRegistryMutex() {
  static std::mutex mu;
  return mu;
}

// Keyed by the directory's device and inode, so two spellings of one path
// (relative, through a symlink) share the environment.
std::map<std::pair<dev_t, ino_t>, LiveEnv*>& LiveEnvRegistry() {
  static auto* registry = new std::map<std::pair<dev_t, ino_t>, LiveEnv*>();
  return *registry;
}

Result<LiveEnv*> AcquireLiveEnv(const std::string& dir) {
  const std::string path = dir + "/live";
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::IOError("cannot create '" + path + "': " + store::ErrnoMessage(errno) +
                           "; check the permissions of '" + dir + "'");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::IOError("cannot open '" + path + "': " + store::ErrnoMessage(errno));
  }
  std::lock_guard lock(LiveEnvRegistryMutex());
  const auto key = std::make_pair(st.st_dev, st.st_ino);
  auto found = LiveEnvRegistry().find(key);
  if (found != LiveEnvRegistry().end()) {
    ++found->second->handles;
    return found->second;
  }
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return LmdbError("cannot create an LMDB environment for", path, rc);
  rc = mdb_env_set_mapsize(env, kLiveMapSize);
  if (rc == 0) rc = mdb_env_open(env, path.c_str(), MDB_NOTLS, 0644);
  MDB_dbi dbi = 0;
  if (rc == 0) {
    MDB_txn* txn = nullptr;
    rc = mdb_txn_begin(env, nullptr, 0, &txn);
    if (rc == 0) {
      rc = mdb_dbi_open(txn, nullptr, 0, &dbi);
      rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
    }
  }
  if (rc != 0) {
    mdb_env_close(env);
    return LmdbError("cannot open the live documents", path, rc);
  }
  auto* shared = new LiveEnv();
  shared->path = path;
  shared->env = env;
  shared->dbi = dbi;
  shared->handles = 1;
  LiveEnvRegistry().emplace(key, shared);
  return shared;
}

void ReleaseLiveEnv(LiveEnv* shared) {
  std::lock_guard lock(LiveEnvRegistryMutex());
  if (--shared->handles > 0) return;
  for (auto it = LiveEnvRegistry().begin(); it != LiveEnvRegistry().end(); ++it) {
    if (it->second == shared) {
      LiveEnvRegistry().erase(it);
      break;
    }
  }
  delete shared;  // closes the environment, still under the registry lock
}

class LmdbLiveStore final : public LiveStore {
 public:
  explicit LmdbLiveStore(LiveEnv* shared)
      : shared_(shared), path_(shared->path), env_(shared->env), dbi_(shared->dbi) {}
  // No Get of this handle can be running: the handle is going away.
  ~LmdbLiveStore() override { ReleaseLiveEnv(shared_); }

  static Result<std::unique_ptr<LiveStore>> Open(const std::string& dir) {
    ENCORE_ASSIGN_OR_RETURN(LiveEnv * shared, AcquireLiveEnv(dir));
    return std::unique_ptr<LiveStore>(new LmdbLiveStore(shared));
  }

  Status GetPayload(uint64_t version, std::string_view user, std::string* value) const override {
    if (user.empty() || user.size() > kMaxStoreKeyBytes) return Status::NotFound("no such key");
    return Get(LivePayloadKey(version, user), value);
  }

  Status GetState(std::string_view key, std::string* value) const override {
    if (key.empty() || key.size() > kMaxStoreKeyBytes) return Status::NotFound("no such key");
    std::string k(1, 's');
    k.append(key);
    return Get(k, value);
  }

  Status Write(const std::vector<Entry>& batch) override {
    for (const Entry& e : batch) ENCORE_RETURN_IF_ERROR(CheckStoreKey(e.key));
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) return LmdbError("cannot begin a write transaction on", path_, rc);
    std::string k;
    for (const Entry& e : batch) {
      if (e.kind == Entry::Kind::kPayload) {
        k = LivePayloadKey(e.version, e.key);
      } else {
        k.assign(1, 's');
        k.append(e.key);
      }
      MDB_val key{k.size(), k.data()};
      if (e.erase) {
        rc = mdb_del(txn, dbi_, &key, nullptr);
        if (rc == MDB_NOTFOUND) rc = 0;
      } else {
        MDB_val val{e.value.size(), const_cast<char*>(e.value.data())};
        rc = mdb_put(txn, dbi_, &key, &val, 0);
      }
      if (rc != 0) {
        mdb_txn_abort(txn);
        return LmdbError("cannot write live documents to", path_, rc);
      }
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return LmdbError("cannot commit live documents to", path_, rc);
    return Status::OK();
  }

  // The environment is shared by every handle on this directory in this
  // process (see LiveEnv), so the mode is too: the last call wins.
  Status SetSync(bool sync) override {
    int rc = mdb_env_set_flags(env_, MDB_NOSYNC, sync ? 0 : 1);
    if (rc != 0) return LmdbError("cannot change the sync mode of", path_, rc);
    return Status::OK();
  }

  Status DropPayloadsBefore(uint64_t version) override {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) return LmdbError("cannot begin a write transaction on", path_, rc);
    MDB_cursor* cursor = nullptr;
    rc = mdb_cursor_open(txn, dbi_, &cursor);
    const std::string end = LivePayloadKey(version, "");
    std::string start(1, 'p');
    MDB_val key{start.size(), start.data()};
    MDB_val val;
    if (rc == 0) rc = mdb_cursor_get(cursor, &key, &val, MDB_SET_RANGE);
    while (rc == 0) {
      std::string_view k(static_cast<const char*>(key.mv_data), key.mv_size);
      if (k.empty() || k[0] != 'p' || k >= std::string_view(end)) break;
      rc = mdb_cursor_del(cursor, 0);
      if (rc == 0) rc = mdb_cursor_get(cursor, &key, &val, MDB_GET_CURRENT);
      if (rc == EINVAL) rc = mdb_cursor_get(cursor, &key, &val, MDB_NEXT);
    }
    if (cursor != nullptr) mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND) {
      mdb_txn_abort(txn);
      return LmdbError("cannot prune live payloads of", path_, rc);
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return LmdbError("cannot commit live documents to", path_, rc);
    return Status::OK();
  }

 private:
  // Every GET of a server asks here, so reads reuse transactions: a reset
  // read transaction is renewed (LMDB's cheap path: it takes the newest
  // committed state, so a reader never sees stale data) instead of begun
  // and aborted each time. MDB_NOTLS lets any thread renew any of them.
  Status Get(const std::string& k, std::string* value) const {
    MDB_txn* txn = nullptr;
    {
      std::lock_guard lock(shared_->readers_mu);
      if (!shared_->readers.empty()) {
        txn = shared_->readers.back();
        shared_->readers.pop_back();
      }
    }
    int rc = 0;
    if (txn != nullptr && mdb_txn_renew(txn) != 0) {
      mdb_txn_abort(txn);  // e.g. the map was resized by the writer: begin anew
      txn = nullptr;
    }
    if (txn == nullptr) {
      rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
      if (rc == MDB_MAP_RESIZED) {
        mdb_env_set_mapsize(env_, 0);
        rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
      }
      if (rc != 0) return LmdbError("cannot begin a read transaction on", path_, rc);
    }
    MDB_val key{k.size(), const_cast<char*>(k.data())};
    MDB_val v;
    rc = mdb_get(txn, dbi_, &key, &v);
    if (rc == 0) value->assign(static_cast<const char*>(v.mv_data), v.mv_size);
    mdb_txn_reset(txn);
    {
      std::lock_guard lock(shared_->readers_mu);
      shared_->readers.push_back(txn);
    }
    if (rc == MDB_NOTFOUND) return Status::NotFound("no such key");
    if (rc != 0) return LmdbError("cannot read live documents of", path_, rc);
    return Status::OK();
  }

  LiveEnv* shared_;  // counted in the registry; outlives this handle's calls
  const std::string path_;
  MDB_env* const env_;
  const MDB_dbi dbi_;
};

// --- The store -------------------------------------------------------------

class LmdbStore final : public Store {
 public:
  LmdbStore(std::string dir, std::string canonical)
      : dir_(std::move(dir)), canonical_(std::move(canonical)), snapshots_(dir_ + "/snapshots") {}

  const std::string& uri() const override { return dir_; }

  Result<std::unique_ptr<SnapshotWriter>> BeginSnapshot() override {
    {
      std::lock_guard lock(WritingDirsMutex());
      if (!WritingDirs().insert(canonical_).second) {
        return Status::FailedPrecondition(
            "a snapshot of store '" + dir_ +
            "' is already being written by this process; commit or discard it first");
      }
    }
    // From here on the writer (or this guard) unregisters the directory.
    struct Unregister {
      std::string dir;
      bool armed = true;
      ~Unregister() {
        if (!armed) return;
        std::lock_guard lock(WritingDirsMutex());
        WritingDirs().erase(dir);
      }
    } unregister{canonical_};

    ENCORE_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(dir_ + "/LOCK"));
    // .CURRENT.tmp-* / .LAST.tmp-* of a publisher that crashed mid-rename.
    store::RemoveStaleTemporaries(dir_);
    uint64_t last = 0;
    ENCORE_RETURN_IF_ERROR(HighestVersion(&last));
    SnapshotInfo info;
    info.version = last + 1;
    info.created_unix = NowUnixSeconds();
    // Remembered so versions are never reused, even once pruned.
    ENCORE_RETURN_IF_ERROR(
        store::WriteFileAtomically(dir_, "LAST", std::to_string(info.version) + "\n"));
    unregister.armed = false;
    auto writer = std::make_unique<LmdbWriter>(dir_, canonical_, std::move(lock), info);
    ENCORE_RETURN_IF_ERROR(writer->Open());
    return std::unique_ptr<SnapshotWriter>(std::move(writer));
  }

  Result<std::vector<SnapshotInfo>> List() override {
    ENCORE_ASSIGN_OR_RETURN(std::vector<uint64_t> versions, CommittedVersions());
    uint64_t current = 0;
    ENCORE_RETURN_IF_ERROR(ReadCurrent(&current));
    std::vector<SnapshotInfo> out;
    for (uint64_t v : versions) {
      auto info = ReadSnapshotFile(SnapshotDir(v), v);
      if (!info.ok()) {
        if (info.status().code() == StatusCode::kNotFound) continue;  // pruned meanwhile
        return info.status();
      }
      info->current = v == current;
      out.push_back(*info);
    }
    return out;
  }

  Result<uint64_t> CurrentVersion() override {
    uint64_t current = 0;
    ENCORE_RETURN_IF_ERROR(ReadCurrent(&current));
    if (current == 0) return Status::NotFound(NothingPublishedMessage(dir_));
    return current;
  }

  Result<std::shared_ptr<const Snapshot>> OpenSnapshot(uint64_t version) override {
    const std::string path = SnapshotDir(version);
    auto info = ReadSnapshotFile(path, version);
    if (!info.ok()) {
      if (info.status().code() == StatusCode::kNotFound) {
        return Status::NotFound(NoSuchSnapshotMessage(dir_, version));
      }
      return info.status();
    }
    MDB_env* env = nullptr;
    int rc = mdb_env_create(&env);
    if (rc != 0) return LmdbError("cannot create an LMDB environment for", path, rc);
    // A tiny map size: LMDB raises it to the data's size, so a reader maps
    // only what exists, not the publisher's reservation.
    rc = mdb_env_set_mapsize(env, 1 << 20);
    if (rc == 0) rc = mdb_env_open(env, path.c_str(), MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0644);
    MDB_dbi dbi = 0;
    if (rc == 0) {
      MDB_txn* txn = nullptr;
      rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
      if (rc == 0) {
        rc = mdb_dbi_open(txn, nullptr, 0, &dbi);
        if (rc == 0) {
          rc = mdb_txn_commit(txn);
        } else {
          mdb_txn_abort(txn);
        }
      }
    }
    if (rc != 0) {
      mdb_env_close(env);
      if (rc == ENOENT) return Status::NotFound(NoSuchSnapshotMessage(dir_, version));
      return LmdbError("cannot open snapshot", path, rc);
    }
    return std::shared_ptr<const Snapshot>(std::make_shared<LmdbSnapshot>(*info, env, dbi));
  }

  Status SetCurrent(uint64_t version) override {
    ENCORE_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(dir_ + "/CURRENT.lock"));
    auto info = ReadSnapshotFile(SnapshotDir(version), version);
    if (!info.ok()) {
      if (info.status().code() == StatusCode::kNotFound) {
        return Status::NotFound(NoSuchSnapshotMessage(dir_, version));
      }
      return info.status();
    }
    return store::WriteFileAtomically(dir_, "CURRENT", std::to_string(version) + "\n");
  }

  Result<std::unique_ptr<LiveStore>> OpenLive() override { return LmdbLiveStore::Open(dir_); }

  Status Prune(uint32_t keep) override {
    std::vector<std::string> doomed;
    {
      // Deciding and renaming under the switch lock: a concurrent rollback
      // cannot make a snapshot current while it is being removed.
      ENCORE_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(dir_ + "/CURRENT.lock"));
      ENCORE_ASSIGN_OR_RETURN(std::vector<uint64_t> versions, CommittedVersions());
      uint64_t current = 0;
      ENCORE_RETURN_IF_ERROR(ReadCurrent(&current));
      for (size_t i = 0; i + keep < versions.size(); ++i) {
        if (versions[i] == current) continue;
        const std::string from = SnapshotDir(versions[i]);
        const std::string to = snapshots_ + "/" + kDeletingPrefix + VersionName(versions[i]);
        if (::rename(from.c_str(), to.c_str()) != 0) {
          return Status::IOError("cannot rename '" + from + "' to '" + to +
                                 "': " + store::ErrnoMessage(errno));
        }
      }
    }
    // Staging directories are leftovers when no publisher holds LOCK; when
    // one does, they wait for a later Prune.
    ENCORE_ASSIGN_OR_RETURN(FileLock publisher, FileLock::TryAcquire(dir_ + "/LOCK"));
    ENCORE_ASSIGN_OR_RETURN(std::vector<std::string> names, store::ListDir(snapshots_));
    for (const std::string& name : names) {
      const bool deleting = name.rfind(kDeletingPrefix, 0) == 0;
      const bool staging = name.rfind(kStagingPrefix, 0) == 0;
      if (deleting || (staging && publisher.held())) doomed.push_back(snapshots_ + "/" + name);
    }
    for (const std::string& path : doomed) ENCORE_RETURN_IF_ERROR(store::RemoveTree(path));
    return Status::OK();
  }

 private:
  std::string SnapshotDir(uint64_t version) const {
    return snapshots_ + "/" + VersionName(version);
  }

  // 0 when nothing was published yet.
  Status ReadCurrent(uint64_t* current) const {
    *current = 0;
    auto text = store::ReadSmallFile(dir_ + "/CURRENT");
    if (!text.ok()) {
      return text.status().code() == StatusCode::kNotFound ? Status::OK() : text.status();
    }
    auto v = ParseVersionText(*text);
    if (!v) {
      return Status::Corruption("'" + dir_ + "/CURRENT' does not hold a snapshot version; " +
                                "run encore rollback --store " + dir_ +
                                " --to VERSION to rewrite it");
    }
    *current = *v;
    return Status::OK();
  }

  // Committed versions, ascending.
  Result<std::vector<uint64_t>> CommittedVersions() const {
    ENCORE_ASSIGN_OR_RETURN(std::vector<std::string> names, store::ListDir(snapshots_));
    std::vector<uint64_t> versions;
    for (const std::string& name : names) {
      if (auto v = ParseVersionName(name)) versions.push_back(*v);
    }
    std::sort(versions.begin(), versions.end());
    return versions;
  }

  // The highest version any directory or LAST mentions.
  Status HighestVersion(uint64_t* highest) const {
    *highest = 0;
    auto last = store::ReadSmallFile(dir_ + "/LAST");
    if (last.ok()) {
      if (auto v = ParseVersionText(*last)) *highest = *v;
    } else if (last.status().code() != StatusCode::kNotFound) {
      return last.status();
    }
    ENCORE_ASSIGN_OR_RETURN(std::vector<std::string> names, store::ListDir(snapshots_));
    for (std::string_view name : names) {
      for (std::string_view prefix : {kStagingPrefix, kDeletingPrefix}) {
        if (name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
      }
      if (auto v = ParseVersionName(name)) *highest = std::max(*highest, *v);
    }
    return Status::OK();
  }

  std::string dir_;
  std::string canonical_;
  std::string snapshots_;
};

// Creates the layout in an absent or empty directory; accepts an existing
// store; refuses anything else.
Status InitialiseOrCheck(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return Status::IOError("cannot access store directory '" + dir +
                             "': " + store::ErrnoMessage(errno) + "; check its permissions");
    }
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return Status::IOError("cannot create store directory '" + dir + "': " + ec.message() +
                             "; check that the parent directory is writable");
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("store '" + dir +
                                   "' is a file, not a directory; pass a directory (created when "
                                   "absent) or redis://HOST:PORT/DB");
  }
  const std::string marker = dir + "/" + kMarkerFile;
  auto text = store::ReadSmallFile(marker);
  if (text.ok()) {
    if (text.value() != kMarkerText) {
      if (text->rfind(kMarkerPrefix, 0) == 0) {
        return Status::FailedPrecondition("store '" + dir + "' has a format this encore does " +
                                          "not read (" + marker + "); upgrade encore");
      }
      return Status::Corruption("'" + marker + "' is not an encore store marker; is '" + dir +
                                "' really an encore store?");
    }
  } else {
    if (text.status().code() != StatusCode::kNotFound) return text.status();
    ENCORE_ASSIGN_OR_RETURN(std::vector<std::string> names, store::ListDir(dir));
    for (const std::string& name : names) {
      // Another process initialising the same directory right now.
      if (name.rfind(std::string(".") + kMarkerFile + ".tmp-", 0) == 0) continue;
      return Status::FailedPrecondition(
          "'" + dir + "' is not an encore store (it has no " + kMarkerFile +
          " file) and is not empty; pass a new or empty directory to --store");
    }
    ENCORE_RETURN_IF_ERROR(store::WriteFileAtomically(dir, kMarkerFile, kMarkerText));
  }
  // Readers may have no write access: create only what is missing.
  if (::stat((dir + "/snapshots").c_str(), &st) == 0) return Status::OK();
  if (::mkdir((dir + "/snapshots").c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::IOError("cannot create '" + dir + "/snapshots': " + store::ErrnoMessage(errno) +
                           "; check the permissions of '" + dir + "'");
  }
  return Status::OK();
}

}  // namespace

Status CheckLmdbDestination(const std::string& uri) {
  std::string dir = uri;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Status::OK();  // created by Open
  if (!S_ISDIR(st.st_mode)) {
    return Status::FailedPrecondition("store '" + dir +
                                      "' is a file, not a directory; pass a directory (created "
                                      "when absent) or redis://HOST:PORT/DB");
  }
  if (::stat((dir + "/" + kMarkerFile).c_str(), &st) == 0) return Status::OK();
  ENCORE_ASSIGN_OR_RETURN(std::vector<std::string> names, store::ListDir(dir));
  for (const std::string& name : names) {
    if (name.rfind(std::string(".") + kMarkerFile + ".tmp-", 0) == 0) continue;
    return Status::FailedPrecondition("'" + dir + "' is not an encore store (it has no " +
                                      kMarkerFile + " file) and is not empty (it holds '" + name +
                                      "'); encore publishes only into its own stores: pass a new "
                                      "or empty directory, or move those files away");
  }
  return Status::OK();
}

Result<std::unique_ptr<Store>> OpenLmdbStore(const std::string& uri) {
  std::string dir = uri;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  ENCORE_RETURN_IF_ERROR(InitialiseOrCheck(dir));
  struct stat st;
  if (::stat((dir + "/snapshots").c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::Corruption("store '" + dir + "' has no snapshots directory; it is damaged");
  }
  std::error_code ec;
  std::string canonical = std::filesystem::canonical(dir, ec).string();
  if (ec) canonical = dir;
  return std::unique_ptr<Store>(new LmdbStore(dir, canonical));
}

}  // namespace encore
