// Preparation steps: combining logs, the time window, user sampling and the
// minimum-count filters.

#include "pipeline/prepare.h"

#include <gtest/gtest.h>

namespace encore::pipeline {
namespace {

// A log from (user, item, time) rows with event "e".
InteractionLog MakeLog(const std::vector<std::tuple<std::string, std::string, int64_t>>& rows) {
  InteractionLog log;
  log.has_times = true;
  log.has_events = true;
  const uint32_t e = log.events.Intern("e");
  for (const auto& [u, i, t] : rows) {
    log.user.push_back(log.users.Intern(u));
    log.item.push_back(log.items.Intern(i));
    log.value.push_back(1);
    log.event.push_back(e);
    log.time.push_back(t);
  }
  return log;
}

int64_t Unix(int y, unsigned m, unsigned d) {
  using namespace std::chrono;
  return sys_days(year{y} / month{m} / day{d}).time_since_epoch().count() * 86400;
}

TEST(PipelinePrepare, WindowStartCountsCalendarMonthsAndClampsTheDay) {
  WindowSpec months{3, WindowSpec::Unit::kMonths, "3 months"};
  EXPECT_EQ(WindowStart(Unix(2024, 5, 31) + 3600, months), Unix(2024, 2, 29) + 3600);
  WindowSpec nine{9, WindowSpec::Unit::kMonths, "9 months"};
  EXPECT_EQ(WindowStart(Unix(2024, 3, 15), nine), Unix(2023, 6, 15));
  EXPECT_EQ(WindowStart(1000000, {2, WindowSpec::Unit::kDays, ""}), 1000000 - 2 * 86400);
  EXPECT_EQ(WindowStart(1000000, {1, WindowSpec::Unit::kWeeks, ""}), 1000000 - 7 * 86400);
}

TEST(PipelinePrepare, CombineKeepsTheWindowAndRebuildsDictionaries) {
  std::vector<InteractionLog> logs;
  logs.push_back(MakeLog({{"old", "x", Unix(2020, 1, 1)}, {"u1", "a", Unix(2024, 1, 10)}}));
  logs.push_back(MakeLog({{"u2", "b", Unix(2024, 1, 1)}, {"u1", "b", Unix(2023, 12, 31)}}));
  LogFilter filter;
  filter.window = WindowSpec{10, WindowSpec::Unit::kDays, "10 days"};
  CombineReport report;
  auto log = CombineLogs(std::move(logs), {"a", "b"}, filter, &report);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(report.rows_in, 4u);
  EXPECT_EQ(report.rows_after_window, 3u);
  EXPECT_EQ(*report.window_start, Unix(2023, 12, 31));
  ASSERT_EQ(log->size(), 3u);
  EXPECT_EQ(log->users.size(), 2u);  // "old" is gone from the dictionary too
  EXPECT_EQ(log->items.size(), 2u);
  EXPECT_FALSE(log->users.Find("old").has_value());
  EXPECT_EQ(log->users.Name(log->user[2]), "u1");
  EXPECT_EQ(log->items.Name(log->item[2]), "b");
  EXPECT_EQ(log->events.size(), 1u);
}

TEST(PipelinePrepare, WindowWithoutTimesIsAClearError) {
  std::vector<InteractionLog> logs(1);
  logs[0].user.push_back(logs[0].users.Intern("u"));
  logs[0].item.push_back(logs[0].items.Intern("i"));
  logs[0].value.push_back(1);
  LogFilter filter;
  filter.window = WindowSpec{1, WindowSpec::Unit::kDays, "1 days"};
  CombineReport report;
  auto log = CombineLogs(std::move(logs), {"clicks"}, filter, &report);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("source 'clicks' has no time column"), std::string::npos);
}

TEST(PipelinePrepare, SamplingIsByUserAndDoesNotDependOnOrder) {
  std::vector<std::tuple<std::string, std::string, int64_t>> rows, reversed;
  for (int u = 0; u < 400; ++u) {
    for (int i = 0; i < 3; ++i)
      rows.emplace_back("u" + std::to_string(u), "i" + std::to_string(i), 0);
  }
  reversed.assign(rows.rbegin(), rows.rend());
  LogFilter filter;
  filter.sample_fraction = 0.25;
  filter.sample_seed = 5;
  CombineReport a, b;
  std::vector<InteractionLog> la, lb;
  la.push_back(MakeLog(rows));
  lb.push_back(MakeLog(reversed));
  auto x = CombineLogs(std::move(la), {"s"}, filter, &a);
  auto y = CombineLogs(std::move(lb), {"s"}, filter, &b);
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_EQ(a.users, b.users);
  EXPECT_GT(a.users, 60u);
  EXPECT_LT(a.users, 140u);
  EXPECT_EQ(a.rows_after_sample, a.users * 3) << "a sampled user keeps all its rows";
  for (uint32_t u = 0; u < x->users.size(); ++u) {
    EXPECT_TRUE(y->users.Find(x->users.Name(u)).has_value());
  }
  EXPECT_TRUE(SampleKeepsUser("anyone", 1.0, 3));
}

TEST(PipelinePrepare, MinCountsDropUsersThenItemsAndRenumber) {
  // u1: a b c; u2: a b; u3: a (dropped by min_user 2); then c has 1 user (dropped by min_item 2).
  auto log = MakeLog({{"u1", "a", 0},
                      {"u1", "b", 0},
                      {"u1", "c", 0},
                      {"u3", "a", 0},
                      {"u2", "a", 0},
                      {"u2", "b", 0}});
  DatasetOptions options;
  auto data = BuildDataset(std::move(log), options);
  ASSERT_TRUE(data.ok());
  MinCountReport report;
  Dataset out = FilterMinCounts(std::move(data).value(), 2, 2, &report);
  EXPECT_EQ(report.users_after_user_filter, 2u);
  EXPECT_EQ(report.nnz_after_user_filter, 5u);
  EXPECT_EQ(report.users, 2u);
  EXPECT_EQ(report.items, 2u);
  EXPECT_EQ(report.nnz, 4u);
  ASSERT_EQ(out.users.size(), 2u);
  EXPECT_EQ(out.users.Name(0), "u1");
  EXPECT_EQ(out.users.Name(1), "u2");
  EXPECT_EQ(out.items.Name(1), "b");
  EXPECT_EQ(out.by_user.indptr, (std::vector<uint64_t>{0, 2, 4}));
  EXPECT_EQ(out.by_user.indices, (std::vector<uint32_t>{0, 1, 0, 1}));
  EXPECT_EQ(out.by_item.rows, 2u);
  EXPECT_EQ(out.by_item.nnz(), 4u);
  EXPECT_EQ(out.by_user.times.size(), 4u);
}

TEST(PipelinePrepare, NoFilterKeepsTheDataAsIs) {
  auto data = BuildDataset(MakeLog({{"u1", "a", 0}, {"u2", "b", 0}}), DatasetOptions());
  ASSERT_TRUE(data.ok());
  MinCountReport report;
  Dataset out = FilterMinCounts(std::move(data).value(), 0, 0, &report);
  EXPECT_EQ(report.users, 2u);
  EXPECT_EQ(report.nnz, 2u);
  EXPECT_EQ(out.users.size(), 2u);
}

}  // namespace
}  // namespace encore::pipeline
