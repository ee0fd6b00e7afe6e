// payload: slicing keeps stored bytes, exclusion by decoded id, extra
// members, corrupt payloads; the fold-in request parser.

#include "serve/payload.h"

#include <gtest/gtest.h>

#include "util/json_writer.h"

namespace encore::serve {
namespace {

const char* kUser =
    R"({"user":"u1","snapshot":3,"items":[{"item":"a","score":0.5},{"item":"b\"q","score":1e-05},)"
    R"({"item":"c","score":0.25},{"item":"\u0064","score":0.125}]})";

std::string Slice(std::string_view payload, const SliceSpec& spec, const char* key = "items") {
  std::string out;
  Status s = SlicePayload(payload, key, spec, &out);
  return s.ok() ? out : "ERROR: " + s.ToString();
}

TEST(SlicePayload, UnslicedIsTheSameDocument) { EXPECT_EQ(Slice(kUser, {}), kUser); }

TEST(SlicePayload, LimitOffsetAndExclude) {
  SliceSpec spec;
  spec.limit = 2;
  EXPECT_EQ(
      Slice(kUser, spec),
      R"({"user":"u1","snapshot":3,"items":[{"item":"a","score":0.5},{"item":"b\"q","score":1e-05}]})");
  spec.offset = 1;
  spec.limit = 1;
  EXPECT_EQ(Slice(kUser, spec),
            R"({"user":"u1","snapshot":3,"items":[{"item":"b\"q","score":1e-05}]})");
  SliceSpec ex;
  ex.exclude = {"b\"q", "d"};  // decoded ids: "\u0064" is "d"
  EXPECT_EQ(
      Slice(kUser, ex),
      R"({"user":"u1","snapshot":3,"items":[{"item":"a","score":0.5},{"item":"c","score":0.25}]})");
  SliceSpec past;
  past.offset = 10;
  EXPECT_EQ(Slice(kUser, past), R"({"user":"u1","snapshot":3,"items":[]})");
}

TEST(SlicePayload, FirstAndLastMembersReplaceTheStoredOnes) {
  const char* popular =
      R"({"snapshot":4,"fallback":"popular","items":[{"item":"x","score":9}],"extra":{"k":[1,2]}})";
  SliceSpec spec;
  spec.first = {{"user", "\"ghost\""}};
  spec.last = {{"unknown_items", "[\"q\"]"}, {"fallback", "\"none\""}};
  EXPECT_EQ(Slice(popular, spec),
            R"({"user":"ghost","snapshot":4,"items":[{"item":"x","score":9}],"extra":{"k":[1,2]},)"
            R"("unknown_items":["q"],"fallback":"none"})");
}

TEST(SlicePayload, SimilarListAndCorruptPayloads) {
  SliceSpec one;
  one.limit = 1;
  EXPECT_EQ(
      Slice(
          R"({"item":"i","snapshot":1,"similar":[{"item":"j","score":1},{"item":"k","score":0}]})",
          one, "similar"),
      R"({"item":"i","snapshot":1,"similar":[{"item":"j","score":1}]})");
  for (const char* bad :
       {"", "[]", "{", R"({"items":3})", R"({"items":[1]})", R"({"items":[{"score":1}]})",
        R"({"user":"u"})", R"({"items":[{"item":5}]})"}) {
    EXPECT_EQ(Slice(bad, one).rfind("ERROR: corruption: stored payload is not valid", 0), 0u)
        << bad << " -> " << Slice(bad, one);
  }
}

TEST(JsonChecks, ObjectAndKey) {
  EXPECT_TRUE(IsJsonObject(R"({"a":1})"));
  EXPECT_TRUE(IsJsonObject(" {} "));
  EXPECT_FALSE(IsJsonObject("[1]"));
  EXPECT_FALSE(IsJsonObject("{"));
  EXPECT_TRUE(JsonObjectHasKey(R"({"user":"x","a":1})", "user"));
  EXPECT_FALSE(JsonObjectHasKey(R"({"users":"x"})", "user"));
}

TEST(ParseFoldInRequest, FieldsAndErrors) {
  FoldInRequest r;
  ASSERT_TRUE(
      ParseFoldInRequest(R"({"items":["a","b"],"limit":3,"exclude":["c"],"other":1})", 100, 10, &r)
          .ok());
  EXPECT_EQ(r.items, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.exclude, (std::vector<std::string>{"c"}));
  EXPECT_EQ(r.limit, 3u);
  FoldInRequest d;
  ASSERT_TRUE(ParseFoldInRequest(R"({"items":[]})", 100, 10, &d).ok());
  EXPECT_EQ(d.limit, 10u);
  EXPECT_EQ(ParseFoldInRequest("{", 100, 10, &d).code(), StatusCode::kParseError);
  EXPECT_EQ(ParseFoldInRequest("", 100, 10, &d).code(), StatusCode::kParseError);
  for (const char* bad :
       {"[]", "{}", R"({"items":"a"})", R"({"items":[1]})", R"({"items":["a"],"limit":101})",
        R"({"items":["a"],"limit":0})", R"({"items":["a"],"limit":true})",
        R"({"items":["a"],"exclude":[{}]})", R"({"items":["0123456789x"]})", R"({"items":[""]})"}) {
    Status s = ParseFoldInRequest(bad, 100, 10, &d);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad << " " << s.ToString();
  }
}

// Found by serve_payload_fuzz: without "limit" the request got 10 items
// even when the server's --max-limit was smaller.
TEST(ParseFoldInRequest, DefaultLimitRespectsMaxLimit) {
  FoldInRequest r;
  ASSERT_TRUE(ParseFoldInRequest(R"({"items":["a"]})", 5, 10, &r).ok());
  EXPECT_EQ(r.limit, 5u);
  ASSERT_TRUE(ParseFoldInRequest(R"({"items":["a"]})", 1000, 10, &r).ok());
  EXPECT_EQ(r.limit, 10u);
}

// Noticed while writing serve_payload_fuzz: a reused request kept the
// "exclude" and "limit" of the previous body when the new one had none.
TEST(ParseFoldInRequest, ReusedRequestStartsAfresh) {
  FoldInRequest r;
  ASSERT_TRUE(ParseFoldInRequest(R"({"items":["a"],"exclude":["b"],"limit":3})", 100, 10, &r).ok());
  ASSERT_TRUE(ParseFoldInRequest(R"({"items":["c"]})", 100, 10, &r).ok());
  EXPECT_EQ(r.items, (std::vector<std::string>{"c"}));
  EXPECT_TRUE(r.exclude.empty());
  EXPECT_EQ(r.limit, 10u);
}

TEST(AppendFloat, ShortestRoundTrip) {
  for (float f : {0.1f, 1.0f, 1e-5f, 123456.78f, -2.5f}) {
    std::string s;
    ASSERT_TRUE(JsonWriter::AppendFloat(f, &s));
    EXPECT_EQ(std::stof(s), f) << s;
  }
  std::string s;
  ASSERT_TRUE(JsonWriter::AppendFloat(0.1f, &s));
  EXPECT_EQ(s, "0.1");
}

}  // namespace
}  // namespace encore::serve
