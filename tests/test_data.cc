#include "test_data.h"

#include <string>

namespace encore::testing {

Dataset MakeTestDataset(const TestDataOptions& o) {
  InteractionLog log;
  uint64_t state = o.seed * 0x9E3779B97F4A7C15ULL + 1;
  auto next = [&state]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (uint32_t u = 0; u < o.users + o.empty_users; ++u) log.users.Intern("u" + std::to_string(u));
  for (uint32_t i = 0; i < o.items + o.empty_items; ++i) log.items.Intern("i" + std::to_string(i));
  const uint32_t per_cluster = o.items / o.clusters;
  for (uint32_t u = 0; u < o.users; ++u) {
    const uint32_t cluster = u % o.clusters;
    for (uint32_t k = 0; k < o.per_user; ++k) {
      bool in_cluster = next() % 10 < 8;
      uint32_t item = in_cluster ? cluster * per_cluster + static_cast<uint32_t>(next() % per_cluster)
                                 : static_cast<uint32_t>(next() % o.items);
      float value;
      if (o.explicit_ratings) {
        value = in_cluster ? 4.0f + static_cast<float>(next() % 2) : 1.0f + static_cast<float>(next() % 3);
      } else {
        value = 1.0f + static_cast<float>(next() % 3);
      }
      log.user.push_back(u);
      log.item.push_back(item);
      log.value.push_back(value);
    }
  }
  DatasetOptions d;
  d.feedback = o.explicit_ratings ? Feedback::kExplicit : Feedback::kImplicit;
  d.threads = 1;
  auto data = BuildDataset(std::move(log), d);
  ENCORE_CHECK(data.ok());
  return std::move(data).value();
}

}  // namespace encore::testing
