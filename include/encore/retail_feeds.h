// Retail feeds (docs/PERSONALIZATION.md, "Feeds and payloads"): a member's
// ranked keys become six feeds - the product list, brand collections and
// category collections, each in a full and a "card" variant - encoded as one
// compact JSON payload per member (the store and GET
// /v1/users/{member}/recommendations) and as one JSON Lines row per member
// and feed (files).
//
// Rules, precisely (FeedRules holds the numbers):
//
//   products     the member's ranked keys (availability, boost and
//                diversity applied by the RetailSteps of the ranker), each
//                expanded to its saleable products best first
//                (RetailSteps::ExpandToProducts: products_per_key each,
//                max_products in all).
//   products_card  the first card_style_listing_maximum products of that list.
//   collections  the same ranked keys grouped by their node at a level
//                (brands: brand_level, categories: category_level). A group's
//                affinity is the sum of its keys' ranked scores (the boosted
//                predictions); its products are its keys' products in key rank
//                order, flattened without duplicates, at most
//                collection_max_products. Groups with fewer than
//                min_collection_products products are dropped; the rest are
//                ordered by affinity (descending; ties: node name ascending)
//                and the first card_target_count are kept.
//   *_card       the same groups with at most card_style_listing_maximum
//                products each.
//   fallback     for members the model does not know: keys ranked by their
//                popularity (the sum of the rolled-up training values of the
//                key), available keys only, no boost, the same diversity cap,
//                then the same feeds (the payload says "fallback":"popular").
//
// Thread-safety: a RetailFeeds is immutable once built; ForUser, Fallback
// and the encoders may be called from many threads at once.

#ifndef ENCORE_RETAIL_FEEDS_H_
#define ENCORE_RETAIL_FEEDS_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "encore/catalog.h"
#include "encore/rank.h"
#include "encore/recommender.h"
#include "encore/retail.h"

namespace encore {

struct FeedRules {
  std::string brand_level = "brand";
  std::string category_level = "class";
  uint32_t ranked_keys = 200;  // keys ranked per member before expansion
  uint32_t collection_max_products = 60;
  uint32_t min_collection_products = 4;
  uint32_t card_target_count = 10;
  uint32_t card_style_listing_maximum = 4;
};

inline constexpr int kNumFeeds = 6;
// "products", "products_card", "brands", "brands_card", "categories",
// "categories_card", for feed 0..5.
const char* FeedName(int feed);
// The feed index of `name`, or -1.
int FindFeed(std::string_view name);

struct Collection {
  uint32_t node = 0;  // value index at the grouping level
  double affinity = 0;
  std::vector<uint32_t> products;  // catalog product indices
};

// The collection rule above on a ranked key list: `node_of(item)` is the
// item's group (UINT32_MAX: no group, left out), `products_of(item)` its
// products best first, `node_name(node)` breaks ties.
std::vector<Collection> BuildCollections(
    std::span<const ScoredItem> ranked, const std::function<uint32_t(uint32_t)>& node_of,
    const std::function<std::span<const uint32_t>(uint32_t)>& products_of,
    const std::function<std::string_view(uint32_t)>& node_name, const FeedRules& rules);

struct MemberFeeds {
  bool fallback = false;
  // With segments (PublishRetail routes): the member's segment, and whether
  // its own model ("segment") or the global one ("global") scored it; the
  // payload then carries "segment" and "scored_by". Empty: no segments.
  std::string_view segment;
  bool global_model = false;
  std::vector<uint32_t> products;
  std::vector<Collection> brands, categories;
};

class RetailFeeds;

// With member segments: which feeds answer a member - those of the member's
// segment model, or the global model's for a segment too small to train -
// and the member's user index in that feeds' model.
struct FeedRoute {
  const RetailFeeds* feeds = nullptr;
  uint32_t user = 0;
  std::string_view segment;   // the member's segment name
  bool global_model = false;  // feeds are the global model's
};

class RetailFeeds {
 public:
  // `model` was trained on the keys of `keys` (its items are key names);
  // `steps` were built for it (RetailSteps::Build) and `ranker` has them
  // (AddTo). `popularity` holds one value per model item (the fallback
  // order). Catalog, keys, model, steps and ranker must outlive this.
  // InvalidArgument for a level that is not in the catalog or not determined
  // by the key, or zero card sizes.
  static Result<RetailFeeds> Build(const FeedRules& rules, const Catalog& catalog,
                                   const KeyIndex& keys, const TrainedModel& model,
                                   const RetailSteps& steps, const Ranker& ranker,
                                   std::vector<double> popularity);

  // The feeds of model user `user`.
  MemberFeeds ForUser(uint32_t user) const;
  // The feeds of a member the model does not know.
  const MemberFeeds& Fallback() const { return fallback_; }

  // The payload {"user":M,"snapshot":V,["fallback":"popular",]
  // ["segment":S,"scored_by":"segment"|"global",]"feeds":{...}}
  // (docs/PERSONALIZATION.md has the schema), replacing *out.
  void EncodePayload(std::string_view member, uint64_t snapshot, const MemberFeeds& feeds,
                     std::string* out) const;
  // One JSON Lines row {"member":M,"<feed>":[...]} (no newline), replacing *out.
  void EncodeFeedRow(int feed, std::string_view member, const MemberFeeds& feeds,
                     std::string* out) const;
  // Where each feed's array ([...]) lies in a payload EncodePayload wrote.
  struct FeedSpans {
    size_t begin[kNumFeeds] = {};
    size_t end[kNumFeeds] = {};
  };
  // EncodePayload, also recording each feed's array in *spans; the feed rows
  // are then cut from the payload (FeedRowFromPayload) instead of encoding
  // every list a second time. Same bytes as EncodePayload and EncodeFeedRow.
  void EncodePayload(std::string_view member, uint64_t snapshot, const MemberFeeds& feeds,
                     std::string* out, FeedSpans* spans) const;
  // Appends the row EncodeFeedRow(feed, member, ...) would write, taking the
  // feed's array from `payload` (EncodePayload with `spans`).
  static void AppendFeedRowFromPayload(int feed, std::string_view member, std::string_view payload,
                                       const FeedSpans& spans, std::string* out);

 private:
  void AppendFeed(int feed, const MemberFeeds& feeds, std::string* out) const;
  void AppendProduct(uint32_t product, std::string* out) const;
  MemberFeeds FromRanked(std::span<const ScoredItem> ranked) const;

  FeedRules rules_;
  const Catalog* catalog_ = nullptr;
  const RetailSteps* steps_ = nullptr;
  const Ranker* ranker_ = nullptr;
  uint32_t brand_level_ = 0, category_level_ = 0;
  std::vector<uint32_t> brand_of_item_, category_of_item_;
  // Each catalog product's encoded {"id":...,"price":...} object, one after
  // another (product p: product_json_[product_at_[p], product_at_[p + 1]));
  // the level values' quoted names likewise. Encoded once at Build: a
  // payload repeats them hundreds of times.
  std::string product_json_, brand_json_, category_json_;
  std::vector<uint32_t> product_at_, brand_at_, category_at_;
  MemberFeeds fallback_;
};

}  // namespace encore

#endif  // ENCORE_RETAIL_FEEDS_H_
