// Product scores: how likely a product is to sell, used to order the
// products inside a key (docs/PERSONALIZATION.md, "Product scoring").
//
// The score is a documented linear function of normalised features:
//
//   score(p) = sum over features f of  weight[f] * x_f(p) / max_q x_f(q)
//
// where x_f is the raw feature (ProductFeatures() lists them with their
// definitions and default weights), the max runs over every catalog product
// (a feature whose max is 0 contributes 0) and the weights come from the
// pipeline file ([rank.product_score] weights) or ProductScoreOptions. Raw
// features come from the catalog (counters, times) and from the events
// (views and purchases per product) relative to `as_of`. Explain() lists a
// product's feature values, weights and contributions, which add up to its
// score.
//
// Thread-safety: immutable once computed.

#ifndef ENCORE_PRODUCT_SCORE_H_
#define ENCORE_PRODUCT_SCORE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "encore/catalog.h"
#include "encore/interactions.h"
#include "encore/status.h"

namespace encore {

struct ProductFeatureInfo {
  const char* name;
  double default_weight;
  const char* meaning;  // the raw value, before normalisation
};
// Every feature, in score order.
const std::vector<ProductFeatureInfo>& ProductFeatures();

struct ProductScoreOptions {
  int64_t as_of = 0;              // unix seconds
  int64_t interaction_days = 90;  // "clicks and purchases in the last n days"
  std::vector<std::string> click_events = {"view"};
  std::vector<std::string> purchase_events = {"purchase"};
  // Coefficients by feature name; features not named keep their default.
  std::map<std::string, double> weights;
};

struct ScoreTerm {
  std::string feature;
  double raw = 0;
  double normalised = 0;  // raw / max over the catalog (0 when the max is 0)
  double weight = 0;
  double contribution = 0;  // normalised * weight
};

class ProductScores {
 public:
  // `events` (items are product ids; may be null: no interaction features)
  // must have an event column when given. Unknown feature names in
  // options.weights are an InvalidArgument naming them.
  static Result<ProductScores> Compute(const Catalog& catalog, const KeyIndex& keys,
                                       const InteractionLog* events,
                                       const ProductScoreOptions& options);

  double score(uint32_t product) const { return score_[product]; }
  // The terms of `product`'s score, in ProductFeatures() order.
  std::vector<ScoreTerm> Explain(uint32_t product) const;
  // Explain as text: one "feature raw normalised x weight = contribution" line each.
  std::string ExplainText(const Catalog& catalog, uint32_t product) const;

 private:
  std::vector<double> weights_;  // per feature
  std::vector<double> max_;      // per feature
  std::vector<double> raw_;      // products x features
  std::vector<double> score_;
};

}  // namespace encore

#endif  // ENCORE_PRODUCT_SCORE_H_
