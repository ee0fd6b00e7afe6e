// AnnIndex: HNSW graphs (hnswlib) over a model's item embeddings.
//
// hnswlib 0.6 keeps the query breadth (ef) in the index and reads and writes
// its files by path. So that one index serves queries with different ef
// concurrently, Search runs hnswlib's own search steps (greedy descent on
// the upper layers, then searchBaseLayerST with the query's ef) instead of
// searchKnn; and so that an index lives inside our own checksummed sidecar
// file, hnswlib's save and load go through an in-memory file (memfd).

#include "encore/ann.h"

#include <hnswlib/hnswlib.h>
#include <omp.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/threads.h"

namespace encore {

namespace {

constexpr char kMagic[8] = {'E', 'N', 'C', 'A', 'N', 'N', '0', '1'};
constexpr uint32_t kVersion = 1;

using Graph = hnswlib::HierarchicalNSW<float>;

// An in-memory file with a path hnswlib can open.
class MemFile {
 public:
  MemFile() : fd_(memfd_create("encore-ann", 0)) {}
  ~MemFile() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }
  bool Write(std::string_view data) {
    if (ftruncate(fd_, 0) != 0 || lseek(fd_, 0, SEEK_SET) != 0) return false;
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t w = write(fd_, data.data() + done, data.size() - done);
      if (w <= 0) return false;
      done += static_cast<size_t>(w);
    }
    return true;
  }
  bool Read(std::string* out) {
    const off_t size = lseek(fd_, 0, SEEK_END);
    if (size < 0 || lseek(fd_, 0, SEEK_SET) != 0) return false;
    out->resize(static_cast<size_t>(size));
    size_t done = 0;
    while (done < out->size()) {
      const ssize_t r = read(fd_, out->data() + done, out->size() - done);
      if (r <= 0) return false;
      done += static_cast<size_t>(r);
    }
    return true;
  }

 private:
  int fd_;
};

// The k best of a graph for `query` with breadth ef (hnswlib's searchKnn
// with the breadth as an argument). Distances are 1 - inner product.
std::vector<ScoredItem> SearchGraph(const Graph& g, const float* query, uint32_t k, size_t ef) {
  std::vector<ScoredItem> out;
  if (g.cur_element_count == 0 || k == 0) return out;
  hnswlib::tableint cur = g.enterpoint_node_;
  float cur_dist = g.fstdistfunc_(query, g.getDataByInternalId(cur), g.dist_func_param_);
  for (int level = g.maxlevel_; level > 0; --level) {
    bool changed = true;
    while (changed) {
      changed = false;
      unsigned int* data = reinterpret_cast<unsigned int*>(g.get_linklist(cur, level));
      const int size = g.getListCount(data);
      const hnswlib::tableint* links = reinterpret_cast<hnswlib::tableint*>(data + 1);
      for (int i = 0; i < size; ++i) {
        const hnswlib::tableint cand = links[i];
        if (cand >= g.cur_element_count) continue;
        const float d = g.fstdistfunc_(query, g.getDataByInternalId(cand), g.dist_func_param_);
        if (d < cur_dist) {
          cur_dist = d;
          cur = cand;
          changed = true;
        }
      }
    }
  }
  auto top = g.searchBaseLayerST<false, true>(cur, query, std::max<size_t>(ef, k));
  while (top.size() > k) top.pop();
  out.resize(top.size());
  for (size_t r = top.size(); r-- > 0;) {
    out[r] = {static_cast<uint32_t>(g.getExternalLabel(top.top().second)), 1.0f - top.top().first};
    top.pop();
  }
  return out;
}

