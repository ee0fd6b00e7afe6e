// Hand-worked collection rules (encore/retail_feeds.h).

#include "encore/retail_feeds.h"

#include <gtest/gtest.h>

#include <map>

namespace encore {
namespace {

// Keys 0..4 in rank order; key -> group and products:
//   key 0 (0.5) group A products {1, 2}
//   key 1 (0.4) group B products {3}
//   key 2 (0.3) group A products {2, 4}   (2 is a duplicate)
//   key 3 (0.2) group B products {5}
//   key 4 (0.1) group C products {6, 7, 8}
TEST(RetailFeedsCollections, SumsAffinityDedupsCapsDropsAndKeepsTheTop) {
  std::vector<ScoredItem> ranked = {{0, 0.5f}, {1, 0.4f}, {2, 0.3f}, {3, 0.2f}, {4, 0.1f}};
  std::map<uint32_t, uint32_t> group = {{0, 0}, {1, 1}, {2, 0}, {3, 1}, {4, 2}};
  std::map<uint32_t, std::vector<uint32_t>> products = {
      {0, {1, 2}}, {1, {3}}, {2, {2, 4}}, {3, {5}}, {4, {6, 7, 8}}};
  const char* names[] = {"A", "B", "C"};
  FeedRules rules;
  rules.collection_max_products = 10;
  rules.min_collection_products = 2;
  rules.card_target_count = 10;
  auto run = [&] {
    return BuildCollections(
        ranked, [&](uint32_t i) { return group.at(i); },
        [&](uint32_t i) { return std::span<const uint32_t>(products.at(i)); },
        [&](uint32_t n) { return std::string_view(names[n]); }, rules);
  };
  std::vector<Collection> c = run();
  ASSERT_EQ(c.size(), 3u);
  // A: 0.5 + 0.3 = 0.8, products 1, 2, 4; B: 0.4 + 0.2 = 0.6, products 3, 5; C: 0.1.
  EXPECT_EQ(c[0].node, 0u);
  EXPECT_NEAR(c[0].affinity, 0.8, 1e-6);
  EXPECT_EQ(c[0].products, (std::vector<uint32_t>{1, 2, 4}));
  EXPECT_EQ(c[1].node, 1u);
  EXPECT_NEAR(c[1].affinity, 0.6, 1e-6);
  EXPECT_EQ(c[1].products, (std::vector<uint32_t>{3, 5}));
  EXPECT_EQ(c[2].node, 2u);

  // Minimum 3 products: B (2 products) is dropped.
  rules.min_collection_products = 3;
  c = run();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].node, 0u);
  EXPECT_EQ(c[1].node, 2u);

  // Cap 2 products per collection: A keeps 1, 2 and then C (3 products) is
  // capped to 2 and dropped below the minimum 3 as well.
  rules.collection_max_products = 2;
  c = run();
  EXPECT_TRUE(c.empty());

  // Top 1 group.
  rules.collection_max_products = 10;
  rules.min_collection_products = 1;
  rules.card_target_count = 1;
  c = run();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].node, 0u);
}

TEST(RetailFeedsCollections, TiesByNodeName) {
  std::vector<ScoredItem> ranked = {{0, 0.5f}, {1, 0.5f}};
  std::vector<uint32_t> p0 = {1}, p1 = {2};
  const char* names[] = {"zeta", "alpha"};
  FeedRules rules;
  rules.min_collection_products = 1;
  std::vector<Collection> c = BuildCollections(
      ranked, [](uint32_t i) { return i; },
      [&](uint32_t i) { return std::span<const uint32_t>(i == 0 ? p0 : p1); },
      [&](uint32_t n) { return std::string_view(names[n]); }, rules);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].node, 1u);  // "alpha" before "zeta"
}

TEST(RetailFeedsNames, RoundTrip) {
  for (int f = 0; f < kNumFeeds; ++f) EXPECT_EQ(FindFeed(FeedName(f)), f);
  EXPECT_EQ(FindFeed("bogus"), -1);
}

}  // namespace
}  // namespace encore
