// Small synthetic datasets for model tests: users in taste clusters, each
// interacting mostly with its cluster's items, so every model has structure
// to find. Deterministic for a seed.

#ifndef ENCORE_TESTS_TEST_DATA_H_
#define ENCORE_TESTS_TEST_DATA_H_

#include <cstdint>

#include "encore/dataset.h"

namespace encore::testing {

struct TestDataOptions {
  uint32_t users = 60;
  uint32_t items = 40;
  uint32_t clusters = 4;
  uint32_t per_user = 8;        // interactions per user (before duplicates merge)
  bool explicit_ratings = false;  // ratings 1..5 (higher in-cluster) instead of counts
  uint32_t empty_users = 1;     // extra users with no interactions (last indices)
  uint32_t empty_items = 1;     // extra items nobody touched (last indices)
  uint64_t seed = 7;
};

Dataset MakeTestDataset(const TestDataOptions& options = {});

}  // namespace encore::testing

#endif  // ENCORE_TESTS_TEST_DATA_H_
