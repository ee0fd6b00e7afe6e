// Fuzzes the delimited-text readers (csv, tsv, presets, baskets) end to end:
// byte 0 picks the format and byte 1 the separator, the rest is the file.
// Invariants: never crash, never hang; every record is accepted or rejected.

#include <cstddef>
#include <cstdint>
#include <string>

#include "encore/status.h"
#include "io/reader_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace encore;
  if (size < 2) return 0;
  static const InputFormat kFormats[] = {InputFormat::kCsv,      InputFormat::kTsv,
                                         InputFormat::kMovieLens, InputFormat::kMlLatest,
                                         InputFormat::kLastfm,   InputFormat::kBaskets};
  ReadOptions opt;
  opt.format = kFormats[data[0] % 6];
  if (data[0] & 0x80) opt.header = (data[0] & 0x40) != 0;
  char sep = static_cast<char>(data[1]);
  if (sep != '"' && sep != '\n' && sep != '\r' && (data[0] & 0x20)) opt.separator = sep;
  opt.max_bad_rows = UINT64_MAX;
  std::vector<std::unique_ptr<io::ByteSource>> sources;
  sources.push_back(io::ByteSource::FromString(
      "fuzz.csv", std::string(reinterpret_cast<const char*>(data) + 2, size - 2)));
  ReadReport report;
  auto log = io::ReadInteractionsFromSources(std::move(sources), opt, &report);
  ENCORE_CHECK(report.rows_read == report.rows_accepted + report.rows_rejected ||
               !log.ok());
  if (log.ok()) {
    ENCORE_CHECK(log->user.size() == log->item.size());
    ENCORE_CHECK(log->value.size() == log->user.size());
    for (size_t r = 0; r < log->size(); ++r) {
      ENCORE_CHECK(log->user[r] < log->users.size());
      ENCORE_CHECK(log->item[r] < log->items.size());
    }
  }
  return 0;
}
