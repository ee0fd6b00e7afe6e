// The Beast/Asio half of the server: listening, connections, timeouts,
// draining, the reload poller and signal handling. What a request means is
// decided by Router (router.h); this file only moves bytes. It is the one
// translation unit that includes Beast.
//
// Connections: one Session per socket, on its own strand, so a slow client
// costs a socket and a few kilobytes, never a thread. A session alternates
//   wait for a request's first byte   (idle timeout; read timeout on a new connection)
//   read header, then body            (read timeout for the whole request)
//   write the response                (idle timeout)
// and closes on an error, a timeout, "Connection: close" or a drain.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "encore/serve.h"
#include "serve/access_log.h"
#include "serve/metrics.h"
#include "serve/router.h"
#include "serve/snapshot_holder.h"

namespace encore {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using serve::Route;

// Bytes asked for when waiting for a request's first bytes.
constexpr size_t kFirstRead = 4096;
// How long a closing connection is drained of unread input, so the client
// sees our last response instead of a reset.
constexpr auto kLinger = std::chrono::milliseconds(500);

void Log(const std::string& line) {
  std::fprintf(stderr, "encore serve: %s\n", line.c_str());
  std::fflush(stderr);
}

class ServerImpl;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ServerImpl* server);
  ~Session();

  void Start();
  // Closes the connection if it is waiting for a next request (draining).
  void CloseIfIdle();
  // Closes the connection whatever it is doing (the drain timed out).
  void ForceClose();
  auto executor() { return stream_.get_executor(); }

 private:
  void WaitForRequest();
  void OnFirstBytes(beast::error_code ec, size_t n);
  void ReadHeader();
  void ReadHeaderSome();
  void OnHeaderSome(beast::error_code ec, size_t n);
  void OnHeader(beast::error_code ec);
  void ReadBody();
  void OnRequest(beast::error_code ec);
  void OnReadError(beast::error_code ec);
  void Send(serve::HttpResponse response, bool keep_alive, bool head);
  void OnWritten(beast::error_code ec);
  void Linger();
  void Close();

  beast::tcp_stream stream_;
  ServerImpl* const server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  size_t header_bytes_ = 0;  // header bytes the parser consumed so far
  bool first_request_ = true;
  bool idle_ = true;  // waiting for a request's first byte
  bool closed_ = false;
  bool keep_alive_ = false;
  // For metrics and the access log of the response being written.
  Clock::time_point started_;
  Route route_ = Route::kMalformed;
  uint64_t snapshot_ = 0;
  std::string method_, target_;
  char linger_buf_[1024];
};

class ServerImpl final : public Server {
 public:
  ServerImpl(std::unique_ptr<Store> store, const ServeOptions& options, int threads)
      : store_(std::move(store)),
        options_(options),
        threads_(threads),
        router_(
            options, &metrics_, [this] { return Reload(); }, store_->uri(), threads),
        ioc_(std::make_unique<net::io_context>(threads)),
        acceptor_(std::make_unique<tcp::acceptor>(net::make_strand(*ioc_))) {}

  ~ServerImpl() override {
    Stop();
    Wait();
    // Asio objects go before their io_context; the io_context before
    // anything a leftover session handler could touch.
    accept_retry_.reset();
    acceptor_.reset();
    ioc_.reset();
  }

  Status Start() override;
  uint16_t port() const override { return port_; }
  uint64_t snapshot_version() const override {
    auto snap = holder_.CurrentShared();
    return snap ? snap->info.version : 0;
  }
  int threads() const override { return threads_; }
  void Stop() override;
  void Wait() override;

  // Used by sessions.
  const ServeOptions& options() const { return options_; }
  serve::Metrics& metrics() { return metrics_; }
  const serve::Router& router() const { return router_; }
  const serve::SnapshotHolder& holder() const { return holder_; }
  serve::AccessLog* access_log() { return access_log_.get(); }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  // Returns false when the server is draining (the session must close).
  bool Register(Session* session);
  void Unregister(Session* session);

