#include "encore/dataset.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace encore {
namespace {

// One log row, by name; empty event / no time when the log lacks the column.
struct Row {
  Row(std::string u, std::string i, float v = 1, std::string e = "", int64_t t = 0)
      : user(std::move(u)), item(std::move(i)), value(v), event(std::move(e)), time(t) {}
  std::string user, item;
  float value;
  std::string event;
  int64_t time;
};

InteractionLog MakeLog(const std::vector<Row>& rows, bool with_events, bool with_times) {
  InteractionLog log;
  log.has_events = with_events;
  log.has_times = with_times;
  for (const Row& r : rows) {
    log.user.push_back(log.users.Intern(r.user));
    log.item.push_back(log.items.Intern(r.item));
    log.value.push_back(r.value);
    if (with_events) log.event.push_back(log.events.Intern(r.event));
    if (with_times) log.time.push_back(r.time);
  }
  return log;
}

Dataset Build(InteractionLog log, const DatasetOptions& options) {
  Result<Dataset> data = BuildDataset(std::move(log), options);
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  return std::move(data).value();
}

DatasetOptions Implicit(std::map<std::string, float> weights = {}) {
  DatasetOptions o;
  o.weights = std::move(weights);
  return o;
}

DatasetOptions Explicit(ExplicitDuplicates duplicates) {
  DatasetOptions o;
  o.feedback = Feedback::kExplicit;
  o.duplicates = duplicates;
  return o;
}

// The stored (value, time) of (user, item), if a nonzero; time 0 without times.
std::optional<std::pair<float, int64_t>> Entry(const Dataset& d, std::string_view user,
                                               std::string_view item) {
  auto u = d.users.Find(user);
  auto i = d.items.Find(item);
  if (!u || !i) return std::nullopt;
  const CsrMatrix& m = d.by_user;
  for (uint64_t j = m.indptr[*u]; j < m.indptr[*u + 1]; ++j) {
    if (m.indices[j] == *i) {
      return std::pair{m.values[j], m.times.empty() ? int64_t{0} : m.times[j]};
    }
  }
  return std::nullopt;
}

float Value(const Dataset& d, std::string_view user, std::string_view item) {
  auto e = Entry(d, user, item);
  EXPECT_TRUE(e.has_value()) << user << "," << item;
  return e ? e->first : std::nanf("");
}

void ExpectWellFormed(const CsrMatrix& m) {
  ASSERT_EQ(m.indptr.size(), uint64_t{m.rows} + 1);
  EXPECT_EQ(m.indptr.front(), 0u);
  EXPECT_EQ(m.indptr.back(), m.nnz());
  ASSERT_EQ(m.values.size(), m.nnz());
  ASSERT_TRUE(m.times.empty() || m.times.size() == m.nnz());
  for (uint32_t r = 0; r < m.rows; ++r) {
    ASSERT_LE(m.indptr[r], m.indptr[r + 1]);
    for (uint64_t j = m.indptr[r]; j < m.indptr[r + 1]; ++j) {
      ASSERT_LT(m.indices[j], m.cols);
      if (j > m.indptr[r]) {
        ASSERT_LT(m.indices[j - 1], m.indices[j]) << "row " << r;
      }
    }
  }
}

// Checks both matrices and that by_item is exactly the transpose of by_user.
void ExpectConsistent(const Dataset& d) {
  const CsrMatrix& a = d.by_user;
  const CsrMatrix& b = d.by_item;
  EXPECT_EQ(a.rows, d.users.size());
  EXPECT_EQ(a.cols, d.items.size());
  EXPECT_EQ(b.rows, a.cols);
  EXPECT_EQ(b.cols, a.rows);
  ExpectWellFormed(a);
  ExpectWellFormed(b);
  ASSERT_EQ(a.nnz(), b.nnz());
  ASSERT_EQ(a.times.size(), b.times.size());
  // Naive transpose: walking rows in order appends users in ascending order.
  std::vector<std::vector<std::tuple<uint32_t, float, int64_t>>> cols(a.cols);
  for (uint32_t r = 0; r < a.rows; ++r) {
    for (uint64_t j = a.indptr[r]; j < a.indptr[r + 1]; ++j) {
      cols[a.indices[j]].emplace_back(r, a.values[j], a.times.empty() ? 0 : a.times[j]);
    }
  }
  for (uint32_t c = 0; c < b.rows; ++c) {
    ASSERT_EQ(b.RowLength(c), cols[c].size()) << "column " << c;
    for (uint64_t k = 0; k < cols[c].size(); ++k) {
      const uint64_t j = b.indptr[c] + k;
      EXPECT_EQ(b.indices[j], std::get<0>(cols[c][k]));
      EXPECT_EQ(b.values[j], std::get<1>(cols[c][k]));
      if (!b.times.empty()) {
        EXPECT_EQ(b.times[j], std::get<2>(cols[c][k]));
      }
    }
  }
}

void ExpectSameMatrix(const CsrMatrix& a, const CsrMatrix& b) {
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.cols, b.cols);
  EXPECT_EQ(a.indptr, b.indptr);
  EXPECT_EQ(a.indices, b.indices);
  EXPECT_EQ(a.values, b.values);  // bit-identical, not just close
  EXPECT_EQ(a.times, b.times);
}

