// InteractionLog: the accepted rows of one or more input files, column by column.
//
// Readers (include/encore/reader.h) append to it; BuildDataset
// (include/encore/dataset.h) consumes it into sparse matrices. Ids, event
// types and attribute values are dictionary-encoded, so memory grows with
// the rows kept (12 bytes a row for user, item, value; +4 with an event
// column, +8 with a time column), never with the file size.
//
// Thread-safety: a plain value; no internal synchronisation.

#ifndef ENCORE_INTERACTIONS_H_
#define ENCORE_INTERACTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "encore/chunked_vector.h"
#include "encore/ids.h"

namespace encore {

// A named input column kept alongside the interactions (price, category...).
struct AttributeColumn {
  std::string name;
  IdDictionary values;             // distinct values of the column
  ChunkedVector<uint32_t> codes;   // per row: index into `values`
};

struct InteractionLog {
  IdDictionary users;
  IdDictionary items;
  IdDictionary events;             // event type names; empty without an event column

  ChunkedVector<uint32_t> user;    // per row: index into `users`
  ChunkedVector<uint32_t> item;    // per row: index into `items`
  ChunkedVector<float> value;      // per row: rating / count / quantity (1 when no value column)
  ChunkedVector<uint32_t> event;   // per row when has_events: index into `events`
  ChunkedVector<int64_t> time;     // per row when has_times: unix seconds (UTC)
  std::vector<AttributeColumn> attributes;

  bool has_events = false;
  bool has_times = false;

  size_t size() const { return user.size(); }
  size_t MemoryBytes() const;
};

// One rejected input row.
struct Rejection {
  std::string file;
  uint64_t line = 0;    // 1-based physical line where the record starts
  std::string reason;   // never contains a raw value of an obfuscated column
};

// Counts of what a read did. Filled even when the read fails.
struct ReadReport {
  std::vector<std::string> files;
  uint64_t bytes_read = 0;      // bytes of input consumed (decompressed for .gz)
  uint64_t rows_read = 0;       // data records seen (header and blank lines excluded)
  uint64_t blank_lines = 0;     // empty lines skipped (not rows)
  uint64_t rows_accepted = 0;
  uint64_t rows_rejected = 0;
  std::vector<std::pair<std::string, uint64_t>> rejects_by_kind;  // e.g. {"bad number", 3}
  std::vector<Rejection> first_rejections;                         // at most kMaxListed
  // Header name (or JSON key) of the value column; empty without one or
  // without names (headerless files, presets name it too).
  std::string value_column;
  // > 0: the first file was parsed in this many slices at once
  // (ReadOptions::threads); 0: every file was read front to back.
  uint32_t parallel_slices = 0;
  static constexpr size_t kMaxListed = 10;

  void AddRejection(const std::string& kind, Rejection r);
};

}  // namespace encore

#endif  // ENCORE_INTERACTIONS_H_
