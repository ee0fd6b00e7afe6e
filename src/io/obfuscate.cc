#include "encore/obfuscate.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace encore {

Result<Obfuscator> Obfuscator::Create(std::string key) {
  if (key.size() < kMinKeyBytes) {
    return Status::InvalidArgument(
        "obfuscation key is " + std::to_string(key.size()) + " bytes; use at least " +
        std::to_string(kMinKeyBytes) +
        " random bytes (e.g. `head -c 32 /dev/urandom | base64 > key.txt`)");
  }
  return Obfuscator(std::move(key));
}

Result<Obfuscator> Obfuscator::FromFileOrEnv(const std::string& key_file) {
  std::string key;
  if (!key_file.empty()) {
    std::ifstream f(key_file, std::ios::binary);
    if (!f) {
      return Status::NotFound("cannot open obfuscation key file '" + key_file +
                              "'; check --obfuscation-key-file");
    }
    std::stringstream ss;
    ss << f.rdbuf();
    key = ss.str();
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  } else if (const char* env = std::getenv(kKeyEnvVar); env != nullptr && *env != '\0') {
    key = env;
  } else {
    return Status::InvalidArgument(
        std::string("--obfuscate needs a key: pass --obfuscation-key-file FILE or set ") +
        kKeyEnvVar + "; refusing to run without one");
  }
  return Create(std::move(key));
}

std::string Obfuscator::Hash(std::string_view value) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(value.data()), value.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = kHex[mac[i] >> 4];
    out[2 * i + 1] = kHex[mac[i] & 15];
  }
  return out;
}

}  // namespace encore
