// ReadPostgresCatalog (encore/postgres_catalog.h) and [retail.catalog]
// table/query against a real PostgreSQL server started by
// tests/postgres_server.h: the same rows read from a table, a query and a
// CSV file give the same catalog; bad rows, unknown columns, unreachable
// servers and refused queries give clear errors naming the source.

#include "encore/postgres_catalog.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "encore/catalog.h"
#include "postgres_server.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::CommandResult;
using testing::ReadFile;
using testing::RunEncore;
using testing::TempDir;
using testing::WriteFile;

std::string Conninfo() {
  std::string error;
  encore::testing::PostgresServer* server = encore::testing::SharedPostgresServer(&error);
  if (server == nullptr) {
    ADD_FAILURE() << "no PostgreSQL server for the tests: " << error;
    return "";
  }
  return server->conninfo();
}

void Exec(const std::string& conninfo, const std::string& sql) {
  pqxx::connection c(conninfo);
  pqxx::nontransaction tx(c);
  tx.exec0(sql);
}

// Loads CSV text (with a header) into `table` with COPY FROM STDIN.
void CopyIn(const std::string& conninfo, const std::string& table, const std::string& csv) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PGresult* r = PQexec(c, ("COPY " + table + " FROM STDIN WITH (FORMAT csv, HEADER true)").c_str());
  ASSERT_EQ(PQresultStatus(r), PGRES_COPY_IN) << PQerrorMessage(c);
  PQclear(r);
  ASSERT_EQ(PQputCopyData(c, csv.data(), static_cast<int>(csv.size())), 1);
  ASSERT_EQ(PQputCopyEnd(c, nullptr), 1);
  r = PQgetResult(c);
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(c);
  PQclear(r);
  while ((r = PQgetResult(c)) != nullptr) PQclear(r);
  PQfinish(c);
}

// Typed columns, as an analyst's table would have them: numeric prices,
// timestamptz sale windows, integer quantities, a level with commas and
// quotes, a NULL counter.
const char kTableSql[] =
    "CREATE TABLE %s (product text, division text, department text, class text, "
    "subclass text, brand text, price numeric(10,2), launch_time bigint, "
    "available_from timestamptz, available_until timestamptz, quantity integer, "
    "times_sold integer, returns integer, cancellations integer)";

const char kCatalogCsv[] =
    "product,division,department,class,subclass,brand,price,launch_time,available_from,"
    "available_until,quantity,times_sold,returns,cancellations\n"
    "p1,women,dresses,maxi,\"maxi, long\",Acme,19.99,1780000000,2026-05-31T08:00:00Z,"
    "2026-06-03T08:00:00Z,12,3,1,0\n"
    "p2,women,dresses,maxi,\"maxi, long\",\"Bo \"\"B\"\"\",120.50,1780100000,"
    "2026-05-31T08:00:00Z,2026-06-03T08:00:00Z,0,0,,2\n"
    "p3,men,shirts,oxford,slim,Cotton & Co,45,1780200000,2026-06-01T08:00:00+02:00,"
    "2026-06-04T08:00:00Z,7,1,0,0\n";

// `unix_windows`: the sale window columns are bigint (unix seconds, as the
// generator writes them) rather than timestamptz.
std::string MakeTable(const std::string& conninfo, const std::string& name,
                      bool unix_windows = false) {
  char sql[1024];
  std::snprintf(sql, sizeof sql, kTableSql, name.c_str());
  std::string create = sql;
  if (unix_windows) {
    for (const char* col : {"available_from timestamptz", "available_until timestamptz"}) {
      size_t at = create.find(col);
      create.replace(at + std::string(col).find(' ') + 1, 11, "bigint");
    }
  }
  Exec(conninfo, "DROP TABLE IF EXISTS " + name);
  Exec(conninfo, create);
  return name;
}

void ExpectSameCatalog(const Catalog& a, const Catalog& b) {
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.level_names(), b.level_names());
  ASSERT_EQ(a.counter_names(), b.counter_names());
  for (uint32_t p = 0; p < a.size(); ++p) {
    SCOPED_TRACE(p);
    EXPECT_EQ(a.products().Name(p), b.products().Name(p));
    for (uint32_t l = 0; l < a.level_names().size(); ++l) {
      EXPECT_EQ(a.node_name(p, l), b.node_name(p, l));
    }
    EXPECT_EQ(a.price(p), b.price(p));
    EXPECT_EQ(a.launch(p), b.launch(p));
    EXPECT_EQ(a.available_from(p), b.available_from(p));
    EXPECT_EQ(a.available_until(p), b.available_until(p));
    EXPECT_EQ(a.quantity(p), b.quantity(p));
    for (uint32_t c = 0; c < a.counter_names().size(); ++c) {
      EXPECT_EQ(a.counter(p, c), b.counter(p, c));
    }
  }
}

