// The example pipelines in examples/ run end to end on small generated data
// (each copied into a temporary directory, its data written where its
// `path` says).

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include <pqxx/pqxx>

#include "encore/obfuscate.h"
#include "encore/store.h"
#include "postgres_server.h"
#include "redis_server.h"
#include "pipeline_test_util.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::ListDir;
using testing::ReadFile;
using testing::RunDirs;
using testing::RunEncore;
using testing::TempDir;
using testing::WriteFile;

template <typename T>
T Scalar(pqxx::work& tx, const std::string& query) {
  return tx.exec1(query)[0].as<T>();
}

std::string Example(const std::string& name) {
  return std::string(ENCORE_SOURCE_DIR) + "/examples/" + name;
}

// Copies an example pipeline into `dir`, replacing `from` by `to` (to keep
// the test fast under sanitizers; the pipeline's structure stays as is), its
// workdir made DIR/WORKDIR. The examples as shipped, run as a newcomer runs
// them, are tests/examples_test.cc.
std::string CopyExample(const TempDir& dir, const std::string& name, const std::string& from = "",
                        const std::string& to = "") {
  std::string text = ReadFile(Example(name));
  if (!from.empty()) {
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from << " in " << name;
    if (at != std::string::npos) text.replace(at, from.size(), to);
  }
  // The workdir (relative to the current directory) into `dir`.
  const std::string key = "workdir = \"";
  if (size_t at = text.find("\n" + key); at != std::string::npos) {
    text.insert(at + 1 + key.size(), dir.path() + "/");
  }
  WriteFile(dir.File(name), text);
  return dir.File(name);
}

std::vector<std::vector<std::string>> ReadCsv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

// The single data file of an output directory.
std::string OnlyFile(const std::string& dir) {
  std::string found;
  for (const auto& f : ListDir(dir)) {
    if (f != "_SUCCESS") {
      EXPECT_TRUE(found.empty()) << "one file expected in " << dir;
      found = dir + "/" + f;
    }
  }
  return found;
}

TEST(PipelineExamples, PonoCooccurrence) {
  TempDir dir;
  const std::string toml = CopyExample(dir, "pono_cooccurrence.toml");
  std::filesystem::create_directories(dir.File("data"));
  // Customers in four taste groups buying albums mostly from their group.
  std::string csv = "email,street,album,quantity,purchased_at\n";
  std::map<std::string, std::set<std::string>> owned;
  uint64_t x = 7;
  for (int c = 0; c < 120; ++c) {
    const std::string email = "customer" + std::to_string(c) + "@example.com";
    for (int k = 0; k < 5; ++k) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      const int album = (c % 4) * 8 + static_cast<int>((x >> 33) % 12);
      const std::string name = "Album " + std::to_string(album);
      owned[email].insert(name);
      csv += email + ",\"1 Main St\"," + name + "," + std::to_string(1 + k % 2) + ",2024-03-0" +
             std::to_string(1 + k) + "T10:00:00Z\n";
    }
  }
  WriteFile(dir.File("data/purchases-2024.csv"), csv);
  const std::string key = "pono-test-key-0123456789";
  auto r = RunEncore("run " + toml, "PONO_OBFUSCATION_KEY=" + key);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const std::string out_dir = dir.File("runs/pono/out/top20");
  ASSERT_TRUE(std::filesystem::exists(out_dir + "/_SUCCESS"));
  const std::string file = OnlyFile(out_dir);
  const std::string id = RunDirs(dir.File("runs/pono"))[0];
  EXPECT_EQ(std::filesystem::path(file).filename(), "pono-top20-" + id + "-00001.csv");
  auto rows = ReadCsv(file);
  ASSERT_GT(rows.size(), 100u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"key", "user", "item", "score", "rank"}));

  // Emails never appear in clear; the key is the hashed email and the row number.
  EXPECT_EQ(ReadFile(file).find("@example.com"), std::string::npos);
  EXPECT_EQ(ReadFile(dir.File("runs/pono/runs/" + id + "/manifest.json")).find("@example.com"),
            std::string::npos);
  Obfuscator obfuscator(key);
  std::map<std::string, std::string> email_of;
  std::map<std::string, std::map<std::string, int>> cooc;
  std::map<std::string, int> count;
  for (const auto& [email, albums] : owned) {
    email_of[obfuscator.Hash(email)] = email;
    for (const auto& a : albums) {
      ++count[a];
      for (const auto& b : albums) {
        if (a != b) ++cooc[a][b];
      }
    }
  }
  std::map<std::string, int> per_user;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& row = rows[i];
    ASSERT_EQ(row.size(), 5u);
    EXPECT_EQ(row[0], row[1] + "-" + std::to_string(i)) << "key = user + row number";
    ASSERT_TRUE(email_of.count(row[1])) << row[1];
    const std::set<std::string>& mine = owned[email_of[row[1]]];
    EXPECT_EQ(mine.count(row[2]), 0u) << "albums the customer owns are excluded";
    // score(b) = max over owned a of cooc(a, b) / count(a).
    double expected = 0;
    for (const auto& a : mine) expected = std::max(expected, double(cooc[a][row[2]]) / count[a]);
    EXPECT_NEAR(std::stod(row[3]), expected, 1e-6) << row[1] << " " << row[2];
    EXPECT_LE(++per_user[row[1]], 20);
    EXPECT_EQ(row[4], std::to_string(per_user[row[1]]));
  }
  EXPECT_EQ(per_user.size(), 120u);

  auto no_key = RunEncore("run " + toml, "PONO_OBFUSCATION_KEY=");
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_NE(no_key.err.find("PONO_OBFUSCATION_KEY"), std::string::npos) << no_key.err;
}

