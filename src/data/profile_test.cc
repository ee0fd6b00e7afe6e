#include "encore/profile.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <string>
#include <vector>

#include "util/time_format.h"

namespace encore {
namespace {

using namespace std::string_literals;

struct Cell {
  std::string user, item;
  float value;
};

// A dataset holding exactly `cells` (distinct pairs), plus `extra_users`
// users without entries.
Dataset MakeDataset(const std::vector<Cell>& cells, int extra_users = 0) {
  InteractionLog log;
  for (const Cell& c : cells) {
    log.user.push_back(log.users.Intern(c.user));
    log.item.push_back(log.items.Intern(c.item));
    log.value.push_back(c.value);
  }
  for (int k = 0; k < extra_users; ++k) log.users.Intern("extra" + std::to_string(k));
  DatasetOptions o;
  o.feedback = Feedback::kExplicit;
  Result<Dataset> d = BuildDataset(std::move(log), o);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return std::move(d).value();
}

// One user with one value per item: a histogram of exactly `values`.
Dataset ValuesDataset(const std::vector<float>& values) {
  std::vector<Cell> cells;
  for (size_t k = 0; k < values.size(); ++k) cells.push_back({"u", std::to_string(k), values[k]});
  return MakeDataset(cells);
}

std::vector<HistogramBin> HistogramOf(const std::vector<float>& values) {
  return ComputeProfile(ValuesDataset(values), ReadReport{}).value_histogram;
}

std::vector<std::pair<std::string, uint64_t>> Bins(const std::vector<HistogramBin>& bins) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const HistogramBin& b : bins) out.emplace_back(b.label, b.count);
  return out;
}
using Expected = std::vector<std::pair<std::string, uint64_t>>;

void ExpectDistribution(const CountDistribution& d, uint64_t min, uint64_t p50, uint64_t p90,
                        uint64_t p99, uint64_t max, double mean) {
  EXPECT_EQ(d.min, min);
  EXPECT_EQ(d.p50, p50);
  EXPECT_EQ(d.p90, p90);
  EXPECT_EQ(d.p99, p99);
  EXPECT_EQ(d.max, max);
  EXPECT_DOUBLE_EQ(d.mean, mean);
}

TEST(ComputeProfile, PercentilesUseNearestRank) {
  // User k (1..10) rates items 0..k-1: per-user counts 1..10, per-item 10..1.
  std::vector<Cell> cells;
  for (int k = 1; k <= 10; ++k) {
    for (int i = 0; i < k; ++i) cells.push_back({"u" + std::to_string(k), std::to_string(i), 1});
  }
  DataProfile p = ComputeProfile(MakeDataset(cells), ReadReport{});
  // n = 10: p50 is the 5th smallest, p90 the 9th, p99 the ceil(9.9) = 10th.
  ExpectDistribution(p.per_user, 1, 5, 9, 10, 10, 5.5);
  ExpectDistribution(p.per_item, 1, 5, 9, 10, 10, 5.5);

  // Counts 1..200: p50 = 100th, p90 = 180th, p99 = 198th smallest.
  cells.clear();
  for (int k = 1; k <= 200; ++k) {
    for (int i = 0; i < k; ++i) cells.push_back({"u" + std::to_string(k), std::to_string(i), 1});
  }
  ExpectDistribution(ComputeProfile(MakeDataset(cells), ReadReport{}).per_user, 1, 100, 180, 198,
                     200, 100.5);
}

TEST(ComputeProfile, UsersWithoutEntriesCountAsZero) {
  std::vector<Cell> cells;
  for (int i = 0; i < 7; ++i) cells.push_back({"busy", std::to_string(i), 1});
  DataProfile p = ComputeProfile(MakeDataset(cells, 3), ReadReport{});
  // Counts {0, 0, 0, 7}: p50 = 2nd smallest, p90 = ceil(3.6) = 4th.
  ExpectDistribution(p.per_user, 0, 0, 7, 7, 7, 1.75);
  ExpectDistribution(p.per_item, 1, 1, 1, 1, 1, 1.0);
}

