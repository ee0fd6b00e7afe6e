// Run history for `encore runs`: listing run directories and reading their
// manifests back (simdjson).

#include <simdjson.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "encore/pipeline.h"
#include "pipeline/config.h"
#include "pipeline/manifest.h"

namespace encore {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

std::string Str(element e, const char* key) {
  std::string_view v;
  if (e[key].get(v) != simdjson::SUCCESS) return "";
  return std::string(v);
}

double Num(element e, const char* key) {
  double d = 0;
  if (e[key].get(d) == simdjson::SUCCESS) return d;
  uint64_t u = 0;
  if (e[key].get(u) == simdjson::SUCCESS) return static_cast<double>(u);
  int64_t i = 0;
  if (e[key].get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  return 0;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string Short(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace

Result<std::vector<RunRecord>> ListRuns(const std::string& workdir,
                                        const std::string& pipeline_name) {
  std::vector<RunRecord> runs;
  simdjson::dom::parser parser;
  for (const std::string& id : pipeline::RunIds(workdir)) {
    RunRecord r;
    r.id = id;
    r.status = "unknown";
    Result<std::string> text = ReadText(workdir + "/runs/" + id + "/manifest.json");
    element doc;
    if (text.ok() && parser.parse(*text).get(doc) == simdjson::SUCCESS) {
      element p;
      if (doc["pipeline"].get(p) == simdjson::SUCCESS) r.pipeline = Str(p, "name");
      if (!pipeline_name.empty() && r.pipeline != pipeline_name) continue;
      r.status = pipeline::RunStatusNow(Str(doc, "status"), static_cast<int64_t>(Num(doc, "pid")),
                              Str(doc, "host"));
      r.started = Str(doc, "started");
      r.seconds = Num(doc, "seconds");
      r.error = Str(doc, "error");
      array outputs;
      if (doc["outputs"].get(outputs) == simdjson::SUCCESS) {
        for (element o : outputs) r.outputs.push_back(Str(o, "name"));
      }
    }
    runs.push_back(std::move(r));
  }
  return runs;
}

std::string FormatRunList(const std::vector<RunRecord>& runs) {
  std::string out =
      Pad("RUN", 20) + Pad("STATUS", 13) + Pad("STARTED", 22) + Pad("SECONDS", 9) + "OUTPUTS\n";
  for (const RunRecord& r : runs) {
    std::string outputs;
    for (const auto& o : r.outputs) outputs += (outputs.empty() ? "" : ",") + o;
    out += Pad(r.id, 20) + Pad(r.status, 13) + Pad(r.started.empty() ? "-" : r.started, 22) +
           Pad(r.status == "running" || r.status == "interrupted" || r.status == "unknown" ? "-" : Fixed(r.seconds, 1), 9) +
           (outputs.empty() ? "-" : outputs) + "\n";
  }
  return out;
}

Result<std::string> ReadRunManifest(const std::string& workdir, const std::string& id,
                                    const std::string& pipeline_name) {
  std::vector<std::string> ids;
  if (pipeline_name.empty()) {
    ids = pipeline::RunIds(workdir);
  } else {
    ENCORE_ASSIGN_OR_RETURN(std::vector<RunRecord> runs, ListRuns(workdir, pipeline_name));
    for (const RunRecord& r : runs) {
      if (r.pipeline == pipeline_name) ids.push_back(r.id);
    }
  }
  if (ids.empty()) {
    return Status::NotFound("no runs " +
                            (pipeline_name.empty() ? "" : "of pipeline '" + pipeline_name + "' ") +
                            "under '" + workdir +
                            "/runs'; run the pipeline first "
                            "(encore run PIPELINE.toml) or pass --workdir / --pipeline");
  }
  std::string run = id.empty() ? ids.back() : id;
  if (std::find(ids.begin(), ids.end(), run) == ids.end()) {
    std::string known;
    for (size_t i = ids.size() > 10 ? ids.size() - 10 : 0; i < ids.size(); ++i) {
      known += (known.empty() ? "" : ", ") + ids[i];
    }
    return Status::NotFound("no run '" + run + "' under '" + workdir +
                            "/runs'; latest runs: " + known);
  }
  Result<std::string> text = ReadText(workdir + "/runs/" + run + "/manifest.json");
  if (!text.ok()) {
    return Status::NotFound("run '" + run +
                            "' has no manifest.json (it died before writing "
                            "one)");
  }
  return text;
}

Result<std::string> FormatRunManifest(const std::string& manifest_json) {
  simdjson::dom::parser parser;
  element doc;
  if (parser.parse(manifest_json).get(doc) != simdjson::SUCCESS) {
    return Status::Corruption("manifest is not valid JSON");
  }
  std::string out;
  out += "run " + Str(doc, "run_id") + ": " +
         pipeline::RunStatusNow(Str(doc, "status"), static_cast<int64_t>(Num(doc, "pid")), Str(doc, "host"));
  if (!Str(doc, "finished").empty()) out += " in " + Fixed(Num(doc, "seconds"), 2) + " s";
  out += " (started " + Str(doc, "started") + ")\n";
  element pipeline;
  if (doc["pipeline"].get(pipeline) == simdjson::SUCCESS) {
    out += "pipeline " + Str(pipeline, "name") + " (" + Str(pipeline, "path") + ")\n";
  }
  if (!Str(doc, "error").empty()) out += "error: " + Str(doc, "error") + "\n";
  array a;
  if (doc["inputs"].get(a) == simdjson::SUCCESS && a.size() > 0) {
    out += "inputs:\n";
    for (element in : a) {
      out += "  " + Str(in, "path") + "  " +
             std::to_string(static_cast<uint64_t>(Num(in, "bytes"))) + " bytes  sha256 " +
             Str(in, "sha256").substr(0, 16) + "...  mtime " + Str(in, "mtime") + "\n";
    }
  }
  if (doc["stages"].get(a) == simdjson::SUCCESS && a.size() > 0) {
    out += "stages:\n";
    for (element s : a) {
      out += "  " + Pad(Str(s, "stage"), 28) + Pad(Str(s, "status"), 11) +
             Fixed(Num(s, "seconds"), 2) + " s";
      if (!Str(s, "detail").empty()) out += "  " + Str(s, "detail");
      out += "\n";
    }
  }
  element counts;
  if (doc["counts"].get(counts) == simdjson::SUCCESS) {
    object sources;
    if (counts["sources"].get(sources) == simdjson::SUCCESS) {
      for (auto [name, c] : sources) {
        out += "source " + std::string(name) + ": " +
               std::to_string(static_cast<uint64_t>(Num(c, "rows_read"))) + " rows read, " +
               std::to_string(static_cast<uint64_t>(Num(c, "rows_accepted"))) + " accepted, " +
               std::to_string(static_cast<uint64_t>(Num(c, "rows_rejected"))) + " rejected\n";
      }
    }
    if (counts["prepare"].get(a) == simdjson::SUCCESS && a.size() > 0) {
      out += "prepare:";
      for (element s : a) {
        out += " " + Str(s, "step");
        std::string parts;
        for (const char* k : {"rows", "users", "items", "nnz"}) {
          uint64_t v = 0;
          if (s[k].get(v) == simdjson::SUCCESS) {
            parts += (parts.empty() ? "" : " ") + std::string(k) + "=" + std::to_string(v);
          }
        }
        out += " (" + parts + ");";
      }
      out += "\n";
    }
  }
  object metrics;
  if (doc["metrics"].get(metrics) == simdjson::SUCCESS) {
    for (auto [name, m] : metrics) {
      out += "metrics of model " + std::string(name) + " (" + Str(m, "protocol") + "):";
      object test;
      if (m["test"].get(test) == simdjson::SUCCESS) {
        for (auto [metric, v] : test) {
          double d = 0;
          out += " " + std::string(metric) + " " +
                 (v.get(d) == simdjson::SUCCESS ? Short(d) : std::string("n/a"));
        }
      }
      out += "\n";
      array grid;
      uint64_t best = 0;
      if (m["best"].get(best) != simdjson::SUCCESS) best = 0;
      if (m["grid"].get(grid) == simdjson::SUCCESS) {
        uint64_t i = 0;
        for (element row : grid) {
          std::string line = i == best ? "  * " : "    ";
          object params, mean;
          if (row["params"].get(params) == simdjson::SUCCESS) {
            for (auto [k, v] : params) {
              std::string_view sv;
              if (v.get(sv) != simdjson::SUCCESS) sv = "?";
              line += std::string(k) + "=" + std::string(sv) + " ";
            }
          }
          if (row["mean"].get(mean) == simdjson::SUCCESS) {
            for (auto [k, v] : mean) {
              double d = 0;
              line += " " + std::string(k) + " " +
                      (v.get(d) == simdjson::SUCCESS ? Short(d) : std::string("n/a"));
            }
          }
          out += line + "\n";
          ++i;
        }
      }
    }
  }
  if (doc["outputs"].get(a) == simdjson::SUCCESS && a.size() > 0) {
    out += "outputs:\n";
    for (element o : a) {
      array files;
      size_t n_files = 0;
      if (o["files"].get(files) == simdjson::SUCCESS) n_files = files.size();
      out += "  " + Str(o, "name") + " (" + Str(o, "kind") + "): " + Str(o, "location") + ", " +
             std::to_string(static_cast<uint64_t>(Num(o, "rows"))) + " rows, " +
             std::to_string(n_files) + " files, " +
             std::to_string(static_cast<uint64_t>(Num(o, "bytes"))) + " bytes\n";
      element lineage;
      array stages;
      if (o["lineage"].get(lineage) == simdjson::SUCCESS &&
          lineage["stages"].get(stages) == simdjson::SUCCESS) {
        std::string chain;
        for (element s : stages) {
          std::string_view sv;
          if (s.get(sv) != simdjson::SUCCESS) sv = "?";
          chain += (chain.empty() ? "" : " <- ") + std::string(sv);
        }
        out += "    lineage: " + chain + "\n";
      }
    }
  }
  return out;
}

Result<std::string> PipelineWorkdir(const std::string& pipeline_path) {
  return pipeline::LoadPipelineWorkdir(pipeline_path);
}

Result<std::string> PipelineName(const std::string& pipeline_path) {
  return pipeline::LoadPipelineName(pipeline_path);
}

}  // namespace encore
