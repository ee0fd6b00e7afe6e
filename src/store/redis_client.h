// A minimal hiredis client shared by the Redis store and the stream consumer
// (src/stream): redis:// URIs, one connection with timeouts, pipelining and
// scripts. Internal to encore (not public API).
//
// Thread-safety: a Connection is used by one thread at a time.
#ifndef ENCORE_STORE_REDIS_CLIENT_H_
#define ENCORE_STORE_REDIS_CLIENT_H_

#include <hiredis/hiredis.h>
#include <signal.h>

#include <cctype>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "encore/status.h"

namespace encore::store {

inline constexpr timeval kConnectTimeout{2, 0};

struct Endpoint {
  std::string uri;
  std::string host;
  int port = 6379;
  int db = 0;
  // "host:port" for messages.
  std::string address() const { return host + ":" + std::to_string(port); }
};

inline Status BadUri(const std::string& uri, const std::string& why) {
  return Status::InvalidArgument("bad redis store URI '" + uri + "': " + why +
                                 "; expected redis://HOST:PORT/DB, e.g. redis://127.0.0.1:6379/0");
}

// Digits only, value in [lo, hi].
inline bool ParseBoundedInt(std::string_view text, long lo, long hi, int* out) {
  if (text.empty() || text.size() > 10) return false;
  long v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v < lo || v > hi) return false;
  *out = static_cast<int>(v);
  return true;
}

// redis://HOST[:PORT][/DB]; HOST is a name, an IPv4 address or [IPv6].
inline Result<Endpoint> ParseUri(const std::string& uri) {
  Endpoint ep;
  ep.uri = uri;
  constexpr std::string_view kScheme = "redis://";
  if (uri.rfind(kScheme, 0) != 0) return BadUri(uri, "the scheme must be redis://");
  std::string_view rest = std::string_view(uri).substr(kScheme.size());
  if (rest.find('@') != std::string_view::npos) {
    return BadUri(uri, "user names and passwords are not supported");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return BadUri(uri, "query strings and fragments are not supported");
  }
  std::string_view host;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return BadUri(uri, "unterminated [IPv6] host");
    host = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
  } else {
    size_t end = rest.find_first_of(":/");
    host = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    for (char c : host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
        return BadUri(uri, "the host '" + std::string(host) + "' has a character '" +
                               std::string(1, c) + "' not allowed in a host name");
      }
    }
  }
  if (host.empty()) return BadUri(uri, "the host is missing");
  ep.host = std::string(host);
  if (!rest.empty() && rest[0] == ':') {
    rest.remove_prefix(1);
    std::string_view port = rest.substr(0, rest.find('/'));
    if (!ParseBoundedInt(port, 1, 65535, &ep.port)) {
      return BadUri(uri, "the port '" + std::string(port) + "' is not a number in 1..65535");
    }
    rest.remove_prefix(port.size());
  }
  if (!rest.empty()) {
    if (rest[0] != '/') return BadUri(uri, "unexpected '" + std::string(rest) + "'");
    rest.remove_prefix(1);
    if (!ParseBoundedInt(rest, 0, 1 << 20, &ep.db)) {
      return BadUri(uri, "the database '" + std::string(rest) + "' is not a number in 0..1048576");
    }
  }
  return ep;
}

// hiredis sends with write(2), so writing to a connection that Redis has
// closed (idle timeout, CLIENT KILL, restart) raises SIGPIPE, whose default
// action kills the process without a word. Ignoring it (unless the program
// installed a handler of its own) turns that into EPIPE: an IOError.
inline void IgnoreSigpipe() {
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && !(current.sa_flags & SA_SIGINFO) &&
      current.sa_handler == SIG_DFL) {
    ::signal(SIGPIPE, SIG_IGN);
  }
}

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

inline std::string_view ReplyText(const redisReply* r) { return std::string_view(r->str, r->len); }