// ---- Implicit feedback ----

TEST(BuildDataset, ImplicitSumsWeightedValuesPerPair) {
  const std::vector<Row> rows = {
      {"u1", "i1", 1, "view"},     {"u1", "i1", 1, "view"}, {"u1", "i1", 1, "cart"},
      {"u1", "i2", 2, "purchase"},  // a quantity of 2
      {"u2", "i1", 1, "wishlist"}, {"u2", "i1", 1, "view"}, {"u2", "i3", 1, "view"},
  };
  auto weights = ParseWeights("view=3,cart=10,wishlist=30,purchase=40");
  ASSERT_TRUE(weights.ok());
  Dataset d = Build(MakeLog(rows, true, false), Implicit(*weights));
  ExpectConsistent(d);
  EXPECT_EQ(d.nnz(), 4u);
  EXPECT_EQ(Value(d, "u1", "i1"), 3 + 3 + 10);
  EXPECT_EQ(Value(d, "u1", "i2"), 2 * 40);
  EXPECT_EQ(Value(d, "u2", "i1"), 30 + 3);
  EXPECT_EQ(Value(d, "u2", "i3"), 3);
}

TEST(BuildDataset, ClickPurchaseWeightsCountClicksPlusThreeTimesPurchases) {
  std::vector<Row> rows;
  for (int k = 0; k < 5; ++k) rows.push_back({"u", "a", 1, "click"});
  for (int k = 0; k < 2; ++k) rows.push_back({"u", "a", 1, "purchase"});
  rows.push_back({"u", "b", 1, "purchase"});
  rows.push_back({"v", "a", 1, "click"});
  auto weights = ParseWeights("click=1,purchase=3");
  ASSERT_TRUE(weights.ok());
  Dataset d = Build(MakeLog(rows, true, false), Implicit(*weights));
  EXPECT_EQ(Value(d, "u", "a"), 5 + 3 * 2);
  EXPECT_EQ(Value(d, "u", "b"), 3);
  EXPECT_EQ(Value(d, "v", "a"), 1);
}

TEST(BuildDataset, EveryRowWeighsOneWithoutWeightsOrWithoutEventColumn) {
  const std::vector<Row> rows = {{"u", "a", 2, "view"}, {"u", "a", 0.5, "buy"}};
  Dataset no_weights = Build(MakeLog(rows, true, false), Implicit());
  EXPECT_EQ(Value(no_weights, "u", "a"), 2.5);
  Dataset no_events = Build(MakeLog(rows, false, false), Implicit({{"view", 10}}));
  EXPECT_EQ(Value(no_events, "u", "a"), 2.5);
}

TEST(BuildDataset, UnknownEventWithWeightsIsAnErrorNamingIt) {
  const std::vector<Row> rows = {{"u", "a", 1, "view"}, {"u", "b", 1, "click"}};
  auto data = BuildDataset(MakeLog(rows, true, false), Implicit({{"view", 1}}));
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(data.status().message().find("'click'"), std::string::npos) << data.status().message();
}

TEST(BuildDataset, UnusedEventNamesNeedNoWeight) {
  InteractionLog log = MakeLog({{"u", "a", 1, "view"}}, true, false);
  log.events.Intern("never-used");
  Dataset d = Build(std::move(log), Implicit({{"view", 2}}));
  EXPECT_EQ(Value(d, "u", "a"), 2);
}

