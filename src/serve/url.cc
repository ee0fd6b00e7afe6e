#include "serve/url.h"

#include <charconv>

namespace encore::serve {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Status PercentDecode(std::string_view in, std::string_view what, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    const int hi = i + 1 < in.size() ? HexValue(in[i + 1]) : -1;
    const int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument(
          "invalid percent-encoding in " + std::string(what) + " at byte " + std::to_string(i) +
          ": '%' must be followed by two hex digits (write %25 for '%')");
    }
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return Status::OK();
}

const std::string_view* Target::Find(std::string_view key) const {
  const std::string_view* found = nullptr;
  for (const Param& p : query) {
    if (p.key == key) found = &p.value;
  }
  return found;
}

Status SplitTarget(std::string_view target, Target* out) {
  out->segments.clear();
  out->query.clear();
  if (target.empty() || target.front() != '/') {
    return Status::InvalidArgument("request target must be a path starting with '/'");
  }
  std::string_view path = target;
  std::string_view query;
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    out->segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      Target::Param p;
      p.key = pair.substr(0, eq);
      if (eq != std::string_view::npos) p.value = pair.substr(eq + 1);
      out->query.push_back(p);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return Status::OK();
}

Status ParseBoundedUint(std::string_view text, std::string_view what, uint32_t min, uint32_t max,
                        uint32_t* out) {
  auto bad = [&] {
    return Status::InvalidArgument(std::string(what) + " must be an integer from " +
                                   std::to_string(min) + " to " + std::to_string(max) + ", not '" +
                                   std::string(text.substr(0, 32)) +
                                   (text.size() > 32 ? "...'" : "'"));
  };
  if (text.empty() || text.size() > 10) return bad();
  for (char c : text) {
    if (c < '0' || c > '9') return bad();
  }
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max) return bad();
  *out = static_cast<uint32_t>(v);
  return Status::OK();
}

}  // namespace encore::serve
