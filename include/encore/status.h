// Status and Result<T>: how encore reports expected failures.
//
// A Status is either OK or carries a code and a message. Messages follow one
// rule: say what went wrong, where (file and line when there is one), and how
// to fix it. Result<T> holds either a value or a non-OK Status.
//
// Broken invariants are not Statuses: they abort through ENCORE_CHECK.
// Exceptions are caught only at the edges (CLI, HTTP).
//
// Thread-safety: values; safe to copy between threads.

#ifndef ENCORE_STATUS_H_
#define ENCORE_STATUS_H_

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

namespace encore {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller passed something unusable (flag, option, request)
  kNotFound,         // a file, id or key does not exist
  kIOError,          // the operating system refused a read or write
  kParseError,       // input data is malformed
  kCorruption,       // a file encore wrote is damaged
  kFailedPrecondition,
  kInternal,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status ParseError(std::string m) { return {StatusCode::kParseError, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code name>: <message>", or "OK".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a T or a non-OK Status. Accessing value() of an error aborts.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) {
      std::fprintf(stderr, "encore: Result constructed from an OK status without a value\n");
      std::abort();
    }
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { CheckOk(); return *value_; }
  const T& value() const& { CheckOk(); return *value_; }
  T&& value() && { CheckOk(); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  void CheckOk() const {
    if (!status_.ok()) {
      std::fprintf(stderr, "encore: value() of a failed Result: %s\n", status_.ToString().c_str());
      std::abort();
    }
  }
  Status status_;
  std::optional<T> value_;
};

[[noreturn]] void CheckFailed(const char* file, int line, const char* expr);

}  // namespace encore

// Aborts with file:line when an invariant does not hold (in every build type).
#define ENCORE_CHECK(cond) \
  ((cond) ? (void)0 : ::encore::CheckFailed(__FILE__, __LINE__, #cond))

#define ENCORE_CONCAT_INNER(a, b) a##b
#define ENCORE_CONCAT(a, b) ENCORE_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define ENCORE_RETURN_IF_ERROR(expr)        \
  do {                                      \
    ::encore::Status _st = (expr);          \
    if (!_st.ok()) return _st;              \
  } while (0)

// `ENCORE_ASSIGN_OR_RETURN(auto x, F());` unwraps a Result or returns its Status.
#define ENCORE_ASSIGN_OR_RETURN(lhs, expr) \
  ENCORE_ASSIGN_OR_RETURN_IMPL(ENCORE_CONCAT(_result_, __LINE__), lhs, expr)
#define ENCORE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

#endif  // ENCORE_STATUS_H_
