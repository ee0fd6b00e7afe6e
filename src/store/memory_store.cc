// The in-memory store ("memory:NAME"): a process-wide map of named stores,
// for tests of everything above the Store interface.

#include <map>
#include <mutex>
#include <unordered_map>

#include "store/store_internal.h"

namespace encore {

namespace {

using Documents = std::unordered_map<std::string, std::string>;

std::string Key(Table table, std::string_view key) {
  std::string k(1, static_cast<char>(table));
  k.append(key);
  return k;
}

class MemorySnapshot final : public Snapshot {
 public:
  MemorySnapshot(SnapshotInfo info, std::shared_ptr<const Documents> docs)
      : info_(info), docs_(std::move(docs)) {}
  const SnapshotInfo& info() const override { return info_; }
  Status Get(Table table, std::string_view key, std::string* value) const override {
    auto it = docs_->find(Key(table, key));
    if (it == docs_->end()) return Status::NotFound("no such key");
    *value = it->second;
    return Status::OK();
  }

 private:
  SnapshotInfo info_;
  std::shared_ptr<const Documents> docs_;
};

struct MemoryLive {
  mutable std::mutex mu;
  std::map<std::pair<uint64_t, std::string>, std::string> payloads;
  std::unordered_map<std::string, std::string> state;
};

class MemoryLiveStore final : public LiveStore {
 public:
  explicit MemoryLiveStore(std::shared_ptr<MemoryLive> live) : live_(std::move(live)) {}
  Status GetPayload(uint64_t version, std::string_view user, std::string* value) const override {
    std::lock_guard lock(live_->mu);
    auto it = live_->payloads.find({version, std::string(user)});
    if (it == live_->payloads.end()) return Status::NotFound("no live payload");
    *value = it->second;
    return Status::OK();
  }
  Status GetState(std::string_view key, std::string* value) const override {
    std::lock_guard lock(live_->mu);
    auto it = live_->state.find(std::string(key));
    if (it == live_->state.end()) return Status::NotFound("no such state key");
    *value = it->second;
    return Status::OK();
  }
  Status Write(const std::vector<Entry>& batch) override {
    for (const Entry& e : batch) ENCORE_RETURN_IF_ERROR(CheckStoreKey(e.key));
    std::lock_guard lock(live_->mu);
    for (const Entry& e : batch) {
      if (e.kind == Entry::Kind::kPayload) {
        if (e.erase) {
          live_->payloads.erase({e.version, e.key});
        } else {
          live_->payloads[{e.version, e.key}] = e.value;
        }
      } else if (e.erase) {
        live_->state.erase(e.key);
      } else {
        live_->state[e.key] = e.value;
      }
    }
    return Status::OK();
  }
  Status DropPayloadsBefore(uint64_t version) override {
    std::lock_guard lock(live_->mu);
    live_->payloads.erase(live_->payloads.begin(),
                          live_->payloads.lower_bound({version, std::string()}));
    return Status::OK();
  }

 private:
  std::shared_ptr<MemoryLive> live_;
};

struct MemoryState {
  std::mutex mu;
  std::shared_ptr<MemoryLive> live = std::make_shared<MemoryLive>();
  uint64_t last_version = 0;
  uint64_t current = 0;
  std::map<uint64_t, std::pair<SnapshotInfo, std::shared_ptr<const Documents>>> snapshots;
};

class MemoryWriter final : public SnapshotWriter {
 public:
  MemoryWriter(std::shared_ptr<MemoryState> state, SnapshotInfo info)
      : state_(std::move(state)), info_(info), docs_(std::make_shared<Documents>()) {}
  const SnapshotInfo& info() const override { return info_; }
  Status Put(Table table, std::string_view key, std::string_view value) override {
    if (committed_) return Status::FailedPrecondition("snapshot already committed");
    ENCORE_RETURN_IF_ERROR(CheckStoreKey(key));
    (*docs_)[Key(table, key)] = std::string(value);
    return Status::OK();
  }
  Status Commit() override {
    if (committed_) return Status::FailedPrecondition("snapshot already committed");
    committed_ = true;
    std::lock_guard lock(state_->mu);
    state_->snapshots[info_.version] = {info_, std::move(docs_)};
    state_->current = info_.version;
    return Status::OK();
  }

 private:
  std::shared_ptr<MemoryState> state_;
  SnapshotInfo info_;
  std::shared_ptr<Documents> docs_;
  bool committed_ = false;
};

class MemoryStore final : public Store {
 public:
  MemoryStore(std::string uri, std::shared_ptr<MemoryState> state)
      : uri_(std::move(uri)), state_(std::move(state)) {}
  const std::string& uri() const override { return uri_; }
  Result<std::unique_ptr<SnapshotWriter>> BeginSnapshot() override {
    SnapshotInfo info;
    {
      std::lock_guard lock(state_->mu);
      info.version = ++state_->last_version;
    }
    info.created_unix = NowUnixSeconds();
    return std::unique_ptr<SnapshotWriter>(new MemoryWriter(state_, info));
  }
  Result<std::vector<SnapshotInfo>> List() override {
    std::lock_guard lock(state_->mu);
    std::vector<SnapshotInfo> out;
    for (const auto& [version, entry] : state_->snapshots) {
      SnapshotInfo info = entry.first;
      info.current = version == state_->current;
      out.push_back(info);
    }
    return out;
  }
  Result<uint64_t> CurrentVersion() override {
    std::lock_guard lock(state_->mu);
    if (state_->current == 0) return Status::NotFound(NothingPublishedMessage(uri_));
    return state_->current;
  }
  Result<std::shared_ptr<const Snapshot>> OpenSnapshot(uint64_t version) override {
    std::lock_guard lock(state_->mu);
    auto it = state_->snapshots.find(version);
    if (it == state_->snapshots.end()) return Status::NotFound(NoSuchSnapshotMessage(uri_, version));
    std::shared_ptr<const Snapshot> snap =
        std::make_shared<MemorySnapshot>(it->second.first, it->second.second);
    return snap;
  }
  Status SetCurrent(uint64_t version) override {
    std::lock_guard lock(state_->mu);
    if (state_->snapshots.count(version) == 0) {
      return Status::NotFound(NoSuchSnapshotMessage(uri_, version));
    }
    state_->current = version;
    return Status::OK();
  }
  Result<std::unique_ptr<LiveStore>> OpenLive() override {
    return std::unique_ptr<LiveStore>(new MemoryLiveStore(state_->live));
  }
  Status Prune(uint32_t keep) override {
    std::lock_guard lock(state_->mu);
    std::vector<uint64_t> versions;
    for (const auto& [version, entry] : state_->snapshots) versions.push_back(version);
    for (size_t i = 0; i + keep < versions.size(); ++i) {
      if (versions[i] != state_->current) state_->snapshots.erase(versions[i]);
    }
    return Status::OK();
  }

 private:
  std::string uri_;
  std::shared_ptr<MemoryState> state_;
};

}  // namespace

std::unique_ptr<Store> OpenMemoryStore(const std::string& uri) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<MemoryState>>* stores =
      new std::map<std::string, std::shared_ptr<MemoryState>>();
  std::lock_guard lock(mu);
  auto& state = (*stores)[uri];
  if (!state) state = std::make_shared<MemoryState>();
  return std::make_unique<MemoryStore>(uri, state);
}

}  // namespace encore
