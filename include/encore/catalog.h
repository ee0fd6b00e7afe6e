// Catalog: the products a retailer sells, with a hierarchy of named levels,
// prices, launch times, sale windows, stock and optional counters.
//
// A catalog is read from a CSV/TSV file with a header or from JSON Lines
// (one object per product) by ReadCatalog, or built row by row with
// CatalogBuilder (tests, generators, other sources). Columns are found by
// name (CatalogOptions); a missing required column, or a hierarchy level
// naming a column the file does not have, fails the read before any row.
//
// Bad rows - a duplicate product id, an empty id or level value, a price or
// quantity that is not a number, a time that does not parse, a sale window
// that ends before it starts - are reported as "FILE:LINE: reason" and the
// read fails when there are more than `max_bad_rows` of them (default 0:
// any bad row fails the read, listing the first ten). Nothing is dropped
// silently: the report counts every skipped row.
//
// Hierarchy. Each product has one value per level (division, department,
// class, subclass, brand by default; any columns by name). A KeyIndex groups
// products by a *key of levels* such as subclass+brand ("subclass_brand"):
// every product of one subclass and one brand shares one key. Roll-up
// training (encore/retail.h) trains on keys and expands them to products.
//
// Times are unix seconds (UTC); they are read from integers or ISO-8601
// text like every other reader's timestamps.
//
// Thread-safety: a Catalog and a KeyIndex are immutable once built; const
// methods may be called concurrently.

#ifndef ENCORE_CATALOG_H_
#define ENCORE_CATALOG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "encore/ids.h"
#include "encore/interactions.h"
#include "encore/status.h"

namespace encore {

// Which columns hold what. Defaults match `encore generate --profile fashion`.
struct CatalogOptions {
  std::string format;  // "csv", "tsv" or "jsonl"; empty: from the file name (.jsonl / .json)
  char separator = 0;  // csv: 0 = ',' (tsv: '\t')
  std::string id_col = "product";
  // The hierarchy, top level first; each is a column name.
  std::vector<std::string> levels = {"division", "department", "class", "subclass", "brand"};
  std::string price_col = "price";
  std::string launch_col = "launch_time";
  std::string from_col = "available_from";    // sale window start
  std::string until_col = "available_until";  // sale window end (exclusive)
  std::string quantity_col = "quantity";
  // Optional numeric columns kept by name (missing columns are allowed and
  // read as 0; a present one must hold numbers).
  std::vector<std::string> counters = {"times_sold", "returns", "cancellations"};
  uint64_t max_bad_rows = 0;  // more bad rows than this fail the read
};

// The default hierarchy, as `division,department,class,subclass,brand`.
std::string DefaultLevelsText();

// One product as given to CatalogBuilder (level values in options order).
struct ProductRow {
  std::string id;
  std::vector<std::string> levels;
  double price = 0;
  int64_t launch = 0;
  int64_t available_from = 0;
  int64_t available_until = 0;
  int64_t quantity = 0;
  std::vector<double> counters;  // in CatalogOptions::counters order; may be shorter
};

struct CatalogReport {
  std::string file;  // the path, or the source's name (ReadPostgresCatalog)
  // false: Rejection::line is the file's line; true: the data row (1 = the
  // first row after the header), for sources without lines (PostgreSQL).
  bool numbered_by_row = false;
  uint64_t rows_read = 0;
  uint64_t rows_accepted = 0;
  uint64_t rows_rejected = 0;
  std::vector<Rejection> first_rejections;    // at most 10
  std::vector<std::string> missing_counters;  // optional counter columns absent from the file
  // ReadPostgresCatalog only: the bytes of CSV the server sent and their
  // SHA-256 (lowercase hex), for lineage.
  uint64_t bytes = 0;
  std::string sha256;
};

class Catalog {
 public:
  Catalog() = default;
  Catalog(Catalog&&) noexcept = default;
  Catalog& operator=(Catalog&&) noexcept = default;

  uint32_t size() const { return products_.size(); }
  const IdDictionary& products() const { return products_; }
  const std::vector<std::string>& level_names() const { return level_names_; }
  // Index of level `name`, or nullopt.
  std::optional<uint32_t> FindLevel(std::string_view name) const;
  // The distinct values of level `level`.
  const IdDictionary& level_values(uint32_t level) const { return level_values_[level]; }
  // The value index (into level_values(level)) of `product` at `level`.
  uint32_t node(uint32_t product, uint32_t level) const {
    return nodes_[uint64_t{product} * level_names_.size() + level];
  }
  std::string_view node_name(uint32_t product, uint32_t level) const {
    return level_values_[level].Name(node(product, level));
  }
  double price(uint32_t p) const { return price_[p]; }
  int64_t launch(uint32_t p) const { return launch_[p]; }
  int64_t available_from(uint32_t p) const { return from_[p]; }
  int64_t available_until(uint32_t p) const { return until_[p]; }
  int64_t quantity(uint32_t p) const { return quantity_[p]; }
  const std::vector<std::string>& counter_names() const { return counter_names_; }
  // Counter `c` of product `p` (0 when the column was absent).
  double counter(uint32_t p, uint32_t c) const {
    return counters_[uint64_t{p} * counter_names_.size() + c];
  }
  std::optional<uint32_t> FindCounter(std::string_view name) const;