uint32_t Crc(std::string_view data) {
  return static_cast<uint32_t>(
      crc32_z(0L, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename T>
bool Get(std::string_view* in, T* v) {
  if (in->size() < sizeof(T)) return false;
  std::memcpy(v, in->data(), sizeof(T));
  in->remove_prefix(sizeof(T));
  return true;
}

}  // namespace

struct AnnIndex::Graphs {
  std::unique_ptr<hnswlib::InnerProductSpace> ip_space, cos_space;
  std::unique_ptr<Graph> ip, cos;
  std::vector<float> cos_vectors;  // normalised item vectors (queries of SearchSimilar)
};

AnnIndex::AnnIndex() : graphs_(std::make_unique<Graphs>()) {}
AnnIndex::~AnnIndex() = default;

Result<std::unique_ptr<AnnIndex>> AnnIndex::Build(const Recommender& model,
                                                  const AnnOptions& options) {
  const uint32_t dim = model.embedding_dim();
  if (dim == 0) {
    return Status::FailedPrecondition(std::string("model '") + model.kind() +
                                      "' has no item embeddings, so no approximate index "
                                      "(indexes exist for als, ials, bpr and svdpp)");
  }
  std::vector<float> items(uint64_t{model.num_items()} * dim);
  for (uint32_t i = 0; i < model.num_items(); ++i)
    model.ItemEmbedding(i, items.data() + uint64_t{i} * dim);
  return BuildFromVectors(items, dim, model.similarity_dim(), options);
}

Result<std::unique_ptr<AnnIndex>> AnnIndex::BuildFromVectors(std::span<const float> items,
                                                             uint32_t dim, uint32_t similarity_dim,
                                                             const AnnOptions& options) {
  if (dim == 0 || items.size() % dim != 0 || similarity_dim > dim) {
    return Status::InvalidArgument("ann: item vectors do not have the stated dimension");
  }
  if (options.m < 2 || options.m > 256) return Status::InvalidArgument("ann: m must be in 2..256");
  if (options.ef_construction == 0)
    return Status::InvalidArgument("ann: ef_construction must be > 0");
  if (options.ef == 0) return Status::InvalidArgument("ann: ef must be > 0");
  const uint64_t n64 = items.size() / dim;
  if (n64 == 0) return Status::InvalidArgument("ann: no items to index");
  if (n64 > UINT32_MAX) return Status::InvalidArgument("ann: too many items");
  const uint32_t n = static_cast<uint32_t>(n64);
  std::unique_ptr<AnnIndex> index(new AnnIndex());
  index->num_items_ = n;
  index->dim_ = dim;
  index->similarity_dim_ = similarity_dim;
  index->options_ = options;
  Graphs& g = *index->graphs_;
  const int threads = ResolveThreads(options.threads);
  try {
    g.ip_space = std::make_unique<hnswlib::InnerProductSpace>(dim);
    g.ip = std::make_unique<Graph>(g.ip_space.get(), n, options.m, options.ef_construction,
                                   options.seed);
    // The first point alone (it becomes the entry), then the rest in parallel.
    g.ip->addPoint(items.data(), 0);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 256)
    for (int64_t i = 1; i < static_cast<int64_t>(n); ++i) {
      g.ip->addPoint(items.data() + static_cast<uint64_t>(i) * dim, static_cast<size_t>(i));
    }
    if (similarity_dim > 0) {
      g.cos_vectors.assign(uint64_t{n} * similarity_dim, 0.0f);
      for (uint32_t i = 0; i < n; ++i) {
        const float* v = items.data() + uint64_t{i} * dim;
        float* c = g.cos_vectors.data() + uint64_t{i} * similarity_dim;
        double norm = 0;
        for (uint32_t p = 0; p < similarity_dim; ++p) norm += double{v[p]} * v[p];
        norm = std::sqrt(norm);
        for (uint32_t p = 0; p < similarity_dim; ++p) {
          c[p] = norm > 0 ? static_cast<float>(v[p] / norm) : 0.0f;
        }
      }
      g.cos_space = std::make_unique<hnswlib::InnerProductSpace>(similarity_dim);
      g.cos = std::make_unique<Graph>(g.cos_space.get(), n, options.m, options.ef_construction,
                                      options.seed);
      g.cos->addPoint(g.cos_vectors.data(), 0);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 256)
      for (int64_t i = 1; i < static_cast<int64_t>(n); ++i) {
        g.cos->addPoint(g.cos_vectors.data() + static_cast<uint64_t>(i) * similarity_dim,
                        static_cast<size_t>(i));
      }
    }
  } catch (const std::exception& e) {
    return Status::Internal(std::string("ann: building the index failed: ") + e.what());
  }
  return index;
}

