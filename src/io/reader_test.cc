// One test per reading rule and error rule of include/encore/reader.h.
#include "encore/reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace encore {
namespace {

using encore::testing::ReadFile;
using encore::testing::TempDir;
using encore::testing::WriteFile;
using encore::testing::WriteGzipFile;

struct Outcome {
  Result<InteractionLog> log = Status::Internal("not run");
  ReadReport report;
};

Outcome ReadText(const std::string& text, ReadOptions opt = {}, const std::string& name = "in.csv") {
  TempDir dir;
  WriteFile(dir.File(name), text);
  Outcome o;
  o.log = ReadInteractions({dir.File(name)}, opt, &o.report);
  return o;
}

std::vector<std::string> Users(const InteractionLog& log) {
  std::vector<std::string> out;
  for (size_t r = 0; r < log.size(); ++r) out.emplace_back(log.users.Name(log.user[r]));
  return out;
}
std::vector<std::string> Items(const InteractionLog& log) {
  std::vector<std::string> out;
  for (size_t r = 0; r < log.size(); ++r) out.emplace_back(log.items.Name(log.item[r]));
  return out;
}
using Strings = std::vector<std::string>;

TEST(Reader, HeaderColumnsAreFoundByWellKnownNames) {
  auto o = ReadText("userId,movieId,rating,timestamp\n1,10,4.5,964982703\n2,20,3,964982704\n");
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(Users(*o.log), (Strings{"1", "2"}));
  EXPECT_EQ(Items(*o.log), (Strings{"10", "20"}));
  EXPECT_EQ(o.log->value[0], 4.5f);
  ASSERT_TRUE(o.log->has_times);
  EXPECT_EQ(o.log->time[1], 964982704);
  EXPECT_EQ(o.report.rows_read, 2u);
  EXPECT_EQ(o.report.rows_accepted, 2u);
}

TEST(Reader, ColumnsChosenByNameOrOneBasedIndex) {
  ReadOptions opt;
  opt.user_col = ColumnRef::Parse("buyer");
  opt.item_col = ColumnRef::Parse("3");
  opt.value_col = ColumnRef::Parse("qty");
  auto o = ReadText("qty,buyer,album\n2,ann,abbey road\n", opt);
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(Users(*o.log), (Strings{"ann"}));
  EXPECT_EQ(Items(*o.log), (Strings{"abbey road"}));
  EXPECT_EQ(o.log->value[0], 2.0f);
}

TEST(Reader, HeaderlessFileDefaultsToUserItemValue) {
  ReadOptions opt;
  opt.header = false;
  auto o = ReadText("a,x,2\nb,y,3\n", opt);
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(Users(*o.log), (Strings{"a", "b"}));
  EXPECT_EQ(o.log->value[1], 3.0f);
}

TEST(Reader, UnknownColumnNameIsAnErrorListingTheHeader) {
  ReadOptions opt;
  opt.user_col = ColumnRef::Parse("customer_email");
  auto o = ReadText("email,item\na@b.c,x\n", opt);
  ASSERT_FALSE(o.log.ok());
  EXPECT_NE(o.log.status().message().find("no column named 'customer_email'"), std::string::npos);
  EXPECT_NE(o.log.status().message().find("email, item"), std::string::npos);
}

TEST(Reader, MissingFileIsNotFound) {
  ReadReport report;
  auto log = ReadInteractions({"/nonexistent/ratings.csv"}, {}, &report);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kNotFound);
  EXPECT_NE(log.status().message().find("/nonexistent/ratings.csv"), std::string::npos);
}

TEST(Reader, EmptyFileIsAnError) {
  auto o = ReadText("");
  ASSERT_FALSE(o.log.ok());
  EXPECT_NE(o.log.status().message().find("is empty"), std::string::npos);
}

TEST(Reader, HeaderWithoutRowsIsAnError) {
  auto o = ReadText("user,item\n");
  ASSERT_FALSE(o.log.ok());
  EXPECT_NE(o.log.status().message().find("no data rows"), std::string::npos);
}

