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
//  fashion  catalog.csv, members.csv, events.csv: a flash-sale retailer with planted
//           structure (docs/PERSONALIZATION.md); --items products, --users members,
//           --rows events; --clusters is not used
//
// Ids are strings: "u" or "i" followed by the 1-based index zero-padded to
// the number of digits of --users / --items (u00001 .. u10000).
//
// The latent world (clusters, popularity, taste factors, catalog) depends on
// seed, users, items and clusters only (user activity also scales with rows),
// so profiles generated with the same values describe the same people and
// products; the catalog's department is the item's taste cluster.
// docs/GENERATE.md describes the model.
//
// Memory: proportional to users + items (tens of bytes each), never to rows.
// Files are written as <name>.tmp and renamed once complete.
//
// Thread-safety: reentrant; Generate uses options.threads threads internally
// and calls `progress` from the calling thread only.

#ifndef ENCORE_GENERATE_H_
#define ENCORE_GENERATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "encore/progress.h"
#include "encore/status.h"

namespace encore {

enum class GenerateProfile { kRatings, kPlays, kRetail, kBaskets, kFashion };
// "ratings", "plays", "retail", "baskets" or "fashion".
Result<GenerateProfile> ParseGenerateProfile(const std::string& name);
const char* GenerateProfileName(GenerateProfile profile);

struct GenerateOptions {
  GenerateProfile profile = GenerateProfile::kRatings;
  uint64_t users = 10000;
  uint64_t items = 2000;
  uint64_t rows = 200000;  // data rows (baskets: number of baskets)
  uint64_t seed = 42;
  uint32_t clusters = 20;     // latent taste clusters, 1..items
  std::string out_dir = ".";  // created if missing
  int threads = 0;            // 0 = all cores; never changes the output

  // Largest accepted --users / --items (ids are 32-bit internally).
  static constexpr uint64_t kMaxEntities = 1000000000;
  static constexpr int kMaxThreads = 256;

  // Checks users, items, rows > 0, users and items <= kMaxEntities,
  // 1 <= clusters <= items (not for fashion, which has no clusters), 0 <= threads <= kMaxThreads,
  // out_dir not empty.
  Status Validate() const;
};

struct GeneratedFile {
  std::string path;    // out_dir/name
  uint64_t rows = 0;   // data rows (header excluded)
  uint64_t bytes = 0;  // file size
};

struct GenerateReport {
  std::vector<GeneratedFile> files;  // in the order written
  uint64_t rows = 0;                 // data rows written over all files
  uint64_t bytes = 0;
};

// Validates `options`, creates options.out_dir if needed and writes the
// profile's files. Errors: InvalidArgument for bad options, IOError (naming
// the path) when a directory or file cannot be created or written; no partial
// file is left under its final name. `progress` may be null (silent).
Result<GenerateReport> Generate(const GenerateOptions& options, Progress* progress = nullptr);

}  // namespace encore

#endif  // ENCORE_GENERATE_H_