// One hiredis connection. Not thread-safe.
class Connection {
 public:
  Connection() = default;
  ~Connection() { Close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects (again) and selects the database.
  Status Connect(const Endpoint& ep, timeval command_timeout) {
    Close();
    IgnoreSigpipe();
    address_ = ep.address();
    c_ = redisConnectWithTimeout(ep.host.c_str(), ep.port, kConnectTimeout);
    if (c_ == nullptr) return Status::IOError("cannot allocate a redis connection");
    if (c_->err) {
      Status s = Status::IOError("cannot connect to redis at " + ep.address() + " (" + ep.uri +
                                 "): " + c_->errstr + "; is redis-server running there?");
      Close();
      return s;
    }
    if (redisSetTimeout(c_, command_timeout) != REDIS_OK) {
      Close();
      return Status::IOError("cannot set a timeout on the connection to redis at " + ep.address());
    }
    if (ep.db != 0) {
      auto reply = Run({"SELECT", std::to_string(ep.db)});
      if (!reply.ok()) {
        Close();
        return Status::InvalidArgument("redis at " + ep.address() + " refused database " +
                                       std::to_string(ep.db) + " (" + reply.status().message() +
                                       "); pick a database the server has");
      }
    }
    return Status::OK();
  }

  bool connected() const { return c_ != nullptr; }
  // The hiredis context, for a caller that reads replies itself (the
  // invalidation subscriber of store/redis_live_cache.cc); null when closed.
  redisContext* context() { return c_; }
  void Close() {
    if (c_ != nullptr) redisFree(c_);
    c_ = nullptr;
  }

  // Runs one command. A transport failure closes the connection; an error
  // reply is an IOError carrying Redis's message.
  Result<Reply> Run(std::initializer_list<std::string_view> args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (std::string_view a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return RunArgv(static_cast<int>(argv.size()), argv.data(), lens.data());
  }

  Result<Reply> RunArgv(int argc, const char** argv, const size_t* lens) {
    if (c_ == nullptr) return Status::IOError("not connected to redis");
    Reply reply(static_cast<redisReply*>(redisCommandArgv(c_, argc, argv, lens)));
    return Check(std::move(reply));
  }

  // Pipelining: queue commands, then read their replies in order.
  Status Append(int argc, const char** argv, const size_t* lens) {
    if (c_ == nullptr) return Status::IOError("not connected to redis");
    if (redisAppendCommandArgv(c_, argc, argv, lens) != REDIS_OK) return TransportError();
    return Status::OK();
  }
  Result<Reply> NextReply() {
    if (c_ == nullptr) return Status::IOError("not connected to redis");
    void* r = nullptr;
    if (redisGetReply(c_, &r) != REDIS_OK) return TransportError();
    return Check(Reply(static_cast<redisReply*>(r)));
  }

  // Runs a Lua script returning an integer.
  Result<long long> Eval(const char* script, std::initializer_list<std::string_view> keys,
                         std::initializer_list<std::string_view> args) {
    std::vector<const char*> argv = {"EVAL", script};
    std::vector<size_t> lens = {4, std::char_traits<char>::length(script)};
    const std::string numkeys = std::to_string(keys.size());
    argv.push_back(numkeys.c_str());
    lens.push_back(numkeys.size());
    for (auto list : {keys, args}) {
      for (std::string_view a : list) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
    }
    ENCORE_ASSIGN_OR_RETURN(Reply reply,
                            RunArgv(static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (reply->type != REDIS_REPLY_INTEGER) {
      return Status::Internal("redis script returned a non-integer reply");
    }
    return reply->integer;
  }

 private:
  Status TransportError() {
    std::string why = c_ != nullptr && c_->err ? c_->errstr : "connection lost";
    Close();
    return Status::IOError("redis at " + address_ + " failed: " + why +
                           "; is redis-server running?");
  }

  Result<Reply> Check(Reply reply) {
    if (!reply) return TransportError();
    if (reply->type == REDIS_REPLY_ERROR) {
      std::string message =
          "redis at " + address_ + " answered: " + std::string(reply->str, reply->len);
      if (ReplyText(reply.get()).substr(0, 4) == "OOM ") {
        message += "; it is out of memory: raise its maxmemory, or keep fewer snapshots (--keep)";
      }
      return Status::IOError(message);
    }
    return reply;
  }

  std::string address_;  // host:port, for messages
  redisContext* c_ = nullptr;
};

}  // namespace encore::store

#endif  // ENCORE_STORE_REDIS_CLIENT_H_
