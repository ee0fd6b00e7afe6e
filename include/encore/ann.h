// AnnIndex: approximate nearest-neighbour search over a model's item
// embeddings (HNSW, Malkov & Yashunin 2018, through hnswlib).
//
// Built from any model with embeddings (Recommender::embedding_dim() > 0:
// als, ials, bpr), it holds two graphs:
//  - by inner product of the item embeddings v_i, for recommendations (the
//    items with the largest q_u . v_i, q_u the user's or a visitor's
//    embedding);
//  - by cosine of the first similarity_dim() entries, for similar items
//    (the model's own SimilarItems measure).
// The ranker uses it as a candidate source (encore/rank.h, Ranker::UseIndex
// and QueryOptions::approximate): the index proposes candidates, the model
// re-scores them exactly, and exclusions and rules apply as always, so an
// approximate list differs from the exact one only by items the index
// missed. docs/BENCHMARKS.md has recall against exact search and the
// speed-up; docs/ARCHITECTURE.md how it fits.
//
// Files: an index is saved beside its model file as "<model>.ann" (see
// AnnSidecarPath), written to a temporary name and renamed, and it records
// the model file's checksum, so an index of another (or a retrained) model
// is refused rather than silently used.
//
// Thread-safety: Build and Load are not thread-safe; after them, all const
// methods may be called concurrently (hnswlib searches are thread-safe).

#ifndef ENCORE_ANN_H_
#define ENCORE_ANN_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "encore/recommender.h"
#include "encore/status.h"

namespace encore {

struct AnnOptions {
  // Graph degree (hnswlib M): links per node. More = better recall, more
  // memory and build time.
  uint32_t m = 16;
  // Search breadth while building (hnswlib ef_construction).
  uint32_t ef_construction = 100;
  // Default search breadth of queries (hnswlib ef); a query may ask for
  // another (QueryOptions::ef). Chosen from docs/BENCHMARKS.md.
  uint32_t ef = 64;
  uint64_t seed = 42;
  int threads = 0;  // build threads (0 = all cores)
};

class AnnIndex {
 public:
  ~AnnIndex();
  AnnIndex(const AnnIndex&) = delete;
  AnnIndex& operator=(const AnnIndex&) = delete;

  // Builds both graphs from `model`'s item embeddings. FailedPrecondition
  // when the model has none (cooccurrence, popularity, ease).
  static Result<std::unique_ptr<AnnIndex>> Build(const Recommender& model,
                                                 const AnnOptions& options);
  // The same from raw vectors (rows of `items`, `dim` floats each; the
  // similarity graph over the first `similarity_dim` of them, 0 = none).
  // Used by the benchmark.
  static Result<std::unique_ptr<AnnIndex>> BuildFromVectors(std::span<const float> items,
                                                            uint32_t dim, uint32_t similarity_dim,
                                                            const AnnOptions& options);

  uint32_t num_items() const { return num_items_; }
  uint32_t dim() const { return dim_; }
  const AnnOptions& options() const { return options_; }
  bool has_similarity() const { return similarity_dim_ > 0; }

  // Up to n items with the largest query . v_i, best first (approximately;
  // `ef` = 0 uses options().ef; the breadth used is max(ef, n)). `query` has
  // dim() floats. The scores are the index's inner products, not the
  // model's: the ranker re-scores.
  std::vector<ScoredItem> SearchInnerProduct(const float* query, uint32_t n, uint32_t ef) const;
  // Up to n items most similar to `item` by cosine, never the item itself.
  // REQUIRES: has_similarity(), item < num_items().
  std::vector<ScoredItem> SearchSimilar(uint32_t item, uint32_t n, uint32_t ef) const;

  // The bytes of a sidecar file; `model_crc` ties it to one model file.
  std::string Serialize(uint32_t model_crc) const;
  static Result<std::unique_ptr<AnnIndex>> Parse(std::string_view data, uint32_t model_crc,
                                                 const std::string& source);

 private:
  struct Graphs;
  AnnIndex();

  uint32_t num_items_ = 0, dim_ = 0, similarity_dim_ = 0;
  AnnOptions options_;
  std::unique_ptr<Graphs> graphs_;
};

// "<model_path>.ann".
std::string AnnSidecarPath(const std::string& model_path);
// The checksum a model file ends with (its identity for sidecars).
Result<uint32_t> ModelFileChecksum(const std::string& model_path);
// Writes the sidecar of `model_path` atomically (temporary name, rename).
Status SaveAnnIndex(const AnnIndex& index, const std::string& model_path);
// Loads the sidecar of `model_path`: NotFound when there is none;
// Corruption when it is damaged or belongs to another model file.
Result<std::unique_ptr<AnnIndex>> LoadAnnIndex(const std::string& model_path);

}  // namespace encore

#endif  // ENCORE_ANN_H_
