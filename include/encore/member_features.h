// Member features and segments (docs/PERSONALIZATION.md, "Member segments").
//
// MemberFeatures::Compute derives per-member features from an event log on
// products (items are catalog product ids, with event and time columns) and
// the catalog, relative to an "as of" time (only events before it count):
//
//   recency           days from the member's last event to as_of
//   frequency         number of purchase events
//   monetary          sum of the catalog prices of the purchased products
//   price_percentile  the p-th percentile (default 90) of the member's
//                     purchase prices, linear interpolation between closest
//                     ranks (numpy's default): sorted prices x[0..n-1],
//                     position h = p/100 * (n-1), x[floor h] + (h - floor h)
//                     * (x[floor h + 1] - x[floor h]). NaN without purchases.
//   primary <level>   the node of a catalog level with the member's largest
//                     weighted activity (sum of event weights over the
//                     member's events on products of that node; ties: node
//                     name ascending); none when the member has no weighted
//                     event on a catalog product.
//
// A members file (CSV/TSV with a header: a member column and numeric
// columns) adds further numeric features by column name (ReadMemberColumns);
// a bad row (a value that is not a number, a duplicate member) fails the
// read naming FILE:LINE.
//
// Segments (AssignSegments) combine parts: a catalog level (the member's
// primary node of it) or a numeric feature cut into `buckets` equal-count
// buckets. Rules, precisely:
//
//   default      a member with no purchase event, or with an undefined part
//                (no primary node, a NaN feature), is in the default segment.
//   level part   the 1-based position of the node among the level's values
//                sorted by name (all catalog values, so numbers are stable).
//   bucket part  over the non-default members sorted by the feature value
//                ascending, a member whose value first appears at 0-based
//                position r is in bucket floor(r * buckets / n) + 1: ties
//                share a bucket, so buckets are equal-count up to ties.
//   name         the parts' numbers joined without a separator when every
//                part has fewer than 10 possible values (division 1, bucket
//                3: "13"), else joined with '-' ("12-3").
//
// Thread-safety: immutable once computed.

#ifndef ENCORE_MEMBER_FEATURES_H_
#define ENCORE_MEMBER_FEATURES_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "encore/catalog.h"
#include "encore/interactions.h"
#include "encore/status.h"

namespace encore {

struct MemberFeatureOptions {
  int64_t as_of = 0;  // unix seconds; events at or after it are ignored
  std::vector<std::string> purchase_events = {"purchase"};
  // Event weights for primary-level activity; empty: every event weighs 1.
  std::map<std::string, float> weights = DefaultRetailWeights();
  double price_percentile = 90;  // in [0, 100]
  // Catalog levels whose primary node to compute.
  std::vector<std::string> primary_levels = {"division"};
};

// The built-in numeric feature names, in order.
const std::vector<std::string>& BuiltinMemberFeatures();

class MemberFeatures {
 public:
  static constexpr uint32_t kNoNode = UINT32_MAX;

  // Members are `log.users` (same indices). InvalidArgument for a log
  // without event or time columns, a percentile outside [0, 100], or a
  // primary level that is not a catalog level.
  static Result<MemberFeatures> Compute(const InteractionLog& log, const Catalog& catalog,
                                        const MemberFeatureOptions& options);

  uint32_t num_members() const { return frequency_.size(); }
  bool purchased(uint32_t m) const { return frequency_[m] > 0; }
  // The values of numeric feature `name` (built-in or read column);
  // NotFound naming the features there are.
  Result<const std::vector<double>*> Numeric(const std::string& name) const;
  // The primary nodes (value indices of the level, kNoNode for none) of
  // catalog level `level`; NotFound when it was not computed.
  Result<const std::vector<uint32_t>*> Primary(const std::string& level) const;

  // Adds numeric columns from a members file (header: `member_col` and
  // numeric columns; other columns are read as numbers too). Members not in
  // the log are counted in *unknown and ignored; log members missing from the
  // file get NaN. InvalidArgument "FILE:LINE: reason" for a value that is not
  // a number, a duplicate member, a missing member column, or a column
  // clashing with a built-in feature.
  Status ReadMemberColumns(const std::string& path, const std::string& member_col,
                           const IdDictionary& members, uint64_t* unknown = nullptr);

 private:
  std::vector<double> frequency_;
  std::map<std::string, std::vector<double>> numeric_;
  std::map<std::string, std::vector<uint32_t>> primary_;
};

struct SegmentSpec {
  // Parts: catalog levels (primary node) or numeric features (buckets).
  std::vector<std::string> by = {"division", "price_percentile"};
  uint32_t buckets = 5;
  std::string default_segment = "0";
};

struct SegmentAssignment {
  std::vector<std::string> names;         // segment names, sorted; includes the default when used
  std::vector<std::string> descriptions;  // per segment: "division=Women, price_percentile 3/5"
  std::vector<uint32_t> of_member;        // per member: index into names
  std::vector<uint64_t> sizes;            // per segment: members
  // Per bucket part (in `by` order, levels left out): the lowest value of
  // each bucket, for reports.
  std::vector<std::vector<double>> bucket_floors;

  // Index of segment `name`, or -1.
  int Find(const std::string& name) const;
};

// InvalidArgument for no parts, zero buckets, an empty default name, or a
// part that is neither a computed primary level nor a numeric feature.
Result<SegmentAssignment> AssignSegments(const MemberFeatures& features, const Catalog& catalog,
                                         const SegmentSpec& spec);

}  // namespace encore

#endif  // ENCORE_MEMBER_FEATURES_H_