 private:
  Result<serve::SnapshotHolder::RefreshResult> Reload();
  void Accept();
  void PollLoop();

  std::unique_ptr<Store> store_;
  const ServeOptions options_;
  const int threads_;
  serve::Metrics metrics_;
  serve::SnapshotHolder holder_;
  serve::Router router_;
  std::unique_ptr<serve::AccessLog> access_log_;
  uint16_t port_ = 0;

  std::mutex store_mu_;            // the Store is single-threaded: poller and admin reload
  std::string last_reload_error_;  // guarded by store_mu_

  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
  std::thread poller_;
  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool poll_stop_ = false;  // guarded by poll_mu_

  std::mutex sessions_mu_;
  std::condition_variable sessions_cv_;
  std::unordered_set<Session*> sessions_;  // guarded by sessions_mu_

  std::unique_ptr<net::io_context> ioc_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<net::steady_timer> accept_retry_;
};

// ---------------------------------------------------------------- Session

Session::Session(tcp::socket&& socket, ServerImpl* server)
    : stream_(std::move(socket)), server_(server) {
  server_->metrics().ConnectionOpened();
}

Session::~Session() {
  server_->metrics().ConnectionClosed();
  server_->Unregister(this);
}

void Session::Start() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    if (!self->server_->Register(self.get())) {
      self->Close();
      return;
    }
    self->WaitForRequest();
  });
}

void Session::CloseIfIdle() {
  if (idle_) Close();
}

void Session::ForceClose() { Close(); }

void Session::WaitForRequest() {
  if (closed_) return;
  idle_ = true;
  if (buffer_.size() > 0) {  // a pipelined request is already here
    ReadHeader();
    return;
  }
  const ServeOptions& o = server_->options();
  stream_.expires_after(
      std::chrono::milliseconds(first_request_ ? o.read_timeout_ms : o.idle_timeout_ms));
  stream_.async_read_some(
      buffer_.prepare(kFirstRead),
      [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnFirstBytes(ec, n); });
}

void Session::OnFirstBytes(beast::error_code ec, size_t n) {
  if (ec) {
    Close();  // closed by the client, idle timeout, or drained
    return;
  }
  buffer_.commit(n);
  ReadHeader();
}

void Session::ReadHeader() {
  idle_ = false;
  first_request_ = false;
  const ServeOptions& o = server_->options();
  parser_.emplace();
  parser_->header_limit(o.max_header_bytes);
  parser_->body_limit(o.max_body_bytes);
  header_bytes_ = 0;
  // One deadline for the whole request, header and body.
  stream_.expires_after(std::chrono::milliseconds(o.read_timeout_ms));
  ReadHeaderSome();
}

// Beast's header_limit bounds only the bytes the parser has not consumed
// yet, and it consumes each complete field: endless small fields would pass
// it. So the header is read piecewise and its consumed bytes are counted.
void Session::ReadHeaderSome() {
  http::async_read_some(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnHeaderSome(ec, n); });
}

void Session::OnHeaderSome(beast::error_code ec, size_t n) {
  if (ec) {
    OnReadError(ec);
    return;
  }
  header_bytes_ += n;
  if (header_bytes_ > server_->options().max_header_bytes) {
    OnReadError(http::error::header_limit);
    return;
  }
  if (!parser_->is_header_done()) {
    ReadHeaderSome();
    return;
  }
  OnHeader(ec);
}

void Session::OnHeader(beast::error_code ec) {
  if (ec) {
    OnReadError(ec);
    return;
  }
  const auto& req = parser_->get();
  const auto expect = req[http::field::expect];
  if (!parser_->is_done() && beast::iequals(expect, "100-continue")) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) {
                         self->Close();
                         return;
                       }
                       self->ReadBody();
                     });
    return;
  }
  ReadBody();
}

void Session::ReadBody() {
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRequest(ec); });
}

