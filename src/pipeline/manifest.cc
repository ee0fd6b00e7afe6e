#include "pipeline/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "util/json_writer.h"
#include "util/time_format.h"

namespace encore::pipeline {

namespace fs = std::filesystem;

namespace {

void WritePairs(const TextPairs& pairs, JsonWriter* w) {
  w->BeginObject();
  for (const auto& [k, v] : pairs) {
    w->Key(k);
    w->String(v);
  }
  w->EndObject();
}

void WriteMetrics(const MetricValues& values, JsonWriter* w) {
  w->BeginObject();
  for (const auto& [k, v] : values) {
    w->Key(k);
    w->Double(v);
  }
  w->EndObject();
}

void WriteStrings(const std::vector<std::string>& values, JsonWriter* w) {
  w->BeginArray();
  for (const auto& v : values) w->String(v);
  w->EndArray();
}

template <typename T>
void OptionalUint(const char* key, const std::optional<T>& v, JsonWriter* w) {
  if (!v) return;
  w->Key(key);
  w->Uint(*v);
}

Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError("cannot write '" + path + "': " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

// (timestamp part, suffix number) for ordering run ids.
std::pair<std::string, long> RunOrder(const std::string& id) {
  size_t dash = id.find('-');
  if (dash == std::string::npos) return {id, 1};
  return {id.substr(0, dash), std::strtol(id.c_str() + dash + 1, nullptr, 10)};
}

}  // namespace

namespace {

std::string ThisHost() {
  char name[256] = {0};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

}  // namespace

std::string RunStatusNow(const std::string& status, int64_t pid, const std::string& host) {
  if (status != "running" || pid <= 0 || host != ThisHost()) return status;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return "interrupted";
  return status;
}

std::string Manifest::ToJson() const {
  JsonWriter w(2);
  w.BeginObject();
  w.Key("manifest_version");
  w.Int(kManifestVersion);
  w.Key("encore_version");
  w.String(ENCORE_VERSION);
  w.Key("run_id");
  w.String(run_id);
  w.Key("status");
  w.String(status);
  w.Key("pid");
  w.Int(pid != 0 ? pid : static_cast<int64_t>(::getpid()));
  w.Key("host");
  w.String(host.empty() ? ThisHost() : host);
  if (!error.empty()) {
    w.Key("error");
    w.String(error);
  }
  w.Key("pipeline");
  w.BeginObject();
  w.Key("name");
  w.String(pipeline_name);
  w.Key("path");
  w.String(pipeline_path);
  w.EndObject();
  w.Key("started");
  w.String(FormatUtcTime(started));
  if (finished != 0) {
    w.Key("finished");
    w.String(FormatUtcTime(finished));
    w.Key("seconds");
    w.Double(seconds);
  }
  w.Key("config");
  if (config) {
    config(&w);
  } else {
    w.Null();
  }
  w.Key("resolved");
  w.BeginObject();
  w.Key("workdir");
  w.String(workdir);
  w.Key("run_dir");
  w.String(run_dir);
  w.Key("only");
  if (only.empty()) {
    w.Null();
  } else {
    w.String(only);
  }
  w.Key("keep");
  w.Uint(keep);
  w.Key("sources");
  w.BeginObject();
  for (const auto& [name, files] : source_files) {
    w.Key(name);
    WriteStrings(files, &w);
  }
  w.EndObject();
  w.Key("outputs");
  WritePairs(output_locations, &w);
  w.EndObject();

  w.Key("inputs");
  w.BeginArray();
  for (const ManifestInput& in : inputs) {
    w.BeginObject();
    w.Key("source");
    w.String(in.source);
    w.Key("path");
    w.String(in.path);
    w.Key("bytes");
    w.Uint(in.bytes);
    w.Key("sha256");
    w.String(in.sha256);
    w.Key("mtime");
    w.String(FormatUtcTime(in.mtime));
    w.Key("generated");
    w.Bool(in.generated);
    if (in.rows) {
      w.Key("rows");
      w.Uint(*in.rows);
    }
    w.EndObject();
  }
  w.EndArray();

  w.Key("stages");
  w.BeginArray();
  for (const ManifestStage& s : stages) {
    w.BeginObject();
    w.Key("stage");
    w.String(s.stage);
    w.Key("status");
    w.String(s.status);
    w.Key("seconds");
    w.Double(s.seconds);
    if (!s.detail.empty()) {
      w.Key("detail");
      w.String(s.detail);
    }
    w.EndObject();
  }
  w.EndArray();

  w.Key("counts");
  w.BeginObject();
  w.Key("sources");
  w.BeginObject();
  for (const ManifestSourceCounts& c : source_counts) {
    w.Key(c.name);
    w.BeginObject();
    w.Key("files");
    w.Uint(c.files);
    w.Key("bytes_read");
    w.Uint(c.bytes_read);
    w.Key("rows_read");
    w.Uint(c.rows_read);
    w.Key("rows_accepted");
    w.Uint(c.rows_accepted);
    w.Key("rows_rejected");
    w.Uint(c.rows_rejected);
    w.Key("rejected_by_kind");
    w.BeginObject();
    for (const auto& [kind, n] : c.rejected_by_kind) {
      w.Key(kind);
      w.Uint(n);
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndObject();
  w.Key("prepare");
  w.BeginArray();
  for (const ManifestStep& s : steps) {
    w.BeginObject();
    w.Key("step");
    w.String(s.step);
    OptionalUint("rows", s.rows, &w);
    OptionalUint("users", s.users, &w);
    OptionalUint("items", s.items, &w);
    OptionalUint("nnz", s.nnz, &w);
    if (s.since) {
      w.Key("since");
      w.String(FormatUtcTime(*s.since));
    }
    w.EndObject();
  }
  w.EndArray();
  OptionalUint("users", users, &w);
  OptionalUint("items", items, &w);
  OptionalUint("nnz", nnz, &w);
  w.EndObject();
  if (!high_water_mark.empty()) {
    w.Key("high_water_mark");
    w.String(high_water_mark);
  }
  if (!high_water_note.empty()) {
    w.Key("high_water_note");
    w.String(high_water_note);
  }

  w.Key("models");
  w.BeginObject();
  for (const ManifestModel& m : models) {
    w.Key(m.name);
    w.BeginObject();
    w.Key("kind");
    w.String(m.kind);
    w.Key("params");
    WritePairs(m.params, &w);
    w.Key("file");
    w.String(m.file);
    w.Key("bytes");
    w.Uint(m.bytes);
    w.Key("fit_seconds");
    w.Double(m.fit_seconds);
    w.Key("trained_on");
    w.String(m.trained_on);
    w.EndObject();
  }
  w.EndObject();

  w.Key("metrics");
  w.BeginObject();
  for (const ManifestModel& m : models) {
    if (!m.evaluated) continue;
    w.Key(m.name);
    w.BeginObject();
    w.Key("protocol");
    w.String(m.protocol);
    w.Key("test");
    WriteMetrics(m.test, &w);
    w.Key("test_pairs");
    w.Uint(m.test_pairs);
    if (!m.grid.empty()) {
      w.Key("grid");
      w.BeginArray();
      for (const ManifestGridRow& row : m.grid) {
        w.BeginObject();
        w.Key("params");
        WritePairs(row.setting, &w);
        w.Key("mean");
        WriteMetrics(row.mean, &w);
        w.EndObject();
      }
      w.EndArray();
      w.Key("best");
      w.Uint(m.best);
      w.Key("chosen");
      WritePairs(m.chosen, &w);
    }
    w.EndObject();
  }
  w.EndObject();

  if (segments) {
    w.Key("segments");
    w.BeginObject();
    w.Key("by");
    WriteStrings(segments->by, &w);
    if (!segments->protocol.empty()) {
      w.Key("protocol");
      w.String(segments->protocol);
      w.Key("users_evaluated");
      w.Uint(segments->users_evaluated);
      w.Key("segmented");
      WriteMetrics(segments->segmented, &w);
      w.Key("global");
      WriteMetrics(segments->global, &w);
    }
    w.Key("list");
    w.BeginArray();
    for (const ManifestSegment& g : segments->segments) {
      w.BeginObject();
      w.Key("name");
      w.String(g.name);
      w.Key("description");
      w.String(g.description);
      w.Key("members");
      w.Uint(g.members);
      w.Key("trained_members");
      w.Uint(g.trained_members);
      w.Key("scored_by");
      w.String(g.scored_by);
      if (!g.reason.empty()) {
        w.Key("reason");
        w.String(g.reason);
      }
      w.Key("model");
      w.String(g.model);
      if (!segments->protocol.empty()) {
        w.Key("users_evaluated");
        w.Uint(g.users_evaluated);
        w.Key("segment_model");
        WriteMetrics(g.segment_model, &w);
        w.Key("global_model");
        WriteMetrics(g.global_model, &w);
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }

  w.Key("outputs");
  w.BeginArray();
  for (const ManifestOutput& o : outputs) {
    w.BeginObject();
    w.Key("name");
    w.String(o.name);
    w.Key("kind");
    w.String(o.kind);
    w.Key("location");
    w.String(o.location);
    w.Key("files");
    WriteStrings(o.files, &w);
    w.Key("rows");
    w.Uint(o.rows);
    w.Key("bytes");
    w.Uint(o.bytes);
    w.Key("lineage");
    w.BeginObject();
    w.Key("stages");
    WriteStrings(o.lineage_stages, &w);
    w.Key("inputs");
    WriteStrings(o.lineage_inputs, &w);
    w.EndObject();
    if (o.kind == "publish") {
      w.Key("high_water_mark");
      if (o.high_water_mark.empty()) {
        w.Null();
      } else {
        w.String(o.high_water_mark);
      }
      if (!o.high_water_note.empty()) {
        w.Key("high_water_note");
        w.String(o.high_water_note);
      }
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.str() + "\n";
}

Status WriteManifest(const Manifest& manifest, const std::string& run_dir) {
  const std::string path = run_dir + "/manifest.json";
  const std::string tmp = path + ".tmp";
  const std::string text = manifest.ToJson();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot create '" + tmp + "': " + std::strerror(errno));
  Status s = WriteAll(fd, text, tmp);
  if (s.ok() && ::fsync(fd) != 0) {
    s = Status::IOError("cannot sync '" + tmp + "': " + std::strerror(errno));
  }
  ::close(fd);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    s = Status::IOError("cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno));
  }
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

std::string RunIdBase(int64_t unix_seconds) {
  std::string iso = FormatUtcTime(unix_seconds);  // 2026-11-24T08:15:00Z
  std::string id;
  for (char c : iso) {
    if (c != '-' && c != ':') id += c;
  }
  return id;
}

bool IsRunId(const std::string& name) {
  // YYYYMMDDTHHMMSSZ, optionally -N.
  if (name.size() < 16) return false;
  for (size_t i = 0; i < 16; ++i) {
    const char c = name[i];
    if (i == 8 ? c != 'T' : i == 15 ? c != 'Z' : !(c >= '0' && c <= '9')) return false;
  }
  if (name.size() == 16) return true;
  if (name[16] != '-' || name.size() == 17) return false;
  return std::all_of(name.begin() + 17, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<std::string> CreateRunDir(const std::string& workdir, int64_t unix_seconds) {
  const std::string runs = workdir + "/runs";
  std::error_code ec;
  fs::create_directories(runs, ec);
  if (ec) return Status::IOError("cannot create '" + runs + "': " + ec.message());
  const std::string base = RunIdBase(unix_seconds);
  for (int n = 1; n < 10000; ++n) {
    std::string id = n == 1 ? base : base + "-" + std::to_string(n);
    if (::mkdir((runs + "/" + id).c_str(), 0755) == 0) return id;
    if (errno != EEXIST) {
      return Status::IOError("cannot create '" + runs + "/" + id + "': " + std::strerror(errno));
    }
  }
  return Status::IOError("too many runs in the same second under '" + runs + "'");
}

std::vector<std::string> RunIds(const std::string& workdir) {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(workdir + "/runs", ec)) {
    std::string name = e.path().filename().string();
    if (e.is_directory(ec) && IsRunId(name)) ids.push_back(name);
  }
  std::sort(ids.begin(), ids.end(),
            [](const std::string& a, const std::string& b) { return RunOrder(a) < RunOrder(b); });
  return ids;
}

Status PurgeRuns(const std::string& workdir, const std::string& pipeline_name, uint32_t keep,
                 const std::string& current, std::vector<std::string>* removed) {
  if (keep == 0) return Status::OK();
  // Only this pipeline's runs: other pipelines may share the workdir (the
  // default is the file's directory), and a run whose manifest cannot be
  // read may be one that is starting right now.
  std::vector<std::string> ids;
  simdjson::dom::parser parser;
  for (std::string& id : RunIds(workdir)) {
    simdjson::padded_string text;
    simdjson::dom::element doc;
    std::string_view name;
    if (id == current ||
        (simdjson::padded_string::load(workdir + "/runs/" + id + "/manifest.json").get(text) ==
             simdjson::SUCCESS &&
         parser.parse(text).get(doc) == simdjson::SUCCESS &&
         doc["pipeline"]["name"].get(name) == simdjson::SUCCESS && name == pipeline_name)) {
      ids.push_back(std::move(id));
    }
  }
  size_t excess = ids.size() > keep ? ids.size() - keep : 0;
  for (size_t i = 0; i < ids.size() && excess > 0; ++i) {
    if (ids[i] == current) continue;
    std::error_code ec;
    fs::remove_all(workdir + "/runs/" + ids[i], ec);
    if (ec) {
      return Status::IOError("cannot remove old run '" + workdir + "/runs/" + ids[i] +
                             "': " + ec.message());
    }
    removed->push_back(ids[i]);
    --excess;
  }
  return Status::OK();
}

Result<std::string> Sha256File(const std::string& path, uint64_t* bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound("cannot open '" + path + "': " + std::strerror(errno));
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ENCORE_CHECK(md != nullptr && EVP_DigestInit_ex(md, EVP_sha256(), nullptr) == 1);
  std::vector<unsigned char> buf(1 << 20);
  *bytes = 0;
  Status status;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = Status::IOError("cannot read '" + path + "': " + std::strerror(errno));
      break;
    }
    if (n == 0) break;
    ENCORE_CHECK(EVP_DigestUpdate(md, buf.data(), static_cast<size_t>(n)) == 1);
    *bytes += static_cast<uint64_t>(n);
  }
  ::close(fd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ENCORE_CHECK(EVP_DigestFinal_ex(md, digest, &len) == 1);
  EVP_MD_CTX_free(md);
  if (!status.ok()) return status;
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

Result<std::string> HighWaterMarkFromManifest(const std::string& manifest_path,
                                              const std::string& model_file) {
  simdjson::padded_string text;
  if (simdjson::padded_string::load(manifest_path).get(text) != simdjson::SUCCESS) {
    return Status::IOError("cannot read the manifest '" + manifest_path +
                           "'; give a run's WORKDIR/runs/RUNID/manifest.json");
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  uint64_t version = 0;
  if (parser.parse(text).get(doc) != simdjson::SUCCESS ||
      doc["manifest_version"].get(version) != simdjson::SUCCESS) {
    return Status::InvalidArgument("'" + manifest_path +
                                   "' is not a pipeline run manifest (no manifest_version)");
  }
  // A model of this run fitted on a training part: the mark of the whole
  // data does not hold for it (the held-out events are not in it).
  simdjson::dom::object models;
  if (!model_file.empty() && doc["models"].get(models) == simdjson::SUCCESS) {
    std::error_code ec;
    const auto wanted = std::filesystem::weakly_canonical(model_file, ec);
    for (auto [name, m] : models) {
      std::string_view file, trained_on;
      if (m["file"].get(file) != simdjson::SUCCESS) continue;
      std::error_code ec2;
      if (ec || std::filesystem::weakly_canonical(std::string(file), ec2) != wanted || ec2) {
        continue;
      }
      if (m["trained_on"].get(trained_on) == simdjson::SUCCESS && trained_on != "all data") {
        return Status::FailedPrecondition(
            "model '" + std::string(name) + "' of " + manifest_path + " was trained on " +
            std::string(trained_on) +
            ", so the run's high-water mark does not hold for it (held-out events are not in "
            "it); refit on all data (evaluate refit = true) or publish without a mark");
      }
    }
  }
  std::string_view mark;
  if (doc["high_water_mark"].get(mark) != simdjson::SUCCESS || mark.empty()) {
    std::string_view note;
    std::string why = doc["high_water_note"].get(note) == simdjson::SUCCESS
                          ? std::string(note)
                          : "the run did not reach its prepare stage, or predates marks";
    return Status::FailedPrecondition("the manifest '" + manifest_path +
                                      "' records no high-water mark: " + why);
  }
  return std::string(mark);
}

}  // namespace encore::pipeline