TEST(Reader, WrongColumnCountIsRejectedWithFileAndLine) {
  ReadOptions opt;
  opt.max_bad_rows = 5;
  auto o = ReadText("user,item,rating\nu,i,1\nu,i\nu,i,1,extra\n", opt);
  ASSERT_TRUE(o.log.ok());
  EXPECT_EQ(o.report.rows_rejected, 2u);
  ASSERT_EQ(o.report.first_rejections.size(), 2u);
  EXPECT_EQ(o.report.first_rejections[0].line, 3u);
  EXPECT_EQ(o.report.first_rejections[0].reason, "expected 3 fields, got 2");
  EXPECT_NE(o.report.first_rejections[0].file.find("in.csv"), std::string::npos);
  EXPECT_EQ(o.report.rejects_by_kind[0].first, "wrong column count");
}

TEST(Reader, UnparsableNumberIsRejected) {
  ReadOptions opt;
  opt.max_bad_rows = 1;
  auto o = ReadText("user,item,rating\nu,i,four\nu,i,4\n", opt);
  ASSERT_TRUE(o.log.ok());
  EXPECT_EQ(o.report.first_rejections[0].reason,
            "unparsable number 'four' in column 'rating'");
  EXPECT_EQ(o.report.rows_accepted, 1u);
}

TEST(Reader, EmptyIdIsRejected) {
  ReadOptions opt;
  opt.max_bad_rows = 2;
  auto o = ReadText("user,item\n,i\nu,\nu,i\n", opt);
  ASSERT_TRUE(o.log.ok());
  EXPECT_EQ(o.report.rows_rejected, 2u);
  EXPECT_EQ(o.report.first_rejections[0].reason, "empty user id in column 'user'");
  EXPECT_EQ(o.report.first_rejections[1].reason, "empty item id in column 'item'");
}

TEST(Reader, BadTimestampIsRejected) {
  ReadOptions opt;
  opt.max_bad_rows = 1;
  auto o = ReadText("user,item,timestamp\nu,i,yesterday\nu,i,2024-01-01\n", opt);
  ASSERT_TRUE(o.log.ok());
  EXPECT_EQ(o.report.rows_rejected, 1u);
  EXPECT_EQ(o.report.rejects_by_kind[0].first, "bad timestamp");
  EXPECT_EQ(o.log->time[0], 1704067200);
}

TEST(Reader, InvalidUtf8IsRejected) {
  ReadOptions opt;
  opt.max_bad_rows = 1;
  auto o = ReadText("user,item\ncaf\xE9,i\nu,i\n", opt);
  ASSERT_TRUE(o.log.ok());
  EXPECT_EQ(o.report.rejects_by_kind[0].first, "invalid UTF-8");
  EXPECT_EQ(o.report.first_rejections[0].line, 2u);
}

TEST(Reader, UnterminatedQuoteIsRejectedAndReadingGoesOn) {
  ReadOptions opt;
  opt.max_bad_rows = 1;
  auto o = ReadText("user,item\nu,\"open\nv,i\n", opt);
  ASSERT_TRUE(o.log.ok());
  EXPECT_EQ(o.report.rejects_by_kind[0].first, "unterminated quote");
  EXPECT_EQ(Users(*o.log), (Strings{"v"}));
}

TEST(Reader, QuotedIdsKeepSeparatorsQuotesAndNewlines) {
  auto o = ReadText("user,item\n\"Smith, J.\",\"12\"\" single\nside B\"\n");
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(Users(*o.log), (Strings{"Smith, J."}));
  EXPECT_EQ(Items(*o.log), (Strings{"12\" single\nside B"}));
}

