#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "pipeline/output.h"
#include "pipeline/staging.h"
#include "pipeline/testing_rows.h"
#include "test_util.h"

namespace encore::pipeline {
namespace {

namespace fs = std::filesystem;
using encore::testing::ReadFile;
using encore::testing::TempDir;
using encore::testing::WriteFile;
using testing::Rows;
using testing::VectorRowSource;

// Minimal RFC 4180 reader (LF or CRLF line ends) for checking what we wrote.
Rows ParseCsv(const std::string& text, char delimiter) {
  Rows rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, in_quotes = false, any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty() && !quoted) {
      in_quotes = quoted = any = true;
    } else if (c == delimiter) {
      row.push_back(field);
      field.clear();
      quoted = false;
      any = true;
    } else if (c == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) {
      ADD_FAILURE() << "bare CR outside quotes at offset " << i;
      field += c;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r') ++i;
      row.push_back(field);
      rows.push_back(row);
      row.clear();
      field.clear();
      quoted = any = false;
    } else {
      field += c;
      any = true;
    }
  }
  EXPECT_FALSE(in_quotes) << "unterminated quoted field";
  EXPECT_FALSE(any) << "last line has no line end";
  return rows;
}

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    char buf[3];
    std::snprintf(buf, sizeof(buf), "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

// Names in `dir`, sorted.
std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Deterministic rows of varied width.
Rows MakeRows(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Rows rows;
  for (size_t i = 0; i < n; ++i) {
    std::string note(rng() % 40, 'x');
    if (i % 7 == 0) note += ",\"quoted\"\nline";
    rows.push_back({"u" + std::to_string(i), "item" + std::to_string(rng() % 1000),
                    std::to_string(rng() % 10000 / 100.0), note});
  }
  return rows;
}

const std::vector<std::string> kColumns = {"user", "item", "score", "note"};

FileOutputOptions Options(const std::string& dir, uint64_t chunk_bytes = 0) {
  FileOutputOptions o;
  o.dir = dir;
  o.prefix = "recs";
  o.run_stamp = "20261124T081500Z";
  o.chunk_bytes = chunk_bytes;
  return o;
}

// All rows of a CSV output, in file order, checking each chunk's header.
Rows ReadCsvOutput(const OutputReport& report, const std::vector<std::string>& header,
                   char delimiter = ',') {
  Rows all;
  for (const auto& file : report.files) {
    Rows rows = ParseCsv(ReadFile(file), delimiter);
    EXPECT_FALSE(rows.empty()) << file;
    if (rows.empty()) continue;
    EXPECT_EQ(rows[0], header) << "header of " << file;
    all.insert(all.end(), rows.begin() + 1, rows.end());
  }
  return all;
}

TEST(FileOutputTest, CsvChunksStayWithinLimitAndReassemble) {
  TempDir tmp;
  VectorRowSource source(kColumns, MakeRows(300, 7));
  const uint64_t limit = 400;
  auto report = WriteCsvOutput(source, Options(tmp.File("out"), limit));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_GT(report->files.size(), 5u);
  EXPECT_EQ(report->rows, 300u);
  EXPECT_EQ(report->location, tmp.File("out"));

  std::vector<std::string> expected_names;
  uint64_t total = 0;
  for (size_t i = 0; i < report->files.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof(name), "recs-20261124T081500Z-%05zu.csv", i + 1);
    expected_names.push_back(name);
    EXPECT_EQ(report->files[i], tmp.File("out") + "/" + name);
    uint64_t size = fs::file_size(report->files[i]);
    EXPECT_LE(size, limit) << report->files[i];
    total += size;
  }
  EXPECT_EQ(report->bytes, total);
  expected_names.push_back(kSuccessFile);
  std::sort(expected_names.begin(), expected_names.end());
  EXPECT_EQ(List(tmp.File("out")), expected_names);
  EXPECT_EQ(ReadCsvOutput(*report, kColumns), source.rows());
  // Only the destination is left in the parent (no staging leftovers).
  EXPECT_EQ(List(tmp.path()), std::vector<std::string>{"out"});
}

