// Experiment declarations and sticky assignment (encore/experiment.h).

#include "encore/experiment.h"

#include <openssl/sha.h>
#include <toml++/toml.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "io/text.h"

namespace encore {
namespace {

// H(salt, variant, user) as a double uniform in (0, 1): the first 53 bits of
// SHA-256 over the three strings, separated by 0 bytes.
double UnitHash(std::string_view salt, std::string_view variant, std::string_view user) {
  // One buffer, one digest: SHA256() is OpenSSL 3's non-deprecated one-shot call.
  std::string buffer;
  buffer.reserve(salt.size() + variant.size() + user.size() + 3);
  buffer.append(salt).push_back('\0');
  buffer.append(variant).push_back('\0');
  buffer.append(user);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(buffer.data()), buffer.size(), digest);
  uint64_t bits = 0;
  for (int k = 0; k < 8; ++k) bits = (bits << 8) | digest[k];
  return (static_cast<double>(bits >> 11) + 0.5) * 0x1p-53;
}

std::string Where(std::string_view origin, const toml::source_region& r) {
  return std::string(origin) + ":" + std::to_string(r.begin.line) + ": ";
}

bool ReadTime(const toml::node* node, std::optional<int64_t>* out) {
  if (node == nullptr) return true;
  if (auto v = node->value<int64_t>()) {
    *out = *v;
    return true;
  }
  if (auto s = node->value<std::string>()) {
    int64_t t = 0;
    if (!io::ParseTimestamp(*s, TimeUnit::kSeconds, &t)) return false;
    *out = t;
    return true;
  }
  if (const auto* dt = node->as_date_time()) {
    std::ostringstream os;
    os << *dt;
    int64_t t = 0;
    if (!io::ParseTimestamp(os.str(), TimeUnit::kSeconds, &t)) return false;
    *out = t;
    return true;
  }
  return false;
}

}  // namespace

Status CheckVariantName(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return Status::InvalidArgument("variant name '" + std::string(name) +
                                   "' must be 1 to 64 characters");
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) {
      return Status::InvalidArgument("variant name '" + std::string(name) +
                                     "' may hold only letters, digits, '_', '-' and '.'");
    }
  }
  if (name == "default") {
    return Status::InvalidArgument(
        "variant name 'default' is reserved for the snapshot's own payloads");
  }
  return Status::OK();
}

size_t Experiment::Assign(std::string_view user) const {
  if (!forced.empty()) {
    auto it = forced.find(std::string(user));
    if (it != forced.end()) {
      const int k = VariantIndex(it->second);
      if (k >= 0) return static_cast<size_t>(k);
    }
  }
  size_t best = control;
  double best_score = -1;
  for (size_t k = 0; k < variants.size(); ++k) {
    if (!(variants[k].share > 0)) continue;
    const double u = UnitHash(salt, variants[k].name, user);
    const double score = -variants[k].share / std::log(u);
    if (score > best_score) {
      best_score = score;
      best = k;
    }
  }
  return best;
}

bool Experiment::Active(int64_t unix_seconds) const {
  if (start && unix_seconds < *start) return false;
  if (stop && unix_seconds >= *stop) return false;
  return true;
}

int Experiment::VariantIndex(std::string_view variant) const {
  for (size_t k = 0; k < variants.size(); ++k) {
    if (variants[k].name == variant) return static_cast<int>(k);
  }
  return -1;
}

