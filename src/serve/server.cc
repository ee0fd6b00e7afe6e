// The Beast/Asio half of the server: listening, connections, timeouts,
// draining, the reload poller and signal handling. What a request means is
// decided by Router (router.h); this file only moves bytes. It is the one
// translation unit that includes Beast.
//
// Threading: one Worker per thread, each with its own io_context (run by
// that thread alone, concurrency hint 1). A connection lives entirely on the
// worker that accepted it, so its handlers never run concurrently and need
// no strand, no locks and no atomic reference counts. One acceptor (on
// worker 0) hands new sockets round-robin to the workers (one SO_REUSEPORT
// acceptor per worker measured the same on keep-alive and on
// connection-per-request traffic, and would let a second server share the
// port silently).
//
// Measured with bench/serve_bench.sh (2 cores shared with wrk), side by side
// with the previous design (one io_context shared by all threads, a strand
// and a beast::tcp_stream per connection, Beast's serializer): the context
// per thread alone gave +40-65% requests/s; the session below (sockets and
// a timer on the io_context's own executor instead of the type-erased one,
// one lazily re-armed deadline per connection instead of a timer per
// operation, the parser fed directly instead of through composed reads, the
// response head written into one reused buffer) another +75%.
//
// Connections: one Session per socket, so a slow client costs a socket and
// a few kilobytes, never a thread. A session alternates
//   wait for a request's first byte   (idle timeout; read timeout on a new connection)
//   read the request                  (read timeout for the whole request)
//   write the response                (idle timeout)
// and closes on an error, a timeout, "Connection: close" or a drain. Beast's
// parser is fed the bytes as they arrive; responses are written as one
// status-and-header block plus the body, in one send.
//
// Requests that may block for long (POST /v1/admin/reload loads a whole
// snapshot) are answered on the poller thread, so the worker keeps serving
// its other connections meanwhile.

#include <signal.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "encore/serve.h"
#include "serve/access_log.h"
#include "serve/compute_pool.h"
#include "serve/metrics.h"
#include "serve/router.h"
#include "serve/snapshot_holder.h"
#include "stream/redis_events.h"

namespace encore {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using serve::Route;

// Sockets and timers bound to one io_context's executor (not the
// polymorphic any_io_executor): no type-erased executor copies per operation.
using Executor = net::io_context::executor_type;
using Socket = net::basic_stream_socket<tcp, Executor>;
using Acceptor = net::basic_socket_acceptor<tcp, Executor>;
using Timer = net::basic_waitable_timer<Clock, net::wait_traits<Clock>, Executor>;

// The most bytes asked for in one read (Beast's own choice for its reads).
constexpr size_t kMaxRead = 65536;
// How long a closing connection is drained of unread input, so the client
// sees our last response instead of a reset.
constexpr auto kLinger = std::chrono::milliseconds(500);

void Log(const std::string& line) {
  std::fprintf(stderr, "encore serve: %s\n", line.c_str());
  std::fflush(stderr);
}

// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" (RFC 9110, IMF-fixdate) for the
// current second, formatted at most once a second per thread.
std::string_view DateField() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached = -1;
  thread_local char text[64];
  thread_local int size = 0;
  const std::time_t now = std::time(nullptr);
  if (now != cached) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    size = std::snprintf(text, sizeof(text), "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                         kDays[tm.tm_wday % 7], tm.tm_mday, kMonths[tm.tm_mon % 12],
                         tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached = now;
  }
  return {text, static_cast<size_t>(size)};
}

void AppendUint(uint64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, end);
}

class ServerImpl;
class Session;

// One thread and its io_context, and the sessions living on it. `sessions`
// is touched only by the worker's own thread (or after it has exited).
struct Worker {
  explicit Worker(int index) : index(index) {}
  const int index;
  net::io_context ioc{1};  // one thread runs it
  net::executor_work_guard<Executor> guard{ioc.get_executor()};
  std::thread thread;
  std::unordered_set<Session*> sessions;
};

