// Obfuscator: replaces personal data (emails, street addresses) by a keyed hash.
//
// Hash(v) = first 16 bytes of HMAC-SHA256(key, v), as 32 lowercase hex digits.
// Stable across runs for the same key, so obfuscated emails still join, and
// not reversible without the key. Raw values must never reach any output;
// the reader applies this before a value is stored, logged or rejected.
//
// Thread-safety: Hash is const and safe to call concurrently.

#ifndef ENCORE_OBFUSCATE_H_
#define ENCORE_OBFUSCATE_H_

#include <string>
#include <string_view>

#include "encore/status.h"

namespace encore {

class Obfuscator {
 public:
  static constexpr size_t kMinKeyBytes = 16;
  static constexpr const char* kKeyEnvVar = "ENCORE_OBFUSCATION_KEY";

  // REQUIRES: key.size() >= kMinKeyBytes (use Create to check).
  explicit Obfuscator(std::string key) : key_(std::move(key)) {}
  static Result<Obfuscator> Create(std::string key);

  // Loads the key from `key_file` when not empty, else from $ENCORE_OBFUSCATION_KEY.
  // Trailing newlines of a key file are ignored. Fails when neither is set.
  static Result<Obfuscator> FromFileOrEnv(const std::string& key_file);

  std::string Hash(std::string_view value) const;

 private:
  std::string key_;
};

}  // namespace encore

#endif  // ENCORE_OBFUSCATE_H_
