// Reading a catalog from any byte stream (internal to encore).
//
// ReadCatalog (encore/catalog.h) opens a file and calls ReadCatalogStream;
// other sources - the PostgreSQL catalog reader's COPY ... TO STDOUT stream
// (src/pipeline/postgres_catalog.cc) - hand it their own io::ByteSource, so
// every catalog source is parsed and checked by the same code.
//
// Thread-safety: a free function; `source` is used by one thread.
#ifndef ENCORE_CATALOG_CATALOG_STREAM_H_
#define ENCORE_CATALOG_CATALOG_STREAM_H_

#include <memory>
#include <string>

#include "encore/catalog.h"
#include "io/byte_source.h"

namespace encore {

struct CatalogStream {
  std::string name;    // in every message: a path, or e.g. "postgres table 'catalog'"
  std::string format;  // "csv", "tsv" or "jsonl" (never empty here)
  // false: rows are named "NAME:LINE" by physical line (files). true: by data
  // row, "NAME row N", the first row after the header being row 1 (sources
  // such as a database table, whose rows have no lines).
  bool rows = false;
};

// Reads the catalog that `source` holds. REQUIRES: source != nullptr.
// Errors as ReadCatalog's, naming `stream.name`; I/O errors of `source`
// are returned as they are.
Result<Catalog> ReadCatalogStream(std::unique_ptr<io::ByteSource> source,
                                  const CatalogStream& stream, const CatalogOptions& options,
                                  CatalogReport* report);

}  // namespace encore

#endif  // ENCORE_CATALOG_CATALOG_STREAM_H_