void Session::OnReadError(beast::error_code ec) {
  started_ = Clock::now();
  method_ = "-";
  target_ = "-";
  snapshot_ = 0;
  route_ = Route::kMalformed;
  if (ec == beast::error::timeout) {
    // The socket is closed already: count it, nobody is left to answer.
    server_->metrics().RecordRequest(Route::kMalformed, 408, std::chrono::nanoseconds(0));
    Close();
    return;
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec == net::error::operation_aborted || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::bad_descriptor) {
    Close();  // the client went away mid-request, or we are closing
    return;
  }
  serve::HttpResponse r;
  if (ec == http::error::header_limit) {
    // A request line that does not end within the limit is a too-long
    // target (the parser has no target yet); otherwise the header fields
    // are too large.
    const bool line_ended = !parser_->get().target().empty();
    r = line_ended ? serve::ErrorResponse(431,
                                          "request header fields are larger than " +
                                              std::to_string(server_->options().max_header_bytes) +
                                              " bytes",
                                          Route::kMalformed)
                   : serve::ErrorResponse(414,
                                          "request target is longer than " +
                                              std::to_string(server_->options().max_header_bytes) +
                                              " bytes",
                                          Route::kMalformed);
  } else if (ec == http::error::body_limit) {
    r = serve::ErrorResponse(413,
                             "request body is larger than " +
                                 std::to_string(server_->options().max_body_bytes) + " bytes",
                             Route::kMalformed);
  } else {
    r = serve::ErrorResponse(400, "malformed HTTP request: " + ec.message(), Route::kMalformed);
  }
  Send(std::move(r), /*keep_alive=*/false, /*head=*/false);
}

void Session::OnRequest(beast::error_code ec) {
  if (ec) {
    OnReadError(ec);
    return;
  }
  started_ = Clock::now();
  const auto& req = parser_->get();
  serve::HttpRequest request;
  request.method = req.method_string();
  request.target = req.target();
  request.authorization = req[http::field::authorization];
  request.content_type = req[http::field::content_type];
  request.body = req.body();
  const serve::LoadedSnapshot* snapshot = server_->holder().Current();
  serve::HttpResponse response = server_->router().Handle(request, snapshot);
  if (server_->access_log() != nullptr) {
    method_.assign(request.method.data(), request.method.size());
    target_.assign(request.target.data(), request.target.size());
  }
  const bool head = req.method() == http::verb::head;
  const bool keep_alive = req.keep_alive() && !server_->stopping();
  const unsigned version = req.version();
  parser_.reset();
  response_.version(version);
  Send(std::move(response), keep_alive, head);
}

void Session::Send(serve::HttpResponse response, bool keep_alive, bool head) {
  route_ = response.route;
  snapshot_ = response.snapshot;
  keep_alive_ = keep_alive;
  response_.result(static_cast<http::status>(response.status));
  response_.set(http::field::server, "encore/" ENCORE_VERSION);
  response_.set(http::field::content_type, response.content_type);
  if (response.snapshot != 0) {
    response_.set("X-Snapshot", std::to_string(response.snapshot));
  }
  if (response.allow != nullptr) response_.set(http::field::allow, response.allow);
  if (response.www_authenticate) {
    response_.set(http::field::www_authenticate, "Bearer realm=\"encore\"");
  }
  response_.keep_alive(keep_alive);
  response_.body() = std::move(response.body);
  response_.prepare_payload();
  if (head) {
    const size_t size = response_.body().size();
    response_.body().clear();
    response_.content_length(size);
  }
  // Counted once the answer is ready, before it is written: a client that
  // has its answer then sees it in /metrics. The latency is the server's
  // own time (request complete -> response ready), not the network's.
  const auto duration = Clock::now() - started_;
  server_->metrics().RecordRequest(route_, response.status, duration);
  if (serve::AccessLog* log = server_->access_log()) {
    serve::AccessLog::Record record;
    record.method = method_;
    record.target = target_;
    record.status = response.status;
    record.bytes = response_.body().size();
    record.duration = duration;
    record.snapshot = snapshot_;
    log->Write(record);
  }
  stream_.expires_after(std::chrono::milliseconds(server_->options().idle_timeout_ms));
  http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, size_t) {
    self->OnWritten(ec);
  });
}

