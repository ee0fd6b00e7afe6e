// Roll-up of product events to keys of levels (encore/catalog.h).

#include <algorithm>
#include <unordered_map>

#include "encore/catalog.h"

namespace encore {

std::map<std::string, float> DefaultRetailWeights() {
  return {{"view", 3.0f}, {"cart", 10.0f}, {"still_want_it", 30.0f}, {"purchase", 40.0f}};
}

std::string RollUpReport::Describe() const {
  std::string out = std::to_string(rows_in) + " events, " + std::to_string(rows_used) +
                    " rolled up into " + std::to_string(pairs) + " (member, key) sums";
  if (unknown.rows > 0) out += "; " + unknown.Describe();
  for (const auto& [event, rows] : unweighted) {
    out += "; " + std::to_string(rows) + " '" + event + "' event(s) have no weight";
  }
  return out;
}

Result<InteractionLog> RollUpLog(const InteractionLog& log, const Catalog& catalog,
                                 const KeyIndex& keys, const std::map<std::string, float>& weights,
                                 RollUpReport* report) {
  RollUpReport local;
  if (report == nullptr) report = &local;
  *report = RollUpReport();
  if (!weights.empty() && !log.has_events) {
    return Status::InvalidArgument(
        "roll-up weights need an event column in the events (name it with event_col), or give "
        "no weights to sum the rows' values");
  }
  report->unknown = FindUnknownProducts(log, catalog);
  // Per log item: its key (UINT32_MAX when unknown); per event type: weight or NaN.
  std::vector<uint32_t> key_of_item(log.items.size(), UINT32_MAX);
  for (uint32_t i = 0; i < log.items.size(); ++i) {
    if (std::optional<uint32_t> p = catalog.products().Find(log.items.Name(i))) {
      key_of_item[i] = keys.key_of(*p);
    }
  }
  std::vector<float> weight(log.events.size(), 1.0f);
  std::vector<char> weighted(log.events.size(), 1);
  std::vector<uint64_t> unweighted(log.events.size(), 0);
  if (!weights.empty()) {
    for (uint32_t e = 0; e < log.events.size(); ++e) {
      auto it = weights.find(std::string(log.events.Name(e)));
      weighted[e] = it != weights.end();
      if (weighted[e]) weight[e] = it->second;
    }
  }
  struct Sum {
    float value = 0;
    int64_t time = INT64_MIN;
  };
  std::unordered_map<uint64_t, Sum> sums;
  report->rows_in = log.size();
  for (size_t r = 0; r < log.size(); ++r) {
    const uint32_t key = key_of_item[log.item[r]];
    if (key == UINT32_MAX) continue;
    float v = log.value[r];
    if (!weights.empty()) {
      const uint32_t e = log.event[r];
      if (!weighted[e]) {
        ++unweighted[e];
        continue;
      }
      v = weight[e];
    }
    Sum& s = sums[(uint64_t{log.user[r]} << 32) | key];
    s.value += v;
    if (log.has_times) s.time = std::max(s.time, log.time[r]);
    ++report->rows_used;
  }
  for (uint32_t e = 0; e < log.events.size(); ++e) {
    if (unweighted[e] > 0) report->unweighted.emplace_back(log.events.Name(e), unweighted[e]);
  }
  std::vector<uint64_t> pairs;
  pairs.reserve(sums.size());
  for (const auto& [k, s] : sums) pairs.push_back(k);
  std::sort(pairs.begin(), pairs.end());
  InteractionLog out;
  out.users = log.users.Clone();
  out.has_times = log.has_times;
  std::vector<uint32_t> item_of_key(keys.num_keys(), UINT32_MAX);
  for (uint64_t k : pairs) {
    const uint32_t key = static_cast<uint32_t>(k);
    if (item_of_key[key] == UINT32_MAX) item_of_key[key] = out.items.Intern(keys.keys().Name(key));
    const Sum& s = sums[k];
    out.user.push_back(static_cast<uint32_t>(k >> 32));
    out.item.push_back(item_of_key[key]);
    out.value.push_back(s.value);
    if (out.has_times) out.time.push_back(s.time);
  }
  report->pairs = pairs.size();
  return out;
}

}  // namespace encore
