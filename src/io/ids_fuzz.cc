// Fuzzes IdDictionary against std::unordered_map: the input is split into
// ids at 0xFF bytes (ids may contain NUL and any other byte); interning,
// Find and Name must agree with the reference at every step.

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "encore/ids.h"
#include "encore/status.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  encore::IdDictionary dict;
  std::unordered_map<std::string, uint32_t> ref;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (true) {
    size_t cut = rest.find('\xff');
    std::string id(rest.substr(0, cut));
    // Long ids exercise the arena path: a byte 0xFE repeats the id 5 times.
    if (!id.empty() && id[0] == '\xfe') id = id + id + id + id + id;
    auto found = dict.Find(id);
    auto it = ref.find(id);
    ENCORE_CHECK(found.has_value() == (it != ref.end()));
    if (found) ENCORE_CHECK(*found == it->second);
    uint32_t idx = dict.Intern(id);
    if (it == ref.end()) {
      ENCORE_CHECK(idx == ref.size());
      ref.emplace(id, idx);
    } else {
      ENCORE_CHECK(idx == it->second);
    }
    ENCORE_CHECK(dict.Name(idx) == id);
    if (cut == std::string_view::npos) break;
    rest.remove_prefix(cut + 1);
  }
  ENCORE_CHECK(dict.size() == ref.size());
  for (const auto& [id, idx] : ref) ENCORE_CHECK(dict.Name(idx) == id);
  return 0;
}