void Session::OnWritten(beast::error_code ec) {
  // Start the next response from a clean slate.
  response_ = {};
  if (ec) {
    Close();
    return;
  }
  if (!keep_alive_ || server_->stopping()) {
    Linger();
    return;
  }
  WaitForRequest();
}

void Session::Linger() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  idle_ = true;  // nothing of value in flight: a drain may close it now
  stream_.expires_after(kLinger);
  stream_.async_read_some(net::buffer(linger_buf_),
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            if (ec) {
                              self->Close();
                            } else {
                              self->Linger();
                            }
                          });
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  stream_.close();
}

// ---------------------------------------------------------------- ServerImpl

bool ServerImpl::Register(Session* session) {
  std::lock_guard lock(sessions_mu_);
  sessions_.insert(session);
  return !stopping();
}

void ServerImpl::Unregister(Session* session) {
  std::lock_guard lock(sessions_mu_);
  sessions_.erase(session);
  if (sessions_.empty()) sessions_cv_.notify_all();
}

Result<serve::SnapshotHolder::RefreshResult> ServerImpl::Reload() {
  std::lock_guard lock(store_mu_);
  bool attempted = false;
  auto result = holder_.Refresh(store_.get(), &attempted);
  if (attempted) metrics_.RecordReload(result.ok());
  if (result.ok()) {
    last_reload_error_.clear();
    if (result->changed) {
      Log("serving snapshot " + std::to_string(result->current) +
          (result->previous != 0 ? " (was " + std::to_string(result->previous) + ")" : ""));
    }
  } else if (result.status().message() != last_reload_error_) {
    // Once per distinct failure, not every poll.
    last_reload_error_ = result.status().message();
    Log(std::string(holder_.CurrentShared() ? "keeping the current snapshot: " : "not ready: ") +
        result.status().ToString());
  }
  return result;
}

Status ServerImpl::Start() {
  if (started_.exchange(true)) return Status::FailedPrecondition("server already started");
  if (!options_.access_log.empty()) {
    ENCORE_ASSIGN_OR_RETURN(access_log_, serve::AccessLog::Open(options_.access_log));
  }
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  beast::error_code ec;
  tcp::endpoint endpoint;
  net::ip::address address = net::ip::make_address(options_.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, options_.port);
  } else {
    tcp::resolver resolver(*ioc_);
    auto results = resolver.resolve(options_.host, std::to_string(options_.port), ec);
    if (ec || results.empty()) {
      return Status::InvalidArgument("cannot resolve host '" + options_.host + "': " +
                                     ec.message() + "; pass an IP address such as 127.0.0.1");
    }
    endpoint = results.begin()->endpoint();
  }
  auto fail = [&](const char* what) {
    return Status::IOError("cannot listen on " + where + " (" + what + "): " + ec.message() +
                           (ec == net::error::address_in_use
                                ? "; another process uses this port, pick another with --port"
                                : ""));
  };
  acceptor_->open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  acceptor_->set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail("SO_REUSEADDR");
  acceptor_->bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor_->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  port_ = acceptor_->local_endpoint(ec).port();

  // The first snapshot, before any request: readyz stays 503 without one.
  (void)Reload();

  accept_retry_ = std::make_unique<net::steady_timer>(acceptor_->get_executor());
  net::post(acceptor_->get_executor(), [this] { Accept(); });
  for (int i = 0; i < threads_; ++i) {
    workers_.emplace_back([this] { ioc_->run(); });
  }
  poller_ = std::thread([this] { PollLoop(); });
  return Status::OK();
}

void ServerImpl::Accept() {
  acceptor_->async_accept(net::make_strand(*ioc_),
                          [this](beast::error_code ec, tcp::socket socket) {
                            if (ec == net::error::operation_aborted || !acceptor_->is_open())
                              return;
                            if (ec) {
                              // Out of descriptors or the like: back off instead of spinning.
                              Log("accept failed: " + ec.message());
                              accept_retry_->expires_after(std::chrono::milliseconds(50));
                              accept_retry_->async_wait([this](beast::error_code wait_ec) {
                                if (!wait_ec && acceptor_->is_open()) Accept();
                              });
                              return;
                            }
                            beast::error_code ignored;
                            socket.set_option(tcp::no_delay(true), ignored);
                            std::make_shared<Session>(std::move(socket), this)->Start();
                            Accept();
                          });
}