TEST(FileOutputTest, CsvChunksAreFilledGreedily) {
  TempDir tmp;
  // Header "a\n" (2 bytes) and rows "xxxx\n" (5 bytes): 2 + 5 + 5 = 12 fits, a third does not.
  Rows rows(7, std::vector<std::string>{"xxxx"});
  VectorRowSource source({"a"}, rows);
  auto report = WriteCsvOutput(source, Options(tmp.File("out"), 12));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->files.size(), 4u);
  EXPECT_EQ(ReadFile(report->files[0]), "a\nxxxx\nxxxx\n");
  EXPECT_EQ(ReadFile(report->files[3]), "a\nxxxx\n");
}

TEST(FileOutputTest, CsvRowLargerThanLimitGetsFileOfItsOwn) {
  TempDir tmp;
  std::string big(500, 'b');
  VectorRowSource source({"v"}, {{"s1"}, {"s2"}, {big}, {"s3"}});
  auto report = WriteCsvOutput(source, Options(tmp.File("out"), 100));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->files.size(), 3u);
  EXPECT_EQ(ReadFile(report->files[0]), "v\ns1\ns2\n");
  EXPECT_EQ(ReadFile(report->files[1]), "v\n" + big + "\n");
  EXPECT_EQ(ReadFile(report->files[2]), "v\ns3\n");
}

TEST(FileOutputTest, CsvQuotingRoundTrips) {
  const std::vector<std::string> odd = {
      "plain",
      "with,comma",
      "with;semicolon",
      "say \"hi\"",
      "\"",
      "line1\nline2",
      "cr\rhere",
      "crlf\r\nend",
      std::string("nul\0byte", 8),
      "",
      " spaced ",
      "tab\there",
      "caf\xc3\xa9",
      "\xff\xfe raw bytes",
      "\"\"",
      ",",
  };
  for (char delimiter : {',', ';', '\t', '|'}) {
    SCOPED_TRACE(std::string("delimiter ") + delimiter);
    TempDir tmp;
    Rows rows;
    for (size_t i = 0; i < odd.size(); ++i) rows.push_back({odd[i], odd[(i + 3) % odd.size()]});
    VectorRowSource source({"a,b", "c\"d"}, rows);
    FileOutputOptions options = Options(tmp.File("out"), 64);
    options.delimiter = delimiter;
    auto report = WriteCsvOutput(source, options);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(ReadCsvOutput(*report, source.columns(), delimiter), rows);
  }
}

TEST(FileOutputTest, CsvQuotesOnlyWhatNeedsIt) {
  TempDir tmp;
  VectorRowSource source({"a", "b", "c", "d", "e"},
                         {{"x,y", "say \"hi\"", "two\nlines", "plain", "c\r"}});
  auto report = WriteCsvOutput(source, Options(tmp.File("out")));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->files.size(), 1u);
  EXPECT_EQ(ReadFile(report->files[0]),
            "a,b,c,d,e\n\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\",plain,\"c\r\"\n");
}

TEST(FileOutputTest, CsvWithoutHeaderAndWithoutRunStamp) {
  TempDir tmp;
  VectorRowSource source({"a"}, {{"1"}, {"2"}});
  FileOutputOptions options = Options(tmp.File("out"));
  options.header = false;
  options.run_stamp = "";
  auto report = WriteCsvOutput(source, options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->files.size(), 1u);
  EXPECT_EQ(report->files[0], tmp.File("out") + "/recs-00001.csv");
  EXPECT_EQ(ReadFile(report->files[0]), "1\n2\n");
}

