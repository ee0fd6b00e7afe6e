// Reading a catalog (encore/catalog.h) from PostgreSQL, where analysts keep
// catalogs: a table, or the rows of a query, streamed with
// COPY ... TO STDOUT (FORMAT csv, HEADER) through the same row parser and
// checks as a CSV catalog file (ReadCatalog), so the same rows give the same
// catalog and the same bad rows the same reasons.
//
// Bad rows are reported as "SOURCE row N: reason", N counting the rows the
// server sent (1 = the first; a table has no order of its own, so give a
// query with ORDER BY when row numbers must be stable). SOURCE names the
// table ("postgres table 'public.catalog'") or the query (its first 60
// characters). The connection string is never shown in messages (its
// host, port, dbname and user are; a password never).
//
// The read runs in a READ ONLY transaction: a query cannot change the
// database. Time columns may be integers (unix seconds) or timestamps
// (timestamptz prints as "2026-06-01 00:00:00+00", which is read as
// ISO-8601).
//
// Part of the pipeline library (encore_pipeline, which links libpq); the
// pipeline's [retail.catalog] table / query keys call it.
//
// Thread-safety: a free function; each call opens its own connection.
#ifndef ENCORE_POSTGRES_CATALOG_H_
#define ENCORE_POSTGRES_CATALOG_H_

#include <string>

#include "encore/catalog.h"
#include "encore/status.h"

namespace encore {

struct PostgresCatalogSource {
  std::string conninfo;  // libpq connection string (key=value pairs or a URI)
  // Exactly one of:
  std::string table;  // [schema.]table: every row and column of it
  std::string query;  // a SELECT (or VALUES, TABLE ...); no trailing ';' needed
  // "postgres table 'x'" or "postgres query 'SELECT ...'" (first 60 chars).
  std::string Name() const;
};

// Reads the catalog. InvalidArgument for a source that names neither or
// both of table and query, a connection string libpq cannot parse, a
// missing column (naming it and the columns the table or query has) or too
// many bad rows (as ReadCatalog: at most ten listed, each "SOURCE row N:
// reason"); IOError when the server cannot be reached or refuses the query
// (its message, SQLSTATE and a hint). `report` may be null; report->file is
// Name() and report->numbered_by_row is true.
Result<Catalog> ReadPostgresCatalog(const PostgresCatalogSource& source,
                                    const CatalogOptions& options, CatalogReport* report = nullptr);

}  // namespace encore

#endif  // ENCORE_POSTGRES_CATALOG_H_