TEST(PipelineExamples, YahooMusicAls) {
  TempDir dir;
  const std::string toml =
      CopyExample(dir, "yahoo_music_als.toml", "iterations = 10,", "iterations = 3,");
  std::filesystem::create_directories(dir.File("data"));
  std::string tsv;
  uint64_t x = 11;
  for (int u = 0; u < 60; ++u) {
    for (int k = 0; k < 12; ++k) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      const int artist = static_cast<int>((x >> 33) % 30);
      const int rating = 20 + 10 * ((u + artist) % 5) + static_cast<int>((x >> 20) % 7);
      tsv += std::to_string(1000 + u) + "\t" + std::to_string(artist) + "\t" +
             std::to_string(rating) + "\n";
    }
  }
  WriteFile(dir.File("data/ydata-ymusic-user-artist-ratings-v1_0.txt"), tsv);

  // Without $ENCORE_PG the whole pipeline stops before running anything.
  auto full = RunEncore("run " + toml, "ENCORE_PG=");
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_NE(full.err.find("environment variable ENCORE_PG"), std::string::npos) << full.err;
  EXPECT_TRUE(RunDirs(dir.File("runs/yahoo")).empty());

  auto r = RunEncore("run " + toml + " --only csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string out = OnlyFile(dir.File("runs/yahoo/out/top5"));
  auto rows = ReadCsv(out);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"user", "item", "score", "rank"}));
  EXPECT_EQ(rows.size(), 1 + 60u * 5);
  EXPECT_FALSE(std::filesystem::exists(dir.File("runs/yahoo/out/db")));

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const std::string id = RunDirs(dir.File("runs/yahoo"))[0];
  ASSERT_EQ(parser.parse(ReadFile(dir.File("runs/yahoo/runs/" + id + "/manifest.json"))).get(doc),
            simdjson::SUCCESS);
  simdjson::dom::array grid;
  ASSERT_EQ(doc["metrics"]["als"]["grid"].get(grid), simdjson::SUCCESS);
  EXPECT_EQ(grid.size(), 6u) << "factors x reg";
  uint64_t best = 0;
  ASSERT_EQ(doc["metrics"]["als"]["best"].get(best), simdjson::SUCCESS);
  double best_rmse = 0, rmse = 0, test_rmse = 0;
  ASSERT_EQ(grid.at(best)["mean"]["rmse"].get(best_rmse), simdjson::SUCCESS);
  for (auto point : grid) {
    ASSERT_EQ(point["mean"]["rmse"].get(rmse), simdjson::SUCCESS);
    EXPECT_LE(best_rmse, rmse) << "the best point has the lowest mean rmse";
  }
  ASSERT_EQ(doc["metrics"]["als"]["test"]["rmse"].get(test_rmse), simdjson::SUCCESS);
  EXPECT_TRUE(std::isfinite(test_rmse));
  EXPECT_EQ(testing::JsonString(doc["metrics"]["als"]["chosen"]["factors"]),
            testing::JsonString(doc["models"]["als"]["params"]["factors"]))
      << "the refitted model uses the chosen parameters";
  EXPECT_EQ(testing::JsonString(doc["models"]["als"]["trained_on"]), "all data");

  // The whole example, into a real PostgreSQL: the table holds exactly the CSV's rows.
  std::string error;
  testing::PostgresServer* pg = testing::SharedPostgresServer(&error);
  ASSERT_NE(pg, nullptr) << error;
  auto db = RunEncore("run " + toml, "ENCORE_PG='" + pg->conninfo() + "'");
  ASSERT_EQ(db.exit_code, 0) << db.err;
  EXPECT_NE(db.out.find("output db (postgres)"), std::string::npos) << db.out;
  pqxx::connection c(pg->conninfo());
  pqxx::work tx(c);
  EXPECT_EQ(Scalar<int>(tx, "SELECT count(*) FROM yahoo_top5"), 60 * 5);
  EXPECT_EQ(Scalar<int>(tx, "SELECT count(DISTINCT \"user\") FROM yahoo_top5"), 60);
  EXPECT_EQ(Scalar<int>(tx, "SELECT max(rank) FROM yahoo_top5"), 5);
  EXPECT_EQ(Scalar<std::string>(tx, 
                "SELECT data_type FROM information_schema.columns WHERE table_name = "
                "'yahoo_top5' AND column_name = 'score'"),
            "double precision");
  EXPECT_EQ(Scalar<int>(tx, "SELECT count(*) FROM pg_tables WHERE tablename LIKE "
                                "'yahoo_top5%'"),
            1)
      << "no staging table is left behind";
}

