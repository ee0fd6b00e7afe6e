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

// Order statistics of a count distribution (nearest-rank percentiles).
struct CountDistribution {
  uint64_t min = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
  double mean = 0;
};

struct HistogramBin {
  std::string label;  // "4.5" for exact values, "[1, 2)" for ranges
  uint64_t count = 0;
};

struct DataProfile {
  uint64_t rows_read = 0, rows_accepted = 0, rows_rejected = 0;
  uint64_t users = 0, items = 0, nonzeros = 0;
  double density = 0;   // nonzeros / (users * items), as a fraction
  CountDistribution per_user, per_item;  // nonzeros per user / per item
  std::vector<HistogramBin> value_histogram;  // of the matrix values
  std::vector<std::pair<std::string, uint64_t>> event_counts;
  std::optional<int64_t> time_min, time_max;
  std::vector<std::pair<std::string, uint64_t>> rejects_by_kind;
};

DataProfile ComputeProfile(const Dataset& data, const ReadReport& report);
// A readable multi-line table.
std::string FormatProfileTable(const DataProfile& p);
// One JSON object (density and sparsity in %, as in the table).
std::string FormatProfileJson(const DataProfile& p);

}  // namespace encore

#endif  // ENCORE_PROFILE_H_