TEST(BuildDataset, Log1pTransformsTheAggregatedSum) {
  const std::vector<Row> rows = {{"u", "a", 1}, {"u", "a", 2}, {"u", "b", 0}};
  DatasetOptions o = Implicit();
  o.transform = ValueTransform::kLog1p;
  Dataset d = Build(MakeLog(rows, false, false), o);
  EXPECT_FLOAT_EQ(Value(d, "u", "a"), std::log1p(3.0f));
  EXPECT_EQ(Value(d, "u", "b"), 0);
}

TEST(BuildDataset, Log1pOfValueAtMostMinusOneIsAnError) {
  DatasetOptions o = Implicit();
  o.transform = ValueTransform::kLog1p;
  auto data = BuildDataset(MakeLog({{"u", "a", 1}, {"u", "a", -3}}, false, false), o);
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.status().message().find("log1p"), std::string::npos);
}

TEST(BuildDataset, BinaryKeepsNonPositiveSumsAsExplicitZeros) {
  const std::vector<Row> rows = {
      {"u", "a", 5}, {"u", "b", 0}, {"u", "c", -2}, {"u", "d", 1}, {"u", "d", -1}, {"v", "a", 0.25},
  };
  DatasetOptions o = Implicit();
  o.transform = ValueTransform::kBinary;
  Dataset d = Build(MakeLog(rows, false, false), o);
  EXPECT_EQ(d.nnz(), 5u) << "entries are never dropped";
  EXPECT_EQ(Value(d, "u", "a"), 1);
  EXPECT_EQ(Value(d, "u", "b"), 0);
  EXPECT_EQ(Value(d, "u", "c"), 0);
  EXPECT_EQ(Value(d, "u", "d"), 0) << "1 + (-1) = 0";
  EXPECT_EQ(Value(d, "v", "a"), 1);
}

// ---- Explicit feedback ----

TEST(BuildDataset, ExplicitLatestTakesTheRowWithTheGreatestTime) {
  const std::vector<Row> rows = {
      {"u", "a", 3, "", 10}, {"u", "a", 5, "", 5},  // by time: 3 (t=10), not the later row
      {"u", "b", 4, "", 7},  {"u", "b", 2, "", 7},  // tie: the later row wins
      {"u", "c", 1, "", 1},  {"v", "c", 2, "", 9},
  };
  Dataset d = Build(MakeLog(rows, false, true), Explicit(ExplicitDuplicates::kLatest));
  ExpectConsistent(d);
  EXPECT_EQ(*Entry(d, "u", "a"), std::pair(3.0f, int64_t{10}));
  EXPECT_EQ(*Entry(d, "u", "b"), std::pair(2.0f, int64_t{7}));
  EXPECT_EQ(*Entry(d, "u", "c"), std::pair(1.0f, int64_t{1}));
  EXPECT_EQ(*Entry(d, "v", "c"), std::pair(2.0f, int64_t{9}));
}

TEST(BuildDataset, ExplicitLatestUsesTimesEvenWhenNotKept) {
  DatasetOptions o = Explicit(ExplicitDuplicates::kLatest);
  o.keep_times = false;
  Dataset d = Build(MakeLog({{"u", "a", 3, "", 10}, {"u", "a", 5, "", 5}}, false, true), o);
  EXPECT_EQ(Value(d, "u", "a"), 3);
  EXPECT_TRUE(d.by_user.times.empty());
  EXPECT_TRUE(d.by_item.times.empty());
}

TEST(BuildDataset, ExplicitLatestWithoutTimesTakesTheLaterRow) {
  const std::vector<Row> rows = {{"u", "a", 3}, {"v", "a", 1}, {"u", "a", 5}, {"u", "a", 4}};
  Dataset d = Build(MakeLog(rows, false, false), Explicit(ExplicitDuplicates::kLatest));
  EXPECT_EQ(Value(d, "u", "a"), 4);
  EXPECT_EQ(Value(d, "v", "a"), 1);
}

TEST(BuildDataset, ExplicitMeanAveragesAndIgnoresWeightsAndTransform) {
  const std::vector<Row> rows = {{"u", "a", 3, "rate"},
                                 {"u", "a", 4, "rate"},
                                 {"u", "a", 4.5, "other"},
                                 {"u", "b", 2, "rate"}};
  DatasetOptions o = Explicit(ExplicitDuplicates::kMean);
  o.weights = {{"rate", 10}};  // no weight for "other": not an error, weights unused
  o.transform = ValueTransform::kBinary;
  Dataset d = Build(MakeLog(rows, true, false), o);
  EXPECT_FLOAT_EQ(Value(d, "u", "a"), (3 + 4 + 4.5f) / 3);
  EXPECT_EQ(Value(d, "u", "b"), 2);
}

