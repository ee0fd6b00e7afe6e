#include "serve/snapshot_holder.h"

#include <cstring>
#include <ctime>

#include "serve/payload.h"

namespace encore::serve {

namespace {

std::atomic<uint64_t> next_generation{1};

struct ThreadCache {
  uint64_t generation = 0;
  std::shared_ptr<const LoadedSnapshot> snapshot;
};
thread_local ThreadCache thread_cache;

// Reads an optional meta document: NotFound gives "" and OK.
Status GetOptionalMeta(const Snapshot& snap, std::string_view key, std::string* value) {
  value->clear();
  Status s = snap.Get(Table::kMeta, key, value);
  if (s.code() == StatusCode::kNotFound) {
    value->clear();
    return Status::OK();
  }
  return s;
}

}  // namespace

Result<std::shared_ptr<const LoadedSnapshot>> LoadedSnapshot::Load(
    std::shared_ptr<const Snapshot> snap) {
  auto loaded = std::make_shared<LoadedSnapshot>();
  loaded->info = snap->info();
  const std::string where = "snapshot " + std::to_string(loaded->info.version);
  ENCORE_RETURN_IF_ERROR(GetOptionalMeta(*snap, "popular", &loaded->popular));
  if (!loaded->popular.empty()) {
    if (!IsJsonObject(loaded->popular)) {
      return Status::Corruption(where +
                                ": meta document 'popular' is not a JSON object; publish again");
    }
    loaded->popular_has_user = JsonObjectHasKey(loaded->popular, "user");
    loaded->retail = JsonObjectHasKey(loaded->popular, "feeds");
  }
  ENCORE_RETURN_IF_ERROR(GetOptionalMeta(*snap, "info", &loaded->info_doc));
  if (loaded->info_doc.empty()) {
    loaded->info_doc = "{}";
  } else if (!IsJsonObject(loaded->info_doc)) {
    return Status::Corruption(where + ": meta document 'info' is not a JSON object; publish again");
  }
  std::string model_bytes;
  ENCORE_RETURN_IF_ERROR(GetOptionalMeta(*snap, "model", &model_bytes));
  if (!model_bytes.empty()) {
    auto model = ParseModel(model_bytes, where + " meta 'model'");
    if (!model.ok()) return model.status();
    // One request, one thread: fold-in must not fan out over every core.
    model->model->set_threads(1);
    loaded->model = std::make_shared<const TrainedModel>(std::move(model).value());
    std::string ann_bytes;
    ENCORE_RETURN_IF_ERROR(GetOptionalMeta(*snap, "ann", &ann_bytes));
    if (!ann_bytes.empty() && model_bytes.size() >= 4) {
      uint32_t crc = 0;
      std::memcpy(&crc, model_bytes.data() + model_bytes.size() - 4, 4);
      auto ann = AnnIndex::Parse(ann_bytes, crc, where + " meta 'ann'");
      if (!ann.ok()) return ann.status();
      loaded->ann = std::shared_ptr<const AnnIndex>(std::move(ann).value());
    }
  }
  loaded->snapshot = std::move(snap);
  loaded->loaded_unix = static_cast<int64_t>(std::time(nullptr));
  return std::shared_ptr<const LoadedSnapshot>(std::move(loaded));
}

const LoadedSnapshot* SnapshotHolder::Current() const {
  const uint64_t generation = generation_.load(std::memory_order_acquire);
  if (thread_cache.generation != generation) {
    // Released after the lock: dropping the last reference closes a snapshot.
    std::shared_ptr<const LoadedSnapshot> old = std::move(thread_cache.snapshot);
    std::lock_guard lock(mu_);
    thread_cache.snapshot = current_;
    thread_cache.generation = generation_.load(std::memory_order_relaxed);
  }
  return thread_cache.snapshot.get();
}

std::shared_ptr<const LoadedSnapshot> SnapshotHolder::CurrentShared() const {
  std::lock_guard lock(mu_);
  return current_;
}

void SnapshotHolder::Set(std::shared_ptr<const LoadedSnapshot> snapshot) {
  std::shared_ptr<const LoadedSnapshot> old;
  {
    std::lock_guard lock(mu_);
    old = std::move(current_);
    current_ = std::move(snapshot);
    generation_.store(next_generation.fetch_add(1, std::memory_order_relaxed),
                      std::memory_order_release);
  }
  // `old` is released here, outside the lock (it may close a snapshot).
}

Result<SnapshotHolder::RefreshResult> SnapshotHolder::Refresh(Store* store, bool* load_attempted) {
  if (load_attempted != nullptr) *load_attempted = false;
  RefreshResult result;
  if (auto current = CurrentShared()) result.previous = current->info.version;
  ENCORE_ASSIGN_OR_RETURN(uint64_t version, store->CurrentVersion());
  result.current = version;
  if (version == result.previous) return result;
  if (load_attempted != nullptr) *load_attempted = true;
  ENCORE_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, store->OpenSnapshot(version));
  ENCORE_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedSnapshot> loaded,
                          LoadedSnapshot::Load(CacheSnapshot(std::move(snap), cache_bytes_)));
  Set(std::move(loaded));
  result.changed = true;
  return result;
}

}  // namespace encore::serve