TEST(FileOutputTest, CsvRejectsBadOptions) {
  TempDir tmp;
  VectorRowSource source({"column"}, {{"1"}});
  FileOutputOptions options = Options(tmp.File("out"), 5);  // header "column\n" is 7 bytes
  auto report = WriteCsvOutput(source, options);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(report.status().message().find("chunk_bytes"), std::string::npos);

  options = Options(tmp.File("out"));
  options.delimiter = '"';
  EXPECT_EQ(WriteCsvOutput(source, options).status().code(), StatusCode::kInvalidArgument);
  options = Options(tmp.File("out"));
  options.prefix = "a/b";
  EXPECT_EQ(WriteCsvOutput(source, options).status().code(), StatusCode::kInvalidArgument);
  options.prefix = "";
  EXPECT_EQ(WriteCsvOutput(source, options).status().code(), StatusCode::kInvalidArgument);
  options = Options("/");
  EXPECT_EQ(WriteCsvOutput(source, options).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(List(tmp.path()).empty());
}

TEST(FileOutputTest, JsonLinesAreValidJsonForOddBytes) {
  TempDir tmp;
  Rows rows;
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes += static_cast<char>(b);
  const std::vector<std::string> texts = {
      all_bytes,          std::string("a\0b", 3), "quote\" back\\slash", "\xc3\x28 bad utf8",
      "\xed\xa0\x80 sur", "\xe2\x80\xa8 ls",      "caf\xc3\xa9",         "",
  };
  const std::vector<std::string> numbers = {"0", "-1", "3.25", "1e3", "-0.5E-2", "", "12", "7"};
  for (size_t i = 0; i < texts.size(); ++i)
    rows.push_back({texts[i], numbers[i], "n" + numbers[i]});
  VectorRowSource source({"text", "score", "we\"ird\n"}, rows);
  auto report = WriteJsonLinesOutput(source, Options(tmp.File("out")), {"score"});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->files.size(), 1u);
  EXPECT_EQ(report->files[0], tmp.File("out") + "/recs-20261124T081500Z.jsonl");
  std::string text = ReadFile(report->files[0]);
  EXPECT_EQ(report->bytes, text.size());

  simdjson::dom::parser parser;
  size_t line_no = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "last line has no line end";
    std::string line = text.substr(start, end - start);
    start = end + 1;
    SCOPED_TRACE("line " + std::to_string(line_no + 1));
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
    simdjson::dom::object obj;
    ASSERT_EQ(doc.get(obj), simdjson::SUCCESS);
    EXPECT_EQ(obj.size(), 3u);
    std::string_view s;
    ASSERT_EQ(obj["text"].get(s), simdjson::SUCCESS);
    const std::string& want = texts[line_no];
    bool valid_utf8 = simdjson::validate_utf8(want.data(), want.size());
    if (valid_utf8) {
      EXPECT_EQ(s, want);
    } else {
      EXPECT_NE(s.find("\xef\xbf\xbd"), std::string_view::npos) << "U+FFFD for bad bytes";
    }
    if (numbers[line_no].empty()) {
      EXPECT_TRUE(obj["score"].is_null());
    } else {
      double v = 0;
      ASSERT_EQ(obj["score"].get(v), simdjson::SUCCESS) << "score is a number";
      EXPECT_DOUBLE_EQ(v, std::stod(numbers[line_no]));
    }
    ASSERT_EQ(obj["we\"ird\n"].get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, "n" + numbers[line_no]);
    ++line_no;
  }
  EXPECT_EQ(line_no, texts.size());
}

TEST(FileOutputTest, JsonLinesRejectsBadNumbersAndLeavesNothing) {
  for (const std::string bad : {"abc", "1.", "+1", ".5", "NaN", "0x10", "01", "1e", " 1", "inf"}) {
    SCOPED_TRACE(bad);
    TempDir tmp;
    VectorRowSource source({"user", "score"}, {{"u1", "1"}, {"u2", bad}});
    auto report = WriteJsonLinesOutput(source, Options(tmp.File("out")), {"score"});
    ASSERT_FALSE(report.ok());
    EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(report.status().message().find("row 2"), std::string::npos)
        << report.status().message();
    EXPECT_NE(report.status().message().find("'score'"), std::string::npos);
    EXPECT_TRUE(List(tmp.path()).empty()) << "no destination, no staging leftovers";
  }
}

