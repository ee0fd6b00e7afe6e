// Tiny hand-made datasets for the evaluation tests: user "u<k>" is index k
// and item "i<k>" is index k, so expectations can be written by index.

#ifndef ENCORE_EVAL_EVAL_TEST_DATA_H_
#define ENCORE_EVAL_EVAL_TEST_DATA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "encore/dataset.h"

namespace encore::testing {

struct Row {
  Row(uint32_t u, uint32_t i, float v = 1, std::optional<int64_t> t = std::nullopt)
      : user(u), item(i), value(v), time(t) {}
  uint32_t user;
  uint32_t item;
  float value;
  std::optional<int64_t> time;
};

// `users` x `items` with the given rows; times are kept when every row has one.
inline Dataset MakeDataset(uint32_t users, uint32_t items, const std::vector<Row>& rows,
                           Feedback feedback = Feedback::kExplicit) {
  InteractionLog log;
  for (uint32_t u = 0; u < users; ++u) log.users.Intern("u" + std::to_string(u));
  for (uint32_t i = 0; i < items; ++i) log.items.Intern("i" + std::to_string(i));
  log.has_times = !rows.empty();
  for (const Row& r : rows) log.has_times = log.has_times && r.time.has_value();
  for (const Row& r : rows) {
    log.user.push_back(r.user);
    log.item.push_back(r.item);
    log.value.push_back(r.value);
    if (log.has_times) log.time.push_back(*r.time);
  }
  DatasetOptions o;
  o.feedback = feedback;
  o.threads = 1;
  Result<Dataset> data = BuildDataset(std::move(log), o);
  ENCORE_CHECK(data.ok());
  return std::move(data).value();
}

}  // namespace encore::testing

#endif  // ENCORE_EVAL_EVAL_TEST_DATA_H_
