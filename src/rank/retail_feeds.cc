// Retail feeds: collections, cards and payloads (encore/retail_feeds.h).

#include "encore/retail_feeds.h"

#include <algorithm>
#include <numeric>

#include "util/json_writer.h"

namespace encore {

namespace {

constexpr const char* kFeedNames[kNumFeeds] = {"products",    "products_card", "brands",
                                               "brands_card", "categories",    "categories_card"};

void AppendNumber(double v, std::string* out) {
  if (!JsonWriter::AppendFloat(static_cast<float>(v), out)) out->append("null");
}

}  // namespace

const char* FeedName(int feed) { return feed >= 0 && feed < kNumFeeds ? kFeedNames[feed] : "?"; }

int FindFeed(std::string_view name) {
  for (int f = 0; f < kNumFeeds; ++f) {
    if (name == kFeedNames[f]) return f;
  }
  return -1;
}

std::vector<Collection> BuildCollections(
    std::span<const ScoredItem> ranked, const std::function<uint32_t(uint32_t)>& node_of,
    const std::function<std::span<const uint32_t>(uint32_t)>& products_of,
    const std::function<std::string_view(uint32_t)>& node_name, const FeedRules& rules) {
  std::vector<Collection> groups;
  // The group of each node, in a per-thread table indexed by node (reset to
  // UINT32_MAX for the nodes used before returning); duplicates within a
  // group are found by scanning its products (at most
  // collection_max_products). Nothing is allocated per member beyond the
  // groups themselves.
  thread_local std::vector<uint32_t> group_of_node;
  for (const ScoredItem& s : ranked) {
    const uint32_t node = node_of(s.item);
    if (node == UINT32_MAX) continue;
    if (node >= group_of_node.size()) group_of_node.resize(size_t{node} + 1, UINT32_MAX);
    uint32_t at = group_of_node[node];
    if (at == UINT32_MAX) {
      at = static_cast<uint32_t>(groups.size());
      group_of_node[node] = at;
      groups.push_back({node, 0, {}});
    }
    Collection& g = groups[at];
    g.affinity += s.score;
    for (uint32_t p : products_of(s.item)) {
      if (g.products.size() >= rules.collection_max_products) break;
      if (std::find(g.products.begin(), g.products.end(), p) == g.products.end()) {
        g.products.push_back(p);
      }
    }
  }
  for (const Collection& g : groups) group_of_node[g.node] = UINT32_MAX;
  std::erase_if(groups, [&](const Collection& g) {
    return g.products.size() < std::max<uint32_t>(1, rules.min_collection_products);
  });
  std::sort(groups.begin(), groups.end(), [&](const Collection& a, const Collection& b) {
    if (a.affinity != b.affinity) return a.affinity > b.affinity;
    return node_name(a.node) < node_name(b.node);
  });
  if (groups.size() > rules.card_target_count) groups.resize(rules.card_target_count);
  return groups;
}

Result<RetailFeeds> RetailFeeds::Build(const FeedRules& rules, const Catalog& catalog,
                                       const KeyIndex& keys, const TrainedModel& model,
                                       const RetailSteps& steps, const Ranker& ranker,
                                       std::vector<double> popularity) {
  if (rules.card_target_count == 0 || rules.card_style_listing_maximum == 0 ||
      rules.ranked_keys == 0 || rules.collection_max_products == 0) {
    return Status::InvalidArgument(
        "card_target_count, card_style_listing_maximum, ranked_keys and "
        "collection_max_products must be at least 1");
  }
  RetailFeeds f;
  f.rules_ = rules;
  f.catalog_ = &catalog;
  f.steps_ = &steps;
  f.ranker_ = &ranker;
  const uint32_t num_items = model.items.size();
  auto item_nodes = [&](const std::string& name, const char* what,
                        uint32_t* level) -> Result<std::vector<uint32_t>> {
    std::optional<uint32_t> l = catalog.FindLevel(name);
    if (!l) {
      std::string known;
      for (const std::string& n : catalog.level_names()) known += (known.empty() ? "" : ", ") + n;
      return Status::InvalidArgument(std::string(what) + " '" + name +
                                     "' is not a catalog level (levels: " + known + ")");
    }
    *level = *l;
    ENCORE_ASSIGN_OR_RETURN(std::vector<uint32_t> key_node, keys.NodesAt(catalog, *l));
    std::vector<uint32_t> out(num_items, UINT32_MAX);
    for (uint32_t i = 0; i < num_items; ++i) {
      if (auto k = keys.keys().Find(model.items.Name(i))) out[i] = key_node[*k];
    }
    return out;
  };
  ENCORE_ASSIGN_OR_RETURN(f.brand_of_item_,
                          item_nodes(rules.brand_level, "brand_level", &f.brand_level_));
  ENCORE_ASSIGN_OR_RETURN(f.category_of_item_,
                          item_nodes(rules.category_level, "category_level", &f.category_level_));

  // Encoded products and level names (AppendFeed copies them).
  auto encode_all = [](uint32_t n, auto&& append_one, std::string* text,
                       std::vector<uint32_t>* at) {
    at->assign(size_t{n} + 1, 0);
    for (uint32_t i = 0; i < n; ++i) {
      (*at)[i] = static_cast<uint32_t>(text->size());
      append_one(i, text);
    }
    (*at)[n] = static_cast<uint32_t>(text->size());
  };
  encode_all(
      catalog.size(),
      [&](uint32_t p, std::string* out) {
        out->append("{\"id\":");
        JsonWriter::AppendQuoted(catalog.products().Name(p), out);
        out->append(",\"price\":");
        AppendNumber(catalog.price(p), out);
        out->push_back('}');
      },
      &f.product_json_, &f.product_at_);
  auto quoted_names = [&](uint32_t level, std::string* text, std::vector<uint32_t>* at) {
    const auto& values = catalog.level_values(level);
    encode_all(
        values.size(),
        [&](uint32_t v, std::string* out) { JsonWriter::AppendQuoted(values.Name(v), out); }, text,
        at);
  };
  quoted_names(f.brand_level_, &f.brand_json_, &f.brand_at_);
  quoted_names(f.category_level_, &f.category_json_, &f.category_at_);

  // Fallback: available keys by popularity, diversity-capped.
  popularity.resize(num_items, 0);
  std::vector<uint32_t> order = steps.available_items();
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return popularity[a] > popularity[b]; });
  std::vector<ScoredItem> ranked;
  RankContext ctx;
  ctx.model = &ranker.model();
  for (uint32_t item : order) {
    if (ranked.size() >= rules.ranked_keys) break;
    ScoredItem s{item, static_cast<float>(popularity[item])};
    if (steps.diversity && !steps.diversity->Accepts(ctx, ranked, s)) continue;
    ranked.push_back(s);
  }
  f.fallback_ = f.FromRanked(ranked);
  f.fallback_.fallback = true;
  return f;
}

