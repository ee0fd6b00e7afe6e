// Parallel reading (ReadOptions::threads): a file parsed in slices gives
// exactly what the sequential read gives — ids numbered in the same order,
// the same rows, counts, rejections with their file:line, rejects file and
// errors — whatever the cuts hit: bad rows in several slices, quoted fields,
// quoted newlines near a cut, CRLF, a last line without a newline, a byte
// order mark, tiny files.

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "encore/reader.h"
#include "io/reader_internal.h"
#include "test_util.h"

namespace encore {
namespace {

using encore::testing::ReadFile;
using encore::testing::TempDir;
using encore::testing::WriteFile;

// Everything a read produces, as text, for comparison.
struct Snapshot {
  std::string status;  // "ok" or the error
  std::string log;     // ids in index order, then each row
  std::string report;
  std::string rejects;  // the rejects file
  uint32_t slices = 0;
};

std::string Describe(const InteractionLog& log) {
  std::string out = "users:";
  for (uint32_t i = 0; i < log.users.size(); ++i) out += std::string(log.users.Name(i)) + "|";
  out += "\nitems:";
  for (uint32_t i = 0; i < log.items.size(); ++i) out += std::string(log.items.Name(i)) + "|";
  out += "\nevents:";
  for (uint32_t i = 0; i < log.events.size(); ++i) out += std::string(log.events.Name(i)) + "|";
  out += "\nrows:\n";
  for (size_t r = 0; r < log.size(); ++r) {
    out += std::to_string(log.user[r]) + " " + std::to_string(log.item[r]) + " " +
           std::to_string(log.value[r]);
    if (log.has_events) out += " e" + std::to_string(log.event[r]);
    if (log.has_times) out += " t" + std::to_string(log.time[r]);
    for (const AttributeColumn& a : log.attributes) {
      out += " " + a.name + "=" + std::string(a.values.Name(a.codes[r]));
    }
    out += "\n";
  }
  return out;
}

std::string Describe(const ReadReport& r) {
  std::string out = "files:";
  for (const auto& f : r.files) out += f + "|";
  out += " bytes " + std::to_string(r.bytes_read) + " read " + std::to_string(r.rows_read) +
         " blank " + std::to_string(r.blank_lines) + " accepted " +
         std::to_string(r.rows_accepted) + " rejected " + std::to_string(r.rows_rejected) +
         " value " + r.value_column + "\n";
  for (const auto& [kind, count] : r.rejects_by_kind) {
    out += kind + ": " + std::to_string(count) + "\n";
  }
  for (const Rejection& j : r.first_rejections) {
    out += j.file + ":" + std::to_string(j.line) + ": " + j.reason + "\n";
  }
  return out;
}

// Reads `text` (as in.csv, from memory or from a real file) with `threads`
// threads and slices of at least `min_chunk` bytes.
Snapshot Read(const std::string& text, ReadOptions opt, int threads, uint64_t min_chunk,
              bool real_file) {
  TempDir dir;
  opt.threads = threads;
  opt.min_chunk_bytes = min_chunk;
  opt.rejects_path = dir.File("rejects.txt");
  ReadReport report;
  Result<InteractionLog> log = Status::Internal("not run");
  if (real_file) {
    WriteFile(dir.File("in.csv"), text);
    log = ReadInteractions({dir.File("in.csv")}, opt, &report);
  } else {
    std::vector<std::unique_ptr<io::ByteSource>> sources;
    sources.push_back(io::ByteSource::FromString("in.csv", text));
    log = io::ReadInteractionsFromSources(std::move(sources), opt, &report);
  }
  Snapshot s;
  s.status = log.ok() ? "ok" : log.status().ToString();
  if (log.ok()) s.log = Describe(*log);
  std::string rep = Describe(report);
  // The real file's path differs between the two runs' temporary directories.
  for (size_t at; (at = rep.find(dir.path())) != std::string::npos;) rep.replace(at, dir.path().size(), "DIR");
  for (size_t at; (at = s.status.find(dir.path())) != std::string::npos;) {
    s.status.replace(at, dir.path().size(), "DIR");
  }
  s.report = rep;
  s.rejects = ReadFile(dir.File("rejects.txt"));
  s.slices = report.parallel_slices;
  return s;
}

// Expects the sliced read to equal the sequential one; returns the slices used.
uint32_t ExpectSameAsSequential(const std::string& text, const ReadOptions& opt, int threads,
                                uint64_t min_chunk, bool real_file = false) {
  Snapshot seq = Read(text, opt, 1, min_chunk, real_file);
  Snapshot par = Read(text, opt, threads, min_chunk, real_file);
  EXPECT_EQ(seq.slices, 0u);
  EXPECT_EQ(par.status, seq.status);
  EXPECT_EQ(par.log, seq.log);
  EXPECT_EQ(par.report, seq.report);
  EXPECT_EQ(par.rejects, seq.rejects);
  return par.slices;
}

// A csv with `rows` rows, ids repeating across the file, and every kind of
// bad row spread through it.
std::string Csv(int rows, uint32_t seed, bool crlf, bool final_newline) {
  std::mt19937 rng(seed);
  const std::string eol = crlf ? "\r\n" : "\n";
  std::string out = "user,item,plays" + eol;
  for (int r = 0; r < rows; ++r) {
    const int kind = static_cast<int>(rng() % 40);
    const std::string u = "u" + std::to_string(rng() % 97);
    const std::string i = "i" + std::to_string(rng() % 61);
    if (kind == 0) {
      out += u + "," + i + ",lots";  // bad number
    } else if (kind == 1) {
      out += u + "," + i;  // wrong column count
    } else if (kind == 2) {
      out += "," + i + ",3";  // empty id
    } else if (kind == 3) {
      out += u + ",\xff\xfe,1";  // invalid UTF-8
    } else if (kind == 4) {
      out += "";  // blank line
    } else if (kind == 5) {
      out += "\"" + u + ",x\"," + i + ",2";  // a quoted id with the separator
    } else {
      out += u + "," + i + "," + std::to_string(1 + rng() % 9);
    }
    if (r + 1 < rows || final_newline) out += eol;
  }
  return out;
}

TEST(ReaderSlices, BadRowsInSeveralSlicesKeepTheirFileAndLine) {
  ReadOptions opt;
  opt.max_bad_rows = 1000000;
  const std::string text = Csv(3000, 1, false, true);
  for (int threads : {2, 3, 4, 7}) {
    SCOPED_TRACE(threads);
    EXPECT_EQ(ExpectSameAsSequential(text, opt, threads, 1024), static_cast<uint32_t>(threads));
  }
  // Through a real file: slices read with their own descriptors.
  EXPECT_EQ(ExpectSameAsSequential(text, opt, 3, 1024, true), 3u);
}

TEST(ReaderSlices, FirstRejectionsAreTheFileFirstOnesAcrossSlices) {
  // Every bad row sits in the second half: the listed ones carry their true line.
  std::string text = "user,item,plays\n";
  for (int r = 0; r < 400; ++r) text += "u" + std::to_string(r % 13) + ",i" + std::to_string(r) + ",1\n";
  for (int r = 0; r < 400; ++r) {
    text += r % 7 == 0 ? "u1,i1,bad\n" : "u" + std::to_string(r) + ",i2,1\n";
  }
  ReadOptions opt;
  opt.max_bad_rows = 1000;
  EXPECT_EQ(ExpectSameAsSequential(text, opt, 2, 1024), 2u);
  Snapshot par = Read(text, opt, 2, 1024, false);
  EXPECT_NE(par.report.find("in.csv:402: unparsable number"), std::string::npos) << par.report;
}

TEST(ReaderSlices, CrlfAndLastLineWithoutNewline) {
  ReadOptions opt;
  opt.max_bad_rows = 1000000;
  for (bool crlf : {false, true}) {
    for (bool final_newline : {false, true}) {
      SCOPED_TRACE(std::to_string(crlf) + std::to_string(final_newline));
      const std::string text = Csv(2000, 2, crlf, final_newline);
      EXPECT_EQ(ExpectSameAsSequential(text, opt, 2, 1024), 2u);
    }
  }
}

TEST(ReaderSlices, TooManyBadRowsFailsAsTheSequentialReadDoes) {
  ReadOptions opt;
  opt.max_bad_rows = 40;  // passed only when the slices' rejections are added up
  const std::string text = Csv(3000, 3, false, true);
  Snapshot seq = Read(text, opt, 1, 1024, false);
  ASSERT_NE(seq.status, "ok");
  ExpectSameAsSequential(text, opt, 4, 1024);
}

TEST(ReaderSlices, QuotedNewlinesNearTheCutsGiveTheSequentialResult) {
  // Quoted fields holding newlines everywhere: some cut falls inside one.
  std::string text = "user,item,note\n";
  for (int r = 0; r < 600; ++r) {
    text += "u" + std::to_string(r % 31) + ",i" + std::to_string(r % 17) + ",\"line one\nline " +
            std::to_string(r) + "\"\n";
  }
  ReadOptions opt;
  for (int threads : {2, 3, 5}) ExpectSameAsSequential(text, opt, threads, 512);
  // An unterminated quote near a cut swallows what follows in the sequential read.
  std::string open = Csv(1500, 4, false, true);
  open.insert(open.size() / 2, "u5,\"i5,1\n");
  opt.max_bad_rows = 1000000;
  for (int threads : {2, 3}) ExpectSameAsSequential(open, opt, threads, 1024);
}

TEST(ReaderSlices, ByteOrderMarkIsSkippedOnlyAtTheStartOfTheFile) {
  std::string text = "\xEF\xBB\xBFuser,item\n";
  for (int r = 0; r < 500; ++r) {
    // Some lines start with the mark's bytes: part of the id, wherever the cut.
    text += (r % 3 == 0 ? "\xEF\xBB\xBFu" : "u") + std::to_string(r % 11) + ",i" +
            std::to_string(r % 5) + "\n";
  }
  ReadOptions opt;
  for (int threads : {2, 4}) EXPECT_GE(ExpectSameAsSequential(text, opt, threads, 256), 2u);
}

TEST(ReaderSlices, EventsTimesAttributesAndObfuscationMergeInFileOrder) {
  std::string text = "customer,sku,event,ts,store,price\n";
  std::mt19937 rng(5);
  const char* events[] = {"view", "cart", "buy", "wishlist"};
  for (int r = 0; r < 1500; ++r) {
    text += "c" + std::to_string(rng() % 50) + ",s" + std::to_string(rng() % 40) + "," +
            events[rng() % 4] + "," + std::to_string(1700000000 + r) + ",store" +
            std::to_string(rng() % 9) + "," + std::to_string(rng() % 100) + "\n";
  }
  ReadOptions opt;
  EXPECT_EQ(ExpectSameAsSequential(text, opt, 3, 1024), 3u);
  opt.known_events = {"view", "buy", "cart"};  // wishlist rows rejected
  opt.max_bad_rows = 1000000;
  EXPECT_EQ(ExpectSameAsSequential(text, opt, 3, 1024), 3u);
  Obfuscator obfuscator(std::string(32, 'k'));
  opt.obfuscator = &obfuscator;
  opt.obfuscate_cols = {"customer", "store"};
  EXPECT_EQ(ExpectSameAsSequential(text, opt, 2, 1024), 2u);
}

TEST(ReaderSlices, HeaderlessFilesAndPresets) {
  std::string text;
  for (int r = 0; r < 800; ++r) {
    text += std::to_string(r % 37) + "\t" + std::to_string(r % 23) + "\t" +
            std::to_string(1 + r % 5) + "\t" + std::to_string(881250949 + r) + "\n";
  }
  ReadOptions opt;
  opt.format = InputFormat::kMovieLens;
  EXPECT_EQ(ExpectSameAsSequential(text, opt, 2, 1024), 2u);
  opt.format = InputFormat::kTsv;
  opt.header = false;
  EXPECT_EQ(ExpectSameAsSequential(text, opt, 3, 1024), 3u);
}

TEST(ReaderSlices, SmallFilesGzipAndJsonLinesAreReadSequentially) {
  ReadOptions opt;
  // Smaller than two slices of min_chunk_bytes.
  EXPECT_EQ(ExpectSameAsSequential("user,item\na,b\nc,d\n", opt, 4, 1024), 0u);
  // The first slice holds only the header: no layout to hand on, read sequentially.
  EXPECT_EQ(ExpectSameAsSequential("user,item\na,b", opt, 4, 1), 0u);
  // Tiny slices, the last line without a newline.
  EXPECT_EQ(ExpectSameAsSequential("user,item\na,b\nc,d\ne,f", opt, 2, 1), 2u);
  EXPECT_EQ(ExpectSameAsSequential("user,item\na,b\nc,d\ne,f\n", opt, 2, 1), 2u);
  EXPECT_EQ(ExpectSameAsSequential("user,item\n", opt, 4, 1), 0u);
  EXPECT_EQ(ExpectSameAsSequential("", opt, 4, 1), 0u);
  // With the default slice size a small file is never cut.
  ReadOptions defaults;
  defaults.threads = 4;
  ReadReport report;
  std::vector<std::unique_ptr<io::ByteSource>> sources;
  sources.push_back(io::ByteSource::FromString("in.csv", Csv(3000, 6, false, true)));
  defaults.max_bad_rows = 1000000;
  ASSERT_TRUE(io::ReadInteractionsFromSources(std::move(sources), defaults, &report).ok());
  EXPECT_EQ(report.parallel_slices, 0u);
  ReadOptions jsonl;
  jsonl.format = InputFormat::kJsonl;
  std::string lines;
  for (int r = 0; r < 300; ++r) lines += "{\"user\":\"u" + std::to_string(r % 7) + "\",\"item\":1}\n";
  EXPECT_EQ(ExpectSameAsSequential(lines, jsonl, 2, 64), 0u);
}

TEST(ReaderSlices, TooManyDistinctIdsIsTheSequentialError) {
  ReadOptions opt;
  opt.max_distinct_ids = 50;  // each slice stays under it; the merged log does not
  opt.max_bad_rows = 1000000;
  std::string text = "user,item\n";
  for (int r = 0; r < 1000; ++r) text += "u" + std::to_string(r % 80) + ",i1\n";
  Snapshot seq = Read(text, opt, 1, 1024, false);
  ASSERT_NE(seq.status, "ok");
  ExpectSameAsSequential(text, opt, 4, 1024);
}

TEST(ReaderSlices, RandomFilesMatchTheSequentialRead) {
  // Lines drawn from good, bad, quoted and multi-line pieces, with random
  // options, thread counts and slice sizes.
  std::mt19937 rng(7);
  const std::vector<std::string> pieces = {
      "u1,i1,1\n", "u2,i2,2\r\n", "u3,\"i,3\",3\n", "\"u4\",i4,4\n", "u5,i5\n", ",i6,1\n",
      "u7,i7,x\n", "\n",          "u8,\"i\n8\",1\n", "u9,\"i9\"x,1\n", "u10,\"i10,1\n",
      "\xEF\xBB\xBFu11,i11,1\n", "u12,i\xc3\x28,1\n", "u13,i13,1,extra\n", "\"\"\"u14\",i14,2\n"};
  int sliced = 0;
  for (int trial = 0; trial < 150; ++trial) {
    SCOPED_TRACE(trial);
    std::string text = rng() % 2 ? "user,item,value\n" : "";
    const int n = static_cast<int>(rng() % 300);
    for (int k = 0; k < n; ++k) {
      std::string p = pieces[rng() % pieces.size()];
      // Vary ids so dictionaries differ between slices.
      if (p[0] == 'u') p.insert(1, std::to_string(rng() % 20));
      text += p;
    }
    if (rng() % 3 == 0 && !text.empty()) text.pop_back();  // no final newline
    ReadOptions opt;
    opt.header = text.rfind("user,", 0) == 0;
    opt.max_bad_rows = rng() % 2 ? 1000000 : rng() % 20;
    sliced += ExpectSameAsSequential(text, opt, 2 + static_cast<int>(rng() % 4), 16 + rng() % 400) > 0;
  }
  // Deterministic (fixed seed): 29 of the 150 are read in slices; the rest hold
  // an unterminated quote (which runs to the end of a small file), pass the
  // bad-row limit, or are too small.
  EXPECT_GE(sliced, 25);
}

}  // namespace
}  // namespace encore
