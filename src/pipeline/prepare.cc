#include "pipeline/prepare.h"

#include <algorithm>
#include <chrono>
#include <limits>

namespace encore::pipeline {

namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint32_t MapIndex(std::vector<uint32_t>* map, uint32_t old, const IdDictionary& from,
                  IdDictionary* to) {
  uint32_t& slot = (*map)[old];
  if (slot == kNone) slot = to->Intern(from.Name(old));
  return slot;
}

}  // namespace

bool SampleKeepsUser(std::string_view id, double fraction, uint64_t seed) {
  if (fraction >= 1) return true;
  uint64_t h = 1469598103934665603ull;  // FNV-1a, then mixed with the seed
  for (unsigned char c : id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h = SplitMix(h ^ SplitMix(seed));
  const double u = static_cast<double>(h >> 11) * 0x1.0p-53;
  return u < fraction;
}

int64_t WindowStart(int64_t newest, const WindowSpec& window) {
  using namespace std::chrono;
  switch (window.unit) {
    case WindowSpec::Unit::kDays:
      return newest - window.amount * 86400;
    case WindowSpec::Unit::kWeeks:
      return newest - window.amount * 7 * 86400;
    case WindowSpec::Unit::kMonths:
      break;
  }
  const sys_seconds t{seconds{newest}};
  const sys_days day = floor<days>(t);
  const seconds time_of_day = t - day;
  year_month_day ymd{day};
  ymd -= months{window.amount};
  if (!ymd.ok()) ymd = year_month_day_last(ymd.year(), month_day_last(ymd.month()));
  return (sys_days(ymd) + time_of_day).time_since_epoch().count();
}

Result<InteractionLog> CombineLogs(std::vector<InteractionLog> logs,
                                   const std::vector<std::string>& names, const LogFilter& filter,
                                   CombineReport* report) {
  if (logs.empty() || logs.size() != names.size()) {
    return Status::InvalidArgument("combining logs needs at least one log and one name per log (" +
                                   std::to_string(logs.size()) + " logs, " +
                                   std::to_string(names.size()) + " names)");
  }
  *report = CombineReport();
  bool has_events = true, has_times = true;
  for (const auto& log : logs) {
    report->rows_in += log.size();
    has_events = has_events && log.has_events;
    has_times = has_times && log.has_times;
  }
  if (filter.window && !has_times) {
    for (size_t i = 0; i < logs.size(); ++i) {
      if (!logs[i].has_times) {
        return Status::FailedPrecondition(
            "prepare: window '" + filter.window->text + "' needs event times, but source '" +
            names[i] + "' has no time column; set its `time` key or drop the window");
      }
    }
  }
  if (logs.size() == 1 && !filter.window && !filter.sample_fraction) {
    report->rows_after_window = report->rows_after_sample = report->rows_in;
    report->users = logs[0].users.size();
    report->items = logs[0].items.size();
    return std::move(logs[0]);
  }
  int64_t start = std::numeric_limits<int64_t>::min();
  if (filter.window) {
    int64_t newest = std::numeric_limits<int64_t>::min();
    for (const auto& log : logs) {
      for (size_t r = 0; r < log.size(); ++r) newest = std::max(newest, log.time[r]);
    }
    if (newest != std::numeric_limits<int64_t>::min()) {
      start = WindowStart(newest, *filter.window);
      report->window_start = start;
    }
  }
  InteractionLog out;
  out.has_events = has_events;
  out.has_times = has_times;
  for (auto& log : logs) {
    std::vector<uint32_t> user_map(log.users.size(), kNone), item_map(log.items.size(), kNone),
        event_map(log.events.size(), kNone);
    std::vector<int8_t> keep_user(log.users.size(), -1);
    for (size_t r = 0; r < log.size(); ++r) {
      if (filter.window && log.time[r] < start) continue;
      ++report->rows_after_window;
      const uint32_t u = log.user[r];
      if (filter.sample_fraction) {
        if (keep_user[u] < 0) {
          keep_user[u] =
              SampleKeepsUser(log.users.Name(u), *filter.sample_fraction, filter.sample_seed);
        }
        if (!keep_user[u]) continue;
      }
      ++report->rows_after_sample;
      out.user.push_back(MapIndex(&user_map, u, log.users, &out.users));
      out.item.push_back(MapIndex(&item_map, log.item[r], log.items, &out.items));
      out.value.push_back(log.value[r]);
      if (has_events)
        out.event.push_back(MapIndex(&event_map, log.event[r], log.events, &out.events));
      if (has_times) out.time.push_back(log.time[r]);
    }
    log = InteractionLog();  // free each input once copied
  }
  report->users = out.users.size();
  report->items = out.items.size();
  return out;
}

Dataset CompactDataset(const Dataset& data, const std::vector<uint8_t>& keep_user,
                       const std::vector<uint8_t>& keep_item) {
  ENCORE_CHECK(keep_user.size() == data.users.size() && keep_item.size() == data.items.size());
  Dataset out;
  std::vector<uint32_t> item_map(data.items.size(), kNone);
  for (uint32_t u = 0; u < data.users.size(); ++u) {
    if (keep_user[u]) out.users.Intern(data.users.Name(u));
  }
  for (uint32_t i = 0; i < data.items.size(); ++i) {
    if (keep_item[i]) item_map[i] = out.items.Intern(data.items.Name(i));
  }
  const CsrMatrix& in = data.by_user;
  const bool times = !in.times.empty();
  CsrMatrix m;
  m.rows = out.users.size();
  m.cols = out.items.size();
  m.indptr.push_back(0);
  for (uint32_t u = 0; u < in.rows; ++u) {
    if (!keep_user[u]) continue;
    for (uint64_t k = in.indptr[u]; k < in.indptr[u + 1]; ++k) {
      const uint32_t i = item_map[in.indices[k]];
      if (i == kNone) continue;
      m.indices.push_back(i);  // the map is increasing, so rows stay sorted
      m.values.push_back(in.values[k]);
      if (times) m.times.push_back(in.times[k]);
    }
    m.indptr.push_back(m.indices.size());
  }
  out.by_user = std::move(m);
  out.by_item = out.by_user.Transpose();
  out.summary = data.summary;
  return out;
}

Dataset FilterMinCounts(Dataset data, uint32_t min_user, uint32_t min_item,
                        MinCountReport* report) {
  *report = MinCountReport();
  const uint32_t users = data.users.size(), items = data.items.size();
  std::vector<uint8_t> keep_user(users, 1), keep_item(items, 1);
  std::vector<uint64_t> item_count(items, 0);
  uint64_t kept_users = 0, nnz = 0;
  for (uint32_t u = 0; u < users; ++u) {
    const uint64_t n = data.by_user.RowLength(u);
    keep_user[u] = min_user == 0 || n >= min_user;
    if (!keep_user[u]) continue;
    ++kept_users;
    nnz += n;
    for (uint64_t k = data.by_user.indptr[u]; k < data.by_user.indptr[u + 1]; ++k) {
      ++item_count[data.by_user.indices[k]];
    }
  }
  report->users_after_user_filter = kept_users;
  report->items_after_user_filter = static_cast<uint64_t>(
      std::count_if(item_count.begin(), item_count.end(), [](uint64_t c) { return c > 0; }));
  report->nnz_after_user_filter = nnz;
  for (uint32_t i = 0; i < items; ++i) keep_item[i] = min_item == 0 || item_count[i] >= min_item;
  const bool all_kept =
      std::all_of(keep_user.begin(), keep_user.end(), [](uint8_t k) { return k; }) &&
      std::all_of(keep_item.begin(), keep_item.end(), [](uint8_t k) { return k; });
  if (!all_kept) data = CompactDataset(data, keep_user, keep_item);
  report->users = data.users.size();
  report->items = data.items.size();
  report->nnz = data.nnz();
  return data;
}

}  // namespace encore::pipeline