TEST(FileOutputTest, JsonLinesRejectsUnknownNumericAndDuplicateColumns) {
  TempDir tmp;
  VectorRowSource source({"a", "b"}, {{"1", "2"}});
  auto report = WriteJsonLinesOutput(source, Options(tmp.File("out")), {"c"});
  EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(report.status().message().find("'c'"), std::string::npos);
  VectorRowSource dup({"a", "a"}, {{"1", "2"}});
  EXPECT_EQ(WriteJsonLinesOutput(dup, Options(tmp.File("out"))).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(FileOutputTest, SuccessMarkerDescribesTheFiles) {
  TempDir tmp;
  VectorRowSource source(kColumns, MakeRows(50, 11));
  auto report = WriteCsvOutput(source, Options(tmp.File("out"), 300));
  ASSERT_TRUE(report.ok()) << report.status().ToString();

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(ReadFile(tmp.File("out") + "/_SUCCESS")).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(doc["format"]), "csv");
  EXPECT_EQ(int64_t(doc["version"]), 1);
  EXPECT_EQ(std::string_view(doc["run_stamp"]), "20261124T081500Z");
  EXPECT_EQ(uint64_t(doc["rows"]), 50u);
  EXPECT_EQ(uint64_t(doc["bytes"]), report->bytes);
  simdjson::dom::array columns = doc["columns"];
  EXPECT_EQ(columns.size(), kColumns.size());
  simdjson::dom::array files = doc["files"];
  ASSERT_EQ(files.size(), report->files.size());
  uint64_t sum = 0;
  size_t i = 0;
  for (simdjson::dom::element f : files) {
    std::string path = report->files[i++];
    std::string contents = ReadFile(path);
    EXPECT_EQ(std::string(std::string_view(f["name"])), fs::path(path).filename().string());
    EXPECT_EQ(uint64_t(f["bytes"]), contents.size());
    EXPECT_EQ(std::string(std::string_view(f["sha256"])), Sha256Hex(contents));
    sum += contents.size();
  }
  EXPECT_EQ(sum, report->bytes);
}

TEST(FileOutputTest, ReplacesPreviousOutputAsAWhole) {
  TempDir tmp;
  VectorRowSource first(kColumns, MakeRows(100, 1));
  auto r1 = WriteCsvOutput(first, Options(tmp.File("out"), 500));
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  ASSERT_GT(r1->files.size(), 2u);

  VectorRowSource second(kColumns, MakeRows(3, 2));
  FileOutputOptions options = Options(tmp.File("out"), 500);
  options.run_stamp = "20261125T000000Z";
  auto r2 = WriteCsvOutput(second, options);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  ASSERT_EQ(r2->files.size(), 1u);
  EXPECT_EQ(List(tmp.File("out")),
            (std::vector<std::string>{"_SUCCESS", "recs-20261125T000000Z-00001.csv"}));
  EXPECT_EQ(ReadCsvOutput(*r2, kColumns), second.rows());
  EXPECT_EQ(List(tmp.path()), std::vector<std::string>{"out"});

  // JSON Lines over a CSV output (both are encore outputs with _SUCCESS).
  auto r3 = WriteJsonLinesOutput(second, Options(tmp.File("out")));
  ASSERT_TRUE(r3.ok()) << r3.status().ToString();
  EXPECT_EQ(List(tmp.File("out")),
            (std::vector<std::string>{"_SUCCESS", "recs-20261124T081500Z.jsonl"}));
}

TEST(FileOutputTest, ReplacesWithTwoRenamesWhereExchangeIsUnsupported) {
  TempDir tmp;
  SetRenameExchangeForTesting(false);
  VectorRowSource first({"a"}, {{"old"}});
  VectorRowSource second({"a"}, {{"new"}});
  auto r1 = WriteCsvOutput(first, Options(tmp.File("out")));
  auto r2 = WriteCsvOutput(second, Options(tmp.File("out")));
  SetRenameExchangeForTesting(true);
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(ReadCsvOutput(*r2, {"a"}), (Rows{{"new"}}));
  EXPECT_EQ(List(tmp.path()), std::vector<std::string>{"out"});
}

TEST(FileOutputTest, RemovesLeftoversOfKilledWritersOnly) {
  TempDir tmp;
  // A pid that is certainly dead: a child we have reaped.
  pid_t dead = fork();
  ASSERT_GE(dead, 0);
  if (dead == 0) _exit(0);
  ASSERT_EQ(waitpid(dead, nullptr, 0), dead);
  const std::string d = std::to_string(dead);
  const std::string live = std::to_string(getppid());  // our parent is alive

  const std::vector<std::string> leftovers = {"out.staging-" + d + "-0123abcd",
                                              "out.old-" + d + "-ff"};
  const std::vector<std::string> keep = {
      "out.staging-" + live + "-abc",  // a live writer's
      "out.staging-x-abc",             // not the pattern
      "out.staging-" + d + "-XYZ",     // not hex
      "out.staging-" + d,              // no random part
      "out.stagingfoo",
      "other.staging-" + d + "-ab",  // another destination
      "out2",
      "notes.txt",
  };
  for (const auto& name : leftovers) {
    fs::create_directories(tmp.File(name) + "/sub");
    WriteFile(tmp.File(name) + "/sub/part.csv", "half");
  }
  for (const auto& name : keep) fs::create_directories(tmp.File(name));
  WriteFile(tmp.File("notes.txt") + "/x", "keep me");

  VectorRowSource source({"a"}, {{"1"}});
  auto report = WriteCsvOutput(source, Options(tmp.File("out")));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::vector<std::string> expected = keep;
  expected.push_back("out");
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(List(tmp.path()), expected);
}

TEST(FileOutputTest, StagingLeftoverPattern) {
  long pid = 0;
  EXPECT_TRUE(IsStagingLeftover("out.staging-12-ab09", "out", &pid));
  EXPECT_EQ(pid, 12);
  EXPECT_TRUE(IsStagingLeftover("out.old-7-f", "out", &pid));
  EXPECT_EQ(pid, 7);
  EXPECT_FALSE(IsStagingLeftover("out.staging-12-", "out", &pid));
  EXPECT_FALSE(IsStagingLeftover("out.staging--ab", "out", &pid));
  EXPECT_FALSE(IsStagingLeftover("out.staging-1a-ab", "out", &pid));
  EXPECT_FALSE(IsStagingLeftover("out.staging-1-AB", "out", &pid));
  EXPECT_FALSE(IsStagingLeftover("out.old-1-ab", "ou", &pid));
  EXPECT_FALSE(IsStagingLeftover("xout.old-1-ab", "out", &pid));
  EXPECT_FALSE(IsStagingLeftover("out", "out", &pid));
}

TEST(FileOutputTest, EmptyInputWritesHeaderOnlyFileAndSuccess) {
  TempDir tmp;
  VectorRowSource source({"user", "item"}, {});
  auto report = WriteCsvOutput(source, Options(tmp.File("out"), 100));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->files.size(), 1u);
  EXPECT_EQ(report->rows, 0u);
  EXPECT_EQ(ReadFile(report->files[0]), "user,item\n");
  EXPECT_EQ(List(tmp.File("out")),
            (std::vector<std::string>{"_SUCCESS", "recs-20261124T081500Z-00001.csv"}));

  auto jsonl = WriteJsonLinesOutput(source, Options(tmp.File("j")));
  ASSERT_TRUE(jsonl.ok()) << jsonl.status().ToString();
  EXPECT_EQ(ReadFile(jsonl->files[0]), "");
  EXPECT_TRUE(fs::exists(tmp.File("j/_SUCCESS")));
}