TEST(ComputeProfile, CountsAndDensity) {
  ReadReport report;
  report.rows_read = 9;
  report.rows_accepted = 6;
  report.AddRejection("bad number", {});
  report.AddRejection("bad number", {});
  report.AddRejection("missing user", {});
  Dataset d = MakeDataset(
      {{"a", "x", 1}, {"a", "y", 1}, {"b", "x", 1}, {"b", "z", 1}, {"c", "w", 1}, {"c", "y", 1}});
  DataProfile p = ComputeProfile(d, report);
  EXPECT_EQ(p.rows_read, 9u);
  EXPECT_EQ(p.rows_accepted, 6u);
  EXPECT_EQ(p.rows_rejected, 3u);
  EXPECT_EQ(p.rejects_by_kind, (Expected{{"bad number", 2}, {"missing user", 1}}));
  EXPECT_EQ(p.users, 3u);
  EXPECT_EQ(p.items, 4u);
  EXPECT_EQ(p.nonzeros, 6u);
  EXPECT_DOUBLE_EQ(p.density, 6.0 / 12.0);
  EXPECT_NE(FormatProfileTable(p).find("density     50.0000%   (sparsity 50.0000%)\n"),
            std::string::npos);

  DataProfile empty = ComputeProfile(MakeDataset({}), ReadReport{});
  EXPECT_EQ(empty.density, 0);
  EXPECT_TRUE(empty.value_histogram.empty());
  ExpectDistribution(empty.per_user, 0, 0, 0, 0, 0, 0);
}

TEST(ComputeProfile, ChartDistributionsInPowerOfTwoBinsAndDays) {
  // Users with 1, 2, 3, 4 and 9 items, plus one without any.
  std::vector<Cell> cells;
  for (int k : {1, 2, 3, 4, 9}) {
    for (int i = 0; i < k; ++i) cells.push_back({"u" + std::to_string(k), std::to_string(i), 1});
  }
  DataProfile p = ComputeProfile(MakeDataset(cells, 1), ReadReport{});
  EXPECT_EQ(Bins(p.per_user_histogram),
            (Expected{{"0", 1}, {"1", 1}, {"2-3", 2}, {"4-7", 1}, {"8-15", 1}}));
  // Item 0 has 5 users, 1: 4, 2: 3, 3: 2, 4..8: 1.
  EXPECT_EQ(Bins(p.per_item_histogram), (Expected{{"0", 0}, {"1", 5}, {"2-3", 2}, {"4-7", 2}}));
  EXPECT_TRUE(p.over_time.empty());  // no times

  // Times: two on day 0 (one of them its last second), one on day 2.
  InteractionLog log;
  const int64_t day0 = 20000 * 86400;
  for (auto [u, t] : {std::pair{"a", day0 + 5}, {"b", day0 + 86399}, {"c", day0 + 2 * 86400}}) {
    log.user.push_back(log.users.Intern(u));
    log.item.push_back(log.items.Intern("x"));
    log.value.push_back(1);
    log.time.push_back(t);
  }
  log.has_times = true;
  Result<Dataset> d = BuildDataset(std::move(log), DatasetOptions{});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  p = ComputeProfile(*d, ReadReport{});
  EXPECT_EQ(p.time_bucket_seconds, 86400);
  using Buckets = std::vector<std::pair<int64_t, uint64_t>>;
  EXPECT_EQ(p.over_time, (Buckets{{day0, 2}, {day0 + 86400, 0}, {day0 + 2 * 86400, 1}}));
  const std::string json = FormatProfileJson(p);
  EXPECT_NE(json.find("\"time_bucket_seconds\": 86400"), std::string::npos) << json;
}

TEST(FormatProfileTable, DensityIsTruncatedAndSparsityIsItsComplement) {
  DataProfile p;
  p.users = 610;
  p.items = 9724;
  p.nonzeros = 100836;
  p.density = 100836.0 / (610.0 * 9724.0);  // 1.69996...%
  EXPECT_NE(FormatProfileTable(p).find("density     1.6999%   (sparsity 98.3001%)\n"),
            std::string::npos)
      << FormatProfileTable(p);
  p.density = 1e-11;  // 1e-9 %: more decimals, three significant digits
  EXPECT_NE(FormatProfileTable(p).find("density     0.00000000100%   (sparsity 99.99999999900%)"),
            std::string::npos)
      << FormatProfileTable(p);
  p.density = 1;
  EXPECT_NE(FormatProfileTable(p).find("100.0000%   (sparsity 0.0000%)"), std::string::npos);
}

TEST(ValueHistogram, OneBinPerValueWhenFewDistinct) {
  EXPECT_EQ(Bins(HistogramOf({4, 0.5, 4, 1.25, 3, -2, 0})),
            (Expected{{"-2", 1}, {"0", 1}, {"0.5", 1}, {"1.25", 1}, {"3", 1}, {"4", 2}}));
  EXPECT_EQ(Bins(HistogramOf({1000000, 0.1f, 0.001f})),
            (Expected{{"0.001", 1}, {"0.1", 1}, {"1000000", 1}}));
  std::vector<float> twenty;
  for (int k = 1; k <= 20; ++k) twenty.push_back(static_cast<float>(k));
  EXPECT_EQ(HistogramOf(twenty).size(), 20u);
}

