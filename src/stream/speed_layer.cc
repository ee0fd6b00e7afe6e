// The speed layer (encore/stream.h): totals, idempotence, fold-in payloads.
//
// Live state keys (LiveStore state space):
//   "u" + user        the user's totals (EncodeTotals)
//   "l" + user        Lambda: the user's events not yet covered by a snapshot's
//                     high-water mark (EncodeLog)
//   "e" + event key   an applied event key ("1")
//   "users#"          the number of user pages
//   "users#" + page   up to kUsersPerPage user ids, one a line, first-seen order
//   "rebased#"        the snapshot version the live users' payloads were last
//                     all rebuilt over (a rebase finished); absent: never
//   "k@" + H          expiry of applied keys: the number of pages of hour H
//                     (unix time / 3600) written so far
//   "k@" + H + "#" + P  page P of hour H: the keys (one a line) applied in one
//                     batch whose events' times fall in hour H
//   "k@next"          the oldest hour not yet swept by ExpireKeys
// Payloads: (snapshot version, user) -> user payload JSON.

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "encore/publish.h"
#include "encore/stream.h"

namespace encore {

namespace {

constexpr size_t kUsersPerPage = 1000;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
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

// One event kept for the Lambda merge.
struct LoggedEvent {
  std::string position;  // stream entry id, "" when none
  std::optional<int64_t> time;
  std::string item;
  double value = 0;  // quantity x weight
};

// Format 1: u32 version, u32 events, then per event: str position, u8 has
// time, i64 time, str item, f64 value.
std::string EncodeLog(const std::vector<LoggedEvent>& log) {
  std::string out;
  PutU32(1, &out);
  PutU32(static_cast<uint32_t>(log.size()), &out);
  for (const LoggedEvent& e : log) {
    PutStr(e.position, &out);
    out.push_back(e.time ? 1 : 0);
    PutU64(static_cast<uint64_t>(e.time.value_or(0)), &out);
    PutStr(e.item, &out);
    uint64_t bits;
    std::memcpy(&bits, &e.value, 8);
    PutU64(bits, &out);
  }
  return out;
}

Result<std::vector<LoggedEvent>> DecodeLog(std::string_view bytes, const std::string& user) {
  Reader r{bytes};
  std::vector<LoggedEvent> log;
  const uint32_t format = r.Get<uint32_t>();
  const uint32_t n = r.Get<uint32_t>();
  if (r.ok && format == 1) {
    for (uint32_t i = 0; i < n && r.ok; ++i) {
      LoggedEvent e;
      e.position = r.Str();
      const uint8_t has_time = r.Get<uint8_t>();
      const uint64_t t = r.Get<uint64_t>();
      if (has_time) e.time = static_cast<int64_t>(t);
      e.item = r.Str();
      const uint64_t bits = r.Get<uint64_t>();
      std::memcpy(&e.value, &bits, 8);
      log.push_back(std::move(e));
    }
  }
  if (!r.ok || format != 1 || !r.in.empty()) {
    return Status::Corruption("the live event log of user '" + user +
                              "' is damaged; rebuild the live state (encore stream --reset)");
  }
  return log;
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
  HighWater mark;                  // the loaded snapshot's high-water mark (Lambda)
  std::vector<std::string> users;  // first-seen order
  std::unordered_set<std::string> known_users;
  // A rebase in progress (CheckSnapshot .. RebaseSome): users[0 .. rebase_end)
  // are rebuilt over `version` from rebase_next on.
  bool rebasing = false;
  size_t rebase_next = 0;
  size_t rebase_end = 0;

  // Expiry of applied keys (dedup_retention_seconds > 0).
  std::optional<int64_t> expiry_next;  // "k@next"; unset: nothing indexed yet
  uint64_t sweep_page = 0;             // progress within hour *expiry_next

  int64_t Now() const {
    if (options.now) return options.now();
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  Status LoadExpiry() {
    std::string text;
    Status s = live->GetState("k@next", &text);
    if (s.code() == StatusCode::kNotFound) return Status::OK();
    ENCORE_RETURN_IF_ERROR(s);
    expiry_next = std::strtoll(text.c_str(), nullptr, 10);
    return Status::OK();
  }

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
    query.seen_exact_max = options.seen_exact_max;
    query.seen_fpr = options.seen_fpr;
    std::string hw;
    s = snap->Get(Table::kMeta, "high_water", &hw);
    if (!s.ok() && s.code() != StatusCode::kNotFound) return s;
    HighWater mark_new;
    if (s.ok()) {
      auto parsed = ParseHighWater(hw);
      if (!parsed.ok()) {
        return Status::Corruption("snapshot " + std::to_string(v) +
                                  " meta 'high_water': " + parsed.status().message());
      }
      mark_new = *parsed;
    }
    ranker = std::move(ranker_new);
    model = std::move(loaded);
    version = v;
    mark = mark_new;
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

  // Lambda: whether events are kept one by one ("l" + user).
  bool keeps_log() const { return options.include_snapshot_row; }

  Result<std::vector<LoggedEvent>> ReadLog(const std::string& user) const {
    std::string bytes;
    Status s = live->GetState("l" + user, &bytes);
    if (s.code() == StatusCode::kNotFound) return std::vector<LoggedEvent>();
    ENCORE_RETURN_IF_ERROR(s);
    return DecodeLog(bytes, user);
  }

  // Drops the events the loaded snapshot's mark covers; true when any was.
  bool Prune(std::vector<LoggedEvent>* log) const {
    const size_t before = log->size();
    std::erase_if(*log, [&](const LoggedEvent& e) { return mark.Covers(e.position, e.time); });
    return log->size() != before;
  }

  // The payload of `user` over the loaded snapshot; false when the user has
  // no item the model knows (no payload: the server falls back).
  Result<bool> BuildPayload(const std::string& user, const std::vector<ItemTotals>& totals,
                            const std::vector<LoggedEvent>& log, std::string* payload) const {
    const TrainedModel& m = *model;
    std::unordered_map<uint32_t, float> weights;
    if (auto u = options.include_snapshot_row ? m.users.Find(user) : std::nullopt) {
      const CsrMatrix& seen = m.model->seen();
      for (uint64_t k = seen.indptr[*u]; k < seen.indptr[*u + 1]; ++k) {
        weights[seen.indices[k]] += seen.values[k];
      }
    }
    if (options.include_snapshot_row && mark.kind != HighWater::Kind::kNone) {
      // Lambda over a snapshot with a mark: exactly the events after it.
      std::unordered_map<std::string_view, double> after;
      for (const LoggedEvent& e : log) {
        if (!mark.Covers(e.position, e.time)) after[e.item] += e.value;
      }
      for (const auto& [item, value] : after) {
        if (auto i = m.items.Find(item)) weights[*i] += static_cast<float>(value);
      }
    } else {
      for (const ItemTotals& t : totals) {
        if (auto i = m.items.Find(t.item)) weights[*i] += static_cast<float>(t.value);
      }
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
  ENCORE_RETURN_IF_ERROR(impl->LoadExpiry());
  // A snapshot published while no consumer ran (a nightly batch, a rollback):
  // the live users' payloads are over an older version, which the server no
  // longer serves, so rebase them now or their live events are not served
  // until their next event.
  if (!impl->users.empty()) {
    std::string rebased;
    Status s = impl->live->GetState("rebased#", &rebased);
    if (!s.ok() && s.code() != StatusCode::kNotFound) return s;
    if (!s.ok() || rebased != std::to_string(version)) {
      impl->rebasing = true;
      impl->rebase_next = 0;
      impl->rebase_end = impl->users.size();
    }
  }
  return std::unique_ptr<SpeedLayer>(new SpeedLayer(std::move(impl)));
}

Result<ApplyReport> SpeedLayer::Apply(const std::vector<KeyedEvent>& events) {
  Impl& d = *impl_;
  ApplyReport report;
  // Per touched user: totals (read once), in first-touched order.
  std::vector<std::string> touched;
  std::unordered_map<std::string, std::vector<ItemTotals>> totals;
  std::unordered_map<std::string, std::vector<LoggedEvent>> logs;
  std::unordered_set<std::string> keys_in_batch;
  std::vector<LiveStore::Entry> batch;
  std::vector<std::string> fresh_users;
  std::unordered_set<std::string> fresh_set;
  std::string scratch;
  const int64_t retention = d.options.dedup_retention_seconds;
  const int64_t now = d.Now();
  std::map<int64_t, std::string> keys_by_hour;  // new keys, one a line, by their event's hour
  for (size_t index = 0; index < events.size(); ++index) {
    const KeyedEvent& ke = events[index];
    // The event's time for retention: its own, else its append to the source, else now.
    const int64_t at = ke.event.time        ? *ke.event.time
                       : ke.appended_ms > 0 ? ke.appended_ms / 1000
                                            : now;
    if (retention > 0 && at < now - retention) {
      report.too_old.push_back(index);
      continue;
    }
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
      if (retention > 0) {
        std::string& page = keys_by_hour[FloorDiv(at, 3600)];
        if (!page.empty()) page.push_back('\n');
        page += ke.key;
      }
    }
    const Event& e = ke.event;
    auto it = totals.find(e.user);
    if (it == totals.end()) {
      ENCORE_ASSIGN_OR_RETURN(std::vector<ItemTotals> t, d.ReadTotals(e.user));
      it = totals.emplace(e.user, std::move(t)).first;
      if (d.keeps_log()) {
        ENCORE_ASSIGN_OR_RETURN(std::vector<LoggedEvent> l, d.ReadLog(e.user));
        logs.emplace(e.user, std::move(l));
      }
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
    if (d.keeps_log()) logs[e.user].push_back({ke.position, e.time, e.item, e.quantity * weight});
  }
  std::string payload;
  for (const std::string& user : touched) {
    const auto& list = totals[user];
    batch.push_back({LiveStore::Entry::Kind::kState, 0, "u" + user, EncodeTotals(list)});
    static const std::vector<LoggedEvent> kNoLog;
    const std::vector<LoggedEvent>* log = &kNoLog;
    if (d.keeps_log()) {
      std::vector<LoggedEvent>& l = logs[user];
      d.Prune(&l);
      batch.push_back({LiveStore::Entry::Kind::kState, 0, "l" + user, EncodeLog(l)});
      log = &l;
    }
    ENCORE_ASSIGN_OR_RETURN(bool built, d.BuildPayload(user, list, *log, &payload));
    if (built) {
      batch.push_back({LiveStore::Entry::Kind::kPayload, d.version, user, payload});
      ++report.users;
    } else {
      ++report.unscored;
    }
  }
  // The new keys' expiry pages; the sweep cursor moves back to the oldest
  // hour written (a longer retention than before, or the first keys).
  std::optional<int64_t> next = d.expiry_next;
  for (const auto& [hour, keys] : keys_by_hour) {
    const std::string count_key = "k@" + std::to_string(hour);
    uint64_t pages = 0;
    Status s = d.live->GetState(count_key, &scratch);
    if (s.ok()) {
      pages = std::strtoull(scratch.c_str(), nullptr, 10);
    } else if (s.code() != StatusCode::kNotFound) {
      return s;
    }
    batch.push_back(
        {LiveStore::Entry::Kind::kState, 0, count_key + "#" + std::to_string(pages), keys});
    batch.push_back({LiveStore::Entry::Kind::kState, 0, count_key, std::to_string(pages + 1)});
    if (!next || hour < *next) next = hour;
  }
  if (next != d.expiry_next) {
    batch.push_back({LiveStore::Entry::Kind::kState, 0, "k@next", std::to_string(*next)});
  }
  const size_t users_before = d.users.size();
  d.AddUserPages(fresh_users, &batch);
  if (batch.empty()) return report;
  Status s = d.live->Write(batch);
  if (!s.ok()) {
    d.UndoUsers(users_before);
    return s;
  }
  if (next != d.expiry_next) {
    d.expiry_next = next;
    d.sweep_page = 0;
  }
  return report;
}

Result<uint64_t> SpeedLayer::ExpireKeys(size_t max_pages) {
  Impl& d = *impl_;
  const int64_t retention = d.options.dedup_retention_seconds;
  if (retention <= 0 || !d.expiry_next) return 0;
  // Hour H may go once every time in it is older than the retention, i.e.
  // an event of that hour would now be rejected as too old.
  const int64_t cutoff = d.Now() - retention;
  int64_t hour = *d.expiry_next;
  uint64_t page = d.sweep_page;
  uint64_t expired = 0;
  size_t visited = 0;
  std::vector<LiveStore::Entry> batch;
  std::string text;
  // Empty hours cost a read each; bound them too (a long idle gap).
  for (size_t hours = 0; visited < max_pages && hours < 4096 && (hour + 1) * 3600 <= cutoff;
       ++hours) {
    const std::string count_key = "k@" + std::to_string(hour);
    uint64_t pages = 0;
    Status s = d.live->GetState(count_key, &text);
    if (s.ok()) {
      pages = std::strtoull(text.c_str(), nullptr, 10);
    } else if (s.code() != StatusCode::kNotFound) {
      return s;
    }
    for (; page < pages && visited < max_pages; ++page, ++visited) {
      const std::string page_key = count_key + "#" + std::to_string(page);
      s = d.live->GetState(page_key, &text);
      if (s.code() == StatusCode::kNotFound) continue;  // swept before a restart
      ENCORE_RETURN_IF_ERROR(s);
      size_t start = 0;
      while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        batch.push_back(
            {LiveStore::Entry::Kind::kState, 0, "e" + text.substr(start, end - start), "", true});
        ++expired;
        start = end + 1;
      }
      batch.push_back({LiveStore::Entry::Kind::kState, 0, page_key, "", true});
    }
    if (page < pages) break;  // the page budget ran out within this hour
    if (pages > 0) batch.push_back({LiveStore::Entry::Kind::kState, 0, count_key, "", true});
    ++hour;
    page = 0;
  }
  if (hour != *d.expiry_next) {
    batch.push_back({LiveStore::Entry::Kind::kState, 0, "k@next", std::to_string(hour)});
  }
  if (!batch.empty()) ENCORE_RETURN_IF_ERROR(d.live->Write(batch));
  d.expiry_next = hour;
  d.sweep_page = page;
  return expired;
}

Status SpeedLayer::Refresh(bool* changed) {
  ENCORE_RETURN_IF_ERROR(CheckSnapshot(changed));
  while (impl_->rebasing) {
    ENCORE_ASSIGN_OR_RETURN(bool done, RebaseSome(1000));
    (void)done;
  }
  return Status::OK();
}

Status SpeedLayer::CheckSnapshot(bool* changed) {
  Impl& d = *impl_;
  *changed = false;
  ENCORE_ASSIGN_OR_RETURN(uint64_t version, d.store->CurrentVersion());
  if (version == d.version) return Status::OK();
  ENCORE_RETURN_IF_ERROR(d.LoadSnapshot(version));
  *changed = true;
  // Users first seen from now on are folded in over the new snapshot by Apply.
  d.rebasing = true;
  d.rebase_next = 0;
  d.rebase_end = d.users.size();
  return Status::OK();
}

Result<bool> SpeedLayer::RebaseSome(size_t max_users) {
  Impl& d = *impl_;
  if (!d.rebasing) return true;
  std::vector<LiveStore::Entry> batch;
  std::string payload;
  const size_t end = std::min(d.rebase_end, d.rebase_next + std::max<size_t>(max_users, 1));
  for (size_t i = d.rebase_next; i < end; ++i) {
    const std::string& user = d.users[i];
    ENCORE_ASSIGN_OR_RETURN(std::vector<ItemTotals> list, d.ReadTotals(user));
    std::vector<LoggedEvent> log;
    if (d.keeps_log()) {
      ENCORE_ASSIGN_OR_RETURN(log, d.ReadLog(user));
      // Events the new snapshot's data holds leave the log for good.
      if (d.Prune(&log)) {
        batch.push_back({LiveStore::Entry::Kind::kState, 0, "l" + user, EncodeLog(log)});
      }
    }
    ENCORE_ASSIGN_OR_RETURN(bool built, d.BuildPayload(user, list, log, &payload));
    if (!built) continue;
    batch.push_back({LiveStore::Entry::Kind::kPayload, d.version, user, payload});
  }
  const bool last = end >= d.rebase_end;
  if (last) {
    batch.push_back({LiveStore::Entry::Kind::kState, 0, "rebased#", std::to_string(d.version)});
  }
  ENCORE_RETURN_IF_ERROR(d.live->Write(batch));
  d.rebase_next = end;
  if (!last) return false;
  ENCORE_RETURN_IF_ERROR(d.live->DropPayloadsBefore(d.version));
  d.rebasing = false;
  return true;
}

bool SpeedLayer::rebasing() const { return impl_->rebasing; }

// --- Item-side refresh -------------------------------------------------------

struct ItemRefresh::State {
  std::string store_uri;
  std::shared_ptr<const TrainedModel> base;
  uint64_t base_version = 0;
  std::vector<std::string> live_users;
  const LiveStore* live = nullptr;
  ItemRefreshOptions options;
  PublishOptions publish;
};

ItemRefresh::ItemRefresh(std::unique_ptr<State> state) : state_(std::move(state)) {}
ItemRefresh::~ItemRefresh() = default;

Result<std::unique_ptr<ItemRefresh>> SpeedLayer::PrepareItemRefresh(
    const ItemRefreshOptions& options) const {
  const Impl& d = *impl_;
  if (d.options.include_snapshot_row) {
    return Status::FailedPrecondition(
        "the item refresh needs --history live (Kappa): its model's rows hold the live totals, "
        "so folding in the snapshot row plus the totals would count them twice");
  }
  if (d.model->model->params().factors == 0 || !d.model->model->Factors()) {
    return Status::FailedPrecondition(std::string("the item refresh needs a factor model (ials); "
                                                  "the snapshot's model is '") +
                                      d.model->model->kind() + "'");
  }
  auto state = std::make_unique<ItemRefresh::State>();
  state->store_uri = d.store->uri();
  state->base = d.model;
  state->base_version = d.version;
  state->live_users = d.users;
  state->live = d.live.get();
  state->options = options;
  state->publish.n = d.query.n;
  state->publish.exclude_seen = d.options.exclude_seen;
  return std::make_unique<ItemRefresh>(std::move(state));
}

Result<ItemRefreshReport> ItemRefresh::Run() const {
  using Clock = std::chrono::steady_clock;
  const State& st = *state_;
  const auto t0 = Clock::now();
  auto seconds = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  ItemRefreshReport report;
  report.base_version = st.base_version;
  const TrainedModel& base = *st.base;
  const uint32_t base_users = base.users.size(), base_items = base.items.size();

  // The data: the base model's users and items first (same indices), then
  // the live users and items it does not know, in first-seen order.
  Dataset data;
  data.users = base.users.Clone();
  data.items = base.items.Clone();
  std::vector<std::vector<std::pair<uint32_t, float>>> live_rows;  // by live user, in order
  std::vector<uint32_t> live_index;
  for (const std::string& user : st.live_users) {
    std::string bytes;
    Status s = st.live->GetState("u" + user, &bytes);
    if (s.code() == StatusCode::kNotFound) continue;
    ENCORE_RETURN_IF_ERROR(s);
    ENCORE_ASSIGN_OR_RETURN(std::vector<ItemTotals> totals, DecodeTotals(bytes, user));
    std::vector<std::pair<uint32_t, float>> row;
    for (const ItemTotals& t : totals) {
      if (t.value == 0) continue;
      row.push_back({data.items.Intern(t.item), static_cast<float>(t.value)});
    }
    std::sort(row.begin(), row.end());
    live_index.push_back(data.users.Intern(user));
    live_rows.push_back(std::move(row));
  }
  const uint32_t users = data.users.size(), items = data.items.size();
  // Row of each user: the live one when it has totals, else the base row.
  std::vector<int64_t> live_of(users, -1);
  for (size_t k = 0; k < live_index.size(); ++k) live_of[live_index[k]] = static_cast<int64_t>(k);
  CsrMatrix& m = data.by_user;
  m.rows = users;
  m.cols = items;
  m.indptr.assign(1, 0);
  const CsrMatrix& seen = base.model->seen();
  for (uint32_t u = 0; u < users; ++u) {
    if (live_of[u] >= 0) {
      for (const auto& [i, v] : live_rows[live_of[u]]) {
        m.indices.push_back(i);
        m.values.push_back(v);
      }
    } else if (u < base_users && u < seen.rows) {
      for (uint64_t k = seen.indptr[u]; k < seen.indptr[u + 1]; ++k) {
        m.indices.push_back(seen.indices[k]);
        m.values.push_back(seen.values[k]);
      }
    }
    m.indptr.push_back(m.indices.size());
  }
  live_rows.clear();
  const int threads = st.options.threads;
  data.by_item = m.Transpose(threads);
  data.summary.rows = m.nnz();
  report.users = users;
  report.live_users = live_index.size();
  report.items = items;
  report.new_items = items - base_items;
  report.interactions = m.nnz();
  const auto t1 = Clock::now();
  report.read_seconds = seconds(t0, t1);

  ModelParams params = base.model->params();
  params.threads = threads;
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> model,
                          CreateRecommender(base.model->kind(), params));
  std::vector<int64_t> user_map(users, -1), item_map(items, -1);
  for (uint32_t u = 0; u < std::min(users, base_users); ++u) user_map[u] = u;
  for (uint32_t i = 0; i < std::min(items, base_items); ++i) item_map[i] = i;
  ENCORE_RETURN_IF_ERROR(model->FitWarm(data, *base.model, user_map, item_map,
                                        std::max<uint32_t>(st.options.sweeps, 1)));
  model->set_threads(threads);
  TrainedModel fresh{std::move(model), std::move(data.users), std::move(data.items)};
  const auto t2 = Clock::now();
  report.fit_seconds = seconds(t1, t2);

  if (st.options.before_publish) st.options.before_publish();
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::OpenExisting(st.store_uri));
  ENCORE_ASSIGN_OR_RETURN(PublishReport published, Publish(fresh, st.publish, store.get()));
  report.version = published.snapshot.version;
  const auto t3 = Clock::now();
  report.publish_seconds = seconds(t2, t3);
  report.seconds = seconds(t0, t3);
  return report;
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
