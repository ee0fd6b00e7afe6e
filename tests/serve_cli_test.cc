// `encore serve` as a process: the listening line, SIGTERM draining during
// keep-alive traffic (exit 0), and clear failures for a taken port, a store
// that cannot open and a bad admin key file.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "http_test_client.h"
#include "test_util.h"

namespace encore {
namespace {

using testing::HttpConnection;
using testing::HttpReply;
using testing::RunEncore;

// A running `encore serve`, its stderr on a pipe.
class ServeProcess {
 public:
  explicit ServeProcess(std::vector<std::string> args) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDERR_FILENO);
      std::vector<char*> argv;
      std::string binary = ENCORE_BINARY;
      argv.push_back(binary.data());
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    err_fd_ = fds[0];
  }
  ~ServeProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (err_fd_ >= 0) ::close(err_fd_);
  }

  // Reads stderr until the listening line; returns its port (0: none came).
  uint16_t WaitListening(int timeout_ms = 10'000) {
    const std::string marker = "listening on http://127.0.0.1:";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      size_t at = err_.find(marker);
      if (at != std::string::npos && err_.find('\n', at) != std::string::npos) {
        return static_cast<uint16_t>(std::atoi(err_.c_str() + at + marker.size()));
      }
      if (!ReadSome(100)) break;
    }
    return 0;
  }
  // Waits for the exit; the exit code, or -1 on a signal or after the guard.
  int WaitExit(int timeout_ms = 20'000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        while (ReadSome(0)) {
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      ReadSome(20);
    }
    return -1;
  }
  void Signal(int sig) { ::kill(pid_, sig); }
  const std::string& err() const { return err_; }

 private:
  bool ReadSome(int timeout_ms) {
    pollfd p{err_fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return timeout_ms == 0 ? false : true;
    char buf[4096];
    ssize_t n = ::read(err_fd_, buf, sizeof(buf));
    if (n <= 0) return false;
    err_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int err_fd_ = -1;
  bool exited_ = false;
  std::string err_;
};

TEST(ServeCli, SigtermDrainsKeepAliveTrafficAndExitsZero) {
  ServeProcess server({"serve", "--store", "memory:cli-drain", "--port", "0", "--threads", "2",
                       "--drain-timeout-ms", "3000", "--read-timeout-ms", "500"});
  const uint16_t port = server.WaitListening();
  ASSERT_NE(port, 0) << server.err();
  EXPECT_NE(server.err().find("(no snapshot yet, 2 threads)"), std::string::npos) << server.err();

  // Keep-alive clients hammer the server; one more idles between requests.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, broken{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 2; ++t) {
    clients.emplace_back([&] {
      HttpConnection c(port);
      while (!stop.load()) {
        if (!c.SendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) return;
        HttpReply r;
        if (!c.ReadReply(&r)) return;  // closed after a complete response: fine
        if (r.status != 200 || r.body != "{\"status\":\"ok\"}") {
          broken.fetch_add(1);
          return;
        }
        ok.fetch_add(1);
        if (r.Header("connection") == "close") return;
      }
    });
  }
  HttpConnection idle(port);
  ASSERT_EQ(idle.Request("GET", "/readyz").status, 503);
  // Traffic is flowing (the deadline is only a hang guard).
  const auto guard = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (ok.load() < 20 && std::chrono::steady_clock::now() < guard) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(ok.load(), 20);

  server.Signal(SIGTERM);
  const int code = server.WaitExit();
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(code, 0) << server.err();
  EXPECT_EQ(broken.load(), 0);
  EXPECT_NE(server.err().find("caught SIGTERM"), std::string::npos) << server.err();
  EXPECT_TRUE(idle.WaitClosed(1000));
}

TEST(ServeCli, SigintOnAnIdleServerExitsZero) {
  ServeProcess server({"serve", "--store", "memory:cli-int", "--port", "0", "--threads", "1"});
  ASSERT_NE(server.WaitListening(), 0) << server.err();
  server.Signal(SIGINT);
  EXPECT_EQ(server.WaitExit(), 0) << server.err();
}

TEST(ServeCli, TakenPortIsAClearError) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  auto r = RunEncore("serve --store memory:cli-port --port " + std::to_string(port));
  ::close(fd);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot listen on 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--port"), std::string::npos) << r.err;
}

TEST(ServeCli, StoreOrKeyProblemsAreClearErrors) {
  auto r = RunEncore("serve --store ''");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--store"), std::string::npos) << r.err;

  testing::TempDir dir;
  testing::WriteFile(dir.File("empty.key"), "\n");
  r = RunEncore("serve --store memory:cli-key --port 0 --api-key-file " + dir.File("empty.key"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is empty"), std::string::npos) << r.err;
  r = RunEncore("serve --store memory:cli-key --port 0 --api-key-file " + dir.File("missing.key"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.key"), std::string::npos) << r.err;
  r = RunEncore("serve --store memory:cli-key --port 0 --host 'no such host!'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no such host!"), std::string::npos) << r.err;
}

TEST(ServeCli, WorldReadableKeyFileWarnsAndTheKeyWorks) {
  testing::TempDir dir;
  testing::WriteFile(dir.File("admin.key"), "the-key\r\n");
  ::chmod(dir.File("admin.key").c_str(), 0644);
  ServeProcess server({"serve", "--store", "memory:cli-keyok", "--port", "0", "--api-key-file",
                       dir.File("admin.key")});
  const uint16_t port = server.WaitListening();
  ASSERT_NE(port, 0) << server.err();
  EXPECT_NE(server.err().find("readable by every user"), std::string::npos) << server.err();
  // The trailing line break is not part of the key; nothing is published,
  // so the (authorised) reload reports the store is empty.
  HttpReply r =
      testing::HttpFetch(port, "POST", "/v1/admin/reload", "", {"Authorization: Bearer the-key"});
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(
      testing::HttpFetch(port, "POST", "/v1/admin/reload", "", {"Authorization: Bearer the-ke"})
          .status,
      403);
  server.Signal(SIGTERM);
  EXPECT_EQ(server.WaitExit(), 0) << server.err();
}

}  // namespace
}  // namespace encore
