// Retail rules as ranker steps (encore/retail.h).

#include "encore/retail.h"

#include <algorithm>
#include <map>

namespace encore {

namespace {

constexpr int64_t kDay = 86400;

class AvailabilityStep final : public ExcludeStep {
 public:
  explicit AvailabilityStep(std::vector<char> available) : available_(std::move(available)) {}
  bool Excludes(const RankContext&, uint32_t item) const override {
    return item >= available_.size() || !available_[item];
  }

 private:
  std::vector<char> available_;
};

class IntentBoost final : public AdjustStep {
 public:
  IntentBoost(std::shared_ptr<const std::vector<std::vector<uint32_t>>> nodes,
              std::vector<uint32_t> item_node, bool multiply, float value)
      : nodes_(std::move(nodes)),
        item_node_(std::move(item_node)),
        multiply_(multiply),
        value_(value) {}
  float Adjust(const RankContext& ctx, uint32_t item, float score) const override {
    if (ctx.user >= nodes_->size() || item >= item_node_.size()) return score;
    const std::vector<uint32_t>& mine = (*nodes_)[ctx.user];
    if (std::find(mine.begin(), mine.end(), item_node_[item]) == mine.end()) return score;
    return multiply_ ? score * value_ : score + value_;
  }
  void AdjustDense(const RankContext& ctx, float* scores) const override {
    if (ctx.user >= nodes_->size() || (*nodes_)[ctx.user].empty()) return;
    for (uint32_t i = 0; i < item_node_.size() && i < ctx.model->num_items(); ++i) {
      scores[i] = Adjust(ctx, i, scores[i]);
    }
  }