std::vector<ScoredItem> AnnIndex::SearchInnerProduct(const float* query, uint32_t n,
                                                     uint32_t ef) const {
  return SearchGraph(*graphs_->ip, query, std::min(n, num_items_), ef > 0 ? ef : options_.ef);
}

std::vector<ScoredItem> AnnIndex::SearchSimilar(uint32_t item, uint32_t n, uint32_t ef) const {
  const float* q = graphs_->cos_vectors.data() + uint64_t{item} * similarity_dim_;
  // One more than asked: the item itself is (almost always) among them.
  std::vector<ScoredItem> out =
      SearchGraph(*graphs_->cos, q, std::min(n + 1, num_items_), ef > 0 ? ef : options_.ef);
  out.erase(std::remove_if(out.begin(), out.end(),
                           [item](const ScoredItem& s) { return s.item == item; }),
            out.end());
  if (out.size() > n) out.resize(n);
  return out;
}

std::string AnnIndex::Serialize(uint32_t model_crc) const {
  std::string out(kMagic, sizeof kMagic);
  Put<uint32_t>(&out, kVersion);
  Put<uint32_t>(&out, model_crc);
  Put<uint32_t>(&out, num_items_);
  Put<uint32_t>(&out, dim_);
  Put<uint32_t>(&out, similarity_dim_);
  Put<uint32_t>(&out, options_.m);
  Put<uint32_t>(&out, options_.ef_construction);
  Put<uint32_t>(&out, options_.ef);
  Put<uint64_t>(&out, options_.seed);
  for (Graph* g : {graphs_->ip.get(), graphs_->cos.get()}) {
    std::string bytes;
    if (g != nullptr) {
      MemFile f;
      if (f.ok()) {
        g->saveIndex(f.path());
        f.Read(&bytes);
      }
    }
    Put<uint64_t>(&out, bytes.size());
    out.append(bytes);
  }
  Put<uint32_t>(&out, Crc(out));
  return out;
}

