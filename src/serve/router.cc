#include "serve/router.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>

#include "encore/experiment.h"
#include "encore/explain.h"
#include "encore/publish.h"
#include "encore/rank.h"
#include "encore/retail_feeds.h"
#include "rank/encode.h"
#include "store/store_internal.h"
#include "util/json_writer.h"
#include "util/time_format.h"

namespace encore::serve {

namespace {

constexpr const char* kAllowGet = "GET, HEAD";
constexpr const char* kAllowPost = "POST";
// Largest ?offset=: far beyond any stored list, small enough to stay exact.
constexpr uint32_t kMaxOffset = 1'000'000;

bool IsGet(std::string_view method) { return method == "GET" || method == "HEAD"; }

HttpResponse MethodNotAllowed(std::string_view method, const char* allow, Route route) {
  HttpResponse r = ErrorResponse(
      405, "method " + std::string(method.substr(0, 16)) + " is not allowed here; use " + allow,
      route);
  r.allow = allow;
  return r;
}

HttpResponse NotReady(Route route) {
  return ErrorResponse(503,
                       "no snapshot loaded yet; publish one with encore publish (the server "
                       "picks it up within --poll-ms)",
                       route);
}

HttpResponse StoreError(const Status& s, Route route) {
  return ErrorResponse(503, "store read failed: " + s.message(), route);
}

// Names the experiment, variant and a new recommendation id in a JSON
// object answer: ,"experiment":E,"variant":V,"recommendation_id":R before
// its closing brace.
void TagVariant(const Experiment& experiment, const ExperimentVariant& variant,
                std::string_view user, std::string* body) {
  const size_t close = body->rfind('}');
  if (close == std::string::npos) return;
  std::string tag = ",\"experiment\":";
  JsonWriter::AppendQuoted(experiment.name, &tag);
  tag += ",\"variant\":";
  JsonWriter::AppendQuoted(variant.name, &tag);
  tag += ",\"recommendation_id\":\"" + NewRecommendationId(user) + "\"";
  body->insert(close, tag);
}

HttpResponse Json(std::string body, const LoadedSnapshot* snapshot, Route route) {
  HttpResponse r;
  r.body = std::move(body);
  r.route = route;
  if (snapshot != nullptr) r.snapshot = snapshot->info.version;
  return r;
}

std::array<unsigned char, 32> Sha256(std::string_view data) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// JSON whitespace.
std::string_view TrimSpace(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The popular payload with "user" set to `user`: a string splice when the
// payload has no "user" of its own, else a rewrite.
Status PopularForUser(const LoadedSnapshot& snap, std::string_view user, const SliceSpec* slice,
                      std::string* out) {
  SliceSpec spec = slice != nullptr ? *slice : SliceSpec();
  spec.first.emplace_back("user", JsonWriter::Quote(user));
  if (slice == nullptr && !snap.popular_has_user) {
    // {"snapshot":...} -> {"user":"U","snapshot":...}
    std::string_view rest = TrimSpace(snap.popular).substr(1);
    out->assign("{\"user\":");
    JsonWriter::AppendQuoted(user, out);
    if (TrimSpace(rest).front() != '}') out->push_back(',');
    out->append(rest);
    return Status::OK();
  }
  return SlicePayload(snap.popular, "items", spec, out);
}

}  // namespace

HttpResponse ErrorResponse(int status, std::string_view message, Route route) {
  HttpResponse r;
  r.status = status;
  r.route = route;
  r.body = "{\"error\":";
  JsonWriter::AppendQuoted(message, &r.body);
  r.body += ",\"code\":" + std::to_string(status) + "}";
  return r;
}

Router::Router(const ServeOptions& options, Metrics* metrics, ReloadFn reload,
               std::string store_uri, int threads)
    : options_(options),
      metrics_(metrics),
      reload_(std::move(reload)),
      store_uri_(std::move(store_uri)),
      threads_(threads),
      start_(std::chrono::steady_clock::now()) {
  if (!options.api_key.empty()) {
    admin_enabled_ = true;
    key_digest_ = Sha256(options.api_key);
  }
}

HttpResponse Router::Handle(const HttpRequest& request, const LoadedSnapshot* snapshot) const {
  // Reused by the thread's next request: its vectors keep their capacity, so
  // routing allocates nothing (Handle never runs twice at once on a thread).
  if (ForExtension(request.target)) {
    ExtensionContext context;
    context.snapshot = snapshot;
    context.metrics = metrics_;
    context.live = live_;
    context.admin_enabled = admin_enabled_;
    context.authorized = KeyMatches(request);
    return options_.extension->Handle(request, context);
  }
  thread_local Target target;
  if (Status s = SplitTarget(request.target, &target); !s.ok()) {
    return ErrorResponse(400, s.message(), Route::kUnmatched);
  }
  const auto& seg = target.segments;
  const std::string_view method = request.method;
  if (seg.size() == 1) {
    if (seg[0] == "healthz") {
      if (!IsGet(method)) return MethodNotAllowed(method, kAllowGet, Route::kHealthz);
      return Json("{\"status\":\"ok\"}", nullptr, Route::kHealthz);
    }
    if (seg[0] == "readyz") {
      if (!IsGet(method)) return MethodNotAllowed(method, kAllowGet, Route::kReadyz);
      return Readyz(snapshot);
    }
    if (seg[0] == "metrics") {
      if (!IsGet(method)) return MethodNotAllowed(method, kAllowGet, Route::kMetrics);
      return MetricsPage(snapshot);
    }
  } else if (seg.size() >= 2 && seg[0] == "v1") {
    if (seg.size() == 4 && seg[1] == "users" && seg[3] == "recommendations") {
      if (!IsGet(method)) return MethodNotAllowed(method, kAllowGet, Route::kUserRecommendations);
      return UserRecommendations(seg[2], target, snapshot);
    }
    if (seg.size() == 4 && seg[1] == "users" && seg[3] == "explain") {
      if (!IsGet(method)) return MethodNotAllowed(method, kAllowGet, Route::kExplain);
      return Explain(seg[2], target, snapshot);
    }
    if (seg.size() == 4 && seg[1] == "items" && seg[3] == "similar") {
      if (!IsGet(method)) return MethodNotAllowed(method, kAllowGet, Route::kSimilarItems);
      return SimilarItems(seg[2], target, snapshot);
    }
    if (seg.size() == 4 && seg[1] == "products" && seg[3] == "explain") {
      if (!IsGet(method)) return MethodNotAllowed(method, kAllowGet, Route::kProductExplain);
      return ProductExplain(seg[2], snapshot);
    }
    if (seg.size() == 2 && seg[1] == "recommendations") {
      if (method != "POST") return MethodNotAllowed(method, kAllowPost, Route::kFoldIn);
      return FoldIn(request, snapshot);
    }
    if (seg.size() == 2 && seg[1] == "info") {
      if (!IsGet(method)) return MethodNotAllowed(method, kAllowGet, Route::kInfo);
      return Info(snapshot);
    }
    if (seg.size() == 2 && seg[1] == "events") {
      if (method != "POST") return MethodNotAllowed(method, kAllowPost, Route::kEvents);
      return PostEvents(request);
    }
    if (seg.size() == 3 && seg[1] == "admin" && seg[2] == "reload") {
      if (method != "POST") return MethodNotAllowed(method, kAllowPost, Route::kAdminReload);
      return AdminReload(request);
    }
  }
  return ErrorResponse(404, "no such route; see docs/SERVING.md for the HTTP API",
                       Route::kUnmatched);
}

bool Router::MayBlock(std::string_view target) const {
  if (ForExtension(target)) return options_.extension->MayBlock(target);
  return target.substr(0, target.find('?')).rfind("/v1/admin/", 0) == 0;
}

bool Router::Computes(std::string_view method, std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (method == "POST" && path == "/v1/recommendations") return true;
  return method == "GET" && path.rfind("/v1/users/", 0) == 0 && path.ends_with("/explain");
}

bool Router::ForExtension(std::string_view target) const {
  if (options_.extension == nullptr) return false;
  const std::string_view path = target.substr(0, target.find('?'));
  const std::string_view prefix = options_.extension->prefix();
  return path.substr(0, prefix.size()) == prefix &&
         (path.size() == prefix.size() || path[prefix.size()] == '/');
}

bool Router::KeyMatches(const HttpRequest& request) const {
  if (!admin_enabled_) return false;
  std::string_view auth = Trim(request.authorization);
  const size_t space = auth.find(' ');
  if (auth.empty() || space == std::string_view::npos ||
      !IEquals(auth.substr(0, space), "Bearer")) {
    return false;
  }
  const std::array<unsigned char, 32> given = Sha256(Trim(auth.substr(space + 1)));
  return CRYPTO_memcmp(given.data(), key_digest_.data(), given.size()) == 0;
}

bool Router::DecodeId(std::string_view raw, const char* what, Route route, std::string* id,
                      HttpResponse* error) const {
  // Every decoded byte takes at most 3 encoded ones: reject before decoding.
  if (raw.size() > 3 * static_cast<size_t>(options_.max_id_bytes)) {
    *error = ErrorResponse(
        414,
        std::string(what) + " is longer than " + std::to_string(options_.max_id_bytes) + " bytes",
        route);
    return false;
  }
  if (Status s = PercentDecode(raw, what, id); !s.ok()) {
    *error = ErrorResponse(400, s.message(), route);
    return false;
  }
  if (id->empty()) {
    *error = ErrorResponse(400, std::string("empty ") + what, route);
    return false;
  }
  if (id->size() > options_.max_id_bytes) {
    *error = ErrorResponse(414,
                           std::string(what) + " of " + std::to_string(id->size()) +
                               " bytes is longer than " + std::to_string(options_.max_id_bytes) +
                               " bytes",
                           route);
    return false;
  }
  return true;
}

bool Router::ParseSlice(const Target& target, Route route, SliceSpec* spec, bool* sliced,
                        HttpResponse* error) const {
  *sliced = false;
  if (const std::string_view* v = target.Find("limit")) {
    std::string decoded;
    Status s = PercentDecode(*v, "query parameter 'limit'", &decoded);
    if (s.ok()) s = ParseBoundedUint(decoded, "limit", 1, options_.max_limit, &spec->limit);
    if (!s.ok()) {
      *error = ErrorResponse(400, s.message(), route);
      return false;
    }
    *sliced = true;
  }
  if (const std::string_view* v = target.Find("offset")) {
    std::string decoded;
    Status s = PercentDecode(*v, "query parameter 'offset'", &decoded);
    if (s.ok()) s = ParseBoundedUint(decoded, "offset", 0, kMaxOffset, &spec->offset);
    if (!s.ok()) {
      *error = ErrorResponse(400, s.message(), route);
      return false;
    }
    *sliced = true;
  }
  if (const std::string_view* v = target.Find("exclude")) {
    // Split first, then decode: an id may hold an encoded comma (%2C).
    std::string_view rest = *v;
    while (true) {
      const size_t comma = rest.find(',');
      std::string_view piece = rest.substr(0, comma);
      if (!piece.empty()) {
        std::string id;
        if (!DecodeId(piece, "excluded item id", route, &id, error)) return false;
        spec->exclude.push_back(std::move(id));
        if (spec->exclude.size() > options_.max_limit) {
          *error = ErrorResponse(
              400, "exclude lists more than " + std::to_string(options_.max_limit) + " ids", route);
          return false;
        }
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    *sliced = true;
  }
  return true;
}

HttpResponse Router::UserRecommendations(std::string_view raw_id, const Target& target,
                                         const LoadedSnapshot* snapshot) const {
  constexpr Route kRoute = Route::kUserRecommendations;
  HttpResponse error;
  std::string user;
  if (!DecodeId(raw_id, "user id", kRoute, &user, &error)) return error;
  SliceSpec spec;
  bool sliced = false;
  if (!ParseSlice(target, kRoute, &spec, &sliced, &error)) return error;
  bool fallback = false;
  if (const std::string_view* v = target.Find("fallback")) {
    if (*v != "popular") {
      return ErrorResponse(400, "fallback must be 'popular' (or absent)", kRoute);
    }
    fallback = true;
  }
  // ?feeds=products,brands_card: only these feeds of a retail payload.
  std::vector<std::string> feeds;
  const bool filter_feeds = target.Find("feeds") != nullptr;
  if (filter_feeds) {
    std::string_view list = *target.Find("feeds");
    while (!list.empty()) {
      const size_t comma = list.find(',');
      std::string_view name = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      if (FindFeed(name) < 0) {
        std::string known;
        for (int f = 0; f < kNumFeeds; ++f) known += std::string(f ? ", " : "") + FeedName(f);
        return ErrorResponse(400, "unknown feed '" + std::string(name) + "'; feeds: " + known,
                             kRoute);
      }
      feeds.emplace_back(name);
    }
  }
  if (snapshot == nullptr) return NotReady(kRoute);
  if (filter_feeds && !snapshot->retail) {
    return ErrorResponse(400, "feeds applies to retail snapshots only (this one holds item lists)",
                         kRoute);
  }
  if (sliced && snapshot->retail) {
    return ErrorResponse(
        400, "limit, offset and exclude do not apply to retail payloads; use feeds=NAME,...",
        kRoute);
  }

  // An experiment that runs now picks the user's variant and its payloads.
  const Experiment* experiment = options_.experiment.get();
  const ExperimentVariant* variant = nullptr;
  if (experiment != nullptr &&
      experiment->Active(std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count())) {
    variant = &experiment->variants[experiment->Assign(user)];
  }
  auto tagged = [&](std::string body) {
    if (variant != nullptr) TagVariant(*experiment, *variant, user, &body);
    return Json(std::move(body), snapshot, kRoute);
  };
  std::string payload;
  Status s = Status::NotFound("longer than any stored id");
  if (variant != nullptr && variant->payload != "default") {
    const std::string key = VariantUserKey(variant->payload, user);
    if (key.size() <= kMaxStoreKeyBytes) s = snapshot->snapshot->Get(Table::kMeta, key, &payload);
    if (s.code() == StatusCode::kNotFound) {
      // Is the variant in this snapshot at all? (Its popular list always is.)
      std::string probe;
      Status p = snapshot->snapshot->Get(Table::kMeta, VariantPopularKey(variant->payload), &probe);
      if (p.code() == StatusCode::kNotFound) {
        return ErrorResponse(
            503,
            "snapshot " + std::to_string(snapshot->info.version) + " has no payloads of variant '" +
                variant->payload + "' of experiment '" + experiment->name +
                "': publish it with encore publish --variant " + variant->payload + "=MODEL_FILE",
            kRoute);
      }
      if (!p.ok()) return StoreError(p, kRoute);
    }
  } else if (user.size() <= kMaxStoreKeyBytes) {
    // A live payload (the stream consumer's, built over this snapshot) wins.
    if (live_ != nullptr) s = live_->GetPayload(snapshot->info.version, user, &payload);
    if (s.code() == StatusCode::kNotFound) {
      s = snapshot->snapshot->Get(Table::kUser, user, &payload);
    }
  }
  if (s.ok() && filter_feeds) {
    std::string body;
    if (Status st = FilterFeeds(payload, feeds, &body); !st.ok()) {
      return ErrorResponse(500, st.message(), kRoute);
    }
    return tagged(std::move(body));
  }
  if (s.ok()) {
    if (!sliced) return tagged(std::move(payload));  // the stored bytes
    std::string body;
    if (Status st = SlicePayload(payload, "items", spec, &body); !st.ok()) {
      return ErrorResponse(500, st.message(), kRoute);
    }
    return tagged(std::move(body));
  }
  if (s.code() != StatusCode::kNotFound) return StoreError(s, kRoute);
  if (!fallback && !snapshot->retail) {
    HttpResponse r = ErrorResponse(404, "unknown user '" + user + "'", kRoute);
    r.snapshot = snapshot->info.version;
    return r;
  }
  if (snapshot->popular.empty()) {
    HttpResponse r = ErrorResponse(
        404, "unknown user '" + user + "' and the snapshot has no popular fallback", kRoute);
    r.snapshot = snapshot->info.version;
    return r;
  }
  std::string body;
  if (Status st = PopularForUser(*snapshot, user, sliced ? &spec : nullptr, &body); !st.ok()) {
    return ErrorResponse(500, st.message(), kRoute);
  }
  if (filter_feeds) {
    std::string filtered;
    if (Status st = FilterFeeds(body, feeds, &filtered); !st.ok()) {
      return ErrorResponse(500, st.message(), kRoute);
    }
    body = std::move(filtered);
  }
  return tagged(std::move(body));
}

HttpResponse Router::SimilarItems(std::string_view raw_id, const Target& target,
                                  const LoadedSnapshot* snapshot) const {
  constexpr Route kRoute = Route::kSimilarItems;
  HttpResponse error;
  std::string item;
  if (!DecodeId(raw_id, "item id", kRoute, &item, &error)) return error;
  SliceSpec spec;
  bool sliced = false;
  if (!ParseSlice(target, kRoute, &spec, &sliced, &error)) return error;
  if (snapshot == nullptr) return NotReady(kRoute);
  std::string payload;
  Status s = item.size() > kMaxStoreKeyBytes
                 ? Status::NotFound("longer than any stored id")
                 : snapshot->snapshot->Get(Table::kSimilar, item, &payload);
  if (s.code() == StatusCode::kNotFound) {
    HttpResponse r = ErrorResponse(404, "unknown item '" + item + "'", kRoute);
    r.snapshot = snapshot->info.version;
    return r;
  }
  if (!s.ok()) return StoreError(s, kRoute);
  if (!sliced) return Json(std::move(payload), snapshot, kRoute);
  std::string body;
  if (Status st = SlicePayload(payload, "similar", spec, &body); !st.ok()) {
    return ErrorResponse(500, st.message(), kRoute);
  }
  return Json(std::move(body), snapshot, kRoute);
}

// The explanation PublishRetail stored for the product (Table::kProduct):
// the same document as `encore explain-product --json`.
HttpResponse Router::ProductExplain(std::string_view raw_id, const LoadedSnapshot* snapshot) const {
  constexpr Route kRoute = Route::kProductExplain;
  HttpResponse error;
  std::string product;
  if (!DecodeId(raw_id, "product id", kRoute, &product, &error)) return error;
  if (snapshot == nullptr) return NotReady(kRoute);
  std::string payload;
  Status s = product.size() > kMaxStoreKeyBytes
                 ? Status::NotFound("longer than any stored id")
                 : snapshot->snapshot->Get(Table::kProduct, product, &payload);
  if (s.code() == StatusCode::kNotFound) {
    // Whether this snapshot has product scores at all decides the message.
    std::string info;
    const bool retail = snapshot->snapshot->Get(Table::kMeta, "info", &info).ok() &&
                        info.find("\"product_explanations\":") != std::string::npos;
    HttpResponse r = ErrorResponse(
        404,
        retail ? "unknown product '" + product +
                     "': not in the catalog this snapshot was "
                     "published from"
               : "this snapshot has no product score explanations (only a pipeline with a "
                 "[retail] section publishes them; docs/SERVING.md)",
        kRoute);
    r.snapshot = snapshot->info.version;
    return r;
  }
  if (!s.ok()) return StoreError(s, kRoute);
  return Json(std::move(payload), snapshot, kRoute);
}

HttpResponse Router::FoldIn(const HttpRequest& request, const LoadedSnapshot* snapshot) const {
  constexpr Route kRoute = Route::kFoldIn;
  if (snapshot == nullptr) return NotReady(kRoute);
  if (snapshot->model == nullptr) {
    HttpResponse r = ErrorResponse(
        503,
        "snapshot " + std::to_string(snapshot->info.version) +
            " has no model for real-time recommendations; publish with the model included",
        kRoute);
    r.snapshot = snapshot->info.version;
    return r;
  }
  const std::string_view media =
      Trim(request.content_type.substr(0, request.content_type.find(';')));
  if (!IEquals(media, "application/json")) {
    return ErrorResponse(415, "the body must be JSON: send Content-Type: application/json", kRoute);
  }
  FoldInRequest req;
  Status parsed = ParseFoldInRequest(request.body, options_.max_limit, options_.max_id_bytes, &req);
  if (!parsed.ok()) {
    return ErrorResponse(parsed.code() == StatusCode::kParseError ? 400 : 422, parsed.message(),
                         kRoute);
  }

  const TrainedModel& model = *snapshot->model;
  std::vector<ItemWeight> known;
  std::vector<std::string_view> unknown;
  std::vector<uint32_t> seen;  // dedup of known
  for (const std::string& id : req.items) {
    if (std::optional<uint32_t> index = model.items.Find(id)) {
      if (std::find(seen.begin(), seen.end(), *index) != seen.end()) continue;
      seen.push_back(*index);
      known.push_back({*index, 1.0f});
    } else if (std::find(unknown.begin(), unknown.end(), id) == unknown.end()) {
      unknown.push_back(id);
    }
  }
  std::string unknown_json = "[";
  for (size_t i = 0; i < unknown.size(); ++i) {
    if (i > 0) unknown_json.push_back(',');
    JsonWriter::AppendQuoted(unknown[i], &unknown_json);
  }
  unknown_json.push_back(']');

  if (known.empty()) {
    // Nothing to fold in: the popular list, minus what the visitor named.
    if (snapshot->popular.empty()) {
      return ErrorResponse(422,
                           "none of the items is known to the model and the snapshot has no "
                           "popular fallback",
                           kRoute);
    }
    SliceSpec spec;
    spec.limit = req.limit;
    spec.exclude = req.exclude;
    spec.exclude.insert(spec.exclude.end(), req.items.begin(), req.items.end());
    spec.last.emplace_back("unknown_items", unknown_json);
    std::string body;
    if (Status st = SlicePayload(snapshot->popular, "items", spec, &body); !st.ok()) {
      return ErrorResponse(500, st.message(), kRoute);
    }
    return Json(std::move(body), snapshot, kRoute);
  }

  QueryOptions q;
  q.n = req.limit;
  for (const std::string& id : req.exclude) {
    if (std::optional<uint32_t> index = model.items.Find(id)) q.deny.push_back(*index);
  }
  // The one query path (encore/rank.h) and the one encoder (rank/encode.h):
  // non-finite scores are dropped by the ranker, exactly as in publish.
  // Large catalogs: candidates from the published approximate index.
  q.approximate = snapshot->ann != nullptr;
  Ranker ranker(*model.model);
  ranker.UseIndex(snapshot->ann.get());
  auto recs = ranker.RankFoldIn(known, q);
  if (!recs.ok()) return ErrorResponse(500, recs.status().message(), kRoute);
  std::string body = "{\"snapshot\":" + std::to_string(snapshot->info.version) + ",\"items\":";
  if (Status st = rank::AppendItemArray(*recs, model.items, &body); !st.ok()) {
    return ErrorResponse(500, st.message(), kRoute);
  }
  body.append(",\"unknown_items\":").append(unknown_json).append("}");
  return Json(std::move(body), snapshot, kRoute);
}

// The user's history is the model's training data (model files keep it), so
// the route needs a snapshot published with the model (include_model).
HttpResponse Router::Explain(std::string_view raw_id, const Target& target,
                             const LoadedSnapshot* snapshot) const {
  constexpr Route kRoute = Route::kExplain;
  std::string user, item;
  HttpResponse error;
  if (!DecodeId(raw_id, "user id", kRoute, &user, &error)) return error;
  const std::string_view* raw_item = target.Find("item");
  if (raw_item == nullptr) {
    return ErrorResponse(400, "explain needs the query parameter 'item' (?item=ID)", kRoute);
  }
  if (!DecodeId(*raw_item, "item id", kRoute, &item, &error)) return error;
  if (snapshot == nullptr) return NotReady(kRoute);
  if (snapshot->model == nullptr) {
    HttpResponse r =
        ErrorResponse(503,
                      "snapshot " + std::to_string(snapshot->info.version) +
                          " has no model to explain with; publish with the model included",
                      kRoute);
    r.snapshot = snapshot->info.version;
    return r;
  }
  const TrainedModel& model = *snapshot->model;
  const std::optional<uint32_t> u = model.users.Find(user);
  if (!u) return ErrorResponse(404, "unknown user '" + user + "'", kRoute);
  const std::optional<uint32_t> i = model.items.Find(item);
  if (!i) return ErrorResponse(404, "unknown item '" + item + "'", kRoute);
  Result<Explanation> e = ExplainUser(*model.model, *u, *i);
  if (!e.ok()) {
    const int code = e.status().code() == StatusCode::kFailedPrecondition ? 422 : 500;
    return ErrorResponse(code, e.status().message(), kRoute);
  }
  JsonWriter w;
  w.BeginObject();
  w.Key("snapshot");
  w.Uint(snapshot->info.version);
  w.Key("user");
  w.String(user);
  w.Key("item");
  w.String(item);
  rank::AppendExplanationMembers(*e, model, options_.max_limit, &w);
  w.EndObject();
  return Json(w.str(), snapshot, kRoute);
}

HttpResponse Router::Info(const LoadedSnapshot* snapshot) const {
  constexpr Route kRoute = Route::kInfo;
  if (snapshot == nullptr) return NotReady(kRoute);
  // The stored document (an object, checked at load) with "server" appended.
  std::string_view doc = TrimSpace(snapshot->info_doc);
  doc.remove_suffix(1);  // the closing '}'
  std::string body(doc);
  if (!TrimSpace(doc.substr(1)).empty()) body.push_back(',');
  body.append("\"server\":{\"version\":\"" ENCORE_VERSION "\",\"store\":");
  JsonWriter::AppendQuoted(store_uri_, &body);
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start_);
  body.append(",\"uptime_seconds\":").append(std::to_string(uptime.count()));
  body.append(",\"threads\":").append(std::to_string(threads_));
  body.append(",\"snapshot\":").append(std::to_string(snapshot->info.version));
  body.append(",\"snapshot_created\":\"").append(FormatUtcTime(snapshot->info.created_unix));
  body.append("\",\"snapshot_loaded\":\"").append(FormatUtcTime(snapshot->loaded_unix));
  body.append("\",\"fold_in\":").append(snapshot->model != nullptr ? "true" : "false");
  body.append(",\"fold_in_approximate\":").append(snapshot->ann != nullptr ? "true" : "false");
  body.append("}}");
  return Json(std::move(body), snapshot, kRoute);
}

HttpResponse Router::Readyz(const LoadedSnapshot* snapshot) const {
  if (snapshot == nullptr) return NotReady(Route::kReadyz);
  return Json("{\"status\":\"ready\",\"snapshot\":" + std::to_string(snapshot->info.version) + "}",
              snapshot, Route::kReadyz);
}

HttpResponse Router::MetricsPage(const LoadedSnapshot* snapshot) const {
  Metrics::SnapshotState state;
  if (snapshot != nullptr) {
    state.loaded = true;
    state.version = snapshot->info.version;
    state.created_unix = snapshot->info.created_unix;
    state.cached = GetSnapshotCacheStats(*snapshot->snapshot, &state.cache);
  }
  if (live_ != nullptr) state.live_cached = live_->GetCacheStats(&state.live_cache);
  HttpResponse r;
  r.route = Route::kMetrics;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_->Render(state);
  if (live_ != nullptr) {
    std::string stream_metrics;
    if (live_->GetState("metrics", &stream_metrics).ok()) r.body += stream_metrics;
  }
  return r;
}

bool Router::Authorized(const HttpRequest& request, Route route, HttpResponse* error) const {
  if (!admin_enabled_) {
    *error =
        ErrorResponse(403, "this route needs a key: start encore serve with --api-key-file", route);
    return false;
  }
  std::string_view auth = Trim(request.authorization);
  const size_t space = auth.find(' ');
  if (auth.empty() || space == std::string_view::npos ||
      !IEquals(auth.substr(0, space), "Bearer")) {
    *error = ErrorResponse(401, "this route needs the header 'Authorization: Bearer <key>'", route);
    error->www_authenticate = true;
    return false;
  }
  // Equal-length digests, compared in constant time: neither the key's
  // length nor its bytes leak through timing.
  const std::array<unsigned char, 32> given = Sha256(Trim(auth.substr(space + 1)));
  if (CRYPTO_memcmp(given.data(), key_digest_.data(), given.size()) != 0) {
    *error = ErrorResponse(403, "wrong key", route);
    return false;
  }
  return true;
}

HttpResponse Router::PostEvents(const HttpRequest& request) const {
  constexpr Route kRoute = Route::kEvents;
  HttpResponse error;
  if (!Authorized(request, kRoute, &error)) return error;
  if (!event_sink_) {
    return ErrorResponse(404,
                         "event intake is off: start encore serve with --events-redis "
                         "redis://HOST:PORT/DB --events-stream KEY",
                         kRoute);
  }
  std::vector<Event> events;
  std::vector<size_t> indices;
  std::vector<EventRejection> rejections;
  if (Status s = EventsFromJsonArray(request.body, event_schema_, &events, &indices, &rejections);
      !s.ok()) {
    return ErrorResponse(400, s.message(), kRoute);
  }
  std::vector<std::string> ids;
  if (!events.empty()) {
    if (Status s = event_sink_(events, &ids); !s.ok()) {
      return ErrorResponse(503,
                           "could not append the events to the stream (none was kept "
                           "unless listed): " +
                               s.message(),
                           kRoute);
    }
  }
  // {"accepted":N,"rejected":[{"index":i,"field":f,"reason":r},...],"ids":[...]}
  HttpResponse r;
  r.route = kRoute;
  // 202 when anything was kept (the rejected ones are listed), 400 when
  // every event was rejected.
  r.status = events.empty() && !rejections.empty() ? 400 : 202;
  r.body = "{\"accepted\":" + std::to_string(events.size()) + ",\"rejected\":[";
  for (size_t i = 0; i < rejections.size(); ++i) {
    if (i > 0) r.body += ',';
    r.body += "{\"index\":" + std::to_string(rejections[i].index) + ",\"field\":";
    JsonWriter::AppendQuoted(rejections[i].field, &r.body);
    r.body += ",\"reason\":";
    JsonWriter::AppendQuoted(rejections[i].reason, &r.body);
    r.body += '}';
  }
  r.body += "],\"ids\":[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) r.body += ',';
    JsonWriter::AppendQuoted(ids[i], &r.body);
  }
  r.body += "]}";
  return r;
}

HttpResponse Router::AdminReload(const HttpRequest& request) const {
  constexpr Route kRoute = Route::kAdminReload;
  HttpResponse error;
  if (!Authorized(request, kRoute, &error)) return error;
  auto result = reload_();
  if (!result.ok()) {
    const Status& s = result.status();
    const int code =
        s.code() == StatusCode::kNotFound || s.code() == StatusCode::kIOError ? 503 : 500;
    return ErrorResponse(code, "reload failed, still serving the old snapshot: " + s.ToString(),
                         kRoute);
  }
  HttpResponse r;
  r.route = kRoute;
  r.snapshot = result->current;
  r.body = "{\"snapshot\":" + std::to_string(result->current) +
           ",\"previous\":" + std::to_string(result->previous) +
           ",\"changed\":" + (result->changed ? "true" : "false") + "}";
  return r;
}

}  // namespace encore::serve
