#include "console/console.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "console/assets.h"
#include "encore/catalog.h"
#include "encore/recommender.h"
#include "pipeline/manifest.h"
#include "serve/url.h"
#include "store/file_util.h"
#include "stream/read_events.h"
#include "util/json_writer.h"
#include "util/time_format.h"

namespace encore::console {

namespace {

namespace fs = std::filesystem;
using serve::ErrorResponse;
using serve::ExtensionContext;
using serve::HttpRequest;
using serve::HttpResponse;
using serve::Route;

constexpr Route kRoute = Route::kConsole;
// The most runs the runs page lists (the newest).
constexpr size_t kMaxRuns = 50;
// The most history items the user explorer returns (largest values first).
constexpr size_t kMaxHistory = 200;

HttpResponse Json(std::string body) {
  HttpResponse r;
  r.route = kRoute;
  r.body = std::move(body);
  return r;
}

// The value of a Prometheus sample without labels ("name value"), or nullopt.
std::optional<double> PromValue(std::string_view text, std::string_view name) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.size() > name.size() && line.substr(0, name.size()) == name &&
        line[name.size()] == ' ') {
      std::string value(line.substr(name.size() + 1));
      char* stop = nullptr;
      const double v = std::strtod(value.c_str(), &stop);
      if (stop != value.c_str()) return v;
    }
  }
  return std::nullopt;
}

class Console final : public serve::Extension {
 public:
  Console(ConsoleOptions options, std::optional<Catalog> catalog)
      : options_(std::move(options)), catalog_(std::move(catalog)) {}

  std::string_view prefix() const override { return "/ui"; }

  bool MayBlock(std::string_view target) const override {
    // The experiment report reads the whole event log.
    return target.substr(0, target.find('?')) == "/ui/api/experiment";
  }

  HttpResponse Handle(const HttpRequest& request, const ExtensionContext& context) const override {
    const std::string_view target = request.target;
    const std::string_view path = target.substr(0, target.find('?'));
    const std::string_view query =
        target.find('?') == std::string_view::npos ? "" : target.substr(target.find('?') + 1);
    const bool get = request.method == "GET" || request.method == "HEAD";
    if (!get) {
      HttpResponse r = ErrorResponse(405, "the console answers GET and HEAD only", kRoute);
      r.allow = "GET, HEAD";
      return r;
    }
    if (path == "/ui" || path == "/ui/") return AssetResponse("index.html");
    if (path.rfind("/ui/api/", 0) != 0) {
      HttpResponse r = AssetResponse(path.substr(4));
      return r;
    }
    const std::string_view api = path.substr(8);
    if (api == "config") return Config(context);
    if (api == "users" || api.rfind("users/", 0) == 0) {
      if (HttpResponse denied; !Allowed(context, /*admin=*/true, &denied)) return denied;
      return User(api.size() > 6 ? api.substr(6) : "", context);
    }
    HttpResponse denied;
    if (api == "live") {
      if (!Allowed(context, false, &denied)) return denied;
      return Live(context);
    }
    if (api == "runs") {
      if (!Allowed(context, false, &denied)) return denied;
      return Runs();
    }
    if (api == "profile") {
      if (!Allowed(context, false, &denied)) return denied;
      return Profile(query);
    }
    if (api == "experiment") {
      if (!Allowed(context, false, &denied)) return denied;
      return ExperimentPage();
    }
    return ErrorResponse(404, "no such console endpoint; see docs/CONSOLE.md", kRoute);
  }

 private:
  // Whether the request may read this endpoint; else *denied says why.
  bool Allowed(const ExtensionContext& c, bool admin, HttpResponse* denied) const {
    if (c.authorized || (!admin && options_.public_read_only)) return true;
    if (!c.admin_enabled) {
      *denied = ErrorResponse(
          403,
          admin ? "the user explorer needs the admin key: start encore serve with --api-key-file"
                : "the console's data needs the admin key: start encore serve with "
                  "--api-key-file (or --console-public for the read-only pages)",
          kRoute);
      return false;
    }
    *denied = ErrorResponse(
        401, "this page needs the admin key: enter it in the console (Authorization: Bearer KEY)",
        kRoute);
    denied->www_authenticate = true;
    return false;
  }

