#include "encore/dataset.h"

#include <omp.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>

#include "util/huge_pages.h"
#include "util/threads.h"

namespace encore {

// How BuildDataset works (see also docs/DATA_MODEL.md):
//  1. Scan: each thread walks one contiguous range of log rows, validates it,
//     applies event weights in place, and counts rows per user.
//  2. Scatter: from the per-thread counts every (thread, user) pair gets its
//     own output slice, so copying (item, value[, time]) into user-major
//     "staging" arrays keeps log order within each user whatever the thread
//     count. Log chunks are freed as soon as they are copied.
//  3. Merge: each user row is sorted by item (stably) and duplicates are
//     combined per the feedback rules; rows only shrink.
//  4. Compact the rows into the CSR, then transpose it into the CSC.

namespace {

constexpr size_t kChunk = ChunkedVector<uint32_t>::kChunk;
static_assert(ChunkedVector<float>::kChunk == kChunk && ChunkedVector<int64_t>::kChunk == kChunk,
              "log columns must share one chunk size");

// Below this many elements per thread, extra threads cost more than they save.
constexpr uint64_t kMinWorkPerThread = uint64_t{1} << 16;
constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();

int MaxThreads(int requested) { return ResolveThreads(requested); }

// v.assign(n, fill) on transparent huge pages (util/huge_pages.h): the
// staging arrays, CSR and CSC of 10 million rows are ~250 MB of fresh memory,
// on small pages ~60,000 page faults.
template <typename T>
void AssignOnHugePages(std::vector<T>& v, size_t n, const T& fill = T()) {
  v.clear();
  v.reserve(n);
  AdviseHugePages(v.data(), n * sizeof(T));
  v.assign(n, fill);
}

// Threads for a parallel counting sort of `work` elements into `keys`
// buckets. Each thread keeps `keys` 8-byte counters, so the thread count is
// capped to keep all counters within ~2 bytes per element.
int CountingSortThreads(int requested, uint64_t work, uint64_t keys) {
  const uint64_t per_thread = std::max(kMinWorkPerThread, 4 * keys);
  const uint64_t useful = std::max<uint64_t>(1, work / per_thread);
  return static_cast<int>(std::min<uint64_t>(MaxThreads(requested), useful));
}

struct RowRange {
  uint64_t begin = 0;
  uint64_t end = 0;
};

// [0, n) cut into `parts` contiguous ranges of near-equal length.
std::vector<RowRange> SplitRows(uint64_t n, int parts) {
  std::vector<RowRange> ranges(parts);
  for (int k = 0; k < parts; ++k) {
    ranges[k].begin = n / parts * k + std::min<uint64_t>(k, n % parts);
    ranges[k].end = ranges[k].begin + n / parts + (static_cast<uint64_t>(k) < n % parts);
  }
  return ranges;
}

// Calls fn(chunk, first, last, whole) for each piece of `range` that lies in
// one log chunk, in row order; `whole` says the piece is the entire chunk,
// which then belongs to this range alone and may be released after use.
template <typename Fn>
void ForEachChunkPiece(RowRange range, uint64_t total_rows, Fn&& fn) {
  for (uint64_t first = range.begin; first < range.end;) {
    const size_t chunk = first / kChunk;
    const uint64_t chunk_begin = chunk * kChunk;
    const uint64_t chunk_end = std::min<uint64_t>(chunk_begin + kChunk, total_rows);
    const uint64_t last = std::min(range.end, chunk_end);
    fn(chunk, first, last, first == chunk_begin && last == chunk_end);
    first = last;
  }
}

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string FormatFloat(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// The first thing wrong with a log row, if any.
struct RowProblem {
  enum Kind { kBadUser, kBadItem, kBadEvent, kNotFinite, kNoWeight, kWeightOverflow };
  uint64_t row = kNone;  // kNone: no problem
  Kind kind = kBadUser;
  uint32_t user = 0, item = 0, event = 0;
  float value = 0;
};

std::string Describe(const RowProblem& p, const InteractionLog& log) {
  const std::string where = "interaction #" + std::to_string(p.row + 1);
  auto pair = [&] {
    return " (user " + Quoted(log.users.Name(p.user)) + ", item " + Quoted(log.items.Name(p.item)) +
           ")";
  };
  switch (p.kind) {
    case RowProblem::kBadUser:
      return "inconsistent interaction log: " + where + " has user index " +
             std::to_string(p.user) + " but the log has " + std::to_string(log.users.size()) +
             " users";
    case RowProblem::kBadItem:
      return "inconsistent interaction log: " + where + " has item index " +
             std::to_string(p.item) + " but the log has " + std::to_string(log.items.size()) +
             " items";
    case RowProblem::kBadEvent:
      return "inconsistent interaction log: " + where + " has event index " +
             std::to_string(p.event) + " but the log has " + std::to_string(log.events.size()) +
             " event types";
    case RowProblem::kNotFinite:
      return where + pair() + " has a non-finite value (" + FormatFloat(p.value) +
             "); values must be finite numbers";
    case RowProblem::kNoWeight: {
      const std::string name(log.events.Name(p.event));
      return "event type " + Quoted(name) + " (first at " + where +
             ") has no weight in --weights; add " + name +
             "=WEIGHT or leave --weights empty to weigh every row 1";
    }
    case RowProblem::kWeightOverflow:
      return where + pair() + ": value " + FormatFloat(p.value) + " times the weight of " +
             Quoted(log.events.Name(p.event)) + " overflows a 32-bit float";
  }
  return where;
}

// What the scan (pass 1) learns about the log.
struct ScanResult {
  std::vector<RowRange> ranges;                  // one per part
  std::vector<std::vector<uint64_t>> user_rows;  // [part][user] row counts
  std::vector<uint64_t> event_rows;              // [event] row counts
  std::optional<int64_t> time_min, time_max;
};

// Pass 1. Validates every row; multiplies values by their event weight in
// place when `weight_of` is not empty (NaN marks an event without weight);
// counts rows per user and per event; finds the time range. Frees the event
// column, and the time column unless `keep_time_column`.
Status ScanLog(InteractionLog& log, const std::vector<float>& weight_of, bool keep_time_column,
               int threads, ScanResult* scan) {
  const uint64_t rows = log.size();
  const uint32_t num_users = log.users.size(), num_items = log.items.size();
  const uint32_t num_events = log.events.size();
  const int parts = CountingSortThreads(threads, rows, num_users);
  scan->ranges = SplitRows(rows, parts);
  scan->user_rows.assign(parts, {});
  std::vector<std::vector<uint64_t>> event_rows(parts);
  std::vector<RowProblem> problems(parts);
  std::vector<int64_t> tmin(parts, std::numeric_limits<int64_t>::max());
  std::vector<int64_t> tmax(parts, std::numeric_limits<int64_t>::min());

#pragma omp parallel for schedule(static, 1) num_threads(parts)
  for (int k = 0; k < parts; ++k) {
    std::vector<uint64_t>& counts = scan->user_rows[k];
    AssignOnHugePages<uint64_t>(counts, num_users);
    event_rows[k].assign(log.has_events ? num_events : 0, 0);
    RowProblem& problem = problems[k];
    auto scan_piece = [&](size_t chunk, uint64_t first, uint64_t last, bool whole) {
      if (problem.row != kNone) return;
      const uint64_t base = chunk * kChunk;
      const uint32_t* user = log.user.chunk_data(chunk);
      const uint32_t* item = log.item.chunk_data(chunk);
      float* value = &log.value[base];
      const uint32_t* event = log.has_events ? log.event.chunk_data(chunk) : nullptr;
      for (uint64_t j = first - base; j < last - base; ++j) {
        const uint32_t u = user[j], i = item[j];
        const uint32_t e = event != nullptr ? event[j] : 0;
        auto fail = [&](RowProblem::Kind kind) {
          problem = RowProblem{base + j, kind, u, i, e, value[j]};
        };
        if (u >= num_users) return fail(RowProblem::kBadUser);
        if (i >= num_items) return fail(RowProblem::kBadItem);
        if (event != nullptr && e >= num_events) return fail(RowProblem::kBadEvent);
        if (!std::isfinite(value[j])) return fail(RowProblem::kNotFinite);
        if (!weight_of.empty()) {
          const float w = weight_of[e];
          if (std::isnan(w)) return fail(RowProblem::kNoWeight);
          const float weighted = value[j] * w;
          if (!std::isfinite(weighted)) return fail(RowProblem::kWeightOverflow);
          value[j] = weighted;
        }
        ++counts[u];
        if (event != nullptr) ++event_rows[k][e];
      }
      if (log.has_times) {
        const int64_t* time = log.time.chunk_data(chunk);
        for (uint64_t j = first - base; j < last - base; ++j) {
          tmin[k] = std::min(tmin[k], time[j]);
          tmax[k] = std::max(tmax[k], time[j]);
        }
      }
      if (whole) {
        if (log.has_events) log.event.ReleaseChunk(chunk);
        if (log.has_times && !keep_time_column) log.time.ReleaseChunk(chunk);
      }
    };
    ForEachChunkPiece(scan->ranges[k], rows, scan_piece);
  }

  // Ranges are in row order, so the first problem is the earliest one.
  for (const RowProblem& p : problems) {
    if (p.row != kNone) return Status::InvalidArgument(Describe(p, log));
  }
  log.event.clear();
  if (!keep_time_column) log.time.clear();

  scan->event_rows.assign(log.has_events ? num_events : 0, 0);
  for (const auto& part : event_rows) {
    for (size_t e = 0; e < part.size(); ++e) scan->event_rows[e] += part[e];
  }
  if (log.has_times && rows > 0) {
    scan->time_min = *std::min_element(tmin.begin(), tmin.end());
    scan->time_max = *std::max_element(tmax.begin(), tmax.end());
  }
  return Status::OK();
}

// The log rows grouped by user (row u is [indptr[u], indptr[u+1])), in log
// order within each user; later merged in place.
struct Staging {
  std::vector<uint64_t> indptr;
  std::vector<uint32_t> item;
  std::vector<float> value;
  std::vector<int64_t> time;  // empty unless times are needed
};

// Pass 2. Moves the log's rows into user-major order, freeing the log.
// Consumes scan->user_rows (turned into write cursors).
Staging ScatterByUser(InteractionLog& log, bool with_times, ScanResult* scan) {
  const uint64_t rows = log.size();
  const uint32_t num_users = log.users.size();
  const int parts = static_cast<int>(scan->ranges.size());
  Staging st;
  AssignOnHugePages(st.indptr, uint64_t{num_users} + 1);
  // Within user u, part 0's rows come first, then part 1's...: log order.
  uint64_t next = 0;
  for (uint32_t u = 0; u < num_users; ++u) {
    st.indptr[u] = next;
    for (int k = 0; k < parts; ++k) {
      const uint64_t n = scan->user_rows[k][u];
      scan->user_rows[k][u] = next;
      next += n;
    }
  }
  st.indptr[num_users] = next;
  AssignOnHugePages(st.item, rows);
  AssignOnHugePages(st.value, rows);
  if (with_times) AssignOnHugePages(st.time, rows);

#pragma omp parallel for schedule(static, 1) num_threads(parts)
  for (int k = 0; k < parts; ++k) {
    std::vector<uint64_t>& cursor = scan->user_rows[k];
    auto scatter = [&](size_t chunk, uint64_t first, uint64_t last, bool whole) {
      const uint64_t base = chunk * kChunk;
      const uint32_t* user = log.user.chunk_data(chunk);
      const uint32_t* item = log.item.chunk_data(chunk);
      const float* value = log.value.chunk_data(chunk);
      const int64_t* time = with_times ? log.time.chunk_data(chunk) : nullptr;
      for (uint64_t j = first - base; j < last - base; ++j) {
        const uint64_t pos = cursor[user[j]]++;
        st.item[pos] = item[j];
        st.value[pos] = value[j];
        if (time != nullptr) st.time[pos] = time[j];
      }
      if (whole) {
        log.user.ReleaseChunk(chunk);
        log.item.ReleaseChunk(chunk);
        log.value.ReleaseChunk(chunk);
        if (with_times) log.time.ReleaseChunk(chunk);
      }
    };
    ForEachChunkPiece(scan->ranges[k], rows, scatter);
  }
  scan->user_rows.clear();
  scan->user_rows.shrink_to_fit();
  log.user.clear();
  log.item.clear();
  log.value.clear();
  log.time.clear();
  return st;
}

// A merged value that is not finite.
struct MergeProblem {
  uint64_t user = kNone;  // kNone: no problem
  uint32_t item = 0;
  double before = 0;          // the aggregated value before the transform
  bool row_too_long = false;  // the user has 2^32 or more rows
};

// Pass 3. Sorts each staged user row by item and merges duplicate items;
// new_length[u] receives the merged length of row u, whose entries now fill
// the start of its staged slice.
Status MergeRows(const DatasetOptions& options, const IdDictionary& users,
                 const IdDictionary& items, Staging* st, std::vector<uint64_t>* new_length) {
  const uint32_t num_users = users.size();
  const bool implicit = options.feedback == Feedback::kImplicit;
  const bool mean = !implicit && options.duplicates == ExplicitDuplicates::kMean;
  const bool with_times = !st->time.empty();
  const ValueTransform transform = implicit ? options.transform : ValueTransform::kNone;
  const int threads =
      num_users == 0 || st->item.size() < kMinWorkPerThread ? 1 : MaxThreads(options.threads);
  AssignOnHugePages<uint64_t>(*new_length, num_users);
  MergeProblem first_problem;

  auto finish = [transform](double x) -> double {
    switch (transform) {
      case ValueTransform::kNone:
        return x;
      case ValueTransform::kLog1p:
        return std::log1p(x);
      case ValueTransform::kBinary:
        return x > 0 ? 1.0 : 0.0;
    }
    return x;
  };

#pragma omp parallel num_threads(threads)
  {
    std::vector<uint64_t> keys;  // item << 32 | offset in the row: sorts stably
    std::vector<uint32_t> out_item;
    std::vector<float> out_value;
    std::vector<int64_t> out_time;
    MergeProblem problem;
    // The stored value for an aggregated one; records the first non-finite.
    auto store = [&](uint64_t u, uint32_t item, double aggregated) {
      const float f = static_cast<float>(finish(aggregated));
      if (!std::isfinite(f) && problem.user == kNone) problem = {u, item, aggregated, false};
      return f;
    };

#pragma omp for schedule(dynamic, 256)
    for (uint64_t u = 0; u < num_users; ++u) {
      const uint64_t begin = st->indptr[u];
      const uint64_t n = st->indptr[u + 1] - begin;
      uint32_t* item = st->item.data() + begin;
      float* value = st->value.data() + begin;
      int64_t* time = with_times ? st->time.data() + begin : nullptr;

      bool sorted = true;
      for (uint64_t j = 1; j < n && sorted; ++j) sorted = item[j - 1] < item[j];
      if (sorted) {  // no duplicates: only the transform to apply
        if (transform != ValueTransform::kNone) {
          for (uint64_t j = 0; j < n; ++j) value[j] = store(u, item[j], value[j]);
        }
        (*new_length)[u] = n;
        continue;
      }
      if (n > std::numeric_limits<uint32_t>::max()) {
        // Offsets must fit in the sort key. Four billion interactions of one
        // user are not a real workload; say so rather than mis-sort.
        if (problem.user == kNone) problem = {u, 0, 0, true};
        continue;
      }
      keys.resize(n);
      for (uint64_t j = 0; j < n; ++j) keys[j] = uint64_t{item[j]} << 32 | j;
      std::sort(keys.begin(), keys.end());
      out_item.clear();
      out_value.clear();
      out_time.clear();
      for (uint64_t g = 0; g < n;) {
        const uint32_t it = static_cast<uint32_t>(keys[g] >> 32);
        uint64_t end = g + 1;
        while (end < n && static_cast<uint32_t>(keys[end] >> 32) == it) ++end;
        // Entries keys[g..end) share an item, in log order.
        double aggregated = 0;
        int64_t latest_time = std::numeric_limits<int64_t>::min();
        uint64_t chosen = static_cast<uint32_t>(keys[end - 1]);  // latest by log order
        for (uint64_t j = g; j < end; ++j) {
          const uint32_t off = static_cast<uint32_t>(keys[j]);
          aggregated += value[off];
          if (time != nullptr && time[off] >= latest_time) {
            latest_time = time[off];  // >=: of equal times the later row wins
            chosen = off;
          }
        }
        if (!implicit) aggregated = mean ? aggregated / double(end - g) : value[chosen];
        out_item.push_back(it);
        out_value.push_back(store(u, it, aggregated));
        if (time != nullptr) out_time.push_back(latest_time);
        g = end;
      }
      std::copy(out_item.begin(), out_item.end(), item);
      std::copy(out_value.begin(), out_value.end(), value);
      if (time != nullptr) std::copy(out_time.begin(), out_time.end(), time);
      (*new_length)[u] = out_item.size();
    }

#pragma omp critical(encore_merge_problem)
    if (problem.user < first_problem.user) first_problem = problem;
  }

  if (first_problem.user == kNone) return Status::OK();
  const MergeProblem& p = first_problem;
  const std::string user = Quoted(users.Name(static_cast<uint32_t>(p.user)));
  if (p.row_too_long) {
    return Status::InvalidArgument("user " + user +
                                   " has 2^32 or more interactions; split the log");
  }
  std::string msg = "user " + user + ", item " + Quoted(items.Name(p.item)) +
                    ": the aggregated value " + FormatFloat(p.before);
  if (transform == ValueTransform::kLog1p && std::isfinite(static_cast<float>(p.before))) {
    msg += " has no finite log1p; --transform log1p needs values > -1";
  } else {
    msg += " overflows a 32-bit float; scale the values or weights down";
  }
  return Status::InvalidArgument(msg);
}

// Pass 4. Packs the merged rows of `st` into a CSR matrix, freeing `st`.
CsrMatrix Compact(Staging st, const std::vector<uint64_t>& new_length, uint32_t cols,
                  bool keep_times) {
  const uint32_t rows = static_cast<uint32_t>(new_length.size());
  CsrMatrix m;
  m.rows = rows;
  m.cols = cols;
  AssignOnHugePages(m.indptr, uint64_t{rows} + 1);
  uint64_t nnz = 0;
  for (uint32_t r = 0; r < rows; ++r) {
    m.indptr[r] = nnz;
    nnz += new_length[r];
  }
  m.indptr[rows] = nnz;
  if (!keep_times) {
    st.time.clear();
    st.time.shrink_to_fit();
  }
  const bool with_times = !st.time.empty();
  if (nnz == st.item.size()) {  // no duplicates anywhere: already packed
    m.indices = std::move(st.item);
    m.values = std::move(st.value);
    m.times = std::move(st.time);
    return m;
  }
  // Rows only shrink (indptr of the merged rows <= the staged ones), so the
  // rows move left within the staging arrays, front to back: no second
  // copy of the matrix is allocated (on 10M rows that saved 80 MB of fresh,
  // kernel-zeroed memory and its page faults). One thread: a row's target
  // may overlap an earlier row's source.
  for (uint64_t r = 0; r < rows; ++r) {
    const uint64_t from = st.indptr[r], to = m.indptr[r], n = new_length[r];
    if (from == to || n == 0) continue;
    std::memmove(st.item.data() + to, st.item.data() + from, n * sizeof(uint32_t));
    std::memmove(st.value.data() + to, st.value.data() + from, n * sizeof(float));
    if (with_times) std::memmove(st.time.data() + to, st.time.data() + from, n * sizeof(int64_t));
  }
  st.item.resize(nnz);
  st.value.resize(nnz);
  if (with_times) st.time.resize(nnz);
  m.indices = std::move(st.item);
  m.values = std::move(st.value);
  m.times = std::move(st.time);
  return m;
}

std::string_view Trim(std::string_view s) {
  const char* kSpace = " \t\r\n";
  const size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

}  // namespace

size_t CsrMatrix::MemoryBytes() const {
  return indptr.size() * sizeof(uint64_t) + indices.size() * sizeof(uint32_t) +
         values.size() * sizeof(float) + times.size() * sizeof(int64_t);
}

CsrMatrix CsrMatrix::Transpose(int threads) const {
  ENCORE_CHECK(indptr.size() == uint64_t{rows} + 1);
  CsrMatrix t;
  t.rows = cols;
  t.cols = rows;
  const uint64_t n = nnz();
  const bool with_times = !times.empty();
  AssignOnHugePages<uint64_t>(t.indptr, uint64_t{cols} + 1);
  AssignOnHugePages(t.indices, n);
  AssignOnHugePages(t.values, n);
  if (with_times) AssignOnHugePages(t.times, n);
  if (n == 0) return t;

  // Part k takes the rows [first_row[k], first_row[k+1]), about n / parts
  // nonzeros; counting per part then scattering part by part lists each
  // column's rows in ascending order.
  const int parts = CountingSortThreads(threads, n, cols);
  std::vector<uint32_t> first_row(parts + 1, rows);
  for (int k = 0; k < parts; ++k) {
    const uint64_t target = n / parts * k;
    first_row[k] = static_cast<uint32_t>(std::lower_bound(indptr.begin(), indptr.end(), target) -
                                         indptr.begin());
  }
  std::vector<std::vector<uint64_t>> cursor(parts);

#pragma omp parallel for schedule(static, 1) num_threads(parts)
  for (int k = 0; k < parts; ++k) {
    AssignOnHugePages<uint64_t>(cursor[k], cols);
    for (uint64_t j = indptr[first_row[k]]; j < indptr[first_row[k + 1]]; ++j) {
      ++cursor[k][indices[j]];
    }
  }
  uint64_t next = 0;
  for (uint32_t c = 0; c < cols; ++c) {
    t.indptr[c] = next;
    for (int k = 0; k < parts; ++k) {
      const uint64_t count = cursor[k][c];
      cursor[k][c] = next;
      next += count;
    }
  }
  t.indptr[cols] = next;

#pragma omp parallel for schedule(static, 1) num_threads(parts)
  for (int k = 0; k < parts; ++k) {
    std::vector<uint64_t>& pos = cursor[k];
    for (uint32_t r = first_row[k]; r < first_row[k + 1]; ++r) {
      for (uint64_t j = indptr[r]; j < indptr[r + 1]; ++j) {
        const uint64_t p = pos[indices[j]]++;
        t.indices[p] = r;
        t.values[p] = values[j];
        if (with_times) t.times[p] = times[j];
      }
    }
  }
  return t;
}

size_t Dataset::MemoryBytes() const {
  return users.MemoryBytes() + items.MemoryBytes() + by_user.MemoryBytes() + by_item.MemoryBytes();
}

Result<std::map<std::string, float>> ParseWeights(const std::string& spec) {
  constexpr const char* kExpected = "; expected NAME=WEIGHT,... (e.g. view=1,purchase=5)";
  std::map<std::string, float> weights;
  if (Trim(spec).empty()) return weights;
  std::string_view rest = spec;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view piece = Trim(rest.substr(0, comma));
    if (piece.empty()) {
      return Status::InvalidArgument("--weights: empty entry in '" + spec + "'" + kExpected);
    }
    const size_t eq = piece.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument("--weights: " + Quoted(piece) + " has no '='" + kExpected);
    }
    const std::string name(Trim(piece.substr(0, eq)));
    const std::string number(Trim(piece.substr(eq + 1)));
    if (name.empty()) {
      return Status::InvalidArgument("--weights: " + Quoted(piece) + " has no event name" +
                                     kExpected);
    }
    char* end = nullptr;
    errno = 0;
    const double w = number.empty() ? 0 : std::strtod(number.c_str(), &end);
    if (number.empty() || end != number.c_str() + number.size()) {
      return Status::InvalidArgument("--weights: " + Quoted(piece) + ": " + Quoted(number) +
                                     " is not a number" + kExpected);
    }
    if (!std::isfinite(w) || errno == ERANGE || std::fabs(w) > std::numeric_limits<float>::max()) {
      return Status::InvalidArgument("--weights: " + Quoted(piece) +
                                     ": the weight must be a finite number");
    }
    if (w < 0) {
      return Status::InvalidArgument("--weights: " + Quoted(piece) + ": the weight must be >= 0");
    }
    if (!weights.emplace(name, static_cast<float>(w)).second) {
      return Status::InvalidArgument("--weights: event type " + Quoted(name) + " is given twice");
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return weights;
}

Result<Feedback> ParseFeedback(const std::string& name) {
  if (name == "implicit") return Feedback::kImplicit;
  if (name == "explicit") return Feedback::kExplicit;
  return Status::InvalidArgument("feedback '" + name + "': use implicit or explicit");
}

Result<ExplicitDuplicates> ParseExplicitDuplicates(const std::string& name) {
  if (name == "latest") return ExplicitDuplicates::kLatest;
  if (name == "mean") return ExplicitDuplicates::kMean;
  return Status::InvalidArgument("duplicates '" + name + "': use latest or mean");
}

Result<ValueTransform> ParseValueTransform(const std::string& name) {
  if (name == "none") return ValueTransform::kNone;
  if (name == "log1p") return ValueTransform::kLog1p;
  if (name == "binary") return ValueTransform::kBinary;
  return Status::InvalidArgument("--transform: unknown value transform " + Quoted(name) +
                                 "; expected none, log1p or binary");
}

Result<Dataset> BuildDataset(InteractionLog log, const DatasetOptions& options) {
  const uint64_t rows = log.size();
  if (log.item.size() != rows || log.value.size() != rows ||
      (log.has_events && log.event.size() != rows) || (log.has_times && log.time.size() != rows)) {
    return Status::InvalidArgument(
        "inconsistent interaction log: its columns have different lengths");
  }
  log.attributes.clear();  // not part of the matrix; free them early

  const bool implicit = options.feedback == Feedback::kImplicit;
  // Per event code: its weight, NaN when the event has none.
  std::vector<float> weight_of;
  if (implicit && log.has_events && !options.weights.empty()) {
    weight_of.assign(log.events.size(), std::nanf(""));
    for (uint32_t e = 0; e < log.events.size(); ++e) {
      auto it = options.weights.find(std::string(log.events.Name(e)));
      if (it != options.weights.end()) weight_of[e] = it->second;
    }
  }
  // Explicit "latest" picks rows by time even when times are not kept.
  const bool stage_times =
      log.has_times &&
      (options.keep_times || (!implicit && options.duplicates == ExplicitDuplicates::kLatest));

  ScanResult scan;
  ENCORE_RETURN_IF_ERROR(ScanLog(log, weight_of, stage_times, options.threads, &scan));
  Dataset data;
  data.summary.rows = rows;
  for (uint32_t e = 0; e < scan.event_rows.size(); ++e) {
    data.summary.event_counts.emplace_back(std::string(log.events.Name(e)), scan.event_rows[e]);
  }
  data.summary.time_min = scan.time_min;
  data.summary.time_max = scan.time_max;

  Staging staging = ScatterByUser(log, stage_times, &scan);
  std::vector<uint64_t> new_length;
  ENCORE_RETURN_IF_ERROR(MergeRows(options, log.users, log.items, &staging, &new_length));
  data.by_user = Compact(std::move(staging), new_length, log.items.size(),
                         options.keep_times && log.has_times);
  new_length = {};
  data.by_item = data.by_user.Transpose(options.threads);
  data.users = std::move(log.users);
  data.items = std::move(log.items);
  return data;
}

}  // namespace encore