class Session {
 public:
  // Called on the accepting thread; the socket belongs to `worker`.
  Session(Socket&& socket, Worker* worker, ServerImpl* server);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // From here on everything runs on the worker's thread.
  void Start();
  // Closes the connection if it is waiting for a next request (draining).
  void CloseIfIdle();
  // Closes the connection whatever it is doing (the drain timed out).
  void ForceClose();

 private:
  enum class Phase : uint8_t {
    kIdle,       // waiting for a request's first byte
    kReading,    // a request has begun arriving
    kHandling,   // answered off this thread (admin routes)
    kWriting,    // writing the response
    kLingering,  // closing: draining unread input
  };

  // Wraps a completion handler. A session owns itself: it deletes itself
  // once it is closed and none of its operations is pending; handlers that
  // complete after Close only count themselves out.
  template <class F>
  auto Bind(F f);
  void MaybeDestroy();

  void WaitForRequest();
  void Read();
  void OnRead(beast::error_code ec, size_t n);
  // Feeds the buffered bytes to the parser until the request is complete,
  // more bytes are needed, or something is wrong.
  void Parse();
  void OnRequest();
  void OnReadError(beast::error_code ec);
  void Respond(serve::HttpResponse response);
  void Send(serve::HttpResponse response);
  void OnWritten(beast::error_code ec);
  void Linger();
  void Close();

  // The connection closes when `deadline_` passes. The timer is armed at
  // most `timer_step_` (the shortest timeout) ahead and re-armed lazily, so
  // moving the deadline later, as every request does, costs no timer
  // operation.
  void SetDeadline(Clock::duration timeout);
  void ArmTimer();
  void OnTimer(beast::error_code ec);

  Socket socket_;
  Timer timer_;
  Worker* const worker_;
  ServerImpl* const server_;
  const Clock::duration timer_step_;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timer_armed_ = false;
  int pending_ = 0;  // operations in flight
  bool closed_ = false;
  Phase phase_ = Phase::kIdle;
  bool first_request_ = true;

  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  size_t header_bytes_ = 0;      // header bytes the parser consumed so far
  bool expect_checked_ = false;  // Expect: 100-continue looked at (and answered)

  // The response being written, and what it is written with.
  serve::HttpResponse response_;
  std::string head_;  // status line and header fields (capacity kept between requests)
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_only_ = false;  // a HEAD request: no body
  // For metrics and the access log of the response being written.
  Clock::time_point started_;
  std::string method_, target_;
  char linger_buf_[1024];
};

class ServerImpl final : public Server {
 public:
  ServerImpl(std::unique_ptr<Store> store, const ServeOptions& options, int threads)
      : store_(std::move(store)),
        options_(options),
        threads_(threads),
        metrics_(threads),
        router_(
            options, &metrics_, [this] { return Reload(); }, store_->uri(), threads) {
    for (int i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>(i));
    acceptor_ = std::make_unique<Acceptor>(workers_[0]->ioc.get_executor());
    // A Redis GET is a round trip; an LMDB one a memory-mapped read.
    const bool remote = store_->uri().rfind("redis://", 0) == 0;
    const int64_t mb = options.cache_mb >= 0 ? options.cache_mb : (remote ? 256 : 0);
    holder_.set_cache_bytes(static_cast<uint64_t>(mb) << 20);
  }