TEST(PostgresCatalog, TableEqualsTheSameRowsReadFromCsv) {
  const std::string conninfo = Conninfo();
  ASSERT_FALSE(conninfo.empty());
  const std::string table = MakeTable(conninfo, "cat_same");
  CopyIn(conninfo, table, kCatalogCsv);
  TempDir dir;
  WriteFile(dir.File("catalog.csv"), kCatalogCsv);
  CatalogReport csv_report, pg_report;
  Result<Catalog> csv = ReadCatalog(dir.File("catalog.csv"), CatalogOptions(), &csv_report);
  ASSERT_TRUE(csv.ok()) << csv.status().ToString();
  PostgresCatalogSource source;
  source.conninfo = conninfo;
  source.table = "public." + table;
  Result<Catalog> pg = ReadPostgresCatalog(source, CatalogOptions(), &pg_report);
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  ExpectSameCatalog(*csv, *pg);
  EXPECT_EQ(pg->size(), 3u);
  EXPECT_EQ(pg->node_name(1, 4), "Bo \"B\"");
  EXPECT_EQ(pg->available_from(2), 1780293600);  // 08:00+02:00 = 06:00Z
  EXPECT_EQ(pg_report.file, "postgres table 'public.cat_same'");
  EXPECT_TRUE(pg_report.numbered_by_row);
  EXPECT_EQ(pg_report.rows_read, 3u);
  EXPECT_EQ(pg_report.rows_accepted, 3u);
  EXPECT_GT(pg_report.bytes, 0u);
  EXPECT_EQ(pg_report.sha256.size(), 64u);
}

TEST(PostgresCatalog, QueryWithOtherColumnNamesAndAFilter) {
  const std::string conninfo = Conninfo();
  ASSERT_FALSE(conninfo.empty());
  const std::string table = MakeTable(conninfo, "cat_query");
  CopyIn(conninfo, table, kCatalogCsv);
  PostgresCatalogSource source;
  source.conninfo = conninfo;
  // Renamed columns (mapped by the options), two levels, only in-stock rows.
  source.query =
      "SELECT product AS sku, division AS dept, brand AS label, price, launch_time, "
      "available_from, available_until, quantity AS qty\n"
      "FROM " +
      table + " WHERE quantity > 0 ORDER BY product DESC;  ";
  CatalogOptions options;
  options.id_col = "sku";
  options.levels = {"dept", "label"};
  options.quantity_col = "qty";
  options.counters = {"times_sold"};
  CatalogReport report;
  Result<Catalog> pg = ReadPostgresCatalog(source, options, &report);
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  ASSERT_EQ(pg->size(), 2u);
  EXPECT_EQ(pg->products().Name(0), "p3");
  EXPECT_EQ(pg->products().Name(1), "p1");
  EXPECT_EQ(pg->node_name(0, 1), "Cotton & Co");
  EXPECT_EQ(pg->price(1), 19.99);
  EXPECT_EQ(pg->quantity(0), 7);
  EXPECT_EQ(pg->counter(0, 0), 0.0);  // absent from the query: 0, and reported
  EXPECT_EQ(report.missing_counters, std::vector<std::string>{"times_sold"});
  EXPECT_EQ(report.file,
            "postgres query 'SELECT product AS sku, division AS dept, brand AS label, ...'");
}

