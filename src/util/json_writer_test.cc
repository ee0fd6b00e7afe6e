#include "util/json_writer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <limits>
#include <string>

namespace encore {
namespace {

// Parses `text` with a strict, independent parser (full UTF-8 validation).
bool IsValidJson(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  return parser.parse(text).get(root) == simdjson::SUCCESS;
}

// The string `s` goes through the writer and back through simdjson.
std::string RoundTrip(std::string_view s) {
  JsonWriter w;
  w.BeginArray();
  w.String(s);
  w.EndArray();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(w.str()).get(root), simdjson::SUCCESS) << w.str();
  std::string_view back;
  EXPECT_EQ(root.at(0).get(back), simdjson::SUCCESS);
  return std::string(back);
}

TEST(JsonWriter, WritesNestedValuesCompactly) {
  JsonWriter w;
  w.BeginObject();
  w.Key("n");
  w.Uint(18446744073709551615u);
  w.Key("i");
  w.Int(-42);
  w.Key("list");
  w.BeginArray();
  w.Double(0.5);
  w.Double(3);
  w.Bool(true);
  w.Null();
  w.BeginObject();
  w.EndObject();
  w.BeginArray();
  w.EndArray();
  w.EndArray();
  w.Key("s");
  w.String("x");
  w.EndObject();
  EXPECT_TRUE(w.complete());
  EXPECT_EQ(w.str(),
            R"({"n":18446744073709551615,"i":-42,"list":[0.5,3,true,null,{},[]],"s":"x"})");
  EXPECT_TRUE(IsValidJson(w.str()));
}

TEST(JsonWriter, PrettyPrintsWithIndent) {
  JsonWriter w(2);
  w.BeginObject();
  w.Key("a");
  w.BeginArray();
  w.Uint(1);
  w.Uint(2);
  w.EndArray();
  w.Key("empty");
  w.BeginObject();
  w.EndObject();
  w.EndObject();
  EXPECT_EQ(w.str(), "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"empty\": {}\n}");
  EXPECT_TRUE(IsValidJson(w.str()));
}

TEST(JsonWriter, DoublesAreShortestAndNonFiniteIsNull) {
  JsonWriter w;
  w.BeginArray();
  w.Double(0.1);
  w.Double(1e300);
  w.Double(-2.5e-7);
  w.Double(std::nan(""));
  w.Double(std::numeric_limits<double>::infinity());
  w.EndArray();
  EXPECT_EQ(w.str(), "[0.1,1e+300,-2.5e-07,null,null]");
  EXPECT_TRUE(IsValidJson(w.str()));
}

TEST(JsonWriter, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonWriter::Quote("a\"b\\c/d"), R"("a\"b\\c/d")");
  EXPECT_EQ(JsonWriter::Quote("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(JsonWriter::Quote(std::string("\0\x01\x1f\x7f", 4)), R"("\u0000\u0001\u001f\u007f")");
  std::string all_ascii;
  for (int c = 0; c < 128; ++c) all_ascii.push_back(static_cast<char>(c));
  EXPECT_EQ(RoundTrip(all_ascii), all_ascii);
}

TEST(JsonWriter, KeepsValidUtf8AndReplacesInvalidBytes) {
  const std::string valid = "émile 日本 \xF0\x9F\x98\x80";  // 2, 3 and 4-byte sequences
  EXPECT_EQ(JsonWriter::Quote(valid), "\"" + valid + "\"");
  EXPECT_EQ(RoundTrip(valid), valid);
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(RoundTrip(std::string("a\xff") + "b"), "a" + fffd + "b");
  EXPECT_EQ(RoundTrip("\xC0\xAF"), fffd + fffd) << "overlong '/'";
  EXPECT_EQ(RoundTrip("\xED\xA0\x80"), fffd + fffd + fffd) << "encoded surrogate";
  EXPECT_EQ(RoundTrip("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd) << "above U+10FFFF";
  EXPECT_EQ(RoundTrip("x\xE2\x82"), "x" + fffd + fffd) << "truncated at the end";
  EXPECT_EQ(RoundTrip("\x80z"), fffd + "z") << "stray continuation byte";
}

TEST(JsonWriter, EscapesLineAndParagraphSeparators) {
  EXPECT_EQ(JsonWriter::Quote("\xE2\x80\xA8\xE2\x80\xA9"), R"("\u2028\u2029")");
  EXPECT_EQ(RoundTrip("\xE2\x80\xA8"), "\xE2\x80\xA8");
}

TEST(JsonWriter, KeysAreEscapedToo) {
  JsonWriter w;
  w.BeginObject();
  w.Key("we\"ird\n");
  w.Uint(1);
  w.EndObject();
  EXPECT_EQ(w.str(), R"({"we\"ird\n":1})");
  EXPECT_TRUE(IsValidJson(w.str()));
}

TEST(JsonWriterDeathTest, MisuseAborts) {
  EXPECT_DEATH(
      {
        JsonWriter w;
        w.BeginObject();
        w.Uint(1);  // a value without a key
      },
      "invariant");
  EXPECT_DEATH(
      {
        JsonWriter w;
        w.BeginArray();
        w.EndObject();
      },
      "invariant");
}

}  // namespace
}  // namespace encore
