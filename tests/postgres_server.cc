#include "postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>
#include <vector>

namespace encore::testing {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kStopTimeout = std::chrono::seconds(30);

bool Executable(const fs::path& p) { return ::access(p.c_str(), X_OK) == 0; }

// The bin directory holding initdb and postgres, or "" if there is none.
std::string FindBinDir() {
  if (const char* env = std::getenv("ENCORE_POSTGRES_BIN"); env != nullptr && *env) {
    fs::path bin(env);
    return Executable(bin / "initdb") && Executable(bin / "postgres") ? bin.string() : "";
  }
  std::string best;
  long best_version = -1;
  std::error_code ec;
  for (fs::directory_iterator it("/usr/lib/postgresql", ec), end; !ec && it != end;
       it.increment(ec)) {
    fs::path bin = it->path() / "bin";
    char* rest = nullptr;
    std::string name = it->path().filename().string();
    long version = std::strtol(name.c_str(), &rest, 10);
    if (rest == name.c_str() || !Executable(bin / "initdb") || !Executable(bin / "postgres")) {
      continue;
    }
    if (version > best_version) {
      best_version = version;
      best = bin.string();
    }
  }
  return best;
}

std::string Tail(const std::string& path, size_t max_bytes = 2000) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? "..." + s.substr(s.size() - max_bytes) : s;
}

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// Who runs the server: ourselves, or `nobody` when we are root.
struct RunAs {
  bool drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Forks and execs argv[0] as `who` with stdout/stderr appended to `log`.
// Returns the child's pid, or -1.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log, const std::string& cwd,
            const RunAs& who) {
  // Everything the child needs is prepared before fork().
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return -1;
  if (who.drop && ::fchown(log_fd, who.uid, who.gid) != 0) {
    ::close(log_fd);
    return -1;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(log_fd, 1) < 0 || ::dup2(log_fd, 2) < 0) {
      _exit(126);
    }
    if (who.drop) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(who.gid) != 0 || ::setuid(who.uid) != 0) {
        _exit(126);
      }
    }
    // Dies with the test binary even if it crashes (set after setuid, which clears it).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::chdir(cwd.c_str()) != 0) _exit(126);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(log_fd);
  return pid;
}

bool CanConnect(const std::string& conninfo) {
  try {
    pqxx::connection c(conninfo);
    return c.is_open();
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::unique_ptr<PostgresServer> PostgresServer::Start(std::string* error) {
  const std::string bin = FindBinDir();
  if (bin.empty()) {
    *error =
        "PostgreSQL server binaries (initdb, postgres) not found under "
        "/usr/lib/postgresql/<version>/bin; run scripts/install-deps.sh (it installs "
        "postgresql-15), or set ENCORE_POSTGRES_BIN to their directory";
    return nullptr;
  }

  RunAs who;
  if (::geteuid() == 0) {
    passwd* pw = ::getpwnam("nobody");
    if (pw == nullptr) {
      *error = "running as root, and there is no `nobody` user to run PostgreSQL as";
      return nullptr;
    }
    who = {true, pw->pw_uid, pw->pw_gid};
  }
  // As root, /tmp: the unprivileged server must be able to reach the directory.
  // Also /tmp for a long $TMPDIR: unix socket paths are limited to 107 bytes.
  const char* tmp = std::getenv("TMPDIR");
  std::string base = (!who.drop && tmp != nullptr && *tmp && std::strlen(tmp) < 60) ? tmp : "/tmp";
  std::string tmpl = base + "/encore_pg_XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    *error = "cannot create a temporary directory under " + base + ": " + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->dir_ = tmpl;
  server->owner_ = ::getpid();
  const std::string data = tmpl + "/data";
  const std::string sock = tmpl + "/sock";
  const std::string log = tmpl + "/postgres.log";
  if (::mkdir(sock.c_str(), 0700) != 0 ||
      (who.drop && (::chown(tmpl.c_str(), who.uid, who.gid) != 0 ||
                    ::chown(sock.c_str(), who.uid, who.gid) != 0))) {
    *error = "cannot prepare " + tmpl + " for the PostgreSQL server: " + std::strerror(errno);
    return nullptr;
  }

  pid_t initdb = Spawn({bin + "/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                        "--no-locale", "--no-sync"},
                       tmpl + "/initdb.log", tmpl, who);
  int status = 0;
  if (initdb < 0 || ::waitpid(initdb, &status, 0) != initdb || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    *error = "initdb failed (" + bin + "/initdb, status " + std::to_string(status) +
             "): " + Tail(tmpl + "/initdb.log");
    return nullptr;
  }

  // The free port may be taken by someone else before postgres binds it: retry.
  for (int attempt = 0; attempt < 3; ++attempt) {
    server->port_ = FreeLoopbackPort();
    if (server->port_ <= 0) {
      *error = "cannot find a free loopback port";
      return nullptr;
    }
    server->pid_ =
        Spawn({bin + "/postgres", "-D", data, "-p", std::to_string(server->port_), "-k", sock, "-h",
               "127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c",
               "full_page_writes=off", "-c", "shared_buffers=16MB", "-c", "max_connections=40"},
              log, tmpl, who);
    if (server->pid_ < 0) {
      *error = "cannot start " + bin + "/postgres: " + std::strerror(errno);
      return nullptr;
    }
    const std::string probe = server->conninfo("postgres") + " connect_timeout=2";
    const auto deadline = Clock::now() + kStartTimeout;
    bool ready = false, exited = false;
    while (Clock::now() < deadline) {
      if (::waitpid(server->pid_, &status, WNOHANG) == server->pid_) {
        exited = true;
        server->pid_ = -1;
        break;
      }
      if (CanConnect(probe)) {
        ready = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (ready) break;
    *error = std::string("PostgreSQL ") +
             (exited ? "exited during start-up" : "did not accept connections within 30 s") +
             " (port " + std::to_string(server->port_) + "): " + Tail(log);
    if (!exited) return nullptr;  // the destructor stops it
    if (attempt == 2) return nullptr;
  }

  try {
    pqxx::connection c(server->conninfo("postgres"));
    pqxx::nontransaction tx(c);
    tx.exec0("CREATE DATABASE encore_test");
  } catch (const std::exception& e) {
    *error = std::string("cannot create the test database: ") + e.what();
    return nullptr;
  }
  return server;
}

std::string PostgresServer::conninfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + dbname;
}

void PostgresServer::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGINT);  // fast shutdown
  const auto deadline = Clock::now() + kStopTimeout;
  while (Clock::now() < deadline) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

PostgresServer::~PostgresServer() {
  if (::getpid() != owner_) return;  // a forked child: the server is not ours to stop
  Stop();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

PostgresServer* SharedPostgresServer(std::string* error) {
  static std::string start_error;
  static std::unique_ptr<PostgresServer> server = PostgresServer::Start(&start_error);
  if (server == nullptr) *error = start_error;
  return server.get();
}

}  // namespace encore::testing
