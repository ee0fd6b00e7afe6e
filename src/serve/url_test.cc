// url: percent-decoding, target splitting and bounded integers.

#include "serve/url.h"

#include <gtest/gtest.h>

namespace encore::serve {
namespace {

std::string Decode(std::string_view in) {
  std::string out;
  Status s = PercentDecode(in, "id", &out);
  return s.ok() ? out : "ERROR: " + s.message();
}

TEST(PercentDecode, DecodesEscapesInEitherCase) {
  EXPECT_EQ(Decode("u1"), "u1");
  EXPECT_EQ(Decode("a%20b%2fc%2F"), "a b/c/");
  EXPECT_EQ(Decode("%C3%bc"), "\xc3\xbc");
  EXPECT_EQ(Decode("%00x"), std::string("\0x", 2));
  EXPECT_EQ(Decode("a+b"), "a+b");  // not form encoding
  EXPECT_EQ(Decode(""), "");
}

TEST(PercentDecode, RejectsTruncatedOrNonHexEscapes) {
  for (const char* bad : {"%", "%4", "a%zz", "%g0", "x%2", "%%41"}) {
    EXPECT_EQ(Decode(bad).rfind("ERROR: invalid percent-encoding in id", 0), 0u) << bad;
  }
}

TEST(SplitTarget, SegmentsAndQuery) {
  Target t;
  ASSERT_TRUE(SplitTarget("/v1/users/u%201/recommendations?limit=5&exclude=a,b&flag&&x=", &t).ok());
  EXPECT_EQ(t.segments, (std::vector<std::string_view>{"v1", "users", "u%201", "recommendations"}));
  ASSERT_EQ(t.query.size(), 4u);
  EXPECT_EQ(*t.Find("limit"), "5");
  EXPECT_EQ(*t.Find("exclude"), "a,b");
  EXPECT_EQ(*t.Find("flag"), "");
  EXPECT_EQ(*t.Find("x"), "");
  EXPECT_EQ(t.Find("offset"), nullptr);
  ASSERT_TRUE(SplitTarget("/a?limit=1&limit=2", &t).ok());
  EXPECT_EQ(*t.Find("limit"), "2");  // the last one wins
  ASSERT_TRUE(SplitTarget("/a//b/", &t).ok());
  EXPECT_EQ(t.segments, (std::vector<std::string_view>{"a", "", "b", ""}));
  ASSERT_TRUE(SplitTarget("/", &t).ok());
  EXPECT_EQ(t.segments, (std::vector<std::string_view>{""}));
  EXPECT_FALSE(SplitTarget("", &t).ok());
  EXPECT_FALSE(SplitTarget("*", &t).ok());
  EXPECT_FALSE(SplitTarget("http://x/a", &t).ok());
}

TEST(ParseBoundedUint, AcceptsOnlyPlainDigitsInRange) {
  uint32_t v = 0;
  EXPECT_TRUE(ParseBoundedUint("10", "limit", 1, 100, &v).ok());
  EXPECT_EQ(v, 10u);
  EXPECT_TRUE(ParseBoundedUint("0", "offset", 0, 5, &v).ok());
  for (const char* bad : {"", "0", "101", "-1", "+1", " 1", "1 ", "1e2", "0x10", "abc",
                          "99999999999999999999", "4294967296"}) {
    Status s = ParseBoundedUint(bad, "limit", 1, 100, &v);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("limit must be an integer from 1 to 100"), std::string::npos);
  }
}

}  // namespace
}  // namespace encore::serve
