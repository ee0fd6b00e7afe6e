// The PostgreSQL catalog reader (encore/postgres_catalog.h): the rows of a
// table or query, as COPY (...) TO STDOUT WITH (FORMAT csv, HEADER true)
// sends them, fed as a byte stream to ReadCatalogStream - the parser every
// catalog file goes through - so validation is the same for every source.
//
// libpq directly rather than libpqxx: libpqxx 6 cannot stream COPY out of
// a query, and a ByteSource wants the raw COPY bytes anyway.

#include "encore/postgres_catalog.h"

#include <libpq-fe.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "catalog/catalog_stream.h"
#include "io/byte_source.h"
#include "pipeline/postgres_text.h"

namespace encore {

namespace {

using pipeline::ConnectionFailure;
using pipeline::Conninfo;
using pipeline::Scrub;

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnCloser>;
struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultClearer>;

void IgnoreNotice(void*, const char*) {}

// A libpq-style hint for an SQLSTATE met while reading a catalog.
std::string HintFor(const std::string& sqlstate) {
  if (sqlstate == "42P01") {
    return "the table does not exist or the user cannot see it; check its name and schema "
           "([schema.]table)";
  }
  if (sqlstate == "42703") return "a column the query names does not exist; check its name";
  if (sqlstate == "42601") return "the query is not valid SQL; try it in psql first";
  if (sqlstate == "42501") return "grant the user SELECT on the catalog table";
  if (sqlstate == "25006") {
    return "the catalog is read in a READ ONLY transaction: give a query that only reads";
  }
  if (sqlstate == "3F000") return "the schema does not exist; fix its name";
  if (sqlstate.rfind("22", 0) == 0) return "the query failed on a value of the data; check it";
  if (sqlstate.rfind("28", 0) == 0) return "check the user and password in the connection string";
  if (sqlstate.rfind("3D", 0) == 0) return "the database does not exist; create it or fix dbname";
  if (sqlstate.rfind("57", 0) == 0) return "the server cancelled the query or is shutting down";
  return "see the PostgreSQL server log for details";
}

class CatalogReader {
 public:
  explicit CatalogReader(const PostgresCatalogSource& source)
      : name_(source.Name()), conninfo_(pipeline::ParseConninfo(source.conninfo)) {}

  const std::string& name() const { return name_; }

  // An error of the server or of libpq: `message` scrubbed of secrets.
  Status ServerError(const std::string& what, const PGresult* result) const {
    std::string message = Scrub(PQerrorMessage(conn_.get()), conninfo_.secrets);
    std::string sqlstate;
    if (result != nullptr) {
      const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
      const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
      if (primary != nullptr) message = Scrub(primary, conninfo_.secrets);
      if (state != nullptr) sqlstate = state;
    }
    return Status::IOError(
        "PostgreSQL catalog " + name_ + " (" + conninfo_.where + "): " + what + ": " + message +
        (sqlstate.empty() ? "" : " [SQLSTATE " + sqlstate + "]") + "; hint: " + HintFor(sqlstate));
  }

  Status Connect(const std::string& conninfo) {
    conn_.reset(PQconnectdb(conninfo.c_str()));
    if (conn_ == nullptr) return Status::IOError("PostgreSQL catalog " + name_ + ": out of memory");
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      return ConnectionFailure("PostgreSQL catalog " + name_, conninfo_.where, "could not connect",
                               Scrub(PQerrorMessage(conn_.get()), conninfo_.secrets), "shop");
    }
    PQsetNoticeProcessor(conn_.get(), IgnoreNotice, nullptr);
    if (PQsetClientEncoding(conn_.get(), "UTF8") != 0) {
      return ServerError("could not set the client encoding to UTF8", nullptr);
    }
    return Exec("BEGIN TRANSACTION READ ONLY", PGRES_COMMAND_OK, "could not begin a transaction");
  }

  Status Exec(const std::string& sql, ExecStatusType want, const std::string& what) {
    ResultPtr r(PQexec(conn_.get(), sql.c_str()));
    if (r == nullptr || PQresultStatus(r.get()) != want) return ServerError(what, r.get());
    return Status::OK();
  }

  PGconn* conn() const { return conn_.get(); }

 private:
  std::string name_;
  Conninfo conninfo_;
  ConnPtr conn_;
};

// SHA-256 and size of the bytes read, for lineage.
class Digest {
 public:
  Digest() : md_(EVP_MD_CTX_new()) {
    ENCORE_CHECK(md_ != nullptr && EVP_DigestInit_ex(md_, EVP_sha256(), nullptr) == 1);
  }
  ~Digest() { EVP_MD_CTX_free(md_); }
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;
  void Update(const char* data, size_t n) {
    ENCORE_CHECK(EVP_DigestUpdate(md_, data, n) == 1);
    bytes_ += n;
  }
  uint64_t bytes() const { return bytes_; }
  std::string Hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ENCORE_CHECK(EVP_DigestFinal_ex(md_, digest, &len) == 1);
    static const char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < len; ++i) {
      hex += kHex[digest[i] >> 4];
      hex += kHex[digest[i] & 15];
    }
    return hex;
  }

 private:
  EVP_MD_CTX* md_;
  uint64_t bytes_ = 0;
};