// ---- Layout, times, summary ----

TEST(BuildDataset, KeepsLatestTimePerNonzeroInBothOrientations) {
  const std::vector<Row> rows = {
      {"u", "b", 1, "", 50}, {"u", "a", 1, "", 20}, {"u", "a", 1, "", 90},
      {"u", "a", 1, "", 30}, {"v", "a", 1, "", 10}, {"w", "b", 1, "", 70},
  };
  Dataset d = Build(MakeLog(rows, false, true), Implicit());
  ExpectConsistent(d);
  EXPECT_EQ(*Entry(d, "u", "a"), std::pair(3.0f, int64_t{90}));
  EXPECT_EQ(*Entry(d, "u", "b"), std::pair(1.0f, int64_t{50}));
  // Column "a" lists users u, v in ascending index order with their times.
  const uint32_t a = *d.items.Find("a");
  const CsrMatrix& c = d.by_item;
  ASSERT_EQ(c.RowLength(a), 2u);
  EXPECT_EQ(c.indices[c.indptr[a]], *d.users.Find("u"));
  EXPECT_EQ(c.times[c.indptr[a]], 90);
  EXPECT_EQ(c.times[c.indptr[a] + 1], 10);
  EXPECT_EQ(d.summary.time_min, 10);
  EXPECT_EQ(d.summary.time_max, 90);

  DatasetOptions no_times = Implicit();
  no_times.keep_times = false;
  Dataset e = Build(MakeLog(rows, false, true), no_times);
  EXPECT_TRUE(e.by_user.times.empty());
  EXPECT_EQ(e.summary.time_max, 90) << "the summary still sees the times";
  Dataset f = Build(MakeLog(rows, false, false), Implicit());
  EXPECT_TRUE(f.by_user.times.empty());
  EXPECT_FALSE(f.summary.time_min.has_value());
}

TEST(BuildDataset, RowsAreSortedAndIndptrIsExact) {
  const std::vector<Row> rows = {{"u0", "c"}, {"u0", "a"}, {"u1", "b"}, {"u0", "b"},
                                 {"u2", "a"}, {"u0", "a"}, {"u2", "c"}};
  Dataset d = Build(MakeLog(rows, false, false), Implicit());
  ExpectConsistent(d);
  // Items in first-seen order: c=0, a=1, b=2.
  EXPECT_EQ(d.by_user.indptr, (std::vector<uint64_t>{0, 3, 4, 6}));
  EXPECT_EQ(d.by_user.indices, (std::vector<uint32_t>{0, 1, 2, 2, 0, 1}));
  EXPECT_EQ(d.by_user.values, (std::vector<float>{1, 2, 1, 1, 1, 1}));
  EXPECT_EQ(d.by_item.indptr, (std::vector<uint64_t>{0, 2, 4, 6}));
  EXPECT_EQ(d.by_item.indices, (std::vector<uint32_t>{0, 2, 0, 2, 0, 1}));
}

TEST(BuildDataset, UsersAndItemsWithoutEntriesKeepEmptyRows) {
  InteractionLog log = MakeLog({{"u1", "i1"}, {"u3", "i3"}}, false, false);
  log.users.Intern("lonely-user");
  log.items.Intern("lonely-item");
  Dataset d = Build(std::move(log), Implicit());
  ExpectConsistent(d);
  EXPECT_EQ(d.by_user.rows, 3u);
  EXPECT_EQ(d.by_user.cols, 3u);
  EXPECT_EQ(d.by_user.RowLength(*d.users.Find("lonely-user")), 0u);
  EXPECT_EQ(d.by_item.RowLength(*d.items.Find("lonely-item")), 0u);
}

TEST(BuildDataset, EmptyLogGivesEmptyMatrices) {
  InteractionLog log;
  log.users.Intern("only");
  Dataset d = Build(std::move(log), Implicit());
  ExpectConsistent(d);
  EXPECT_EQ(d.nnz(), 0u);
  EXPECT_EQ(d.by_user.indptr, (std::vector<uint64_t>{0, 0}));
  EXPECT_EQ(d.by_item.indptr, (std::vector<uint64_t>{0}));
  EXPECT_EQ(d.summary.rows, 0u);
}