MemberFeeds RetailFeeds::FromRanked(std::span<const ScoredItem> ranked) const {
  MemberFeeds out;
  out.products = steps_->ExpandToProducts(ranked);
  auto products_of = [&](uint32_t item) { return steps_->products_of(item); };
  auto by = [&](const std::vector<uint32_t>& node_of_item, uint32_t level) {
    return BuildCollections(
        ranked,
        [&](uint32_t item) { return item < node_of_item.size() ? node_of_item[item] : UINT32_MAX; },
        products_of, [&](uint32_t node) { return catalog_->level_values(level).Name(node); },
        rules_);
  };
  out.brands = by(brand_of_item_, brand_level_);
  out.categories = by(category_of_item_, category_level_);
  return out;
}

MemberFeeds RetailFeeds::ForUser(uint32_t user) const {
  QueryOptions q;
  q.n = rules_.ranked_keys;
  q.exclude_seen = false;  // a key seen before still has new products on sale
  q.allow = steps_->available_items();
  return FromRanked(ranker_->RankUser(user, q));
}

void RetailFeeds::AppendFeed(int feed, const MemberFeeds& feeds, std::string* out) const {
  const bool card = feed % 2 == 1;
  const uint32_t cap = card ? rules_.card_style_listing_maximum : UINT32_MAX;
  auto product = [&](uint32_t p) { AppendProduct(p, out); };
  out->push_back('[');
  if (feed < 2) {
    for (size_t i = 0; i < feeds.products.size() && i < cap; ++i) {
      if (i > 0) out->push_back(',');
      product(feeds.products[i]);
    }
  } else {
    const bool brands = feed < 4;
    const std::vector<Collection>& groups = brands ? feeds.brands : feeds.categories;
    const std::string& names = brands ? brand_json_ : category_json_;
    const std::vector<uint32_t>& name_at = brands ? brand_at_ : category_at_;
    for (size_t g = 0; g < groups.size(); ++g) {
      if (g > 0) out->push_back(',');
      out->append("{\"name\":");
      const uint32_t node = groups[g].node;
      out->append(names, name_at[node], name_at[node + 1] - name_at[node]);
      out->append(",\"affinity\":");
      AppendNumber(groups[g].affinity, out);
      out->append(",\"products\":[");
      for (size_t i = 0; i < groups[g].products.size() && i < cap; ++i) {
        if (i > 0) out->push_back(',');
        product(groups[g].products[i]);
      }
      out->append("]}");
    }
  }
  out->push_back(']');
}