// The bytes of a COPY ... TO STDOUT in progress, as a ByteSource.
class CopySource : public io::ByteSource {
 public:
  CopySource(const CatalogReader* reader, Digest* digest)
      : ByteSource(reader->name()), reader_(reader), digest_(digest) {}
  ~CopySource() override {
    if (buf_ != nullptr) PQfreemem(buf_);
  }

  Result<size_t> Read(char* dst, size_t n) override {
    while (pos_ >= len_) {
      if (buf_ != nullptr) {
        PQfreemem(buf_);
        buf_ = nullptr;
      }
      len_ = pos_ = 0;
      if (done_) return size_t{0};
      int got = PQgetCopyData(reader_->conn(), &buf_, /*async=*/0);
      if (got == -1) {  // the end: the COPY's own result says whether all went well
        done_ = true;
        ResultPtr r(PQgetResult(reader_->conn()));
        Status st = r != nullptr && PQresultStatus(r.get()) == PGRES_COMMAND_OK
                        ? Status::OK()
                        : reader_->ServerError("the query failed while sending rows", r.get());
        while (ResultPtr(PQgetResult(reader_->conn())) != nullptr) {
        }
        if (!st.ok()) return st;
        return size_t{0};
      }
      if (got < 0) {
        done_ = true;
        return reader_->ServerError("lost the connection while reading rows", nullptr);
      }
      len_ = got;
      digest_->Update(buf_, len_);
    }
    const size_t take = std::min(n, len_ - pos_);
    std::copy(buf_ + pos_, buf_ + pos_ + take, dst);
    pos_ += take;
    bytes_ += take;
    return take;
  }
  uint64_t file_size() const override { return 0; }
  uint64_t file_offset() const override { return bytes_; }
  bool compressed() const override { return false; }

 private:
  const CatalogReader* reader_;
  Digest* digest_;
  char* buf_ = nullptr;
  size_t len_ = 0, pos_ = 0;
  uint64_t bytes_ = 0;
  bool done_ = false;
};

std::string Quote(PGconn* conn, const std::string& name) {
  char* q = PQescapeIdentifier(conn, name.data(), name.size());
  if (q == nullptr) return "";
  std::string out(q);
  PQfreemem(q);
  return out;
}

std::string TrimQuery(std::string q) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!q.empty() && (blank(q.back()) || q.back() == ';')) q.pop_back();
  size_t start = 0;
  while (start < q.size() && blank(q[start])) ++start;
  return q.substr(start);
}

}  // namespace

std::string PostgresCatalogSource::Name() const {
  if (!table.empty() && query.empty()) return "postgres table '" + table + "'";
  std::string q = TrimQuery(query);
  std::string one_line;
  for (char c : q) {
    const bool blank = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (blank && (one_line.empty() || one_line.back() == ' ')) continue;
    one_line += blank ? ' ' : c;
  }
  if (one_line.size() > 60) one_line = one_line.substr(0, 57) + "...";
  return "postgres query '" + one_line + "'";
}

Result<Catalog> ReadPostgresCatalog(const PostgresCatalogSource& source,
                                    const CatalogOptions& options, CatalogReport* report) {
  const bool has_table = !source.table.empty();
  const std::string query = TrimQuery(source.query);
  if (has_table == !query.empty()) {
    return Status::InvalidArgument(
        "PostgreSQL catalog: give exactly one of a table ([schema.]table) and a query");
  }
  std::string schema, table = source.table;
  if (has_table) {
    if (size_t dot = table.find('.'); dot != std::string::npos) {
      schema = table.substr(0, dot);
      table = table.substr(dot + 1);
      if (schema.empty() || table.empty() || table.find('.') != std::string::npos) {
        return Status::InvalidArgument("PostgreSQL catalog table '" + source.table +
                                       "': write [schema.]table");
      }
    }
    if (source.table.find('\0') != std::string::npos) {
      return Status::InvalidArgument("PostgreSQL catalog table name holds a NUL byte");
    }
  }
  if (query.find('\0') != std::string::npos) {
    return Status::InvalidArgument("PostgreSQL catalog query holds a NUL byte");
  }
  CatalogReader reader(source);
  ENCORE_RETURN_IF_ERROR(reader.Connect(source.conninfo));
  std::string select = query;
  if (has_table) {
    select = "SELECT * FROM " + (schema.empty() ? "" : Quote(reader.conn(), schema) + ".") +
             Quote(reader.conn(), table);
  }
  // A line break before ')' so that a query ending in a -- comment still
  // closes the parenthesis.
  const std::string copy = "COPY (" + select + "\n) TO STDOUT WITH (FORMAT csv, HEADER true)";
  ENCORE_RETURN_IF_ERROR(reader.Exec(
      copy, PGRES_COPY_OUT, has_table ? "could not read the table" : "could not run the query"));
  CatalogStream stream;
  stream.name = reader.name();
  stream.format = "csv";
  stream.rows = true;
  CatalogReport local;
  if (report == nullptr) report = &local;
  Digest digest;
  Result<Catalog> catalog =
      ReadCatalogStream(std::make_unique<CopySource>(&reader, &digest), stream, options, report);
  report->bytes = digest.bytes();
  report->sha256 = digest.Hex();
  return catalog;
}

}  // namespace encore
