// Publish: model -> payloads -> a committed snapshot.
//
// Publishing sits above the store (which holds bytes and knows nothing of
// models) and below serving. Users and items are processed in blocks: the
// ranker (encore/rank.h) computes a block's lists with the model's
// parallelism, the block's JSON payloads are encoded in parallel by the one
// encoder (rank/encode.h), then written in order on this thread. Memory
// stays bounded by one block whatever the number of users.
//
// JSON: ids are arbitrary bytes; the encoder escapes them (invalid UTF-8
// becomes U+FFFD), so every payload is valid JSON. The store key is always
// the raw id, so lookups stay exact even when the JSON shows a replaced id.
// A non-finite score never reaches a payload: the ranker drops it.

#include "encore/publish.h"

#include <omp.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <span>

#include "encore/ann.h"
#include "encore/experiment.h"
#include "encore/rank.h"
#include "model/rank_order.h"
#include "rank/encode.h"
#include "store/store_internal.h"
#include "util/json_writer.h"
#include "util/threads.h"
#include "util/time_format.h"

namespace encore {

namespace {

constexpr size_t kBlock = 4096;

int Threads(const Recommender& model) { return ResolveThreads(model.params().threads); }

bool UsableKey(std::string_view id) { return CheckStoreKey(id).ok(); }

// Writes a block of payloads, counting bytes.
Status PutBlock(SnapshotWriter* writer, Table table, const IdDictionary& keys,
                std::span<const uint32_t> block, const std::vector<std::string>& payloads,
                const std::vector<char>& usable, PublishReport* report, uint64_t* written,
                const std::string& prefix) {
  std::string key;
  for (size_t k = 0; k < block.size(); ++k) {
    if (!usable[k]) {
      ++report->skipped_ids;
      continue;
    }
    std::string_view id = keys.Name(block[k]);
    if (!prefix.empty()) {
      key = prefix;
      key.append(id);
      id = key;
    }
    ENCORE_RETURN_IF_ERROR(writer->Put(table, id, payloads[k]));
    report->bytes += id.size() + payloads[k].size();
    ++*written;
  }
  return Status::OK();
}

// One family of payloads: user lists or similar-item lists.
struct PayloadKind {
  const char* what;  // progress label
  const char* unit;  // "users" / "items"
  Table table;
  const char* key_name;   // "user" / "item"
  const char* list_name;  // "items" / "similar"
  bool users;             // keyed by user (else by item)
};

// Ranks every key in blocks, encodes the payloads in parallel and writes
// them in order.
Status PublishPayloads(const TrainedModel& model, const PublishOptions& options,
                       const PayloadKind& kind, SnapshotWriter* writer, PublishReport* report,
                       Progress* progress, const AnnIndex* index,
                       const std::string& variant = std::string()) {
  const Recommender& m = *model.model;
  // A variant's user payloads live in the meta table under VariantUserKey.
  const std::string prefix = variant.empty() ? std::string() : VariantUserKey(variant, "");
  const Table table = variant.empty() ? kind.table : Table::kMeta;
  const uint64_t version = writer->info().version;
  const IdDictionary& keys = kind.users ? model.users : model.items;
  QueryOptions q;
  q.n = options.n;
  q.exclude_seen = options.exclude_seen;
  if (progress) progress->StartCount(kind.what, keys.size(), kind.unit);
  const uint64_t bytes_before = report->bytes;
  Ranker ranker(m);
  if (!kind.users) ranker.UseIndex(index, /*approximate_similar=*/index != nullptr);
  std::vector<std::vector<ScoredItem>> lists;
  std::vector<std::string> payloads;
  std::vector<char> usable;
  std::vector<Status> errors;
  const uint32_t total = kind.users ? m.num_users() : m.num_items();
  for (uint32_t start = 0; start < total; start += kBlock) {
    const uint32_t end = std::min<uint64_t>(total, uint64_t{start} + kBlock);
    std::vector<uint32_t> block(end - start);
    for (uint32_t k = start; k < end; ++k) block[k - start] = k;
    if (kind.users) {
      ranker.RankUsers(block, q, &lists);
    } else {
      ENCORE_RETURN_IF_ERROR(ranker.RankSimilarItems(block, options.similar_n, &lists));
    }
    payloads.resize(block.size());
    usable.assign(block.size(), 0);
    errors.assign(block.size(), Status::OK());
    const int64_t count = static_cast<int64_t>(block.size());
#pragma omp parallel for num_threads(Threads(m)) schedule(dynamic, 64)
    for (int64_t k = 0; k < count; ++k) {
      std::string_view id = keys.Name(block[k]);
      usable[k] = UsableKey(id) && UsableKey(prefix + std::string(id));
      if (usable[k]) {
        errors[k] = rank::EncodePayload(kind.key_name, id, version, kind.list_name, lists[k],
                                        model.items, &payloads[k]);
      }
    }
    for (const Status& s : errors) ENCORE_RETURN_IF_ERROR(s);
    ENCORE_RETURN_IF_ERROR(PutBlock(writer, table, keys, block, payloads, usable, report,
                                    kind.users ? &report->user_payloads : &report->similar_payloads,
                                    prefix));
    if (progress) progress->Update(report->bytes - bytes_before, end);
  }
  if (progress) progress->Finish();
  return Status::OK();
}

constexpr PayloadKind kUserPayloads = {
    "publishing user payloads", "users", Table::kUser, "user", "items", true};
constexpr PayloadKind kSimilarPayloads = {
    "publishing similar items", "items", Table::kSimilar, "item", "similar", false};

// Items by the number of users who interacted with them (ties: the model's
// tie order), at most `n`, never an item nobody touched.
std::vector<ScoredItem> PopularItems(const Recommender& m, uint32_t n) {
  std::vector<uint32_t> users_per_item(m.num_items(), 0);
  for (uint32_t item : m.seen().indices) ++users_per_item[item];
  std::vector<ScoredItem> all;
  for (uint32_t i = 0; i < m.num_items(); ++i) {
    if (users_per_item[i] > 0) all.push_back({i, static_cast<float>(users_per_item[i])});
  }
  const model::RankOrder better{m.tie_ranks()};
  const size_t keep = std::min<size_t>(n, all.size());
  std::partial_sort(all.begin(), all.begin() + keep, all.end(), better);
  all.resize(keep);
  return all;
}

bool ParamAppliesTo(const ParamInfo& info, std::string_view kind) {
  std::string_view models = info.models;
  if (models == "all") return true;
  while (!models.empty()) {
    size_t comma = models.find(',');
    if (models.substr(0, comma) == kind) return true;
    if (comma == std::string_view::npos) break;
    models.remove_prefix(comma + 1);
  }
  return false;
}

// The parameter value as a typed JSON value.
void WriteParamValue(const ParamInfo& info, const std::string& text, JsonWriter* w) {
  const std::string_view type = info.type;
  if (type == "bool") {
    w->Bool(text == "true");
    return;
  }
  if (type == "int") {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc() && end == text.data() + text.size()) {
      w->Int(v);
      return;
    }
  } else if (type == "float") {
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size() && std::isfinite(v)) {
      w->Double(v);
      return;
    }
  }
  w->String(text);
}