void RetailFeeds::AppendProduct(uint32_t p, std::string* out) const {
  out->append(product_json_, product_at_[p], product_at_[p + 1] - product_at_[p]);
}

void RetailFeeds::EncodePayload(std::string_view member, uint64_t snapshot,
                                const MemberFeeds& feeds, std::string* out) const {
  EncodePayload(member, snapshot, feeds, out, nullptr);
}

void RetailFeeds::EncodePayload(std::string_view member, uint64_t snapshot,
                                const MemberFeeds& feeds, std::string* out,
                                FeedSpans* spans) const {
  out->clear();
  out->append("{\"user\":");
  JsonWriter::AppendQuoted(member, out);
  out->append(",\"snapshot\":");
  out->append(std::to_string(snapshot));
  if (feeds.fallback) out->append(",\"fallback\":\"popular\"");
  if (!feeds.segment.empty()) {
    out->append(",\"segment\":");
    JsonWriter::AppendQuoted(feeds.segment, out);
    out->append(feeds.global_model ? ",\"scored_by\":\"global\"" : ",\"scored_by\":\"segment\"");
  }
  out->append(",\"feeds\":{");
  for (int f = 0; f < kNumFeeds; ++f) {
    if (f > 0) out->push_back(',');
    out->push_back('"');
    out->append(kFeedNames[f]);
    out->append("\":");
    if (spans != nullptr) spans->begin[f] = out->size();
    AppendFeed(f, feeds, out);
    if (spans != nullptr) spans->end[f] = out->size();
  }
  out->append("}}");
}

void RetailFeeds::AppendFeedRowFromPayload(int feed, std::string_view member,
                                           std::string_view payload, const FeedSpans& spans,
                                           std::string* out) {
  out->append("{\"member\":");
  JsonWriter::AppendQuoted(member, out);
  out->append(",\"");
  out->append(kFeedNames[feed]);
  out->append("\":");
  out->append(payload.substr(spans.begin[feed], spans.end[feed] - spans.begin[feed]));
  out->push_back('}');
}

void RetailFeeds::EncodeFeedRow(int feed, std::string_view member, const MemberFeeds& feeds,
                                std::string* out) const {
  out->clear();
  out->append("{\"member\":");
  JsonWriter::AppendQuoted(member, out);
  out->append(",\"");
  out->append(kFeedNames[feed]);
  out->append("\":");
  AppendFeed(feed, feeds, out);
  out->push_back('}');
}

}  // namespace encore
