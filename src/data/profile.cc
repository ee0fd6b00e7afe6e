#include "encore/profile.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>

#include "util/json_writer.h"
#include "util/time_format.h"

namespace encore {

namespace {

constexpr size_t kMaxExactBins = 20;
constexpr int kTargetBins = 10;
constexpr size_t kLabelWidth = 12;  // the first column of the table
constexpr size_t kBarWidth = 40;

// ---- Statistics ----

CountDistribution Distribution(std::vector<uint64_t> counts) {
  CountDistribution d;
  if (counts.empty()) return d;
  const uint64_t n = counts.size();
  uint64_t sum = 0;
  for (uint64_t c : counts) sum += c;
  const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  d.min = *lo;
  d.max = *hi;
  d.mean = static_cast<double>(sum) / static_cast<double>(n);
  // Nearest rank: the ceil(p * n / 100)-th smallest. Each selection leaves
  // the larger counts after it, so the next, higher rank searches only those.
  uint64_t from = 0;
  auto rank = [&](uint64_t p) {
    const uint64_t idx = std::max<uint64_t>(1, (p * n + 99) / 100) - 1;
    std::nth_element(counts.begin() + from, counts.begin() + idx, counts.end());
    from = idx;
    return counts[idx];
  };
  d.p50 = rank(50);
  d.p90 = rank(90);
  d.p99 = rank(99);
  return d;
}

// The shortest text that reads back as `v` ("0.5", "4", "1e-07").
std::string ShortestNumber(double v) {
  char buf[40];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("?");
}

// A matrix value as a bin label: the float's shortest form, in plain
// decimals for ordinary magnitudes ("1000000", "0.001").
std::string ValueLabel(float v) {
  if (v == 0) return "0";  // also -0
  const float a = std::fabs(v);
  char buf[64];
  auto fmt = a >= 1e-4f && a < 1e15f ? std::chars_format::fixed : std::chars_format::general;
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, fmt);
  return ec == std::errc() ? std::string(buf, end) : ShortestNumber(v);
}

std::string Range(const std::string& lo, const std::string& hi) {
  return "[" + lo + ", " + hi + ")";
}

// floor(log2(v)) for v > 0, exactly.
int FloorLog2(double v) {
  int e = 0;
  std::frexp(v, &e);  // v = m * 2^e with m in [0.5, 1)
  return e - 1;
}

// floor(log2(v)) for a float v > 0, exactly: its exponent bits when it is
// normal (no libm call: this runs once per nonzero), else FloorLog2.
int FloorLog2(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  const int biased = static_cast<int>(bits >> 23 & 0xFF);
  if (biased == 0 || biased == 0xFF) return FloorLog2(static_cast<double>(v));
  return biased - 127;
}

std::vector<HistogramBin> ValueHistogram(const std::vector<float>& values) {
  std::vector<HistogramBin> bins;
  if (values.empty()) return bins;

  std::map<float, uint64_t> exact;  // -0 and 0 share a key
  for (float v : values) {
    ++exact[v];
    if (exact.size() > kMaxExactBins) break;
  }
  if (exact.size() <= kMaxExactBins) {
    for (const auto& [v, count] : exact) bins.push_back({ValueLabel(v), count});
    return bins;
  }

  const auto [lo_it, hi_it] = std::minmax_element(values.begin(), values.end());
  const double lo = *lo_it, hi = *hi_it;
  if (lo > 0 && hi / lo > 100) {
    // Powers of two, `step` octaves a bin.
    const int first = FloorLog2(lo);
    const int octaves = FloorLog2(hi) - first + 1;
    const int step = (octaves + kTargetBins - 1) / kTargetBins;
    const int n = (octaves + step - 1) / step;
    for (int b = 0; b < n; ++b) {
      bins.push_back({Range(ShortestNumber(std::ldexp(1.0, first + b * step)),
                            ShortestNumber(std::ldexp(1.0, first + (b + 1) * step))),
                      0});
    }
    for (float v : values) ++bins[(FloorLog2(v) - first) / step].count;  // v >= lo > 0
    return bins;
  }

  // Equal widths: the smallest of 1, 2, 2.5, 5 x 10^k giving <= ~10 bins,
  // with edges at multiples of the width.
  const double raw = (hi - lo) / kTargetBins;
  const int exponent = static_cast<int>(std::floor(std::log10(raw)));
  const double magnitude = std::pow(10.0, exponent);
  double width = 10 * magnitude;
  int decimals = std::max(0, -exponent - 1);  // digits the edges need
  for (double m : {1.0, 2.0, 2.5, 5.0}) {
    if (m * magnitude >= raw * (1 - 1e-12)) {
      width = m * magnitude;
      decimals = std::max(0, -exponent + (m == 2.5 ? 1 : 0));
      break;
    }
  }
  const int64_t first = static_cast<int64_t>(std::floor(lo / width));
  const int64_t last = static_cast<int64_t>(std::floor(hi / width));
  const int64_t n = last - first + 1;
  auto edge = [&](int64_t k) {
    const double x = static_cast<double>(k) * width;
    if (x == 0) return std::string("0");
    if (std::fabs(x) >= 1e15 || decimals > 15) return ShortestNumber(x);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
    std::string text = buf;
    if (text.find('.') != std::string::npos) {  // "0.50" -> "0.5", "2.00" -> "2"
      text.erase(text.find_last_not_of('0') + 1);
      if (text.back() == '.') text.pop_back();
    }
    return text;
  };
  for (int64_t b = 0; b < n; ++b) bins.push_back({Range(edge(first + b), edge(first + b + 1)), 0});
  for (float v : values) {
    const int64_t b = static_cast<int64_t>(std::floor(v / width)) - first;
    ++bins[std::clamp<int64_t>(b, 0, n - 1)].count;
  }
  return bins;
}

// ---- Text ----

std::string WithCommas(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string FormatMean(double mean) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", mean);
  const std::string s = buf;
  const size_t dot = s.find('.');
  const uint64_t whole = std::strtoull(s.substr(0, dot).c_str(), nullptr, 10);
  return WithCommas(whole) + s.substr(dot);
}

std::string PadRight(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string PadLeft(const std::string& s, size_t width) {
  return s.size() < width ? std::string(width - s.size(), ' ') + s : s;
}

// Density and sparsity in percent as shown: the density truncated to 4
// decimals (more for very sparse data, keeping 3 significant digits), and the
// sparsity its exact complement at that precision, so the two add to 100.
std::pair<std::string, std::string> DensityText(double density) {
  const double pct = density * 100;
  int decimals = 4;
  if (pct > 0 && pct < 0.01) {
    decimals = std::min(15, 2 - static_cast<int>(std::floor(std::log10(pct))));
  }
  const double scale = std::pow(10.0, decimals);
  const double shown = std::floor(pct * scale + 1e-6) / scale;
  char d[64], s[64];
  std::snprintf(d, sizeof d, "%.*f%%", decimals, shown);
  std::snprintf(s, sizeof s, "%.*f%%", decimals, 100 - shown);
  return {d, s};
}

std::string Percent(uint64_t part, uint64_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", whole == 0 ? 0.0 : 100.0 * part / whole);
  return buf;
}

// Lines "name  count  share  bar" under `title`, columns aligned.
void AppendBars(const std::string& title, const std::vector<std::pair<std::string, uint64_t>>& rows,
                bool bars, std::string* out) {
  size_t name_width = 0, count_width = 0;
  uint64_t total = 0, largest = 0;
  for (const auto& [name, count] : rows) {
    name_width = std::max(name_width, name.size());
    count_width = std::max(count_width, WithCommas(count).size());
    total += count;
    largest = std::max(largest, count);
  }
  bool first = true;
  for (const auto& [name, count] : rows) {
    std::string line = PadRight(first ? title : "", kLabelWidth) + PadRight(name, name_width) +
                       "  " + PadLeft(WithCommas(count), count_width) + "  " +
                       PadLeft(Percent(count, total), 6);
    if (bars && count > 0) {
      const size_t len = std::max<size_t>(
          1, static_cast<size_t>(std::llround(double(count) / double(largest) * kBarWidth)));
      line += "  " + std::string(len, '#');
    }
    *out += line + "\n";
    first = false;
  }
}

std::vector<std::string> DistributionCells(const CountDistribution& d) {
  return {WithCommas(d.min), WithCommas(d.p50), WithCommas(d.p90),
          WithCommas(d.p99), WithCommas(d.max), FormatMean(d.mean)};
}

// Power-of-two bins of counts: "0", "1", "2-3", "4-7", ... up to the largest.
std::vector<HistogramBin> PowerOfTwoBins(const std::vector<uint64_t>& counts) {
  std::vector<HistogramBin> bins;
  auto bin_of = [](uint64_t c) -> size_t { return c == 0 ? 0 : std::bit_width(c); };
  for (uint64_t c : counts) {
    const size_t b = bin_of(c);
    if (bins.size() <= b) bins.resize(b + 1);
    ++bins[b].count;
  }
  for (size_t b = 0; b < bins.size(); ++b) {
    if (b == 0) {
      bins[b].label = "0";
    } else if (b == 1) {
      bins[b].label = "1";
    } else {
      const uint64_t low = uint64_t{1} << (b - 1);
      bins[b].label = std::to_string(low) + "-" + std::to_string(2 * low - 1);
    }
  }
  return bins;
}

}  // namespace

DataProfile ComputeProfile(const Dataset& data, const ReadReport& report) {
  DataProfile p;
  p.rows_read = report.rows_read;
  p.rows_accepted = report.rows_accepted;
  p.rows_rejected = report.rows_rejected;
  p.rejects_by_kind = report.rejects_by_kind;
  p.memory_dictionaries = data.users.MemoryBytes() + data.items.MemoryBytes();
  p.memory_csr = data.by_user.MemoryBytes();
  p.memory_csc = data.by_item.MemoryBytes();

  const CsrMatrix& m = data.by_user;
  p.users = m.rows;
  p.items = m.cols;
  p.nonzeros = m.nnz();
  const double cells = static_cast<double>(p.users) * static_cast<double>(p.items);
  p.density = cells > 0 ? static_cast<double>(p.nonzeros) / cells : 0;

  std::vector<uint64_t> per_user(m.rows);
  for (uint32_t u = 0; u < m.rows; ++u) per_user[u] = m.RowLength(u);
  p.per_user_histogram = PowerOfTwoBins(per_user);
  p.per_user = Distribution(std::move(per_user));

  std::vector<uint64_t> per_item(m.cols, 0);
  if (data.by_item.indptr.size() == uint64_t{m.cols} + 1) {
    for (uint32_t i = 0; i < m.cols; ++i) per_item[i] = data.by_item.RowLength(i);
  } else {  // no CSC built: count from the CSR
    for (uint32_t i : m.indices) ++per_item[i];
  }
  p.per_item_histogram = PowerOfTwoBins(per_item);
  p.per_item = Distribution(std::move(per_item));

  if (!m.times.empty()) {
    const auto [lo, hi] = std::minmax_element(m.times.begin(), m.times.end());
    constexpr int64_t kDay = 86400;
    const int64_t span = *hi - *lo;
    p.time_bucket_seconds = span <= 120 * kDay       ? kDay
                            : span <= 120 * 7 * kDay ? 7 * kDay
                                                     : 30 * kDay;
    // Buckets aligned to whole days (UTC) from the first one.
    const int64_t first = (*lo >= 0 ? *lo : *lo - (kDay - 1)) / kDay * kDay;
    const size_t n = static_cast<size_t>((*hi - first) / p.time_bucket_seconds) + 1;
    p.over_time.resize(n);
    for (size_t b = 0; b < n; ++b) p.over_time[b].first = first + b * p.time_bucket_seconds;
    for (int64_t t : m.times) ++p.over_time[(t - first) / p.time_bucket_seconds].second;
  }

  p.value_histogram = ValueHistogram(m.values);
  p.event_counts = data.summary.event_counts;
  p.time_min = data.summary.time_min;
  p.time_max = data.summary.time_max;
  return p;
}

std::string FormatProfileTable(const DataProfile& p) {
  std::string out;
  auto line = [&out](const std::string& label, const std::string& text) {
    out += PadRight(label, kLabelWidth) + text + "\n";
  };
  line("rows", "read " + WithCommas(p.rows_read) + "   accepted " + WithCommas(p.rows_accepted) +
                   "   rejected " + WithCommas(p.rows_rejected));
  line("users", WithCommas(p.users));
  line("items", WithCommas(p.items));
  line("nonzeros", WithCommas(p.nonzeros));
  const auto [density, sparsity] = DensityText(p.density);
  line("density", density + "   (sparsity " + sparsity + ")");

  const std::vector<std::string> header = {"min", "p50", "p90", "p99", "max", "mean"};
  const std::vector<std::string> users = DistributionCells(p.per_user);
  const std::vector<std::string> items = DistributionCells(p.per_item);
  std::string head_line = std::string(kLabelWidth, ' ');
  std::string user_line = PadRight("per user", kLabelWidth);
  std::string item_line = PadRight("per item", kLabelWidth);
  for (size_t c = 0; c < header.size(); ++c) {
    const size_t w =
        std::max({header[c].size(), users[c].size(), items[c].size()}) + (c == 0 ? 0 : 3);
    head_line += PadLeft(header[c], w);
    user_line += PadLeft(users[c], w);
    item_line += PadLeft(items[c], w);
  }
  out += head_line + "\n" + user_line + "\n" + item_line + "\n";

  if (p.value_histogram.empty()) {
    line("values", "none");
  } else {
    std::vector<std::pair<std::string, uint64_t>> bars;
    for (const HistogramBin& b : p.value_histogram) bars.emplace_back(b.label, b.count);
    AppendBars("values", bars, true, &out);
  }
  if (!p.event_counts.empty()) AppendBars("events", p.event_counts, false, &out);
  if (p.time_min && p.time_max) {
    line("time", FormatUtcTime(*p.time_min) + " \u2192 " + FormatUtcTime(*p.time_max));
  }
  if (!p.rejects_by_kind.empty()) AppendBars("rejected", p.rejects_by_kind, false, &out);
  {
    const uint64_t total = p.memory_dictionaries + p.memory_csr + p.memory_csc;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%.1f MB: ids %.1f MB, CSR %.1f MB, CSC %.1f MB", total / 1e6,
                  p.memory_dictionaries / 1e6, p.memory_csr / 1e6, p.memory_csc / 1e6);
    line("memory", buf);
  }
  return out;
}

