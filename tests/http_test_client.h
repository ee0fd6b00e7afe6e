// A small blocking HTTP/1.1 client over raw sockets, for the server tests:
// it can send anything (hostile bytes included) and reads responses framed
// by Content-Length. Every read has a hang guard (SO_RCVTIMEO), so a server
// bug fails a test instead of hanging it.

#ifndef ENCORE_TESTS_HTTP_TEST_CLIENT_H_
#define ENCORE_TESTS_HTTP_TEST_CLIENT_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace encore::testing {

struct HttpReply {
  int status = 0;                              // 0: no (complete) response
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  // The value of header `name` (lower case), "" when absent.
  std::string Header(const std::string& name) const;
  bool Has(const std::string& name) const { return headers.count(name) > 0; }
};

class HttpConnection {
 public:
  // Connects to 127.0.0.1:port; reads give up after `guard_ms`.
  explicit HttpConnection(uint16_t port, int guard_ms = 10'000);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Sends bytes as they are. False when the send fails.
  bool SendRaw(std::string_view bytes);
  // Reads one response. False on EOF, timeout or a malformed response.
  // head_only: the response has no body whatever its headers say (HEAD).
  // An interim "100 Continue" is returned as a reply of its own.
  bool ReadReply(HttpReply* reply, bool head_only = false);
  // Sends a well-formed request (Host and Content-Length added) and reads
  // the response; status 0 when none came.
  HttpReply Request(const std::string& method, const std::string& target,
                    const std::string& body = "", const std::vector<std::string>& headers = {});
  // True when the server closes the connection within `timeout_ms`
  // (whatever it sent before is discarded).
  bool WaitClosed(int timeout_ms);
  // Half-closes (no more bytes from us).
  void ShutdownWrite();
  void Close();

 private:
  bool Fill();  // reads more into buffer_; false on EOF/error/timeout
  int fd_ = -1;
  std::string buffer_;
};

// One request on a fresh connection.
HttpReply HttpFetch(uint16_t port, const std::string& method, const std::string& target,
                    const std::string& body = "", const std::vector<std::string>& headers = {});

}  // namespace encore::testing

#endif  // ENCORE_TESTS_HTTP_TEST_CLIENT_H_