Result<Experiment> ParseExperiment(std::string_view text, std::string_view origin) {
  toml::table root;
  try {
    root = toml::parse(text, std::string(origin));
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(Where(origin, e.source()) +
                                   "not valid TOML: " + std::string(e.description()));
  }
  const std::string top = std::string(origin) + ": ";
  static const std::set<std::string> kTopKeys = {"name",    "salt",    "start", "stop",
                                                 "control", "variant", "forced"};
  for (const auto& [key, node] : root) {
    if (!kTopKeys.count(std::string(key.str()))) {
      return Status::InvalidArgument(
          Where(origin, node.source()) + "unknown key '" + std::string(key.str()) +
          "'; known: name, salt, start, stop, control, [[variant]], [forced]");
    }
  }
  Experiment e;
  auto name = root["name"].value<std::string>();
  if (!name || name->empty()) {
    return Status::InvalidArgument(top + "'name' is missing or not a string: add name = \"...\"");
  }
  e.name = *name;
  if (root.contains("salt")) {
    auto salt = root["salt"].value<std::string>();
    if (!salt) return Status::InvalidArgument(top + "'salt' must be a string");
    e.salt = *salt;
  } else {
    e.salt = e.name;
  }
  if (!ReadTime(root.get("start"), &e.start)) {
    return Status::InvalidArgument(top +
                                   "'start' must be ISO 8601 (\"2026-12-01T00:00:00Z\") or "
                                   "unix seconds");
  }
  if (!ReadTime(root.get("stop"), &e.stop)) {
    return Status::InvalidArgument(top +
                                   "'stop' must be ISO 8601 (\"2027-01-01T00:00:00Z\") or "
                                   "unix seconds");
  }
  if (e.start && e.stop && *e.stop <= *e.start) {
    return Status::InvalidArgument(top + "'stop' must be after 'start'");
  }
  const toml::array* variants = root["variant"].as_array();
  if (variants == nullptr) {
    return Status::InvalidArgument(top +
                                   "no variants: declare two or more [[variant]] tables with "
                                   "name and share");
  }
  double total = 0;
  for (const toml::node& node : *variants) {
    const toml::table* t = node.as_table();
    const std::string where = Where(origin, node.source());
    if (t == nullptr) return Status::InvalidArgument(where + "[[variant]] must be a table");
    for (const auto& [key, _] : *t) {
      const std::string k(key.str());
      if (k != "name" && k != "share" && k != "payload") {
        return Status::InvalidArgument(where + "unknown variant key '" + k +
                                       "'; known: name, share, payload");
      }
    }
    ExperimentVariant v;
    auto vname = (*t)["name"].value<std::string>();
    if (!vname) return Status::InvalidArgument(where + "variant without a 'name'");
    v.name = *vname;
    Status s = CheckVariantName(v.name);
    if (!s.ok()) return Status::InvalidArgument(where + s.message());
    auto share = (*t)["share"].value<double>();
    if (!share || !std::isfinite(*share) || *share < 0 || *share > 100) {
      return Status::InvalidArgument(where + "variant '" + v.name +
                                     "': 'share' must be a number from 0 to 100 (percent)");
    }
    v.share = *share;
    total += v.share;
    v.payload = (*t)["payload"].value_or(std::string("default"));
    if (v.payload != "default") {
      Status ps = CheckVariantName(v.payload);
      if (!ps.ok())
        return Status::InvalidArgument(where + "variant '" + v.name + "' payload: " + ps.message());
    }
    if (e.VariantIndex(v.name) >= 0) {
      return Status::InvalidArgument(where + "variant '" + v.name + "' is declared twice");
    }
    e.variants.push_back(std::move(v));
  }
  if (e.variants.size() < 2) {
    return Status::InvalidArgument(top + "an experiment needs at least two variants, found " +
                                   std::to_string(e.variants.size()));
  }
  if (std::fabs(total - 100) > 1e-6) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", total);
    return Status::InvalidArgument(top + "variant shares add up to " + buf +
                                   ", not 100: make them percentages of all traffic");
  }
  if (root.contains("control")) {
    auto control = root["control"].value<std::string>();
    const int k = control ? e.VariantIndex(*control) : -1;
    if (k < 0) {
      return Status::InvalidArgument(top + "'control' names no declared variant");
    }
    e.control = static_cast<size_t>(k);
  }
  if (const toml::node* f = root.get("forced")) {
    const toml::table* t = f->as_table();
    if (t == nullptr) {
      return Status::InvalidArgument(top + "[forced] must be a table of \"user\" = \"variant\"");
    }
    for (const auto& [user, node] : *t) {
      auto v = node.value<std::string>();
      if (!v || e.VariantIndex(*v) < 0) {
        return Status::InvalidArgument(Where(origin, node.source()) + "forced user '" +
                                       std::string(user.str()) +
                                       "' names an unknown variant; declared: " + [&] {
                                         std::string names;
                                         for (const auto& x : e.variants)
                                           names += (names.empty() ? "" : ", ") + x.name;
                                         return names;
                                       }());
      }
      e.forced[std::string(user.str())] = *v;
    }
  }
  return e;
}

Result<Experiment> LoadExperiment(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound("cannot read experiment file '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream os;
  os << in.rdbuf();
  return ParseExperiment(os.str(), path);
}

std::string NewRecommendationId(std::string_view user) {
  static std::atomic<uint64_t> counter{0};
  const uint64_t now =
      static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  const uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
  char salt[48];
  std::snprintf(salt, sizeof salt, "%llu.%llu", static_cast<unsigned long long>(now),
                static_cast<unsigned long long>(n));
  const double u = UnitHash(salt, "rec", user);
  const uint64_t bits =
      static_cast<uint64_t>(u * 0x1p53) ^ (n << 53) ^ (now * 0x9E3779B97F4A7C15ull);
  char out[24];
  std::snprintf(out, sizeof out, "r%016llx", static_cast<unsigned long long>(bits));
  return out;
}

}  // namespace encore
