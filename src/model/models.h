// Factories of the built-in models, one per model file; the registry
// (registry.cc) maps names to them. Adding a model: implement Recommender in
// src/model/<name>.cc, declare its factory here, add it to the registry, and
// the shared contract test covers it automatically.

#ifndef ENCORE_MODEL_MODELS_H_
#define ENCORE_MODEL_MODELS_H_

#include <cstdint>
#include <memory>
#include <utility>

#include "encore/dataset.h"
#include "encore/recommender.h"

namespace encore::model {

std::unique_ptr<Recommender> NewPopularity(const ModelParams& params);
std::unique_ptr<Recommender> NewCooccurrence(const ModelParams& params);
std::unique_ptr<Recommender> NewAls(const ModelParams& params);
std::unique_ptr<Recommender> NewIals(const ModelParams& params);
std::unique_ptr<Recommender> NewEase(const ModelParams& params);
std::unique_ptr<Recommender> NewBpr(const ModelParams& params);
std::unique_ptr<Recommender> NewSvdPlusPlus(const ModelParams& params);

// A distributed fit of cooccurrence (src/distributed): each process holds the
// whole dataset but computes only the similarity rows of its block of source
// items; GatherRows then brings the rows to process 0 (the one that writes
// the model file). Rows are computed exactly as on one process, so the
// gathered model is the single-process model bit for bit.
// Implementations abort the job on a communication failure (MPI's default).
class RowExchange {
 public:
  virtual ~RowExchange() = default;
  // The source items whose rows this process computes: [first, second).
  virtual std::pair<uint32_t, uint32_t> items() const = 0;
  // `local` is this process's outcome of computing its rows; when OK, `sim`
  // holds them (every other row empty). First agrees on the outcome (the
  // first failing process's error is returned on every process, so no
  // process waits for one that gave up); then process 0 receives every row,
  // other processes' `sim` is unspecified.
  virtual Status GatherRows(const Status& local, CsrMatrix* sim) = 0;
};

// Sets the row exchange of a cooccurrence model (nullptr: one process);
// false when `model` is not cooccurrence. The exchange must outlive Fit.
bool SetCooccurrenceRowExchange(Recommender* model, RowExchange* exchange);

}  // namespace encore::model

#endif  // ENCORE_MODEL_MODELS_H_