  HttpResponse AssetResponse(std::string_view name) const {
    for (size_t i = 0; i < kAssetCount; ++i) {
      if (name == kAssets[i].path) {
        HttpResponse r;
        r.route = kRoute;
        r.content_type = kAssets[i].content_type;
        r.body.assign(reinterpret_cast<const char*>(kAssets[i].data), kAssets[i].size);
        return r;
      }
    }
    return ErrorResponse(404, "no such console file; the console starts at /ui/", kRoute);
  }

  HttpResponse Config(const ExtensionContext& c) const {
    JsonWriter w;
    w.BeginObject();
    w.Key("version");
    w.String(ENCORE_VERSION);
    w.Key("charts");
    w.Bool(kChartsEmbedded);
    w.Key("chart_version");
    w.String(kChartVersion);
    w.Key("public_read_only");
    w.Bool(options_.public_read_only);
    w.Key("admin_enabled");
    w.Bool(c.admin_enabled);
    w.Key("authorized");
    w.Bool(c.authorized);
    w.Key("workdir");
    w.String(options_.workdir);
    w.Key("experiment");
    if (options_.experiment != nullptr) {
      w.String(options_.experiment->name);
    } else {
      w.Null();
    }
    w.Key("catalog");
    w.Bool(catalog_.has_value());
    w.EndObject();
    return Json(w.str());
  }

  HttpResponse Live(const ExtensionContext& c) const {
    serve::Metrics::SnapshotState state;
    if (c.snapshot != nullptr) {
      state.loaded = true;
      state.version = c.snapshot->info.version;
      state.created_unix = c.snapshot->info.created_unix;
    }
    std::string body = "{\"metrics\":" + c.metrics->RenderJson(state);
    JsonWriter w;
    w.BeginObject();
    w.Key("snapshot");
    if (c.snapshot != nullptr) {
      w.BeginObject();
      w.Key("version");
      w.Uint(c.snapshot->info.version);
      w.Key("created");
      w.String(FormatUtcTime(c.snapshot->info.created_unix));
      w.Key("loaded");
      w.String(FormatUtcTime(c.snapshot->loaded_unix));
      w.Key("fold_in");
      w.Bool(c.snapshot->model != nullptr);
      w.Key("users");
      w.Uint(c.snapshot->model != nullptr ? c.snapshot->model->users.size() : 0);
      w.Key("items");
      w.Uint(c.snapshot->model != nullptr ? c.snapshot->model->items.size() : 0);
      w.EndObject();
    } else {
      w.Null();
    }
    // The stream consumer's state, when one runs over this store.
    w.Key("stream");
    std::string stream;
    if (c.live != nullptr && c.live->GetState("metrics", &stream).ok()) {
      w.BeginObject();
      for (const auto& [key, name] : {std::pair{"lag", "encore_stream_consumer_lag"},
                                      {"events_per_second", "encore_stream_events_per_second"},
                                      {"events_applied", "encore_stream_events_applied_total"},
                                      {"snapshot_version", "encore_stream_snapshot_version"}}) {
        w.Key(key);
        if (auto v = PromValue(stream, name)) {
          w.Double(*v);
        } else {
          w.Null();
        }
      }
      w.EndObject();
    } else {
      w.Null();
    }
    w.Key("experiment");
    if (options_.experiment != nullptr) {
      w.String(options_.experiment->name);
    } else {
      w.Null();
    }
    w.Key("now");
    w.Int(std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count());
    w.EndObject();
    // {"metrics":...,"snapshot":... : splice the writer's members in.
    body += "," + w.str().substr(1);
    return Json(std::move(body));
  }

