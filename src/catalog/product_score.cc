// Product scores (encore/product_score.h).

#include "encore/product_score.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace encore {

namespace {

constexpr int64_t kDay = 86400;

enum Feature {
  kTimesSold,
  kDaysOnSite,
  kBrandPersistence,
  kClicks,
  kPurchases,
  kConversion,
  kReturnRate,
  kCancelRate,
  kFirstDay,
  kFirst72h,
  kEarlyClicks,
  kEarlyPurchases,
  kNewShare,
  kNumFeatures
};

}  // namespace

const std::vector<ProductFeatureInfo>& ProductFeatures() {
  static const std::vector<ProductFeatureInfo> features = {
      {"times_sold", 0.15,
       "log(1 + times_sold): how often the product sold before (catalog counter)"},
      {"days_on_site", -0.10,
       "days since the current sale started (as_of - available_from), 0 when it starts later"},
      {"brand_persistence", 0.10,
       "distinct days on which the product's key (e.g. its subclass and brand) started a sale: "
       "how persistently the brand appears in that subclass"},
      {"clicks", 0.30, "log(1 + views) in the last interaction_days before as_of"},
      {"purchases", 0.40, "log(1 + purchases) in the last interaction_days before as_of"},
      {"conversion", 0.20, "purchases / (views + 1) in the same window"},
      {"return_rate", -0.20, "returns / (times_sold + 1) (catalog counters)"},
      {"cancel_rate", -0.10, "cancellations / (times_sold + 1) (catalog counters)"},
      {"first_day", 0.25, "1 when launched less than 24 hours before as_of (or launching later)"},
      {"first_72h", 0.15, "1 when launched less than 72 hours before as_of (or launching later)"},
      {"early_clicks", 0.15, "log(1 + views in the first 72 hours after launch)"},
      {"early_purchases", 0.20, "log(1 + purchases in the first 72 hours after launch)"},
      {"new_share", 0.05, "share of the products of the product's key that are in first_72h"},
  };
  return features;
}

