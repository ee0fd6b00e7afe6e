#include "redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace encore::testing {

namespace {

std::string FindRedisServer() {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      if (!dir.empty()) dirs.push_back(dir);
    }
  }
  dirs.push_back("/usr/bin");
  dirs.push_back("/usr/sbin");
  for (const auto& dir : dirs) {
    std::string candidate = dir + "/redis-server";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// A loopback port nobody listens on right now.
uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// Runs one command on a fresh connection; true when the reply is not an error.
bool RunCommand(uint16_t port, const char* command) {
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, timeval{0, 200'000});
  if (c == nullptr) return false;
  bool ok = false;
  if (!c->err) {
    redisSetTimeout(c, timeval{5, 0});
    auto* reply = static_cast<redisReply*>(redisCommand(c, command));
    ok = reply != nullptr && reply->type != REDIS_REPLY_ERROR;
    if (reply) freeReplyObject(reply);
  }
  redisFree(c);
  return ok;
}

}  // namespace

std::string RedisServer::Uri(int db) const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

Status RedisServer::Start(uint16_t port) {
  Kill();
  const std::string binary = FindRedisServer();
  if (binary.empty()) {
    return Status::NotFound(
        "redis-server is not installed (not on PATH, /usr/bin or /usr/sbin); the Redis store "
        "tests need it: run scripts/install-deps.sh");
  }
  if (!dir_) dir_ = std::make_unique<TempDir>();
  Status last = Status::IOError("redis-server did not start");
  // A free port can be taken between probing and binding: try a few.
  for (int attempt = 0; attempt < (port == 0 ? 3 : 1); ++attempt) {
    port_ = port != 0 ? port : FreePort();
    if (port_ == 0) return Status::IOError("cannot find a free loopback port");
    const std::string port_text = std::to_string(port_);
    std::vector<std::string> args = {binary,      "--port",      port_text,    "--bind",
                                     "127.0.0.1", "--save",      "",           "--appendonly",
                                     "no",        "--dir",       dir_->path(), "--daemonize",
                                     "no",        "--databases", "16"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = dir_->File("redis.log");
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return Status::IOError("cannot start " + binary + ": " + std::strerror(rc));
    pid_ = pid;
    last = WaitForPing();
    if (last.ok()) return last;
    Kill();
  }
  return last;
}

Status RedisServer::WaitForPing() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::IOError("redis-server exited at start (port " + std::to_string(port_) +
                             "); see " + dir_->File("redis.log"));
    }
    if (RunCommand(port_, "PING")) return Status::OK();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::IOError("redis-server did not answer PING within 10 s");
}

void RedisServer::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

Status RedisServer::Command(const std::string& command) {
  if (!RunCommand(port_, command.c_str())) return Status::IOError(command + " failed");
  return Status::OK();
}

Status RedisServer::FlushAll() {
  if (!RunCommand(port_, "FLUSHALL")) return Status::IOError("FLUSHALL failed");
  return Status::OK();
}

}  // namespace encore::testing