  ~ServerImpl() override {
    Stop();
    Wait();
    // Every worker thread has exited: what is left of the sessions goes
    // before the io_contexts, and the io_contexts before anything a
    // leftover handler could touch.
    for (auto& w : workers_) {
      auto sessions = std::move(w->sessions);
      for (Session* s : sessions) delete s;
    }
    accept_retry_.reset();
    acceptor_.reset();
    workers_.clear();
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
  void SessionOpened();
  void SessionClosed();
  // Runs `task` on the poller thread (requests that may block for long).
  void RunBlocking(std::function<void()> task);
  // Queues `task` for a compute thread (fold-in, explanations); false when
  // compute_queue tasks already wait (the caller answers 503).
  bool RunCompute(std::function<void()> task) { return compute_->Submit(std::move(task)); }

 private:
  Result<serve::SnapshotHolder::RefreshResult> Reload();
  // ServeOptions::live_cache_mb in bytes, its default resolved.
  uint64_t LiveCacheBytes() const {
    const bool remote = store_->uri().rfind("redis://", 0) == 0;
    const int64_t mb = options_.live_cache_mb >= 0 ? options_.live_cache_mb : (remote ? 64 : 0);
    return static_cast<uint64_t>(mb) << 20;
  }
  void Accept();
  void PollLoop();
  // Runs `action` on every session of every worker, on its worker's thread.
  void ForEachSession(void (Session::*action)());

  std::unique_ptr<Store> store_;
  std::unique_ptr<LiveStore> live_;
  std::mutex events_mu_;  // guards events_log_ (one connection)
  std::unique_ptr<stream::RedisEventLog> events_log_;
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
  std::thread poller_;
  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  bool poll_stop_ = false;                       // guarded by poll_mu_
  std::deque<std::function<void()>> tasks_;      // guarded by poll_mu_
  std::unique_ptr<serve::ComputePool> compute_;  // created by Start

  // Sessions alive on any worker; Stop waits for none to be left.
  std::atomic<int64_t> sessions_{0};
  std::mutex sessions_mu_;
  std::condition_variable sessions_cv_;

  std::vector<std::unique_ptr<Worker>> workers_;
  size_t next_worker_ = 0;  // used by the accepting thread only
  std::unique_ptr<Acceptor> acceptor_;
  std::unique_ptr<Timer> accept_retry_;
};

// ---------------------------------------------------------------- Session

Session::Session(Socket&& socket, Worker* worker, ServerImpl* server)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      worker_(worker),
      server_(server),
      timer_step_(std::chrono::milliseconds(
          std::min(server->options().read_timeout_ms, server->options().idle_timeout_ms))) {
  server_->SessionOpened();
  server_->metrics().ConnectionOpened();
}

Session::~Session() {
  server_->metrics().ConnectionClosed();
  server_->SessionClosed();
}

template <class F>
auto Session::Bind(F f) {
  ++pending_;
  return [this, f = std::move(f)](auto&&... args) mutable {
    --pending_;
    if (!closed_) f(std::forward<decltype(args)>(args)...);
    MaybeDestroy();  // `this` may be gone after it
  };
}

void Session::MaybeDestroy() {
  if (closed_ && pending_ == 0) {
    worker_->sessions.erase(this);
    delete this;
  }
}

void Session::Start() {
  worker_->sessions.insert(this);
  if (server_->stopping()) {
    Close();
    MaybeDestroy();
    return;
  }
  WaitForRequest();
}

void Session::CloseIfIdle() {
  if (phase_ == Phase::kIdle || phase_ == Phase::kLingering) Close();
  MaybeDestroy();
}

void Session::ForceClose() {
  Close();
  MaybeDestroy();
}

void Session::SetDeadline(Clock::duration timeout) {
  deadline_ = timeout == Clock::duration::max() ? Clock::time_point::max() : Clock::now() + timeout;
  if (!timer_armed_ || deadline_ < timer_.expiry()) ArmTimer();
}

void Session::ArmTimer() {
  // expires_at cancels a wait still pending; its handler sees
  // operation_aborted and does nothing.
  timer_.expires_at(std::min(deadline_, Clock::now() + timer_step_));
  timer_armed_ = true;
  timer_.async_wait(Bind([this](beast::error_code ec) { OnTimer(ec); }));
}

void Session::OnTimer(beast::error_code ec) {
  if (ec) return;  // re-armed meanwhile
  timer_armed_ = false;
  if (Clock::now() < deadline_) {
    ArmTimer();
    return;
  }
  if (phase_ == Phase::kReading) {
    // Nobody is left to answer: count it and close.
    server_->metrics().RecordRequest(Route::kMalformed, 408, std::chrono::nanoseconds(0),
                                     worker_->index);
  }
  Close();
}

void Session::WaitForRequest() {
  phase_ = Phase::kIdle;
  const ServeOptions& o = server_->options();
  SetDeadline(std::chrono::milliseconds(first_request_ ? o.read_timeout_ms : o.idle_timeout_ms));
  if (buffer_.size() > 0) {  // a pipelined request is already here
    Parse();
    return;
  }
  Read();
}

void Session::Read() {
  socket_.async_read_some(buffer_.prepare(beast::read_size(buffer_, kMaxRead)),
                          Bind([this](beast::error_code ec, size_t n) { OnRead(ec, n); }));
}

void Session::OnRead(beast::error_code ec, size_t n) {
  if (ec) {
    // Closed by the client (between or within requests) or reset: nobody
    // is left to answer.
    Close();
    return;
  }
  buffer_.commit(n);
  Parse();
}

void Session::Parse() {
  const ServeOptions& o = server_->options();
  if (phase_ == Phase::kIdle) {
    phase_ = Phase::kReading;
    first_request_ = false;
    parser_.emplace();
    parser_->header_limit(o.max_header_bytes);
    parser_->body_limit(o.max_body_bytes);
    header_bytes_ = 0;
    expect_checked_ = false;
    // One deadline for the whole request, header and body.
    SetDeadline(std::chrono::milliseconds(o.read_timeout_ms));
  }
  while (!parser_->is_done()) {
    if (buffer_.size() == 0) {
      Read();
      return;
    }
    beast::error_code ec;
    const bool header_was_done = parser_->is_header_done();
    const size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (!header_was_done) {
      // Beast's header_limit bounds only the bytes the parser has not
      // consumed yet, and it consumes each complete field: endless small
      // fields would pass it. So the consumed header bytes are counted.
      header_bytes_ += used;
      if (header_bytes_ > o.max_header_bytes) {
        OnReadError(http::error::header_limit);
        return;
      }
    }
    if (ec == http::error::need_more) {
      Read();
      return;
    }
    if (ec) {
      OnReadError(ec);
      return;
    }
    if (!expect_checked_ && parser_->is_header_done()) {
      expect_checked_ = true;
      if (parser_->is_done() ||
          !beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
        continue;
      }
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(socket_, net::buffer(kContinue.data(), kContinue.size()),
                       Bind([this](beast::error_code ec, size_t) {
                         if (ec) {
                           Close();
                           return;
                         }
                         Parse();
                       }));
      return;
    }
  }
  OnRequest();
}

void Session::OnReadError(beast::error_code ec) {
  started_ = Clock::now();
  method_ = "-";
  target_ = "-";
  version_ = 11;
  keep_alive_ = false;
  head_only_ = false;
  const uint32_t max_header = server_->options().max_header_bytes;
  if (ec == http::error::header_limit) {
    // A request line that does not end within the limit is a too-long
    // target (the parser has no target yet); otherwise the header fields
    // are too large.
    const bool line_ended = !parser_->get().target().empty();
    Send(line_ended
             ? serve::ErrorResponse(
                   431,
                   "request header fields are larger than " + std::to_string(max_header) + " bytes",
                   Route::kMalformed)
             : serve::ErrorResponse(
                   414, "request target is longer than " + std::to_string(max_header) + " bytes",
                   Route::kMalformed));
  } else if (ec == http::error::body_limit) {
    Send(serve::ErrorResponse(413,
                              "request body is larger than " +
                                  std::to_string(server_->options().max_body_bytes) + " bytes",
                              Route::kMalformed));
  } else {
    Send(serve::ErrorResponse(400, "malformed HTTP request: " + ec.message(), Route::kMalformed));
  }
}

void Session::OnRequest() {
  started_ = Clock::now();
  const auto& req = parser_->get();
  serve::HttpRequest request;
  request.method = req.method_string();
  request.target = req.target();
  request.authorization = req[http::field::authorization];
  request.content_type = req[http::field::content_type];
  request.body = req.body();
  if (server_->access_log() != nullptr) {
    method_.assign(request.method.data(), request.method.size());
    target_.assign(request.target.data(), request.target.size());
  }
  head_only_ = req.method() == http::verb::head;
  keep_alive_ = req.keep_alive();
  version_ = req.version();
  if (server_->router().MayBlock(request.target)) {
    // Answered on the poller thread; the parser (which `request` points
    // into) stays as it is until the answer comes back here.
    phase_ = Phase::kHandling;
    SetDeadline(Clock::duration::max());
    auto done = Bind([this](serve::HttpResponse& response) { Respond(std::move(response)); });
    server_->RunBlocking([this, request, done]() mutable {
      serve::HttpResponse response = server_->router().Handle(request, server_->holder().Current());
      net::post(
          socket_.get_executor(),
          [done = std::move(done), response = std::move(response)]() mutable { done(response); });
    });
    return;
  }
  if (serve::Router::Computes(request.method, request.target)) {
    // On a compute thread, like the blocking routes above; a full queue is
    // an immediate 503 so that the client backs off.
    phase_ = Phase::kHandling;
    SetDeadline(Clock::duration::max());
    auto done = Bind([this](serve::HttpResponse& response) { Respond(std::move(response)); });
    const bool queued = server_->RunCompute([this, request, done]() mutable {
      serve::HttpResponse response = server_->router().Handle(request, server_->holder().Current());
      net::post(
          socket_.get_executor(),
          [done = std::move(done), response = std::move(response)]() mutable { done(response); });
    });
    if (queued) return;
    serve::HttpResponse busy = serve::ErrorResponse(
        503,
        "the server is computing " + std::to_string(server_->options().compute_queue) +
            " fold-in or explanation requests already; retry after a second (serve "
            "--compute-threads and --compute-queue set the capacity)",
        request.method == "POST" ? serve::Route::kFoldIn : serve::Route::kExplain);
    busy.retry_after = 1;
    Respond(std::move(busy));
    return;
  }
  Respond(server_->router().Handle(request, server_->holder().Current()));
}

void Session::Respond(serve::HttpResponse response) {
  parser_.reset();
  keep_alive_ = keep_alive_ && !server_->stopping();
  Send(std::move(response));
}

void Session::Send(serve::HttpResponse response) {
  response_ = std::move(response);
  const serve::HttpResponse& r = response_;
  // The status line and header fields, in the order Beast wrote them, plus
  // Date.
  head_.clear();
  head_.append("HTTP/");
  head_.push_back(static_cast<char>('0' + version_ / 10 % 10));
  head_.push_back('.');
  head_.push_back(static_cast<char>('0' + version_ % 10));
  head_.push_back(' ');
  AppendUint(static_cast<uint64_t>(r.status), &head_);
  head_.push_back(' ');
  head_.append(http::obsolete_reason(static_cast<http::status>(r.status)));
  head_.append("\r\nServer: encore/" ENCORE_VERSION "\r\n");
  head_.append(DateField());
  head_.append("Content-Type: ").append(r.content_type).append("\r\n");
  if (r.snapshot != 0) {
    head_.append("X-Snapshot: ");
    AppendUint(r.snapshot, &head_);
    head_.append("\r\n");
  }
  if (r.allow != nullptr) head_.append("Allow: ").append(r.allow).append("\r\n");
  if (r.www_authenticate) head_.append("WWW-Authenticate: Bearer realm=\"encore\"\r\n");
  if (r.retry_after != 0) {
    head_.append("Retry-After: ");
    AppendUint(r.retry_after, &head_);
    head_.append("\r\n");
  }
  if (version_ < 11 && keep_alive_) head_.append("Connection: keep-alive\r\n");
  if (version_ >= 11 && !keep_alive_) head_.append("Connection: close\r\n");
  head_.append("Content-Length: ");
  AppendUint(r.body.size(), &head_);
  head_.append("\r\n\r\n");

  // Counted once the answer is ready, before it is written: a client that
  // has its answer then sees it in /metrics. The latency is the server's
  // own time (request complete -> response ready), not the network's.
  const auto duration = Clock::now() - started_;
  server_->metrics().RecordRequest(r.route, r.status, duration, worker_->index);
  if (serve::AccessLog* log = server_->access_log()) {
    serve::AccessLog::Record record;
    record.method = method_;
    record.target = target_;
    record.status = r.status;
    record.bytes = head_only_ ? 0 : r.body.size();
    record.duration = duration;
    record.snapshot = r.snapshot;
    log->Write(record);
  }
  phase_ = Phase::kWriting;
  SetDeadline(std::chrono::milliseconds(server_->options().idle_timeout_ms));
  const std::array<net::const_buffer, 2> buffers = {
      net::buffer(head_), net::buffer(r.body.data(), head_only_ ? 0 : r.body.size())};
  net::async_write(socket_, buffers, Bind([this](beast::error_code ec, size_t) { OnWritten(ec); }));
}

void Session::OnWritten(beast::error_code ec) {
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
  if (phase_ != Phase::kLingering) {
    phase_ = Phase::kLingering;  // nothing of value in flight: a drain may close it now
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    SetDeadline(kLinger);
  }
  socket_.async_read_some(net::buffer(linger_buf_), Bind([this](beast::error_code ec, size_t) {
                            if (ec) {
                              Close();
                            } else {
                              Linger();
                            }
                          }));
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  beast::error_code ignored;
  socket_.close(ignored);
  timer_.cancel();
}

// ---------------------------------------------------------------- ServerImpl

void ServerImpl::SessionOpened() { sessions_.fetch_add(1, std::memory_order_relaxed); }

void ServerImpl::SessionClosed() {
  if (sessions_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    // Under the mutex, so a Stop between its check and its wait cannot
    // miss the notification.
    std::lock_guard lock(sessions_mu_);
    sessions_cv_.notify_all();
  }
}

void ServerImpl::RunBlocking(std::function<void()> task) {
  {
    std::lock_guard lock(poll_mu_);
    tasks_.push_back(std::move(task));
  }
  poll_cv_.notify_all();
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
  // Live payloads of the stream consumer; without them the snapshot alone
  // answers (e.g. a read-only store directory).
  if (!options_.live_payloads) {
    Log("live payloads off (--live-payloads=false): serving snapshots only");
  } else if (auto live = store_->OpenLiveCached(LiveCacheBytes()); live.ok()) {
    live_ = std::move(live).value();
    router_.set_live(live_.get());
  } else {
    Log("live payloads unavailable, serving snapshots only: " + live.status().ToString());
  }
  if (!options_.events_redis.empty()) {
    if (options_.api_key.empty()) {
      return Status::InvalidArgument(
          "POST /v1/events needs a key: pass --api-key-file with --events-redis");
    }
    ENCORE_ASSIGN_OR_RETURN(
        events_log_, stream::RedisEventLog::Open(options_.events_redis, options_.events_stream));
    EventSchema schema;
    schema.known_types = options_.event_types;
    router_.set_event_sink(
        [this](const std::vector<Event>& events, std::vector<std::string>* ids) {
          std::vector<std::vector<std::pair<std::string, std::string>>> entries;
          entries.reserve(events.size());
          for (const Event& e : events) entries.push_back(EventFields(e));
          std::lock_guard lock(events_mu_);
          return events_log_->Append(entries, ids);
        },
        std::move(schema));
  }
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  beast::error_code ec;
  tcp::endpoint endpoint;
  net::ip::address address = net::ip::make_address(options_.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, options_.port);
  } else {
    tcp::resolver resolver(workers_[0]->ioc);
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

  accept_retry_ = std::make_unique<Timer>(acceptor_->get_executor());
  net::post(acceptor_->get_executor(), [this] { Accept(); });
  for (auto& w : workers_) {
    w->thread = std::thread([w = w.get()] { w->ioc.run(); });
  }
  compute_ = std::make_unique<serve::ComputePool>(options_.compute_threads, options_.compute_queue,
                                                  &metrics_);
  poller_ = std::thread([this] { PollLoop(); });
  return Status::OK();
}

void ServerImpl::Accept() {
  Worker* target = workers_[next_worker_++ % workers_.size()].get();
  acceptor_->async_accept(
      target->ioc.get_executor(), [this, target](beast::error_code ec, Socket socket) {
        if (ec == net::error::operation_aborted || !acceptor_->is_open()) return;
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
        // Owned by the posted handler until it starts; if the worker stops
        // first, destroying the handler destroys the session.
        auto session = std::make_unique<Session>(std::move(socket), target, this);
        net::post(target->ioc.get_executor(),
                  [session = std::move(session)]() mutable { session.release()->Start(); });
        Accept();
      });
}

void ServerImpl::PollLoop() {
  const auto period = std::chrono::milliseconds(std::max<uint32_t>(1, options_.poll_ms));
  auto next_poll = Clock::now() + period;
  std::unique_lock lock(poll_mu_);
  while (true) {
    poll_cv_.wait_until(lock, next_poll, [this] { return poll_stop_ || !tasks_.empty(); });
    if (poll_stop_) break;  // the workers have stopped: nobody waits for the tasks
    if (!tasks_.empty()) {
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
      continue;
    }
    if (Clock::now() < next_poll) continue;
    lock.unlock();
    if (!stopping()) (void)Reload();
    lock.lock();
    next_poll = Clock::now() + period;
  }
}

void ServerImpl::ForEachSession(void (Session::*action)()) {
  for (auto& w : workers_) {
    net::post(w->ioc.get_executor(), [w = w.get(), action] {
      // A copy: an action may end (delete) the session.
      const std::vector<Session*> sessions(w->sessions.begin(), w->sessions.end());
      for (Session* s : sessions) (s->*action)();
    });
  }
}

void ServerImpl::Stop() {
  if (!started_.load() || stopping_.exchange(true)) return;
  net::post(acceptor_->get_executor(), [this] {
    beast::error_code ignored;
    acceptor_->close(ignored);
    accept_retry_->cancel();
  });
  // Idle keep-alive connections close now; busy ones after their response.
  ForEachSession(&Session::CloseIfIdle);
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.drain_timeout_ms);
  auto drained = [this] { return sessions_.load(std::memory_order_acquire) == 0; };
  std::unique_lock lock(sessions_mu_);
  if (!sessions_cv_.wait_until(lock, deadline, drained)) {
    lock.unlock();
    Log("drain timed out after " + std::to_string(options_.drain_timeout_ms) +
        " ms; closing the remaining connections");
    ForEachSession(&Session::ForceClose);
    lock.lock();
    sessions_cv_.wait_for(lock, std::chrono::seconds(1), drained);
  }
  lock.unlock();
  // Anything still running (a handler stuck in a store call) is abandoned.
  for (auto& w : workers_) w->ioc.stop();
  {
    std::lock_guard poll_lock(poll_mu_);
    poll_stop_ = true;
  }
  poll_cv_.notify_all();
}

void ServerImpl::Wait() {
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  if (poller_.joinable()) poller_.join();
  // After the workers: nobody waits for an answer any more.
  if (compute_) compute_->Stop();
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
  if (options.compute_threads < 1 || options.compute_queue == 0) {
    return Status::InvalidArgument(
        "--compute-threads and --compute-queue must be at least 1 (fold-in and explanations "
        "run on the compute threads)");
  }
  if (options.cache_mb < -1) {
    return Status::InvalidArgument("--cache-mb must be >= 0 (0: off), not " +
                                   std::to_string(options.cache_mb));
  }
  if (options.live_cache_mb < -1) {
    return Status::InvalidArgument("--live-cache-mb must be >= 0 (0: off), not " +
                                   std::to_string(options.live_cache_mb));
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
