// Fuzzes the JSON Lines reader end to end. Invariants: never crash or hang;
// every non-blank line is accepted or rejected.

#include <cstddef>
#include <cstdint>
#include <string>

#include "encore/status.h"
#include "io/reader_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace encore;
  ReadOptions opt;
  opt.format = InputFormat::kJsonl;
  opt.max_bad_rows = UINT64_MAX;
  if (size > 0 && data[0] == 'w') opt.known_events = {"view", "buy"};
  std::vector<std::unique_ptr<io::ByteSource>> sources;
  sources.push_back(io::ByteSource::FromString(
      "fuzz.jsonl", std::string(reinterpret_cast<const char*>(data), size)));
  ReadReport report;
  auto log = io::ReadInteractionsFromSources(std::move(sources), opt, &report);
  if (log.ok()) {
    ENCORE_CHECK(report.rows_read == report.rows_accepted + report.rows_rejected);
    ENCORE_CHECK(log->user.size() == report.rows_accepted);
    if (log->has_times) ENCORE_CHECK(log->time.size() == log->size());
  }
  return 0;
}
