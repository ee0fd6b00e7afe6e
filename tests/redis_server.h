// RedisServer: a throwaway redis-server for tests, on a free loopback port,
// without persistence, in its own temporary directory; killed when the
// object is destroyed.
//
// redis-server is looked up on PATH, then in /usr/bin and /usr/sbin. When it
// is missing, Start fails with a message saying to run
// scripts/install-deps.sh: Redis tests fail rather than skip silently.
//
// Thread-safety: none; owned by one test.
#ifndef ENCORE_TESTS_REDIS_SERVER_H_
#define ENCORE_TESTS_REDIS_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "encore/status.h"
#include "test_util.h"

namespace encore::testing {

class RedisServer {
 public:
  RedisServer() = default;
  ~RedisServer() { Kill(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts the server (on `port`, or a free one when 0) and waits (at most
  // ~10 s) until it answers PING.
  Status Start(uint16_t port = 0);
  // SIGKILLs the server and waits for it; a no-op when not running.
  void Kill();
  // Deletes every key of every database.
  Status FlushAll();
  // Runs one command (space-separated words, as redis-cli takes them), e.g.
  // "CONFIG SET proto-max-bulk-len 1mb"; an error reply is an error.
  Status Command(const std::string& command);

  bool running() const { return pid_ > 0; }
  uint16_t port() const { return port_; }
  // redis://127.0.0.1:PORT/DB
  std::string Uri(int db = 0) const;

 private:
  Status WaitForPing();

  std::unique_ptr<TempDir> dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace encore::testing

#endif  // ENCORE_TESTS_REDIS_SERVER_H_