TEST(BuildDataset, DictionariesMoveUnchanged) {
  const std::string weird("a\0,\"b\xff", 6);
  Dataset d = Build(MakeLog({{"007", weird}, {"7", "x"}, {"", weird}}, false, false), Implicit());
  ASSERT_EQ(d.users.size(), 3u);
  EXPECT_EQ(d.users.Name(0), "007");
  EXPECT_EQ(d.users.Name(1), "7");
  EXPECT_EQ(d.users.Name(2), "");
  EXPECT_EQ(d.items.Name(0), weird);
  EXPECT_EQ(d.items.Name(1), "x");
}

TEST(BuildDataset, SummaryCountsRowsPerEventInDictionaryOrder) {
  const std::vector<Row> rows = {{"u", "a", 1, "view", 5},
                                 {"u", "a", 1, "buy", -3},
                                 {"v", "a", 1, "view", 8},
                                 {"v", "b", 1, "view", 2}};
  Dataset d = Build(MakeLog(rows, true, true), Implicit());
  EXPECT_EQ(d.summary.rows, 4u);
  using Counts = std::vector<std::pair<std::string, uint64_t>>;
  EXPECT_EQ(d.summary.event_counts, (Counts{{"view", 3}, {"buy", 1}}));
  EXPECT_EQ(d.summary.time_min, -3);
  EXPECT_EQ(d.summary.time_max, 8);
}

TEST(BuildDataset, MemoryBytesCountsEveryArray) {
  Dataset d = Build(
      MakeLog({{"u", "a", 1, "", 1}, {"u", "b", 1, "", 2}, {"v", "a", 1, "", 3}}, false, true),
      Implicit());
  EXPECT_EQ(d.by_user.MemoryBytes(), 3 * 8 + 3 * (4 + 4 + 8));  // indptr, 3 nonzeros
  EXPECT_EQ(d.by_item.MemoryBytes(), 3 * 8 + 3 * (4 + 4 + 8));
  EXPECT_EQ(d.MemoryBytes(), d.users.MemoryBytes() + d.items.MemoryBytes() +
                                 d.by_user.MemoryBytes() + d.by_item.MemoryBytes());
}

// ---- Bad input ----

