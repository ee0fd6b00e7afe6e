// Generate: seeded, deterministic synthetic interaction data.
//
// Users and items belong to latent taste clusters; item popularity and user
// activity follow power laws; so models have real structure to learn. Output
// streams to disk in blocks generated in parallel, each block from its own
// seeded generator, so the bytes depend only on the options (never on the
// thread count) and 10^8 rows need no more memory than 10^4.
//
// Profiles and files (all CSV with a header):
//  ratings  ratings.csv  user,item,rating,timestamp     1-5 stars from planted factors + noise
//  plays    plays.csv    user,item,plays                implicit play counts
//  retail   events.csv   user,email,item,event,timestamp,price
//                        (view -> cart -> wishlist -> purchase funnel)
//           catalog.csv  item,division,department,class,subclass,brand,launch_date,inventory
//  baskets  baskets.csv  one basket per line, items comma-separated (no header)
//
// Thread-safety: reentrant.

#ifndef ENCORE_GENERATE_H_
#define ENCORE_GENERATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "encore/progress.h"
#include "encore/status.h"

namespace encore {

enum class GenerateProfile { kRatings, kPlays, kRetail, kBaskets };
Result<GenerateProfile> ParseGenerateProfile(const std::string& name);

struct GenerateOptions {
  GenerateProfile profile = GenerateProfile::kRatings;
  uint64_t users = 10000;
  uint64_t items = 2000;
  uint64_t rows = 200000;     // data rows (baskets: number of baskets)
  uint64_t seed = 42;
  uint32_t clusters = 20;     // latent taste clusters
  std::string out_dir = ".";
  int threads = 0;            // 0 = all cores; never changes the output
  // Validates ranges (users, items, rows > 0; clusters <= items ...).
  Status Validate() const;
};

struct GenerateReport {
  std::vector<std::string> files;  // paths written
  uint64_t rows = 0;               // data rows written over all files
  uint64_t bytes = 0;
};

Result<GenerateReport> Generate(const GenerateOptions& options, Progress* progress = nullptr);

}  // namespace encore

#endif  // ENCORE_GENERATE_H_