void ServerImpl::PollLoop() {
  std::unique_lock lock(poll_mu_);
  while (!poll_stop_) {
    poll_cv_.wait_for(lock, std::chrono::milliseconds(std::max<uint32_t>(1, options_.poll_ms)),
                      [this] { return poll_stop_; });
    if (poll_stop_) break;
    lock.unlock();
    (void)Reload();
    lock.lock();
  }
}

void ServerImpl::Stop() {
  if (!started_.load() || stopping_.exchange(true)) return;
  {
    std::lock_guard lock(poll_mu_);
    poll_stop_ = true;
  }
  poll_cv_.notify_all();
  net::post(acceptor_->get_executor(), [this] {
    beast::error_code ignored;
    acceptor_->close(ignored);
    accept_retry_->cancel();
  });
  auto for_each_session = [this](void (Session::*action)()) {
    std::vector<std::shared_ptr<Session>> owned;
    {
      std::lock_guard lock(sessions_mu_);
      for (Session* s : sessions_) {
        // A session whose destructor waits for the lock has no owner left.
        if (std::shared_ptr<Session> p = s->weak_from_this().lock()) owned.push_back(std::move(p));
      }
    }
    // Posted and released outside the lock: the last reference may be ours,
    // and a session's destructor takes the lock.
    for (auto& p : owned) {
      net::post(p->executor(), [p, action] { (p.get()->*action)(); });
    }
  };
  // Idle keep-alive connections close now; busy ones after their response.
  for_each_session(&Session::CloseIfIdle);
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.drain_timeout_ms);
  std::unique_lock lock(sessions_mu_);
  if (!sessions_cv_.wait_until(lock, deadline, [this] { return sessions_.empty(); })) {
    lock.unlock();
    Log("drain timed out after " + std::to_string(options_.drain_timeout_ms) +
        " ms; closing the remaining connections");
    for_each_session(&Session::ForceClose);
    lock.lock();
    sessions_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return sessions_.empty(); });
  }
  lock.unlock();
  // Anything still running (a handler stuck in a store call) is abandoned.
  ioc_->stop();
}

void ServerImpl::Wait() {
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  if (poller_.joinable()) poller_.join();
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Create(std::unique_ptr<Store> store,
                                               const ServeOptions& options) {
  if (store == nullptr) return Status::InvalidArgument("Server::Create: no store");
  if (options.threads < 0) {
    return Status::InvalidArgument("--threads must be >= 0 (0: one per core), not " +
                                   std::to_string(options.threads));
  }
  if (options.max_header_bytes < 256 || options.max_id_bytes == 0 || options.max_limit == 0 ||
      options.read_timeout_ms == 0 || options.idle_timeout_ms == 0) {
    return Status::InvalidArgument(
        "serve limits must be positive (and max_header_bytes at least 256)");
  }
  int threads = options.threads;
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::unique_ptr<Server>(new ServerImpl(std::move(store), options, threads));
}

Status ServeUntilSignalled(std::unique_ptr<Store> store, const ServeOptions& options,
                           const std::function<void(const Server&)>& on_listening) {
  // Catch the signals before any thread exists, so none is lost.
  net::io_context signals_ioc(1);
  net::signal_set signals(signals_ioc, SIGINT, SIGTERM);
  ENCORE_ASSIGN_OR_RETURN(std::unique_ptr<Server> server,
                          Server::Create(std::move(store), options));
  ENCORE_RETURN_IF_ERROR(server->Start());
  if (on_listening) on_listening(*server);
  signals.async_wait([&server](beast::error_code ec, int signal) {
    if (ec) return;
    Log(std::string("caught ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") +
        ", draining connections");
    server->Stop();
  });
  signals_ioc.run();
  server->Wait();
  return Status::OK();
}

}  // namespace encore