std::string InfoDocument(const TrainedModel& model, const PublishOptions& options,
                         const SnapshotInfo& snapshot, const PublishReport& report,
                         uint32_t similar_n, size_t popular, size_t model_bytes) {
  const Recommender& m = *model.model;
  JsonWriter w;
  w.BeginObject();
  w.Key("snapshot");
  w.Uint(snapshot.version);
  w.Key("created");
  w.String(FormatUtcTime(snapshot.created_unix));
  w.Key("model");
  w.BeginObject();
  w.Key("kind");
  w.String(m.kind());
  w.Key("params");
  w.BeginObject();
  for (const auto& [name, value] : ModelParamsToList(m.params())) {
    for (const ParamInfo& info : ModelParamTable()) {
      if (name != info.name || !ParamAppliesTo(info, m.kind())) continue;
      w.Key(name);
      WriteParamValue(info, value, &w);
    }
  }
  w.EndObject();
  w.EndObject();
  w.Key("counts");
  w.BeginObject();
  w.Key("users");
  w.Uint(m.num_users());
  w.Key("items");
  w.Uint(m.num_items());
  w.Key("interactions");
  w.Uint(m.seen().nnz());
  w.EndObject();
  w.Key("payloads");
  w.BeginObject();
  w.Key("users");
  w.Uint(report.user_payloads);
  w.Key("similar");
  w.Uint(report.similar_payloads);
  w.Key("n");
  w.Uint(options.n);
  w.Key("similar_n");
  w.Uint(similar_n);
  w.Key("popular");
  w.Uint(popular);
  w.Key("model_bytes");
  w.Uint(model_bytes);
  w.Key("approximate_index");
  w.Bool(report.ann);
  w.EndObject();
  if (!options.high_water.empty()) {
    w.Key("high_water");
    w.String(options.high_water);
  }
  w.EndObject();
  return w.str();
}