  HttpResponse NoWorkdir(std::string_view what) const {
    return ErrorResponse(404,
                         std::string(what) +
                             ": no pipeline workdir; serve a store written by encore run (its "
                             "runs/ sit beside it) or pass --console-workdir DIR",
                         kRoute);
  }

  HttpResponse Runs() const {
    if (options_.workdir.empty()) return NoWorkdir("pipeline runs");
    std::vector<std::string> ids = pipeline::RunIds(options_.workdir);
    if (ids.size() > kMaxRuns) ids.erase(ids.begin(), ids.end() - kMaxRuns);
    std::string body = "{\"workdir\":" + JsonWriter::Quote(options_.workdir) + ",\"runs\":[";
    bool first = true;
    for (const std::string& id : ids) {
      auto text = store::ReadSmallFile(options_.workdir + "/runs/" + id + "/manifest.json");
      if (!text.ok()) continue;  // a run being created, or removed meanwhile
      if (!first) body += ',';
      first = false;
      body += "{\"id\":" + JsonWriter::Quote(id) + ",\"profile\":" +
              (fs::exists(options_.workdir + "/runs/" + id + "/profile.json") ? "true" : "false") +
              ",\"manifest\":" + *text + "}";
    }
    body += "]}";
    return Json(std::move(body));
  }

  HttpResponse Profile(std::string_view query) const {
    if (options_.workdir.empty()) return NoWorkdir("the data profile");
    std::string run;
    if (query.rfind("run=", 0) == 0) {
      run = std::string(query.substr(4, query.find('&') - 4));
      if (!pipeline::IsRunId(run)) {
        return ErrorResponse(400, "run must be a run id such as 20261124T081500Z", kRoute);
      }
    } else {
      // The newest run that profiled its data.
      std::vector<std::string> ids = pipeline::RunIds(options_.workdir);
      for (auto it = ids.rbegin(); it != ids.rend() && run.empty(); ++it) {
        if (fs::exists(options_.workdir + "/runs/" + *it + "/profile.json")) run = *it;
      }
      if (run.empty()) {
        return ErrorResponse(404,
                             "no run in " + options_.workdir +
                                 "/runs has a data profile yet; run the pipeline (encore run)",
                             kRoute);
      }
    }
    auto text = store::ReadSmallFile(options_.workdir + "/runs/" + run + "/profile.json");
    if (!text.ok()) {
      return ErrorResponse(404, "run " + run + " has no data profile: " + text.status().message(),
                           kRoute);
    }
    return Json("{\"run\":" + JsonWriter::Quote(run) + ",\"profile\":" + *text + "}");
  }

  HttpResponse ExperimentPage() const {
    if (options_.experiment == nullptr) {
      return ErrorResponse(404,
                           "no experiment runs: start encore serve with --experiment FILE "
                           "(docs/EXPERIMENTS.md)",
                           kRoute);
    }
    std::vector<Event> events;
    std::map<std::string, uint64_t> unreadable;
    uint64_t lines = 0;
    Status read;
    if (!options_.events_file.empty()) {
      read = stream::ReadEventsFile(options_.events_file, &events, &unreadable, &lines);
    } else if (!options_.events_redis.empty()) {
      read = stream::ReadRedisEvents(options_.events_redis, options_.events_stream, &events,
                                     &unreadable, &lines);
    } else {
      return ErrorResponse(404,
                           "experiment '" + options_.experiment->name +
                               "' runs, but no events are logged: pass --events-redis (the "
                               "stream POST /v1/events writes) or --console-events FILE",
                           kRoute);
    }
    if (!read.ok()) return ErrorResponse(503, "cannot read the events: " + read.message(), kRoute);
    auto report = AnalyzeExperiment(*options_.experiment, events, options_.report);
    if (!report.ok()) return ErrorResponse(500, report.status().message(), kRoute);
    report->events = lines;
    for (const auto& [reason, n] : unreadable) report->rejected[reason] += n;
    return Json("{\"report\":" + ExperimentReportJson(*report) + "}");
  }

