// Retail rules as ranker steps (docs/PERSONALIZATION.md): recent-intent
// boost, diversity cap per hierarchy node, availability, and expansion of
// ranked keys to products.
//
// RetailSteps::Build makes the steps from a declared RetailRules, a catalog,
// the key index the model was trained on and the model's dictionaries, so
// every front end (batch, pipeline, serving, a live consumer) builds the
// same steps with one library call and adds them to its Ranker (AddTo).
// Rules, precisely:
//
//   boost        for each member, count events whose type is in
//                intent_events with as_of - boost_days*86400 <= time < as_of,
//                per node of boost_level; nodes where the member made a
//                purchase_events event in the same window are left out; the
//                boost_top nodes by count (ties: node name ascending) are
//                boosted: every key in them gets score*value (multiply) or
//                score+value (add). No such events: no boost.
//   diversity    at most max_per_node keys per node of diversity_level, keys
//                taken greedily in rank order (score descending, ties by the
//                model's tie rank). Unlike SQL RANK() <= N, ties at the cap
//                never let more than N keys through.
//   availability a product is saleable when its sale window overlaps
//                [as_of, as_of + window_seconds) (available_from < as_of +
//                window and available_until > as_of) and quantity >=
//                min_quantity; a key with fewer than min_saleable saleable
//                products is excluded, and available_items() is the allow
//                list of the rest, so the ranker scores only those keys.
//   expansion    each ranked key becomes its saleable products ordered by
//                product score (descending, ties by catalog order), at most
//                products_per_key each, at most max_products in all.
//
// Thread-safety: immutable once built; steps are shared and const.

#ifndef ENCORE_RETAIL_H_
#define ENCORE_RETAIL_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "encore/catalog.h"
#include "encore/product_score.h"
#include "encore/rank.h"

namespace encore {

struct RetailRules {
  int64_t as_of = 0;  // unix seconds
  // boost
  std::string boost_level = "subclass";
  uint32_t boost_top = 3;
  int64_t boost_days = 10;
  std::vector<std::string> intent_events = {"view", "cart"};
  std::vector<std::string> purchase_events = {"purchase"};
  bool boost_multiply = true;  // false: add
  float boost_value = 1.5f;
  // diversity (max_per_node 0: no cap)
  std::string diversity_level = "class";
  uint32_t max_per_node = 4;
  // availability
  int64_t window_seconds = 86400;
  int64_t min_quantity = 3;
  uint32_t min_saleable = 1;
  // expansion
  uint32_t products_per_key = 15;
  uint32_t max_products = 300;
};

class RetailSteps {
 public:
  // `model_items` are key names (the items of the rolled-up dataset),
  // `model_users` member ids; `events` (items are product ids, with event
  // and time columns) may be null: no boost. `scores` may be null: products
  // in catalog order. The catalog, key index and scores must outlive the
  // steps. InvalidArgument for a level that is not in the catalog or not
  // determined by the key.
  static Result<RetailSteps> Build(const RetailRules& rules, const Catalog& catalog,
                                   const KeyIndex& keys, const IdDictionary& model_items,
                                   const IdDictionary& model_users, const InteractionLog* events,
                                   const ProductScores* scores);

  // Adds availability, boost and diversity to `ranker`.
  void AddTo(Ranker* ranker) const;
  // Model items whose key has enough saleable products, sorted.
  const std::vector<uint32_t>& available_items() const { return available_items_; }
  // The boosted nodes (boost_level value indices) of model user `user`.
  std::span<const uint32_t> boosted_nodes(uint32_t user) const;
  // Catalog product indices for a ranked list of model items.
  std::vector<uint32_t> ExpandToProducts(std::span<const ScoredItem> ranked) const;
  // The saleable products of model item `item`, best first, capped.
  std::span<const uint32_t> products_of(uint32_t item) const;

  std::shared_ptr<const ExcludeStep> availability;
  std::shared_ptr<const AdjustStep> boost;
  std::shared_ptr<const ListStep> diversity;  // null when max_per_node is 0

 private:
  RetailRules rules_;
  std::shared_ptr<const std::vector<std::vector<uint32_t>>> boosted_;
  std::vector<uint32_t> available_items_;
  std::vector<std::vector<uint32_t>> products_;  // per model item
};

}  // namespace encore

#endif  // ENCORE_RETAIL_H_