Result<std::unique_ptr<AnnIndex>> AnnIndex::Parse(std::string_view data, uint32_t model_crc,
                                                  const std::string& source) {
  auto corrupt = [&](const std::string& what) {
    return Status::Corruption("approximate index '" + source + "': " + what +
                              "; rebuild it with `encore index`");
  };
  if (data.size() < sizeof kMagic + 4 ||
      data.substr(0, sizeof kMagic) != std::string_view(kMagic, sizeof kMagic)) {
    return corrupt("not an encore index file (bad magic bytes)");
  }
  uint32_t stored_crc;
  std::memcpy(&stored_crc, data.data() + data.size() - 4, 4);
  if (Crc(data.substr(0, data.size() - 4)) != stored_crc) {
    return corrupt("corrupted or truncated (checksum mismatch)");
  }
  std::string_view in = data.substr(sizeof kMagic, data.size() - sizeof kMagic - 4);
  uint32_t version = 0, crc = 0;
  std::unique_ptr<AnnIndex> index(new AnnIndex());
  AnnOptions& o = index->options_;
  if (!Get(&in, &version) || version != kVersion) return corrupt("unknown format version");
  if (!Get(&in, &crc) || !Get(&in, &index->num_items_) || !Get(&in, &index->dim_) ||
      !Get(&in, &index->similarity_dim_) || !Get(&in, &o.m) || !Get(&in, &o.ef_construction) ||
      !Get(&in, &o.ef) || !Get(&in, &o.seed)) {
    return corrupt("truncated header");
  }
  if (crc != model_crc) {
    return corrupt("it was built for another model file (the model was retrained or replaced)");
  }
  if (index->dim_ == 0 || index->similarity_dim_ > index->dim_ || index->num_items_ == 0 ||
      o.ef == 0) {
    return corrupt("bad header values");
  }
  Graphs& g = *index->graphs_;
  try {
    for (int which = 0; which < 2; ++which) {
      uint64_t len = 0;
      if (!Get(&in, &len) || len > in.size()) return corrupt("truncated graph");
      const std::string_view bytes = in.substr(0, len);
      in.remove_prefix(len);
      if (len == 0) {
        if (which == 0 || index->similarity_dim_ > 0) return corrupt("a graph is missing");
        continue;
      }
      const uint32_t dim = which == 0 ? index->dim_ : index->similarity_dim_;
      auto space = std::make_unique<hnswlib::InnerProductSpace>(dim);
      MemFile f;
      if (!f.ok() || !f.Write(bytes))
        return Status::IOError("ann: cannot stage the index in memory");
      auto graph = std::make_unique<Graph>(space.get(), f.path(), false, 0);
      if (graph->cur_element_count != index->num_items_) return corrupt("item count mismatch");
      if (which == 0) {
        g.ip_space = std::move(space);
        g.ip = std::move(graph);
      } else {
        g.cos_space = std::move(space);
        g.cos = std::move(graph);
      }
    }
  } catch (const std::exception& e) {
    return corrupt(e.what());
  }
  if (index->similarity_dim_ > 0) {
    // The normalised vectors, read back from the graph's own copies.
    const uint32_t sd = index->similarity_dim_;
    g.cos_vectors.assign(uint64_t{index->num_items_} * sd, 0.0f);
    for (uint32_t internal = 0; internal < index->num_items_; ++internal) {
      const size_t label = g.cos->getExternalLabel(internal);
      if (label >= index->num_items_) return corrupt("bad item label");
      std::memcpy(g.cos_vectors.data() + uint64_t{label} * sd, g.cos->getDataByInternalId(internal),
                  sd * sizeof(float));
    }
  }
  return index;
}

std::string AnnSidecarPath(const std::string& model_path) { return model_path + ".ann"; }

Result<uint32_t> ModelFileChecksum(const std::string& model_path) {
  std::ifstream f(model_path, std::ios::binary | std::ios::ate);
  if (!f) return Status::NotFound("cannot open model file '" + model_path + "'");
  const std::streamoff size = f.tellg();
  if (size < 4) return Status::Corruption("'" + model_path + "' is too short for a model file");
  f.seekg(size - 4);
  uint32_t crc = 0;
  f.read(reinterpret_cast<char*>(&crc), 4);
  if (!f) return Status::IOError("cannot read model file '" + model_path + "'");
  return crc;
}

Status SaveAnnIndex(const AnnIndex& index, const std::string& model_path) {
  Result<uint32_t> crc = ModelFileChecksum(model_path);
  if (!crc.ok()) return crc.status();
  const std::string buf = index.Serialize(*crc);
  const std::string path = AnnSidecarPath(model_path), tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return Status::IOError("cannot create index file '" + tmp + "'");
  bool ok = std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
  ok = (std::fflush(f) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::IOError("cannot write index file '" + path + "'");
  }
  return Status::OK();
}

Result<std::unique_ptr<AnnIndex>> LoadAnnIndex(const std::string& model_path) {
  const std::string path = AnnSidecarPath(model_path);
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return Status::NotFound("no approximate index '" + path +
                            "'; build one with `encore index --model-file " + model_path + "`");
  }
  std::stringstream ss;
  ss << f.rdbuf();
  Result<uint32_t> crc = ModelFileChecksum(model_path);
  if (!crc.ok()) return crc.status();
  return AnnIndex::Parse(ss.str(), *crc, path);
}

}  // namespace encore