  HttpResponse User(std::string_view raw, const ExtensionContext& c) const {
    std::string user;
    if (raw.empty()) return ErrorResponse(400, "name a user: /ui/api/users/ID", kRoute);
    if (Status s = serve::PercentDecode(raw, "user id", &user); !s.ok()) {
      return ErrorResponse(400, s.message(), kRoute);
    }
    if (c.snapshot == nullptr) {
      return ErrorResponse(503, "no snapshot loaded yet; publish one with encore publish", kRoute);
    }
    JsonWriter w;
    w.BeginObject();
    w.Key("user");
    w.String(user);
    w.Key("snapshot");
    w.Uint(c.snapshot->info.version);
    const TrainedModel* model = c.snapshot->model.get();
    w.Key("model");
    w.Bool(model != nullptr);
    std::optional<uint32_t> u;
    if (model != nullptr) u = model->users.Find(user);
    w.Key("known");
    w.Bool(u.has_value());
    w.Key("history");
    w.BeginArray();
    uint64_t total = 0;
    if (u && *u < model->model->seen().rows) {
      const CsrMatrix& seen = model->model->seen();
      std::vector<std::pair<float, uint32_t>> items;
      for (uint64_t k = seen.indptr[*u]; k < seen.indptr[*u + 1]; ++k) {
        items.emplace_back(seen.values[k], seen.indices[k]);
      }
      total = items.size();
      std::stable_sort(items.begin(), items.end(),
                       [](const auto& a, const auto& b) { return a.first > b.first; });
      if (items.size() > kMaxHistory) items.resize(kMaxHistory);
      for (const auto& [value, item] : items) {
        w.BeginObject();
        w.Key("item");
        const std::string_view id = model->items.Name(item);
        w.String(id);
        w.Key("value");
        w.Double(value);
        if (std::string name = ItemName(id); !name.empty()) {
          w.Key("name");
          w.String(name);
        }
        w.EndObject();
      }
    }
    w.EndArray();
    w.Key("history_total");
    w.Uint(total);
    w.EndObject();
    return Json(w.str());
  }

  // "division / department / ... / brand" of a catalog product, or "".
  std::string ItemName(std::string_view id) const {
    if (!catalog_) return "";
    const std::optional<uint32_t> p = catalog_->products().Find(id);
    if (!p) return "";
    std::string name;
    for (uint32_t l = 0; l < catalog_->level_names().size(); ++l) {
      if (l > 0) name += " / ";
      name += catalog_->node_name(*p, l);
    }
    return name;
  }

  const ConsoleOptions options_;
  const std::optional<Catalog> catalog_;
};

}  // namespace

Result<std::shared_ptr<const serve::Extension>> CreateConsole(const ConsoleOptions& options) {
  std::optional<Catalog> catalog;
  if (!options.catalog.empty()) {
    auto read = ReadCatalog(options.catalog, CatalogOptions());
    if (!read.ok()) {
      return Status::InvalidArgument("--console-catalog: " + read.status().message());
    }
    catalog = std::move(read).value();
  }
  return std::shared_ptr<const serve::Extension>(
      std::make_shared<Console>(options, std::move(catalog)));
}

std::string WorkdirOfStore(const std::string& store) {
  if (store.find("://") != std::string::npos || store.rfind("memory:", 0) == 0) return "";
  std::error_code ec;
  fs::path dir = fs::absolute(fs::path(store), ec);
  if (ec) return "";
  if (!dir.has_filename()) dir = dir.parent_path();  // a trailing slash
  const fs::path parent = dir.parent_path();
  if (fs::is_directory(parent / "runs", ec)) return parent.lexically_normal().string();
  return "";
}

}  // namespace encore::console