// Each bad row: the source and row number, and the reason the CSV reader gives.
TEST(PostgresCatalog, BadRowsNameTheSourceAndRow) {
  const std::string conninfo = Conninfo();
  ASSERT_FALSE(conninfo.empty());
  Exec(conninfo, "DROP TABLE IF EXISTS cat_bad");
  Exec(conninfo,
       "CREATE TABLE cat_bad (n int, product text, division text, department text, class text, "
       "subclass text, brand text, price text, launch_time bigint, available_from bigint, "
       "available_until bigint, quantity integer)");
  Exec(conninfo,
       "INSERT INTO cat_bad VALUES "
       "(1, 'p1', 'w', 'd', 'c', 's', 'b', '10', 0, 100, 200, 5),"
       "(2, 'p2', 'w', 'd', 'c', 's', 'b', 'ten', 0, 100, 200, 5),"
       "(3, 'p1', 'w', 'd', 'c', 's', 'b', '11', 0, 100, 200, 5),"
       "(4, 'p4', 'w', 'd', 'c', 's', 'b', '12', 0, 300, 200, 5),"
       "(5, 'p5', 'w', 'd', 'c', 's', 'b', '13', 0, 100, 200, 5)");
  PostgresCatalogSource source;
  source.conninfo = conninfo;
  source.query = "SELECT * FROM cat_bad ORDER BY n";
  CatalogReport report;
  Result<Catalog> pg = ReadPostgresCatalog(source, CatalogOptions(), &report);
  ASSERT_FALSE(pg.ok());
  const std::string& m = pg.status().message();
  const std::string name = "postgres query 'SELECT * FROM cat_bad ORDER BY n'";
  EXPECT_NE(m.find(name + ": 3 bad catalog row(s) (at most 0 allowed"), std::string::npos) << m;
  EXPECT_NE(m.find(name + " row 2: price 'ten' is not a number"), std::string::npos) << m;
  EXPECT_NE(m.find(name + " row 3: duplicate product id 'p1' (first on row 1)"), std::string::npos)
      << m;
  EXPECT_NE(m.find(name + " row 4: sale window of product 'p4' ends before it starts"),
            std::string::npos)
      << m;
  EXPECT_EQ(report.rows_read, 5u);
  EXPECT_EQ(report.rows_rejected, 3u);
  ASSERT_EQ(report.first_rejections.size(), 3u);
  EXPECT_EQ(report.first_rejections[0].line, 2u);

  // max_bad_rows skips them, counted.
  CatalogOptions lenient;
  lenient.max_bad_rows = 3;
  Result<Catalog> skipped = ReadPostgresCatalog(source, lenient, &report);
  ASSERT_TRUE(skipped.ok()) << skipped.status().ToString();
  EXPECT_EQ(skipped->size(), 2u);
  EXPECT_EQ(report.rows_rejected, 3u);
}

TEST(PostgresCatalog, UnknownHierarchyColumnListsTheColumnsFound) {
  const std::string conninfo = Conninfo();
  ASSERT_FALSE(conninfo.empty());
  const std::string table = MakeTable(conninfo, "cat_levels");
  CopyIn(conninfo, table, kCatalogCsv);
  PostgresCatalogSource source;
  source.conninfo = conninfo;
  source.table = table;
  CatalogOptions options;
  options.levels = {"division", "colour"};
  Result<Catalog> pg = ReadPostgresCatalog(source, options);
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), StatusCode::kInvalidArgument);
  const std::string& m = pg.status().message();
  EXPECT_NE(m.find("postgres table 'cat_levels': catalog has no hierarchy column 'colour'"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("columns found: product, division, department"), std::string::npos) << m;
}

// A port nothing listens on: bound, then closed.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(PostgresCatalog, ConnectionFailureIsClearAndHidesThePassword) {
  PostgresCatalogSource source;
  source.conninfo = "host=127.0.0.1 port=" + std::to_string(ClosedPort()) +
                    " dbname=shop user=analyst password=s3cr3t-pw connect_timeout=5";
  source.table = "catalog";
  Result<Catalog> pg = ReadPostgresCatalog(source, CatalogOptions());
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), StatusCode::kIOError);
  const std::string& m = pg.status().message();
  EXPECT_NE(m.find("PostgreSQL catalog postgres table 'catalog' (host=127.0.0.1"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("could not connect"), std::string::npos) << m;
  EXPECT_NE(m.find("is the server running there"), std::string::npos) << m;
  EXPECT_EQ(m.find("s3cr3t-pw"), std::string::npos) << m;

  source.conninfo = "host=127.0.0.1 password=s3cr3t-pw bogus_option=1";
  pg = ReadPostgresCatalog(source, CatalogOptions());
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(pg.status().message().find("libpq cannot parse the connection string"),
            std::string::npos)
      << pg.status().message();
  EXPECT_EQ(pg.status().message().find("s3cr3t-pw"), std::string::npos);
}