TEST(PipelineExamples, BigDataRiverBatch) {
  TempDir dir;
  const std::string toml =
      CopyExample(dir, "bigdatariver_batch.toml", "users = 20000, items = 5000, rows = 500000",
                  "users = 300, items = 100, rows = 6000");
  auto r = RunEncore("run " + toml + " --only csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string work = dir.File("runs/bigdatariver");
  const std::string id = RunDirs(work)[0];
  EXPECT_TRUE(std::filesystem::exists(work + "/runs/" + id + "/sources/events/events.csv"))
      << "generated data lives in the run directory";
  auto rows = ReadCsv(OnlyFile(work + "/out/top5"));
  ASSERT_GT(rows.size(), 1000u);  // 5 for most of the 300 users
  EXPECT_EQ(rows[1][3], "1");
  std::map<std::string, int> per_user;
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_LE(++per_user[rows[i][0]], 5);
  const std::string manifest = ReadFile(work + "/runs/" + id + "/manifest.json");
  EXPECT_NE(manifest.find("\"generated\": true"), std::string::npos);
  EXPECT_NE(manifest.find("\"precision@5\""), std::string::npos);

  // The whole job, publishing included.
  auto all = RunEncore("run " + toml);
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_NE(all.out.find("output serving (publish): " + work + "/store"), std::string::npos)
      << all.out;
  EXPECT_TRUE(std::filesystem::exists(work + "/store"));
  auto store = Store::Open(work + "/store");
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto current = (*store)->CurrentVersion();
  ASSERT_TRUE(current.ok()) << current.status().message();
  EXPECT_EQ(*current, 1u);
}

// The same job publishing to a shared Redis store instead of LMDB.
TEST(PipelineExamples, BigDataRiverBatchToRedis) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.Start().ok()) << "redis-server missing? run scripts/install-deps.sh";
  TempDir dir;
  std::string toml = CopyExample(dir, "bigdatariver_batch.toml",
                                 "users = 20000, items = 5000, rows = 500000",
                                 "users = 300, items = 100, rows = 6000");
  std::string text = ReadFile(toml);
  const std::string from = "store = \"store\"";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "store = \"" + redis.Uri(3) + "\"");
  WriteFile(toml, text);
  auto r = RunEncore("run " + toml + " --only serving");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ListDir(dir.File("runs/bigdatariver/out")).empty() ||
              !std::filesystem::exists(dir.File("runs/bigdatariver/out/top5")))
      << "--only serving writes no CSV";
  auto store = Store::Open(redis.Uri(3));
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto version = (*store)->CurrentVersion();
  ASSERT_TRUE(version.ok()) << version.status().message();
  auto snapshot = (*store)->OpenSnapshot(*version);
  ASSERT_TRUE(snapshot.ok());
  std::string info;
  ASSERT_TRUE((*snapshot)->Get(Table::kMeta, "info", &info).ok());
  EXPECT_NE(info.find("\"kind\":\"ials\""), std::string::npos) << info;
}

}  // namespace
}  // namespace encore
