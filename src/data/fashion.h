// The fashion profile of the generator (src/data/fashion.cc; what it plants
// is described in docs/PERSONALIZATION.md).

#ifndef ENCORE_DATA_FASHION_H_
#define ENCORE_DATA_FASHION_H_

#include <cstdint>

#include "encore/generate.h"

namespace encore {

// The "as of" time the fashion data is generated around: 2026-06-01T00:00Z.
// Events are before it; sale windows straddle it.
int64_t FashionAsOf();

// Writes catalog.csv, members.csv and events.csv into options.out_dir (which
// exists). REQUIRES: options validated; progress not null.
Result<GenerateReport> GenerateFashion(const GenerateOptions& options, Progress* progress);

}  // namespace encore

#endif  // ENCORE_DATA_FASHION_H_
