// Fuzzes the delimited-text readers (csv, tsv, presets, baskets, matrix) end to end:
// byte 0 picks the format and byte 1 the separator, the rest is the file.
// Invariants: never crash, never hang; every record is accepted or rejected;
// the same file read in slices on several threads (ReadOptions::threads,
// with tiny slices so the cuts land anywhere) gives exactly the sequential
// result: ids, rows, counts, the listed rejections with their lines, errors.

#include <cstddef>
#include <cstdint>
#include <string>

#include "encore/status.h"
#include "io/reader_internal.h"

namespace {

// Everything a read produced, as text.
std::string Describe(const encore::Result<encore::InteractionLog>& log,
                     const encore::ReadReport& r) {
  std::string out = log.ok() ? "ok\n" : log.status().ToString() + "\n";
  out += std::to_string(r.bytes_read) + " " + std::to_string(r.rows_read) + " " +
         std::to_string(r.blank_lines) + " " + std::to_string(r.rows_accepted) + " " +
         std::to_string(r.rows_rejected) + " " + r.value_column + "\n";
  for (const auto& [kind, count] : r.rejects_by_kind) out += kind + std::to_string(count) + "\n";
  for (const auto& j : r.first_rejections) out += std::to_string(j.line) + j.reason + "\n";
  if (!log.ok()) return out;
  for (uint32_t i = 0; i < log->users.size(); ++i) out += std::string(log->users.Name(i)) + "|";
  for (uint32_t i = 0; i < log->items.size(); ++i) out += std::string(log->items.Name(i)) + "|";
  for (size_t k = 0; k < log->size(); ++k) {
    out += std::to_string(log->user[k]) + "," + std::to_string(log->item[k]) + "," +
           std::to_string(log->value[k]) + (log->has_times ? "," + std::to_string(log->time[k]) : "") +
           "\n";
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace encore;
  if (size < 2) return 0;
  static const InputFormat kFormats[] = {
      InputFormat::kCsv,    InputFormat::kTsv,     InputFormat::kMovieLens, InputFormat::kMlLatest,
      InputFormat::kLastfm, InputFormat::kBaskets, InputFormat::kMatrix};
  ReadOptions opt;
  opt.format = kFormats[data[0] % 7];
  if (data[0] & 0x80) opt.header = (data[0] & 0x40) != 0;
  char sep = static_cast<char>(data[1]);
  if (sep != '"' && sep != '\n' && sep != '\r' && (data[0] & 0x20)) opt.separator = sep;
  // The input's size picks the bad-row limit and the slicing.
  const int limits[] = {0, 1, 3, -1};
  const int limit = limits[(size >> 3) & 3];
  opt.max_bad_rows = limit < 0 ? UINT64_MAX : static_cast<uint64_t>(limit);
  const std::string text(reinterpret_cast<const char*>(data) + 2, size - 2);
  opt.threads = 1;
  std::vector<std::unique_ptr<io::ByteSource>> sources;
  sources.push_back(io::ByteSource::FromString("fuzz.csv", text));
  ReadReport report;
  auto log = io::ReadInteractionsFromSources(std::move(sources), opt, &report);

  ReadOptions sliced = opt;
  sliced.threads = 2 + static_cast<int>(size & 3);
  sliced.min_chunk_bytes = 1 + ((size >> 2) & 1) * 7;
  std::vector<std::unique_ptr<io::ByteSource>> again;
  again.push_back(io::ByteSource::FromString("fuzz.csv", text));
  ReadReport sliced_report;
  auto sliced_log = io::ReadInteractionsFromSources(std::move(again), sliced, &sliced_report);
  ENCORE_CHECK(Describe(log, report) == Describe(sliced_log, sliced_report));
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