TEST(Reader, MaxBadRowsExceededFailsNamingTheFirstOffendingLine) {
  auto o = ReadText("user,item,rating\nu,i,1\nu,i,x\nu,i,y\n");
  ASSERT_FALSE(o.log.ok());
  const std::string& m = o.log.status().message();
  EXPECT_NE(m.find("in.csv:3: unparsable number 'x'"), std::string::npos) << m;
  EXPECT_NE(m.find("limit of 0 set by --max-bad-rows"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << "one line";
  ReadOptions opt;
  opt.max_bad_rows = 1;
  auto o2 = ReadText("user,item,rating\nu,i,1\nu,i,x\nu,i,y\n", opt);
  ASSERT_FALSE(o2.log.ok());
  EXPECT_NE(o2.log.status().message().find(":3:"), std::string::npos);
}

TEST(Reader, RejectsFileHoldsEachRejectedRecordVerbatim) {
  TempDir dir;
  ReadOptions opt;
  opt.max_bad_rows = 10;
  opt.rejects_path = dir.File("rejects.csv");
  WriteFile(dir.File("in.csv"),
            "user,item,rating\r\nu,i,1\r\n\"a,b\",i,bad\r\nu,\"multi\nline\",oops\r\nshort\r\n");
  ReadReport report;
  auto log = ReadInteractions({dir.File("in.csv")}, opt, &report);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(report.rows_rejected, 3u);
  EXPECT_EQ(ReadFile(dir.File("rejects.csv")),
            "\"a,b\",i,bad\nu,\"multi\nline\",oops\nshort\n");
}

TEST(Reader, GzipInputIsReadTransparently) {
  TempDir dir;
  WriteGzipFile(dir.File("in.csv.gz"), "user,item\nu1,i1\nu2,i2\n");
  ReadReport report;
  auto log = ReadInteractions({dir.File("in.csv.gz")}, {}, &report);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(log->size(), 2u);
}

TEST(Reader, BlankLinesAreSkippedAndCounted) {
  auto o = ReadText("user,item\n\nu,i\n\n");
  ASSERT_TRUE(o.log.ok());
  EXPECT_EQ(o.report.rows_read, 1u);
  EXPECT_EQ(o.report.blank_lines, 2u);
}

TEST(Reader, JsonLinesReadsKeysAndNumberIds) {
  ReadOptions opt;
  opt.format = InputFormat::kJsonl;
  auto o = ReadText(
      "{\"user\": 17, \"item\": \"a\\\"b\", \"event\": \"view\", \"ts\": \"2024-01-01T00:00:00Z\","
      " \"price\": 9.99}\n{\"item\": \"c\", \"user\": \"u2\", \"event\": \"cart\", \"ts\": 1704067200,"
      " \"price\": null}\n",
      opt, "in.jsonl");
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(Users(*o.log), (Strings{"17", "u2"}));
  EXPECT_EQ(Items(*o.log), (Strings{"a\"b", "c"}));
  ASSERT_TRUE(o.log->has_events);
  EXPECT_EQ(o.log->events.Name(o.log->event[1]), "cart");
  EXPECT_EQ(o.log->time[0], 1704067200);
  ASSERT_EQ(o.log->attributes.size(), 1u);
  EXPECT_EQ(o.log->attributes[0].name, "price");
  EXPECT_EQ(o.log->attributes[0].values.Name(o.log->attributes[0].codes[0]), "9.99");
}

TEST(Reader, InvalidJsonIsRejected) {
  ReadOptions opt;
  opt.format = InputFormat::kJsonl;
  opt.max_bad_rows = 3;
  auto o = ReadText("{\"user\":\"u\",\"item\":\"i\"}\n{\"user\":\"u\",\n[1,2]\n{\"user\":\"u\",\"item\":\"i\"} {}\n",
                    opt, "in.jsonl");
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(o.report.rows_rejected, 3u);
  EXPECT_EQ(o.report.rejects_by_kind[0].first, "invalid JSON");
}

TEST(Reader, JsonNestedValueInAnIdIsRejected) {
  ReadOptions opt;
  opt.format = InputFormat::kJsonl;
  opt.max_bad_rows = 1;
  auto o = ReadText("{\"user\":\"u\",\"item\":\"i\"}\n{\"user\":{\"id\":1},\"item\":\"i\"}\n", opt,
                    "in.jsonl");
  ASSERT_TRUE(o.log.ok());
  EXPECT_EQ(o.report.rejects_by_kind[0].first, "nested JSON value");
}

TEST(Reader, JsonMissingKeyIsRejected) {
  ReadOptions opt;
  opt.format = InputFormat::kJsonl;
  opt.max_bad_rows = 1;
  auto o = ReadText("{\"user\":\"u\",\"item\":\"i\"}\n{\"user\":\"u\"}\n", opt, "in.jsonl");
  ASSERT_TRUE(o.log.ok());
  EXPECT_EQ(o.report.rejects_by_kind[0].first, "missing column");
}

TEST(Reader, PresetMovieLensIsTabSeparatedWithoutHeader) {
  ReadOptions opt;
  opt.format = InputFormat::kMovieLens;
  auto o = ReadText("196\t242\t3\t881250949\n186\t302\t3\t891717742\n", opt, "u.data");
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(Users(*o.log), (Strings{"196", "186"}));
  EXPECT_EQ(o.log->time[0], 881250949);
}

TEST(Reader, PresetMlLatestNeedsItsHeader) {
  ReadOptions opt;
  opt.format = InputFormat::kMlLatest;
  auto ok = ReadText("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n", opt);
  ASSERT_TRUE(ok.log.ok()) << ok.log.status().ToString();
  auto bad = ReadText("user,item,rating\n1,1,4.0\n", opt);
  ASSERT_FALSE(bad.log.ok());
  EXPECT_NE(bad.log.status().message().find("does not look like a ml-latest file"),
            std::string::npos);
}

TEST(Reader, PresetLastfmReadsUserArtistsDat) {
  ReadOptions opt;
  opt.format = InputFormat::kLastfm;
  auto o = ReadText("userID\tartistID\tweight\r\n2\t51\t13883\r\n2\t52\t11690\r\n", opt,
                    "user_artists.dat");
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(Items(*o.log), (Strings{"51", "52"}));
  EXPECT_EQ(o.log->value[0], 13883.0f);
}

TEST(Reader, PresetMismatchIsAClearError) {
  ReadOptions opt;
  opt.format = InputFormat::kMovieLens;
  opt.max_bad_rows = 100;
  auto o = ReadText("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n", opt);
  ASSERT_FALSE(o.log.ok());
  EXPECT_NE(o.log.status().message().find("does not look like a movielens file"),
            std::string::npos)
      << o.log.status().message();
}

TEST(Reader, PresetBasketsMakesEachLineAUser) {
  ReadOptions opt;
  opt.format = InputFormat::kBaskets;
  auto o = ReadText("citrus fruit,margarine\nwhole milk\n\"a, b\",yogurt,coffee\n", opt);
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(Users(*o.log), (Strings{"1", "1", "2", "3", "3", "3"}));
  EXPECT_EQ(Items(*o.log)[3], "a, b");
  EXPECT_EQ(o.report.rows_read, 3u);
  EXPECT_EQ(o.report.rows_accepted, 3u);
}

TEST(Reader, MatrixLineIsUserAndColumnIsItemZeroMissing) {
  ReadOptions opt;
  opt.format = InputFormat::kMatrix;
  // CRLF, runs of spaces and tabs, a blank line (user 3 has none), a row of zeros.
  auto o = ReadText("0 4  0\r\n5\t0 1\r\n\r\n0 0 0\r\n0 0 2.5", opt, "train.ascii");
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(Users(*o.log), (Strings{"1", "2", "2", "5"}));
  EXPECT_EQ(Items(*o.log), (Strings{"2", "1", "3", "3"}));
  EXPECT_EQ(o.log->value[0], 4.0f);
  EXPECT_EQ(o.log->value[3], 2.5f);
  EXPECT_EQ(o.report.rows_read, 4u);
  EXPECT_EQ(o.report.rows_accepted, 4u);
  EXPECT_EQ(o.report.blank_lines, 1u);
}

TEST(Reader, MatrixMissingValueAndSeparatorAreConfigurable) {
  ReadOptions opt;
  opt.format = InputFormat::kMatrix;
  opt.missing_value = -1;
  opt.separator = ',';
  auto o = ReadText("-1, 0,3\n2,-1,-1\n", opt);
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(Users(*o.log), (Strings{"1", "1", "2"}));
  EXPECT_EQ(Items(*o.log), (Strings{"2", "3", "1"}));
  EXPECT_EQ(o.log->value[0], 0.0f);
}

TEST(Reader, MatrixRaggedRowIsRejectedWithLineAndColumn) {
  ReadOptions opt;
  opt.format = InputFormat::kMatrix;
  auto o = ReadText("1 0 0\n0 2\n0 0 3\n", opt, "m.txt");
  ASSERT_FALSE(o.log.ok());
  EXPECT_NE(o.log.status().message().find("m.txt:2: column 3: expected 3 cells (as the first "
                                          "line), got 2"),
            std::string::npos)
      << o.log.status().message();
  EXPECT_NE(o.log.status().message().find("--max-bad-rows"), std::string::npos);

  opt.max_bad_rows = 1;
  o = ReadText("1 0 0\n0 2\n0 0 3 4\n0 0 3\n", opt, "m.txt");
  ASSERT_FALSE(o.log.ok());  // two rejected rows
  opt.max_bad_rows = 2;
  o = ReadText("1 0 0\n0 2\n0 0 3 4\n0 0 3\n", opt, "m.txt");
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(Users(*o.log), (Strings{"1", "4"}));
  EXPECT_EQ(o.report.first_rejections[1].reason.substr(0, 42),
            "column 4: expected 3 cells (as the first l");
}

TEST(Reader, MatrixNonNumberIsRejectedWithLineAndColumn) {
  ReadOptions opt;
  opt.format = InputFormat::kMatrix;
  for (const char* bad : {"x", "nan", "\"3\"", "4;"}) {
    auto o = ReadText(std::string("1 0 0\n0 ") + bad + " 0\n", opt, "m.txt");
    ASSERT_FALSE(o.log.ok()) << bad;
    EXPECT_NE(o.log.status().message().find("m.txt:2: column 2: unparsable number"),
              std::string::npos)
        << o.log.status().message();
    EXPECT_NE(o.log.status().message().find("--missing-value"), std::string::npos);
  }
}

TEST(Reader, MatrixRejectsHeaderObfuscationAndEmptyFiles) {
  ReadOptions opt;
  opt.format = InputFormat::kMatrix;
  EXPECT_FALSE(ReadText("\n \n", opt).log.ok());
  opt.header = true;
  EXPECT_FALSE(ReadText("1 2\n", opt).log.ok());
  Result<InputFormat> format = ParseInputFormat("matrix");
  ASSERT_TRUE(format.ok());
  EXPECT_EQ(*format, InputFormat::kMatrix);
  EXPECT_STREQ(InputFormatName(InputFormat::kMatrix), "matrix");
}

TEST(Reader, UnknownEventTypeIsRejectedWhenWeightsAreGiven) {
  ReadOptions opt;
  opt.known_events = {"view", "purchase"};
  opt.max_bad_rows = 1;
  auto o = ReadText("user,item,event\nu,i,view\nu,i,refund\nu,i,purchase\n", opt);
  ASSERT_TRUE(o.log.ok());
  EXPECT_EQ(o.report.first_rejections[0].reason,
            "event type 'refund' in column 'event' has no weight; add it to --weights");
  EXPECT_EQ(o.log->size(), 2u);
}

TEST(Reader, OtherNamedColumnsAreKeptAsAttributes) {
  auto o = ReadText("user,item,price,category\nu,i,9.99,rock\nv,j,5,jazz\n");
  ASSERT_TRUE(o.log.ok());
  ASSERT_EQ(o.log->attributes.size(), 2u);
  EXPECT_EQ(o.log->attributes[1].name, "category");
  EXPECT_EQ(o.log->attributes[1].values.Name(o.log->attributes[1].codes[1]), "jazz");
  ReadOptions none;
  none.keep_all_attributes = false;
  auto n = ReadText("user,item,price\nu,i,1\n", none);
  ASSERT_TRUE(n.log.ok());
  EXPECT_TRUE(n.log->attributes.empty());
}

TEST(Reader, SeveralFilesAreReadInOrder) {
  TempDir dir;
  WriteFile(dir.File("a.csv"), "user,item\nu1,i1\n");
  WriteGzipFile(dir.File("b.csv.gz"), "user,item\nu2,i1\n");
  ReadReport report;
  auto log = ReadInteractions({dir.File("a.csv"), dir.File("b.csv.gz")}, {}, &report);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(Users(*log), (Strings{"u1", "u2"}));
  EXPECT_EQ(log->items.size(), 1u);
  EXPECT_EQ(report.files.size(), 2u);
}

TEST(Reader, IdsRoundTripUnchanged) {
  Strings ids = {"007", "7", "émile@example.com", "a b", "x\ty", "1e3", "-0", "ΑΩ"};
  std::string text = "user,item\n";
  for (const auto& id : ids) {
    std::string q = "\"";
    for (char c : id) q += (c == '"' ? std::string("\"\"") : std::string(1, c));
    text += q + "\",item\n";
  }
  auto o = ReadText(text);
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(Users(*o.log), ids);
  EXPECT_EQ(o.log->users.size(), ids.size()) << "\"007\" and \"7\" stay distinct";
}

// --- obfuscation ---------------------------------------------------------

TEST(Reader, ObfuscationWithoutKeyIsRefused) {
  ReadOptions opt;
  opt.obfuscate_cols = {"email"};
  auto o = ReadText("email,item\na@b.c,x\n", opt);
  ASSERT_FALSE(o.log.ok());
  EXPECT_NE(o.log.status().message().find("key"), std::string::npos);
}

TEST(Reader, ObfuscatedValuesNeverReachAnyOutput) {
  TempDir dir;
  Obfuscator obf("a-test-key-of-32-bytes-0123456789");
  ReadOptions opt;
  opt.user_col = ColumnRef::Parse("email");
  opt.obfuscate_cols = {"email", "street"};
  opt.obfuscator = &obf;
  opt.max_bad_rows = 10;
  opt.rejects_path = dir.File("rejects.csv");
  const Strings secrets = {"alice.secret@example.com", "1 Hidden Lane", "bob.private@example.org",
                           "99 Covert Road", "carol.undisclosed@example.net", "7 Quiet St",
                           "dave.masked@example.io", "8 Veiled Ave"};
  WriteFile(dir.File("in.csv"),
            "email,street,item,quantity\n"
            "alice.secret@example.com,1 Hidden Lane,album1,1\n"
            "bob.private@example.org,99 Covert Road,album2,many\n"          // bad number
            "carol.undisclosed@example.net,\"7 Quiet St,album3,1\n"         // unterminated quote
            "dave.masked@example.io,8 Veiled Ave,album4\n"                  // wrong column count
            "alice.secret@example.com,1 Hidden Lane,album5,2\n");
  ReadReport report;
  auto log = ReadInteractions({dir.File("in.csv")}, opt, &report);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(report.rows_rejected, 3u);
  std::string everything = ReadFile(dir.File("rejects.csv"));
  for (const auto& r : report.first_rejections) everything += r.reason + r.file;
  for (uint32_t u = 0; u < log->users.size(); ++u) everything += std::string(log->users.Name(u));
  for (const auto& a : log->attributes) {
    for (uint32_t v = 0; v < a.values.size(); ++v) everything += std::string(a.values.Name(v));
  }
  for (const auto& s : secrets) {
    EXPECT_EQ(everything.find(s), std::string::npos) << s;
    // Not even a distinctive fragment of it.
    EXPECT_EQ(everything.find(s.substr(0, 8)), std::string::npos) << s;
  }
  // Hashed emails still join: alice's two rows share one user.
  EXPECT_EQ(log->users.size(), 1u);
  EXPECT_EQ(log->users.Name(0), obf.Hash("alice.secret@example.com"));
  EXPECT_EQ(log->users.Name(0).size(), 32u);
}

TEST(Obfuscator, StableKeyedAndRefusesShortKeys) {
  Obfuscator a("k1-0123456789abcdef"), b("k2-0123456789abcdef");
  EXPECT_EQ(a.Hash("x@y.z"), a.Hash("x@y.z"));
  EXPECT_NE(a.Hash("x@y.z"), b.Hash("x@y.z"));
  EXPECT_NE(a.Hash("x@y.z"), a.Hash("x@y.zz"));
  EXPECT_FALSE(Obfuscator::Create("short").ok());
}

}  // namespace
}  // namespace encore

