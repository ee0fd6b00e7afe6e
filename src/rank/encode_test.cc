#include "rank/encode.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace encore::rank {
namespace {

IdDictionary Ids(std::initializer_list<const char*> names) {
  IdDictionary d;
  for (const char* n : names) d.Intern(n);
  return d;
}

TEST(Encode, CsvQuotesFieldsThatNeedIt) {
  const IdDictionary items = Ids({"plain", "a,b", "say \"hi\"", "two\nlines", "cr\r"});
  RowEncoder csv(RowFormat::kCsv, "user", "item");
  EXPECT_EQ(csv.Header(), "user,item,score,rank\n");
  std::string out;
  const std::vector<ScoredItem> list = {{0, 1.5f}, {1, 1}, {2, 0.25f}, {3, 0}, {4, -2}};
  ASSERT_TRUE(csv.AppendList("u,1", list, items, &out).ok());
  EXPECT_EQ(out,
            "\"u,1\",plain,1.5,1\n"
            "\"u,1\",\"a,b\",1,2\n"
            "\"u,1\",\"say \"\"hi\"\"\",0.25,3\n"
            "\"u,1\",\"two\nlines\",0,4\n"
            "\"u,1\",\"cr\r\",-2,5\n");
}

TEST(Encode, JsonLinesEscapeIds) {
  const IdDictionary items = Ids({"q\"b\\", "ctl\x01", "bad\xff"});
  RowEncoder jsonl(RowFormat::kJsonLines, "item", "similar_item");
  EXPECT_EQ(jsonl.Header(), "");
  std::string out;
  ASSERT_TRUE(
      jsonl.AppendList("k", std::vector<ScoredItem>{{0, 0.1f}, {1, 2}, {2, 3}}, items, &out).ok());
  EXPECT_EQ(out,
            "{\"item\":\"k\",\"similar_item\":\"q\\\"b\\\\\",\"score\":0.1,\"rank\":1}\n"
            "{\"item\":\"k\",\"similar_item\":\"ctl\\u0001\",\"score\":2,\"rank\":2}\n"
            "{\"item\":\"k\",\"similar_item\":\"bad\xef\xbf\xbd\",\"score\":3,\"rank\":3}\n");
}

TEST(Encode, PayloadLayoutIsUnchanged) {
  const IdDictionary items = Ids({"i1", "i2"});
  std::string out = "stale";
  ASSERT_TRUE(EncodePayload("user", "u\"1", 7, "items",
                            std::vector<ScoredItem>{{1, 2.5f}, {0, 1e-7f}}, items, &out)
                  .ok());
  EXPECT_EQ(out,
            "{\"user\":\"u\\\"1\",\"snapshot\":7,\"items\":[{\"item\":\"i2\",\"score\":2.5},"
            "{\"item\":\"i1\",\"score\":1e-07}]}");
  ASSERT_TRUE(
      EncodePayload("item", "i1", 1, "similar", std::vector<ScoredItem>{}, items, &out).ok());
  EXPECT_EQ(out, "{\"item\":\"i1\",\"snapshot\":1,\"similar\":[]}");
}

TEST(Encode, ScoresAreShortestRoundTrip) {
  std::mt19937 rng(3);
  for (int k = 0; k < 20000; ++k) {
    uint32_t bits = rng();
    float f;
    std::memcpy(&f, &bits, sizeof f);
    if (!std::isfinite(f)) continue;
    std::string s;
    ASSERT_TRUE(AppendScore(f, &s).ok());
    const float back = std::strtof(s.c_str(), nullptr);
    ASSERT_EQ(std::memcmp(&back, &f, sizeof f), 0) << s;
  }
  std::string s;
  ASSERT_TRUE(AppendScore(0.1f, &s).ok());
  EXPECT_EQ(s, "0.1");
}

TEST(Encode, NonFiniteScoresAreAnInternalErrorEverywhere) {
  const IdDictionary items = Ids({"i1"});
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    const std::vector<ScoredItem> list = {{0, bad}};
    std::string out;
    EXPECT_EQ(AppendScore(bad, &out).code(), StatusCode::kInternal);
    EXPECT_EQ(out, "") << "nothing written for a non-finite score";
    EXPECT_EQ(AppendItemArray(list, items, &out).code(), StatusCode::kInternal);
    EXPECT_EQ(EncodePayload("user", "u", 1, "items", list, items, &out).code(),
              StatusCode::kInternal);
    for (RowFormat f : {RowFormat::kCsv, RowFormat::kJsonLines}) {
      EXPECT_EQ(RowEncoder(f, "user", "item").AppendList("u", list, items, &out).code(),
                StatusCode::kInternal);
    }
  }
}

}  // namespace
}  // namespace encore::rank
