// Tests of WritePostgresOutput against a real PostgreSQL server started by
// tests/postgres_server.h (one per test binary run, shared by these tests).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/output.h"
#include "pipeline/testing_rows.h"
#include "postgres_server.h"

namespace encore::pipeline {
namespace {

using testing::Rows;
using testing::VectorRowSource;

// The shared server's connection string, or "" after recording a failure.
std::string Conninfo() {
  std::string error;
  encore::testing::PostgresServer* server = encore::testing::SharedPostgresServer(&error);
  if (server == nullptr) {
    ADD_FAILURE() << "no PostgreSQL server for the tests: " << error;
    return "";
  }
  return server->conninfo();
}

Rows Query(const std::string& conninfo, const std::string& sql) {
  pqxx::connection c(conninfo);
  pqxx::nontransaction tx(c);
  Rows out;
  for (const auto& row : tx.exec(sql)) {
    std::vector<std::string> cells;
    for (const auto& field : row) cells.push_back(field.is_null() ? "<null>" : field.c_str());
    out.push_back(cells);
  }
  return out;
}

void Exec(const std::string& conninfo, const std::string& sql) {
  pqxx::connection c(conninfo);
  pqxx::nontransaction tx(c);
  tx.exec0(sql);
}

bool TableExists(const std::string& conninfo, const std::string& name) {
  return Query(conninfo, "SELECT to_regclass('" + name + "') IS NOT NULL")[0][0] == "t";
}

Rows TaggedRows(size_t n, const std::string& tag) {
  Rows rows;
  for (size_t i = 0; i < n; ++i)
    rows.push_back({tag, std::to_string(i), tag + "-" + std::to_string(i)});
  return rows;
}

PostgresOutputOptions Options(const std::string& conninfo, const std::string& table) {
  PostgresOutputOptions o;
  o.conninfo = conninfo;
  o.table = table;
  o.types = {{"n", "bigint"}};
  return o;
}

const std::vector<std::string> kTagged = {"tag", "n", "label"};

TEST(PostgresOutputTest, CreatesTableWithRowsAndTypes) {
  const std::string conn = Conninfo();
  ASSERT_FALSE(conn.empty());
  VectorRowSource source({"user", "select", "Mixed Case", "score", "rank"},
                         {{"u1", "tab\there", "caf\xc3\xa9 \xe6\x97\xa5", "0.5", "1"},
                          {"u2", "back\\slash", "line\nbreak\r\n", "1e3", "2"},
                          {"u3", "\\N", "", "", ""}});
  PostgresOutputOptions options;
  options.conninfo = conn;
  options.table = "recs_types";
  options.types = {{"score", "double precision"}, {"rank", "integer"}};
  auto report = WritePostgresOutput(source, options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->rows, 3u);
  EXPECT_EQ(report->location, "postgres:recs_types");
  EXPECT_TRUE(report->files.empty());

  EXPECT_EQ(Query(conn,
                  "SELECT column_name, data_type FROM information_schema.columns "
                  "WHERE table_name = 'recs_types' ORDER BY ordinal_position"),
            (Rows{{"user", "text"},
                  {"select", "text"},
                  {"Mixed Case", "text"},
                  {"score", "double precision"},
                  {"rank", "integer"}}));
  EXPECT_EQ(Query(conn,
                  "SELECT \"user\", \"select\", \"Mixed Case\", score::text, rank::text "
                  "FROM recs_types ORDER BY \"user\""),
            (Rows{{"u1", "tab\there", "caf\xc3\xa9 \xe6\x97\xa5", "0.5", "1"},
                  {"u2", "back\\slash", "line\nbreak\r\n", "1000", "2"},
                  {"u3", "\\N", "", "<null>", "<null>"}}));
  EXPECT_FALSE(TableExists(conn, "recs_types__encore_staging"));
}

TEST(PostgresOutputTest, SchemaQualifiedAndOddTableNames) {
  const std::string conn = Conninfo();
  ASSERT_FALSE(conn.empty());
  Exec(conn, "CREATE SCHEMA IF NOT EXISTS serving");
  VectorRowSource source(kTagged, TaggedRows(5, "a"));
  auto report = WritePostgresOutput(source, Options(conn, "serving.Recs \"v2\""));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(Query(conn, "SELECT count(*) FROM serving.\"Recs \"\"v2\"\"\""), (Rows{{"5"}}));
  EXPECT_EQ(Query(conn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'serving'"),
            (Rows{{"1"}}));
}

TEST(PostgresOutputTest, EmptyInputCreatesEmptyTable) {
  const std::string conn = Conninfo();
  ASSERT_FALSE(conn.empty());
  VectorRowSource source(kTagged, {});
  auto report = WritePostgresOutput(source, Options(conn, "recs_empty"));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(Query(conn, "SELECT count(*) FROM recs_empty"), (Rows{{"0"}}));
}

// A reader inside a transaction that began before the swap keeps seeing the
// old table; the swap waits for it; afterwards readers see the new table. A
// concurrent poller only ever sees one complete version.
TEST(PostgresOutputTest, SwapIsAllOrNothingForReaders) {
  const std::string conn = Conninfo();
  ASSERT_FALSE(conn.empty());
  VectorRowSource v1(kTagged, TaggedRows(300, "v1"));
  VectorRowSource v2(kTagged, TaggedRows(120, "v2"));
  ASSERT_TRUE(WritePostgresOutput(v1, Options(conn, "recs_swap")).ok());
  const std::string summary = "SELECT count(*), min(tag), max(tag), sum(n) FROM recs_swap";
  const Rows old_summary = {{"300", "v1", "v1", "44850"}};
  const Rows new_summary = {{"120", "v2", "v2", "7140"}};

  pqxx::connection reader_conn(conn);
  pqxx::work reader(reader_conn);
  auto read = [&] {
    Rows out;
    for (const auto& row : reader.exec(summary)) {
      out.push_back({row[0].c_str(), row[1].c_str(), row[2].c_str(), row[3].c_str()});
    }
    return out;
  };
  ASSERT_EQ(read(), old_summary);

  std::atomic<bool> writer_done{false};
  Status writer_status;
  std::thread writer([&] {
    writer_status =
        WritePostgresOutput(v2, Options(conn + " application_name=encore_writer", "recs_swap"))
            .status();
    writer_done = true;
  });
  std::vector<Rows> seen;
  std::thread poller([&] {
    bool last = false;
    while (!last) {
      last = writer_done;
      try {
        seen.push_back(Query(conn, summary));
      } catch (const std::exception& e) {
        seen.push_back({{std::string("error: ") + e.what(), "", "", ""}});
      }
    }
  });

  // Wait (hang guard only) until the writer is blocked on our reader's lock.
  bool blocked = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!blocked && !writer_done && std::chrono::steady_clock::now() < deadline) {
    blocked = Query(conn,
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                    "'encore_writer' AND wait_event_type = 'Lock'")[0][0] != "0";
    if (!blocked) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(blocked) << "the swap did not wait for the open reader";
  EXPECT_EQ(read(), old_summary) << "a reader saw the table change under it";
  reader.commit();

  writer.join();
  poller.join();
  ASSERT_TRUE(writer_status.ok()) << writer_status.ToString();
  EXPECT_EQ(Query(conn, summary), new_summary);
  ASSERT_FALSE(seen.empty());
  for (const Rows& s : seen) EXPECT_TRUE(s == old_summary || s == new_summary) << s[0][0];
  EXPECT_EQ(seen.back(), new_summary);
  EXPECT_FALSE(TableExists(conn, "recs_swap__encore_staging"));
}

// A forked writer armed with `point` must die by SIGKILL; returns false (after
// recording a failure) otherwise.
bool KillWriterAt(const char* point, const RowSource& rows, const PostgresOutputOptions& options) {
  pid_t child = fork();
  if (child < 0) {
    ADD_FAILURE() << "fork failed";
    return false;
  }
  if (child == 0) {
    setenv("ENCORE_FAULT", point, 1);
    auto r = WritePostgresOutput(rows, options);
    _exit(r.ok() ? 0 : 1);  // reached only if the fault point did not fire
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    ADD_FAILURE() << "the writer was not killed at " << point << " (status " << status << ")";
    return false;
  }
  return true;
}

TEST(PostgresOutputTest, KilledCopyLeavesOldTableAndNextWriteSucceeds) {
  const std::string conn = Conninfo();
  ASSERT_FALSE(conn.empty());
  VectorRowSource v1(kTagged, TaggedRows(50, "v1"));
  VectorRowSource v2(kTagged, TaggedRows(5000, "v2"));
  ASSERT_TRUE(WritePostgresOutput(v1, Options(conn, "recs_crash_copy")).ok());
  ASSERT_TRUE(KillWriterAt("postgres-mid-copy", v2, Options(conn, "recs_crash_copy")));
  EXPECT_EQ(Query(conn, "SELECT count(*), min(tag), max(tag) FROM recs_crash_copy"),
            (Rows{{"50", "v1", "v1"}}));

  auto report = WritePostgresOutput(v2, Options(conn, "recs_crash_copy"));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(Query(conn, "SELECT count(*), min(tag), max(tag) FROM recs_crash_copy"),
            (Rows{{"5000", "v2", "v2"}}));
  EXPECT_FALSE(TableExists(conn, "recs_crash_copy__encore_staging"));
}

TEST(PostgresOutputTest, KilledBeforeSwapLeavesStagingThatNextWriteReplaces) {
  const std::string conn = Conninfo();
  ASSERT_FALSE(conn.empty());
  VectorRowSource v1(kTagged, TaggedRows(10, "v1"));
  VectorRowSource v2(kTagged, TaggedRows(20, "v2"));
  VectorRowSource v3(kTagged, TaggedRows(30, "v3"));
  ASSERT_TRUE(WritePostgresOutput(v1, Options(conn, "recs_crash_swap")).ok());
  ASSERT_TRUE(KillWriterAt("postgres-before-swap", v2, Options(conn, "recs_crash_swap")));
  EXPECT_EQ(Query(conn, "SELECT count(*), max(tag) FROM recs_crash_swap"), (Rows{{"10", "v1"}}));
  EXPECT_TRUE(TableExists(conn, "recs_crash_swap__encore_staging"))
      << "the fault should have hit between COPY and swap";

  auto report = WritePostgresOutput(v3, Options(conn, "recs_crash_swap"));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(Query(conn, "SELECT count(*), max(tag) FROM recs_crash_swap"), (Rows{{"30", "v3"}}));
  EXPECT_FALSE(TableExists(conn, "recs_crash_swap__encore_staging"));
}

TEST(PostgresOutputTest, BadDataRollsBackAndKeepsOldTable) {
  const std::string conn = Conninfo();
  ASSERT_FALSE(conn.empty());
  VectorRowSource v1(kTagged, TaggedRows(3, "v1"));
  ASSERT_TRUE(WritePostgresOutput(v1, Options(conn, "recs_bad")).ok());
  VectorRowSource bad(kTagged, {{"v2", "1", "x"}, {"v2", "not a number", "y"}});
  auto report = WritePostgresOutput(bad, Options(conn, "recs_bad"));
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("recs_bad"), std::string::npos);
  EXPECT_NE(report.status().message().find("hint:"), std::string::npos);
  EXPECT_NE(report.status().message().find("22P02"), std::string::npos)
      << report.status().message();
  VectorRowSource nul(kTagged, {{"v2", "1", std::string("a\0b", 3)}});
  report = WritePostgresOutput(nul, Options(conn, "recs_bad"));
  EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(report.status().message().find("NUL"), std::string::npos);
  EXPECT_EQ(Query(conn, "SELECT count(*), max(tag) FROM recs_bad"), (Rows{{"3", "v1"}}));
  EXPECT_FALSE(TableExists(conn, "recs_bad__encore_staging"));
}

TEST(PostgresOutputTest, RejectsBadNamesAndTypesBeforeConnecting) {
  VectorRowSource source({"a", "b"}, {{"1", "2"}});
  const std::string nowhere = "host=127.0.0.1 port=1";
  struct Case {
    std::string table;
    std::map<std::string, std::string> types;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {"a.b.c", {}, "more than one '.'"},
      {"", {}, "table name"},
      {".t", {}, "schema"},
      {std::string(48, 't'), {}, "table name"},  // no room for __encore_staging
      {"t", {{"a", "int; DROP TABLE x"}}, "plain SQL type"},
      {"t", {{"a", "text -- comment"}}, "plain SQL type"},
      {"t", {{"zz", "integer"}}, "'zz'"},
  };
  for (const auto& c : cases) {
    PostgresOutputOptions options;
    options.conninfo = nowhere;
    options.table = c.table;
    options.types = c.types;
    auto report = WritePostgresOutput(source, options);
    ASSERT_FALSE(report.ok()) << c.needle;
    EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument) << report.status().message();
    EXPECT_NE(report.status().message().find(c.needle), std::string::npos)
        << report.status().message();
  }
  VectorRowSource dup({"a", "a"}, {{"1", "2"}});
  EXPECT_EQ(WritePostgresOutput(dup, Options(nowhere, "t")).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(PostgresOutputTest, BadConninfoGivesClearErrorWithoutPassword) {
  // A bound but not listening loopback port: connections are refused.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string port = std::to_string(ntohs(addr.sin_port));

  const std::string secret = "Sup3rS3cretPw";
  const std::vector<std::string> conninfos = {
      "host=127.0.0.1 port=" + port + " user=encore password=" + secret + " dbname=recs",
      "host=127.0.0.1 port=" + port + " password='" + secret + " with space' dbname=recs",
      "postgresql://encore:" + secret + "@127.0.0.1:" + port + "/recs",
      "postgresql://encore@127.0.0.1:" + port + "/recs?password=" + secret,
      "host=127.0.0.1 password=" + secret + " bogus",                          // malformed
      "host=127.0.0.1 password='" + secret,                                    // unterminated quote
      "postgresql://encore:" + secret + "@127.0.0.1:" + port + "/recs?x=%zz",  // bad URI
      "host=127.0.0.1 password=" + secret + " nosuchoption=1",                 // unknown option
  };
  VectorRowSource source(kTagged, TaggedRows(1, "x"));
  for (const auto& conninfo : conninfos) {
    SCOPED_TRACE(conninfo);
    auto report = WritePostgresOutput(source, Options(conninfo, "recs_nowhere"));
    ASSERT_FALSE(report.ok());
    const std::string& m = report.status().message();
    EXPECT_EQ(m.find(secret), std::string::npos) << m;
    EXPECT_EQ(m.find("S3cret"), std::string::npos) << m;
    EXPECT_NE(m.find("recs_nowhere"), std::string::npos) << m;
    EXPECT_NE(m.find("hint:"), std::string::npos) << m;
  }
  // The well-formed ones say where they tried to connect.
  auto report = WritePostgresOutput(source, Options(conninfos[0], "recs_nowhere"));
  EXPECT_EQ(report.status().code(), StatusCode::kIOError);
  EXPECT_NE(report.status().message().find("port=" + port), std::string::npos)
      << report.status().message();
  close(fd);
}

}  // namespace
}  // namespace encore::pipeline