// --- regression tests for bugs found in review ------------------------------

namespace encore {
namespace {

// Both ids were hashed into one buffer: every item became its user's hash.
TEST(ReaderRegression, ObfuscatingUserAndItemKeepsThemApart) {
  Obfuscator obf("a-test-key-of-32-bytes-0123456789");
  ReadOptions opt;
  opt.obfuscate_cols = {"user", "item"};
  opt.obfuscator = &obf;
  auto o = ReadText("user,item\nu1,i1\nu2,i2\nu3,i1\n", opt);
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(o.log->items.size(), 2u);
  EXPECT_EQ(Items(*o.log), (Strings{obf.Hash("i1"), obf.Hash("i2"), obf.Hash("i1")}));
  EXPECT_EQ(Users(*o.log)[0], obf.Hash("u1"));
}

// A record rejected before the column plan existed went to the rejects file in clear.
TEST(ReaderRegression, RecordRejectedBeforeTheLayoutIsKnownIsMasked) {
  Obfuscator obf("a-test-key-of-32-bytes-0123456789");
  for (bool jsonl : {false, true}) {
    TempDir dir;
    ReadOptions opt;
    opt.obfuscator = &obf;
    opt.max_bad_rows = 5;
    opt.rejects_path = dir.File("rejects");
    std::string name;
    if (jsonl) {
      opt.format = InputFormat::kJsonl;
      opt.obfuscate_cols = {"user"};
      name = "in.jsonl";
      WriteFile(dir.File(name), "{\"user\":\"secretuser\",\"item\":\n{\"user\":\"u1\",\"item\":\"i1\"}\n");
    } else {
      opt.header = false;
      opt.obfuscate_cols = {"1"};
      name = "in.csv";
      WriteFile(dir.File(name), "\"secretuser,i1\nu1,i1\nu2,i2\n");
    }
    ReadReport report;
    auto log = ReadInteractions({dir.File(name)}, opt, &report);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    EXPECT_EQ(report.rows_rejected, 1u);
    std::string rejects = ReadFile(dir.File("rejects"));
    EXPECT_EQ(rejects.find("secretuser"), std::string::npos) << rejects;
    EXPECT_EQ(rejects.rfind("masked:", 0), 0u) << rejects;
  }
}

// Rows of a later file without a time column got time 0 (1970) silently.
TEST(ReaderRegression, LaterFileWithoutTimeColumnIsAnError) {
  TempDir dir;
  WriteFile(dir.File("t1.csv"), "user,item,timestamp\nu1,i1,1700000000\n");
  WriteFile(dir.File("t2.csv"), "user,item\nu2,i2\n");
  ReadReport report;
  auto log = ReadInteractions({dir.File("t1.csv"), dir.File("t2.csv")}, {}, &report);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("has no time column but earlier files do"),
            std::string::npos);
}

// Only the first nested key of an object was remembered, so a later role key
// holding an object was taken as an id.
TEST(ReaderRegression, NestedRoleValueIsRejectedAfterAnotherNestedKey) {
  ReadOptions opt;
  opt.format = InputFormat::kJsonl;
  opt.keep_all_attributes = false;
  opt.max_bad_rows = 5;
  auto o = ReadText("{\"meta\":{\"a\":1},\"user\":{\"id\":7},\"item\":\"i1\"}\n"
                    "{\"meta\":[1],\"user\":\"u1\",\"item\":\"i1\"}\n",
                    opt, "in.jsonl");
  ASSERT_TRUE(o.log.ok()) << o.log.status().ToString();
  EXPECT_EQ(o.report.rows_rejected, 1u);
  EXPECT_EQ(o.report.rejects_by_kind[0].first, "nested JSON value");
  EXPECT_EQ(Users(*o.log), (Strings{"u1"}));
}

}  // namespace
}  // namespace encore