TEST(FileOutputTest, CreatesParentDirectories) {
  TempDir tmp;
  VectorRowSource source({"a"}, {{"1"}});
  auto report = WriteCsvOutput(source, Options(tmp.File("a/b/c/out/")));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->location, tmp.File("a/b/c/out"));
  EXPECT_TRUE(fs::exists(tmp.File("a/b/c/out/_SUCCESS")));
}

TEST(FileOutputTest, RefusesToReplaceWhatEncoreDidNotWrite) {
  TempDir tmp;
  VectorRowSource source({"a"}, {{"1"}});
  fs::create_directories(tmp.File("home"));
  WriteFile(tmp.File("home/thesis.tex"), "precious");
  auto report = WriteCsvOutput(source, Options(tmp.File("home")));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(report.status().message().find(tmp.File("home")), std::string::npos);
  EXPECT_EQ(ReadFile(tmp.File("home/thesis.tex")), "precious");

  WriteFile(tmp.File("plain"), "file");
  report = WriteCsvOutput(source, Options(tmp.File("plain")));
  EXPECT_EQ(report.status().code(), StatusCode::kFailedPrecondition);

  // The parent is a file: cannot create it; the message names the path.
  report = WriteCsvOutput(source, Options(tmp.File("plain/sub/out")));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kIOError);
  EXPECT_NE(report.status().message().find(tmp.File("plain/sub")), std::string::npos)
      << report.status().message();

  // An empty directory is fine to replace.
  fs::create_directories(tmp.File("empty"));
  EXPECT_TRUE(WriteCsvOutput(source, Options(tmp.File("empty"))).ok());
}