 private:
  friend class CatalogBuilder;
  IdDictionary products_;
  std::vector<std::string> level_names_;
  std::vector<IdDictionary> level_values_;
  std::vector<uint32_t> nodes_;  // size() * levels, row-major
  std::vector<double> price_;
  std::vector<int64_t> launch_, from_, until_, quantity_;
  std::vector<std::string> counter_names_;
  std::vector<double> counters_;  // size() * counters, row-major
};

// Builds a catalog product by product, checking each row.
class CatalogBuilder {
 public:
  explicit CatalogBuilder(const CatalogOptions& options);
  // Adds a product, or returns InvalidArgument saying what is wrong with it
  // (duplicate id, empty id or level value, wrong number of levels,
  // non-finite or negative price, negative quantity, window ending before
  // it starts); a rejected row leaves the catalog unchanged.
  Status Add(const ProductRow& row);
  // The catalog; the builder is spent.
  Catalog Finish() &&;

 private:
  Catalog catalog_;
};

// Reads a catalog file (format per options or the file name).
// NotFound / IOError for the file; InvalidArgument for a missing column
// (naming it and the columns found) or too many bad rows (one
// "FILE:LINE: reason" line each, the first ten). `report` may be null.
Result<Catalog> ReadCatalog(const std::string& path, const CatalogOptions& options,
                            CatalogReport* report = nullptr);

// Products grouped by a key of levels. Key names join the level values
// with '|' ("dresses|Acme").
class KeyIndex {
 public:
  // `levels` names catalog levels (at least one, each once). An empty list
  // means the product itself: one key per product, named by its id.
  static Result<KeyIndex> Build(const Catalog& catalog, const std::vector<std::string>& levels);

  const std::vector<std::string>& levels() const { return levels_; }
  // "subclass_brand" for {subclass, brand}; "product" for none.
  std::string name() const;
  bool is_product() const { return levels_.empty(); }
  uint32_t num_keys() const { return keys_.size(); }
  const IdDictionary& keys() const { return keys_; }
  uint32_t key_of(uint32_t product) const { return key_of_[product]; }
  // The products of `key`, in catalog order.
  std::span<const uint32_t> products(uint32_t key) const {
    return {members_.data() + start_[key], members_.data() + start_[key + 1]};
  }
  // The node of `key` at catalog level `level`: the value its products
  // share. Fails (naming a key and two of its values) when the key's
  // products disagree, i.e. `level` is not determined by the key's levels.
  Result<std::vector<uint32_t>> NodesAt(const Catalog& catalog, uint32_t level) const;

 private:
  std::vector<std::string> levels_;
  IdDictionary keys_;
  std::vector<uint32_t> key_of_;
  std::vector<uint32_t> start_, members_;
};

// "subclass_brand" -> {"subclass", "brand"}; "product" or "" -> {}.
// Level names may themselves hold '_' when they are catalog levels: the
// text is split at '_' only where both sides are levels of `catalog`
// (greedy from the left); unknown parts are an error naming them.
Result<std::vector<std::string>> ParseKeyLevels(const Catalog& catalog, const std::string& text);

// Rows of `log` whose item is not a catalog product: counted, never dropped
// silently. `first` holds up to 10 distinct unknown ids.
struct UnknownProducts {
  uint64_t rows = 0;
  uint64_t distinct = 0;
  std::vector<std::string> first;
  std::string Describe() const;  // "3 events (2 products, e.g. 'p9', 'p12') are not in the catalog"
};
UnknownProducts FindUnknownProducts(const InteractionLog& log, const Catalog& catalog);

// ------------------------------------------------------------- roll-up

// The retailer's event weights: view 3, cart 10, still_want_it 30, purchase 40.
std::map<std::string, float> DefaultRetailWeights();

struct RollUpReport {
  uint64_t rows_in = 0;
  uint64_t rows_used = 0;   // rows that reached a (member, key) sum
  uint64_t pairs = 0;       // (member, key) rows out
  UnknownProducts unknown;  // rows on products not in the catalog
  std::vector<std::pair<std::string, uint64_t>> unweighted;  // event types with no weight: rows
  std::string Describe() const;
};

// Roll-up: every row of `log` (items are product ids) becomes weight(event)
// added to the (member, key) sum, where key = keys.key_of(product). The
// result has one row per (member, key) with a positive number of rows: its
// value is the sum, its time the latest row's (when `log` has times), no
// event column; items are key names (KeyIndex::keys()), users are `log`'s
// users at the same indices. Rows on products missing from the catalog and
// rows whose event type has no weight are counted in `report` (never
// dropped silently). With empty `weights` every row adds its value.
// InvalidArgument when weights are given but `log` has no event column.
// With a product key (no levels) this is training on products.
Result<InteractionLog> RollUpLog(const InteractionLog& log, const Catalog& catalog,
                                 const KeyIndex& keys, const std::map<std::string, float>& weights,
                                 RollUpReport* report = nullptr);

}  // namespace encore

#endif  // ENCORE_CATALOG_H_