TEST(ValueHistogram, PowersOfTwoWhenPositiveAndWide) {
  std::vector<float> values;
  for (int v = 1; v <= 1000; ++v) values.push_back(static_cast<float>(v));
  EXPECT_EQ(Bins(HistogramOf(values)), (Expected{{"[1, 2)", 1},
                                                 {"[2, 4)", 2},
                                                 {"[4, 8)", 4},
                                                 {"[8, 16)", 8},
                                                 {"[16, 32)", 16},
                                                 {"[32, 64)", 32},
                                                 {"[64, 128)", 64},
                                                 {"[128, 256)", 128},
                                                 {"[256, 512)", 256},
                                                 {"[512, 1024)", 489}}));
  // 2^-3 .. 2^20 (24 octaves): 3 octaves a bin, 8 bins.
  values.clear();
  for (int e = -3; e <= 20; ++e) values.push_back(std::ldexp(1.0f, e));
  const auto bins = HistogramOf(values);
  ASSERT_EQ(bins.size(), 8u);
  EXPECT_EQ(bins.front().label, "[0.125, 1)");
  EXPECT_EQ(bins.back().label, "[262144, 2097152)");
  for (const auto& b : bins) EXPECT_EQ(b.count, 3u);
}

TEST(ValueHistogram, EqualNiceWidthsOtherwise) {
  std::vector<float> values;
  for (int v = 1; v <= 30; ++v) values.push_back(static_cast<float>(v));
  // Span 29: width 5 (the nice width >= 2.9), edges at multiples of 5.
  EXPECT_EQ(Bins(HistogramOf(values)), (Expected{{"[0, 5)", 4},
                                                 {"[5, 10)", 5},
                                                 {"[10, 15)", 5},
                                                 {"[15, 20)", 5},
                                                 {"[20, 25)", 5},
                                                 {"[25, 30)", 5},
                                                 {"[30, 35)", 1}}));

  values.clear();  // 0, 1, ..., 24: width 2.5
  for (int v = 0; v <= 24; ++v) values.push_back(static_cast<float>(v));
  Expected expected;
  for (int b = 0; b < 10; ++b) {
    auto edge = [](int k) {
      return k % 2 == 0 ? std::to_string(k / 2 * 5) : std::to_string(k / 2 * 5 + 2) + ".5";
    };
    expected.emplace_back("[" + edge(b) + ", " + edge(b + 1) + ")", b % 2 == 0 ? 3 : 2);
  }
  EXPECT_EQ(Bins(HistogramOf(values)), expected);

  values.clear();  // 0, 0.125, ..., 3: width 0.5, no trailing zeros
  for (int k = 0; k <= 24; ++k) values.push_back(k * 0.125f);
  EXPECT_EQ(Bins(HistogramOf(values)), (Expected{{"[0, 0.5)", 4},
                                                 {"[0.5, 1)", 4},
                                                 {"[1, 1.5)", 4},
                                                 {"[1.5, 2)", 4},
                                                 {"[2, 2.5)", 4},
                                                 {"[2.5, 3)", 4},
                                                 {"[3, 3.5)", 1}}));

  values.clear();  // -10..10: width 2 from -10
  for (int v = -10; v <= 10; ++v) values.push_back(static_cast<float>(v));
  const auto bins = HistogramOf(values);
  ASSERT_EQ(bins.size(), 11u);
  EXPECT_EQ(bins.front().label, "[-10, -8)");
  EXPECT_EQ(bins.front().count, 2u);
  EXPECT_EQ(bins.back().label, "[10, 12)");
  EXPECT_EQ(bins.back().count, 1u);
}

