// Model files (docs/MODEL_FORMAT.md): magic, version, kind, parameters, id
// dictionaries, training pattern, model state, CRC-32 of everything before it.

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "encore/model_io.h"
#include "encore/recommender.h"
#include "io/output_file.h"

namespace encore {

namespace {

constexpr char kMagic[8] = {'E', 'N', 'C', 'O', 'R', 'E', 'M', 'D'};
constexpr uint32_t kVersion = 1;

void PutDictionary(const IdDictionary& d, ModelWriter* w) {
  w->Put<uint32_t>(d.size());
  for (uint32_t i = 0; i < d.size(); ++i) w->PutString(d.Name(i));
}

Status GetDictionary(ModelReader* r, const char* what, IdDictionary* d) {
  uint32_t n = 0;
  ENCORE_RETURN_IF_ERROR(r->Get(&n, what));
  std::string id;
  for (uint32_t i = 0; i < n; ++i) {
    ENCORE_RETURN_IF_ERROR(r->GetString(&id, what));
    if (d->Intern(id) != i) return r->Invalid(std::string(what) + " (duplicate id)");
  }
  return Status::OK();
}

void PutCsr(const CsrMatrix& m, ModelWriter* w) {
  w->Put<uint32_t>(m.rows);
  w->Put<uint32_t>(m.cols);
  w->PutArray(m.indptr);
  w->PutArray(m.indices);
  w->PutArray(m.values);
}

Status GetCsr(ModelReader* r, CsrMatrix* m) {
  ENCORE_RETURN_IF_ERROR(r->Get(&m->rows, "matrix rows"));
  ENCORE_RETURN_IF_ERROR(r->Get(&m->cols, "matrix columns"));
  ENCORE_RETURN_IF_ERROR(r->GetArray(&m->indptr, "matrix row pointers", uint64_t{m->rows} + 1));
  ENCORE_RETURN_IF_ERROR(r->GetArray(&m->indices, "matrix indices"));
  ENCORE_RETURN_IF_ERROR(r->GetArray(&m->values, "matrix values", m->indices.size()));
  if (m->indptr[0] != 0 || m->indptr[m->rows] != m->indices.size()) {
    return r->Invalid("matrix row pointers");
  }
  for (uint32_t i = 0; i < m->rows; ++i) {
    if (m->indptr[i] > m->indptr[i + 1]) return r->Invalid("matrix row pointers");
  }
  for (uint32_t c : m->indices) {
    if (c >= m->cols) return r->Invalid("matrix column index");
  }
  return Status::OK();
}

uint32_t Crc(std::string_view data, size_t len) {
  return static_cast<uint32_t>(crc32_z(0L, reinterpret_cast<const Bytef*>(data.data()), len));
}

}  // namespace

namespace {

// Everything of the file but the trailing CRC.
void WriteModel(const TrainedModel& trained, ModelWriter* w) {
  const Recommender& m = *trained.model;
  uint64_t magic;
  std::memcpy(&magic, kMagic, sizeof magic);
  w->Put(magic);
  w->Put<uint32_t>(kVersion);
  w->PutString(m.kind());
  auto params = ModelParamsToList(m.params());
  w->Put<uint32_t>(static_cast<uint32_t>(params.size()));
  for (const auto& [name, value] : params) {
    w->PutString(name);
    w->PutString(value);
  }
  PutDictionary(trained.users, w);
  PutDictionary(trained.items, w);
  PutCsr(m.seen(), w);
  // The state is a string (its length first): counted in a first pass, so
  // it is written in place rather than built in a second buffer.
  ModelWriter counter = ModelWriter::Counter();
  m.SaveState(&counter);
  w->Put<uint64_t>(counter.size());
  const uint64_t before = w->size();
  m.SaveState(w);
  // A broken invariant of the model's code, never of user input.
  ENCORE_CHECK(w->size() - before == counter.size());
}

}  // namespace

std::string SerializeModel(const TrainedModel& trained) {
  // Counted first, so the buffer is allocated once at its final size (no
  // doubling copies: the peak is the file's size).
  ModelWriter counter = ModelWriter::Counter();
  WriteModel(trained, &counter);
  ModelWriter w;
  w.buffer().reserve(counter.size() + 4);
  WriteModel(trained, &w);
  w.Put<uint32_t>(Crc(w.buffer(), w.buffer().size()));
  return std::move(w.buffer());
}

Status SaveModel(const TrainedModel& trained, const std::string& path, uint64_t* file_bytes) {
  io::OutputFileOptions options;
  options.what = "model file";
  options.gzip_by_extension = false;
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<io::OutputFile> file, io::OutputFile::Open(path, options));
  // Streamed: the file is never whole in memory. The CRC runs over the
  // pieces as they go; the first write error stops the writing.
  uLong crc = crc32_z(0L, Z_NULL, 0);
  Status st;
  ModelWriter w([&](std::string_view piece) {
    if (!st.ok()) return;
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(piece.data()), piece.size());
    st = file->Write(piece);
  });
  WriteModel(trained, &w);
  w.Flush();
  ENCORE_RETURN_IF_ERROR(st);
  const uint32_t stored = static_cast<uint32_t>(crc);
  ENCORE_RETURN_IF_ERROR(
      file->Write(std::string_view(reinterpret_cast<const char*>(&stored), sizeof stored)));
  ENCORE_RETURN_IF_ERROR(file->Commit());
  if (file_bytes != nullptr) *file_bytes = w.size() + sizeof stored;
  return Status::OK();
}