Result<ProductScores> ProductScores::Compute(const Catalog& catalog, const KeyIndex& keys,
                                             const InteractionLog* events,
                                             const ProductScoreOptions& options) {
  const std::vector<ProductFeatureInfo>& info = ProductFeatures();
  ProductScores s;
  s.weights_.resize(kNumFeatures);
  for (int f = 0; f < kNumFeatures; ++f) s.weights_[f] = info[f].default_weight;
  std::string unknown;
  for (const auto& [name, w] : options.weights) {
    bool found = false;
    for (int f = 0; f < kNumFeatures; ++f) {
      if (name == info[f].name) {
        s.weights_[f] = w;
        found = true;
      }
    }
    if (!found) unknown += (unknown.empty() ? "'" : ", '") + name + "'";
    if (!std::isfinite(w)) {
      return Status::InvalidArgument("product score weight '" + name + "' is not finite");
    }
  }
  if (!unknown.empty()) {
    std::string known;
    for (const ProductFeatureInfo& i : info)
      known += (known.empty() ? "" : ", ") + std::string(i.name);
    return Status::InvalidArgument("unknown product score feature(s) " + unknown +
                                   "; features: " + known);
  }
  if (events != nullptr && events->size() > 0 && !events->has_events) {
    return Status::InvalidArgument("product scores need an event column in the events");
  }
  const uint32_t n = catalog.size();
  const int64_t as_of = options.as_of;
  s.raw_.assign(uint64_t{n} * kNumFeatures, 0.0);
  auto raw = [&](uint32_t p, int f) -> double& { return s.raw_[uint64_t{p} * kNumFeatures + f]; };
  const std::optional<uint32_t> sold = catalog.FindCounter("times_sold");
  const std::optional<uint32_t> returns = catalog.FindCounter("returns");
  const std::optional<uint32_t> cancels = catalog.FindCounter("cancellations");

  // Event counts per product.
  std::vector<double> clicks(n), buys(n), early_clicks(n), early_buys(n);
  if (events != nullptr && events->size() > 0) {
    std::vector<uint32_t> product_of(events->items.size(), UINT32_MAX);
    for (uint32_t i = 0; i < events->items.size(); ++i) {
      if (auto p = catalog.products().Find(events->items.Name(i))) product_of[i] = *p;
    }
    std::vector<char> is_click(events->events.size()), is_buy(events->events.size());
    for (uint32_t e = 0; e < events->events.size(); ++e) {
      const std::string name(events->events.Name(e));
      is_click[e] = std::find(options.click_events.begin(), options.click_events.end(), name) !=
                    options.click_events.end();
      is_buy[e] = std::find(options.purchase_events.begin(), options.purchase_events.end(), name) !=
                  options.purchase_events.end();
    }
    const int64_t since = as_of - options.interaction_days * kDay;
    for (size_t r = 0; r < events->size(); ++r) {
      const uint32_t p = product_of[events->item[r]];
      if (p == UINT32_MAX) continue;
      const uint32_t e = events->event[r];
      if (!is_click[e] && !is_buy[e]) continue;
      const bool timed = events->has_times;
      const int64_t t = timed ? events->time[r] : as_of - 1;
      if (t >= as_of) continue;  // the future is not known at as_of
      const bool recent = t >= since;
      const bool early = timed && t >= catalog.launch(p) && t < catalog.launch(p) + 3 * kDay;
      if (is_click[e]) {
        clicks[p] += recent;
        early_clicks[p] += early;
      }
      if (is_buy[e]) {
        buys[p] += recent;
        early_buys[p] += early;
      }
    }
  }
  // Per key: distinct sale start days and the share of new products.
  std::vector<double> persistence(keys.num_keys()), new_share(keys.num_keys());
  for (uint32_t k = 0; k < keys.num_keys(); ++k) {
    std::set<int64_t> days;
    double fresh = 0;
    for (uint32_t p : keys.products(k)) {
      days.insert(catalog.available_from(p) >= 0 ? catalog.available_from(p) / kDay
                                                 : (catalog.available_from(p) - kDay + 1) / kDay);
      fresh += as_of - catalog.launch(p) < 3 * kDay;
    }
    persistence[k] = static_cast<double>(days.size());
    new_share[k] = fresh / static_cast<double>(keys.products(k).size());
  }
  for (uint32_t p = 0; p < n; ++p) {
    const double times_sold = sold ? catalog.counter(p, *sold) : 0.0;
    const int64_t age = as_of - catalog.launch(p);
    raw(p, kTimesSold) = std::log1p(std::max(0.0, times_sold));
    raw(p, kDaysOnSite) =
        std::max<double>(0.0, static_cast<double>(as_of - catalog.available_from(p)) / kDay);
    raw(p, kBrandPersistence) = persistence[keys.key_of(p)];
    raw(p, kClicks) = std::log1p(clicks[p]);
    raw(p, kPurchases) = std::log1p(buys[p]);
    raw(p, kConversion) = buys[p] / (clicks[p] + 1.0);
    raw(p, kReturnRate) = (returns ? catalog.counter(p, *returns) : 0.0) / (times_sold + 1.0);
    raw(p, kCancelRate) = (cancels ? catalog.counter(p, *cancels) : 0.0) / (times_sold + 1.0);
    raw(p, kFirstDay) = age < kDay ? 1.0 : 0.0;
    raw(p, kFirst72h) = age < 3 * kDay ? 1.0 : 0.0;
    raw(p, kEarlyClicks) = std::log1p(early_clicks[p]);
    raw(p, kEarlyPurchases) = std::log1p(early_buys[p]);
    raw(p, kNewShare) = new_share[keys.key_of(p)];
  }
  s.max_.assign(kNumFeatures, 0.0);
  for (uint32_t p = 0; p < n; ++p) {
    for (int f = 0; f < kNumFeatures; ++f) s.max_[f] = std::max(s.max_[f], raw(p, f));
  }
  s.score_.assign(n, 0.0);
  for (uint32_t p = 0; p < n; ++p) {
    double total = 0;
    for (int f = 0; f < kNumFeatures; ++f) {
      if (s.max_[f] > 0) total += s.weights_[f] * (raw(p, f) / s.max_[f]);
    }
    s.score_[p] = total;
  }
  return s;
}

std::vector<ScoreTerm> ProductScores::Explain(uint32_t product) const {
  std::vector<ScoreTerm> out;
  const std::vector<ProductFeatureInfo>& info = ProductFeatures();
  for (int f = 0; f < kNumFeatures; ++f) {
    ScoreTerm t;
    t.feature = info[f].name;
    t.raw = raw_[uint64_t{product} * kNumFeatures + f];
    t.normalised = max_[f] > 0 ? t.raw / max_[f] : 0.0;
    t.weight = weights_[f];
    t.contribution = max_[f] > 0 ? t.weight * t.normalised : 0.0;
    out.push_back(t);
  }
  return out;
}

std::string ProductScores::ExplainText(const Catalog& catalog, uint32_t product) const {
  std::string out = "product " + std::string(catalog.products().Name(product)) + "\n";
  char line[256];
  std::snprintf(line, sizeof(line), "  %-18s %10s %10s %8s %12s\n", "feature", "raw", "normalised",
                "weight", "contribution");
  out += line;
  for (const ScoreTerm& t : Explain(product)) {
    std::snprintf(line, sizeof(line), "  %-18s %10.4f %10.4f %8.3f %12.4f\n", t.feature.c_str(),
                  t.raw, t.normalised, t.weight, t.contribution);
    out += line;
  }
  std::snprintf(line, sizeof(line), "  %-18s %43.4f\n", "score", score(product));
  out += line;
  return out;
}

}  // namespace encore
