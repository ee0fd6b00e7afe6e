// Pipeline files: every kind of mistake is reported with FILE:LINE:COLUMN
// and a hint, all mistakes at once; valid files resolve as documented; the
// key reference in docs/PIPELINES.md is the key table's.

#include "pipeline/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "encore/defaults.h"
#include "test_util.h"
#include "util/json_writer.h"

namespace encore::pipeline {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

constexpr char kData[] = "user,item,rating,ts\nu1,a,5,1000\nu1,b,3,2000\nu2,a,4,3000\n";

// A valid pipeline; tests replace pieces of it.
constexpr char kValid[] = R"(name = "t"
[sources.r]
path = "r.csv"
[models.pop]
kind = "popularity"
[recommend.top]
model = "pop"
n = 2
[outputs.out]
kind = "csv"
from = "top"
path = "out"
)";

struct Loaded {
  Status status;
  std::string file;
};

// Writes `toml` as p.toml beside r.csv and loads it.
Loaded Load(const TempDir& dir, const std::string& toml) {
  WriteFile(dir.File("r.csv"), kData);
  WriteFile(dir.File("p.toml"), toml);
  return {LoadPipelineConfig(dir.File("p.toml")).status(), dir.File("p.toml")};
}

void ExpectError(const std::string& toml, const std::string& where, const std::string& what) {
  TempDir dir;
  Loaded l = Load(dir, toml);
  ASSERT_FALSE(l.status.ok()) << toml;
  EXPECT_EQ(l.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(l.status.message().find(l.file + ":" + where + ": "), std::string::npos)
      << "expected at " << where << ": " << l.status.message();
  EXPECT_NE(l.status.message().find(what), std::string::npos) << l.status.message();
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(PipelineConfig, ValidFileResolvesPathsAndDefaults) {
  TempDir dir;
  Loaded l = Load(dir, kValid);
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  Result<PipelineConfig> c = LoadPipelineConfig(dir.File("p.toml"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->name, "t");
  EXPECT_EQ(c->workdir, dir.path());
  EXPECT_EQ(c->keep, 5u);
  ASSERT_EQ(c->sources.size(), 1u);
  EXPECT_EQ(c->sources[0].patterns, std::vector<std::string>{dir.File("r.csv")});
  EXPECT_EQ(c->prepare.sources, std::vector<std::string>{"r"});
  ASSERT_EQ(c->outputs.size(), 1u);
  EXPECT_EQ(c->outputs[0].prefix, "out");
  EXPECT_EQ(c->outputs[0].columns, (std::vector<std::string>{"user", "item", "score", "rank"}));
  EXPECT_EQ(c->recommends[0].n, 2u);
}

TEST(PipelineConfig, EveryKeyOfTheSpecParses) {
  TempDir dir;
  WriteFile(dir.File("key.txt"), "0123456789abcdef0123\n");
  WriteFile(dir.File("ids.txt"), "u1\n");
  Loaded l = Load(dir, R"(name = "full"
workdir = "work"
keep = 3
[sources.r]
path = ["r.csv"]
format = "csv"
separator = "comma"
header = true
user = "user"
item = 2
value = "rating"
time = "ts"
time_unit = "s"
events = []
max_bad_rows = 4
obfuscate = ["user"]
obfuscation_key_file = "key.txt"
[sources.g]
generate = { profile = "ratings", users = 10, items = 5, rows = 25, seed = 1, clusters = 2 }
[prepare]
source = ["r", "g"]
feedback = "explicit"
duplicates = "mean"
min_user_interactions = 1
min_item_interactions = 1
window = "9 months"
sample = { fraction = 0.5, seed = 7 }
[models.als]
kind = "als"
params = { factors = 4, reg = 0.1, iterations = 2, biases = true, cold_start = "popular" }
[models.als.evaluate]
split = "user"
test_fraction = 0.25
leave_k = 1
min_train = 2
seed = 9
folds = 2
grid = { factors = [2, 4], reg = [0.01, 0.1] }
metrics = ["rmse", "ndcg@5"]
k = 5
relevance_threshold = 4
refit = false
[recommend.top]
model = "als"
kind = "users"
n = 3
exclude_seen = false
users = "ids.txt"
[recommend.sim]
model = "als"
kind = "similar"
[outputs.csv]
kind = "csv"
from = "top"
path = "out/csv"
prefix = "recs"
chunk_size = "2 KB"
delimiter = "tab"
header = false
derived = { key = "{user}-{row}" }
columns = ["key", "item"]
[outputs.json]
kind = "jsonl"
from = "sim"
path = "out/json"
[outputs.db]
kind = "postgres"
from = "top"
table = "public.recs"
conninfo_env = "PG"
types = { rank = "bigint" }
[outputs.serving]
kind = "publish"
model = "als"
store = "store"
n = 7
similar_n = 0
popular_n = 10
include_model = false
exclude_seen = false
keep = 2
)");
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  Result<PipelineConfig> c = LoadPipelineConfig(dir.File("p.toml"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->workdir, std::filesystem::current_path().string() + "/work")
      << "a relative workdir is relative to the current directory, not to the pipeline file";
  EXPECT_EQ(c->keep, 3u);
  const SourceConfig& r = *c->FindSource("r");
  EXPECT_EQ(r.read.item_col.index, 2);
  EXPECT_EQ(r.read.time_unit, TimeUnit::kSeconds);
  EXPECT_EQ(r.input.obfuscation_key_file, dir.File("key.txt"));
  ASSERT_TRUE(c->FindSource("g")->generate.has_value());
  EXPECT_EQ(c->FindSource("g")->generated_file, "ratings.csv");
  EXPECT_EQ(c->prepare.dataset.feedback, Feedback::kExplicit);
  EXPECT_EQ(c->prepare.window->unit, WindowSpec::Unit::kMonths);
  EXPECT_EQ(*c->prepare.sample_fraction, 0.5);
  const ModelConfig& m = *c->FindModel("als");
  EXPECT_EQ(m.params.factors, 4u);
  EXPECT_TRUE(m.params.biases);
  ASSERT_TRUE(m.evaluate.has_value());
  EXPECT_EQ(m.evaluate->folds, 2u);
  ASSERT_EQ(m.evaluate->grid.size(), 2u);
  EXPECT_EQ(m.evaluate->grid[1].values, (std::vector<std::string>{"0.01", "0.1"}));
  EXPECT_EQ(m.evaluate->metrics[1].Name(), "ndcg@5");
  EXPECT_FALSE(m.evaluate->refit);
  const OutputConfig& csv = *c->FindOutput("csv");
  EXPECT_EQ(csv.chunk_bytes, 2048u);
  EXPECT_EQ(csv.delimiter, '\t');
  EXPECT_EQ(csv.columns, (std::vector<std::string>{"key", "item"}));
  EXPECT_EQ(c->FindOutput("json")->columns,
            (std::vector<std::string>{"item", "similar_item", "score", "rank"}));
  EXPECT_EQ(c->FindOutput("db")->types.at("rank"), "bigint");
  EXPECT_EQ(c->FindOutput("db")->types.at("score"), "double precision");
  EXPECT_EQ(c->FindOutput("serving")->publish.n, 7u);
  EXPECT_FALSE(c->FindOutput("serving")->publish.include_model);
}

TEST(PipelineConfig, UnknownKeySuggestsTheClosest) {
  ExpectError(Replace(kValid, "n = 2", "nn = 2"), "8:1", "unknown key 'nn' in [recommend.top]");
  ExpectError(Replace(kValid, "[models.pop]\nkind", "[models.pop]\nknid"), "5:1",
              "did you mean 'kind'?");
  ExpectError("wokdir = \"x\"\n" + std::string(kValid), "1:1", "did you mean 'workdir'?");
}

TEST(PipelineConfig, WrongTypeNamesTheExpectedOne) {
  ExpectError(Replace(kValid, "n = 2", "n = \"two\""), "8:5",
              "key 'n' in [recommend.top] must be an integer, not a string");
  ExpectError(Replace(kValid, "path = \"r.csv\"", "path = 3"), "3:8",
              "must be a string or array of strings");
}

TEST(PipelineConfig, MissingRequiredKey) {
  ExpectError(Replace(kValid, "name = \"t\"\n", ""), "1:1", "missing required key 'name'");
  ExpectError(Replace(kValid, "from = \"top\"\n", ""), "9:1",
              "missing required key 'from' in [outputs.out]");
  ExpectError(Replace(kValid, "kind = \"csv\"\n", ""), "9:1", "missing required key 'kind'");
}

TEST(PipelineConfig, MissingSourceFileAfterGlob) {
  ExpectError(Replace(kValid, "path = \"r.csv\"", "path = \"nothere-*.csv\""), "3:8",
              "nothere-*.csv' matches no file");
  ExpectError(Replace(kValid, "path = \"r.csv\"", "path = [\"r.csv\", \"gone.csv\"]"), "3:18",
              "no such file");
}

TEST(PipelineConfig, UnknownModelKindListsTheKnownOnes) {
  ExpectError(Replace(kValid, "kind = \"popularity\"", "kind = \"svd\""), "5:8",
              "unknown model kind 'svd'");
  ExpectError(Replace(kValid, "kind = \"popularity\"", "kind = \"ials2\""), "5:8",
              "did you mean 'ials'?");
  ExpectError(Replace(kValid, "kind = \"popularity\"", "kind = \"svd\""), "5:8",
              "Known kinds: als, bpr, cooccurrence, ease, ials, popularity, svdpp");
}

TEST(PipelineConfig, UnknownOrBadModelParameter) {
  ExpectError(Replace(kValid, "kind = \"popularity\"", "kind = \"als\"\nparams = { factros = 10 }"),
              "6:12",
              "unknown parameter 'factros' in [models.pop.params]; did you mean 'factors'?");
  ExpectError(
      Replace(kValid, "kind = \"popularity\"", "kind = \"als\"\nparams = { factors = \"ten\" }"),
      "6:22", "parameter 'factors' must be an int, not a string");
  ExpectError(
      Replace(kValid, "kind = \"popularity\"", "kind = \"als\"\nparams = { solver = \"lu\" }"),
      "6:21", "solver");
}

TEST(PipelineConfig, BadGridValues) {
  const std::string base =
      Replace(kValid, "kind = \"popularity\"", "kind = \"als\"\n[models.pop.evaluate]\nGRID");
  ExpectError(Replace(base, "GRID", "grid = { factors = [5, 0] }"), "7:24",
              "bad grid value for 'factors'");
  ExpectError(Replace(base, "GRID", "grid = { factors = [5, \"x\"] }"), "7:24",
              "grid value of 'factors' must be an int");
  ExpectError(Replace(base, "GRID", "grid = { regg = [0.1] }"), "7:10",
              "unknown parameter 'regg' in the grid of [models.pop.evaluate]; did you mean 'reg'?");
  ExpectError(Replace(base, "GRID", "grid = { reg = [] }"), "7:16", "must be a non-empty array");
  ExpectError(Replace(base, "GRID", "metrics = [\"rmse\", \"recal@10\"]"), "7:20", "recal");
  ExpectError(Replace(base, "GRID", "folds = 1"), "7:9", "folds must be 0 (none) or in 2..");
}

TEST(PipelineConfig, FromOrModelNamingNothing) {
  ExpectError(Replace(kValid, "from = \"top\"", "from = \"tpo\""), "11:8",
              "from 'tpo' names no [recommend.NAME]; did you mean 'top'?");
  ExpectError(Replace(kValid, "model = \"pop\"", "model = \"als\""), "7:9",
              "model 'als' names no [models.NAME]");
  ExpectError(std::string(kValid) + "[prepare]\nsource = \"rr\"\n", "14:10",
              "source 'rr' names no [sources.NAME]");
}

TEST(PipelineConfig, DuplicateNames) {
  // The same table twice is a TOML error (with its position).
  TempDir dir;
  Loaded twice = Load(dir, std::string(kValid) + "[models.pop]\nkind = \"als\"\n");
  ASSERT_FALSE(twice.status.ok());
  EXPECT_NE(twice.status.message().find(twice.file + ":13:"), std::string::npos)
      << twice.status.message();
  // The same name in two sections is ours.
  ExpectError(std::string(kValid) + "[outputs.pop]\nkind = \"csv\"\nfrom = \"top\"\npath = \"x\"\n",
              "13:1", "name 'pop' is used twice: [models.pop] and [outputs.pop]");
}

TEST(PipelineConfig, KeysOfAnotherOutputKind) {
  ExpectError(Replace(kValid, "path = \"out\"", "path = \"out\"\ntable = \"t\""), "13:1",
              "key 'table' does not apply to csv outputs");
  ExpectError(Replace(kValid, "kind = \"csv\"", "kind = \"parquet\""), "10:8",
              "kind 'parquet' is unknown");
}

TEST(PipelineConfig, InvalidSizesDurationsAndEnums) {
  ExpectError(Replace(kValid, "path = \"out\"", "path = \"out\"\nchunk_size = \"1 XB\""), "13:14",
              "is not a size");
  ExpectError(std::string(kValid) + "[prepare]\nwindow = \"9 moons\"\n", "14:10",
              "is not a duration");
  ExpectError(std::string(kValid) + "[prepare]\ntransform = \"sqrt\"\n", "14:13", "sqrt");
  ExpectError(Replace(kValid, "path = \"r.csv\"", "path = \"r.csv\"\nformat = \"parquet\""), "4:10",
              "parquet");
  ExpectError(std::string(kValid) + "[prepare]\nsample = { fraction = 1.5 }\n", "14:23",
              "sample fraction must be in (0, 1]");
}

TEST(PipelineConfig, DerivedTemplatesAndColumnsAreChecked) {
  ExpectError(Replace(kValid, "path = \"out\"", "path = \"out\"\nderived = { key = \"{usr}\" }"),
              "13:19", "{usr}");
  ExpectError(Replace(kValid, "path = \"out\"", "path = \"out\"\ncolumns = [\"user\", \"itme\"]"),
              "13:20", "did you mean 'item'?");
}

TEST(PipelineConfig, AllErrorsAreReportedTogether) {
  TempDir dir;
  std::string toml = Replace(kValid, "n = 2", "n = \"two\"");
  toml = Replace(toml, "from = \"top\"", "from = \"nope\"");
  toml = Replace(toml, "kind = \"popularity\"", "kind = \"svd\"");
  Loaded l = Load(dir, toml);
  ASSERT_FALSE(l.status.ok());
  EXPECT_NE(l.status.message().find("3 errors in pipeline"), std::string::npos)
      << l.status.message();
  for (const char* at : {":5:8:", ":8:5:", ":11:8:"}) {
    EXPECT_NE(l.status.message().find(l.file + at), std::string::npos) << at;
  }
}

TEST(PipelineConfig, TomlSyntaxErrorHasItsPosition) {
  TempDir dir;
  Loaded l = Load(dir, "name = \"t\"\n[sources.r\n");
  ASSERT_FALSE(l.status.ok());
  EXPECT_EQ(l.status.code(), StatusCode::kParseError);
  EXPECT_NE(l.status.message().find(l.file + ":2:"), std::string::npos) << l.status.message();
  Status missing = LoadPipelineConfig(dir.File("none.toml")).status();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("none.toml"), std::string::npos);
}

TEST(PipelineConfig, SizesAndWindows) {
  EXPECT_EQ(ParseSize("1MB").value(), 1u << 20);
  EXPECT_EQ(ParseSize("512 KB").value(), 512u << 10);
  EXPECT_EQ(ParseSize("3gib").value(), 3ull << 30);
  EXPECT_EQ(ParseSize("100").value(), 100u);
  for (const char* bad : {"", "MB", "1.5MB", "-1", "1 MB x", "99999999999999999999"}) {
    EXPECT_FALSE(ParseSize(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseWindow("2 weeks")->unit, WindowSpec::Unit::kWeeks);
  EXPECT_EQ(ParseWindow("1 day")->amount, 1);
  for (const char* bad : {"", "9", "months", "0 days", "-3 days", "3 days ago", "3 years"}) {
    EXPECT_FALSE(ParseWindow(bad).ok()) << bad;
  }
}

TEST(PipelineConfig, GlobsSkipHiddenAndUnfinishedFiles) {
  TempDir dir;
  for (const char* f : {"a.csv", "b.csv", ".c.csv", "d.csv.tmp", "e.part", "f.csv"}) {
    WriteFile(dir.File(f), "x");
  }
  auto files = ExpandPattern(dir.File("*"));
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(*files,
            (std::vector<std::string>{dir.File("a.csv"), dir.File("b.csv"), dir.File("f.csv")}));
  auto listed = ExpandPattern(dir.path());
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, *files);
  EXPECT_FALSE(ExpandPattern(dir.File("*.json")).ok());
}

TEST(PipelineConfig, DidYouMeanOnlyWhenClose) {
  EXPECT_EQ(DidYouMean("factros", {"factors", "reg"}), "factors");
  EXPECT_EQ(DidYouMean("xyz", {"factors", "reg"}), "");
}

// Regression: settings the output writers refuse (a prefix with '/', a quote
// as delimiter, a chunk_size the header alone fills, a PostgreSQL table name
// with two dots) used to pass the check and fail only when the output was
// written, after every model was trained, without the file's line.
TEST(PipelineConfigRegression, OutputSettingsTheWritersRefuseAreConfigErrors) {
  ExpectError(Replace(kValid, "path = \"out\"", "path = \"out\"\nprefix = \"a/b\""), "13:10",
              "prefix 'a/b'");
  ExpectError(Replace(kValid, "path = \"out\"", "path = \"out\"\nprefix = \"\""), "13:10",
              "prefix is empty");
  ExpectError(Replace(kValid, "path = \"out\"", "path = \"out\"\ndelimiter = \"\\\"\""), "13:13",
              "delimiter cannot be a double quote");
  // "user,item,score,rank\n" is 21 bytes.
  ExpectError(Replace(kValid, "path = \"out\"", "path = \"out\"\nchunk_size = 21"), "13:14",
              "leaves no room for rows after the 21-byte header");
  TempDir dir;
  EXPECT_TRUE(
      Load(dir, Replace(kValid, "path = \"out\"", "path = \"out\"\nchunk_size = 22")).status.ok());
  EXPECT_TRUE(
      Load(dir, Replace(kValid, "path = \"out\"", "path = \"out\"\nchunk_size = 1\nheader = false"))
          .status.ok());
  const std::string pg = Replace(kValid, "kind = \"csv\"\nfrom = \"top\"\npath = \"out\"",
                                 "kind = \"postgres\"\nfrom = \"top\"\nconninfo = \"host=db\"\n"
                                 "table = \"TABLE\"");
  ExpectError(Replace(pg, "TABLE", "a.b.c"), "13:9", "more than one '.'");
  ExpectError(Replace(pg, "TABLE", std::string(48, 't')), "13:9", "must be 1 to 47 bytes");
  ExpectError(Replace(pg, "\"TABLE\"", "\"t\"\ntypes = { score = \"real; drop table x\" }"),
              "14:19", "is not a plain SQL type name");
  EXPECT_TRUE(Load(dir, Replace(pg, "TABLE", "recs.top")).status.ok());
}

// Regression: a PostgreSQL type given for a column the output does not have
// (a typo such as `scroe`) was silently ignored.
TEST(PipelineConfigRegression, PostgresTypeOfAnUnknownColumnIsAnError) {
  const std::string pg = Replace(kValid, "kind = \"csv\"\nfrom = \"top\"\npath = \"out\"",
                                 "kind = \"postgres\"\nfrom = \"top\"\nconninfo = \"host=db\"\n"
                                 "table = \"t\"\nTYPES");
  ExpectError(Replace(pg, "TYPES", "types = { scroe = \"real\" }"), "14:11",
              "type given for column 'scroe', which the output does not have; did you mean "
              "'score'?");
  ExpectError(Replace(pg, "TYPES", "columns = [\"user\", \"item\"]\ntypes = { rank = \"bigint\" }"),
              "15:11", "column 'rank'");
  TempDir dir;
  // The default types (score, rank) do not need the columns.
  EXPECT_TRUE(Load(dir, Replace(pg, "TYPES", "columns = [\"user\", \"item\"]")).status.ok());
}

// Regression: two file outputs with the same directory (or one inside the
// other) passed the check, and the second silently replaced the first.
TEST(PipelineConfigRegression, OutputsSharingADirectoryAreAnError) {
  const std::string second = "[outputs.b]\nkind = \"jsonl\"\nfrom = \"top\"\npath = \"PATH\"\n";
  ExpectError(std::string(kValid) + Replace(second, "PATH", "out/"), "13:1",
              "[outputs.b] writes directory");
  ExpectError(std::string(kValid) + Replace(second, "PATH", "./x/../out"), "13:1",
              "the same directory as [outputs.out]");
  ExpectError(std::string(kValid) + Replace(second, "PATH", "out/json"), "13:1",
              "inside the directory of [outputs.out]");
  ExpectError(std::string(kValid) + Replace(second, "PATH", "."), "13:1", "run history");
  ExpectError(
      std::string(kValid) + "[outputs.s]\nkind = \"publish\"\nmodel = \"pop\"\nstore = \"out\"\n",
      "13:1", "[outputs.out]");
  ExpectError(Replace(kValid, "path = \"out\"", "path = \"data\"") +
                  "[sources.more]\npath = \"data/*.csv\"\n",
              "9:1", "source");
  // Two PostgreSQL outputs into one table of one database.
  const std::string db =
      "[outputs.DB]\nkind = \"postgres\"\nfrom = \"top\"\nconninfo_env = \"PG\"\n"
      "table = \"recs\"\n";
  ExpectError(std::string(kValid) + Replace(db, "DB", "db1") + Replace(db, "DB", "db2"), "18:1",
              "[outputs.db2] writes table recs, as [outputs.db1] does");
  TempDir dir;
  EXPECT_TRUE(Load(dir, std::string(kValid) + Replace(second, "PATH", "out2")).status.ok());
  EXPECT_TRUE(Load(dir, std::string(kValid) + Replace(second, "PATH", "other/out")).status.ok());
}

// Regression: a relative source path in a directory whose name holds glob
// characters ("exports [2024]") was read as a glob and matched nothing.
TEST(PipelineConfigRegression, GlobCharactersInThePipelineDirectoryAreLiteral) {
  TempDir top;
  const std::string dir = top.File("exports [2024] *?");
  std::filesystem::create_directories(dir + "/data");
  WriteFile(dir + "/r.csv", kData);
  WriteFile(dir + "/data/a.csv", kData);
  WriteFile(dir + "/data/b.csv", kData);
  WriteFile(dir + "/p.toml",
            Replace(kValid, "path = \"r.csv\"", "path = [\"r.csv\", \"data/*.csv\", \"data\"]"));
  auto c = LoadPipelineConfig(dir + "/p.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  std::vector<std::string> files;
  for (const auto& pattern : c->sources[0].patterns) {
    auto matched = ExpandPattern(pattern);
    ASSERT_TRUE(matched.ok()) << pattern << ": " << matched.status().message();
    files.insert(files.end(), matched->begin(), matched->end());
  }
  EXPECT_EQ(files,
            (std::vector<std::string>{dir + "/r.csv", dir + "/data/a.csv", dir + "/data/b.csv",
                                      dir + "/data/a.csv", dir + "/data/b.csv"}));
  WriteFile(dir + "/p.toml", Replace(kValid, "path = \"r.csv\"", "path = \"gone.csv\""));
  Status missing = LoadPipelineConfig(dir + "/p.toml").status();
  EXPECT_NE(missing.message().find("no such file '" + dir + "/gone.csv'"), std::string::npos)
      << missing.message();
}

// Regression: "must be a string, not a integer".
TEST(PipelineConfigRegression, ParameterTypeErrorsUseTheRightArticle) {
  ExpectError(Replace(kValid, "kind = \"popularity\"",
                      "kind = \"cooccurrence\"\nparams = { similarity = 3 }"),
              "6:25", "parameter 'similarity' must be a string, not an integer");
}

// docs/PIPELINES.md's key reference is PipelineKeysMarkdown().
TEST(PipelineConfigDocs, KeyReferenceMatchesTheTable) {
  const std::string path = std::string(ENCORE_SOURCE_DIR) + "/docs/PIPELINES.md";
  std::string doc = ReadFile(path);
  const std::string begin = "<!-- BEGIN GENERATED KEYS -->\n", end = "<!-- END GENERATED KEYS -->";
  size_t b = doc.find(begin), e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  b += begin.size();
  const std::string expected = PipelineKeysMarkdown();
  if (std::getenv("ENCORE_UPDATE_DOCS") != nullptr) {
    doc.replace(b, e - b, expected);
    std::ofstream(path, std::ios::binary) << doc;
    e = b + expected.size();
  }
  EXPECT_EQ(doc.substr(b, e - b), expected)
      << "docs/PIPELINES.md is stale: run ENCORE_UPDATE_DOCS=1 encore_tests "
         "--gtest_filter=PipelineConfigDocs.*";
}

// A minimal retail pipeline (line numbers matter below).
constexpr char kRetail[] = R"(name = "r"
[sources.f]
generate = { profile = "fashion", users = 20, items = 30, rows = 200 }
[models.m]
kind = "popularity"
[retail]
source = "f"
model = "m"
as_of = "2026-06-01T00:00:00Z"
[retail.boost]
level = "subclass"
[retail.feeds]
card_target_count = 5
[outputs.feeds]
kind = "retail"
path = "out"
store = "store"
)";

TEST(PipelineConfigRetail, ValidLoads) {
  TempDir dir;
  WriteFile(dir.File("p.toml"), kRetail);
  Result<PipelineConfig> c = LoadPipelineConfig(dir.File("p.toml"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->retail.has_value());
  EXPECT_EQ(c->retail->rules.as_of, 1780272000);
  EXPECT_EQ(c->retail->feeds.card_target_count, 5u);
  EXPECT_EQ(c->retail->rules.max_per_node, 4u);  // the default
}

TEST(PipelineConfigRetail, BadKeysAndValuesNameTheLine) {
  ExpectError(Replace(kRetail, "level = \"subclass\"", "levle = \"subclass\""), "11:1",
              "unknown key 'levle' in [retail.boost]; did you mean 'level'?");
  ExpectError(Replace(kRetail, "level = \"subclass\"", "level = \"subclas\""), "11:9",
              "is not a level of [retail.catalog] levels; did you mean 'subclass'?");
  ExpectError(Replace(kRetail, "as_of = \"2026-06-01T00:00:00Z\"", "as_of = \"tomorrow\""), "9:9",
              "as_of 'tomorrow' is not a time");
  ExpectError(Replace(kRetail, "model = \"m\"", "model = \"mm\""), "8:9",
              "[retail] model 'mm' names no [models.NAME]; did you mean 'm'?");
  ExpectError(Replace(kRetail, "card_target_count = 5", "card_target_count = 0"), "13:21",
              "it must be in 1..");
  ExpectError(Replace(kRetail, "[retail.feeds]", "[retail.feeds]\nmax_prodcts = 3"), "13:1",
              "did you mean 'max_products'?");
  ExpectError(Replace(kRetail, "store = \"store\"", ""), "14:1", "missing required key 'store'");
}

// kValid (12 lines) with a [stream] section from line 13.
const std::string kStream = std::string(kValid) + R"([stream]
store = "store"
redis = "redis://127.0.0.1:6390/0"
stream = "ev"
group = "grp"
consumer = "c1"
batch = 100
window_ms = 5
refresh_ms = 250
sync = "process"
history = "live"
n = 7
seen_exact_max = 500
seen_fpr = 0.01
)";

TEST(PipelineConfigStream, EveryKeyResolvesIntoTheJob) {
  TempDir dir;
  Loaded l = Load(dir, Replace(kStream, "[models.pop]",
                               "[prepare]\nweights = { view = 1, buy = 5 }\n[models.pop]"));
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  Result<PipelineConfig> c = LoadPipelineConfig(dir.File("p.toml"));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->stream.has_value());
  Result<StreamJob> job = StreamJobFor(*c);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->store, dir.File("store"));  // relative to the workdir
  EXPECT_EQ(job->consumer.redis_uri, "redis://127.0.0.1:6390/0");
  EXPECT_EQ(job->consumer.stream_key, "ev");
  EXPECT_EQ(job->consumer.group, "grp");
  EXPECT_EQ(job->consumer.consumer, "c1");
  EXPECT_EQ(job->consumer.batch, 100u);
  EXPECT_EQ(job->consumer.window_ms, 5u);
  EXPECT_EQ(job->consumer.refresh_ms, 250u);
  EXPECT_FALSE(job->speed.sync);
  EXPECT_FALSE(job->speed.include_snapshot_row);
  EXPECT_EQ(job->speed.n, 7u);
  EXPECT_EQ(job->speed.seen_exact_max, 500u);
  EXPECT_DOUBLE_EQ(job->speed.seen_fpr, 0.01);
  EXPECT_EQ(job->speed.weights, (std::map<std::string, float>{{"buy", 5}, {"view", 1}}));
  EXPECT_TRUE(job->obfuscate.empty());
}

TEST(PipelineConfigStream, DefaultsAndRedisStore) {
  TempDir dir;
  Loaded l =
      Load(dir, std::string(kValid) +
                    "[stream]\nstore = \"redis://127.0.0.1:1/2\"\nredis = \"redis://h:1/0\"\n");
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  Result<PipelineConfig> c = LoadPipelineConfig(dir.File("p.toml"));
  ASSERT_TRUE(c.ok());
  Result<StreamJob> job = StreamJobFor(*c);
  ASSERT_TRUE(job.ok());
  const ConsumerOptions defaults;
  const SpeedLayerOptions speed_defaults;
  EXPECT_EQ(job->store, "redis://127.0.0.1:1/2");
  EXPECT_EQ(job->consumer.stream_key, "events");
  EXPECT_EQ(job->consumer.group, defaults.group);
  EXPECT_EQ(job->consumer.consumer, defaults.consumer);
  EXPECT_EQ(job->consumer.batch, defaults.batch);
  EXPECT_EQ(job->consumer.window_ms, defaults.window_ms);
  EXPECT_EQ(job->consumer.refresh_ms, defaults.refresh_ms);
  EXPECT_TRUE(job->speed.sync);
  EXPECT_TRUE(job->speed.include_snapshot_row);
  EXPECT_EQ(job->speed.n, speed_defaults.n);
  EXPECT_EQ(job->speed.seen_exact_max, 10'000u);
  EXPECT_DOUBLE_EQ(job->speed.seen_fpr, speed_defaults.seen_fpr);
  // Without [stream]: defaults, no store.
  Loaded plain = Load(dir, kValid);
  ASSERT_TRUE(plain.status.ok());
  Result<PipelineConfig> p = LoadPipelineConfig(dir.File("p.toml"));
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->stream.has_value());
  EXPECT_EQ(StreamJobFor(*p)->store, "");
}

TEST(PipelineConfigStream, BadKeysAndValuesNameTheLine) {
  ExpectError(Replace(kStream, "store = \"store\"", "store = \"\""), "14:9",
              "[stream] store is empty");
  ExpectError(Replace(kStream, "store = \"store\"\n", ""), "13:1",
              "missing required key 'store' in [stream]");
  ExpectError(Replace(kStream, "redis = \"redis://127.0.0.1:6390/0\"\n", ""), "13:1",
              "missing required key 'redis' in [stream]");
  ExpectError(Replace(kStream, "redis://127.0.0.1:6390/0", "http://127.0.0.1:6390"), "15:9",
              "is not a Redis URI; write redis://HOST:PORT/DB");
  ExpectError(Replace(kStream, "redis = \"redis://127.0.0.1:6390/0\"", "redis = 6390"), "15:9",
              "key 'redis' in [stream] must be a string, not an integer");
  ExpectError(Replace(kStream, "stream = \"ev\"", "stream = \"\""), "16:10",
              "[stream] stream is empty");
  ExpectError(Replace(kStream, "group = \"grp\"", "group = \"a b\""), "17:9",
              "[stream] group holds a space or control character");
  ExpectError(Replace(kStream, "consumer = \"c1\"", "consumer = \"c\\u0007\""), "18:12",
              "[stream] consumer holds a space or control character");
  ExpectError(Replace(kStream, "consumer = \"c1\"", "consumer = \"" + std::string(300, 'c') + "\""),
              "18:12", "[stream] consumer is 300 bytes, at most 256");
  ExpectError(Replace(kStream, "batch = 100", "batch = 0"), "19:9",
              "key 'batch' is 0; it must be in 1..100000");
  ExpectError(Replace(kStream, "batch = 100", "batch = \"100\""), "19:9",
              "key 'batch' in [stream] must be an integer, not a string");
  ExpectError(Replace(kStream, "window_ms = 5", "window_ms = 60001"), "20:13",
              "key 'window_ms' is 60001; it must be in 0..60000");
  ExpectError(Replace(kStream, "window_ms = 5", "windw_ms = 5"), "20:1",
              "unknown key 'windw_ms' in [stream]; did you mean 'window_ms'?");
  ExpectError(Replace(kStream, "refresh_ms = 250", "refresh_ms = 0"), "21:14",
              "key 'refresh_ms' is 0; it must be in 1..3600000");
  ExpectError(Replace(kStream, "sync = \"process\"", "sync = \"memory\""), "22:8",
              "[stream] sync 'memory' is unknown; use disk or process");
  ExpectError(Replace(kStream, "history = \"live\"", "history = \"all\""), "23:11",
              "[stream] history 'all' is unknown; use snapshot+live or live");
  ExpectError(Replace(kStream, "n = 7", "n = -1"), "24:5",
              "key 'n' is -1; it must be in 0..100000");
  ExpectError(Replace(kStream, "n = 7", "n = 1.5"), "24:5",
              "key 'n' in [stream] must be an integer");
  ExpectError(Replace(kStream, "seen_exact_max = 500", "seen_exact_max = -5"), "25:18",
              "key 'seen_exact_max' is -5; it must be in 0..100000000");
  ExpectError(Replace(kStream, "seen_fpr = 0.01", "seen_fpr = 0"), "26:12",
              "[stream] seen_fpr must be in (0, 0.5]");
  ExpectError(Replace(kStream, "seen_fpr = 0.01", "seen_fpr = 0.9"), "26:12",
              "[stream] seen_fpr must be in (0, 0.5]");
  ExpectError(Replace(kStream, "seen_fpr = 0.01", "seen_fpr = \"low\""), "26:12",
              "key 'seen_fpr' in [stream] must be a number");
}

// [stream] dedup_retention and dead_letter (issue 12): values, defaults
// (7 days, STREAM:dead) and errors with their line.
TEST(PipelineConfigStream, DedupRetentionAndDeadLetter) {
  TempDir dir;
  Loaded l = Load(dir, kStream + "dedup_retention = \"36h\"\ndead_letter = \"rejects\"\n");
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  Result<PipelineConfig> c = LoadPipelineConfig(dir.File("p.toml"));
  ASSERT_TRUE(c.ok());
  Result<StreamJob> job = StreamJobFor(*c);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->speed.dedup_retention_seconds, 36 * 3600);
  EXPECT_EQ(job->dead_letter, "rejects");
  Loaded none = Load(dir, kStream + "dedup_retention = \"none\"\n");
  ASSERT_TRUE(none.status.ok()) << none.status.message();
  c = LoadPipelineConfig(dir.File("p.toml"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(StreamJobFor(*c)->speed.dedup_retention_seconds, 0);
  Loaded plain = Load(dir, kStream);
  ASSERT_TRUE(plain.status.ok());
  c = LoadPipelineConfig(dir.File("p.toml"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(StreamJobFor(*c)->speed.dedup_retention_seconds, 7 * 86400);
  EXPECT_EQ(StreamJobFor(*c)->dead_letter, "");  // STREAM:dead
  ExpectError(kStream + "dedup_retention = \"a week\"\n", "27:19",
              "retention 'a week' is not a duration");
  ExpectError(kStream + "dead_letter = \"\"\n", "27:15",
              "[stream] dead_letter is empty; give a stream key, or \"none\"");
}

// The sources' obfuscation of the user (item) column becomes the live
// events' user (item) obfuscation, with the same key; sources that differ
// are an error at [stream].
TEST(PipelineConfigStream, ObfuscationIsTheSources) {
  TempDir dir;
  WriteFile(dir.File("key.txt"), "0123456789abcdef0123\n");
  WriteFile(dir.File("s.csv"), "customer,sku,email\nc1,a,x@y\n");
  const std::string two_sources =
      Replace(kStream, "[models.pop]",
              "[sources.s]\npath = \"s.csv\"\nobfuscate = [\"customer\", \"email\"]\n"
              "obfuscation_key_file = \"key.txt\"\n[models.pop]");
  // r.csv obfuscates nothing while s.csv obfuscates its user column.
  ExpectError(two_sources, "17:1",
              "sources 'r' and 's' obfuscate the user and item ids "
              "differently");
  const std::string both = Replace(two_sources, "path = \"r.csv\"",
                                   "path = \"r.csv\"\nobfuscate = [\"user\"]\n"
                                   "obfuscation_key_file = \"key.txt\"");
  Loaded l = Load(dir, both);
  ASSERT_TRUE(l.status.ok()) << l.status.message();
  Result<PipelineConfig> c = LoadPipelineConfig(dir.File("p.toml"));
  ASSERT_TRUE(c.ok());
  Result<StreamJob> job = StreamJobFor(*c);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->obfuscate, std::vector<std::string>{"user"});
  EXPECT_EQ(job->obfuscation_key_file, dir.File("key.txt"));
  // A chosen item column by number in a headerless file; a key from the environment.
  Loaded items =
      Load(dir, Replace(kStream, "path = \"r.csv\"",
                        "path = \"r.csv\"\nheader = false\nitem = 2\nobfuscate = [\"2\"]\n"
                        "obfuscation_key_env = \"MY_KEY\""));
  ASSERT_TRUE(items.status.ok()) << items.status.message();
  c = LoadPipelineConfig(dir.File("p.toml"));
  ASSERT_TRUE(c.ok());
  job = StreamJobFor(*c);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->obfuscate, std::vector<std::string>{"item"});
  EXPECT_EQ(job->obfuscation_key_env, "MY_KEY");
}

TEST(PipelineConfigDocs, EveryKeyIsDocumentedOnce) {
  std::set<std::string> seen;
  for (const ConfigKey& k : PipelineKeys()) {
    EXPECT_TRUE(seen.insert(std::string(k.section) + "." + k.name).second) << k.name;
    EXPECT_GT(std::string(k.help).size(), 3u) << k.name;
  }
}

// [retail.catalog] from PostgreSQL: table or query with a connection.
TEST(PipelineConfigRetail, PostgresCatalogLoadsAndHidesTheConnection) {
  TempDir dir;
  WriteFile(dir.File("p.toml"), Replace(kRetail, "[retail.boost]",
                                        "[retail.catalog]\ntable = \"merch.catalog\"\n"
                                        "conninfo = \"host=db password=s3cr3t\"\n[retail.boost]"));
  Result<PipelineConfig> c = LoadPipelineConfig(dir.File("p.toml"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->retail->catalog_table, "merch.catalog");
  EXPECT_EQ(c->retail->catalog_conninfo, "host=db password=s3cr3t");
  EXPECT_TRUE(c->retail->catalog_from_postgres());
  EXPECT_TRUE(c->retail->catalog_path.empty());
  JsonWriter w;
  c->write_json(&w);
  EXPECT_EQ(w.str().find("s3cr3t"), std::string::npos) << w.str();
  EXPECT_NE(w.str().find("merch.catalog"), std::string::npos) << w.str();

  WriteFile(dir.File("q.toml"), Replace(kRetail, "[retail.boost]",
                                        "[retail.catalog]\nquery = \"SELECT * FROM c\"\n"
                                        "conninfo_env = \"CATALOG_DB\"\n[retail.boost]"));
  c = LoadPipelineConfig(dir.File("q.toml"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->retail->catalog_query, "SELECT * FROM c");
  EXPECT_EQ(c->retail->catalog_conninfo_env, "CATALOG_DB");
}

TEST(PipelineConfigRetail, PostgresCatalogKeysAreChecked) {
  auto with = [](const std::string& keys) {
    return Replace(kRetail, "[retail.boost]", "[retail.catalog]\n" + keys + "[retail.boost]");
  };
  ExpectError(with("table = \"c\"\n"), "10:1",
              "table/query needs exactly one of 'conninfo' and 'conninfo_env'");
  ExpectError(with("table = \"c\"\nconninfo = \"x\"\nconninfo_env = \"Y\"\n"), "10:1",
              "needs exactly one of 'conninfo' and 'conninfo_env'");
  ExpectError(with("table = \"c\"\nquery = \"SELECT 1\"\nconninfo = \"x\"\n"), "10:1",
              "takes one of 'path' (a file), 'table' and 'query'");
  ExpectError(with("conninfo = \"x\"\n"), "10:1", "which needs 'table' or 'query'");
  ExpectError(with("query = \" ; \"\nconninfo = \"x\"\n"), "11:9", "query is empty");
  ExpectError(with("table = \"c\"\nconninfo = \"x\"\nformat = \"csv\"\n"), "13:10",
              "format applies to files");
  ExpectError(with("tabel = \"c\"\n"), "11:1", "did you mean 'table'?");
}

TEST(PipelineConfig, ModelsStartAtTheirKindDefaultsAndGivenParamsWin) {
  const std::string als = Replace(kValid, "kind = \"popularity\"", "kind = \"als\"");
  {
    TempDir dir;
    ASSERT_TRUE(Load(dir, als).status.ok());
    Result<PipelineConfig> c = LoadPipelineConfig(dir.File("p.toml"));
    ASSERT_TRUE(c.ok()) << c.status().message();
    EXPECT_EQ(ModelParamsToList(c->FindModel("pop")->params),
              ModelParamsToList(DefaultParams("als")));
  }
  {
    TempDir dir;
    ASSERT_TRUE(Load(dir, Replace(als, "kind = \"als\"",
                                  "kind = \"als\"\nparams = { factors = 4, biases = false }"))
                    .status.ok());
    Result<PipelineConfig> c = LoadPipelineConfig(dir.File("p.toml"));
    ASSERT_TRUE(c.ok()) << c.status().message();
    const ModelParams& p = c->FindModel("pop")->params;
    EXPECT_EQ(p.factors, 4u) << "a given value wins";
    EXPECT_FALSE(p.biases) << "a given false wins";
    EXPECT_FLOAT_EQ(p.reg, 0.157f) << "the rest starts at the kind's defaults";
  }
  {
    TempDir dir;
    ASSERT_TRUE(Load(dir, Replace(als, "kind = \"als\"",
                                  "kind = \"als\"\ndefaults = \"spark\"\nparams = { reg = 0.2 }"))
                    .status.ok());
    Result<PipelineConfig> c = LoadPipelineConfig(dir.File("p.toml"));
    ASSERT_TRUE(c.ok()) << c.status().message();
    ModelParams spark;
    spark.reg = 0.2f;
    EXPECT_EQ(ModelParamsToList(c->FindModel("pop")->params), ModelParamsToList(spark));
  }
  ExpectError(Replace(als, "kind = \"als\"", "kind = \"als\"\ndefaults = \"mllib\""), "6:12",
              "[models.pop] defaults: 'mllib' is not a preset");
}

}  // namespace
}  // namespace encore::pipeline
