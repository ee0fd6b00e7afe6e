#include "io/text.h"
#include "util/time_format.h"

#include <gtest/gtest.h>

namespace encore::io {
namespace {

TEST(ParseFloat, AcceptsDecimalsExponentsAndSurroundingSpaces) {
  float v = 0;
  EXPECT_TRUE(ParseFloat("4", &v));
  EXPECT_EQ(v, 4.0f);
  EXPECT_TRUE(ParseFloat("-1.5", &v));
  EXPECT_EQ(v, -1.5f);
  EXPECT_TRUE(ParseFloat(" 3.5 ", &v));
  EXPECT_EQ(v, 3.5f);
  EXPECT_TRUE(ParseFloat("2e3", &v));
  EXPECT_EQ(v, 2000.0f);
  EXPECT_TRUE(ParseFloat("+7", &v));
  EXPECT_EQ(v, 7.0f);
}

TEST(ParseFloat, RejectsGarbageNanInfAndEmpty) {
  float v = 0;
  for (const char* bad : {"", " ", "abc", "1.2.3", "4 stars", "nan", "inf", "-inf", "0x10",
                          "1e999", "++1", "1,5"}) {
    EXPECT_FALSE(ParseFloat(bad, &v)) << bad;
  }
}

TEST(ParseTimestamp, UnixSecondsAndMilliseconds) {
  int64_t t = 0;
  EXPECT_TRUE(ParseTimestamp("964982703", TimeUnit::kAuto, &t));
  EXPECT_EQ(t, 964982703);
  EXPECT_TRUE(ParseTimestamp("964982703123", TimeUnit::kAuto, &t));
  EXPECT_EQ(t, 964982703);
  EXPECT_TRUE(ParseTimestamp("5000", TimeUnit::kMilliseconds, &t));
  EXPECT_EQ(t, 5);
  EXPECT_TRUE(ParseTimestamp("964982703.75", TimeUnit::kSeconds, &t));
  EXPECT_EQ(t, 964982703);
}

TEST(ParseTimestamp, Iso8601DatesTimesAndZones) {
  int64_t t = 0;
  EXPECT_TRUE(ParseTimestamp("1970-01-02", TimeUnit::kAuto, &t));
  EXPECT_EQ(t, 86400);
  EXPECT_TRUE(ParseTimestamp("2024-02-29T12:30:15Z", TimeUnit::kAuto, &t));
  EXPECT_EQ(t, 1709209815);
  EXPECT_TRUE(ParseTimestamp("2024-02-29 12:30:15.123", TimeUnit::kAuto, &t));
  EXPECT_EQ(t, 1709209815);
  EXPECT_TRUE(ParseTimestamp("2024-02-29T14:30:15+02:00", TimeUnit::kAuto, &t));
  EXPECT_EQ(t, 1709209815);
  EXPECT_TRUE(ParseTimestamp("2024-02-29T07:30:15-0500", TimeUnit::kAuto, &t));
  EXPECT_EQ(t, 1709209815);
  EXPECT_TRUE(ParseTimestamp("1969-12-31T23:59:59Z", TimeUnit::kAuto, &t));
  EXPECT_EQ(t, -1);
}

TEST(ParseTimestamp, RejectsMalformed) {
  int64_t t = 0;
  for (const char* bad : {"", "yesterday", "2023-02-29", "2024-13-01", "2024-01-01T25:00",
                          "2024-01-01T10:00:00Zjunk", "12:00", "1.2.3", "2024-1-1", "-"}) {
    EXPECT_FALSE(ParseTimestamp(bad, TimeUnit::kAuto, &t)) << bad;
  }
}

TEST(FormatUtcTime, RoundTripsParse) {
  for (int64_t t : {int64_t{0}, int64_t{1709209815}, int64_t{-86401}, int64_t{4102444800}}) {
    int64_t back = 0;
    ASSERT_TRUE(ParseTimestamp(FormatUtcTime(t), TimeUnit::kAuto, &back)) << FormatUtcTime(t);
    EXPECT_EQ(back, t);
  }
  EXPECT_EQ(FormatUtcTime(1709209815), "2024-02-29T12:30:15Z");
}

TEST(IsValidUtf8, AcceptsWellFormedRejectsMalformed) {
  EXPECT_TRUE(IsValidUtf8("plain ascii, long enough to use the fast path"));
  EXPECT_TRUE(IsValidUtf8("Beyonc\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x8E\xB5"));
  EXPECT_FALSE(IsValidUtf8("caf\xE9"));                // Latin-1
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));               // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));           // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));       // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("truncated \xE2\x82"));
}

TEST(QuoteForMessage, EscapesAndTruncates) {
  EXPECT_EQ(QuoteForMessage("ab\ncd"), "'ab\\x0acd'");
  EXPECT_EQ(QuoteForMessage(std::string(50, 'x'), 4), "'xxxx'...");
}

}  // namespace
}  // namespace encore::io
