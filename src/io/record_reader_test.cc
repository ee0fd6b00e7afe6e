#include "io/record_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace encore::io {
namespace {

using encore::testing::TempDir;
using encore::testing::WriteFile;
using encore::testing::WriteGzipFile;

struct Parsed {
  uint64_t line;
  std::vector<std::string> fields;
  Record::Error error;
  std::string raw;
};

std::vector<Parsed> ParseAll(const std::string& path, char sep = ',',
                             RecordReader::Mode mode = RecordReader::Mode::kDelimited) {
  auto source = ByteSource::Open(path);
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  RecordReader rr(std::move(source).value(), mode, sep);
  std::vector<Parsed> out;
  Record rec;
  while (true) {
    auto more = rr.Next(&rec);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    Parsed p{rec.line, {}, rec.error, std::string(rec.raw)};
    for (const auto& f : rec.fields) p.fields.emplace_back(f.value);
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<Parsed> ParseText(const std::string& text, char sep = ',') {
  TempDir dir;
  WriteFile(dir.File("in.csv"), text);
  return ParseAll(dir.File("in.csv"), sep);
}

using Fields = std::vector<std::string>;

TEST(RecordReader, QuotedFieldMayContainTheSeparator) {
  auto r = ParseText("a,\"b,c\",d\n");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].fields, (Fields{"a", "b,c", "d"}));
}

TEST(RecordReader, DoubledQuotesInsideQuotesBecomeOneQuote) {
  auto r = ParseText("\"say \"\"hi\"\"\",x\n\"\"\"\",\"\"\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields, (Fields{"say \"hi\"", "x"}));
  EXPECT_EQ(r[1].fields, (Fields{"\"", ""}));
}

TEST(RecordReader, NewlinesInsideQuotesStayInTheField) {
  auto r = ParseText("u1,\"line one\nline two\r\nline three\",5\nu2,i,3\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields, (Fields{"u1", "line one\nline two\r\nline three", "5"}));
  EXPECT_EQ(r[0].line, 1u);
  EXPECT_EQ(r[1].line, 4u) << "line numbers count physical lines";
}

TEST(RecordReader, CrlfLineEndingsAreStripped) {
  auto r = ParseText("a,b\r\nc,\"d\"\r\ne,f");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].fields, (Fields{"a", "b"}));
  EXPECT_EQ(r[1].fields, (Fields{"c", "d"}));
  EXPECT_EQ(r[2].fields, (Fields{"e", "f"}));
  EXPECT_EQ(r[0].raw, "a,b");
}

TEST(RecordReader, Utf8ByteOrderMarkIsSkipped) {
  auto r = ParseText("\xEF\xBB\xBFuser,item\nu,i\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields, (Fields{"user", "item"}));
}

TEST(RecordReader, AnyOneByteSeparator) {
  for (char sep : {'\t', ';', '|', ' ', ':'}) {
    std::string text = std::string("a") + sep + "\"b" + sep + "c\"" + sep + "d\n";
    auto r = ParseText(text, sep);
    ASSERT_EQ(r.size(), 1u) << sep;
    EXPECT_EQ(r[0].fields, (Fields{"a", std::string("b") + sep + "c", "d"})) << sep;
  }
}

TEST(RecordReader, QuoteInsideUnquotedFieldIsLiteral) {
  auto r = ParseText("12\" vinyl,x\n");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].fields, (Fields{"12\" vinyl", "x"}));
}

TEST(RecordReader, UnterminatedQuoteCostsOnlyItsLine) {
  auto r = ParseText("u1,i1,1\nu2,\"oops,2\nu3,i3,3\n");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1].error, Record::Error::kUnterminatedQuote);
  EXPECT_EQ(r[1].line, 2u);
  EXPECT_EQ(r[1].raw, "u2,\"oops,2");
  EXPECT_EQ(r[2].fields, (Fields{"u3", "i3", "3"}));
  EXPECT_EQ(r[2].line, 3u);
}

TEST(RecordReader, TextAfterClosingQuoteIsAnError) {
  auto r = ParseText("\"a\"b,c\nd,e\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].error, Record::Error::kTextAfterQuote);
  EXPECT_EQ(r[0].raw, "\"a\"b,c");
  EXPECT_EQ(r[1].fields, (Fields{"d", "e"}));
}

TEST(RecordReader, EmptyFieldsAndTrailingSeparator) {
  auto r = ParseText(",a,,\n");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].fields, (Fields{"", "a", "", ""}));
}

TEST(RecordReader, BlankLinesComeBackEmpty) {
  auto r = ParseText("a\n\n\r\nb\n");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_TRUE(r[1].raw.empty());
  EXPECT_TRUE(r[2].raw.empty());
  EXPECT_EQ(r[3].line, 4u);
}

TEST(RecordReader, RecordsSpanningBlockBoundaries) {
  std::string text;
  std::string big(300000, 'x');
  for (int i = 0; i < 20; ++i) text += "u" + std::to_string(i) + ",\"" + big + "\n" + big + "\",1\n";
  auto r = ParseText(text);
  ASSERT_EQ(r.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(r[i].fields.size(), 3u);
    EXPECT_EQ(r[i].fields[1].size(), 2 * big.size() + 1);
    EXPECT_EQ(r[i].line, 1u + 2u * i);
  }
}

TEST(RecordReader, GzipIsDecompressedTransparently) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "u" + std::to_string(i) + ",i,1\n";
  WriteGzipFile(dir.File("in.csv.gz"), text);
  auto r = ParseAll(dir.File("in.csv.gz"));
  ASSERT_EQ(r.size(), 50000u);
  EXPECT_EQ(r[49999].fields[0], "u49999");
}

TEST(RecordReader, TruncatedGzipIsAnIOError) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "user" + std::to_string(i * 7919) + ",i,1\n";
  WriteGzipFile(dir.File("in.csv.gz"), text);
  std::string gz = encore::testing::ReadFile(dir.File("in.csv.gz"));
  WriteFile(dir.File("cut.csv.gz"), gz.substr(0, gz.size() / 2));
  auto source = ByteSource::Open(dir.File("cut.csv.gz"));
  ASSERT_TRUE(source.ok());
  RecordReader rr(std::move(source).value(), RecordReader::Mode::kDelimited, ',');
  Record rec;
  Status last;
  while (true) {
    auto more = rr.Next(&rec);
    if (!more.ok()) {
      last = more.status();
      break;
    }
    if (!*more) break;
  }
  EXPECT_EQ(last.code(), StatusCode::kIOError);
  EXPECT_NE(last.message().find("cut.csv.gz"), std::string::npos);
}

TEST(RecordReader, LinesModeIgnoresQuotes) {
  TempDir dir;
  WriteFile(dir.File("in.jsonl"), "{\"a\": \"x\ny\"}\n{\"b\":1}\r\n");
  auto r = ParseAll(dir.File("in.jsonl"), ',', RecordReader::Mode::kLines);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[2].raw, "{\"b\":1}");
}

}  // namespace
}  // namespace encore::io
