// The speed layer (encore/stream.h): totals, idempotence, fold-in payloads.
//
// Live state keys (LiveStore state space):
//   "u" + user        the user's totals (EncodeTotals)
//   "e" + event key   an applied event key ("1")
//   "users#"          the number of user pages
//   "users#" + page   up to kUsersPerPage user ids, one a line, first-seen order
// Payloads: (snapshot version, user) -> user payload JSON.

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "encore/publish.h"
#include "encore/stream.h"

namespace encore {

namespace {

constexpr size_t kUsersPerPage = 1000;
constexpr uint32_t kDefaultN = 20;

void PutU32(uint32_t v, std::string* out) { out->append(reinterpret_cast<const char*>(&v), 4); }
void PutU64(uint64_t v, std::string* out) { out->append(reinterpret_cast<const char*>(&v), 8); }
void PutStr(std::string_view s, std::string* out) {
  PutU32(static_cast<uint32_t>(s.size()), out);
  out->append(s);
}

struct Reader {
  std::string_view in;
  bool ok = true;
  template <typename T>
  T Get() {
    T v{};
    if (in.size() < sizeof(T)) {
      ok = false;
      return v;
    }
    std::memcpy(&v, in.data(), sizeof(T));
    in.remove_prefix(sizeof(T));
    return v;
  }
  std::string Str() {
    uint32_t n = Get<uint32_t>();
    if (!ok || in.size() < n) {
      ok = false;
      return {};
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

// Format 1: u32 version, u32 items, then per item: str item, f64 value,
// u32 types, (str type, u64 count)*.
std::string EncodeTotals(const std::vector<ItemTotals>& totals) {
  std::string out;
  PutU32(1, &out);
  PutU32(static_cast<uint32_t>(totals.size()), &out);
  for (const ItemTotals& t : totals) {
    PutStr(t.item, &out);
    uint64_t bits;
    std::memcpy(&bits, &t.value, 8);
    PutU64(bits, &out);
    PutU32(static_cast<uint32_t>(t.counts.size()), &out);
    for (const auto& [type, count] : t.counts) {
      PutStr(type, &out);
      PutU64(count, &out);
    }
  }
  return out;
}

Result<std::vector<ItemTotals>> DecodeTotals(std::string_view bytes, const std::string& user) {
  Reader r{bytes};
  std::vector<ItemTotals> totals;
  const uint32_t format = r.Get<uint32_t>();
  const uint32_t items = r.Get<uint32_t>();
  if (r.ok && format == 1) {
    for (uint32_t i = 0; i < items && r.ok; ++i) {
      ItemTotals t;
      t.item = r.Str();
      uint64_t bits = r.Get<uint64_t>();
      std::memcpy(&t.value, &bits, 8);
      const uint32_t types = r.Get<uint32_t>();
      for (uint32_t k = 0; k < types && r.ok; ++k) {
        std::string type = r.Str();
        t.counts[type] = r.Get<uint64_t>();
      }
      totals.push_back(std::move(t));
    }
  }
  if (!r.ok || format != 1 || !r.in.empty()) {
    return Status::Corruption("the live totals of user '" + user +
                              "' are damaged; rebuild the live state (encore stream --reset)");
  }
  return totals;
}

// The published list length from the snapshot's info document.
uint32_t PublishedN(const Snapshot& snap) {
  std::string info;
  if (!snap.Get(Table::kMeta, "info", &info).ok()) return 0;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(info).get(doc)) return 0;
  uint64_t n = 0;
  if (doc.at_pointer("/payloads/n").get(n)) return 0;
  return static_cast<uint32_t>(std::min<uint64_t>(n, 100'000));
}

}  // namespace

struct SpeedLayer::Impl {
  Store* store = nullptr;
  std::unique_ptr<LiveStore> live;
  SpeedLayerOptions options;
  uint64_t version = 0;
  std::shared_ptr<const TrainedModel> model;
  std::unique_ptr<Ranker> ranker;
  QueryOptions query;
  std::vector<std::string> users;  // first-seen order
  std::unordered_set<std::string> known_users;

  Status LoadSnapshot(uint64_t v) {
    ENCORE_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, store->OpenSnapshot(v));
    std::string bytes;
    Status s = snap->Get(Table::kMeta, "model", &bytes);
    if (s.code() == StatusCode::kNotFound) {
      return Status::FailedPrecondition(
          "snapshot " + std::to_string(v) + " of store '" + store->uri() +
          "' holds no model, so live events cannot be folded in; publish with the model "
          "included (the default of encore publish)");
    }
    ENCORE_RETURN_IF_ERROR(s);
    ENCORE_ASSIGN_OR_RETURN(TrainedModel m,
                            ParseModel(bytes, "snapshot " + std::to_string(v) + " meta 'model'"));
    m.model->set_threads(1);
    auto loaded = std::make_shared<const TrainedModel>(std::move(m));
    auto ranker_new = std::make_unique<Ranker>(*loaded->model);
    if (options.steps) {
      ENCORE_ASSIGN_OR_RETURN(auto steps, options.steps(*loaded));
      for (auto& step : steps) ranker_new->Add(std::move(step));
    }
    query = QueryOptions();
    query.n = options.n != 0 ? options.n : PublishedN(*snap);
    if (query.n == 0) query.n = kDefaultN;
    query.exclude_seen = options.exclude_seen;
    ranker = std::move(ranker_new);
    model = std::move(loaded);
    version = v;
    return Status::OK();
  }

  Status LoadUsers() {
    std::string text;
    Status s = live->GetState("users#", &text);
    if (s.code() == StatusCode::kNotFound) return Status::OK();
    ENCORE_RETURN_IF_ERROR(s);
    const uint64_t pages = std::strtoull(text.c_str(), nullptr, 10);
    for (uint64_t p = 0; p < pages; ++p) {
      ENCORE_RETURN_IF_ERROR(live->GetState("users#" + std::to_string(p), &text));
      size_t start = 0;
      while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        users.push_back(text.substr(start, end - start));
        known_users.insert(users.back());
        start = end + 1;
      }
    }
    return Status::OK();
  }

  Result<std::vector<ItemTotals>> ReadTotals(const std::string& user) const {
    std::string bytes;
    Status s = live->GetState("u" + user, &bytes);
    if (s.code() == StatusCode::kNotFound) return std::vector<ItemTotals>();
    ENCORE_RETURN_IF_ERROR(s);
    return DecodeTotals(bytes, user);
  }

  // The payload of `user` over the loaded snapshot; false when the user has
  // no item the model knows (no payload: the server falls back).
  Result<bool> BuildPayload(const std::string& user, const std::vector<ItemTotals>& totals,
                            std::string* payload) const {
    const TrainedModel& m = *model;
    std::unordered_map<uint32_t, float> weights;
    if (auto u = options.include_snapshot_row ? m.users.Find(user) : std::nullopt) {
      const CsrMatrix& seen = m.model->seen();
      for (uint64_t k = seen.indptr[*u]; k < seen.indptr[*u + 1]; ++k) {
        weights[seen.indices[k]] += seen.values[k];
      }
    }
    for (const ItemTotals& t : totals) {
      if (auto i = m.items.Find(t.item)) weights[*i] += static_cast<float>(t.value);
    }
    if (weights.empty()) return false;
    std::vector<ItemWeight> items;
    items.reserve(weights.size());
    for (const auto& [item, w] : weights) items.push_back({item, w});
    std::sort(items.begin(), items.end(),
              [](const ItemWeight& a, const ItemWeight& b) { return a.item < b.item; });
    ENCORE_RETURN_IF_ERROR(
        BuildFoldInUserPayload(m, *ranker, user, version, items, query, payload));
    return true;
  }

  // Entries appending `fresh` users to the page list.
  void AddUserPages(const std::vector<std::string>& fresh, std::vector<LiveStore::Entry>* out) {
    if (fresh.empty()) return;
    const size_t before = users.size();
    for (const auto& u : fresh) {
      users.push_back(u);
      known_users.insert(u);
    }
    const size_t first_page = before / kUsersPerPage;
    const size_t pages = (users.size() + kUsersPerPage - 1) / kUsersPerPage;
    for (size_t p = first_page; p < pages; ++p) {
      std::string text;
      for (size_t i = p * kUsersPerPage; i < std::min(users.size(), (p + 1) * kUsersPerPage); ++i) {
        if (!text.empty()) text.push_back('\n');
        text += users[i];
      }
      out->push_back({LiveStore::Entry::Kind::kState, 0, "users#" + std::to_string(p), text});
    }
    out->push_back({LiveStore::Entry::Kind::kState, 0, "users#", std::to_string(pages)});
  }

  void UndoUsers(size_t count) {
    while (users.size() > count) {
      known_users.erase(users.back());
      users.pop_back();
    }
  }
};

SpeedLayer::SpeedLayer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SpeedLayer::~SpeedLayer() = default;

Result<std::unique_ptr<SpeedLayer>> SpeedLayer::Open(Store* store, SpeedLayerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->store = store;
  impl->options = std::move(options);
  ENCORE_ASSIGN_OR_RETURN(impl->live, store->OpenLive());
  ENCORE_RETURN_IF_ERROR(impl->live->SetSync(impl->options.sync));
  ENCORE_ASSIGN_OR_RETURN(uint64_t version, store->CurrentVersion());
  ENCORE_RETURN_IF_ERROR(impl->LoadSnapshot(version));
  ENCORE_RETURN_IF_ERROR(impl->LoadUsers());
  return std::unique_ptr<SpeedLayer>(new SpeedLayer(std::move(impl)));
}

Result<ApplyReport> SpeedLayer::Apply(const std::vector<KeyedEvent>& events) {
  Impl& d = *impl_;
  ApplyReport report;
  // Per touched user: totals (read once), in first-touched order.
  std::vector<std::string> touched;
  std::unordered_map<std::string, std::vector<ItemTotals>> totals;
  std::unordered_set<std::string> keys_in_batch;
  std::vector<LiveStore::Entry> batch;
  std::vector<std::string> fresh_users;
  std::unordered_set<std::string> fresh_set;
  std::string scratch;
  for (const KeyedEvent& ke : events) {
    if (!ke.key.empty()) {
      if (!keys_in_batch.insert(ke.key).second) {
        ++report.duplicates;
        continue;
      }
      Status s = d.live->GetState("e" + ke.key, &scratch);
      if (s.ok()) {
        ++report.duplicates;
        continue;
      }
      if (s.code() != StatusCode::kNotFound) return s;
      batch.push_back({LiveStore::Entry::Kind::kState, 0, "e" + ke.key, "1"});
    }
    const Event& e = ke.event;
    auto it = totals.find(e.user);
    if (it == totals.end()) {
      ENCORE_ASSIGN_OR_RETURN(std::vector<ItemTotals> t, d.ReadTotals(e.user));
      it = totals.emplace(e.user, std::move(t)).first;
      touched.push_back(e.user);
      if (!d.known_users.count(e.user) && fresh_set.insert(e.user).second) {
        fresh_users.push_back(e.user);
      }
    }
    std::vector<ItemTotals>& list = it->second;
    auto item = std::find_if(list.begin(), list.end(),
                             [&](const ItemTotals& t) { return t.item == e.item; });
    if (item == list.end()) {
      list.push_back({e.item, 0, {}});
      item = list.end() - 1;
    }
    double weight = 1;
    if (!d.options.weights.empty()) {
      auto w = d.options.weights.find(e.type);
      if (w == d.options.weights.end()) {
        return Status::InvalidArgument("event type '" + e.type +
                                       "' has no weight; the schema should have rejected it");
      }
      weight = w->second;
    }
    item->value += e.quantity * weight;
    ++item->counts[e.type];
    ++report.applied;
  }
  std::string payload;
  for (const std::string& user : touched) {
    const auto& list = totals[user];
    batch.push_back({LiveStore::Entry::Kind::kState, 0, "u" + user, EncodeTotals(list)});
    ENCORE_ASSIGN_OR_RETURN(bool built, d.BuildPayload(user, list, &payload));
    if (built) {
      batch.push_back({LiveStore::Entry::Kind::kPayload, d.version, user, payload});
      ++report.users;
    } else {
      ++report.unscored;
    }
  }
  const size_t users_before = d.users.size();
  d.AddUserPages(fresh_users, &batch);
  if (batch.empty()) return report;
  Status s = d.live->Write(batch);
  if (!s.ok()) {
    d.UndoUsers(users_before);
    return s;
  }
  return report;
}

Status SpeedLayer::Refresh(bool* changed) {
  Impl& d = *impl_;
  *changed = false;
  ENCORE_ASSIGN_OR_RETURN(uint64_t version, d.store->CurrentVersion());
  if (version == d.version) return Status::OK();
  ENCORE_RETURN_IF_ERROR(d.LoadSnapshot(version));
  *changed = true;
  // Rebuild every live user over the new snapshot, in batches.
  std::vector<LiveStore::Entry> batch;
  std::string payload;
  for (const std::string& user : d.users) {
    ENCORE_ASSIGN_OR_RETURN(std::vector<ItemTotals> list, d.ReadTotals(user));
    ENCORE_ASSIGN_OR_RETURN(bool built, d.BuildPayload(user, list, &payload));
    if (!built) continue;
    batch.push_back({LiveStore::Entry::Kind::kPayload, d.version, user, payload});
    if (batch.size() >= 1000) {
      ENCORE_RETURN_IF_ERROR(d.live->Write(batch));
      batch.clear();
    }
  }
  if (!batch.empty()) ENCORE_RETURN_IF_ERROR(d.live->Write(batch));
  return d.live->DropPayloadsBefore(d.version);
}

Result<std::vector<ItemTotals>> SpeedLayer::Totals(const std::string& user) const {
  return impl_->ReadTotals(user);
}

Result<std::vector<std::string>> SpeedLayer::Users() const { return impl_->users; }

Status SpeedLayer::DumpTotals(std::string* csv) const {
  csv->clear();
  char buf[64];
  for (const std::string& user : impl_->users) {
    ENCORE_ASSIGN_OR_RETURN(std::vector<ItemTotals> list, impl_->ReadTotals(user));
    for (const ItemTotals& t : list) {
      for (const auto& [type, count] : t.counts) {
        *csv += user + "," + t.item + "," + type + "," + std::to_string(count) + "\n";
      }
      std::snprintf(buf, sizeof buf, "%.17g", t.value);
      *csv += user + "," + t.item + ",*," + buf + "\n";
    }
  }
  return Status::OK();
}

uint64_t SpeedLayer::snapshot_version() const { return impl_->version; }
LiveStore* SpeedLayer::live() const { return impl_->live.get(); }

}  // namespace encore