Result<TrainedModel> LoadModel(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot open model file '" + path + "'; check --model-file");
  // A regular file is read into a buffer of its size, taken from the open
  // stream (no growth copies: the peak is the file plus the model); a pipe
  // through a stream.
  std::string data;
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec) && f.seekg(0, std::ios::end)) {
    const std::streamoff size = f.tellg();
    f.seekg(0, std::ios::beg);
    if (size > 0) {
      data.resize(static_cast<size_t>(size));
      f.read(data.data(), size);
      data.resize(static_cast<size_t>(f.gcount()));
    }
  } else {
    f.clear();
    std::ostringstream ss;
    ss << f.rdbuf();
    data = std::move(ss).str();
  }
  return ParseModel(data, path);
}

Result<TrainedModel> ParseModel(std::string_view data, const std::string& path) {
  const size_t min_size = sizeof kMagic + 4 + 4;
  if (data.size() < min_size ||
      data.substr(0, sizeof kMagic) != std::string_view(kMagic, sizeof kMagic)) {
    return Status::Corruption("'" + path + "' is not an encore model file (bad magic bytes)");
  }
  uint32_t stored_crc;
  std::memcpy(&stored_crc, data.data() + data.size() - 4, 4);
  if (Crc(data, data.size() - 4) != stored_crc) {
    return Status::Corruption("'" + path +
                              "' is corrupted or truncated (checksum mismatch); retrain or "
                              "copy it again");
  }
  ModelReader r(data.substr(sizeof kMagic, data.size() - sizeof kMagic - 4), path);
  uint32_t version = 0;
  ENCORE_RETURN_IF_ERROR(r.Get(&version, "version"));
  if (version != kVersion) {
    return Status::Corruption("'" + path + "' has model format version " + std::to_string(version) +
                              "; this encore reads version " + std::to_string(kVersion) +
                              " (retrain the model)");
  }
  std::string kind;
  ENCORE_RETURN_IF_ERROR(r.GetString(&kind, "model kind"));
  uint32_t num_params = 0;
  ENCORE_RETURN_IF_ERROR(r.Get(&num_params, "parameter count"));
  ModelParams params;
  for (uint32_t i = 0; i < num_params; ++i) {
    std::string name, value;
    ENCORE_RETURN_IF_ERROR(r.GetString(&name, "parameter name"));
    ENCORE_RETURN_IF_ERROR(r.GetString(&value, "parameter value"));
    Status s = SetModelParam(&params, name, value);
    if (!s.ok()) return Status::Corruption("'" + path + "': " + s.message());
  }
  auto created = CreateRecommender(kind, params);
  if (!created.ok()) return Status::Corruption("'" + path + "': " + created.status().message());
  TrainedModel out;
  out.model = std::move(created).value();
  ENCORE_RETURN_IF_ERROR(GetDictionary(&r, "user ids", &out.users));
  ENCORE_RETURN_IF_ERROR(GetDictionary(&r, "item ids", &out.items));
  CsrMatrix seen;
  ENCORE_RETURN_IF_ERROR(GetCsr(&r, &seen));
  if (seen.rows != out.users.size() || seen.cols != out.items.size()) {
    return r.Invalid("matrix shape (does not match the id dictionaries)");
  }
  out.model->RestoreBase(params, std::move(seen));
  std::string state;
  ENCORE_RETURN_IF_ERROR(r.GetString(&state, "model state"));
  if (!r.at_end()) return r.Invalid("trailing bytes");
  ModelReader sr(state, path);
  ENCORE_RETURN_IF_ERROR(out.model->LoadState(&sr));
  if (!sr.at_end()) return sr.Invalid("model state (trailing bytes)");
  return out;
}

}  // namespace encore