TEST(FileOutputTest, RowSourceErrorLeavesPreviousOutput) {
  TempDir tmp;
  VectorRowSource first({"a"}, {{"old"}});
  ASSERT_TRUE(WriteCsvOutput(first, Options(tmp.File("out"))).ok());
  VectorRowSource failing({"a"}, {{"new1"}, {"new2"}, {"new3"}});
  failing.FailAt(3, Status::ParseError("input.csv:3: broken"));
  auto report = WriteCsvOutput(failing, Options(tmp.File("out")));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kParseError);
  EXPECT_EQ(ReadFile(tmp.File("out/recs-20261124T081500Z-00001.csv")), "a\nold\n");
  EXPECT_EQ(List(tmp.path()), std::vector<std::string>{"out"});
}

// ---------------------------------------------------------------------------
// Derived columns

Rows Collect(const RowSource& source) {
  Rows out;
  Status st = source.ForEach([&](std::span<const std::string_view> cells) {
    out.emplace_back(cells.begin(), cells.end());
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

TEST(DerivedColumnsTest, TemplatesWithColumnsAndRowNumbers) {
  VectorRowSource base({"user", "item"}, {{"u1", "i9"}, {"u2", "i8"}, {"u3", "i7"}});
  auto derived = WithDerivedColumns(
      base, {{"key", "{user}-{row}"}, {"braces", "{{{item}}} {{row}}"}, {"const", "x"}}, {});
  ASSERT_TRUE(derived.ok()) << derived.status().ToString();
  EXPECT_EQ((*derived)->columns(),
            (std::vector<std::string>{"user", "item", "key", "braces", "const"}));
  Rows expected = {{"u1", "i9", "u1-1", "{i9} {row}", "x"},
                   {"u2", "i8", "u2-2", "{i8} {row}", "x"},
                   {"u3", "i7", "u3-3", "{i7} {row}", "x"}};
  EXPECT_EQ(Collect(**derived), expected);
  // Row numbers restart with every pass over the rows.
  EXPECT_EQ(Collect(**derived), expected);
}

TEST(DerivedColumnsTest, ColumnOrderPicksAndReorders) {
  VectorRowSource base({"user", "item", "score"}, {{"u1", "i9", "0.5"}});
  auto derived = WithDerivedColumns(base, {{"rank", "{row}"}}, {"rank", "item", "user"});
  ASSERT_TRUE(derived.ok()) << derived.status().ToString();
  EXPECT_EQ((*derived)->columns(), (std::vector<std::string>{"rank", "item", "user"}));
  EXPECT_EQ(Collect(**derived), (Rows{{"1", "i9", "u1"}}));
}

TEST(DerivedColumnsTest, ErrorsNameTheTemplate) {
  VectorRowSource base({"user", "item"}, {{"u1", "i9"}});
  struct Case {
    std::vector<DerivedColumn> derived;
    std::vector<std::string> order;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {{{"k", "{usr}-x"}}, {}, "{usr}-x"},          // unknown column
      {{{"k", "{user"}}, {}, "{user"},              // unclosed
      {{{"k", "user}"}}, {}, "user}"},              // stray close
      {{{"k", "{}"}}, {}, "{}"},                    // empty name
      {{{"k", "{a{user}}"}}, {}, "{a{user}}"},      // nested
      {{{"user", "{item}"}}, {}, "user"},           // name taken by an input column
      {{{"k", "1"}, {"k", "2"}}, {}, "'k'"},        // duplicate derived name
      {{{"", "1"}}, {}, "no name"},                 // unnamed
      {{{"k", "1"}}, {"k", "nope"}, "'nope'"},      // unknown in column order
      {{{"k", "1"}}, {"k", "user", "k"}, "twice"},  // duplicate in column order
  };
  for (const auto& c : cases) {
    auto derived = WithDerivedColumns(base, c.derived, c.order);
    ASSERT_FALSE(derived.ok()) << c.needle;
    EXPECT_EQ(derived.status().code(), StatusCode::kInvalidArgument) << c.needle;
    EXPECT_NE(derived.status().message().find(c.needle), std::string::npos)
        << derived.status().message();
  }
}

TEST(DerivedColumnsTest, FeedsTheCsvWriter) {
  TempDir tmp;
  VectorRowSource base({"user", "item"}, {{"u1", "i9"}, {"u,2", "i8"}});
  auto derived = WithDerivedColumns(base, {{"key", "{user}/{row}"}}, {"key", "item"});
  ASSERT_TRUE(derived.ok()) << derived.status().ToString();
  auto report = WriteCsvOutput(**derived, Options(tmp.File("out")));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(ReadFile(report->files[0]), "key,item\nu1/1,i9\n\"u,2/2\",i8\n");
}

// ---------------------------------------------------------------------------
// Crash tests: a forked child arms a fault point and is SIGKILLed in the
// middle of a write; the destination must still be the previous complete
// output (or absent if there was none), and the next write must succeed and
// clean up.

struct CrashCase {
  const char* point;
  bool jsonl;
  bool previous;  // a complete output exists before the crash
};

std::string PrintCase(const ::testing::TestParamInfo<CrashCase>& info) {
  std::string name = info.param.point;
  std::replace(name.begin(), name.end(), '-', '_');
  return name + (info.param.previous ? "_over_previous" : "_fresh");
}

void PrintTo(const CrashCase& c, std::ostream* os) {
  *os << c.point << (c.previous ? " over a previous output" : " with no previous output");
}

class OutputCrashTest : public ::testing::TestWithParam<CrashCase> {};

Result<OutputReport> Write(bool jsonl, const RowSource& rows, const std::string& dir) {
  return jsonl ? WriteJsonLinesOutput(rows, Options(dir, 200))
               : WriteCsvOutput(rows, Options(dir, 200));
}

// Every file of a directory with its contents.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& name : List(dir)) files[name] = ReadFile(dir + "/" + name);
  return files;
}

TEST_P(OutputCrashTest, KilledWriterLeavesOldOutputOrNothing) {
  const CrashCase& c = GetParam();
  TempDir tmp;
  const std::string dest = tmp.File("out");
  VectorRowSource old_rows(kColumns, MakeRows(40, 3));
  VectorRowSource new_rows(kColumns, MakeRows(60, 4));
  std::map<std::string, std::string> before;
  if (c.previous) {
    ASSERT_TRUE(Write(c.jsonl, old_rows, dest).ok());
    before = Snapshot(dest);
  }

  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setenv("ENCORE_FAULT", c.point, 1);
    auto r = Write(c.jsonl, new_rows, dest);
    _exit(r.ok() ? 0 : 1);  // reached only if the fault point did not fire
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child was not killed at " << c.point << " (status " << status << ")";

  if (c.previous) {
    ASSERT_TRUE(fs::exists(dest + "/_SUCCESS")) << "previous output lost";
    EXPECT_EQ(Snapshot(dest), before) << "previous output changed";
  } else {
    EXPECT_FALSE(fs::exists(dest)) << "a destination appeared without a complete write";
  }
  // The crash left a staging directory behind.
  std::vector<std::string> names = List(tmp.path());
  EXPECT_EQ(names.size(), c.previous ? 2u : 1u);

  auto report = Write(c.jsonl, new_rows, dest);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->rows, 60u);
  EXPECT_TRUE(fs::exists(dest + "/_SUCCESS"));
  EXPECT_EQ(List(tmp.path()), std::vector<std::string>{"out"}) << "leftovers not cleaned";
  if (!c.jsonl) {
    EXPECT_EQ(ReadCsvOutput(*report, kColumns), new_rows.rows());
  }
}

INSTANTIATE_TEST_SUITE_P(FaultPoints, OutputCrashTest,
                         ::testing::Values(CrashCase{"csv-mid-chunk", false, true},
                                           CrashCase{"csv-mid-chunk", false, false},
                                           CrashCase{"csv-before-success", false, true},
                                           CrashCase{"csv-before-swap", false, true},
                                           CrashCase{"csv-before-swap", false, false},
                                           CrashCase{"jsonl-before-swap", true, true},
                                           CrashCase{"jsonl-before-swap", true, false}),
                         PrintCase);

}  // namespace
}  // namespace encore::pipeline