Status Put(SnapshotWriter* writer, Table table, std::string_view key, std::string_view value,
           PublishReport* report) {
  ENCORE_RETURN_IF_ERROR(writer->Put(table, key, value));
  report->bytes += key.size() + value.size();
  return Status::OK();
}

}  // namespace

namespace {

// "MS-SEQ" (a Redis stream entry id) into ms and seq.
bool ParseEntryId(std::string_view id, uint64_t* ms, uint64_t* seq) {
  const size_t dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == id.size()) return false;
  auto num = [](std::string_view s, uint64_t* out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && end == s.data() + s.size();
  };
  return num(id.substr(0, dash), ms) && num(id.substr(dash + 1), seq);
}

}  // namespace

Result<HighWater> ParseHighWater(std::string_view mark) {
  HighWater hw;
  if (mark.empty()) return hw;
  if (mark.starts_with("id:") && ParseEntryId(mark.substr(3), &hw.ms, &hw.seq)) {
    hw.kind = HighWater::Kind::kId;
    return hw;
  }
  if (mark.starts_with("time:")) {
    const std::string_view t = mark.substr(5);
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), hw.time);
    if (!t.empty() && ec == std::errc() && end == t.data() + t.size()) {
      hw.kind = HighWater::Kind::kTime;
      return hw;
    }
  }
  return Status::InvalidArgument("high-water mark '" + std::string(mark) +
                                 "': expected id:MS-SEQ (a Redis stream entry id, e.g. "
                                 "id:1733400000000-0) or time:SECONDS (unix seconds)");
}

bool HighWater::Covers(std::string_view entry_id, std::optional<int64_t> t) const {
  switch (kind) {
    case Kind::kNone:
      return false;
    case Kind::kId: {
      uint64_t m = 0, s = 0;
      if (!ParseEntryId(entry_id, &m, &s)) return false;
      return m < ms || (m == ms && s <= seq);
    }
    case Kind::kTime:
      return t.has_value() && *t <= time;
  }
  return false;
}