TEST(PostgresCatalog, RefusedQueriesGiveTheServersReasonAndAHint) {
  const std::string conninfo = Conninfo();
  ASSERT_FALSE(conninfo.empty());
  PostgresCatalogSource source;
  source.conninfo = conninfo;
  source.table = "no_such_catalog";
  Result<Catalog> pg = ReadPostgresCatalog(source, CatalogOptions());
  ASSERT_FALSE(pg.ok());
  EXPECT_NE(pg.status().message().find("could not read the table"), std::string::npos);
  EXPECT_NE(pg.status().message().find("[SQLSTATE 42P01]"), std::string::npos)
      << pg.status().message();

  // The read is READ ONLY: a query that would write is refused.
  Exec(conninfo, "DROP TABLE IF EXISTS cat_ro");
  Exec(conninfo, "CREATE TABLE cat_ro (product text)");
  source.table.clear();
  source.query = "INSERT INTO cat_ro VALUES ('x') RETURNING *";
  pg = ReadPostgresCatalog(source, CatalogOptions());
  ASSERT_FALSE(pg.ok());
  EXPECT_NE(pg.status().message().find("[SQLSTATE 25006]"), std::string::npos)
      << pg.status().message();
  EXPECT_NE(pg.status().message().find("READ ONLY"), std::string::npos);

  // A query that fails after rows started coming: the server's error, not a
  // short catalog.
  source.query =
      "SELECT 'p' || n AS product, 'w' AS division, 'd' AS department, 'c' AS class, "
      "'s' AS subclass, 'b' AS brand, 10 / (3 - n) AS price, 0 AS launch_time, "
      "0 AS available_from, 1 AS available_until, 5 AS quantity "
      "FROM generate_series(1, 100000) AS n";
  pg = ReadPostgresCatalog(source, CatalogOptions());
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), StatusCode::kIOError);
  EXPECT_NE(pg.status().message().find("[SQLSTATE 22012]"), std::string::npos)
      << pg.status().message();

  // Neither or both of table and query.
  source.table = "t";
  pg = ReadPostgresCatalog(source, CatalogOptions());
  EXPECT_EQ(pg.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(pg.status().message().find("exactly one of a table"), std::string::npos);
}

// [retail.catalog] table = ... in a pipeline gives the same feeds as the
// same catalog read from its CSV file, and the manifest records the table
// and its row count.
TEST(PostgresCatalogPipeline, TableCatalogGivesTheSameFeedsAsTheCsvFile) {
  const std::string conninfo = Conninfo();
  ASSERT_FALSE(conninfo.empty());
  TempDir dir;
  CommandResult g =
      RunEncore("generate --profile fashion --users 200 --items 200 --rows 6000 --seed 5 --out " +
                dir.path() + "/data");
  ASSERT_EQ(g.exit_code, 0) << g.err;
  const std::string csv = ReadFile(dir.path() + "/data/catalog.csv");
  const std::string table = MakeTable(conninfo, "cat_pipeline", /*unix_windows=*/true);
  CopyIn(conninfo, table, csv);
  auto run = [&](const std::string& name, const std::string& catalog) {
    WriteFile(dir.path() + "/" + name + ".toml", R"(name = ")" + name + R"("
workdir = ")" + dir.path() + "/" + name + R"("

[sources.ev]
path = "data/events.csv"
user = "member"
item = "product"
event = "event"
time = "timestamp"

[models.affinity]
kind = "ials"
params = { factors = 8, iterations = 3, threads = 1, seed = 1 }

[retail]
source = "ev"
model = "affinity"
as_of = "2026-06-01T00:00:00Z"

[retail.catalog]
)" + catalog + R"(

[outputs.feeds]
kind = "retail"
path = "feeds"
store = "store"
)");
    return RunEncore("run " + dir.path() + "/" + name + ".toml", "CATALOG_DB='" + conninfo + "'");
  };
  CommandResult from_csv = run("csv", "path = \"data/catalog.csv\"");
  ASSERT_EQ(from_csv.exit_code, 0) << from_csv.err;
  CommandResult from_pg = run("pg", "table = \"" + table + "\"\nconninfo_env = \"CATALOG_DB\"");
  ASSERT_EQ(from_pg.exit_code, 0) << from_pg.err;
  for (const char* feed : {"products", "brands_card"}) {
    const std::string a = ReadFile(dir.path() + "/csv/feeds/" + feed + ".jsonl");
    const std::string b = ReadFile(dir.path() + "/pg/feeds/" + feed + ".jsonl");
    EXPECT_FALSE(a.empty()) << feed;
    EXPECT_EQ(a, b) << feed;
  }
  std::string manifest;
  for (const auto& run_dir : std::filesystem::directory_iterator(dir.path() + "/pg/runs")) {
    manifest = ReadFile(run_dir.path().string() + "/manifest.json");
  }
  EXPECT_NE(manifest.find("\"path\": \"postgres:cat_pipeline\""), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("\"rows\": 200"), std::string::npos) << manifest;

  // An unset conninfo_env fails before any stage runs, naming the variable.
  CommandResult unset = RunEncore("run " + dir.path() + "/pg.toml", "CATALOG_DB=");
  EXPECT_NE(unset.exit_code, 0);
  EXPECT_NE(unset.err.find("environment variable CATALOG_DB (conninfo_env) is not set"),
            std::string::npos)
      << unset.err;
}

}  // namespace
}  // namespace encore