 private:
  std::shared_ptr<const std::vector<std::vector<uint32_t>>> nodes_;
  std::vector<uint32_t> item_node_;
  bool multiply_;
  float value_;
};

Result<uint32_t> Level(const Catalog& catalog, const std::string& name, const char* what) {
  std::optional<uint32_t> l = catalog.FindLevel(name);
  if (!l) {
    std::string known;
    for (const std::string& n : catalog.level_names()) known += (known.empty() ? "" : ", ") + n;
    return Status::InvalidArgument(std::string(what) + " level '" + name +
                                   "' is not a catalog level (levels: " + known + ")");
  }
  return *l;
}

bool In(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

Result<RetailSteps> RetailSteps::Build(const RetailRules& rules, const Catalog& catalog,
                                       const KeyIndex& keys, const IdDictionary& model_items,
                                       const IdDictionary& model_users,
                                       const InteractionLog* events, const ProductScores* scores) {
  RetailSteps s;
  s.rules_ = rules;
  const uint32_t num_items = model_items.size();
  // Model item -> key (UINT32_MAX when the item is not a key of the index).
  std::vector<uint32_t> key_of_item(num_items, UINT32_MAX);
  for (uint32_t i = 0; i < num_items; ++i) {
    if (auto k = keys.keys().Find(model_items.Name(i))) key_of_item[i] = *k;
  }
  auto item_nodes = [&](uint32_t level) -> Result<std::vector<uint32_t>> {
    ENCORE_ASSIGN_OR_RETURN(std::vector<uint32_t> key_node, keys.NodesAt(catalog, level));
    std::vector<uint32_t> out(num_items, UINT32_MAX);
    for (uint32_t i = 0; i < num_items; ++i) {
      if (key_of_item[i] != UINT32_MAX) out[i] = key_node[key_of_item[i]];
    }
    return out;
  };

  // Availability and expansion.
  const int64_t end = rules.as_of + rules.window_seconds;
  std::vector<char> saleable(catalog.size());
  for (uint32_t p = 0; p < catalog.size(); ++p) {
    saleable[p] = catalog.available_from(p) < end && catalog.available_until(p) > rules.as_of &&
                  catalog.quantity(p) >= rules.min_quantity;
  }
  std::vector<char> available(num_items, 0);
  s.products_.resize(num_items);
  for (uint32_t i = 0; i < num_items; ++i) {
    if (key_of_item[i] == UINT32_MAX) continue;
    std::vector<uint32_t> ps;
    for (uint32_t p : keys.products(key_of_item[i])) {
      if (saleable[p]) ps.push_back(p);
    }
    if (ps.size() < std::max<uint32_t>(1, rules.min_saleable)) continue;
    available[i] = 1;
    s.available_items_.push_back(i);
    std::stable_sort(ps.begin(), ps.end(), [&](uint32_t a, uint32_t b) {
      return scores != nullptr && scores->score(a) > scores->score(b);
    });
    if (ps.size() > rules.products_per_key) ps.resize(rules.products_per_key);
    s.products_[i] = std::move(ps);
  }
  s.availability = std::make_shared<AvailabilityStep>(std::move(available));

  // Boost.
  auto boosted = std::make_shared<std::vector<std::vector<uint32_t>>>(model_users.size());
  ENCORE_ASSIGN_OR_RETURN(const uint32_t boost_level, Level(catalog, rules.boost_level, "boost"));
  ENCORE_ASSIGN_OR_RETURN(std::vector<uint32_t> boost_item_node, item_nodes(boost_level));
  if (events != nullptr && events->has_events && events->has_times) {
    const int64_t since = rules.as_of - rules.boost_days * kDay;
    std::vector<uint32_t> product_of(events->items.size(), UINT32_MAX);
    for (uint32_t i = 0; i < events->items.size(); ++i) {
      if (auto p = catalog.products().Find(events->items.Name(i))) product_of[i] = *p;
    }
    std::vector<uint32_t> user_of(events->users.size(), UINT32_MAX);
    for (uint32_t u = 0; u < events->users.size(); ++u) {
      if (auto m = model_users.Find(events->users.Name(u))) user_of[u] = *m;
    }
    std::vector<char> intent(events->events.size()), buy(events->events.size());
    for (uint32_t e = 0; e < events->events.size(); ++e) {
      intent[e] = In(rules.intent_events, events->events.Name(e));
      buy[e] = In(rules.purchase_events, events->events.Name(e));
    }
    // (user, node) -> count, or -1 once purchased.
    std::map<std::pair<uint32_t, uint32_t>, int64_t> counts;
    for (size_t r = 0; r < events->size(); ++r) {
      const int64_t t = events->time[r];
      if (t < since || t >= rules.as_of) continue;
      const uint32_t u = user_of[events->user[r]], p = product_of[events->item[r]];
      if (u == UINT32_MAX || p == UINT32_MAX) continue;
      const uint32_t e = events->event[r];
      if (!intent[e] && !buy[e]) continue;
      int64_t& c = counts[{u, catalog.node(p, boost_level)}];
      if (buy[e]) {
        c = -1;
      } else if (c >= 0) {
        ++c;
      }
    }
    std::vector<std::pair<int64_t, uint32_t>> mine;
    auto flush = [&](uint32_t user) {
      std::sort(mine.begin(), mine.end(), [&](const auto& a, const auto& b) {
        if (a.first != b.first) return a.first > b.first;
        return catalog.level_values(boost_level).Name(a.second) <
               catalog.level_values(boost_level).Name(b.second);
      });
      for (size_t k = 0; k < mine.size() && k < rules.boost_top; ++k) {
        (*boosted)[user].push_back(mine[k].second);
      }
      mine.clear();
    };
    uint32_t current = UINT32_MAX;
    for (const auto& [un, c] : counts) {
      if (un.first != current && current != UINT32_MAX) flush(current);
      current = un.first;
      if (c > 0) mine.emplace_back(c, un.second);
    }
    if (current != UINT32_MAX) flush(current);
  }
  s.boosted_ = boosted;
  s.boost = std::make_shared<IntentBoost>(boosted, std::move(boost_item_node), rules.boost_multiply,
                                          rules.boost_value);

  // Diversity.
  ENCORE_ASSIGN_OR_RETURN(const uint32_t div_level,
                          Level(catalog, rules.diversity_level, "diversity"));
  ENCORE_ASSIGN_OR_RETURN(std::vector<uint32_t> div_node, item_nodes(div_level));
  if (rules.max_per_node > 0) {
    // Items outside the key index get distinct groups past every node.
    const uint32_t nodes = catalog.level_values(div_level).size();
    for (uint32_t i = 0; i < num_items; ++i) {
      if (div_node[i] == UINT32_MAX) div_node[i] = nodes + i;
    }
    s.diversity = std::make_shared<GroupCap>(std::move(div_node), rules.max_per_node);
  }
  return s;
}

void RetailSteps::AddTo(Ranker* ranker) const {
  ranker->Add(availability);
  ranker->Add(boost);
  if (diversity) ranker->Add(diversity);
}

std::span<const uint32_t> RetailSteps::boosted_nodes(uint32_t user) const {
  if (user >= boosted_->size()) return {};
  return (*boosted_)[user];
}

std::span<const uint32_t> RetailSteps::products_of(uint32_t item) const {
  if (item >= products_.size()) return {};
  return products_[item];
}

std::vector<uint32_t> RetailSteps::ExpandToProducts(std::span<const ScoredItem> ranked) const {
  std::vector<uint32_t> out;
  for (const ScoredItem& s : ranked) {
    for (uint32_t p : products_of(s.item)) {
      if (out.size() >= rules_.max_products) return out;
      out.push_back(p);
    }
  }
  return out;
}

}  // namespace encore