TEST(BuildDataset, RejectsNonFiniteValues) {
  for (float bad : {std::nanf(""), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    auto data = BuildDataset(MakeLog({{"u", "a", 1}, {"u", "b", bad}}, false, false), Implicit());
    ASSERT_FALSE(data.ok());
    EXPECT_EQ(data.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(data.status().message().find("#2"), std::string::npos) << data.status().message();
  }
}

TEST(BuildDataset, RejectsOverflowingSums) {
  const float big = std::numeric_limits<float>::max();
  auto sum = BuildDataset(MakeLog({{"u", "a", big}, {"u", "a", big}}, false, false), Implicit());
  EXPECT_FALSE(sum.ok());
  auto weighted =
      BuildDataset(MakeLog({{"u", "a", big, "buy"}}, true, false), Implicit({{"buy", 4}}));
  EXPECT_FALSE(weighted.ok());
}

TEST(BuildDataset, RejectsInconsistentLogs) {
  InteractionLog bad_index = MakeLog({{"u", "a"}}, false, false);
  bad_index.item.push_back(7);
  bad_index.user.push_back(0);
  bad_index.value.push_back(1);
  auto a = BuildDataset(std::move(bad_index), Implicit());
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("item index 7"), std::string::npos);

  InteractionLog short_column = MakeLog({{"u", "a"}, {"u", "b"}}, false, false);
  short_column.has_times = true;
  EXPECT_FALSE(BuildDataset(std::move(short_column), Implicit()).ok());
}

// ---- Option parsing ----

TEST(ParseWeights, ParsesNamesAndNumbers) {
  auto w = ParseWeights("view=3, cart = 10,wishlist=30,purchase=40,skip=0,half=.5");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  const std::map<std::string, float> expected = {{"view", 3},      {"cart", 10}, {"wishlist", 30},
                                                 {"purchase", 40}, {"skip", 0},  {"half", 0.5}};
  EXPECT_EQ(*w, expected);
  auto empty = ParseWeights("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(ParseWeights, ErrorsNameTheBadPiece) {
  struct Case {
    std::string spec, expected;
  };
  const std::vector<Case> cases = {
      {"view=3,cart,purchase=40", "--weights: 'cart' has no '='; expected NAME=WEIGHT,..."},
      {"view=3,=4", "'=4' has no event name"},
      {"view=abc", "'abc' is not a number"},
      {"view=3x", "'3x' is not a number"},
      {"view=", "'' is not a number"},
      {"view=-1", "'view=-1': the weight must be >= 0"},
      {"view=inf", "must be a finite number"},
      {"view=nan", "must be a finite number"},
      {"view=1e40", "must be a finite number"},
      {"view=1,view=2", "'view' is given twice"},
      {"view=1,,cart=2", "empty entry"},
      {"view=1,", "empty entry"},
  };
  for (const Case& c : cases) {
    auto w = ParseWeights(c.spec);
    ASSERT_FALSE(w.ok()) << c.spec;
    EXPECT_EQ(w.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(w.status().message().find(c.expected), std::string::npos)
        << c.spec << " -> " << w.status().message();
  }
}

TEST(ParseValueTransform, KnowsTheThreeNames) {
  EXPECT_EQ(ParseValueTransform("none").value(), ValueTransform::kNone);
  EXPECT_EQ(ParseValueTransform("log1p").value(), ValueTransform::kLog1p);
  EXPECT_EQ(ParseValueTransform("binary").value(), ValueTransform::kBinary);
  auto bad = ParseValueTransform("log");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'log'"), std::string::npos);
}

// ---- Against a reference, across thread counts ----

struct Generated {
  std::vector<uint32_t> user, item, event;
  std::vector<float> value;
  std::vector<int64_t> time;
};

// Rows with many repeated (user, item) pairs, several per chunk boundary.
Generated Generate(uint64_t rows, uint32_t users, uint32_t items, uint32_t seed) {
  std::mt19937_64 rng(seed);
  Generated g;
  for (uint64_t r = 0; r < rows; ++r) {
    // Skewed users so row lengths vary a lot.
    const uint32_t u = static_cast<uint32_t>(rng() % users) % (1 + rng() % users);
    g.user.push_back(u);
    g.item.push_back(static_cast<uint32_t>(rng() % items));
    g.event.push_back(static_cast<uint32_t>(rng() % 3));
    g.value.push_back(static_cast<float>(rng() % 10) * 0.5f);  // exact in float
    g.time.push_back(static_cast<int64_t>(rng() % 1000));      // many ties
  }
  return g;
}

InteractionLog ToLog(const Generated& g, uint32_t users, uint32_t items) {
  InteractionLog log;
  log.has_events = log.has_times = true;
  for (uint32_t u = 0; u < users; ++u) log.users.Intern("u" + std::to_string(u));
  for (uint32_t i = 0; i < items; ++i) log.items.Intern("i" + std::to_string(i));
  for (const char* e : {"view", "cart", "buy"}) log.events.Intern(e);
  for (size_t r = 0; r < g.user.size(); ++r) {
    log.user.push_back(g.user[r]);
    log.item.push_back(g.item[r]);
    log.value.push_back(g.value[r]);
    log.event.push_back(g.event[r]);
    log.time.push_back(g.time[r]);
  }
  return log;
}

// The aggregation rules, written the obvious way.
std::map<std::pair<uint32_t, uint32_t>, std::pair<float, int64_t>> Reference(
    const Generated& g, const DatasetOptions& o) {
  const float weight[3] = {1, 4, 10};  // view, cart, buy as in the options below
  struct Acc {
    double sum = 0;
    uint64_t n = 0;
    float latest_value = 0;
    int64_t latest_time = std::numeric_limits<int64_t>::min();
  };
  std::map<std::pair<uint32_t, uint32_t>, Acc> acc;
  for (size_t r = 0; r < g.user.size(); ++r) {
    Acc& a = acc[{g.user[r], g.item[r]}];
    const bool implicit = o.feedback == Feedback::kImplicit;
    a.sum += implicit ? g.value[r] * weight[g.event[r]] : g.value[r];
    ++a.n;
    if (g.time[r] >= a.latest_time) {
      a.latest_time = g.time[r];
      a.latest_value = g.value[r];
    }
  }
  std::map<std::pair<uint32_t, uint32_t>, std::pair<float, int64_t>> out;
  for (const auto& [key, a] : acc) {
    double v = a.sum;
    if (o.feedback == Feedback::kImplicit && o.transform == ValueTransform::kLog1p) {
      v = std::log1p(v);
    } else if (o.feedback == Feedback::kExplicit) {
      v = o.duplicates == ExplicitDuplicates::kMean ? a.sum / a.n : a.latest_value;
    }
    out[key] = {static_cast<float>(v), a.latest_time};
  }
  return out;
}

void ExpectMatchesReference(const Dataset& d, const Generated& g, const DatasetOptions& o) {
  const auto expected = Reference(g, o);
  ASSERT_EQ(d.nnz(), expected.size());
  auto it = expected.begin();
  for (uint32_t u = 0; u < d.by_user.rows; ++u) {
    for (uint64_t j = d.by_user.indptr[u]; j < d.by_user.indptr[u + 1]; ++j, ++it) {
      ASSERT_EQ(it->first, std::pair(u, d.by_user.indices[j]));
      ASSERT_FLOAT_EQ(d.by_user.values[j], it->second.first) << u << "," << it->first.second;
      ASSERT_EQ(d.by_user.times[j], it->second.second);
    }
  }
}

TEST(BuildDataset, MatchesReferenceAndIgnoresThreadCount) {
  constexpr uint64_t kRows = 200000;
  constexpr uint32_t kUsers = 3000, kItems = 400;
  const Generated g = Generate(kRows, kUsers, kItems, 7);

  DatasetOptions implicit = Implicit({{"view", 1}, {"cart", 4}, {"buy", 10}});
  implicit.transform = ValueTransform::kLog1p;
  DatasetOptions latest = Explicit(ExplicitDuplicates::kLatest);
  DatasetOptions mean = Explicit(ExplicitDuplicates::kMean);
  for (DatasetOptions* o : {&implicit, &latest, &mean}) {
    o->threads = 1;
    Dataset one = Build(ToLog(g, kUsers, kItems), *o);
    ExpectConsistent(one);
    ExpectMatchesReference(one, g, *o);
    for (int threads : {2, 3}) {
      o->threads = threads;
      Dataset many = Build(ToLog(g, kUsers, kItems), *o);
      ExpectSameMatrix(one.by_user, many.by_user);
      ExpectSameMatrix(one.by_item, many.by_item);
      EXPECT_EQ(one.summary.event_counts, many.summary.event_counts);
    }
  }
}

// More than two log chunks, so threads meet chunk boundaries mid-range.
TEST(BuildDataset, MultiChunkLogIsIndependentOfThreadCount) {
  constexpr uint64_t kRows = 2 * ChunkedVector<uint32_t>::kChunk + 12345;
  constexpr uint32_t kUsers = 20000, kItems = 5000;
  const Generated g = Generate(kRows, kUsers, kItems, 11);
  DatasetOptions o = Implicit({{"view", 1}, {"cart", 4}, {"buy", 10}});
  o.threads = 1;
  Dataset one = Build(ToLog(g, kUsers, kItems), o);
  o.threads = 3;
  Dataset three = Build(ToLog(g, kUsers, kItems), o);
  ExpectSameMatrix(one.by_user, three.by_user);
  ExpectSameMatrix(one.by_item, three.by_item);
  EXPECT_EQ(three.summary.rows, kRows);
  uint64_t total = 0;
  for (const auto& [name, count] : three.summary.event_counts) total += count;
  EXPECT_EQ(total, kRows);
  ExpectWellFormed(three.by_user);
  ExpectWellFormed(three.by_item);
  // Every weighted row lands in the matrix (all sums are exact here).
  const double weight[3] = {1, 4, 10};
  double expected = 0, got = 0;
  for (uint64_t r = 0; r < kRows; ++r) expected += g.value[r] * weight[g.event[r]];
  for (float v : three.by_user.values) got += v;
  EXPECT_EQ(got, expected);
}

TEST(CsrMatrix, TransposeTwiceIsIdentity) {
  const Generated g = Generate(100000, 500, 300, 3);
  Dataset d = Build(ToLog(g, 500, 300), Implicit());
  for (int threads : {1, 2}) {
    ExpectSameMatrix(d.by_item.Transpose(threads), d.by_user);
  }
}

}  // namespace
}  // namespace encore