namespace {

// "key": [{"label": ..., "count": ...}, ...]
void WriteHistogram(const char* key, const std::vector<HistogramBin>& bins, JsonWriter* w) {
  w->Key(key);
  w->BeginArray();
  for (const HistogramBin& b : bins) {
    w->BeginObject();
    w->Key("label");
    w->String(b.label);
    w->Key("count");
    w->Uint(b.count);
    w->EndObject();
  }
  w->EndArray();
}

}  // namespace

std::string FormatProfileJson(const DataProfile& p) {
  JsonWriter w(2);
  w.BeginObject();
  w.Key("rows_read");
  w.Uint(p.rows_read);
  w.Key("rows_accepted");
  w.Uint(p.rows_accepted);
  w.Key("rows_rejected");
  w.Uint(p.rows_rejected);
  w.Key("users");
  w.Uint(p.users);
  w.Key("items");
  w.Uint(p.items);
  w.Key("nonzeros");
  w.Uint(p.nonzeros);
  w.Key("density");
  w.Double(p.density);
  w.Key("density_percent");
  w.Double(p.density * 100);
  w.Key("sparsity_percent");
  w.Double(100 - p.density * 100);
  for (const auto& [key, d] : {std::pair{"per_user", &p.per_user}, {"per_item", &p.per_item}}) {
    w.Key(key);
    w.BeginObject();
    w.Key("min");
    w.Uint(d->min);
    w.Key("p50");
    w.Uint(d->p50);
    w.Key("p90");
    w.Uint(d->p90);
    w.Key("p99");
    w.Uint(d->p99);
    w.Key("max");
    w.Uint(d->max);
    w.Key("mean");
    w.Double(d->mean);
    w.EndObject();
  }
  WriteHistogram("values", p.value_histogram, &w);
  w.Key("events");
  w.BeginObject();
  for (const auto& [name, count] : p.event_counts) {
    w.Key(name);
    w.Uint(count);
  }
  w.EndObject();
  for (const auto& [key, t] : {std::pair{"time_min", &p.time_min}, {"time_max", &p.time_max}}) {
    w.Key(key);
    if (t->has_value()) {
      w.String(FormatUtcTime(**t));
    } else {
      w.Null();
    }
  }
  for (const auto& [key, t] :
       {std::pair{"time_min_unix", &p.time_min}, {"time_max_unix", &p.time_max}}) {
    w.Key(key);
    if (t->has_value()) {
      w.Int(**t);
    } else {
      w.Null();
    }
  }
  w.Key("rejects_by_kind");
  w.BeginObject();
  for (const auto& [kind, count] : p.rejects_by_kind) {
    w.Key(kind);
    w.Uint(count);
  }
  w.EndObject();
  w.Key("memory");
  w.BeginObject();
  w.Key("dictionaries");
  w.Uint(p.memory_dictionaries);
  w.Key("csr");
  w.Uint(p.memory_csr);
  w.Key("csc");
  w.Uint(p.memory_csc);
  w.Key("total");
  w.Uint(p.memory_dictionaries + p.memory_csr + p.memory_csc);
  w.EndObject();
  WriteHistogram("per_user_histogram", p.per_user_histogram, &w);
  WriteHistogram("per_item_histogram", p.per_item_histogram, &w);
  w.Key("time_bucket_seconds");
  w.Int(p.time_bucket_seconds);
  w.Key("over_time");
  w.BeginArray();
  for (const auto& [start, count] : p.over_time) {
    w.BeginObject();
    w.Key("start");
    w.Int(start);
    w.Key("count");
    w.Uint(count);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.str();
}

}  // namespace encore