Result<PublishReport> Publish(const TrainedModel& model, const PublishOptions& options,
                              Store* store, Progress* progress) {
  const auto start = std::chrono::steady_clock::now();
  if (!model.model) return Status::InvalidArgument("publish needs a trained model");
  if (options.n == 0) return Status::InvalidArgument("publish needs n >= 1 items per user");
  ENCORE_RETURN_IF_ERROR(ParseHighWater(options.high_water).status());
  const Recommender& m = *model.model;
  if (model.users.size() != m.num_users() || model.items.size() != m.num_items()) {
    return Status::InvalidArgument("the model's id dictionaries do not match its size");
  }

  PublishReport report;
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<SnapshotWriter> writer, store->BeginSnapshot());
  report.snapshot = writer->info();

  ENCORE_RETURN_IF_ERROR(
      PublishPayloads(model, options, kUserPayloads, writer.get(), &report, progress, nullptr));
  // Experiment variants: their user payloads and popular fallback.
  std::string variant_names = "[";
  for (const PublishVariant& v : options.variants) {
    if (v.model == nullptr || !v.model->model) {
      return Status::InvalidArgument("variant '" + v.name + "' has no model");
    }
    ENCORE_RETURN_IF_ERROR(CheckVariantName(v.name));
    for (const PublishVariant& w : options.variants) {
      if (&w != &v && w.name == v.name) {
        return Status::InvalidArgument("variant '" + v.name + "' is given twice");
      }
    }
    ENCORE_RETURN_IF_ERROR(PublishPayloads(*v.model, options, kUserPayloads, writer.get(), &report,
                                           progress, nullptr, v.name));
    const std::vector<ScoredItem> vpop = PopularItems(*v.model->model, options.popular_n);
    std::string vpayload = "{\"snapshot\":" + std::to_string(report.snapshot.version) +
                           ",\"fallback\":\"popular\",\"items\":";
    ENCORE_RETURN_IF_ERROR(rank::AppendItemArray(vpop, v.model->items, &vpayload));
    vpayload.push_back('}');
    ENCORE_RETURN_IF_ERROR(
        Put(writer.get(), Table::kMeta, VariantPopularKey(v.name), vpayload, &report));
    variant_names += std::string(variant_names.size() > 1 ? "," : "") + "\"" + v.name + "\"";
  }
  variant_names += "]";
  if (!options.variants.empty()) {
    ENCORE_RETURN_IF_ERROR(Put(writer.get(), Table::kMeta, "variants", variant_names, &report));
  }

  // The approximate index of a large catalog.
  std::unique_ptr<AnnIndex> index;
  if (options.ann_min_items > 0 && m.num_items() >= options.ann_min_items &&
      m.embedding_dim() > 0) {
    AnnOptions ann;
    if (options.ann_ef > 0) ann.ef = options.ann_ef;
    ann.threads = m.params().threads;
    if (progress)
      progress->Note("building the approximate index of " + std::to_string(m.num_items()) +
                     " items");
    ENCORE_ASSIGN_OR_RETURN(index, AnnIndex::Build(m, ann));
    report.ann = true;
  }

  // Similar items, unless the model has no notion of similarity at all.
  uint32_t similar_n = options.similar_n;
  if (similar_n > 0 && m.num_items() > 0) {
    std::vector<ScoredItem> probe;
    Status s = m.SimilarItems(0, 1, &probe);
    if (s.code() == StatusCode::kFailedPrecondition) {
      similar_n = 0;
      report.notes.push_back(s.message() + ": no similar-items payloads");
    } else {
      ENCORE_RETURN_IF_ERROR(s);
    }
  }
  if (similar_n > 0) {
    ENCORE_RETURN_IF_ERROR(PublishPayloads(model, options, kSimilarPayloads, writer.get(), &report,
                                           progress, index.get()));
  }

  const uint64_t version = report.snapshot.version;
  const std::vector<ScoredItem> popular = PopularItems(m, options.popular_n);
  std::string payload =
      "{\"snapshot\":" + std::to_string(version) + ",\"fallback\":\"popular\",\"items\":";
  ENCORE_RETURN_IF_ERROR(rank::AppendItemArray(popular, model.items, &payload));
  payload.push_back('}');
  ENCORE_RETURN_IF_ERROR(Put(writer.get(), Table::kMeta, "popular", payload, &report));

  size_t model_bytes = 0;
  if (options.include_model) {
    const std::string bytes = SerializeModel(model);
    model_bytes = bytes.size();
    ENCORE_RETURN_IF_ERROR(Put(writer.get(), Table::kMeta, "model", bytes, &report));
    if (index != nullptr) {
      // Tied to the model bytes by their trailing checksum.
      uint32_t crc = 0;
      std::memcpy(&crc, bytes.data() + bytes.size() - 4, 4);
      ENCORE_RETURN_IF_ERROR(
          Put(writer.get(), Table::kMeta, "ann", index->Serialize(crc), &report));
    }
  }
  if (!options.high_water.empty()) {
    ENCORE_RETURN_IF_ERROR(
        Put(writer.get(), Table::kMeta, "high_water", options.high_water, &report));
  }
  const std::string info =
      InfoDocument(model, options, report.snapshot, report, similar_n, popular.size(), model_bytes);
  ENCORE_RETURN_IF_ERROR(Put(writer.get(), Table::kMeta, "info", info, &report));

  ENCORE_RETURN_IF_ERROR(writer->Commit());
  writer.reset();  // releases the publisher lock before pruning

  Status pruned = store->Prune(options.keep);
  if (!pruned.ok()) {
    report.notes.push_back(
        "snapshot " + std::to_string(version) +
        " is published, but removing old snapshots failed: " + pruned.ToString());
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

std::string VariantUserKey(std::string_view variant, std::string_view user) {
  std::string key = "variant/";
  key.append(variant);
  key.append("/u/");
  key.append(user);
  return key;
}

std::string VariantPopularKey(std::string_view variant) {
  return "variant/" + std::string(variant) + "/popular";
}

Status BuildFoldInUserPayload(const TrainedModel& model, const Ranker& ranker,
                              std::string_view user, uint64_t version,
                              std::span<const ItemWeight> items, const QueryOptions& options,
                              std::string* payload) {
  ENCORE_ASSIGN_OR_RETURN(std::vector<ScoredItem> list, ranker.RankFoldIn(items, options));
  return rank::EncodePayload(kUserPayloads.key_name, user, version, kUserPayloads.list_name, list,
                             model.items, payload);
}

}  // namespace encore