namespace encore {
namespace {

// Regression (issue 10): more distinct ids than a dictionary may number was an
// abort (ENCORE_CHECK in IdDictionary); it is an error naming the row.
TEST(ReaderLimits, TooManyDistinctIdsIsAnErrorNotAnAbort) {
  ReadOptions opt;
  opt.max_distinct_ids = 3;
  std::string csv = "user,item\n";
  for (int u = 0; u < 5; ++u) csv += "u" + std::to_string(u) + ",i\n";
  auto o = ReadText(csv, opt);
  ASSERT_FALSE(o.log.ok());
  EXPECT_EQ(o.log.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(o.log.status().message().find("in.csv: more than 3 distinct users"),
            std::string::npos)
      << o.log.status().message();
  // Repeated ids do not count; at the limit exactly, everything is read.
  csv += "u0,i\nu4,i\n";
  opt.max_distinct_ids = 5;
  auto fits = ReadText(csv, opt);
  ASSERT_TRUE(fits.log.ok()) << fits.log.status().message();
  EXPECT_EQ(fits.log->users.size(), 5u);
  EXPECT_EQ(fits.log->size(), 7u);
  // Event types and attribute values have the same limit.
  ReadOptions two;
  two.max_distinct_ids = 2;
  auto events = ReadText("user,item,event\na,x,view\nb,y,cart\nc,z,buy\n", two);
  ASSERT_FALSE(events.log.ok());
  EXPECT_NE(events.log.status().message().find("distinct event types"), std::string::npos)
      << events.log.status().message();
}

}  // namespace
}  // namespace encore