TEST(FormatUtcTime, IsoEightSixZeroOne) {
  EXPECT_EQ(FormatUtcTime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatUtcTime(951782400), "2000-02-29T00:00:00Z");
  EXPECT_EQ(FormatUtcTime(1537799250), "2018-09-24T14:27:30Z");
  EXPECT_EQ(FormatUtcTime(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatUtcTime(253402300799), "9999-12-31T23:59:59Z");
  EXPECT_EQ(FormatUtcTime(253402300800), "@253402300800");
}

DataProfile SampleProfile() {
  DataProfile p;
  p.memory_dictionaries = 600000;
  p.memory_csr = 1250000;
  p.memory_csc = 1300000;
  p.rows_read = 100840;
  p.rows_accepted = 100836;
  p.rows_rejected = 4;
  p.users = 610;
  p.items = 9724;
  p.nonzeros = 100836;
  p.density = 100836.0 / (610.0 * 9724.0);
  p.per_user = {20, 70, 400, 1345, 2698, 165.3};
  p.per_item = {1, 3, 27, 98, 329, 10.4};
  p.value_histogram = {{"0.5", 1370}, {"1", 2811}, {"4", 26818}, {"5", 13211}};
  p.event_counts = {{"view", 90000}, {"purchase", 10836}};
  p.time_min = 828124615;
  p.time_max = 1537799250;
  p.rejects_by_kind = {{"bad number", 3}, {"missing user", 1}};
  return p;
}

TEST(FormatProfileTable, ReadableAlignedTable) {
  const std::string expected =
      "rows        read 100,840   accepted 100,836   rejected 4\n"
      "users       610\n"
      "items       9,724\n"
      "nonzeros    100,836\n"
      "density     1.6999%   (sparsity 98.3001%)\n"
      "            min   p50   p90     p99     max    mean\n"
      "per user     20    70   400   1,345   2,698   165.3\n"
      "per item      1     3    27      98     329    10.4\n"
      "values      0.5   1,370    3.1%  ##\n"
      "            1     2,811    6.4%  ####\n"
      "            4    26,818   60.7%  ########################################\n"
      "            5    13,211   29.9%  ####################\n"
      "events      view      90,000   89.3%\n"
      "            purchase  10,836   10.7%\n"
      "time        1996-03-29T18:36:55Z \u2192 2018-09-24T14:27:30Z\n"
      "rejected    bad number    3   75.0%\n"
      "            missing user  1   25.0%\n"
      "memory      3.1 MB: ids 0.6 MB, CSR 1.2 MB, CSC 1.3 MB\n";
  EXPECT_EQ(FormatProfileTable(SampleProfile()), expected);
}

TEST(FormatProfileTable, OptionalSectionsOnlyWhenPresent) {
  DataProfile p = SampleProfile();
  p.event_counts.clear();
  p.time_min.reset();
  p.time_max.reset();
  p.rejects_by_kind.clear();
  const std::string table = FormatProfileTable(p);
  EXPECT_EQ(table.find("events"), std::string::npos);
  EXPECT_EQ(table.find("time"), std::string::npos);
  EXPECT_EQ(table.find("rejected    "), std::string::npos);
}

TEST(FormatProfileJson, IsValidJsonWithEveryKey) {
  DataProfile p = SampleProfile();
  const std::string weird_event = "say \"hi\"\n\ttab\x01\x1f\\ nul\0end"s;
  p.event_counts.emplace_back(weird_event, 7);
  p.rejects_by_kind.emplace_back("bad\xff byte", 2);
  const std::string json = FormatProfileJson(p);

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(json).get(root), simdjson::SUCCESS) << json;
  auto u64 = [&](const char* key) { return uint64_t(root[key].get_uint64()); };
  EXPECT_EQ(u64("rows_read"), 100840u);
  EXPECT_EQ(u64("rows_accepted"), 100836u);
  EXPECT_EQ(u64("rows_rejected"), 4u);
  EXPECT_EQ(u64("users"), 610u);
  EXPECT_EQ(u64("items"), 9724u);
  EXPECT_EQ(u64("nonzeros"), 100836u);
  EXPECT_DOUBLE_EQ(double(root["density"]), p.density);
  EXPECT_DOUBLE_EQ(double(root["density_percent"]), p.density * 100);
  EXPECT_DOUBLE_EQ(double(root["sparsity_percent"]), 100 - p.density * 100);
  EXPECT_EQ(uint64_t(root["per_user"]["p99"]), 1345u);
  EXPECT_DOUBLE_EQ(double(root["per_user"]["mean"]), 165.3);
  EXPECT_EQ(uint64_t(root["per_item"]["max"]), 329u);
  simdjson::dom::array values = root["values"];
  ASSERT_EQ(values.size(), 4u);
  EXPECT_EQ(std::string_view(values.at(0)["label"]), "0.5");
  EXPECT_EQ(uint64_t(values.at(2)["count"]), 26818u);
  EXPECT_EQ(uint64_t(root["events"]["view"]), 90000u);
  EXPECT_EQ(uint64_t(root["events"][weird_event]), 7u) << "the name survives escaping";
  EXPECT_EQ(std::string_view(root["time_min"]), "1996-03-29T18:36:55Z");
  EXPECT_EQ(int64_t(root["time_max_unix"]), 1537799250);
  EXPECT_EQ(uint64_t(root["rejects_by_kind"]["bad number"]), 3u);
  EXPECT_EQ(uint64_t(root["rejects_by_kind"]["bad\xEF\xBF\xBD byte"]), 2u);

  DataProfile bare;
  const std::string bare_json = FormatProfileJson(bare);
  ASSERT_EQ(parser.parse(bare_json).get(root), simdjson::SUCCESS) << bare_json;
  EXPECT_TRUE(root["time_min"].is_null());
  EXPECT_TRUE(root["time_max_unix"].is_null());
  EXPECT_EQ(root["values"].get_array().size(), 0u);
  EXPECT_EQ(double(root["density"]), 0);
}

}  // namespace
}  // namespace encore
