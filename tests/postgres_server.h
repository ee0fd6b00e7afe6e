// PostgresServer: a throwaway PostgreSQL server for tests.
//
// Start() runs Debian's initdb and postgres (from /usr/lib/postgresql/<ver>/bin,
// the newest version found, or $ENCORE_POSTGRES_BIN) in a fresh temporary
// directory: data directory, unix socket directory and log all inside it,
// listening on 127.0.0.1 on a free port, trust authentication, fsync off.
// PostgreSQL refuses to run as root, so when the tests run as root the
// directory is handed to the `nobody` user and both programs run as nobody.
// Start() waits (at most 30 s) until the server accepts connections and
// creates the database `encore_test`.
//
// The destructor stops the server (SIGINT, PostgreSQL's fast shutdown; SIGKILL
// if it has not exited after 30 s) and removes the directory. Forked test
// children never stop it (only the process that started it does).
//
// Thread-safety: conninfo()/port() may be called from any thread.
#ifndef ENCORE_TESTS_POSTGRES_SERVER_H_
#define ENCORE_TESTS_POSTGRES_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>

namespace encore::testing {

class PostgresServer {
 public:
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer();

  // A running server, or nullptr with *error saying why (and how to fix it).
  static std::unique_ptr<PostgresServer> Start(std::string* error);

  // libpq connection string for `dbname` as the superuser `postgres`.
  std::string conninfo(const std::string& dbname = "encore_test") const;
  int port() const { return port_; }

 private:
  PostgresServer() = default;
  void Stop();

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  pid_t owner_ = -1;
};

// The one server of this test binary, started on first use and stopped at
// exit; nullptr (and *error) if it could not be started. Not thread-safe on
// first use: call it from the test's main thread.
PostgresServer* SharedPostgresServer(std::string* error);

}  // namespace encore::testing

#endif  // ENCORE_TESTS_POSTGRES_SERVER_H_
