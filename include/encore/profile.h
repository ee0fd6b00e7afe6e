// DataProfile: the statistics printed before modelling (encore stats).
//
// Thread-safety: plain values.

#ifndef ENCORE_PROFILE_H_
#define ENCORE_PROFILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "encore/dataset.h"
#include "encore/interactions.h"

namespace encore {

// Order statistics of a count distribution. Percentiles use the nearest-rank
// rule: pXX is the smallest count c such that at least XX% of the counts are
// <= c (the ceil(XX/100 * n)-th smallest). All zero when there are no counts.
struct CountDistribution {
  uint64_t min = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
  double mean = 0;
};

// One bar of the value histogram. With at most 20 distinct values there is
// one bin per value, ascending, labelled by the value ("0.5", "4"). Otherwise
// about 10 half-open ranges: powers of two ("[1, 2)", "[2, 8)") when all
// values are positive and max/min > 100, else equal "nice" widths
// ("[0, 0.5)", "[0.5, 1)"). Bins may count 0.
struct HistogramBin {
  std::string label;  // "4.5" for exact values, "[1, 2)" for ranges
  uint64_t count = 0;
};

struct DataProfile {
  uint64_t rows_read = 0, rows_accepted = 0, rows_rejected = 0;
  uint64_t users = 0, items = 0, nonzeros = 0;
  double density = 0;                         // nonzeros / (users * items), as a fraction
  CountDistribution per_user, per_item;       // nonzeros per user / per item
  std::vector<HistogramBin> value_histogram;  // of the matrix values
  std::vector<std::pair<std::string, uint64_t>> event_counts;  // rows per event type
  std::optional<int64_t> time_min, time_max;                   // unix seconds
  std::vector<std::pair<std::string, uint64_t>> rejects_by_kind;
  // Distributions for charts (the console): users by their number of
  // nonzeros and items by theirs, in power-of-two bins labelled "0", "1",
  // "2-3", "4-7", ...; and nonzeros by the time of their latest interaction,
  // in buckets of `time_bucket_seconds` (a day, a week or 30 days, whichever
  // keeps it at 120 buckets or fewer), each labelled by its start (unix
  // seconds). Empty without times.
  std::vector<HistogramBin> per_user_histogram, per_item_histogram;
  int64_t time_bucket_seconds = 0;
  std::vector<std::pair<int64_t, uint64_t>> over_time;
  // Bytes held by the loaded data: id dictionaries, CSR (by user), CSC (by item).
  uint64_t memory_dictionaries = 0, memory_csr = 0, memory_csc = 0;
};

// Row counts and rejections come from `report`; everything else from `data`.
DataProfile ComputeProfile(const Dataset& data, const ReadReport& report);

// A readable multi-line table, each line ending in '\n': counts with
// thousands separators, density in % (truncated, never rounded up to look
// denser), per-user and per-item percentiles, the value histogram with
// proportional '#' bars, and, when present, event counts, the time range
// (ISO-8601 UTC) and rejections by reason.
std::string FormatProfileTable(const DataProfile& p);

// One pretty-printed JSON object (no trailing newline) with the keys
//   rows_read, rows_accepted, rows_rejected, users, items, nonzeros,
//   density (a fraction in [0, 1]), density_percent, sparsity_percent,
//   per_user, per_item ({min, p50, p90, p99, max, mean}),
//   values ([{label, count}] in histogram order),
//   events ({name: rows}, in event-dictionary order),
//   time_min, time_max (ISO-8601 UTC strings, null without times),
//   time_min_unix, time_max_unix (seconds or null),
//   rejects_by_kind ({reason: rows}),
//   memory ({dictionaries, csr, csc, total} in bytes),
//   per_user_histogram, per_item_histogram ([{label, count}]),
//   time_bucket_seconds, over_time ([{start (unix seconds), count}]).
// Names are escaped, so any event name or reason yields valid JSON.
std::string FormatProfileJson(const DataProfile& p);

}  // namespace encore

#endif  // ENCORE_PROFILE_H_
